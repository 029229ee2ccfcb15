"""Certify a change-capture listing in one pass, from a digest the previous run left (pure logic).

A listing that may delete must hold every customer alive (`pagination`): the paginator proves
it with a second pass, which doubles the list requests of every run. Most runs need not pay
that. Each certified run leaves in the state, for the cutoff `c` it writes as its bookmark,
the count and an order-free digest of `O`: the ids it listed minus those the API lists as
created after `c` (read right after the listing; `O` holds every customer created up to `c`
that was alive then). The next run lists everything once (pass `P`), then `N`, the customers
created after the same `c` (one page: a page is one snapshot). If `N` is within `P` and the
ids of `P` outside `N` have `O`'s count and digest, `P` holds every customer alive when `N`
was read:

- one created after `c` is in `N` (complete: one page), so in `P`;
- one created up to `c` was alive when the previous run listed (ids never come back once
  deleted), so it is in `O`, and `O` is within `P`.

A customer deleted since the previous run makes the digests differ: that run reads the
listing a second time as before. A filtered listing (`active`, `names`, `customer_numbers`)
gets no check: a customer can leave and re-enter it, which breaks "never comes back".
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

STATE_KEY = "listing_check"
_MODULUS = 1 << 128


def id_set_digest(ids: Iterable[int]) -> tuple[int, str]:
    """Count and order-free digest of a set of ids (a sum of 128-bit hashes, mod 2^128).

    Args:
        ids: Distinct customer ids.

    Returns:
        (count, 32 hex digits).
    """
    total = count = 0
    for item_id in ids:
        digest = hashlib.blake2b(item_id.to_bytes(8, "little", signed=True), digest_size=16)
        total = (total + int.from_bytes(digest.digest(), "little")) % _MODULUS
        count += 1
    return count, f"{total:032x}"


@dataclass(frozen=True)
class ListingCheck:
    """What a certified run leaves for the next: the cutoff, and `O`'s count and digest."""

    cutoff: str
    """The `createdAfter` value (the bookmark that run wrote)."""
    count: int
    digest: str
    scope: str
    """The listing's lower bound (`start_date`), which must not change between the runs."""

    @classmethod
    def record(
        cls, listed: Iterable[int], created_after_cutoff: Iterable[int], cutoff: str, scope: str
    ) -> ListingCheck:
        """The check a certified run leaves.

        Args:
            listed: Every id the certified listing emitted.
            created_after_cutoff: The ids listed as created after `cutoff`, read after it.
            cutoff: The run's new bookmark.
            scope: See `scope`.

        Returns:
            The check.
        """
        newer = set(created_after_cutoff)
        count, digest = id_set_digest(i for i in set(listed) if i not in newer)
        return cls(cutoff, count, digest, scope)

    def proves_complete(self, first_pass: set[int], created_after_cutoff: set[int]) -> bool:
        """Whether the one pass holds every customer alive (see the module docstring).

        Args:
            first_pass: The ids the pass saw.
            created_after_cutoff: The ids created after `cutoff`, one page read after the pass.

        Returns:
            True when the pass is certified complete.
        """
        if not created_after_cutoff <= first_pass:
            return False
        count, digest = id_set_digest(first_pass - created_after_cutoff)
        return count == self.count and digest == self.digest

    def to_state(self) -> dict[str, Any]:
        """The state's form (plain JSON; no customer data, no secret).

        Returns:
            A dict for `state["bookmarks"][stream][STATE_KEY]`.
        """
        return {
            "cutoff": self.cutoff,
            "count": self.count,
            "digest": self.digest,
            "scope": self.scope,
        }

    @classmethod
    def from_state(cls, value: object) -> ListingCheck | None:
        """Read the state's form; anything malformed is no check (the run reads twice).

        Args:
            value: `state["bookmarks"][stream].get(STATE_KEY)`.

        Returns:
            The check, or None.
        """
        if not isinstance(value, dict):
            return None
        cutoff, count = value.get("cutoff"), value.get("count")
        digest, scope = value.get("digest"), value.get("scope", "")
        if not (isinstance(cutoff, str) and isinstance(count, int) and isinstance(scope, str)):
            return None
        if not (isinstance(digest, str) and len(digest) == 32):  # 128 bits
            return None
        return cls(cutoff, count, digest, scope)
