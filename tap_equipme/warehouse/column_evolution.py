"""Schema evolution: read a stream table's shape and plan the DDL a new SCHEMA asks for.

What a new SCHEMA may do to an existing table (the same for every destination: the Parquet
and DuckLake writers inherit this planner):

- a new property adds a nullable column, a new field inside a STRUCT (also inside a LIST of
  STRUCTs) adds that field; rows loaded before read NULL;
- integer -> number widens the column (BIGINT -> DOUBLE, also inside a STRUCT), since a
  DOUBLE holds every integer up to 2^53 exactly; a number that comes back as an integer is
  stored in the DOUBLE column as it is;
- a column kept as JSON text (VARCHAR: a field first seen only as null, or with mixed types)
  takes any later value as its JSON text;
- a property missing from the new schema keeps its column; new rows read NULL there;
- anything else (a number that becomes a string, a STRUCT that becomes a list...) is an
  `IncompatibleSchemaError` naming stream, field and both types, before anything is written.

Every addition and widening is returned as a `SchemaChange`, which the writer records in
`_equipme_schema_changes`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from tap_equipme.warehouse.column_names import BOOKKEEPING_COLUMNS
from tap_equipme.warehouse.json_schema import (
    JSON_TEXT,
    Column,
    quote,
)
from tap_equipme.warehouse.load_errors import IncompatibleSchemaError

if TYPE_CHECKING:
    import duckdb

SCHEMA_CHANGES_TABLE = "_equipme_schema_changes"
_WIDENINGS = {("BIGINT", "DOUBLE")}
"""(existing, desired) leaf types a column is widened for (lossless)."""
_KEPT_WIDER = {("DOUBLE", "BIGINT")}
"""(existing, desired) leaf types where the existing column already holds the new values."""
_SCALARS_AS_TEXT = {"BIGINT", "DOUBLE", "BOOLEAN", "VARCHAR"}
"""Desired leaf types whose values a JSON-text (VARCHAR) column takes as their JSON text."""


@dataclass(frozen=True)
class SchemaChange:
    """One column or field added, or widened, by a new SCHEMA."""

    path: str
    """Dotted field path; `[]` marks the elements of a list (e.g. `lines[].note`)."""
    kind: str
    """`added` or `widened`."""
    old_type: str | None
    new_type: str


@dataclass
class _Reconciled:
    """The type a column gets (existing and desired merged) and what changed on the way."""

    sql: str
    additions: list[tuple[str, str]]
    """`(dotted quoted path, SQL type)` of nested fields to add."""
    changes: list[SchemaChange]
    widened: bool


def _incompatible(stream: str, path: list[str], existing: Any, desired: Any) -> None:
    dotted = ".".join(path).replace(".[]", "[]")
    msg = (
        f"Stream '{stream}': column '{dotted}' is {existing} in the warehouse but the new "
        f"schema makes it {desired}. Changing the type of an existing column is not "
        "supported (only integer -> number is widened); nothing was written. Rename the "
        "property, or drop or migrate the table, then run again."
    )
    raise IncompatibleSchemaError(msg)


def reconcile(
    stream: str, existing: Any, desired: Any, path: list[str], quoted: list[str]
) -> _Reconciled:
    """Merge a column's existing type with the type a new schema asks for.

    Types are `duckdb.DuckDBPyType` objects.

    Args:
        stream: Stream name (for the error message).
        existing: The column's (or field's) current type.
        desired: The type the new schema asks for.
        path: Field names from the column down (for messages and the change log).
        quoted: The same path quoted for SQL (`element` for list items).

    Returns:
        The merged type and the additions / widenings it takes.

    Raises:
        IncompatibleSchemaError: If the types differ in a way that is not listed above.
    """
    old, new = str(existing), str(desired)
    if old == new:
        return _Reconciled(old, [], [], widened=False)
    dotted = ".".join(path).replace(".[]", "[]")
    if existing.id == desired.id == "struct":
        current = dict(existing.children)
        wanted = dict(desired.children)
        fields: list[str] = []
        result = _Reconciled("", [], [], widened=False)
        for name, child in existing.children:
            if name in wanted:
                sub = reconcile(stream, child, wanted[name], [*path, name], [*quoted, quote(name)])
                result.additions += sub.additions
                result.changes += sub.changes
                result.widened |= sub.widened
                fields.append(f"{quote(name)} {sub.sql}")
            else:
                fields.append(f"{quote(name)} {child}")
        for name, child in desired.children:
            if name not in current:
                result.additions.append((".".join([*quoted, quote(name)]), str(child)))
                result.changes.append(SchemaChange(f"{dotted}.{name}", "added", None, str(child)))
                fields.append(f"{quote(name)} {child}")
        result.sql = f"STRUCT({', '.join(fields)})"
        return result
    if existing.id == desired.id == "list":
        sub = reconcile(stream, existing.child, desired.child, [*path, "[]"], [*quoted, "element"])
        return _Reconciled(f"{sub.sql}[]", sub.additions, sub.changes, sub.widened)
    if (old, new) in _WIDENINGS:
        return _Reconciled(new, [], [SchemaChange(dotted, "widened", old, new)], widened=True)
    if (old, new) in _KEPT_WIDER or (old == "VARCHAR" and new in _SCALARS_AS_TEXT):
        return _Reconciled(old, [], [], widened=False)
    _incompatible(stream, path, existing, desired)
    raise AssertionError  # unreachable: _incompatible raises


def nested_additions(
    stream: str, column: str, existing: Any, desired: Any
) -> list[tuple[str, str]]:
    """Return the nested fields to add so that `existing` can hold `desired` values.

    Args:
        stream: Stream name (for the error message).
        column: Top-level column name.
        existing: The column's current type.
        desired: The type the new schema asks for.

    Returns:
        `(dotted quoted path, SQL type)` pairs, for `ALTER TABLE ... ADD COLUMN path type`.
    """
    return reconcile(stream, existing, desired, [column], [quote(column)]).additions


def column_ddl(stream: str, table: str, column: str, existing: Any, desired: Any) -> list[str]:
    """The statements that let an existing column hold `desired` values (additions, widening).

    Args:
        stream: Stream name (for the error message).
        table: The quoted table name (the stream's table or one derived from it).
        column: Column name.
        existing: The column's current type.
        desired: The type it must take.

    Returns:
        `ALTER TABLE` statements (none if the column already fits).
    """
    merged = reconcile(stream, existing, desired, [column], [quote(column)])
    if merged.widened:
        # One cast of the whole column: DuckDB casts STRUCTs by field name and fills fields
        # the old values lack with NULL.
        return [f"ALTER TABLE {table} ALTER COLUMN {quote(column)} TYPE {merged.sql}"]
    return [
        f"ALTER TABLE {table} ADD COLUMN {path} {sql_type}" for path, sql_type in merged.additions
    ]


class SchemaPlanner:
    """Reads a stream table's shape and plans the DDL a new SCHEMA needs (mixin).

    Expects `self.con`, a DuckDB connection.
    """

    con: duckdb.DuckDBPyConnection
    supports_primary_keys = True
    """False for DuckLake (no constraints): keys are then enforced by the upsert alone."""

    def _table_exists(self, stream: str) -> bool:
        row = self.con.execute(
            "SELECT count(*) FROM information_schema.tables "
            "WHERE table_schema = 'main' AND table_name = ?",
            [stream],
        ).fetchone()
        return bool(row and row[0])

    def _existing_types(self, stream: str) -> dict[str, Any]:
        relation = self.con.sql(f"SELECT * FROM {quote(stream)} LIMIT 0")
        return dict(zip(relation.columns, relation.types, strict=True))

    def _existing_keys(self, stream: str) -> list[str]:
        rows = self.con.execute(
            "SELECT constraint_column_names FROM duckdb_constraints() "
            "WHERE table_name = ? AND constraint_type = 'PRIMARY KEY'",
            [stream],
        ).fetchall()
        return list(rows[0][0]) if rows else []

    def _not_null_columns(self, stream: str) -> set[str]:
        rows = self.con.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_name = ? AND is_nullable = 'NO'",
            [stream],
        ).fetchall()
        return {r[0] for r in rows}

    def _sql_type(self, sql: str) -> Any:
        return self.con.sql(f"SELECT NULL::{sql}").types[0]

    def adapt_columns(self, stream: str, columns: list[Column]) -> list[Column]:
        """Keep values as JSON text where the table already stores a column as JSON text.

        A field first seen only as null (or with mixed types) got a JSON-text column; when a
        later run infers a real type for it, its values go on being stored as JSON text.

        Args:
            stream: Stream name.
            columns: The stream's columns from its SCHEMA.

        Returns:
            The columns, with those types replaced.
        """
        if not self._table_exists(stream):
            return columns
        existing = self._existing_types(stream)
        adapted = []
        for column in columns:
            current = existing.get(column.name)
            if (
                current is not None
                and str(current) == "VARCHAR"
                and column.type.duckdb != "VARCHAR"
            ):
                column = replace(column, type=JSON_TEXT)
            adapted.append(column)
        return adapted

    def plan_schema(self, stream: str, columns: list[Column], keys: list[str]) -> list[str]:
        """Check a stream's schema against its table and return the DDL to apply.

        Args:
            stream: Stream (and table) name.
            columns: The stream's columns from its SCHEMA message.
            keys: The stream's key properties.

        Returns:
            SQL statements (CREATE TABLE or ALTER TABLE) to run before loading.
        """
        return self.plan_changes(stream, columns, keys)[0]

    def plan_changes(
        self, stream: str, columns: list[Column], keys: list[str]
    ) -> tuple[list[str], list[SchemaChange]]:
        """Check a stream's schema against its table; return the DDL and what it changes.

        Only reads the warehouse: an incompatible schema raises before anything is written.

        Args:
            stream: Stream (and table) name.
            columns: The stream's columns from its SCHEMA message.
            keys: The stream's key properties.

        Returns:
            SQL statements (CREATE TABLE or ALTER TABLE) to run before loading, and the
            columns and fields they add or widen (none for a new table).

        Raises:
            IncompatibleSchemaError: For new key properties or a changed column type.
        """
        table = quote(stream)
        if not self._table_exists(stream):
            defs = [
                f"{quote(c.name)} {c.type.duckdb}{' NOT NULL' if c.not_null else ''}"
                for c in columns
            ]
            defs += [f"{quote(n)} {t}" for n, t in BOOKKEEPING_COLUMNS.items()]
            if keys and self.supports_primary_keys:
                defs.append(f"PRIMARY KEY ({', '.join(quote(k) for k in keys)})")
            return [f"CREATE TABLE {table} ({', '.join(defs)})"], []
        existing_keys = self._existing_keys(stream)
        if existing_keys != list(keys):
            msg = (
                f"Stream '{stream}': the key properties changed from {existing_keys} to "
                f"{list(keys)}. The table's rows are keyed by the old ones; nothing was "
                "written. Drop or migrate the table, then run again."
            )
            raise IncompatibleSchemaError(msg)
        existing = self._existing_types(stream)
        ddl: list[str] = []
        changes: list[SchemaChange] = []
        for column in columns:
            desired = self._sql_type(column.type.duckdb)
            if column.name not in existing:
                ddl.append(f"ALTER TABLE {table} ADD COLUMN {quote(column.name)} {desired}")
                changes.append(SchemaChange(column.name, "added", None, str(desired)))
                continue
            merged = reconcile(
                stream, existing[column.name], desired, [column.name], [quote(column.name)]
            )
            if merged.widened:
                # One cast of the whole column: DuckDB casts STRUCTs by field name and fills
                # fields the old values lack with NULL.
                ddl.append(
                    f"ALTER TABLE {table} ALTER COLUMN {quote(column.name)} TYPE {merged.sql}"
                )
            else:
                ddl += [
                    f"ALTER TABLE {table} ADD COLUMN {path} {sql_type}"
                    for path, sql_type in merged.additions
                ]
            changes += merged.changes
        # Tables loaded before change tracking existed get its columns (filled by the writer).
        for name, sql_type in BOOKKEEPING_COLUMNS.items():
            if name not in existing:
                ddl.append(f"ALTER TABLE {table} ADD COLUMN {quote(name)} {sql_type}")
        # A NOT NULL column the new schema no longer promises to fill becomes nullable.
        promised = {c.name for c in columns if c.not_null}
        for name in sorted(self._not_null_columns(stream) - promised - set(keys)):
            ddl.append(f"ALTER TABLE {table} ALTER COLUMN {quote(name)} DROP NOT NULL")
        return ddl, changes
