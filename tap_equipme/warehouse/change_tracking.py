"""Change tracking: content hashes, first seen / changed / deleted per row, SCD2 history.

Every writer (DuckDB, Parquet, DuckLake) loads through this module's SQL, so change tracking
is the same for every destination. Per run (one `run_time` for all of its rows):

- a staged row whose key is new is inserted (`_first_seen_at` = `_changed_at` = run time);
- a staged row whose content hash differs from the stored one replaces it (`_changed_at` set,
  `_first_seen_at` kept); an unchanged row is not rewritten at all (a soft-deleted one gets
  `_deleted_at` cleared: it came back). Its sighting in a full refresh's version is kept in
  a temp table instead (`sightings`), so a run in which k rows changed writes O(k) rows:
  on a lake an UPDATE of a row is a delete file plus a new copy of the whole row, and moving
  every row's `_sdc_table_version` rewrote the whole table every run. A version's soft
  deletes spare the rows sighted in it (`Sightings.absent_condition`); sightings are written to
  `_sdc_table_version` only when the source may continue the version in another process
  (`Sightings.stamp`, see `DuckDBWarehouse.before_state_commit`);
- `<stream>_history` gets one row per observed version, `_valid_from` / `_valid_to`
  (NULL: current), closed when the row changes or is deleted, never for a non-change.

The content hash is an md5 over the non-NULL data columns in name order (nested values as
JSON with null members removed), so adding a nullable property, or a field inside a STRUCT,
does not make every stored row look changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tap_equipme.warehouse.column_names import BOOKKEEPING_COLUMNS, HISTORY_COLUMNS
from tap_equipme.warehouse.json_schema import quote
from tap_equipme.warehouse.sightings import Sightings, temp_table

if TYPE_CHECKING:
    import datetime as dt

    import duckdb

HISTORY_SUFFIX = "_history"

_INCOMING = "__equipme_incoming"
_DELTA = "__equipme_delta"
_NESTED = ("STRUCT", "MAP", "[]", "JSON", "UNION")
# `"member":null` (and its comma) inside nested JSON: removed before hashing, so a new
# nullable field in a STRUCT leaves the hash of existing values unchanged.
_NULL_MEMBER = r'"[^"]*":null,?'


@dataclass
class MergeCounts:
    """What one batch did to a stream table."""

    inserted: int = 0
    updated: int = 0
    undeleted: int = 0
    unchanged: int = 0


def history_table(stream: str) -> str:
    """The name of a stream's history table: `<stream>_history`."""
    return f"{stream}{HISTORY_SUFFIX}"


def seen_table(stream: str) -> str:
    """The temp table of the keys a stream's records carried this run (see `temp_table`)."""
    return temp_table("seen", stream)


def data_columns(types: dict[str, Any]) -> list[str]:
    """Return a table's data columns (not bookkeeping), in table order.

    Args:
        types: Column name -> DuckDB type of the table.

    Returns:
        The column names.
    """
    bookkeeping = set(BOOKKEEPING_COLUMNS) | set(HISTORY_COLUMNS)
    return [name for name in types if name not in bookkeeping]


def content_hash_sql(types: dict[str, Any], alias: str = "") -> str:
    """Return the SQL expression of a row's content hash.

    Args:
        types: Data column name -> DuckDB type (of the stored table).
        alias: Table alias to qualify the columns with, if any.

    Returns:
        An md5 expression (VARCHAR) over the non-NULL columns.
    """
    prefix = f"{alias}." if alias else ""
    parts = []
    for name in sorted(types):
        column = f"{prefix}{quote(name)}"
        text = str(types[name]).upper()
        if any(marker in text for marker in _NESTED):
            value = f"regexp_replace(CAST(to_json({column}) AS VARCHAR), '{_NULL_MEMBER}', '', 'g')"
        else:
            value = f"CAST({column} AS VARCHAR)"
        label = "'" + name.replace("'", "''") + "='"
        parts.append(f"{label} || {value}")
    if not parts:
        return "md5('')"
    return f"md5(concat_ws(chr(30), {', '.join(parts)}))"


