"""The record scrubber: a policy tree compiled into straight-line Python (the record path).

The tree maps a field to a subtree (an object's fields), a `Hasher` (hash) or None (drop).
Every record goes through the result, so it is generated like `schema_widening`'s per-record
check: no loop over the fields, no call for a dropped value, and none for a string hashed
before (`Hasher.memo[value]`: one dict lookup; the memo computes a miss). Per-object tuple
caches (an employee's five fields looked up as one tuple) were tried and measured no faster
than the memo's lookups, so there are none. Field names enter the code only as `repr`
literals. Records are changed in place: the stream uses only their ids once they are emitted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tap_equipme.personal_hash import Hasher


def compile_scrubber(tree: dict[str, Any]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """Generate the function that applies a policy tree to one record.

    Args:
        tree: field -> subtree, `Hasher` (hash) or None (drop).

    Returns:
        record -> the same record, personal values hashed or set to None.
    """
    namespace: dict[str, Any] = {}
    lines = ["def scrub(record):"]
    counter = iter(range(1, 1 << 20))

    def emit(node: dict[str, Any], var: str, indent: str) -> None:
        for name, leaf in node.items():
            if isinstance(leaf, Hasher):
                # One hasher per run (the run's key): one `memo` and one `hash_value`.
                namespace["hash_value"], namespace["memo"] = leaf, leaf.memo
                lines.append(f"{indent}v = {var}.get({name!r})")
                lines.append(f"{indent}if type(v) is str:")
                lines.append(f"{indent}    {var}[{name!r}] = memo[v]")
                lines.append(f"{indent}elif v is not None:  # a number, an object: its JSON text")
                lines.append(f"{indent}    {var}[{name!r}] = hash_value(v)")
            elif isinstance(leaf, dict):
                inner = f"o{next(counter)}"
                lines.append(f"{indent}{inner} = {var}.get({name!r})")
                lines.append(f"{indent}if type({inner}) is dict:")
                emit(leaf, inner, indent + "    ")
            elif leaf is None:  # drop
                lines.append(f"{indent}if {var}.get({name!r}) is not None:")
                lines.append(f"{indent}    {var}[{name!r}] = None")
        lines.append(f"{indent}pass")

    emit(tree, "record", "    ")
    lines.append("    return record")
    exec("\n".join(lines), namespace)  # noqa: S102  (names enter only as repr literals)
    scrub: Callable[[dict[str, Any]], dict[str, Any]] = namespace["scrub"]
    return scrub
