"""Erasing rows by key from a table and its history: the SQL, the log and the suppression list.

Generic mechanics, no stream knowledge: a caller names, per table, the key column, the action
(`blank` the given fields, nested ones as dotted paths, or `delete` the rows) and the key
values (as text). The same SQL runs on every destination: on a DuckDB file, on a lake attached
with its schema as the default, and on a Parquet directory's tables loaded into a private
in-memory database (`erasure_stores`). Every changed row gets its `_content_hash` recomputed,
so the hash of an erased row reveals nothing about the erased values and the next load of the
same (suppressed) record is not seen as a change.

Two bookkeeping tables go with the data, in the same transaction where the destination has one:

- `_equipme_erasures`: one row per request: id, times, status (`pending` until the storage is
  purged, then `complete`), what matched (key values and per-table row counts, never the
  erased values), an optional keyed digest of the subject (never the subject in clear);
- `_equipme_suppressions (stream, key_column, key_value, request_id, added_at)`: rows of
  `stream` whose `key_column` equals `key_value` (as text) land with personal fields blanked.
  Its one owner is `suppression.py` (the loader reads the list through it); the erasure adds
  and removes entries only through its functions.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from tap_equipme.warehouse.change_tracking import content_hash_sql, data_columns, history_table
from tap_equipme.warehouse.json_schema import quote
from tap_equipme.warehouse.suppression import SUPPRESSIONS_TABLE as SUPPRESSIONS_TABLE  # re-export
from tap_equipme.warehouse.suppression import (
    Suppression,
    add_suppressions,
    ensure_suppressions_table,
    normalize_key,
    read_suppressions,
)
from tap_equipme.warehouse.suppression import remove_suppressions as remove_entries

if TYPE_CHECKING:
    import duckdb

ERASURES_TABLE = "_equipme_erasures"
ERASURES_DDL = (
    f"CREATE TABLE IF NOT EXISTS {ERASURES_TABLE} (request_id VARCHAR, requested_at TIMESTAMPTZ, "
    "completed_at TIMESTAMPTZ, status VARCHAR, action VARCHAR, matched_by VARCHAR, "
    "subject_digest VARCHAR, keys JSON, tables JSON, storage VARCHAR)"
)

Action = Literal["blank", "delete"]


@dataclass(frozen=True)
class TableRule:
    """How one table (and its `<table>_history`) is erased for a key."""

    table: str
    key_column: str
    action: Action
    fields: tuple[str, ...] = ()
    """Action `blank`: the columns (or dotted paths into STRUCT columns) set to NULL."""
    suppress: bool = True
    """Write a suppression entry `(table, key_column, key)` so later loads stay blanked."""


@dataclass
class TableChange:
    """What a request matches (dry run) or changed (applied) in one table."""

    table: str
    action: Action
    matched: int
    """Rows whose key matches."""
    to_change: int
    """Of those, rows still holding a personal value (`blank`) or still there (`delete`)."""


@dataclass
class ErasureRequest:
    """One erasure: its id, the key values, the rules, how the subject was matched."""

    request_id: str
    keys: list[str]
    rules: list[TableRule]
    matched_by: str
    subject_digest: str | None = None
    requested_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc))

    @property
    def action(self) -> str:
        """`blank`, `delete`, or `mixed` over the rules."""
        actions = {rule.action for rule in self.rules}
        return actions.pop() if len(actions) == 1 else "mixed"


def _types(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, Any]:
    relation = con.sql(f"SELECT * FROM {quote(table)} LIMIT 0")
    return dict(zip(relation.columns, relation.types, strict=True))


def existing_tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    """Base tables of the connection's current schema.

    Args:
        con: The connection.

    Returns:
        Table names.
    """
    rows = con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_catalog = "
        "current_database() AND table_schema = current_schema() AND table_type = 'BASE TABLE'"
    ).fetchall()
    return {r[0] for r in rows}


def _blank_value(column: str, ctype: Any, paths: list[list[str]]) -> str:
    """SQL for a column with the given (sub)paths set to NULL; `[[]]` blanks it whole."""
    if any(not p for p in paths):
        return f"NULL::{ctype}"
    if str(getattr(ctype, "id", "")) != "struct":
        msg = f"erasure: {column} is not a STRUCT; cannot blank {'.'.join(paths[0])} in it."
        raise ValueError(msg)
    members = []
    for name, child in ctype.children:
        inner = [p[1:] for p in paths if p[0] == name]
        access = f"{column}.{quote(name)}"
        value = _blank_value(access, child, inner) if inner else access
        members.append(f"{quote(name)} := {value}")
    return f"CASE WHEN {column} IS NULL THEN NULL ELSE struct_pack({', '.join(members)}) END"


def _blank_assignments(types: dict[str, Any], fields: tuple[str, ...]) -> tuple[list[str], str]:
    """`(SET assignments, SQL true if any personal value is still there)` for a table."""
    by_column: dict[str, list[list[str]]] = {}
    for path in fields:
        head, *rest = path.split(".")
        if head in types:
            by_column.setdefault(head, []).append(rest)
    sets: list[str] = []
    checks: list[str] = []
    for column, paths in by_column.items():
        sets.append(f"{quote(column)} = {_blank_value(quote(column), types[column], paths)}")
        for sub in paths:
            checks.append(".".join([quote(column), *map(quote, sub)]) + " IS NOT NULL")
    return sets, " OR ".join(checks) or "false"


def _key_match(key_column: str) -> str:
    return f"CAST({quote(key_column)} AS VARCHAR) IN (SELECT unnest(?::VARCHAR[]))"


def _tables_of(con: duckdb.DuckDBPyConnection, rule: TableRule) -> list[str]:
    present = existing_tables(con)
    return [t for t in (rule.table, history_table(rule.table)) if t in present]


def plan(
    con: duckdb.DuckDBPyConnection, rules: list[TableRule], keys: list[str]
) -> list[TableChange]:
    """Count what erasing `keys` would change, table by table (nothing is written).

    Args:
        con: A connection whose current schema holds the tables.
        rules: The tables and how to erase them.
        keys: Key values, as text.

    Returns:
        One entry per existing table (stream tables and their histories).
    """
    changes = []
    for rule in rules:
        for table in _tables_of(con, rule):
            if rule.key_column not in _types(con, table):
                continue
            where = _key_match(rule.key_column)
            if rule.action == "blank":
                _, present = _blank_assignments(_types(con, table), rule.fields)
            else:
                present = "true"
            row = con.execute(
                f"SELECT count(*), count(*) FILTER (WHERE {present}) FROM {quote(table)} "
                f"WHERE {where}",
                [keys],
            ).fetchone()
            assert row is not None
            changes.append(TableChange(table, rule.action, int(row[0]), int(row[1])))
    return changes


def erase_rows(
    con: duckdb.DuckDBPyConnection, rules: list[TableRule], keys: list[str]
) -> list[TableChange]:
    """Blank or delete the rows of `keys` in each table and its history (the caller's transaction).

    Idempotent: a second call finds nothing left to change.

    Args:
        con: A connection whose current schema holds the tables.
        rules: The tables and how to erase them.
        keys: Key values, as text.

    Returns:
        What was changed (counted before the change).
    """
    changes = plan(con, rules, keys)
    by_table = {c.table: c for c in changes}
    for rule in rules:
        for table in _tables_of(con, rule):
            change = by_table.get(table)
            if change is None or not change.to_change:
                continue
            where = _key_match(rule.key_column)
            if rule.action == "delete":
                con.execute(f"DELETE FROM {quote(table)} WHERE {where}", [keys])
                continue
            types = _types(con, table)
            sets, present = _blank_assignments(types, rule.fields)
            con.execute(
                f"UPDATE {quote(table)} SET {', '.join(sets)} WHERE {where} AND ({present})",
                [keys],
            )
            if "_content_hash" in types:
                # A second statement: SET expressions read the old values, and the hash must
                # be of the blanked row (the old one is a dictionary-attack target).
                data = {n: types[n] for n in data_columns(types)}
                con.execute(
                    f"UPDATE {quote(table)} SET _content_hash = {content_hash_sql(data)} "
                    f"WHERE {where}",
                    [keys],
                )
    return changes


def keys_matching(
    con: duckdb.DuckDBPyConnection, table: str, key_column: str, column: str, value: str
) -> list[str]:
    """Key values (text) of rows of `table` or its history whose `column` is `value`.

    Compared case-insensitively and trimmed (an email address as typed into a ticket).

    Args:
        con: A connection whose current schema holds the tables.
        table: The stream table.
        key_column: Its key column.
        column: The column to compare.
        value: The value looked for.

    Returns:
        Distinct key values, sorted.
    """
    present = existing_tables(con)
    found: set[str] = set()
    for name in (table, history_table(table)):
        if name not in present or column not in _types(con, name):
            continue
        rows = con.execute(
            f"SELECT DISTINCT CAST({quote(key_column)} AS VARCHAR) FROM {quote(name)} "
            f"WHERE lower(trim({quote(column)})) = lower(trim(?))",
            [value],
        ).fetchall()
        found |= {r[0] for r in rows}
    return sorted(found, key=lambda k: (len(k), k))


# -- the log and the suppression list ----------------------------------------------------


def ensure_bookkeeping(con: duckdb.DuckDBPyConnection) -> None:
    """Create `_equipme_erasures` and `_equipme_suppressions` if missing.

    Args:
        con: The connection (current schema).
    """
    con.execute(ERASURES_DDL)
    ensure_suppressions_table(con)


def suppression_entries(request: ErasureRequest) -> list[Suppression]:
    """The suppression entries of a request: one per suppressed rule and key.

    Args:
        request: The request.

    Returns:
        The entries (stamped with the request's id and time).
    """
    return [
        Suppression(rule.table, rule.key_column, key, request.request_id, request.requested_at)
        for rule in request.rules
        if rule.suppress
        for key in request.keys
    ]


def write_suppressions(con: duckdb.DuckDBPyConnection, request: ErasureRequest) -> int:
    """Add the request's suppression entries (an entry already listed keeps its request id).

    Through `suppression.add_suppressions`, the list's one owner.

    Args:
        con: The connection (current schema, in the caller's transaction).
        request: The request.

    Returns:
        The number of entries added.
    """
    return add_suppressions(con, suppression_entries(request))


def remove_suppressions(
    con: duckdb.DuckDBPyConnection, rules: list[TableRule], keys: list[str]
) -> int:
    """Remove the suppression entries of `keys` for the rules' tables.

    Through `suppression.remove_suppressions`, the list's one owner.

    Args:
        con: The connection (current schema).
        rules: The rules whose tables are unsuppressed.
        keys: Key values, as text.

    Returns:
        Entries removed.
    """
    return sum(remove_entries(con, rule.table, rule.key_column, keys) for rule in rules)


def count_suppressions(
    con: duckdb.DuckDBPyConnection, rules: list[TableRule], keys: list[str]
) -> int:
    """How many suppression entries `remove_suppressions` would remove (a dry run).

    Args:
        con: The connection (current schema).
        rules: The rules whose tables are unsuppressed.
        keys: Key values, as text.

    Returns:
        Entries listed for those keys.
    """
    listed = read_suppressions(con)
    wanted = {normalize_key(k) for k in keys}
    return sum(
        len(wanted & listed.get(rule.table, {}).get(rule.key_column, set())) for rule in rules
    )


def log_pending(
    con: duckdb.DuckDBPyConnection, request: ErasureRequest, changes: list[TableChange]
) -> None:
    """Record the request as `pending` (replacing an earlier row of the same request id).

    Args:
        con: The connection (current schema, in the caller's transaction).
        request: The request.
        changes: What it matched.
    """
    tables = {c.table: {"action": c.action, "rows": c.to_change} for c in changes}
    con.execute(f"DELETE FROM {ERASURES_TABLE} WHERE request_id = ?", [request.request_id])
    con.execute(
        f"INSERT INTO {ERASURES_TABLE} VALUES (?, ?, NULL, 'pending', ?, ?, ?, ?, ?, NULL)",
        [
            request.request_id,
            request.requested_at,
            request.action,
            request.matched_by,
            request.subject_digest,
            json.dumps(request.keys),
            json.dumps(tables),
        ],
    )


def pending_keys(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    """Requests whose storage purge did not finish (a crash): request id -> key values.

    Args:
        con: The connection (current schema).

    Returns:
        The pending requests.
    """
    if ERASURES_TABLE not in existing_tables(con):
        return {}
    rows = con.execute(
        f"SELECT request_id, CAST(keys AS VARCHAR) FROM {ERASURES_TABLE} "
        "WHERE status = 'pending' ORDER BY requested_at"
    ).fetchall()
    return {r[0]: json.loads(r[1]) for r in rows}


def log_complete(con: duckdb.DuckDBPyConnection, request_ids: list[str], storage: str) -> None:
    """Mark requests `complete` once their storage is purged.

    Args:
        con: The connection (current schema).
        request_ids: The requests.
        storage: What the purge did (files rewritten, snapshots expired, time travel).
    """
    con.execute(
        f"UPDATE {ERASURES_TABLE} SET status = 'complete', completed_at = now(), storage = ? "
        "WHERE request_id IN (SELECT unnest(?::VARCHAR[]))",
        [storage, request_ids],
    )