class ChangeTracker:
    """The change-tracking SQL of one warehouse connection (shared by every writer)."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        run_time: dt.datetime,
        seen_streams: set[str] | None = None,
    ) -> None:
        """Track changes on a connection.

        Args:
            con: The writer's DuckDB connection (its open transaction is used).
            run_time: This run's time: `_first_seen_at`, `_changed_at`, `_valid_from`.
            seen_streams: The streams whose keys this run must remember (`seen_table`: the
                child and "reads" streams of child sets, the only readers of those tables);
                None: every stream.
        """
        self.con = con
        self.run_time = run_time
        self.seen_streams = seen_streams
        self._seen_ready: set[str] = set()
        self.sightings = Sightings(con)
        """Unchanged rows seen in a full refresh's version (kept off the stream tables)."""

    # -- schema ---------------------------------------------------------------------------

    def backfill(self, stream: str, types: dict[str, Any]) -> None:
        """Fill the bookkeeping of rows loaded before change tracking existed.

        Args:
            stream: Stream name.
            types: The table's column types.
        """
        table = quote(stream)
        data = {n: types[n] for n in data_columns(types)}
        self.con.execute(
            f"UPDATE {table} SET _content_hash = {content_hash_sql(data)}, "
            "_first_seen_at = coalesce(_first_seen_at, _loaded_at), "
            "_changed_at = coalesce(_changed_at, _loaded_at) WHERE _content_hash IS NULL"
        )

    def history_ddl(self, stream: str, existing: dict[str, Any] | None) -> list[str]:
        """Return the statements that create or evolve `<stream>_history`.

        Args:
            stream: Stream name (its table exists, with its current columns).
            existing: The history table's column types, or None if it does not exist.

        Returns:
            SQL statements; a new history table is seeded from the stream table's rows.
        """
        from tap_equipme.warehouse.column_evolution import column_ddl

        history = quote(history_table(stream))
        table = quote(stream)
        types = self._types(stream)
        data = data_columns(types)
        if existing is None:
            cols = ", ".join(quote(n) for n in data)
            return [
                f"CREATE TABLE {history} AS SELECT {cols}, _content_hash, "
                "coalesce(_first_seen_at, _loaded_at) AS _valid_from, "
                f"_deleted_at AS _valid_to FROM {table} LIMIT 0",
                f"INSERT INTO {history} SELECT {cols}, _content_hash, "
                "coalesce(_changed_at, _loaded_at), _deleted_at FROM "
                f"{table}",
            ]
        ddl = []
        for name in data:
            if name not in existing:
                ddl.append(f"ALTER TABLE {history} ADD COLUMN {quote(name)} {types[name]}")
                continue
            # Widened columns (integer -> number) are widened in the history too.
            ddl += column_ddl(stream, history, name, existing[name], types[name])
        return ddl

    def _types(self, table: str) -> dict[str, Any]:
        relation = self.con.sql(f"SELECT * FROM {quote(table)} LIMIT 0")
        return dict(zip(relation.columns, relation.types, strict=True))

    # -- seen keys ------------------------------------------------------------------------

    def keeps_seen(self, stream: str) -> bool:
        """Whether the keys a stream's records carried this run are remembered (`seen_table`).

        Only the streams that something reads them for: a first load of a million customers
        kept a million keys (with a primary-key index) in memory for the customers listing,
        which nothing read.

        Args:
            stream: Stream name.

        Returns:
            True if the stream is one of `seen_streams` (or that is None).
        """
        return self.seen_streams is None or stream in self.seen_streams

    def _ensure_seen(self, stream: str, keys: list[str], types: dict[str, Any]) -> None:
        if stream in self._seen_ready:
            return
        defs = ", ".join(f"{quote(k)} {types[k]}" for k in keys)
        self.con.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {quote(seen_table(stream))} ({defs}, "
            f"PRIMARY KEY ({', '.join(quote(k) for k in keys)}))"
        )
        self._seen_ready.add(stream)

    def seen_exists(self, stream: str) -> bool:
        """Whether records of the stream arrived in this run (for a stream that `keeps_seen`).

        Args:
            stream: Stream name.

        Returns:
            True if the stream's seen-keys table exists.
        """
        return stream in self._seen_ready

    # -- merging --------------------------------------------------------------------------

    def merge(
        self,
        stream: str,
        select: list[str],
        names: list[str],
        keys: list[str],
        staged: str,
        version: int | None,
        loaded_at: dt.datetime,
        history: bool,
    ) -> MergeCounts:
        """Merge staged rows into the stream table (and its history) in the open transaction.

        Args:
            stream: Stream name.
            select: Per data column, the SQL expression (typed) that reads it from `staged`.
            names: The data column names, in the order of `select`.
            keys: Key properties (at least one).
            staged: The registered relation with this batch (one row per key).
            version: The records' table version, if any.
            loaded_at: Value of `_loaded_at` for written rows.
            history: Whether the stream has a history table to maintain.

        Returns:
            The counts of this batch.
        """
        con = self.con
        table = quote(stream)
        types = self._types(stream)
        data_types = {n: types[n] for n in names}
        keep_seen = self.keeps_seen(stream)
        if keep_seen:
            self._ensure_seen(stream, keys, types)
        typed = ", ".join(f"{expr} AS {quote(n)}" for expr, n in zip(select, names, strict=True))
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {_INCOMING} AS SELECT *, "
            f"{content_hash_sql(data_types)} AS _content_hash FROM (SELECT {typed} FROM {staged})"
        )
        key_cols = ", ".join(quote(k) for k in keys)
        join = " AND ".join(f"t.{quote(k)} = i.{quote(k)}" for k in keys)
        if keep_seen:
            con.execute(
                f"INSERT OR IGNORE INTO {quote(seen_table(stream))} SELECT {key_cols} "
                f"FROM {_INCOMING}"
            )
        first_key = quote(keys[0])
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {_DELTA} AS SELECT "
            + ", ".join(f"i.{quote(k)}" for k in keys)
            + f", CASE WHEN t.{first_key} IS NULL THEN 'insert' "
            "WHEN t._content_hash IS DISTINCT FROM i._content_hash THEN 'update' "
            "WHEN t._deleted_at IS NOT NULL THEN 'undelete' ELSE 'same' END AS change, "
            f"t.{first_key} IS NOT NULL AND t._deleted_at IS NOT NULL AS was_deleted, "
            "t._first_seen_at AS first_seen, "
            "t._sdc_table_version IS DISTINCT FROM ?::BIGINT AS version_moved "
            f"FROM {_INCOMING} i LEFT JOIN {table} t ON {join}",
            [version],
        )
        counts = self._counts()
        dj = " AND ".join(f"t.{quote(k)} = d.{quote(k)}" for k in keys)
        if counts.updated or counts.undeleted:
            # Bookkeeping only, for rows whose content did not change.
            con.execute(
                f"UPDATE {table} t SET _deleted_at = NULL, _sdc_table_version = ? FROM {_DELTA} d "
                f"WHERE {dj} AND d.change = 'undelete'",
                [version],
            )
        if version is not None:
            self.sightings.note(stream, keys, types, version, _DELTA)
        rewrite = "d.change IN ('insert', 'update')"
        if counts.updated or counts.undeleted:
            con.execute(
                f"DELETE FROM {table} t USING {_DELTA} d WHERE {dj} AND d.change = 'update'"
            )
        ij = " AND ".join(f"i.{quote(k)} = d.{quote(k)}" for k in keys)
        cols = [*names, "_content_hash"]
        out = [*names, "_content_hash", "_loaded_at", "_deleted_at", "_sdc_table_version"]
        out += ["_first_seen_at", "_changed_at"]
        con.execute(
            f"INSERT INTO {table} ({', '.join(quote(n) for n in out)}) SELECT "
            + ", ".join(f"i.{quote(n)}" for n in cols)
            + ", ?::TIMESTAMPTZ, NULL, ?::BIGINT, coalesce(d.first_seen, ?::TIMESTAMPTZ), "
            f"?::TIMESTAMPTZ FROM {_INCOMING} i JOIN {_DELTA} d ON {ij} WHERE {rewrite}",
            [loaded_at, version, self.run_time, self.run_time],
        )
        if history:
            self._record_history(stream, names, keys, counts)
        return counts

    def _counts(self) -> MergeCounts:
        row = self.con.execute(
            "SELECT count(*) FILTER (WHERE change = 'insert'), "
            "count(*) FILTER (WHERE change = 'update' AND NOT was_deleted), "
            "count(*) FILTER (WHERE was_deleted), "
            f"count(*) FILTER (WHERE change = 'same') FROM {_DELTA}"
        ).fetchone()
        assert row is not None
        return MergeCounts(int(row[0]), int(row[1]), int(row[2]), int(row[3]))

    def _record_history(
        self, stream: str, names: list[str], keys: list[str], counts: MergeCounts
    ) -> None:
        if not (counts.inserted or counts.updated or counts.undeleted):
            return
        con = self.con
        history = quote(history_table(stream))
        hj = " AND ".join(f"h.{quote(k)} = d.{quote(k)}" for k in keys)
        # A second change of the same row within one run replaces that run's version.
        con.execute(
            f"DELETE FROM {history} h USING {_DELTA} d WHERE {hj} AND d.change <> 'same' "
            "AND h._valid_from = ?",
            [self.run_time],
        )
        con.execute(
            f"UPDATE {history} h SET _valid_to = ? FROM {_DELTA} d WHERE {hj} "
            "AND d.change = 'update' AND h._valid_to IS NULL",
            [self.run_time],
        )
        ij = " AND ".join(f"i.{quote(k)} = d.{quote(k)}" for k in keys)
        cols = [*names, "_content_hash"]
        con.execute(
            f"INSERT INTO {history} ({', '.join(quote(n) for n in [*cols, '_valid_from'])}) "
            "SELECT " + ", ".join(f"i.{quote(n)}" for n in cols) + ", ?::TIMESTAMPTZ "
            f"FROM {_INCOMING} i JOIN {_DELTA} d ON {ij} WHERE d.change <> 'same'",
            [self.run_time],
        )

    # -- deletions ------------------------------------------------------------------------

    def soft_delete(
        self, stream: str, keys: list[str], where: str, params: list[Any], *, history: bool
    ) -> int:
        """Soft-delete the live rows matching `where` (alias `t`); close their history.

        Args:
            stream: Stream name.
            keys: Key properties.
            where: SQL condition on `t` selecting the rows to delete.
            params: Its parameters.
            history: Whether the stream has a history table to maintain.

        Returns:
            The number of rows newly marked deleted.
        """
        con = self.con
        table = quote(stream)
        key_cols = ", ".join(f"t.{quote(k)}" for k in keys)
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {_DELTA} AS SELECT {key_cols} FROM {table} t "
            f"WHERE t._deleted_at IS NULL AND ({where})",
            params,
        )
        row = con.execute(f"SELECT count(*) FROM {_DELTA}").fetchone()
        deleted = int(row[0]) if row else 0
        if not deleted:
            return 0
        dj = " AND ".join(f"t.{quote(k)} = d.{quote(k)}" for k in keys)
        con.execute(
            f"UPDATE {table} t SET _deleted_at = ? FROM {_DELTA} d WHERE {dj}", [self.run_time]
        )
        if history:
            hj = " AND ".join(f"h.{quote(k)} = d.{quote(k)}" for k in keys)
            con.execute(
                f"UPDATE {quote(history_table(stream))} h SET _valid_to = ? FROM {_DELTA} d "
                f"WHERE {hj} AND h._valid_to IS NULL",
                [self.run_time],
            )
        return deleted
