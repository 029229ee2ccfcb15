"""The loader blanks the personal fields of suppressed rows before they land (any source).

The stream here is made up (the loader knows no Equipme): a schema marking two fields
`x-personal-data`, one of them nested, and an entry on the suppression list.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest

from tap_equipme.warehouse.suppression import (
    Suppression,
    add_suppressions,
    load_parquet_suppressions,
    publish_parquet_suppressions,
    remove_suppressions,
)

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "email": {"type": ["string", "null"], "x-personal-data": True},
        "plan": {"type": ["string", "null"]},
        "owner": {
            "type": ["object", "null"],
            "properties": {
                "id": {"type": ["integer", "null"]},
                "name": {"type": ["string", "null"], "x-personal-data": True},
            },
        },
    },
}


def person(row_id: int, email: str, name: str) -> dict[str, Any]:
    return {"id": row_id, "email": email, "plan": "gold", "owner": {"id": 9, "name": name}}


def messages(singer: Any, *records: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        singer.schema("members", SCHEMA, ["id"]),
        *(singer.record(r, "members") for r in records),
        singer.state("2026-01-01T00:00:00Z"),
    ]


def suppress(path: Path, *values: str, remove: bool = False) -> None:
    con = duckdb.connect(str(path))
    try:
        if remove:
            remove_suppressions(con, "members", "id", values)
        else:
            add_suppressions(con, [Suppression("members", "id", v, "req-1") for v in values])
    finally:
        con.close()


def test_a_suppressed_row_lands_blank_in_current_and_history_until_removed(
    target: Any, singer: Any, query: Any, tmp_path: Path
) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    target.in_process(messages(singer, person(1, "a@x.io", "Ann"), person(2, "b@x.io", "Bob")))
    suppress(warehouse, "1")

    target.in_process(messages(singer, person(1, "a2@x.io", "Ann2"), person(2, "b2@x.io", "Bo")))
    rows = query("SELECT id, email, plan, owner.id, owner.name FROM members ORDER BY id")
    assert rows == [(1, None, "gold", 9, None), (2, "b2@x.io", "gold", 9, "Bo")]
    latest = query(
        "SELECT email, owner.name FROM members_history WHERE id = 1 AND _valid_to IS NULL"
    )
    assert latest == [(None, None)]
    assert query("SELECT count(*) FROM members_history WHERE email = 'a2@x.io'") == [(0,)]

    suppress(warehouse, "1", remove=True)
    target.in_process(messages(singer, person(1, "a3@x.io", "Ann3")))
    assert query("SELECT email, owner.name FROM members WHERE id = 1") == [("a3@x.io", "Ann3")]


def test_an_entry_on_a_column_the_stream_lacks_blanks_nothing_and_says_so(
    target: Any, singer: Any, query: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    add_suppressions(con, [Suppression("members", "customer_id", "1", "req-1")])
    con.close()
    target.in_process(messages(singer, person(1, "a@x.io", "Ann")))
    assert query("SELECT email FROM members") == [("a@x.io",)]
    assert "keyed on column 'customer_id'" in caplog.text


def test_parquet_reads_the_list_from_its_directory(
    target: Any, singer: Any, tmp_path: Path
) -> None:
    directory = tmp_path / "lake-files"
    directory.mkdir()
    con = duckdb.connect()
    load_parquet_suppressions(con, directory)
    add_suppressions(con, [Suppression("members", "email", "A@X.IO", "req-1")])
    publish_parquet_suppressions(con, directory)
    target.in_process(
        messages(singer, person(1, "a@x.io", "Ann"), person(2, "b@x.io", "Bob")),
        destination="parquet",
        path=str(directory),
    )
    rows = con.execute(
        f"SELECT id, email, owner.name FROM read_parquet('{directory}/members.parquet') ORDER BY id"
    ).fetchall()
    assert rows == [(1, None, None), (2, "b@x.io", "Bob")]
