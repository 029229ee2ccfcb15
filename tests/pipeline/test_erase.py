"""`equipme-sync erase` end to end: a contact person whose name, email and phone changed over
several syncs is erased from every table, its history, the export and the lake's snapshots;
a search of every byte of the warehouse then finds none of the old values, and every other
customer's rows and history are unchanged."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import duckdb
import pytest

from tap_equipme.warehouse.erasure_log import ERASURES_TABLE, SUPPRESSIONS_TABLE
from tests.pipeline import erasure_world

HOOK = Path(__file__).resolve().parent / "erasehook"


@pytest.fixture(scope="module")
def world_module() -> ModuleType:
    return erasure_world


@pytest.fixture(scope="module")
def built(
    world_module: ModuleType,
    sandbox_server: Any,
    api_key: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[[str, Path], Any]]:
    """Worlds built once per destination (three syncs each), handed out as fresh copies."""
    cache: dict[str, Any] = {}
    config = {"api_key": api_key, "api_url": sandbox_server.base_url, "request_timeout": 10}

    def world(destination: str, tmp_path: Path) -> Any:
        if destination == "ducklake":  # the catalog holds the data path: built in place
            return world_module.build(destination, tmp_path, config, sandbox_server)
        if destination not in cache:
            home = tmp_path_factory.mktemp(f"erasure-{destination}")
            cache[destination] = world_module.build(destination, home, config, sandbox_server)
        return cache[destination].moved(tmp_path)

    yield world
    sandbox_server.control.reset()


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _schema(world: Any) -> list[tuple[Any, ...]] | None:
    """A DuckDB file's tables, columns, constraints and views (None for other destinations)."""
    if world.destination != "duckdb":
        return None
    with duckdb.connect(str(world.path), read_only=True) as con:
        return con.execute(
            "SELECT 'column', table_name, column_name, data_type FROM duckdb_columns() "
            "WHERE NOT internal "
            # The erasure adds its two tables; the wide view's columns are the metadata keys
            # present (the erased customer's own key goes with its rows).
            "AND table_name NOT IN ('_equipme_erasures', '_equipme_suppressions', "
            "'customer_metadata_wide') "
            "UNION ALL SELECT 'constraint', table_name, constraint_type, "
            "CAST(constraint_column_names AS VARCHAR) FROM duckdb_constraints() "
            "UNION ALL SELECT 'view', view_name, sql, NULL FROM duckdb_views() WHERE NOT internal "
            "AND view_name <> 'customer_metadata_wide' "
            "ORDER BY ALL"
        ).fetchall()


def _table(world: Any, table: str) -> list[tuple[Any, ...]]:
    from tap_equipme.warehouse.tables import open_table

    with open_table(world.destination, world.path, table, world.lake) as opened:
        assert opened is not None, table
        con, relation = opened
        return con.execute(f"SELECT * FROM {relation}").fetchall()


@pytest.mark.parametrize(
    "destination",
    [
        "duckdb",
        # Each builds its own warehouse (three syncs): 40-100 s on a busy 2-core machine.
        pytest.param("parquet", marks=pytest.mark.slow),
        pytest.param("ducklake", marks=pytest.mark.slow),
    ],
)
def test_erasing_a_contact_by_an_old_email_leaves_no_byte_of_any_old_value(
    destination, tmp_path, built, world_module, capsys, monkeypatch
):
    w = world_module
    world = built(destination, tmp_path)
    export = None
    if destination == "duckdb":
        from tap_equipme.pipeline.publish import publish

        export = tmp_path / "export"
        publish("duckdb", world.path, export)
    for value in world.old_values:
        # The search sees them before: history keeps every version (the proof can fail).
        assert w.leftovers(world, value, export), value
    assert w.leftovers(world, world.control_value, export)

    schema_before = _schema(world)
    files_before = {str(p): _digest(p) for p in world.files()}
    capsys.readouterr()
    assert w.erase(*w.cli_args(world), "--email", world.first_email.upper()) == 0
    dry = capsys.readouterr().out
    assert "dry run" in dry
    assert f"keys: {world.target}" in dry
    assert "customers_history:" in dry
    assert "would be blanked" in dry
    assert {str(p): _digest(p) for p in world.files()} == files_before  # nothing written

    monkeypatch.setenv("EQUIPME_ERASURE_KEY", "erasure-digest-key")
    args = [*w.cli_args(world), "--email", world.first_email, "--request-id", "DPO-17", "--json"]
    assert w.erase(*args, "--apply") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["keys"] == [str(world.target)]
    changed = {c["table"]: c["to_change"] for c in report["changes"]}
    assert changed["customers"] == 1
    assert changed["customers_history"] >= 3
    assert changed["customer_metadata"] >= 1
    if destination == "ducklake":
        assert "time travel now reaches back to snapshot" in report["time_travel"]

    for value in [*world.old_values, world.first_email.upper()]:
        assert w.leftovers(world, value, export) == [], value
    assert w.leftovers(world, world.control_value, export)  # still able to see a live value
    assert world.others() == world.before
    assert _schema(world) == schema_before  # the rewritten file keeps keys, views, types

    # The customer (a business) stays, without its contact person; metadata rows are gone.
    (current,) = world.rows_of_target("customers")
    assert [current[f] for f in w.PERSONAL] == [None, None, None]
    assert current["name"]
    assert current["customerNumber"]
    assert len(world.rows_of_target("customers_history")) >= 3
    assert world.rows_of_target("customer_metadata") == []
    assert world.rows_of_target("customer_metadata_history") == []

    (log,) = _table(world, ERASURES_TABLE)
    assert log[0] == "DPO-17"
    assert log[3] == "complete"
    assert log[5] == "email"
    assert log[6]
    assert len(log[6]) == 64
    assert world.first_email not in log[6]
    suppressed = {(r[0], r[1], r[2]) for r in _table(world, SUPPRESSIONS_TABLE)}
    assert suppressed == {
        ("customers", "id", str(world.target)),
        ("customer_metadata", "customer_id", str(world.target)),
    }

    # Idempotent: the same request again finds nothing left and changes no other row.
    assert w.erase(*args, "--apply") == 0
    again = json.loads(capsys.readouterr().out)
    assert again["keys"] == []
    assert all(c["to_change"] == 0 for c in again["changes"])
    assert world.others() == world.before


