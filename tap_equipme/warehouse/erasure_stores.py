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
- DuckLake: `erasure_lake.LakeStore`.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import duckdb

from tap_equipme.warehouse.connection import connect_duckdb
from tap_equipme.warehouse.duckdb_rewrite import (
    REWRITE_SUFFIX,
    fsync_path,
    literal,
    rewrite_duckdb_file,
)
from tap_equipme.warehouse.erasure import existing_tables
from tap_equipme.warehouse.erasure_log import ERASURES_TABLE, SUPPRESSIONS_TABLE
from tap_equipme.warehouse.json_schema import quote
from tap_equipme.warehouse.load_errors import WarehouseError
from tap_equipme.warehouse.parquet_writer import KEYS_METADATA, LOCK_FILE
from tap_equipme.warehouse.suppression import (
    load_parquet_suppressions,
    publish_parquet_suppressions,
)

if TYPE_CHECKING:
    from tap_equipme.warehouse.erasure_lake import LakeStore


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
        # The suppression list through its owner (`suppression.py`); under the lock above, so
        # no load reads it half-changed (a load reads it once, holding the same lock).
        load_parquet_suppressions(self.con, self.directory)
        for name in [*tables, ERASURES_TABLE]:
            file = self._file(name)
            if not file.is_file():
                continue
            source = literal(str(file))
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
            if self._before.get(name) == self._digest(name):
                continue
            if name == SUPPRESSIONS_TABLE:
                publish_parquet_suppressions(self.con, self.directory)
            else:
                self._write(name)

    def _write(self, name: str) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=f".{name}.", suffix=".tmp")
        os.close(fd)
        options = "FORMAT parquet, COMPRESSION zstd"
        keys = self._keys.get(name)
        if keys is not None:
            options += f", KV_METADATA {{{KEYS_METADATA}: {literal(keys)}}}"
        try:
            self.con.execute(f"COPY {quote(name)} TO {literal(tmp)} ({options})")
            fsync_path(Path(tmp))
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
        from tap_equipme.warehouse.erasure_lake import LakeStore

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
