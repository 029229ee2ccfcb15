"""The loader knows no source: a made-up tap's streams, keys, child set and state load alike.

Nothing here is tap-equipme's: other stream names, other keys, a child set, a bookmark and
run figures under other keys, all told to the loader through its settings.
"""

from __future__ import annotations

import io
import json
from typing import Any

import duckdb

from tap_equipme.warehouse.target import TargetDuckdbLake

SETTINGS = {
    "child_sets": [
        {
            "stream": "order_lines",
            "key": "order_no",
            "reads_stream": "order_reads",
            "parent_stream": "orders",
            "parent_key": "order_no",
        }
    ],
    "bookmark_stream": "orders",
    "run_stats_key": "figures",
}
ORDERS = {"properties": {"order_no": {"type": "string"}, "total": {"type": ["number", "null"]}}}
LINES = {
    "properties": {
        "order_no": {"type": "string"},
        "line": {"type": "integer"},
        "sku": {"type": ["string", "null"]},
    }
}
READS = {"properties": {"order_no": {"type": "string"}}}


def _schema(stream: str, schema: dict[str, Any], keys: list[str]) -> dict[str, Any]:
    return {"type": "SCHEMA", "stream": stream, "schema": schema, "key_properties": keys}


def _record(stream: str, **record: Any) -> dict[str, Any]:
    return {"type": "RECORD", "stream": stream, "record": record}


def _run(path: str, run_id: str, cursor: str, orders: dict[str, list[int]]) -> None:
    messages = [
        _schema("orders", ORDERS, ["order_no"]),
        _schema("order_lines", LINES, ["order_no", "line"]),
        _schema("order_reads", READS, ["order_no"]),
    ]
    for order_no, lines in orders.items():
        messages.append(_record("orders", order_no=order_no, total=1.5))
        messages += [_record("order_lines", order_no=order_no, line=n, sku="x") for n in lines]
        messages.append(_record("order_reads", order_no=order_no))
    state = {
        "bookmarks": {"orders": {"replication_key_value": cursor}},
        "figures": {"requests": {"list": 3}},
    }
    messages.append({"type": "STATE", "value": state})
    body = "".join(json.dumps(m) + "\n" for m in messages).encode()
    config = {"path": path, "run_id": run_id, **SETTINGS}
    TargetDuckdbLake(config=config).listen(io.BytesIO(body))


def test_a_made_up_taps_streams_child_set_and_state_load_like_equipmes(tmp_path):
    path = str(tmp_path / "w.duckdb")
    _run(path, "one", "2026-01-01", {"A-1": [1, 2, 3], "A-2": [1]})
    # Order A-1 re-read with line 2 gone; A-2 not read this run: its line stays.
    _run(path, "two", "2026-02-01", {"A-1": [1, 3]})

    con = duckdb.connect(path, read_only=True)
    try:
        live = con.execute(
            "SELECT order_no, line FROM order_lines WHERE _deleted_at IS NULL ORDER BY 1, 2"
        ).fetchall()
        loads = con.execute(
            "SELECT stream, rows_deleted, bookmark_before, bookmark_after, requests_list "
            "FROM _equipme_loads WHERE run_id = 'two' ORDER BY stream"
        ).fetchall()
        history = con.execute("SELECT count(*) FROM orders_history").fetchone()
    finally:
        con.close()
    assert live == [("A-1", 1), ("A-1", 3), ("A-2", 1)]
    assert loads == [
        ("order_lines", 1, "2026-01-01", "2026-02-01", 3),
        ("order_reads", 0, "2026-01-01", "2026-02-01", 3),
        ("orders", 0, "2026-01-01", "2026-02-01", 3),
    ]
    assert history == (2,)


def test_without_settings_the_loader_names_no_bookmark_and_no_child_set(tmp_path):
    # tap-equipme's stream names, but no settings: nothing of tap-equipme is assumed.
    path = str(tmp_path / "w.duckdb")
    meta = {"properties": {"customer_id": {"type": "integer"}, "key": {"type": "string"}}}
    messages = [
        _schema("customer_metadata", meta, ["customer_id", "key"]),
        _record("customer_metadata", customer_id=1, key="a"),
        _schema(
            "customer_metadata_reads",
            {"properties": {"customer_id": {"type": "integer"}}},
            ["customer_id"],
        ),
        _record("customer_metadata_reads", customer_id=1),
        {
            "type": "STATE",
            "value": {"bookmarks": {"customers": {"replication_key_value": "2026-01-01"}}},
        },
    ]
    for run_id in ("one", "two"):
        batch = messages if run_id == "one" else messages[2:]
        body = "".join(json.dumps(m) + "\n" for m in batch).encode()
        TargetDuckdbLake(config={"path": path, "run_id": run_id}).listen(io.BytesIO(body))
    con = duckdb.connect(path, read_only=True)
    try:
        deleted = con.execute(
            "SELECT count(*) FROM customer_metadata WHERE _deleted_at IS NOT NULL"
        ).fetchone()
        bookmarks = con.execute(
            "SELECT DISTINCT bookmark_before, bookmark_after FROM _equipme_loads"
        ).fetchall()
    finally:
        con.close()
    assert deleted == (0,)
    assert bookmarks == [(None, None)]
