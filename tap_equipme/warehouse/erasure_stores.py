"""Where an erasure runs and how each destination forgets the old bytes afterwards.

One store per destination, the same small interface (`con`, `begin`, `commit`, `purge`,
`close`), so `erasure_run` has no destination branches:

- DuckDB file: the erasure is one transaction; `purge` then rewrites the whole file (`COPY
  FROM DATABASE` into a fresh file beside it, fsync, `os.replace`). An UPDATE leaves the old
  values in the file's free blocks (and CHECKPOINT / VACUUM do not overwrite them); the fresh
  file holds only live blocks.
- Parquet directory: the tables are loaded into a private in-memory DuckDB under the
  directory's load lock; `commit` writes the bookkeeping files first, then each changed table
  file through a temp file and `os.replace`; `purge` removes temp files a crashed load left.
- DuckLake: the erasure is one lake transaction (a new snapshot); `purge` rewrites every data
  file with deleted rows, expires every older snapshot, deletes the files no snapshot needs,
  and rewrites a local catalog file like a DuckDB file (a PostgreSQL catalog is vacuumed).
  Time travel then starts at the erasure.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from pathlib import Path
from typing import IO, Any

import duckdb

from tap_equipme.warehouse.connection import connect_duckdb, utc_now
from tap_equipme.warehouse.erasure import ERASURES_TABLE, SUPPRESSIONS_TABLE, existing_tables
from tap_equipme.warehouse.json_schema import quote
from tap_equipme.warehouse.load_errors import WarehouseError
from tap_equipme.warehouse.parquet_writer import KEYS_METADATA, LOCK_FILE

REWRITE_SUFFIX = ".erase-rewrite"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _fsync(path: Path) -> None:
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
    for stale in (fresh, fresh.with_name(fresh.name + ".wal")):
        stale.unlink(missing_ok=True)
    con = duckdb.connect()
    try:
        con.execute(f"ATTACH {_literal(str(path))} AS erase_src (READ_ONLY)")
        con.execute(f"ATTACH {_literal(str(fresh))} AS erase_dst")
        con.execute("COPY FROM DATABASE erase_src TO erase_dst")
        con.execute("DETACH erase_dst")
        con.execute("DETACH erase_src")
    finally:
        con.close()
    _fsync(fresh)
    os.replace(fresh, path)
    _fsync(path.parent)


class DuckDBFileStore:
    """A DuckDB warehouse file."""

    def __init__(self, path: str | os.PathLike[str], *, apply: bool) -> None:
        """Open the file (read-only for a dry run).

        Args:
            path: The DuckDB file.
            apply: Whether the erasure writes.

        Raises:
            WarehouseError: If the file does not exist or cannot be opened.
        """
        self.path = Path(path)
        if not self.path.is_file():
            msg = f"Setting 'path': no DuckDB warehouse at {str(path)!r}."
            raise WarehouseError(msg)
        self.path.with_name(self.path.name + REWRITE_SUFFIX).unlink(missing_ok=True)
        self.con = connect_duckdb(str(self.path), read_only=not apply)

    def begin(self) -> None:
        """Start the erasure's transaction."""
        self.con.execute("BEGIN TRANSACTION")

    def commit(self) -> None:
        """Commit it."""
        self.con.execute("COMMIT")

    def purge(self) -> tuple[str, str | None]:
        """Rewrite the file so no free block keeps an erased value; reopen it.

        Returns:
            What was done, and None (a DuckDB file has no time travel).
        """
        self.con.execute("CHECKPOINT")
        self.con.close()
        rewrite_duckdb_file(self.path)
        self.con = connect_duckdb(str(self.path))
        return f"rewrote the DuckDB file {self.path.name} (no free blocks left)", None

    def describe_purge(self) -> str:
        """What `purge` would do.

        Returns:
            A sentence.
        """
        return f"would rewrite the DuckDB file {self.path.name} into a fresh file"

    def close(self) -> None:
        """Close the connection."""
        self.con.close()


