"""Fields beyond the spec: lets the sandbox play an API that grew (``/_sandbox/extra_fields``).

Off by default: the sandbox answers exactly the spec's shapes until a test, the demo or a
benchmark asks for more. Paths are dotted (``companyAddress.latitude`` sets ``latitude``
inside the customer's ``companyAddress``); a path through an object the document does not
have (e.g. a customer without a ``companyAddress``) is skipped, never invented.

``also`` lists further configurations (each with its own ``ids``), applied after this one:
how a real API grows, one field on some customers, another from the N-th customer on.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ExtraFields:
    """Values added to every customer and / or metadata item the API renders."""

    customer: dict[str, Any] = field(default_factory=dict)
    """Dotted path -> value, added to each Customer document."""
    metadata: dict[str, Any] = field(default_factory=dict)
    """Dotted path -> value, added to each MetadataItem document."""
    ids: frozenset[int] | None = None
    """Only customers (and their metadata) with these ids; None: all."""
    also: tuple[ExtraFields, ...] = ()
    """Further configurations, each applied after this one to the customers of its `ids`."""

    @classmethod
    def from_dict(cls, body: dict[str, Any]) -> ExtraFields:
        """Parse the hook's body.

        Raises:
            ValueError: Naming the bad part of the body.
        """
        unknown = sorted(set(body) - {"customer", "metadata", "ids", "also"})
        if unknown:
            raise ValueError(
                f"Unknown extra_fields keys {unknown}: use customer, metadata, ids, also."
            )
        also = body.get("also") or []
        if not isinstance(also, list) or not all(
            isinstance(part, dict) and "also" not in part for part in also
        ):
            raise ValueError("'also' must be a list of configurations (without their own 'also').")
        parts: dict[str, dict[str, Any]] = {}
        for part in ("customer", "metadata"):
            paths = body.get(part) or {}
            if not isinstance(paths, dict) or not all(
                isinstance(p, str) and p and all(p.split(".")) for p in paths
            ):
                raise ValueError(
                    f"'{part}' must map dotted field paths (e.g. \"companyAddress.latitude\") "
                    "to values."
                )
            parts[part] = copy.deepcopy(paths)
        ids = body.get("ids")
        if ids is not None and (
            not isinstance(ids, list)
            or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids)
        ):
            raise ValueError("'ids' must be a list of customer ids, or null for all customers.")
        return cls(
            parts["customer"],
            parts["metadata"],
            None if ids is None else frozenset(ids),
            tuple(cls.from_dict(part) for part in also),
        )

    def to_dict(self) -> dict[str, Any]:
        """The configuration as the hook's JSON."""
        ids = None if self.ids is None else sorted(self.ids)
        result: dict[str, Any] = {"customer": self.customer, "metadata": self.metadata, "ids": ids}
        if self.also:
            result["also"] = [part.to_dict() for part in self.also]
        return result

    def applies_to(self, customer_id: int) -> bool:
        """Whether a customer's documents get the extra fields."""
        return self.ids is None or customer_id in self.ids

    def add_to_customer(self, customer_id: int, document: dict[str, Any]) -> dict[str, Any]:
        """The Customer document with the extra fields (the input is not modified)."""
        if self.customer and self.applies_to(customer_id):
            document = _with_paths(document, self.customer)
        for part in self.also:
            document = part.add_to_customer(customer_id, document)
        return document

    def add_to_metadata(self, customer_id: int, document: dict[str, Any]) -> dict[str, Any]:
        """The MetadataItem document with the extra fields (the input is not modified)."""
        if self.metadata and self.applies_to(customer_id):
            document = _with_paths(document, self.metadata)
        for part in self.also:
            document = part.add_to_metadata(customer_id, document)
        return document


def _with_paths(document: dict[str, Any], paths: dict[str, Any]) -> dict[str, Any]:
    result = dict(document)
    for path, value in paths.items():
        *parents, name = path.split(".")
        target: dict[str, Any] = result
        for parent in parents:
            child = target.get(parent)
            if not isinstance(child, dict):
                break  # no such object in this document: skipped, not invented
            target[parent] = child = dict(child)  # copy on the way down: documents are shared
            target = child
        else:
            target[name] = copy.deepcopy(value)
    return result
