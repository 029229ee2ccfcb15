"""The erasure writes the suppression list only through its owner (`suppression.py`), and in a
Parquet directory only while it holds the directory's load lock."""

from __future__ import annotations

import fcntl
from pathlib import Path

import duckdb
import pytest

from tap_equipme.warehouse.erasure import ErasureRequest, TableRule
from tap_equipme.warehouse.erasure_log import (
    ensure_bookkeeping,
    remove_suppressions,
    write_suppressions,
)
from tap_equipme.warehouse.erasure_run import unsuppress
from tap_equipme.warehouse.load_errors import WarehouseError
from tap_equipme.warehouse.parquet_writer import LOCK_FILE
from tap_equipme.warehouse.suppression import (
    SUPPRESSIONS_FILE,
    Suppression,
    add_suppressions,
    publish_parquet_suppressions,
    read_parquet_suppressions,
    read_suppressions,
)

RULES = [
    TableRule("customers", "id", "blank", ("contactName",)),
    TableRule("customer_metadata", "customer_id", "delete"),
    TableRule("customer_metadata_reads", "customer_id", "blank", suppress=False),
]


def test_the_erasures_entries_are_the_loaders_list_added_once_and_removed() -> None:
    con = duckdb.connect()
    ensure_bookkeeping(con)
    # An entry the loader's module added first (a typed email, other case) is not doubled.
    add_suppressions(con, [Suppression("customers", "contactEmail", " Jane@X.org", "DPO-1")])
    request = ErasureRequest("DPO-2", ["7", "12"], RULES, "customer_id")
    assert write_suppressions(con, request) == 4  # two suppressed rules x two keys
    assert write_suppressions(con, request) == 0  # idempotent
    assert read_suppressions(con) == {
        "customers": {"id": {"7", "12"}, "contactEmail": {"jane@x.org"}},
        "customer_metadata": {"customer_id": {"7", "12"}},
    }
    assert remove_suppressions(con, RULES, ["7"]) == 2
    assert read_suppressions(con)["customers"]["id"] == {"12"}


def test_unsuppress_in_a_parquet_directory_waits_for_no_load_and_changes_nothing_while_locked(
    tmp_path: Path,
) -> None:
    con = duckdb.connect()
    add_suppressions(con, [Suppression("customers", "id", "7", "DPO-1")])
    add_suppressions(con, [Suppression("customer_metadata", "customer_id", "7", "DPO-1")])
    publish_parquet_suppressions(con, tmp_path)
    before = (tmp_path / SUPPRESSIONS_FILE).read_bytes()

    with (tmp_path / LOCK_FILE).open("w") as lock:  # a load holds the directory
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(WarehouseError, match=r"locked by a load.*nothing was changed"):
            unsuppress("parquet", tmp_path, RULES, ["7"], apply=True)
        # A dry run reads without the lock.
        assert unsuppress("parquet", tmp_path, RULES, ["7"], apply=False) == 2
    assert (tmp_path / SUPPRESSIONS_FILE).read_bytes() == before

    assert unsuppress("parquet", tmp_path, RULES, ["7"], apply=True) == 2
    assert read_parquet_suppressions(tmp_path) == {}
