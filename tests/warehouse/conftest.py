"""Fixtures for the loader tests: Singer message builders and a target runner.

Schemas are the tap's own (`tap_equipme.schemas`, derived from the vendored OpenAPI spec:
nested objects, nullable $ref objects, an enum, date-time, integers, booleans); messages are
written here, so these tests need neither the running tap nor the sandbox.
"""

from __future__ import annotations

import copy
import io
import json
import subprocess
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tap_equipme.pipeline.loader_settings import TAP_LOADER_SETTINGS

TARGET = [str(Path(sys.executable).parent / "target-duckdb-lake")]


def customer_schema() -> dict[str, Any]:
    """The tap's customers schema (derived from the vendored OpenAPI `Customer`)."""
    from tap_equipme.schemas import customer_schema as tap_customer_schema

    return copy.deepcopy(tap_customer_schema())


def _metadata_schema() -> dict[str, Any]:
    from tap_equipme.schemas import customer_metadata_schema

    return copy.deepcopy(customer_metadata_schema())


METADATA_SCHEMA: dict[str, Any] = _metadata_schema()


def customer(customer_id: int, **overrides: Any) -> dict[str, Any]:
    """A realistic customer record (API shape, camelCase keys)."""
    record: dict[str, Any] = {
        "id": customer_id,
        "uuid": f"00000000-0000-4000-8000-{customer_id:012d}",
        "name": f"Customer {customer_id}",
        "customerNumber": f"C-{customer_id:05d}",
        "description": None,
        "active": customer_id % 4 != 0,
        "contactName": "Jane Doe",
        "contactEmail": f"jane{customer_id}@example.com",
        "contactPhone": "+49 30 1234567",
        "customAttribute1": None,
        "customAttribute2": None,
        "customAttribute3": None,
        "language": ["en", "de", "fr"][customer_id % 3],
        "accountManager": {
            "id": 7,
            "firstName": "Max",
            "lastName": "Mustermann",
            "fullName": "Mustermann Max",
            "email": "max@supplier.example",
            "username": "max@supplier.example",
            "costCenter": None,
            "costCenterId": None,
            "self": {"href": "v1/organization/employees/7", "method": "GET"},
        },
        "companyAddress": {
            "id": 1000 + customer_id,
            "line1": None,
            "street": "Hauptstraße",
            "number": str(customer_id),
            "addition": None,
            "city": ["Berlin", "Zürich", "Paris"][customer_id % 3],
            "postalCode": "10115",
            "countryCode": ["DE", "CH", "FR"][customer_id % 3],
            "regionCode": None,
            "regionName": None,
            "dependentLocality": None,
            "phoneNumber": None,
            "self": {"href": f"v1/addresses/{1000 + customer_id}", "method": "GET"},
        },
        "referredBy": {
            "referredOn": "2024-03-01T12:30:00+02:00",
            "company": {
                "id": 3,
                "name": "Partner GmbH",
                "customerNumber": None,
                "self": {"href": "v1/customers/3", "method": "GET"},
            },
            "employee": None,
        },
        "self": {"href": f"v1/customers/{customer_id}", "method": "GET"},
    }
    record.update(overrides)
    return record


def schema_msg(
    stream: str = "customers", schema: dict[str, Any] | None = None, keys: list[str] | None = None
) -> dict[str, Any]:
    return {
        "type": "SCHEMA",
        "stream": stream,
        "schema": copy.deepcopy(schema or customer_schema()),
        "key_properties": ["id"] if keys is None else keys,
    }


def record_msg(record: dict[str, Any], stream: str = "customers", **extra: Any) -> dict[str, Any]:
    return {"type": "RECORD", "stream": stream, "record": record, **extra}


def state_msg(bookmark: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "STATE",
        "value": {"bookmarks": {"customers": {"replication_key_value": bookmark}}, **extra},
    }


def lines(messages: Iterable[dict[str, Any]]) -> str:
    """Messages as singer-sdk writes them: compact JSON, one per line."""
    return "".join(
        json.dumps(m, ensure_ascii=False, separators=(",", ":")) + "\n" for m in messages
    )


@dataclass
class Run:
    """Result of one target run."""

    returncode: int
    stdout: str
    stderr: str = ""
    states: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class TargetRunner:
    """Runs target-duckdb-lake in-process (fast) or as a subprocess (the real CLI)."""

    tmp_path: Path
    capsys: pytest.CaptureFixture[str]

    def config(self, **settings: Any) -> dict[str, Any]:
        # The loader knows no source: these tests load tap-equipme's streams, so they give it
        # what equipme-sync gives it (child sets, the bookmark stream, the run-stats key).
        return {
            "path": str(self.tmp_path / "warehouse.duckdb"),
            **TAP_LOADER_SETTINGS,
            **settings,
        }

    def in_process(
        self, messages: Iterable[dict[str, Any]], *, text: bool = False, **settings: Any
    ) -> Run:
        """Run the target in this process (binary input like stdin; `text=True`: a text IO)."""
        from tap_equipme.warehouse.target import TargetDuckdbLake

        self.capsys.readouterr()
        target = TargetDuckdbLake(config=self.config(**settings))
        body = lines(messages)
        target.listen(io.StringIO(body) if text else io.BytesIO(body.encode()))
        out = self.capsys.readouterr().out
        return Run(0, out, states=_states(out))

    def cli(self, messages: Iterable[dict[str, Any]] | str, **settings: Any) -> Run:
        config_file = self.tmp_path / "target-config.json"
        config_file.write_text(json.dumps(self.config(**settings)))
        text = messages if isinstance(messages, str) else lines(messages)
        done = subprocess.run(
            [*TARGET, "--config", str(config_file)],
            input=text,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        return Run(done.returncode, done.stdout, done.stderr, _states(done.stdout))


def _states(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


@pytest.fixture
def target(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> TargetRunner:
    return TargetRunner(tmp_path, capsys)


@pytest.fixture
def query(tmp_path: Path) -> Callable[..., list[tuple[Any, ...]]]:
    """Run SQL against the test's warehouse file (read-only, connection closed after)."""

    def run(sql: str, params: list[Any] | None = None, path: Path | None = None) -> list[Any]:
        con = duckdb.connect(str(path or tmp_path / "warehouse.duckdb"), read_only=True)
        try:
            return con.execute(sql, params or []).fetchall()
        finally:
            con.close()

    return run


@pytest.fixture
def singer() -> Any:
    """Builders of Singer messages (test modules cannot import conftest under importlib)."""
    from types import SimpleNamespace

    return SimpleNamespace(
        customer=customer,
        customer_schema=customer_schema,
        metadata_schema=METADATA_SCHEMA,
        schema=schema_msg,
        record=record_msg,
        state=state_msg,
        lines=lines,
    )