def test_a_plain_update_and_checkpoint_leave_old_values_in_the_duckdb_file(
    tmp_path, built, world_module
):
    """Why the erasure rewrites the file: the same blanking, without it, leaves the bytes."""
    from tap_equipme.pipeline.erase import rules
    from tap_equipme.warehouse.erasure import erase_rows

    w = world_module
    world = built("duckdb", tmp_path)
    con = duckdb.connect(str(world.path))
    con.execute("BEGIN")
    erase_rows(con, rules(), [str(world.target)])
    con.execute("COMMIT")
    con.execute("CHECKPOINT")
    con.execute("VACUUM")
    con.execute("CHECKPOINT")
    con.close()
    found = [v for v in world.old_values if w.leftovers(world, v)]
    assert found, "blanked values were expected in the file's free blocks"
    assert all(hit.startswith("bytes ") for v in found for hit in w.leftovers(world, v))


def test_erasing_by_customer_id_covers_a_soft_deleted_customer_and_delete_mode(
    tmp_path, built, world_module, capsys, tap_config
):
    w = world_module
    world = built("duckdb", tmp_path)
    (row,) = world.rows_of_target("customers", world.gone)
    assert row["_deleted_at"] is not None
    before = world.others(world.gone)
    assert world.gone_values
    assert all(w.leftovers(world, value) for value in world.gone_values)

    cid = str(world.gone)
    assert w.erase(*w.cli_args(world), "--customer-id", cid, "--mode", "delete", "--apply") == 0
    for table in w.TABLES:
        assert world.rows_of_target(table, world.gone) == [], table
    for value in world.gone_values:
        assert w.leftovers(world, value) == [], value
    assert world.others(world.gone) == before
    world.sync(tap_config)  # the rewritten file takes the next sync

    # Unsuppress: dry run first, then the entries go.
    capsys.readouterr()
    assert w.erase(*w.cli_args(world), "--customer-id", cid, "--unsuppress") == 0
    assert "would remove (dry run; --apply to remove): 2" in capsys.readouterr().out
    assert len(_table(world, SUPPRESSIONS_TABLE)) == 2
    assert w.erase(*w.cli_args(world), "--customer-id", cid, "--unsuppress", "--apply") == 0
    assert _table(world, SUPPRESSIONS_TABLE) == []


def test_erase_names_the_missing_person_and_the_missing_warehouse(tmp_path, capsys, world_module):
    w = world_module
    with pytest.raises(SystemExit) as exited:
        w.erase("--path", str(tmp_path / "wh.duckdb"))
    assert exited.value.code == 2
    assert "--customer-id N and/or --email" in capsys.readouterr().err
    assert w.erase("--path", str(tmp_path / "none.duckdb"), "--customer-id", "1") == 1
    assert "no DuckDB warehouse at" in capsys.readouterr().err


@pytest.mark.slow  # a subprocess killed, then a rerun: ~20 s each on a busy machine
@pytest.mark.parametrize(
    ("destination", "point"),
    [
        ("duckdb", "before-purge"),
        ("duckdb", "mid-rewrite"),
        ("parquet", "parquet-write"),
        ("ducklake", "lake-purge"),
    ],
)
def test_a_killed_erasure_rerun_ends_erased_with_the_warehouse_whole(
    destination, point, tmp_path, built, world_module
):
    w = world_module
    world = built(destination, tmp_path)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(HOOK), os.environ.get("PYTHONPATH", "")]),
        "EQUIPME_TEST_ERASE_KILL_AT": point,
    }
    argv = w.command(world, "--email", world.first_email, "--apply")
    killed = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    assert killed.returncode == -9, killed.stderr
    if point in ("before-purge", "lake-purge"):
        # Committed, not purged: the old values are still in storage (free blocks, old files).
        assert any(w.leftovers(world, v) for v in world.old_values)
        (log,) = _table(world, ERASURES_TABLE)
        assert log[3] == "pending"
    if point == "mid-rewrite":
        assert world.path.with_name(world.path.name + ".erase-rewrite").exists()

    env.pop("EQUIPME_TEST_ERASE_KILL_AT")
    rerun = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    for value in world.old_values:
        assert w.leftovers(world, value) == [], value
    assert world.others() == world.before
    statuses = [row[3] for row in _table(world, ERASURES_TABLE)]
    assert statuses
    assert set(statuses) == {"complete"}
    assert not list(tmp_path.rglob("*.erase-rewrite"))
    assert not list(tmp_path.rglob(".*.tmp"))
    if destination == "duckdb":
        shutil.copy(world.path, tmp_path / "copy.duckdb")  # opens: the file is whole
        with duckdb.connect(str(tmp_path / "copy.duckdb")) as con:
            assert con.execute("SELECT count(*) FROM customers").fetchone() == (12,)