class ParquetStore:
    """A Parquet directory: tables staged in memory, written back file by file."""

    def __init__(self, path: str | os.PathLike[str], tables: list[str], *, apply: bool) -> None:
        """Lock the directory and load the tables that exist (and the bookkeeping files).

        Args:
            path: The Parquet directory.
            tables: The tables the erasure may touch.
            apply: Whether the erasure writes.

        Raises:
            WarehouseError: If the directory is missing or a load holds its lock.
        """
        self.directory = Path(path)
        if not self.directory.is_dir():
            msg = f"Setting 'path': no Parquet warehouse (directory) at {str(path)!r}."
            raise WarehouseError(msg)
        self.apply = apply
        self._lock: IO[str] | None = None
        if apply:
            self._lock = (self.directory / LOCK_FILE).open("w")
            try:
                fcntl.flock(self._lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                self._lock.close()
                msg = (
                    f"Setting 'path': the Parquet directory {str(path)!r} is locked by a load. "
                    "Run the erasure when it has finished; nothing was changed."
                )
                raise WarehouseError(msg) from exc
        self.con = duckdb.connect()
        self.con.execute("SET TimeZone = 'UTC'")
        self._keys: dict[str, str | None] = {}
        self._before: dict[str, str] = {}
        for name in [*tables, ERASURES_TABLE, SUPPRESSIONS_TABLE]:
            file = self._file(name)
            if not file.is_file():
                continue
            source = _literal(str(file))
            self.con.execute(f"CREATE TABLE {quote(name)} AS SELECT * FROM read_parquet({source})")
            rows = self.con.execute(
                f"SELECT value FROM parquet_kv_metadata({source}) WHERE key = ?",
                [KEYS_METADATA.encode()],
            ).fetchall()
            self._keys[name] = bytes(rows[0][0]).decode() if rows else None

    def _file(self, name: str) -> Path:
        return self.directory / f"{name}.parquet"

    def _digest(self, name: str) -> str:
        row = self.con.execute(
            f"SELECT count(*), bit_xor(hash(t)) FROM {quote(name)} AS t"
        ).fetchone()
        return repr(row)

    def begin(self) -> None:
        """Remember each table's contents, to write back only the changed ones."""
        self._before = {name: self._digest(name) for name in existing_tables(self.con)}

    def commit(self) -> None:
        """Write the changed tables: the log and suppression list first, then the data."""
        present = existing_tables(self.con)
        first = [t for t in (SUPPRESSIONS_TABLE, ERASURES_TABLE) if t in present]
        for name in [*first, *sorted(present - set(first))]:
            if self._before.get(name) != self._digest(name):
                self._write(name)

    def _write(self, name: str) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=f".{name}.", suffix=".tmp")
        os.close(fd)
        options = "FORMAT parquet, COMPRESSION zstd"
        keys = self._keys.get(name)
        if keys is not None:
            options += f", KV_METADATA {{{KEYS_METADATA}: {_literal(keys)}}}"
        try:
            self.con.execute(f"COPY {quote(name)} TO {_literal(tmp)} ({options})")
            _fsync(Path(tmp))
            os.replace(tmp, self._file(name))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def purge(self) -> tuple[str, str | None]:
        """Remove temp files crashed loads or erasures left (they may hold old rows).

        Returns:
            What was done, and None (no time travel in a Parquet directory).
        """
        stale = [p for p in self.directory.glob(".*.tmp") if p.is_file()]
        for path in stale:
            path.unlink(missing_ok=True)
        return f"rewrote the changed files; removed {len(stale)} stale temp file(s)", None

    def describe_purge(self) -> str:
        """What `purge` would do.

        Returns:
            A sentence.
        """
        return "would rewrite each changed Parquet file (temp file + rename)"

    def close(self) -> None:
        """Close the staging database and release the lock."""
        self.con.close()
        if self._lock is not None:
            self._lock.close()
            self._lock = None


