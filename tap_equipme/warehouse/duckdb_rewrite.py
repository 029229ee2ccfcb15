"""Rewriting a DuckDB file into a fresh one: only live blocks, nothing in free blocks.

An UPDATE or DELETE leaves the old values in the file's free blocks (CHECKPOINT and VACUUM
do not overwrite them; tests/pipeline/test_erase.py shows it). `COPY FROM DATABASE` into a new
file writes only the live tables, views, constraints and sequences; the new file replaces the
old one atomically.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

from tap_equipme.warehouse.wal import wal_path

REWRITE_SUFFIX = ".erase-rewrite"


def literal(text: str) -> str:
    """Quote an SQL string literal.

    Args:
        text: The text.

    Returns:
        The literal.
    """
    return "'" + text.replace("'", "''") + "'"


def fsync_path(path: Path) -> None:
    """Flush a file (or directory) to disk.

    Args:
        path: The file or directory.
    """
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def rewrite_duckdb_file(path: Path) -> None:
    """Replace a (closed) DuckDB file by a fresh copy of its live contents, atomically.

    A crash leaves either the old file or the new one, and at most a stale
    `<file>.erase-rewrite` that the next run removes.

    Args:
        path: The DuckDB file (no connection may hold it).
    """
    fresh = path.with_name(path.name + REWRITE_SUFFIX)
    for stale in (fresh, wal_path(fresh)):
        stale.unlink(missing_ok=True)
    if wal_path(path).exists():
        # Loads leave small runs' changes in the WAL (`duckdb_session`). Folded in first:
        # a WAL left beside the fresh file would be replayed onto it.
        with duckdb.connect(str(path)) as folding:
            folding.execute("CHECKPOINT")
    con = duckdb.connect()
    try:
        con.execute(f"ATTACH {literal(str(path))} AS erase_src (READ_ONLY)")
        con.execute(f"ATTACH {literal(str(fresh))} AS erase_dst")
        con.execute("COPY FROM DATABASE erase_src TO erase_dst")
        con.execute("DETACH erase_dst")
        con.execute("DETACH erase_src")
    finally:
        con.close()
    fsync_path(fresh)
    os.replace(fresh, path)
    fsync_path(path.parent)
