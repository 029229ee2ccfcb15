"""An hourly run writes to the lake in proportion to the changed rows, not to the table.

Change capture re-lists every customer each run (a full refresh's ACTIVATE_VERSION); only the
k changed ones may be written. Measured in the catalog (DuckLake's own metadata: the data
files each snapshot added and their row counts), so a whole-table rewrite cannot hide.
"""

from __future__ import annotations

from typing import Any

import pytest

CUSTOMERS = 120


def _snapshot(lake: Any) -> int:
    return int(lake.query("SELECT max(snapshot_id) FROM lake.snapshots()")[0][0])


def _written_since(lake: Any, snapshot: int) -> dict[str, tuple[int, int]]:
    """Per table: (data files, rows) added by the snapshots after `snapshot`."""
    rows = lake.query(
        "SELECT t.table_name, count(*), sum(f.record_count) "
        "FROM __ducklake_metadata_lake.ducklake_data_file f "
        "JOIN __ducklake_metadata_lake.ducklake_table t USING (table_id) "
        f"WHERE f.begin_snapshot > {snapshot} AND t.end_snapshot IS NULL GROUP BY ALL"
    )
    return {name: (int(files), int(count)) for name, files, count in rows}


def _run(lake: Any, singer_lake: Any, version: int, renamed: set[int]) -> None:
    customers = [
        singer_lake.customer(i, name=f"Renamed {i} v{version}" if i in renamed else f"C {i}")
        for i in range(1, CUSTOMERS + 1)
    ]
    lake.load(singer_lake.messages(customers, version=version))


@pytest.mark.slow  # five loads into a real lake (~25 s)
def test_a_run_with_k_changed_customers_writes_k_rows_not_the_table(
    lake: Any, singer_lake: Any
) -> None:
    _run(lake, singer_lake, 1, set())
    for version, k in ((2, 3), (3, 12)):
        renamed = set(range(1, CUSTOMERS + 1, CUSTOMERS // k))
        assert len(renamed) == k
        before = _snapshot(lake)
        _run(lake, singer_lake, version, renamed)
        written = _written_since(lake, before)
        # The changed rows once in the table; in the history the new version, plus the
        # closed previous version (an UPDATE in a lake writes the row again).
        assert written["customers"] == (1, k), written
        assert written["customers_history"][1] == 2 * k, written
        assert sum(rows for _, rows in written.values()) == 3 * k, written
        assert lake.query(
            "SELECT rows_updated, rows_inserted FROM _equipme_loads WHERE stream = 'customers' "
            "ORDER BY started_at DESC LIMIT 1"
        ) == [(k, 0)]
    # Every customer is still there, current and not deleted; the history has each version.
    assert lake.query(
        "SELECT count(*), count(*) FILTER (WHERE _deleted_at IS NULL) FROM customers"
    ) == [(CUSTOMERS, CUSTOMERS)]
    assert lake.query("SELECT count(*) FROM customers_history") == [(CUSTOMERS + 3 + 12,)]

    # Deletions still work without the per-row version: two customers left the listing.
    kept = [singer_lake.customer(i, name=f"C {i}") for i in range(1, CUSTOMERS - 1)]
    before = _snapshot(lake)
    lake.load(singer_lake.messages(kept, version=4))
    assert lake.query("SELECT id FROM customers WHERE _deleted_at IS NOT NULL ORDER BY id") == [
        (CUSTOMERS - 1,),
        (CUSTOMERS,),
    ]
    # The 12 customers renamed last run are back to "C i" (12 changes), plus 2 soft deletes
    # (the table and the history write those rows again).
    assert sum(rows for _, rows in _written_since(lake, before).values()) == 3 * 12 + 2 * 2
