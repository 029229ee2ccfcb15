"""Schema evolution: compare an existing column type with the one a new SCHEMA asks for."""

from __future__ import annotations

from typing import Any

from tap_equipme.warehouse.arrow import quote
from tap_equipme.warehouse.errors import IncompatibleSchemaError


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
