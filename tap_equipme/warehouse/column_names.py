"""Names the loader cannot store, or keeps for itself: checked once, before anything is written.

Generic (any Singer tap): a stream's schema is refused, with the stream and the field named,
when a property

- has a name DuckDB cannot hold as a column or STRUCT field (empty, or containing a NUL);
- is named like one of the loader's own columns (`RESERVED_COLUMNS`: the bookkeeping columns
  of every stream table, the history tables' `_valid_from` / `_valid_to`, the batch row
  number), compared as DuckDB compares identifiers (ASCII letters case-insensitive);
- nests objects / arrays deeper than `MAX_NESTING` levels.

The remedy is the same for all: rename or drop the field before the loader (a stream map,
or the tap's own setting). Every writer and the reporting views take the reserved names
from here.
"""

from __future__ import annotations

from typing import Any

BOOKKEEPING_COLUMNS = {
    "_loaded_at": "TIMESTAMPTZ",
    "_deleted_at": "TIMESTAMPTZ",
    "_sdc_table_version": "BIGINT",
    "_first_seen_at": "TIMESTAMPTZ",
    "_changed_at": "TIMESTAMPTZ",
    "_content_hash": "VARCHAR",
}
"""Columns every stream table has besides the record keys."""
HISTORY_COLUMNS = {
    "_content_hash": "VARCHAR",
    "_valid_from": "TIMESTAMPTZ",
    "_valid_to": "TIMESTAMPTZ",
}
"""Bookkeeping columns of a history table (besides the stream's data columns)."""
ROW_NUMBER_COLUMN = "__equipme_row"
"""Batch-local arrival order, used to keep the last version of a duplicated key."""
RESERVED_COLUMNS = frozenset({*BOOKKEEPING_COLUMNS, *HISTORY_COLUMNS, ROW_NUMBER_COLUMN})
"""Column names a stream's own properties may not take."""
MAX_NESTING = 32
"""Levels of objects / arrays inside a column (the column itself is level 0). Deeper data
is refused: DuckDB and Arrow accept more, but such a schema is a broken source, and every
level costs a nested type in each statement."""

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
"""DuckDB folds only ASCII letters when it compares identifiers (`É` and `é` may coexist)."""


def fold(name: str) -> str:
    """A name as DuckDB compares identifiers (ASCII letters lower-cased).

    Args:
        name: An identifier.

    Returns:
        The folded name.
    """
    return name.translate(_ASCII_LOWER)


def unstorable_reason(name: str) -> str | None:
    """Why DuckDB cannot hold a name as a column or STRUCT field, or None if it can.

    Args:
        name: A property name.

    Returns:
        A short reason, or None.
    """
    if name == "":
        return "an empty name"
    if "\x00" in name:
        return "a NUL character in its name"
    return None


def describe(path: list[str]) -> str:
    """A field path for messages: dotted, `[]` for array items, odd names quoted."""
    parts = [p if p == "[]" or (p and unstorable_reason(p) is None) else repr(p) for p in path]
    return ".".join(parts).replace(".[]", "[]")


def _walk(schema: Any, path: list[str], depth: int, found: list[str]) -> None:
    if not isinstance(schema, dict):
        return
    if depth > MAX_NESTING:
        found.append(f"field {describe(path)} nests deeper than {MAX_NESTING} levels")
        return
    properties = schema.get("properties")
    if isinstance(properties, dict):
        for name, sub in properties.items():
            reason = unstorable_reason(name)
            if reason:
                found.append(f"field {describe([*path, name])} has {reason}")
                continue
            _walk(sub, [*path, name], depth + 1, found)
    items = schema.get("items")
    if isinstance(items, dict):
        _walk(items, [*path, "[]"], depth + 1, found)
    for option in schema.get("anyOf") or schema.get("oneOf") or []:
        _walk(option, path, depth, found)


def name_problems(schema: dict[str, Any]) -> list[str]:
    """Everything in a stream schema's names and nesting the loader cannot store.

    Args:
        schema: The stream's JSON Schema (from its SCHEMA message).

    Returns:
        One short description per problem (empty: the schema can be stored).
    """
    found: list[str] = []
    properties = schema.get("properties")
    if not isinstance(properties, dict):
        return found
    reserved = {fold(n) for n in RESERVED_COLUMNS}
    for name, sub in properties.items():
        reason = unstorable_reason(name)
        if reason:
            found.append(f"field {describe([name])} has {reason}")
        elif fold(name) in reserved:
            found.append(
                f"field {name!r} has the name of one of the loader's own bookkeeping columns "
                f"({', '.join(sorted(RESERVED_COLUMNS))})"
            )
        else:
            _walk(sub, [name], 0, found)
    return found


def readable_name(name: str) -> str:
    """A column name for a value that names a column in a view (e.g. a metadata key).

    Args:
        name: Any text.

    Returns:
        The text, with NUL characters replaced by U+FFFD and `(empty)` for an empty one.
    """
    return name.replace("\x00", "\ufffd") or "(empty)"
