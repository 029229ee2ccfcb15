"""Bad settings, bad paths and locked files: one clear paragraph, non-zero exit, nothing written."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from tap_equipme.warehouse.load_errors import WarehouseError
from tap_equipme.warehouse.state import read_state


def _messages(singer):
    return [singer.schema(), singer.record(singer.customer(1)), singer.state("2024-01-01")]


def test_unknown_destination_is_rejected_naming_the_setting(target, tmp_path, singer):
    run = target.cli(_messages(singer), destination="sqlite")
    assert run.returncode != 0
    assert "destination" in run.stderr
    assert "sqlite" in run.stderr
    assert run.states == []
    assert list(tmp_path.glob("*.duckdb")) == []


def test_a_load_method_other_than_upsert_is_rejected_naming_the_setting(target, singer):
    run = target.cli(_messages(singer), load_method="overwrite")
    assert run.returncode != 0
    assert "load_method" in run.stderr


def test_missing_path_is_rejected_naming_the_setting(target, tmp_path, singer):
    run = target.cli(_messages(singer), path=None)
    assert run.returncode != 0
    assert "'path'" in run.stderr


def test_path_under_a_missing_directory_is_a_clear_error(target, tmp_path, singer):
    run = target.cli(_messages(singer), path=str(tmp_path / "no" / "such" / "w.duckdb"))
    assert run.returncode != 0
    assert "target-duckdb-lake: error: Setting 'path'" in run.stderr
    assert "does not exist" in run.stderr
    assert "Traceback" not in run.stderr
    assert not (tmp_path / "no").exists()


def test_path_that_cannot_be_created_is_a_clear_error_for_parquet(target, tmp_path, singer):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    run = target.cli(_messages(singer), destination="parquet", path=str(blocker))
    assert run.returncode != 0
    assert "is a file" in run.stderr
    assert blocker.read_text() == "not a directory"


def test_a_directory_as_duckdb_path_is_a_clear_error(target, tmp_path, singer):
    run = target.cli(_messages(singer), path=str(tmp_path))
    assert run.returncode != 0
    assert "is a directory" in run.stderr


def test_unwritable_directory_is_a_clear_error(tmp_path):
    import os

    from tap_equipme.warehouse.target_settings import open_warehouse

    locked_dir = tmp_path / "ro"
    locked_dir.mkdir()
    locked_dir.chmod(0o500)
    try:
        if os.access(locked_dir, os.W_OK):  # root ignores permissions: use a read-only mount
            locked_dir = type(tmp_path)("/proc")
        with pytest.raises(WarehouseError, match="Setting 'path'"):
            open_warehouse({"destination": "duckdb", "path": str(locked_dir / "w.duckdb")})
    finally:
        (tmp_path / "ro").chmod(0o700)


def test_duckdb_file_locked_by_another_process_is_a_clear_error(target, tmp_path, singer):
    path = tmp_path / "warehouse.duckdb"
    first = target.cli(_messages(singer))
    assert first.returncode == 0
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import duckdb, sys, time
                con = duckdb.connect({str(path)!r})
                print("locked", flush=True)
                sys.stdin.read()
                """
            ),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        run = target.cli(
            [singer.schema(), singer.record(singer.customer(2)), singer.state("2025-01-01")]
        )
    finally:
        holder.communicate("", timeout=30)
    assert run.returncode != 0
    assert "locked by another process" in run.stderr
    assert run.states == []
    assert read_state("duckdb", path)["bookmarks"]["customers"]["replication_key_value"] == (
        "2024-01-01"
    )


def test_parquet_directory_locked_by_another_load_is_a_clear_error(tmp_path):
    from tap_equipme.warehouse.target_settings import open_warehouse

    first = open_warehouse({"destination": "parquet", "path": str(tmp_path / "lake")})
    try:
        with pytest.raises(WarehouseError, match="locked by another load"):
            open_warehouse({"destination": "parquet", "path": str(tmp_path / "lake")})
    finally:
        first.close()


def test_a_record_that_does_not_fit_its_schema_names_the_stream(target, singer):
    run = target.cli([singer.schema(), singer.record(singer.customer(1, id="not-a-number"))])
    assert run.returncode != 0
    assert "Stream 'customers'" in run.stderr
    assert "does not match" in run.stderr


def test_read_state_rejects_an_unknown_destination(tmp_path):
    with pytest.raises(WarehouseError, match="destination"):
        read_state("sqlite", tmp_path)


