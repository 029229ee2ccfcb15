"""Blank the personal fields of suppressed rows in an Arrow batch, before it lands.

Which fields are personal is the stream's SCHEMA's word: every property marked
`"x-personal-data": true` (at any depth). Which rows are suppressed is the warehouse's
suppression list (`suppression.py`). Blanking the batch itself, before the upsert, means the
current table, its `<stream>_history` and every destination (DuckDB, Parquet, DuckLake) get
the same blank values: nothing personal of a suppressed row is ever written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

PERSONAL_MARK = "x-personal-data"
"""The JSON Schema annotation a source puts on a personal property."""


def personal_paths(schema: dict[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Return the paths of the properties a JSON Schema marks as personal.

    Args:
        schema: A stream's (or an object property's) JSON Schema.
        prefix: The path of `schema` itself.

    Returns:
        Property paths, outermost name first (a marked object: its own path, not its fields').
    """
    paths: list[tuple[str, ...]] = []
    properties = schema.get("properties")
    if not isinstance(properties, dict):
        return paths
    for name, prop in properties.items():
        if not isinstance(prop, dict):
            continue
        path = (*prefix, name)
        if prop.get(PERSONAL_MARK):
            paths.append(path)
        else:
            paths.extend(personal_paths(prop, path))
    return paths


def _blank(array: pa.Array, rows: pa.Array, path: tuple[str, ...]) -> pa.Array:
    """Return `array` with the value at `path` (below it) set to null in `rows`.

    A path that goes on below a value that is not a struct (an array of objects, a column
    kept as JSON text) blanks that whole value: the loader cannot reach further in.
    """
    if not path or not pa.types.is_struct(array.type):
        return pc.if_else(rows, pa.nulls(len(array), array.type), array)
    struct = array.type
    children = array.flatten()  # the struct's own nulls merged into its fields
    fields = [struct.field(i) for i in range(struct.num_fields)]
    index = struct.get_field_index(path[0])
    if index < 0:  # a field this batch does not carry: nothing to blank
        return array
    children[index] = _blank(children[index], rows, path[1:])
    return pa.StructArray.from_arrays(children, fields=fields, mask=array.is_null())


@dataclass
class PersonalFieldBlanker:
    """One stream's blanking: its personal paths and its suppressed keys."""

    stream: str
    paths: list[tuple[str, ...]]
    suppressed: dict[str, set[str]]
    """Key column -> normalized key values (`suppression.normalize_key`)."""
    rows_blanked: int = 0
    missing_key_columns: set[str] = field(default_factory=set)
    """Key columns of entries that this stream's batches do not have (said once)."""

    @property
    def active(self) -> bool:
        """Whether any batch of this stream can need blanking."""
        return bool(self.paths and self.suppressed)

    def _matches(self, table: pa.Table) -> pa.Array | None:
        mask: pa.Array | None = None
        for column, values in self.suppressed.items():
            if column not in table.column_names:
                self.missing_key_columns.add(column)
                continue
            text = pc.cast(table.column(column).combine_chunks(), pa.string())
            normalized = pc.utf8_lower(pc.utf8_trim_whitespace(text))
            hits = pc.fill_null(pc.is_in(normalized, value_set=pa.array(sorted(values))), False)
            mask = hits if mask is None else pc.or_(mask, hits)
        return mask

    def apply(self, table: pa.Table) -> pa.Table:
        """Return the batch with the personal fields of suppressed rows set to null.

        Args:
            table: A parsed batch (`arrow.records_to_arrow`).

        Returns:
            The same table when no row is suppressed, else a copy with those values blanked.
        """
        if not self.active or table.num_rows == 0:
            return table
        rows = self._matches(table)
        if rows is None:
            return table
        hits = int(pc.sum(rows).as_py() or 0)
        if not hits:
            return table
        by_column: dict[str, list[tuple[str, ...]]] = {}
        for path in self.paths:
            by_column.setdefault(path[0], []).append(path[1:])
        for name, inner_paths in by_column.items():
            index = table.schema.get_field_index(name)
            if index < 0:
                continue
            column: pa.Array = table.column(index).combine_chunks()
            for inner in inner_paths:
                column = _blank(column, rows, inner)
            table = table.set_column(index, table.schema.field(index), column)
        self.rows_blanked += hits
        return table
