"""The record scrubber: a policy tree compiled into straight-line Python (the record path).

The tree maps a field to a subtree (an object's fields), a `Hasher` (hash) or None (drop).
Every record goes through the result, so it is generated like `schema_widening`'s per-record
check: no loop over the fields and no call for a dropped value. An object's hashed fields
(an account manager's five) are read with one `itemgetter` call and looked up as one tuple
in a cache of their own: the same employee on thousands of customers costs one dict lookup
and one `update`. Field names enter the code only as `repr` literals. Records are changed
in place: the stream uses only their ids once they are emitted.
"""

from __future__ import annotations

from collections.abc import Callable
from operator import itemgetter
from typing import Any

from tap_equipme.personal_hash import Hasher

_CACHE_SIZE = 4096
"""Hashed tuples kept per object (distinct employees, say); emptied when full."""


def _tuple_hasher(hasher: Hasher) -> Callable[[tuple[Any, ...]], tuple[Any, ...]]:
    def hash_all(values: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(None if v is None else hasher(v) for v in values)

    return hash_all


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

    def per_field(name: str, hasher: Hasher, var: str, indent: str) -> list[str]:
        namespace["hash_value"], namespace["cached"] = hasher, hasher.cached
        return [
            f"{indent}v = {var}.get({name!r})",
            f"{indent}if v is not None:",
            f"{indent}    h = cached(v) if type(v) is str else None",
            f"{indent}    {var}[{name!r}] = h if h is not None else hash_value(v)",
        ]

    def emit(node: dict[str, Any], var: str, indent: str) -> None:
        hashed = [(n, leaf) for n, leaf in node.items() if isinstance(leaf, Hasher)]
        # Nested objects repeat (employees); the record's own values mostly do not.
        if len(hashed) > 1 and var != "record":
            n = next(counter)
            names = tuple(name for name, _ in hashed)
            cache: dict[tuple[Any, ...], tuple[Any, ...]] = {}
            namespace.update(
                {
                    f"get{n}": itemgetter(*names),
                    f"names{n}": names,
                    f"cache{n}": cache,
                    f"hash_all{n}": _tuple_hasher(hashed[0][1]),
                }
            )
            lines.append(f"{indent}try:")
            lines.append(f"{indent}    t = get{n}({var})")
            lines.append(f"{indent}    r = cache{n}.get(t)")
            lines.append(f"{indent}except (KeyError, TypeError):  # a field absent, an odd value")
            for name, hasher in hashed:
                lines.extend(per_field(name, hasher, var, indent + "    "))
            lines.append(f"{indent}else:")
            lines.append(f"{indent}    if r is None:")
            lines.append(f"{indent}        r = hash_all{n}(t)")
            lines.append(f"{indent}        if len(cache{n}) >= {_CACHE_SIZE}:")
            lines.append(f"{indent}            cache{n}.clear()")
            lines.append(f"{indent}        cache{n}[t] = r")
            lines.append(f"{indent}    {var}.update(zip(names{n}, r))")
        else:
            for name, hasher in hashed:
                lines.extend(per_field(name, hasher, var, indent))
        for name, leaf in node.items():
            if isinstance(leaf, dict):
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
