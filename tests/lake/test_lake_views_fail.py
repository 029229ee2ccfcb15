"""A lake load whose reporting views cannot be created: one clear error, nothing lost.

`equipme-sync` creates the reporting views after the loader committed data and state, in a
transaction of their own. Here a lake user has a table named like one of the views: the sync
must fail naming it, keep what the loader committed (rows and bookmark), and the next sync,
once the table is gone, must create the views without loading anything twice.
"""

from __future__ import annotations

from typing import Any

import pytest

from tap_equipme.pipeline.sync import SyncError, run_sync
from tap_equipme.warehouse.lake import connect_lake, lake_settings
from tap_equipme.warehouse.state import read_state


def _execute(lake: Any, sql: str) -> None:
    con = connect_lake(lake_settings(lake.catalog, lake.settings))
    try:
        con.execute(sql)
    finally:
        con.close()


@pytest.mark.slow  # two syncs against the sandbox into a real lake (~20 s)
def test_a_view_that_cannot_be_created_fails_the_sync_and_keeps_data_and_state(
    sandbox: Any, tap_config: dict[str, Any], lake: Any
) -> None:
    sandbox.control.reset(customers=25, seed=3)
    _execute(lake, "CREATE TABLE customers_report (note VARCHAR)")

    with pytest.raises(SyncError) as failed:
        run_sync(tap_config, "ducklake", lake.catalog, progress_out=None, lake=lake.settings)
    message = str(failed.value)
    assert "customers_report" in message
    assert "data and state are committed" in message
    assert failed.value.summary.status == "failed"

    lake.close()
    assert lake.query("SELECT count(*) FROM customers")[0][0] == 25
    state = read_state("ducklake", lake.catalog, lake.settings)
    assert state is not None
    assert state["bookmarks"]["customers"]["replication_key_value"]

    _execute(lake, "DROP TABLE customers_report")
    summary = run_sync(tap_config, "ducklake", lake.catalog, progress_out=None, lake=lake.settings)
    assert summary.status == "succeeded"
    assert summary.loads["customers"]["rows_inserted"] == 0  # nothing landed twice
    lake.close()
    assert lake.query("SELECT count(*) FROM customers_report")[0][0] == 25