@pytest.mark.parametrize("destination", ["duckdb", "parquet"])
def test_a_corrupt_stored_state_is_a_clear_error_and_releases_the_warehouse(tmp_path, destination):
    import duckdb

    from tap_equipme.warehouse.target_settings import open_warehouse

    path = tmp_path / ("w.duckdb" if destination == "duckdb" else "lake")
    open_warehouse({"destination": destination, "path": str(path)}).finish()
    if destination == "duckdb":
        with duckdb.connect(str(path)) as con:
            con.execute("INSERT INTO _equipme_state VALUES (1, '[1, 2]', 'x', now())")
    else:
        (path / "_equipme_state.json").write_text("{not json")
    with pytest.raises(WarehouseError, match="corrupt"):
        open_warehouse({"destination": destination, "path": str(path)})
    # The failed open released the file / directory lock: opening again gets the same error.
    with pytest.raises(WarehouseError, match="corrupt"):
        open_warehouse({"destination": destination, "path": str(path)})


def _case_clash_messages(properties):
    schema = {"type": "object", "properties": properties}
    return [
        {"type": "SCHEMA", "stream": "s", "schema": schema, "key_properties": ["a"]},
        {"type": "RECORD", "stream": "s", "record": {"a": "1"}},
        {"type": "STATE", "value": {"bookmarks": {"s": {"replication_key_value": "x"}}}},
    ]


def _tables(path):
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    try:
        return {
            name for (name,) in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()
        }
    finally:
        con.close()


def test_property_names_differing_only_in_case_are_a_clear_error_naming_both(target, tmp_path):
    messages = _case_clash_messages({"a": {"type": "string"}, "A": {"type": "string"}})
    run = target.cli(messages)
    assert run.returncode != 0
    error = run.stderr.split("target-duckdb-lake: error: ", 1)[1]
    assert "Stream 's'" in error
    assert "'a' and 'A'" in error
    assert "Traceback" not in run.stderr
    assert run.states == []
    assert "s" not in _tables(tmp_path / "warehouse.duckdb")


def test_nested_field_names_differing_only_in_case_are_a_clear_error(target, tmp_path):
    city = {"type": "string"}
    address = {"type": ["object", "null"], "properties": {"city": city, "City": city}}
    messages = _case_clash_messages({"a": {"type": "string"}, "address": address})
    run = target.cli(messages)
    assert run.returncode != 0
    assert "'address.city' and 'address.City'" in run.stderr
    assert "Traceback" not in run.stderr
    assert "s" not in _tables(tmp_path / "warehouse.duckdb")


# (singer-sdk itself drops `_sdc_*` properties such as `_sdc_table_version` from schemas.)
@pytest.mark.parametrize("name", ["_loaded_at", "_DELETED_AT"])
def test_a_property_named_like_a_bookkeeping_column_is_a_clear_error(target, tmp_path, name):
    run = target.cli(_case_clash_messages({"a": {"type": "string"}, name: {"type": "string"}}))
    assert run.returncode != 0
    error = run.stderr.split("target-duckdb-lake: error: ", 1)[1]
    assert "Stream 's'" in error
    assert repr(name) in error
    assert "bookkeeping" in error
    assert "Traceback" not in run.stderr
    assert "s" not in _tables(tmp_path / "warehouse.duckdb")


def test_non_ascii_names_differing_in_case_still_load(target, query):
    # DuckDB folds only ASCII letters: "É" and "é" are two distinct columns.
    properties = {"a": {"type": "string"}, "É": {"type": "string"}, "é": {"type": "string"}}
    messages = _case_clash_messages(properties)
    messages[1]["record"] = {"a": "1", "É": "upper", "é": "lower"}
    run = target.cli(messages)
    assert run.returncode == 0, run.stderr
    assert query('SELECT "É", "é" FROM s') == [("upper", "lower")]


def test_a_value_that_fails_in_the_background_load_rolls_back_the_open_transaction(
    target, query, singer
):
    # The date-time parses as a string (Arrow, main thread) and fails only when DuckDB casts
    # it, on the loader thread, after earlier batches were upserted into the same transaction.
    first = target.cli([singer.schema(), singer.record(singer.customer(1)), singer.state("2024")])
    assert first.returncode == 0, first.stderr
    bad = singer.customer(14)
    bad["referredBy"]["referredOn"] = "not a date"
    run = target.cli(
        [
            singer.schema(),
            *(singer.record(singer.customer(i)) for i in range(10, 14)),
            singer.record(bad),
            singer.state("2025"),
        ],
        batch_size_rows=2,
    )
    assert run.returncode != 0
    assert "Stream 'customers'" in run.stderr
    assert "not a date" in run.stderr
    assert run.states == []
    assert query("SELECT id FROM customers ORDER BY id") == [(1,)]
    assert (
        read_state("duckdb", target.tmp_path / "warehouse.duckdb") == singer.state("2024")["value"]
    )
    assert query("SELECT status, rows_inserted FROM _equipme_loads ORDER BY started_at") == [
        ("succeeded", 1),
        ("failed", 0),
    ]
