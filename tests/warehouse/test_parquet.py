"""Parquet destination: one current de-duplicated file per stream, replaced atomically."""

from __future__ import annotations

import json
import os

import duckdb
import pandas as pd
import pyarrow.parquet as pq

from tap_equipme.warehouse.state import read_state


def _load(target, out, singer, ids, bookmark, **overrides):
    return target.cli(
        [
            singer.schema(),
            singer.schema("customer_metadata", singer.metadata_schema, ["customer_id", "key"]),
            *(singer.record(singer.customer(i, **overrides)) for i in ids),
            singer.record(
                {
                    "customer_id": ids[0],
                    "key": "tier",
                    "value": bookmark,
                    "scope": "Customer",
                    "self": {"href": "v1/x"},
                },
                stream="customer_metadata",
            ),
            singer.state(bookmark),
        ],
        destination="parquet",
        path=str(out),
        batch_size_rows=2,
    )


def test_parquet_files_are_upserted_by_key_across_runs(target, tmp_path, singer):
    out = tmp_path / "lake"
    first = _load(target, out, singer, [1, 2, 3], "2024-01-01")
    assert first.returncode == 0, first.stderr
    second = _load(target, out, singer, [3, 4], "2024-02-01", name="updated")
    assert second.returncode == 0, second.stderr
    rows = duckdb.sql(
        f"SELECT id, name FROM read_parquet('{out / 'customers.parquet'}') ORDER BY id"
    ).fetchall()
    assert rows == [(1, "Customer 1"), (2, "Customer 2"), (3, "updated"), (4, "updated")]
    metadata = pd.read_parquet(out / "customer_metadata.parquet")
    assert sorted(metadata["customer_id"]) == [1, 3]
    assert read_state("parquet", out) == second.states[-1]
    loads = pq.read_table(out / "_equipme_loads.parquet").to_pylist()
    assert {(r["stream"], r["rows_inserted"], r["rows_updated"], r["status"]) for r in loads} >= {
        ("customers", 3, 0, "succeeded"),
        ("customers", 1, 1, "succeeded"),
    }


def test_parquet_is_readable_by_duckdb_pyarrow_and_pandas_with_nested_types(
    target, tmp_path, singer
):
    out = tmp_path / "lake"
    assert _load(target, out, singer, [1, 2], "2024-01-01").returncode == 0
    path = out / "customers.parquet"
    table = pq.read_table(path)
    assert str(table.schema.field("companyAddress").type).startswith("struct<")
    assert str(table.schema.field("referredBy").type.field("referredOn").type) == (
        "timestamp[us, tz=UTC]"
    )
    frame = pd.read_parquet(path)
    assert list(frame.sort_values("id")["companyAddress"].map(lambda a: a["city"])) == [
        "Zürich",
        "Paris",
    ]
    assert duckdb.sql(
        f"SELECT count(*) FROM '{path}' WHERE companyAddress.city = 'Paris'"
    ).fetchall() == [(1,)]


def test_parquet_file_is_replaced_atomically_leaving_no_temp_files(target, tmp_path, singer):
    out = tmp_path / "lake"
    assert _load(target, out, singer, [1], "2024-01-01").returncode == 0
    old_inode = os.stat(out / "customers.parquet").st_ino
    with open(out / "customers.parquet", "rb") as held_open:  # a reader mid-read
        assert _load(target, out, singer, [2], "2024-02-01").returncode == 0
        assert os.stat(out / "customers.parquet").st_ino != old_inode  # a new file, renamed in
        old = pq.read_table(held_open)  # still reads the complete old version
        assert old.column("id").to_pylist() == [1]
    visible = sorted(p.name for p in out.iterdir() if not p.name.startswith(".equipme.lock"))
    assert visible == [
        "_equipme_loads.parquet",
        "_equipme_state.json",
        "customer_metadata.parquet",
        "customer_metadata_history.parquet",
        "customers.parquet",
        "customers_history.parquet",
    ]
    assert (
        json.loads((out / "_equipme_state.json").read_text())["bookmarks"]["customers"][
            "replication_key_value"
        ]
        == "2024-02-01"
    )


def test_parquet_key_change_is_rejected_and_files_stay_unchanged(target, tmp_path, singer):
    out = tmp_path / "lake"
    assert _load(target, out, singer, [1], "2024-01-01").returncode == 0
    before = (out / "customers.parquet").read_bytes()
    run = target.cli(
        [singer.schema(keys=["uuid"]), singer.record(singer.customer(9)), singer.state("x")],
        destination="parquet",
        path=str(out),
    )
    assert run.returncode != 0
    assert "key properties changed" in run.stderr
    assert (out / "customers.parquet").read_bytes() == before
    assert read_state("parquet", out)["bookmarks"]["customers"]["replication_key_value"] == (
        "2024-01-01"
    )


def test_parquet_soft_deletes_on_activate_version(target, tmp_path, singer):
    out = tmp_path / "lake"
    for version, ids in ((1, [1, 2, 3]), (2, [2])):
        run = target.in_process(
            [
                singer.schema(),
                {"type": "ACTIVATE_VERSION", "stream": "customers", "version": version},
                *(singer.record(singer.customer(i), version=version) for i in ids),
                {"type": "ACTIVATE_VERSION", "stream": "customers", "version": version},
                singer.state(f"v{version}"),
            ],
            destination="parquet",
            path=str(out),
        )
        assert run.states
    rows = duckdb.sql(
        f"SELECT id, _deleted_at IS NOT NULL FROM '{out / 'customers.parquet'}' ORDER BY id"
    ).fetchall()
    assert rows == [(1, True), (2, False), (3, True)]


def _parquet_refresh(target, singer, out, version, ids, *, closing):
    activate = {"type": "ACTIVATE_VERSION", "stream": "customers", "version": version}
    messages = [
        singer.schema(),
        activate,
        *(singer.record(singer.customer(i), version=version) for i in ids),
        *([activate] if closing else []),
        singer.state(f"v{version}"),
    ]
    return target.in_process(messages, destination="parquet", path=str(out))


def _parquet_rows(out):
    return duckdb.sql(
        "SELECT id, _deleted_at IS NOT NULL, _sdc_table_version "
        f"FROM '{out / 'customers.parquet'}' ORDER BY id"
    ).fetchall()


def test_parquet_full_refresh_cut_short_before_its_closing_message_deletes_nothing(
    target, tmp_path, singer
):
    out = tmp_path / "lake"
    _parquet_refresh(target, singer, out, 1, [1, 2, 3], closing=True)
    assert _parquet_refresh(target, singer, out, 2, [1], closing=False).states
    assert _parquet_rows(out) == [(1, False, 1), (2, False, 1), (3, False, 1)]  # not rewritten


def test_parquet_complete_full_refresh_with_zero_records_soft_deletes_every_row(
    target, tmp_path, singer
):
    out = tmp_path / "lake"
    _parquet_refresh(target, singer, out, 1, [1, 2, 3], closing=True)
    _parquet_refresh(target, singer, out, 2, [], closing=True)
    assert _parquet_rows(out) == [(1, True, 1), (2, True, 1), (3, True, 1)]
