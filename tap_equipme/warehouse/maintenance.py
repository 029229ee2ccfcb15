"""Warehouse maintenance: compact and expire a DuckLake, checkpoint a DuckDB file (no source).

Every hourly load adds a few small files to a lake (O(changed rows), see `sightings`), and
DuckLake keeps every snapshot and every file any snapshot still reads, for time travel.
Nothing shrinks unless someone runs, in this order:

1. `compact`: `ducklake_merge_adjacent_files` (the small files of a table into larger ones)
   and `ducklake_rewrite_data_files` (files whose rows are mostly deleted);
2. `expire`: `ducklake_expire_snapshots` of the snapshots older than the retention; the
   snapshot in effect at the retention's start is kept, so time travel to any moment inside
   the retention still works (`AT (TIMESTAMP => ...)`);
3. `cleanup`: `ducklake_cleanup_old_files` of the files no kept snapshot reads any more
   that have been unread for longer than the grace period (default an hour). A merged file
   records the snapshot of each of its rows, so time travel reads it in place of the files
   it replaced; but a query or transaction that started before the merge still reads the
   old files, so they stay for the grace period (measured: deleting them at once broke a
   reader's open transaction). Files freed by this run therefore go at the next run.

A local catalog file then gets a checkpoint (loads leave their catalog changes in its WAL:
a checkpoint at every close rewrote the catalog tables each hourly run). A DuckDB file gets
`CHECKPOINT` (the write-ahead log into the file, free blocks reusable; loads fold the WAL in
only once it is half the file's size, see `wal.WAL_SHARE_BEFORE_CHECKPOINT`),
then, if more than `COMPACT_FREE` of its blocks are free, a rewrite into a fresh file
(`duckdb_rewrite`, atomic; like the erasure's, it needs no load holding the file). A
Parquet directory is replaced whole at every commit; only temp files a killed load left are
removed (when no load holds the directory). Dry run (the default): what would be done, with
the file and byte counts the catalog knows; nothing is changed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
from pathlib import Path
from typing import Any

import duckdb

from tap_equipme.warehouse.duckdb_rewrite import rewrite_duckdb_file
from tap_equipme.warehouse.lake import LAKE_ALIAS, LakeSettings, connect_lake
from tap_equipme.warehouse.load_errors import WarehouseError
from tap_equipme.warehouse.maintenance_report import (
    DEFAULT_GRACE,
    DEFAULT_RETENTION,
    MaintenanceReport,
    Step,
    parse_retention,
)
from tap_equipme.warehouse.wal import wal_path

_META = f"__ducklake_metadata_{LAKE_ALIAS}"
COMPACT_FREE = 0.25
"""A DuckDB file is rewritten by maintenance when more than this share of its blocks is free.
A checkpoint writes the row groups it rewrites to new blocks before it frees the old ones, so
the first checkpoint after a first load grew a 5.1 MB file to 9.0 MB (benchmark 8); DuckDB
reuses free blocks but never returns them."""
PARQUET_LOCK_FILE = ".equipme.lock"


# -- DuckLake ---------------------------------------------------------------------------------


def _lake_files(con: duckdb.DuckDBPyConnection) -> dict[str, int | None]:
    """Files on storage (live, kept for time travel, scheduled for deletion), bytes, snapshots."""
    row = con.execute(
        f"SELECT count(*), count(*) FILTER (WHERE end_snapshot IS NULL), "
        f"coalesce(sum(file_size_bytes), 0) FROM (SELECT file_size_bytes, end_snapshot "
        f"FROM {_META}.ducklake_data_file UNION ALL SELECT file_size_bytes, end_snapshot FROM "
        f"{_META}.ducklake_delete_file)"
    ).fetchone()
    scheduled = _scalar(con, f"SELECT count(*) FROM {_META}.ducklake_files_scheduled_for_deletion")
    tracked = int(row[0]) if row else 0
    return {
        "files": tracked + scheduled,
        "live_files": int(row[1]) if row else 0,
        "scheduled_files": scheduled,
        "bytes": int(row[2]) if row else 0,
        "snapshots": _scalar(con, f"SELECT count(*) FROM {LAKE_ALIAS}.snapshots()"),
    }


def _scalar(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> int:
    row = con.execute(sql, params or []).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def _compaction_plan(con: duckdb.DuckDBPyConnection) -> Step:
    """Per table, the live data files smaller than the target size (what a merge takes)."""
    rows = con.execute(
        f"SELECT s.schema_name, t.table_name, count(*), sum(f.file_size_bytes) "
        f"FROM {_META}.ducklake_data_file f JOIN {_META}.ducklake_table t USING (table_id) "
        f"JOIN {_META}.ducklake_schema s USING (schema_id) "
        "WHERE f.end_snapshot IS NULL AND t.end_snapshot IS NULL AND s.end_snapshot IS NULL "
        f"AND NOT EXISTS (SELECT 1 FROM {_META}.ducklake_delete_file d WHERE d.data_file_id = "
        "f.data_file_id AND d.end_snapshot IS NULL) GROUP BY ALL HAVING count(*) > 1 ORDER BY ALL"
    ).fetchall()
    step = Step("compact", "merge the small files of each table")
    for schema, table, files, size in rows:
        step.files += int(files)
        step.bytes = (step.bytes or 0) + int(size)
        step.details.append(f"{schema}.{table}: {files} files, {int(size):,} bytes into one")
    if not rows:
        step.summary = "nothing to merge"
    return step


def _compact(con: duckdb.DuckDBPyConnection, step: Step) -> None:
    merged = con.execute(f"CALL ducklake_merge_adjacent_files('{LAKE_ALIAS}')").fetchall()
    rewritten = con.execute(f"CALL ducklake_rewrite_data_files('{LAKE_ALIAS}')").fetchall()
    step.details = [
        f"{schema}.{table}: {done} files {how} into {created}"
        for how, rows in (("merged", merged), ("rewritten (mostly deleted rows)", rewritten))
        for schema, table, done, created in rows
    ]
    step.files = sum(int(r[2]) for r in [*merged, *rewritten])
    step.summary = "merged" if step.files else "nothing to merge"
    if not step.files:
        step.bytes = 0


def _checkpoint_catalog(con: duckdb.DuckDBPyConnection, catalog: Path, *, apply: bool) -> Step:
    """A local catalog file: its WAL into the file (loads leave it there, see `lake`)."""
    wal = wal_path(catalog)
    wal_bytes = wal.stat().st_size if wal.exists() else 0
    step = Step("checkpoint", "write the catalog's write-ahead log into the catalog file")
    step.files, step.bytes = (1, wal_bytes) if wal_bytes else (0, 0)
    if apply:
        con.execute(f"CHECKPOINT {_META}")
    return step


def _expiry_cutoff(
    con: duckdb.DuckDBPyConnection, now: dt.datetime, retention: dt.timedelta
) -> Any:
    """The time before which snapshots expire: the one in effect at `now - retention` stays."""
    start = now - retention
    row = con.execute(
        f"SELECT max(snapshot_time) FROM {LAKE_ALIAS}.snapshots() WHERE snapshot_time <= ?",
        [start],
    ).fetchone()
    return row[0] if row and row[0] is not None else start


def _freed_by_expiry(con: duckdb.DuckDBPyConnection, expiring: list[int]) -> tuple[int, int]:
    """Files only the expiring snapshots read (cleanup deletes them after the expiry)."""
    if not expiring:
        return 0, 0
    kept = _scalar(
        con,
        f"SELECT min(snapshot_id) FROM {LAKE_ALIAS}.snapshots() WHERE NOT list_contains(?, "
        "snapshot_id)",
        [expiring],
    )
    row = con.execute(
        f"SELECT count(*), coalesce(sum(file_size_bytes), 0) FROM (SELECT file_size_bytes, "
        f"end_snapshot FROM {_META}.ducklake_data_file UNION ALL SELECT file_size_bytes, "
        f"end_snapshot FROM {_META}.ducklake_delete_file) WHERE end_snapshot <= ?",
        [kept],
    ).fetchone()
    return (int(row[0]), int(row[1])) if row else (0, 0)


def maintain_lake(
    lake: LakeSettings,
    retention: dt.timedelta,
    *,
    apply: bool = False,
    grace: dt.timedelta | None = None,
    now: dt.datetime | None = None,
) -> MaintenanceReport:
    """Compact, expire and clean up a DuckLake (dry run unless `apply`).

    Args:
        lake: The lake.
        retention: How long snapshots stay readable by time travel.
        apply: Do it; otherwise only report what would be done.
        grace: How long a file no kept snapshot reads stays for queries already running
            (default `DEFAULT_GRACE`).
        now: The current time (tests).

    Returns:
        The report.

    Raises:
        WarehouseError: If a step fails (the message names it; earlier steps stay done).
    """
    now = now or dt.datetime.now(dt.timezone.utc)
    report = MaintenanceReport("ducklake", lake.describe(), apply, int(retention.total_seconds()))
    con = connect_lake(lake, read_only=not apply)
    step_name = "inspect"
    try:
        report.before = _lake_files(con)
        step_name = "compact"
        compact = _compaction_plan(con)
        if apply:
            _compact(con, compact)
        report.steps.append(compact)
        step_name = "expire"
        cutoff = _expiry_cutoff(con, now, retention)
        expiring = [
            int(r[0])
            for r in con.execute(
                f"CALL ducklake_expire_snapshots('{LAKE_ALIAS}', dry_run => true, older_than => ?)",
                [cutoff],
            ).fetchall()
        ]
        freed, freed_bytes = _freed_by_expiry(con, expiring)
        expire = Step(
            "expire",
            f"expire {len(expiring)} snapshots older than {cutoff}",
            freed,
            freed_bytes,
        )
        if expiring:
            expire.details.append(f"snapshots {min(expiring)} to {max(expiring)}")
        if apply and expiring:
            con.execute(
                f"CALL ducklake_expire_snapshots('{LAKE_ALIAS}', older_than => ?)", [cutoff]
            ).fetchall()
        report.steps.append(expire)
        step_name = "cleanup"
        grace = parse_retention(DEFAULT_GRACE) if grace is None else grace
        unread_since = dt.datetime.now(dt.timezone.utc) - grace
        scheduled = [
            str(r[0])
            for r in con.execute(
                f"CALL ducklake_cleanup_old_files('{LAKE_ALIAS}', dry_run => true, "
                "older_than => ?)",
                [unread_since],
            ).fetchall()
        ]
        cleanup = Step(
            "cleanup",
            f"delete the files no kept snapshot reads, unread for {grace} or more",
            len(scheduled),
            None,
        )
        if not apply and not grace:
            # Compaction and expiry have not happened: the files they free are not
            # scheduled yet; without a grace period this run would delete them too.
            cleanup.files += freed + compact.files
            cleanup.summary += " (with those compaction and expiry would free)"
        cleanup.details = [Path(p).name for p in scheduled]
        if apply and scheduled:
            con.execute(
                f"CALL ducklake_cleanup_old_files('{LAKE_ALIAS}', older_than => ?)",
                [unread_since],
            ).fetchall()
        report.steps.append(cleanup)
        step_name = "checkpoint"
        if not lake.uses_postgres:
            report.steps.append(_checkpoint_catalog(con, Path(lake.catalog), apply=apply))
        report.after = _lake_files(con) if apply else {}
    except duckdb.Error as exc:
        msg = f"Maintenance of the {lake.describe()}, step {step_name!r}, failed: {exc}"
        raise WarehouseError(msg) from exc
    finally:
        con.close()
    return report


# -- DuckDB file and Parquet directory ----------------------------------------------------


def _file_sizes(path: Path) -> dict[str, int | None]:
    wal = wal_path(path)
    files = [p for p in (path, wal) if p.exists()]
    return {"files": len(files), "bytes": sum(p.stat().st_size for p in files)}


def maintain_duckdb(path: str | os.PathLike[str], *, apply: bool = False) -> MaintenanceReport:
    """`CHECKPOINT` a DuckDB file (dry run unless `apply`): the WAL into the file.

    Args:
        path: The DuckDB file.
        apply: Do it.

    Returns:
        The report.

    Raises:
        WarehouseError: If the file is missing or locked by a running load.
    """
    location = Path(path)
    if not location.is_file():
        msg = f"Setting 'path': there is no DuckDB file at {str(location)!r}."
        raise WarehouseError(msg)
    report = MaintenanceReport("duckdb", str(location), apply, None)
    report.before = _file_sizes(location)
    try:
        con = duckdb.connect(str(location), read_only=not apply)
    except duckdb.Error as exc:
        msg = f"Cannot open the DuckDB file {str(location)!r} (a load running?): {exc}"
        raise WarehouseError(msg) from exc
    try:
        size = con.execute("PRAGMA database_size").fetchone()
        wal = wal_path(location)
        step = Step(
            "checkpoint",
            "write the write-ahead log into the file",
            1 if wal.exists() else 0,
            wal.stat().st_size if wal.exists() else 0,
        )
        if size:
            # PRAGMA database_size: name, size, block size, total, used, free blocks, ...
            step.details.append(f"blocks used {size[4]:,}, free {size[5]:,} (reused by loads)")
        if apply:
            con.execute("FORCE CHECKPOINT")
            size = con.execute("PRAGMA database_size").fetchone()
        report.steps.append(step)
    finally:
        con.close()
    report.steps.append(_rewrite_plan(size))
    if apply and report.steps[-1].files:
        rewrite_duckdb_file(location)
    report.after = _file_sizes(location) if apply else {}
    return report


def _rewrite_plan(size: Any) -> Step:
    """Whether the checkpointed file has enough free blocks to be rewritten (`COMPACT_FREE`)."""
    step = Step("rewrite", "rewrite the file without its free blocks")
    block, total, free = (int(size[2]), int(size[3]), int(size[5])) if size else (0, 0, 0)
    step.details.append(f"free blocks {free:,} of {total:,} ({free * block:,} bytes)")
    if total and free > COMPACT_FREE * total:
        step.files, step.bytes = 1, free * block
    else:
        step.summary = f"not needed (free blocks at most {COMPACT_FREE:.0%} of the file)"
    return step


def maintain_parquet(path: str | os.PathLike[str], *, apply: bool = False) -> MaintenanceReport:
    """Remove the temp files a killed load left in a Parquet directory (none while loading).

    Args:
        path: The Parquet directory.
        apply: Do it.

    Returns:
        The report.

    Raises:
        WarehouseError: If the directory is missing or a load holds it.
    """
    directory = Path(path)
    if not directory.is_dir():
        msg = f"Setting 'path': there is no Parquet directory at {str(directory)!r}."
        raise WarehouseError(msg)
    report = MaintenanceReport("parquet", str(directory), apply, None)
    files = [p for p in directory.iterdir() if p.is_file()]
    report.before = {"files": len(files), "bytes": sum(p.stat().st_size for p in files)}
    with (directory / PARQUET_LOCK_FILE).open("a") as lock:
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            msg = f"The Parquet directory {str(directory)!r} is held by a running load."
            raise WarehouseError(msg) from exc
        leftovers = sorted(p for p in directory.glob(".*.tmp") if p.is_file())
        step = Step(
            "cleanup",
            "delete temp files of killed loads (every table file is replaced whole, no old "
            "versions are kept)",
            len(leftovers),
            sum(p.stat().st_size for p in leftovers),
            [p.name for p in leftovers],
        )
        if apply:
            for leftover in leftovers:
                with contextlib.suppress(FileNotFoundError):
                    leftover.unlink()
        report.steps.append(step)
    if apply:
        files = [p for p in directory.iterdir() if p.is_file()]
        report.after = {"files": len(files), "bytes": sum(p.stat().st_size for p in files)}
    return report


__all__ = [
    "DEFAULT_GRACE",
    "DEFAULT_RETENTION",
    "MaintenanceReport",
    "Step",
    "maintain_duckdb",
    "maintain_lake",
    "maintain_parquet",
    "parse_retention",
]
