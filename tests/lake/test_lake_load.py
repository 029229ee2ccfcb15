"""destination: ducklake in the loader: the DuckDB destination's semantics, in a lake."""

from __future__ import annotations

from typing import Any

import duckdb
import pytest


def test_second_load_upserts_by_key_and_stores_the_state_with_the_data(
    lake: Any, singer_lake: Any
) -> None:
    from tap_equipme.warehouse.state import read_state

    first = [singer_lake.customer(i) for i in range(1, 6)]
    lake.load(singer_lake.messages(first, "2026-01-01T00:00:00Z"))
    changed = [singer_lake.customer(2, name="Renamed"), singer_lake.customer(6)]
    # The same key twice in one batch: the last one wins, no duplicate row.
    changed.append(singer_lake.customer(6, name="Six, last"))
    states = lake.load(singer_lake.messages(changed, "2026-02-01T00:00:00Z"))

    rows = dict(lake.query("SELECT id, name FROM customers"))
    assert len(rows) == 6
    assert rows[2] == "Renamed"
    assert rows[6] == "Six, last"
    stored = read_state("ducklake", lake.catalog, lake.settings)
    assert stored == states[-1]
    assert stored["bookmarks"]["customers"]["replication_key_value"] == "2026-02-01T00:00:00Z"
    loads = lake.query(
        "SELECT rows_inserted, rows_updated, status FROM _equipme_loads ORDER BY started_at"
    )
    assert loads == [(5, 0, "succeeded"), (1, 1, "succeeded")]


def test_rows_absent_from_a_complete_version_are_soft_deleted_and_others_kept(
    lake: Any, singer_lake: Any
) -> None:
    lake.load(singer_lake.messages([singer_lake.customer(i) for i in range(1, 5)]))
    # A full refresh that no longer lists customer 3 and 4.
    lake.load(
        singer_lake.messages([singer_lake.customer(i) for i in (1, 2)], version=1_700_000_000_000)
    )
    rows = dict(lake.query("SELECT id, _deleted_at IS NOT NULL FROM customers"))
    assert rows == {1: False, 2: False, 3: True, 4: True}
    # An opening ACTIVATE_VERSION only (the tap died before the version was complete).
    opening = singer_lake.messages([singer_lake.customer(1)], version=1_800_000_000_000)
    del opening[-2]  # the closing ACTIVATE_VERSION
    lake.load(opening)
    assert lake.query("SELECT count(*) FROM customers WHERE _deleted_at IS NULL") == [(2,)]


def test_an_analyst_attaching_the_lake_sees_tables_and_reporting_views(
    lake: Any, singer_lake: Any
) -> None:
    from tap_equipme.pipeline.publish import publish
    from tap_equipme.warehouse.extensions import extension_file

    def lake_views() -> set[str]:
        con = duckdb.connect()
        for name in ("ducklake", "postgres_scanner"):
            path = extension_file(name)
            assert path is not None
            con.execute(f"LOAD '{path}'")
        con.execute(f"ATTACH 'ducklake:{lake.catalog}' AS lake (READ_ONLY)")
        views = {
            r[0]
            for r in con.execute(
                "SELECT view_name FROM duckdb_views() WHERE database_name = 'lake'"
            ).fetchall()
        }
        con.close()
        return views

    lake.load(singer_lake.messages([singer_lake.customer(i) for i in range(1, 4)]))
    # The loader knows no source: tap-equipme's views come from the pipeline's publish step
    # (equipme-sync runs it after each load into a lake; meltano: `equipme-sync:publish`).
    assert lake_views() == set()
    published = publish("ducklake", lake.catalog, lake=lake.settings)
    assert {"customers_report", "customer_counts_by_country"} <= set(published["views"])
    assert {"customers_report", "customer_counts_by_country"} <= lake_views()
    con = duckdb.connect()
    for name in ("ducklake", "postgres_scanner"):
        path = extension_file(name)
        assert path is not None
        con.execute(f"LOAD '{path}'")
    con.execute(f"ATTACH 'ducklake:{lake.catalog}' AS lake (READ_ONLY)")
    assert con.execute("SELECT count(*) FROM lake.customers_report").fetchall() == [(3,)]
    assert con.execute(
        "SELECT country_code, customers FROM lake.customer_counts_by_country"
    ).fetchall() == [("DE", 3)]


def test_a_local_catalog_file_serves_one_machine(
    tmp_path: Any, singer_lake: Any, capsys: Any
) -> None:
    import io
    import json

    from tap_equipme.warehouse.state import read_state
    from tap_equipme.warehouse.target import TargetDuckdbLake

    catalog = str(tmp_path / "catalog.ducklake")
    assert read_state("ducklake", catalog, {}) is None
    body = "".join(json.dumps(m) + "\n" for m in singer_lake.messages([singer_lake.customer(1)]))
    config = {"destination": "ducklake", "path": catalog}
    TargetDuckdbLake(config=config).listen(io.BytesIO(body.encode()))
    assert read_state("ducklake", catalog, {})["bookmarks"]
    assert (tmp_path / "catalog.ducklake.files").is_dir()


def test_a_catalog_holding_a_password_is_refused_before_anything_is_written(lake: Any) -> None:
    from tap_equipme.warehouse.load_errors import WarehouseError
    from tap_equipme.warehouse.target_settings import open_warehouse

    with pytest.raises(WarehouseError, match="PGPASSWORD") as info:
        open_warehouse(lake.config(path="postgres:host=db dbname=lake password=hunter2"))
    assert "hunter2" not in str(info.value)
    with pytest.raises(WarehouseError, match="PGPASSWORD"):
        open_warehouse(lake.config(path="postgres:postgresql://etl:hunter2@db/lake"))


def test_bad_lake_settings_name_the_setting(lake: Any) -> None:
    from tap_equipme.warehouse.load_errors import WarehouseError
    from tap_equipme.warehouse.target_settings import open_warehouse

    with pytest.raises(WarehouseError, match="'lake_schema'"):
        open_warehouse(lake.config(lake_schema="bad-name; DROP"))
    with pytest.raises(WarehouseError, match="'s3_url_style'"):
        open_warehouse(lake.config(s3_url_style="sideways"))
    with pytest.raises(WarehouseError, match="'lake_data_path'"):
        open_warehouse(lake.config(lake_data_path="ftp://host/x"))


def test_s3_data_path_writes_the_parquet_files_to_the_bucket(
    lake: Any, lake_s3: Any, lake_servers: Any, singer_lake: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tap_equipme.warehouse.state import read_state

    for name, value in lake_servers.s3_env().items():
        monkeypatch.setenv(name, value)
    lake.settings = lake_s3.settings(lake.tmp_path.name)
    # More rows than DuckLake inlines into the catalog (10), so a Parquet file is written.
    lake.load(singer_lake.messages([singer_lake.customer(i) for i in range(1, 31)]))
    keys = lake_s3.keys(lake.tmp_path.name)
    assert any(k.endswith(".parquet") and "/customers/" in k for k in keys), keys
    assert lake.query("SELECT count(*) FROM customers") == [(30,)]
    assert read_state("ducklake", lake.catalog, lake.settings)["bookmarks"]
