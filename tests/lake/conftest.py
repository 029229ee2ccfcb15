"""Fixtures for the DuckLake tests: a fresh catalog database per test, a target runner.

The servers themselves (one PostgreSQL, one S3 per session) are root fixtures
(`tests/conftest.py`: `lake_postgres`, `lake_s3`), shared with the reliability tests.
"""

from __future__ import annotations

import copy
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tap_equipme.pipeline.loader_settings import TAP_LOADER_SETTINGS


def customer(customer_id: int, **overrides: Any) -> dict[str, Any]:
    """A customer record in the API's shape (the fields the reporting views read)."""
    record: dict[str, Any] = {
        "id": customer_id,
        "uuid": f"00000000-0000-4000-8000-{customer_id:012d}",
        "name": f"Customer {customer_id}",
        "customerNumber": f"C-{customer_id:05d}",
        "active": customer_id % 4 != 0,
        "language": ["en", "de", "fr"][customer_id % 3],
        "contactEmail": f"jane{customer_id}@example.com",
        "companyAddress": {"id": 1000 + customer_id, "city": "Berlin", "countryCode": "DE"},
    }
    record.update(overrides)
    return record


def messages(
    customers: Iterable[dict[str, Any]],
    bookmark: str = "2026-01-01T00:00:00Z",
    version: int | None = None,
) -> list[dict[str, Any]]:
    """SCHEMA, the RECORDs (of `version`), ACTIVATE_VERSION around them if versioned, STATE."""
    from tap_equipme.schemas import customer_schema

    out: list[dict[str, Any]] = [
        {
            "type": "SCHEMA",
            "stream": "customers",
            "schema": copy.deepcopy(customer_schema()),
            "key_properties": ["id"],
        }
    ]
    activate = {"type": "ACTIVATE_VERSION", "stream": "customers", "version": version}
    if version is not None:
        out.append(activate)
    for record in customers:
        message: dict[str, Any] = {"type": "RECORD", "stream": "customers", "record": record}
        if version is not None:
            message["version"] = version
        out.append(message)
    if version is not None:
        out.append(dict(activate))
    out.append(
        {
            "type": "STATE",
            "value": {"bookmarks": {"customers": {"replication_key_value": bookmark}}},
        }
    )
    return out


@dataclass
class Lake:
    """One test's lake: a fresh catalog database and data directory."""

    catalog: str
    settings: dict[str, Any]
    tmp_path: Path
    capsys: pytest.CaptureFixture[str]
    readers: dict[tuple[str, str], duckdb.DuckDBPyConnection] = field(default_factory=dict)

    def config(self, **overrides: Any) -> dict[str, Any]:
        return {
            "destination": "ducklake",
            "path": self.catalog,
            **TAP_LOADER_SETTINGS,  # tap-equipme's streams, as equipme-sync passes them
            **self.settings,
            **overrides,
        }

    def load(self, batch: Iterable[dict[str, Any]], **overrides: Any) -> list[dict[str, Any]]:
        """Run the loader in this process on the messages; return the STATEs it emitted."""
        from tap_equipme.warehouse.target import TargetDuckdbLake

        self.capsys.readouterr()
        body = "".join(json.dumps(m) + "\n" for m in batch)
        TargetDuckdbLake(config=self.config(**overrides)).listen(io.BytesIO(body.encode()))
        out = self.capsys.readouterr().out
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def connect(self, schema: str | None = None) -> duckdb.DuckDBPyConnection:
        """Attach the lake read-only the way an analyst would (the loader's own helper)."""
        from tap_equipme.warehouse.lake import connect_lake, lake_settings

        settings = dict(self.settings)
        if schema:
            settings["lake_schema"] = schema
        return connect_lake(lake_settings(self.catalog, settings), read_only=True)

    def query(self, sql: str, schema: str | None = None) -> list[tuple[Any, ...]]:
        """Run SQL on the lake; each statement sees the newest committed snapshot."""
        key = (schema or "", str(self.settings))
        if key not in self.readers:
            # One reader per schema and settings: attaching (loading the extensions) takes ~1 s.
            self.readers[key] = self.connect(schema)
        return self.readers[key].execute(sql).fetchall()

    def close(self) -> None:
        for con in self.readers.values():
            con.close()
        self.readers.clear()


@pytest.fixture
def lake(lake_postgres: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Iterator[Lake]:
    """A fresh lake: its own catalog database on the session's server, data in tmp_path."""
    catalog = lake_postgres.create_database()
    fresh = Lake(catalog, {"lake_data_path": str(tmp_path / "lake-data")}, tmp_path, capsys)
    yield fresh
    fresh.close()


@pytest.fixture
def local_lake(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Iterator[Lake]:
    """A fresh lake with a local catalog file (one machine's setup) and data in tmp_path."""
    catalog = str(tmp_path / "lake.ducklake")
    fresh = Lake(catalog, {"lake_data_path": str(tmp_path / "lake-data")}, tmp_path, capsys)
    yield fresh
    fresh.close()


@pytest.fixture
def singer_lake() -> Any:
    """Message builders (test modules cannot import conftest under importlib)."""
    from types import SimpleNamespace

    return SimpleNamespace(customer=customer, messages=messages)