class LakeStore:
    """A DuckLake: catalog plus data files."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        tables: list[str],
        lake: dict[str, Any] | None,
        *,
        apply: bool,
    ) -> None:
        """Attach the lake (read-only for a dry run).

        Args:
            path: The catalog.
            tables: The tables the erasure may touch (their files are rewritten).
            lake: The `lake_*` / `s3_*` settings.
            apply: Whether the erasure writes.
        """
        from tap_equipme.warehouse.lake import connect_lake, lake_settings

        self.tables = tables
        self.settings = lake_settings(str(path), lake or {})
        self.apply = apply
        self.started = utc_now()
        self.con = connect_lake(self.settings, read_only=not apply)

    def begin(self) -> None:
        """Start the erasure's lake transaction (one snapshot)."""
        self.con.execute("BEGIN TRANSACTION")

    def commit(self) -> None:
        """Commit it."""
        self.con.execute("COMMIT")

    def _earliest(self) -> tuple[Any, Any]:
        row = self.con.execute(
            "SELECT snapshot_id, snapshot_time FROM lake.snapshots() ORDER BY snapshot_id LIMIT 1"
        ).fetchone()
        assert row is not None
        return row[0], row[1]

    def purge(self) -> tuple[str, str | None]:
        """Rewrite files with deleted rows, expire older snapshots, delete unneeded files.

        Returns:
            What was done, and how far time travel reaches now.
        """
        from tap_equipme.warehouse.lake import LAKE_ALIAS

        con = self.con
        alias = _literal(LAKE_ALIAS)
        schema = _literal(self.settings.schema)
        # Table by table (only these changed): with DuckLake 1.5.5 a catalog-wide flush
        # followed by rewrites fails ("DuckLakeCompactor: failed to find table entry for
        # given snapshot id"); flushing each table's inlined rows right before its rewrite
        # does not.
        touched = sorted(set(self.tables) & existing_tables(con))
        for table in touched:
            name = _literal(table)
            con.execute(
                f"CALL ducklake_flush_inlined_data({alias}, table_name => {name}, "
                f"schema_name => {schema})"
            )
            con.execute(
                f"CALL ducklake_rewrite_data_files({alias}, {name}, schema => {schema}, "
                "delete_threshold => 0)"
            )
        row = con.execute("SELECT max(snapshot_time) FROM lake.snapshots()").fetchone()
        assert row is not None
        expired = con.execute(
            f"CALL ducklake_expire_snapshots({alias}, older_than => ?)", [row[0]]
        ).fetchall()
        self._refresh_table_stats(touched)
        removed = con.execute(
            f"CALL ducklake_cleanup_old_files({alias}, cleanup_all => true)"
        ).fetchall()
        # Orphans (files of crashed loads) older than this erasure; newer ones may belong to a
        # load committing right now.
        orphans = con.execute(
            f"CALL ducklake_delete_orphaned_files({alias}, older_than => ?)", [self.started]
        ).fetchall()
        snapshot, since = self._earliest()
        done = (
            f"rewrote the data files of {len(touched)} table(s), expired {len(expired)} "
            f"snapshot(s), deleted {len(removed) + len(orphans)} file(s)"
        )
        done += self._purge_catalog()
        travel = f"time travel now reaches back to snapshot {snapshot} ({since.isoformat()})"
        return done, travel

    def _refresh_table_stats(self, tables: list[str]) -> None:
        """Recompute the touched tables' text min/max statistics from their live files.

        DuckLake keeps a table-level min/max per column in the catalog and never narrows it
        when rows go: the erased email can be a table's `min_value`. The live files' own
        statistics (all rewritten or written after the erasure) are clean; text compares the
        same in SQL as in the stats, so their min/max is the table's.
        """
        from tap_equipme.warehouse.lake import LAKE_ALIAS

        meta = f"__ducklake_metadata_{LAKE_ALIAS}"
        if not tables:
            return
        live_stats = (
            f"SELECT {{}}(fs.{{}}) FROM {meta}.ducklake_file_column_stats fs "
            f"JOIN {meta}.ducklake_data_file d ON d.data_file_id = fs.data_file_id "
            "WHERE d.end_snapshot IS NULL AND fs.table_id = s.table_id "
            "AND fs.column_id = s.column_id"
        )
        self.con.execute(
            f"UPDATE {meta}.ducklake_table_column_stats s SET "
            f"min_value = ({live_stats.format('min', 'min_value')}), "
            f"max_value = ({live_stats.format('max', 'max_value')}) "
            f"WHERE s.column_id IN (SELECT column_id FROM {meta}.ducklake_column "
            "WHERE column_type = 'varchar' AND end_snapshot IS NULL) "
            f"AND s.table_id IN (SELECT t.table_id FROM {meta}.ducklake_table t "
            f"JOIN {meta}.ducklake_schema sc ON sc.schema_id = t.schema_id "
            "WHERE t.end_snapshot IS NULL AND sc.end_snapshot IS NULL "
            "AND sc.schema_name = ? AND t.table_name IN (SELECT unnest(?::VARCHAR[])))",
            [self.settings.schema, tables],
        )

    def _purge_catalog(self) -> str:
        """Rid the catalog's own storage of expired rows (inlined data, statistics)."""
        from tap_equipme.warehouse.lake import connect_lake

        if self.settings.uses_postgres:
            return self._vacuum_postgres()
        self.con.execute("USE memory")
        self.con.execute("DETACH lake")
        self.con.close()
        rewrite_duckdb_file(Path(self.settings.catalog))
        self.con = connect_lake(self.settings)
        return "; rewrote the catalog file"

    def _vacuum_postgres(self) -> str:
        """VACUUM FULL the catalog database: dead rows of expired snapshots leave its pages."""
        conninfo = self.settings.catalog.split(":", 1)[1]
        try:
            self.con.execute(f"ATTACH {_literal(conninfo)} AS erase_pg (TYPE postgres)")
            try:
                self.con.execute("CALL postgres_execute('erase_pg', 'VACUUM FULL')")
            finally:
                with contextlib.suppress(duckdb.Error):
                    self.con.execute("DETACH erase_pg")
        except duckdb.Error as exc:
            first = str(exc).splitlines()[0][:200]
            return f"; could not VACUUM FULL the PostgreSQL catalog ({first}): run it there"
        return "; vacuumed the PostgreSQL catalog (VACUUM FULL)"

    def describe_purge(self) -> str:
        """What `purge` would do.

        Returns:
            A sentence.
        """
        snapshot, since = self._earliest()
        return (
            "would rewrite the lake's data files with deleted rows, expire every snapshot "
            f"before the erasure (time travel reaches back to snapshot {snapshot}, "
            f"{since.isoformat()}, today) and delete the files only they used"
        )

    def close(self) -> None:
        """Close the connection."""
        self.con.close()


def open_store(
    destination: str,
    path: str | os.PathLike[str],
    tables: list[str],
    *,
    apply: bool,
    lake: dict[str, Any] | None = None,
) -> DuckDBFileStore | ParquetStore | LakeStore:
    """Open the store of a destination.

    Args:
        destination: `duckdb`, `parquet` or `ducklake`.
        path: The warehouse.
        tables: The tables (with their histories) the erasure may touch.
        apply: Whether the erasure writes.
        lake: Destination `ducklake`: its settings.

    Returns:
        The store.
    """
    if destination == "parquet":
        return ParquetStore(path, tables, apply=apply)
    if destination == "ducklake":
        return LakeStore(path, tables, lake, apply=apply)
    return DuckDBFileStore(path, apply=apply)


def storage_json(text: str, travel: str | None) -> str:
    """The log's `storage` text: what the purge did and the time-travel horizon.

    Args:
        text: What was done.
        travel: The time-travel sentence, if any.

    Returns:
        JSON text.
    """
    return json.dumps({"purge": text, "time_travel": travel})
