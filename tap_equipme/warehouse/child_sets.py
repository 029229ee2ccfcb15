"""Child sets: child streams whose rows of a parent are complete whenever that parent was read.

The loader learns them from its `child_sets` setting; the SQL that soft-deletes the children
a run proves gone is `ChildSet.gone_condition`, run by every writer through `ChangeTracker`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tap_equipme.warehouse.change_tracking import seen_table
from tap_equipme.warehouse.json_schema import quote


@dataclass(frozen=True)
class ChildSet:
    """A child stream whose rows of one parent are complete whenever that parent was read.

    Plain Singer cannot say "these are all of this parent's children": the source tap emits
    one row per parent read into `reads_stream` (keyed by the same `key` column), and the
    loader soft-deletes the children of those parents that this run did not load. Children
    of a parent soft-deleted in `parent_stream` (key `parent_key`) are soft-deleted too.
    """

    stream: str
    key: str
    reads_stream: str
    parent_stream: str | None = None
    parent_key: str = "id"

    @classmethod
    def from_setting(cls, item: Any, index: int) -> ChildSet:
        """Build one from an item of the target's `child_sets` setting.

        Args:
            item: The setting's item (an object).
            index: Its position (for the error message).

        Returns:
            The child set.

        Raises:
            ValueError: If a required field is missing or not a string.
        """
        fields = ("stream", "key", "reads_stream")
        if not isinstance(item, dict) or not all(isinstance(item.get(f), str) for f in fields):
            msg = (
                f"Setting 'child_sets', item {index}: needs the strings 'stream', 'key' and "
                f"'reads_stream' (optional 'parent_stream', 'parent_key'); got {item!r}"
            )
            raise ValueError(msg)
        return cls(
            stream=item["stream"],
            key=item["key"],
            reads_stream=item["reads_stream"],
            parent_stream=item.get("parent_stream") or None,
            parent_key=str(item.get("parent_key") or "id"),
        )

    def gone_condition(
        self, *, child_keys: list[str], child_seen: bool, reads_seen: bool, parent_exists: bool
    ) -> tuple[str, list[Any]]:
        """Return the SQL condition (alias `t`, the child table) of children that are gone.

        Args:
            child_keys: The child table's key columns.
            child_seen: Whether child rows arrived in this run.
            reads_seen: Whether reads arrived in this run.
            parent_exists: Whether the parent table exists.

        Returns:
            `(condition, params)`.
        """
        key = f"t.{quote(self.key)}"
        parts = []
        if reads_seen:
            reread = (
                f"{key} IN (SELECT {quote(self.key)} FROM {quote(seen_table(self.reads_stream))})"
            )
            if child_seen:
                join = " AND ".join(f"s.{quote(k)} = t.{quote(k)}" for k in child_keys)
                reread += (
                    f" AND NOT EXISTS (SELECT 1 FROM {quote(seen_table(self.stream))} s "
                    f"WHERE {join})"
                )
            parts.append(f"({reread})")
        if parent_exists and self.parent_stream:
            parts.append(
                f"{key} IN (SELECT {quote(self.parent_key)} FROM {quote(self.parent_stream)} "
                "WHERE _deleted_at IS NOT NULL)"
            )
        return (" OR ".join(parts) or "FALSE"), []
