"""It stays erased: after `equipme-sync erase --apply`, a contact person who changes at the
source comes back with the next sync only as NULLs (the suppression list blanks exactly the
fields erase blanked: one list, `tap_equipme.personal_data`), and `--unsuppress` lets the
values land again. Real HTTP (the sandbox), a real DuckDB file, the default change capture."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

import duckdb
import pytest

from tap_equipme.personal_data import default_personal_fields
from tap_equipme.pipeline.erase import PERSONAL_FIELDS
from tests.pipeline import erasure_world
from tests.sandbox_writes import SandboxWrites


@pytest.fixture(scope="module")
def world_module() -> ModuleType:
    return erasure_world


def _value(row: dict[str, Any], path: str) -> Any:
    value: Any = row
    for name in path.split("."):
        if value is None:
            return None
        value = value[name]
    return value


def _customer_rows(path: Path, customer: int) -> dict[str, list[dict[str, Any]]]:
    rows = {}
    with duckdb.connect(str(path), read_only=True) as con:
        for table in ("customers", "customers_history"):
            cursor = con.execute(f"SELECT * FROM {table} WHERE id = ?", [customer])
            names = [d[0] for d in cursor.description]
            rows[table] = [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
    return rows


def _others(path: Path, customer: int) -> dict[str, list[tuple[Any, ...]]]:
    """The other customers' rows: their data columns (load timestamps left out)."""
    found = {}
    with duckdb.connect(str(path), read_only=True) as con:
        for table in ("customers", "customers_history"):
            columns = [
                r[0]
                for r in con.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
                    "AND column_name NOT IN ('_loaded_at', '_sdc_extracted_at', "
                    "'_sdc_batched_at', '_sdc_received_at', '_last_seen_at') ORDER BY ALL",
                    [table],
                ).fetchall()
            ]
            quoted = ", ".join(f'"{c}"' for c in columns)
            found[table] = con.execute(
                f"SELECT {quoted} FROM {table} WHERE id <> ? ORDER BY ALL", [customer]
            ).fetchall()
    return found


def test_erase_blanks_exactly_the_fields_the_catalog_marks_personal() -> None:
    # The fields erase blanks are the tap's personal fields: the loader blanks a suppressed
    # row only in fields the SCHEMA marks, so a field erased but unmarked would come back.
    marked = [f.removeprefix("customers.") for f in default_personal_fields()]
    assert list(PERSONAL_FIELDS) == [f for f in marked if not f.startswith("customer_metadata.")]
    for name in ("description", "companyAddress.line1", "companyAddress.phoneNumber"):
        assert name in PERSONAL_FIELDS


@pytest.mark.slow  # three syncs, an erasure (file rewrite), two byte searches: 22-24 s at load 11
def test_an_erased_contact_changed_at_the_source_stays_erased_until_unsuppressed(
    tmp_path, sandbox, api_key, world_module, capsys
) -> None:
    w = world_module
    sandbox.control.reset(customers=6, seed=5)
    config = {"api_key": api_key, "api_url": sandbox.base_url, "request_timeout": 10}
    customers = sorted(sandbox.control.snapshot()["customers"], key=lambda c: c["id"])
    target = next(c for c in customers if c.get("contactEmail"))["id"]
    path = tmp_path / "wh.duckdb"
    world = w.World("duckdb", path, {}, target, [], "", "")
    world.sync(config)
    args = [*w.cli_args(world), "--customer-id", str(target)]
    assert w.erase(*args, "--apply") == 0
    assert "suppression entries added: 2" in capsys.readouterr().out
    others = _others(path, target)

    new = {
        "contactName": "Rosalind Nachsync",
        "contactEmail": "rosalind.nachsync@example.org",
        "contactPhone": "+49 89 5557319",
        "description": "Ansprechpartnerin Rosalind Nachsync",
    }
    writes = SandboxWrites(sandbox.base_url, api_key)
    writes.patch(target, [{"op": "replace", "path": f"/{k}", "value": v} for k, v in new.items()])
    world.sync(config)

    rows = _customer_rows(path, target)
    assert rows["customers"], "the erased customer's row stays (blanked), with its new version"
    assert len(rows["customers_history"]) >= 1
    for table, found in rows.items():
        for row in found:
            for field in PERSONAL_FIELDS:
                assert _value(row, field) is None, (table, field)
    for value in new.values():
        assert w.leftovers(world, value) == [], value
    assert _others(path, target) == others

    assert w.erase(*args, "--unsuppress") == 0  # a dry run changes nothing
    assert "would remove" in capsys.readouterr().out
    assert w.erase(*args, "--unsuppress", "--apply") == 0
    assert "suppression entries removed: 2" in capsys.readouterr().out
    # The record must be read again for its values to land: a change at the source, or a
    # full refresh (here it would also come with the bookmark's 5-minute lookback; the change
    # makes the test independent of that). Unsuppressing alone rewrites nothing.
    writes.patch(target, [{"op": "replace", "path": "/contactPhone", "value": "+49 89 5550000"}])
    world.sync(config)
    current = _customer_rows(path, target)["customers"]
    assert [_value(r, "contactName") for r in current] == [new["contactName"]]
    assert [_value(r, "contactEmail") for r in current] == [new["contactEmail"]]
    assert [_value(r, "contactPhone") for r in current] == ["+49 89 5550000"]
    assert _others(path, target) == others
