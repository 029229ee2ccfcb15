"""Searching every output channel of a run for a secret."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import duckdb


def files_containing(secret: str, roots: Iterable[Path]) -> list[str]:
    """Files under `roots` whose raw bytes contain the secret (as UTF-8 or UTF-16).

    Compressed formats (Parquet pages, DuckDB blocks) can hide a secret from a byte search:
    their columns are searched by `parquet_columns_containing` and
    `duckdb_columns_containing`.
    """
    needles = {secret.encode(), secret.encode("utf-16-le")}
    hits = []
    for root in roots:
        paths = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in paths:
            try:
                data = path.read_bytes()
            except OSError:
                continue
            if any(needle in data for needle in needles):
                hits.append(str(path))
    return hits


def duckdb_columns_containing(secret: str, path: Path) -> list[str]:
    """`table.column` of every text-like column (VARCHAR, JSON, structs as text) holding it."""
    if not path.is_file():  # a Parquet lake is a directory: its files are searched apart
        return []
    con = duckdb.connect(str(path), read_only=True)
    try:
        columns = con.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'main'"
        ).fetchall()
        hits = []
        for table, column in columns:
            found = con.execute(
                f'SELECT count(*) FROM "{table}" WHERE CAST("{column}" AS VARCHAR) LIKE ?',
                [f"%{secret}%"],
            ).fetchall()
            if found[0][0]:
                hits.append(f"{table}.{column}")
        return hits
    finally:
        con.close()


def parquet_columns_containing(secret: str, roots: Iterable[Path]) -> list[str]:
    """`file:column` of Parquet columns holding the secret (the raw bytes may be compressed)."""
    import pyarrow.parquet as pq

    hits = []
    for root in roots:
        paths = [root] if root.is_file() else sorted(root.rglob("*.parquet"))
        for path in paths:
            table = pq.read_table(path)
            for name in table.column_names:
                values = table.column(name).to_pylist()
                if any(secret in repr(value) for value in values):
                    hits.append(f"{path}:{name}")
    return hits


def lake_containing(secret: str, catalog_dump: str, data_files: Path) -> list[str]:
    """Where a DuckLake holds the secret: its catalog or its data files.

    Args:
        secret: The secret.
        catalog_dump: Every row of every catalog table as text (small tables' rows are
            inlined there, not written to Parquet).
        data_files: A local copy of the data path (raw bytes and Parquet columns are searched).

    Returns:
        `catalog`, `file <path>` or `parquet <path>:<column>` for each hit.
    """
    found = text_hits(secret, {"catalog": catalog_dump})
    found += [f"file {f}" for f in files_containing(secret, [data_files])]
    found += [f"parquet {c}" for c in parquet_columns_containing(secret, [data_files])]
    return found


def text_hits(secret: str, channels: dict[str, str]) -> list[str]:
    """Names of the text channels (stdout, stderr, logs) that contain the secret."""
    return [name for name, text in channels.items() if secret in text]
