"""The DAGs' data quality checks, on real DuckDB files and against the sandbox's total."""

from __future__ import annotations

import duckdb
import pytest

from tap_equipme.pipeline.quality import QualityError, api_total, check_warehouse


def make_warehouse(path, customers, metadata):
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE customers (id BIGINT, name VARCHAR, _deleted_at TIMESTAMPTZ)")
        con.execute(
            "CREATE TABLE customer_metadata (customer_id BIGINT, key VARCHAR, value VARCHAR, "
            "_deleted_at TIMESTAMPTZ)"
        )
        for row in customers:
            con.execute("INSERT INTO customers VALUES (?, ?, ?)", list(row))
        for row in metadata:
            con.execute("INSERT INTO customer_metadata VALUES (?, ?, ?, NULL)", list(row))


def test_clean_warehouse_passes_and_counts_live_customers(tmp_path):
    path = tmp_path / "wh.duckdb"
    make_warehouse(
        path,
        [(1, "A", None), (2, "B", None), (3, "C", "2026-01-01T00:00:00Z")],
        [(1, "k", "v"), (2, "k", "v")],
    )
    report = check_warehouse("duckdb", path, expected_customers=2)
    assert report.live_customers == 2
    assert report.failures() == []


@pytest.mark.parametrize(
    ("customers", "metadata", "expected", "message"),
    [
        ([(1, "A", None), (1, "A", None)], [], None, "duplicate id"),
        ([(1, None, None)], [], None, "without a name"),
        ([(1, "  ", None)], [], None, "without a name"),
        ([(1, "A", None)], [(1, "k", "v"), (1, "k", "w")], None, "(customer_id, key)"),
        ([(1, "A", None)], [], 2, "total = 2"),
    ],
)
def test_bad_data_fails_with_a_message_naming_the_problem(
    tmp_path, customers, metadata, expected, message
):
    path = tmp_path / "wh.duckdb"
    make_warehouse(path, customers, metadata)
    with pytest.raises(QualityError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_warehouse("duckdb", path, expected_customers=expected)


def test_missing_warehouse_is_a_quality_error_naming_the_path(tmp_path):
    with pytest.raises(QualityError, match="'path'"):
        check_warehouse("duckdb", tmp_path / "absent.duckdb")


def test_api_total_asks_limit_1_with_the_taps_filters(tap_config, sandbox):
    snapshot = sandbox.control.snapshot()
    active = sum(1 for c in snapshot["customers"] if c["active"])
    sandbox.control.clear_stats()
    assert api_total(tap_config) == len(snapshot["customers"])
    assert api_total({**tap_config, "active": True}) == active
    queries = sandbox.control.stats()["queries"]
    assert all("limit=1" in q for q in queries)
    assert any("active=true" in q for q in queries)


def test_api_total_failure_never_quotes_the_key(tap_config, sandbox, api_key):
    sandbox.control.set_faults(error_rate=1.0)
    with pytest.raises(QualityError) as raised:
        api_total(tap_config)
    assert api_key not in str(raised.value)


def test_staleness_fails_naming_the_stream_whose_last_successful_load_is_too_old(
    tap_config, sandbox, tmp_path
):
    import datetime as dt

    from tap_equipme.pipeline.sync import run_sync

    path = tmp_path / "wh.duckdb"
    run_sync(tap_config, "duckdb", path, progress_out=None)
    three_hours = dt.timedelta(hours=3)
    report = check_warehouse("duckdb", path, max_staleness=three_hours)
    assert set(report.last_loads) == {"customers", "customer_metadata", "customer_metadata_reads"}
    assert report.stale_streams == {}
    # customers last loaded 4 h ago, and a failed load since does not count as fresh.
    with duckdb.connect(str(path)) as con:
        con.execute(
            "UPDATE _equipme_loads SET finished_at = finished_at - INTERVAL 4 HOUR "
            "WHERE stream = 'customers'"
        )
        con.execute(
            "INSERT INTO _equipme_loads (run_id, stream, finished_at, status) "
            "VALUES ('later', 'customers', now(), 'failed')"
        )
    with pytest.raises(QualityError, match=r"customers: last successful load finished") as err:
        check_warehouse("duckdb", path, max_staleness=three_hours)
    assert "(4h ago), older than max_staleness 3h" in str(err.value)
    assert "customer_metadata:" not in str(err.value)
    # Within a larger limit it passes; without a limit nothing is checked.
    assert check_warehouse("duckdb", path, max_staleness=dt.timedelta(hours=5)).stale_streams == {}
    assert check_warehouse("duckdb", path).stale_streams == {}


def test_a_stream_that_never_loaded_successfully_is_stale(tmp_path):
    import datetime as dt

    path = tmp_path / "wh.duckdb"
    make_warehouse(path, [(1, "A", None)], [])
    with duckdb.connect(str(path)) as con:
        con.execute(
            "CREATE TABLE _equipme_loads (run_id VARCHAR, stream VARCHAR, "
            "finished_at TIMESTAMPTZ, status VARCHAR)"
        )
        con.execute("INSERT INTO _equipme_loads VALUES ('r1', 'customers', now(), 'failed')")
    with pytest.raises(QualityError, match="customers: no successful load recorded"):
        check_warehouse("duckdb", path, max_staleness=dt.timedelta(hours=1))


@pytest.mark.parametrize(
    ("text", "minutes"), [("3h", 180), ("90m", 90), ("1d 12h", 2160), ("45", 45), ("2w", 20160)]
)
def test_max_staleness_reads_durations(text, minutes):
    import datetime as dt

    from tap_equipme.pipeline.quality import parse_duration

    assert parse_duration(text) == dt.timedelta(minutes=minutes)


@pytest.mark.parametrize("text", ["", "soon", "0h", "-3h", "3x"])
def test_a_bad_max_staleness_names_the_setting(text):
    from tap_equipme.pipeline.quality import parse_duration

    with pytest.raises(QualityError, match="Setting 'max_staleness'"):
        parse_duration(text)
