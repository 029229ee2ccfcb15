"""Erasing rows by key from a table and its history: the SQL, the log and the suppression list.

Generic mechanics, no stream knowledge: a caller names, per table, the key column, the action
(`blank` the given fields, nested ones as dotted paths, or `delete` the rows) and the key
values (as text). The same SQL runs on every destination: on a DuckDB file, on a lake attached
with its schema as the default, and on a Parquet directory's tables loaded into a private
in-memory database (`erasure_stores`). Every changed row gets its `_content_hash` recomputed,
so the hash of an erased row reveals nothing about the erased values and the next load of the
same (suppressed) record is not seen as a change.

The log of requests and the suppression list: `erasure_log`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from tap_equipme.warehouse.change_tracking import content_hash_sql, data_columns, history_table
from tap_equipme.warehouse.json_schema import quote

if TYPE_CHECKING:
    import duckdb

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
