"""Schema evolution: read a stream table's shape and plan the DDL a new SCHEMA asks for."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tap_equipme.warehouse.errors import IncompatibleSchemaError
from tap_equipme.warehouse.json_schema import BOOKKEEPING_COLUMNS, Column, quote

if TYPE_CHECKING:
    import duckdb


def nested_additions(
    stream: str, column: str, existing: Any, desired: Any, path: list[str] | None = None
) -> list[tuple[str, str]]:
    """Return the nested fields to add so that `existing` can hold `desired` values.

    Types are `duckdb.DuckDBPyType` objects. New fields inside STRUCTs (also inside LISTs of
    STRUCTs) are additions; anything else that differs is incompatible.

    Args:
        stream: Stream name (for the error message).
        column: Top-level column name (for the error message).
        existing: The column's current type.
        desired: The type the new schema asks for.
        path: Quoted path below the column (recursion).

    Returns:
        `(dotted quoted path, SQL type)` pairs, for `ALTER TABLE ... ADD COLUMN path type`.

    Raises:
        IncompatibleSchemaError: If the types differ in a way that is not an addition.
    """
    path = path or [quote(column)]
    if str(existing) == str(desired):
        return []
    if existing.id == desired.id == "struct":
        current = dict(existing.children)
        additions: list[tuple[str, str]] = []
        for name, child in desired.children:
            if name not in current:
                additions.append((".".join([*path, quote(name)]), str(child)))
            else:
                additions += nested_additions(
                    stream, column, current[name], child, [*path, quote(name)]
                )
        return additions
    if existing.id == desired.id == "list":
        return nested_additions(stream, column, existing.child, desired.child, [*path, "element"])
    dotted = ".".join(p.strip('"') for p in path)
    msg = (
        f"Stream '{stream}': column '{dotted}' is {existing} in the warehouse but the new "
        f"schema makes it {desired}. Changing the type of an existing column is not "
        "supported; nothing was written. Rename the property, or drop or migrate the "
        "table, then run again."
    )
    raise IncompatibleSchemaError(msg)


class SchemaPlanner:
    """Reads a stream table's shape and plans the DDL a new SCHEMA needs (mixin).

    Expects `self.con`, a DuckDB connection.
    """

    con: duckdb.DuckDBPyConnection

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

    def plan_schema(self, stream: str, columns: list[Column], keys: list[str]) -> list[str]:
        """Check a stream's schema against its table and return the DDL to apply.

        Only reads the warehouse: an incompatible schema raises before anything is written.

        Args:
            stream: Stream (and table) name.
            columns: The stream's columns from its SCHEMA message.
            keys: The stream's key properties.

        Returns:
            SQL statements (CREATE TABLE or ALTER TABLE) to run before loading.

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
            if keys:
                defs.append(f"PRIMARY KEY ({', '.join(quote(k) for k in keys)})")
            return [f"CREATE TABLE {table} ({', '.join(defs)})"]
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
        for column in columns:
            desired = self._sql_type(column.type.duckdb)
            if column.name not in existing:
                ddl.append(f"ALTER TABLE {table} ADD COLUMN {quote(column.name)} {desired}")
                continue
            for path, sql_type in nested_additions(
                stream, column.name, existing[column.name], desired
            ):
                ddl.append(f"ALTER TABLE {table} ADD COLUMN {path} {sql_type}")
        # Tables loaded before change tracking existed get its columns (filled by the writer).
        for name, sql_type in BOOKKEEPING_COLUMNS.items():
            if name not in existing:
                ddl.append(f"ALTER TABLE {table} ADD COLUMN {quote(name)} {sql_type}")
        # A NOT NULL column the new schema no longer promises to fill becomes nullable.
        promised = {c.name for c in columns if c.not_null}
        for name in sorted(self._not_null_columns(stream) - promised - set(keys)):
            ddl.append(f"ALTER TABLE {table} ALTER COLUMN {quote(name)} DROP NOT NULL")
        return ddl
