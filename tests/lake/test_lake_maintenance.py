"""`equipme-sync maintain` on a real lake: across schema evolution and a column rename, with
a reader attached, every row, the history and time travel inside the retention survive.

DuckLake has had data-loss bugs around expiring snapshots after a rename (ducklake#527,
#530) and compaction after a column rename (#660): this is the check that none reaches us.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

CUSTOMERS = 8


def _customers(singer_lake: Any, version: int, *, renamed: bool = False) -> list[dict[str, Any]]:
    customers = []
    for i in range(1, CUSTOMERS + 1):
        record = singer_lake.customer(i, name=f"C {i} v{version}" if i <= 2 else f"C {i}")
        if renamed:
            record["email"] = record.pop("contactEmail")
        customers.append(record)
    return customers


def _renamed_messages(singer_lake: Any, version: int) -> list[dict[str, Any]]:
    """The source renamed `contactEmail` to `email`: schema evolution adds the new column."""
    messages = singer_lake.messages(_customers(singer_lake, version, renamed=True), version=version)
    properties = messages[0]["schema"]["properties"]
    properties["email"] = properties.pop("contactEmail")
    return messages


def _maintain(lake: Any, capsys: Any, *args: str) -> dict[str, Any]:
    from tap_equipme.pipeline.cli import main

    capsys.readouterr()
    lake_options = ["--path", lake.catalog, "--lake-data-path", lake.settings["lake_data_path"]]
    code = main(["maintain", "--destination", "ducklake", *lake_options, "--json", *args])
    out = capsys.readouterr().out
    assert code == 0, out
    return dict(json.loads(out))


def _everything(reader: Any) -> tuple[list[Any], ...]:
    return (
        reader.execute(
            'SELECT id, name, "contactEmail", email, spoken, language, _deleted_at IS NULL '
            "FROM customers ORDER BY id"
        ).fetchall(),
        reader.execute(
            "SELECT id, name, email, _valid_from, _valid_to FROM customers_history "
            "ORDER BY id, _valid_from"
        ).fetchall(),
        reader.execute("SELECT * FROM customers_report ORDER BY ALL").fetchall(),
    )


@pytest.mark.slow  # four loads and two maintenance runs on a real lake (~30 s)
def test_maintenance_after_a_column_rename_keeps_rows_history_and_time_travel(
    lake: Any, singer_lake: Any, capsys: Any
) -> None:
    from tap_equipme.pipeline.publish import publish
    from tap_equipme.warehouse.lake import connect_lake, lake_settings

    lake.load(singer_lake.messages(_customers(singer_lake, 1), version=1))
    lake.load(_renamed_messages(singer_lake, 2))
    # An operator renames a column in the lake (DuckLake ALTER ... RENAME COLUMN); the next
    # load finds `language` gone and adds it again.
    writer = connect_lake(lake_settings(lake.catalog, lake.settings))
    writer.execute('ALTER TABLE customers RENAME COLUMN "language" TO spoken')
    writer.close()
    lake.load(_renamed_messages(singer_lake, 3))
    inside = int(lake.query("SELECT max(snapshot_id) FROM lake.snapshots()")[0][0])
    inside_rows = lake.query(f"SELECT id, name FROM customers AT (VERSION => {inside}) ORDER BY id")
    lake.load(_renamed_messages(singer_lake, 4))
    # The reporting views are the pipeline's (equipme-sync creates them after a lake load).
    publish("ducklake", lake.catalog, lake=lake.settings)

    reader = lake.connect()
    before = _everything(reader)
    assert len(before[0]) == CUSTOMERS
    # Customer 5 changed only when `email` replaced `contactEmail` (run 2): its language
    # sits in the renamed column; customer 1, renamed again in run 4, has it in the new one.
    assert before[0][4] == (5, "C 5", None, "jane5@example.com", "fr", None, True)
    assert before[0][0] == (1, "C 1 v4", None, "jane1@example.com", None, "de", True)
    assert len(before[1]) == 2 * CUSTOMERS + 2 * 2  # all in runs 1 and 2, two in 3 and 4

    # Dry run: nothing changes.
    files_before = lake.query("SELECT count(*) FROM __ducklake_metadata_lake.ducklake_data_file")
    dry = _maintain(lake, capsys)
    assert dry["applied"] is False
    assert {s["name"] for s in dry["steps"]} == {"compact", "expire", "cleanup"}
    assert dry["steps"][0]["files"] > 0
    assert lake.query("SELECT count(*) FROM __ducklake_metadata_lake.ducklake_data_file") == (
        files_before
    )

    # Keep the snapshots from `inside` on; a reader holds a transaction open meanwhile.
    inside_time = lake.query(
        f"SELECT snapshot_time FROM lake.snapshots() WHERE snapshot_id = {inside}"
    )[0][0]
    retention = int((dt.datetime.now(dt.timezone.utc) - inside_time).total_seconds()) + 1
    reader.execute("BEGIN TRANSACTION")
    assert _everything(reader) == before
    done = _maintain(lake, capsys, "--apply", "--retention", f"{retention}s")
    # The open transaction still reads its snapshot: the replaced files wait out the grace.
    assert _everything(reader) == before
    reader.execute("COMMIT")
    assert done["applied"] is True
    assert done["after"]["live_files"] < done["before"]["live_files"]
    assert done["after"]["snapshots"] < done["before"]["snapshots"]
    assert _everything(reader) == before
    # Time travel inside the retention works; before it the snapshots are gone.
    assert (
        reader.execute(
            f"SELECT id, name FROM customers AT (VERSION => {inside}) ORDER BY id"
        ).fetchall()
        == inside_rows
    )
    with pytest.raises(Exception, match=r"(?i)snapshot"):
        reader.execute("SELECT count(*) FROM customers AT (VERSION => 1)").fetchall()

    # Everything but the newest snapshot expired; still every row and version, and loading
    # goes on.
    last = _maintain(lake, capsys, "--apply", "--retention", "0s", "--grace", "0s")
    assert last["after"]["files"] < last["before"]["files"]
    assert last["after"]["scheduled_files"] == 0
    assert _everything(reader) == before
    reader.close()
    lake.load(_renamed_messages(singer_lake, 5))
    assert lake.query("SELECT count(*) FROM customers_history") == [(2 * CUSTOMERS + 2 * 3,)]
    assert lake.query("SELECT count(*) FROM customers WHERE _deleted_at IS NULL") == [(CUSTOMERS,)]
