"""The floor of target-duckdb-lake's own design: Arrow parse + DuckDB insert, nothing else.

Usage: ``python arrow_duckdb_floor.py DATABASE MESSAGES`` (a Singer message file, one stream).
No singer-sdk, no upsert, no bookkeeping: RECORD lines are batched as bytes (50,000 per
batch), each batch is parsed by Arrow against the stream's columns and appended to a DuckDB
table on a second thread while the next batch is parsed, in one transaction. Whatever
target-duckdb-lake adds on top of this (Singer framework start-up, upserts by key, state and load
rows) shows as the gap between the two in the load benchmark.
"""

from __future__ import annotations

import json
import queue
import sys
import threading

import duckdb
import pyarrow as pa

from tap_equipme.warehouse.arrow import Column, columns_for, parse_schema, quote, records_to_arrow

BATCH_ROWS = 50_000


def main() -> int:
    database, messages = sys.argv[1], sys.argv[2]
    pa.set_memory_pool(pa.system_memory_pool())
    connection = duckdb.connect(database)
    batches: queue.Queue[pa.Table | None] = queue.Queue(maxsize=1)
    columns: list[Column] = []
    table = ""

    def insert_batches() -> None:
        connection.execute("BEGIN")
        while (batch := batches.get()) is not None:
            names = ", ".join(quote(c.name) for c in columns)
            connection.register("batch", batch)
            connection.execute(f"INSERT INTO {table} SELECT {names} FROM batch")
            connection.unregister("batch")
        connection.execute("COMMIT")

    inserter = threading.Thread(target=insert_batches)
    pending = bytearray()
    rows = 0
    with open(messages, "rb") as lines:
        for line in lines:
            if line.startswith(b'{"type":"RECORD"'):
                pending += line
                rows += 1
                if rows == BATCH_ROWS:
                    batches.put(records_to_arrow(pending, parse_schema(columns))[0])
                    pending, rows = bytearray(), 0
                continue
            message = json.loads(line)
            if message["type"] == "SCHEMA" and not columns:
                columns = columns_for(message["schema"], message["key_properties"])
                table = quote(message["stream"])
                ddl = ", ".join(f"{quote(c.name)} {c.type.duckdb}" for c in columns)
                connection.execute(f"CREATE TABLE {table} ({ddl})")
                inserter.start()
    if rows:
        batches.put(records_to_arrow(pending, parse_schema(columns))[0])
    batches.put(None)
    inserter.join()
    connection.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
