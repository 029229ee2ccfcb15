"""What the tap checks in the items the API sends, before anything is emitted (pure logic).

The spec says what an item must be; an API that breaks it gets one clear error naming the
page or the customer and the field, never a traceback:

- a list item must be a JSON object with an integer `id` (the spec's int32; up to 64 bits is
  taken, what a Singer integer and the warehouse's BIGINT hold);
- a metadata item must have a string `key` (its row's key with the customer id);
- a field the tap would add to the schema (`unknown_fields: keep`) must have a name a
  warehouse can store (not empty, no NUL) and nest at most `MAX_DEPTH` levels.

Attribution: a metadata row belongs to the customer of the request path. An item that
carries a `customer_id` of its own (the spec's MetadataItem has none) keeps it as
`PAYLOAD_CUSTOMER_ID`; it never overrides the request's.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from tap_equipme.errors import EquipmeError

ID_RANGE = (-(2**63), 2**63 - 1)
"""Ids the tap accepts: 64-bit signed (the spec says int32; the warehouse stores BIGINT)."""
MAX_DEPTH = 32
"""Levels of objects / arrays below a field (the loader, target-duckdb-lake, takes as many)."""
PAYLOAD_CUSTOMER_ID = "payload_customer_id"
"""Where a metadata item's own `customer_id` is kept (the row's `customer_id` is the request's)."""


class RecordShapeError(EquipmeError):
    """The API sent an item the spec does not allow (the tap stops before emitting it)."""


def _kind(value: Any) -> str:
    return {
        dict: "an object",
        list: "an array",
        str: "a string",
        bool: "a boolean",
        int: "an integer",
    }.get(type(value), "null" if value is None else "a number")


def _short(value: Any) -> str:
    text = str(value) if isinstance(value, Decimal) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def id_problem(value: Any) -> str | None:
    """Why a value cannot be a customer id, or None.

    Args:
        value: The decoded `id` (JSON fractions are `Decimal`).

    Returns:
        A short reason, or None.
    """
    if type(value) is not int:
        return f"'id' is {_kind(value)} ({_short(value)}), not an integer"
    low, high = ID_RANGE
    if not low <= value <= high:
        return f"'id' {_short(value)} does not fit in 64 bits"
    return None


def listing_item_problem(item: Any) -> str | None:
    """Why a list item cannot be emitted, or None.

    Args:
        item: One element of a list page's `items`.

    Returns:
        A short reason, or None.
    """
    if type(item) is not dict:
        return f"the item is {_kind(item)} ({_short(item)}), not an object"
    if "id" not in item:
        return "the item has no 'id'"
    return id_problem(item["id"])


def metadata_item_problem(item: dict[str, Any]) -> str | None:
    """Why a metadata item cannot be emitted, or None (the body is an array of objects).

    Args:
        item: One metadata item.

    Returns:
        A short reason, or None.
    """
    key = item.get("key")
    if not isinstance(key, str):
        return f"'key' is {_kind(key)} ({_short(key)}), not a string"
    return None


def check_items(
    items: list[Any], problem_of: Callable[[Any], str | None], where: str, after: str
) -> None:
    """Stop with one clear error at the first item the spec does not allow.

    Args:
        items: The items of one response.
        problem_of: `listing_item_problem` or `metadata_item_problem`.
        where: The response, for the message ("Stream 'customers': customer 7, metadata").
        after: What the tap did about it, for the message.

    Raises:
        RecordShapeError: Naming the response, the item's index and what is wrong.
    """
    for index, item in enumerate(items):
        problem = problem_of(item)
        if problem:
            msg = f"{where} item {index}: {problem}. The API broke its spec; {after}"
            raise RecordShapeError(msg)


def attribute_metadata(customer_id: int, item: dict[str, Any]) -> dict[str, Any]:
    """The metadata row of an item read from `/customers/{customer_id}/metadata`.

    Args:
        customer_id: The customer of the request path.
        item: The item as the API sent it.

    Returns:
        The item with `customer_id` from the request; an item's own `customer_id`, if any,
        moved to `PAYLOAD_CUSTOMER_ID`.

    Raises:
        RecordShapeError: If the item has both `customer_id` and `PAYLOAD_CUSTOMER_ID`.
    """
    if "customer_id" not in item:
        return {"customer_id": customer_id, **item}
    if PAYLOAD_CUSTOMER_ID in item:
        msg = (
            f"Customer {customer_id}: a metadata item carries both 'customer_id' and "
            f"'{PAYLOAD_CUSTOMER_ID}'; the tap keeps the first under the second name, so it "
            "cannot take this item. Stopped before emitting it."
        )
        raise RecordShapeError(msg)
    row = {"customer_id": customer_id}
    row.update((PAYLOAD_CUSTOMER_ID if k == "customer_id" else k, v) for k, v in item.items())
    return row


def _path(path: list[str]) -> str:
    return ".".join(p if p and "\x00" not in p else repr(p) for p in path).replace(".[]", "[]")


def field_problem(record: dict[str, Any]) -> str | None:
    """The first field of a record a warehouse could not store as a column, or None.

    Walks the whole record: call it on the slow path only (a record beyond the schema).

    Args:
        record: A record.

    Returns:
        `field <path> ...` naming the field and the reason, or None.
    """
    stack: list[tuple[Any, list[str], int]] = [(record, [], 0)]
    while stack:
        value, path, depth = stack.pop()
        if depth > MAX_DEPTH + 1:
            return f"field {_path(path[:2])}... nests deeper than {MAX_DEPTH} levels"
        if isinstance(value, dict):
            for key, item in value.items():
                if key == "" or "\x00" in key:
                    reason = "an empty name" if key == "" else "a NUL character in its name"
                    return f"field {_path([*path, key])} has {reason}"
                stack.append((item, [*path, key], depth + 1))
        elif isinstance(value, list):
            stack.extend((item, [*path, "[]"], depth + 1) for item in value)
    return None
