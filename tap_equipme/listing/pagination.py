"""Drift-proof offset/limit pagination over a list sorted by name (pure logic, no I/O).

The API lists customers only by name, with offset/limit. Customers created or deleted while a
client pages shift the offsets: a deletion before the current position would make a naive
client skip a customer, an insertion would make it read one twice. This paginator:

- overlaps every page after the first by one item: the page must start with a customer this
  run has already emitted (the page then begins at or before the frontier, so nothing in
  between can have been skipped);
- when it does not (the list shifted left, or many names were inserted), steps back a page and
  tries again, down to offset 0 if need be;
- keeps the set of emitted ids, so nothing is emitted twice in a run;
- after the last page, if any drift was seen (a step back or a changed `total`), runs one
  verification pass from offset 0 that emits only ids not seen yet.

Every customer that existed (under the same name) for the whole sync is emitted exactly once.

A broken or hostile API cannot keep it paging forever: a page repeated at later offsets (an
API that ignores `offset`) stops the listing with an error naming the offset, and the
requests of a listing are capped by what its first page's `total` and the page size justify
(`request_budget`, with room for drift and passes), so a `total` that grows with every page
ends too.

A customer renamed while the listing is read moves in the sort order and can be missed by a
pass without any visible shift (a deletion behind the reading position can even hide it from
the count). A run that may delete what it did not see (change capture, full refresh) therefore
asks for a *certified* listing (`certify=True`): a pass P is complete when it saw as many
distinct ids as the `total` of its last page, and every one of them was seen again by the next
pass (ids never come back once deleted, so each was still alive when P ended: P saw exactly
the customers alive at its end, which include every customer alive for the whole run). That
costs a second pass (at most `MAX_PASSES` in all); a listing that cannot be certified is
reported (`certified` False), and the caller deletes nothing. The caller may certify the first
pass itself (`first_pass_check`, see `listing_check`): then one pass is enough.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from tap_equipme.errors import EquipmeError

MAX_LIMIT = 1000
# A listing that keeps shifting forces step backs; give up after this many, so that a
# listing shifting on every request cannot keep the tap looping forever.
MAX_STEP_BACKS = 1000
MAX_PASSES = 4
"""Passes over the listing at most when certifying it (two when nothing changes meanwhile)."""
MIN_STALE_PAGES = 3
STALE_OFFSETS = 100
"""Forward pages in a row that repeat the previous page (same ids, same `total`) before the
API is taken to ignore `offset`: enough to span STALE_OFFSETS offsets, at least
MIN_STALE_PAGES. A legitimate repeat needs, between two requests, a page's stride of names
inserted before the reading position and as many deleted after it: possible for a few tiny
pages, not over a hundred offsets."""
GROWTH_ROOM = 2
GROWTH_ABSOLUTE = 1000
"""The listing may grow to GROWTH_ROOM times its first `total` plus GROWTH_ABSOLUTE during a
run before the request budget runs out."""


def request_budget(first_total: int, page_size: int, passes: int, step_backs: int) -> int:
    """Most list requests one listing may take.

    Args:
        first_total: The `total` of the listing's first page.
        page_size: Items per first request (later pages overlap by one item).
        passes: Passes allowed over the listing.
        step_backs: Step backs taken so far (each costs a request and some re-reading).

    Returns:
        The request budget.
    """
    stride = max(1, min(max(page_size, 2), MAX_LIMIT) - 1)
    per_pass = math.ceil((GROWTH_ROOM * first_total + GROWTH_ABSOLUTE + 2 * page_size) / stride) + 2
    return passes * per_pass + 3 * step_backs + 2


class PaginationError(EquipmeError):
    """The listing kept shifting so much that a consistent read was impossible."""


@dataclass(frozen=True)
class PageRequest:
    """The slice of the listing to request next."""

    offset: int
    limit: int


class DriftProofPaginator:
    """Plans page requests and picks which items of each page to emit.

    Usage: `request = p.next_request()`; fetch it; `emit = p.accept(request, ids, total)`;
    emit `items[i]` for `i in emit`; repeat while `p.next_request()` is not None.
    """

    def __init__(
        self,
        page_size: int,
        *,
        certify: bool = False,
        first_pass_check: Callable[[set[int]], bool] | None = None,
    ) -> None:
        """Initialize the paginator.

        Args:
            page_size: Items per request, 1..1000 (pages after the first request at least 2,
                so that the one-item overlap still makes progress).
            certify: Read until a pass is certified complete (see the module docstring).
            first_pass_check: With `certify`: called with the first pass's ids when it ends;
                True certifies that pass (no second pass).

        Raises:
            ValueError: If page_size is outside 1..1000.
        """
        if not 1 <= page_size <= MAX_LIMIT:
            msg = f"page_size must lie between 1 and {MAX_LIMIT}, not {page_size}"
            raise ValueError(msg)
        self.page_size = page_size
        self.seen: set[int] = set()
        self.emitted_ids: array[int] = array("q")
        self.drift_detected = False
        self.step_backs = 0
        self.rescans = 0
        self.verifying = False
        self._overlap_limit = min(max(page_size, 2), MAX_LIMIT)
        self._last_total: int | None = None
        self._next: PageRequest | None = PageRequest(0, page_size)
        self._expect_seen_head = False
        self.certify = certify
        self.certified = False
        """True once a pass is known to have seen every customer alive at its end."""
        self.passes = 1
        self.requests = 0
        self._first_pass_check = first_pass_check
        self._pass_ids: set[int] = set()
        self._previous_pass: tuple[set[int], bool] | None = None
        self._first_total: int | None = None
        self._stale_pages = 0
        self._previous_page: tuple[tuple[int, ...], int] | None = None

    @property
    def done(self) -> bool:
        """Whether the listing has been read completely."""
        return self._next is None

    def next_request(self) -> PageRequest | None:
        """Return the next slice to request, or None when the listing is complete.

        Returns:
            The next page request or None.
        """
        return self._next

    def accept(self, request: PageRequest, ids: Sequence[int], total: int) -> list[int]:
        """Take one page's ids and total; return the indices of the items to emit.

        Args:
            request: The request that produced this page (from `next_request`).
            ids: The ids of the page's items, in order.
            total: The page's `total` (size of the whole listing now).

        Returns:
            Indices into `ids` of the items not yet emitted in this run, in page order.

        Raises:
            PaginationError: If the listing kept shifting beyond MAX_STEP_BACKS step backs.
        """
        self.requests += 1
        if self._first_total is None:
            self._first_total = total
        self._check_budget(request)
        previous_total, self._last_total = self._last_total, total
        if previous_total is not None and total != previous_total:
            self.drift_detected = True

        head_unseen = bool(ids) and ids[0] not in self.seen
        if self._expect_seen_head and request.offset > 0 and (head_unseen or not ids):
            # The page starts after the frontier (or past the end after deletions): items in
            # between may have been skipped. Emit nothing, step back, look again.
            self.drift_detected = True
            self.step_backs += 1
            self._stale_pages, self._previous_page = 0, None
            if self.step_backs > MAX_STEP_BACKS:
                self._give_up(f"{self.step_backs} step backs")
            back = max(0, request.offset - self._overlap_limit)
            if back == 0:
                self.rescans += 1
            # Twice as long a page: it covers the gap and the page that failed, so the next
            # forward request starts past where this one did even if the list shifts again.
            self._next = PageRequest(back, min(2 * self._overlap_limit, MAX_LIMIT))
            return []

        self._check_progress(request, ids, total)
        self._pass_ids.update(ids)
        emit = [index for index, item_id in enumerate(ids) if item_id not in self.seen]
        for index in emit:
            self.seen.add(ids[index])
            self.emitted_ids.append(ids[index])

        end = request.offset + len(ids)
        # A short page is the last one whatever `total` says. Overlapped requests ask for at
        # least 2 items, so a full page always moves the next request forward.
        if not ids or end >= total or len(ids) < request.limit:
            if self.certify:
                self._finish_certifying_pass(total)
                return emit
            self._finish_pass()
        else:
            self._next = PageRequest(end - 1, self._overlap_limit)
            self._expect_seen_head = True
        return emit

    def _check_budget(self, request: PageRequest) -> None:
        passes = MAX_PASSES if self.certify else 2
        budget = request_budget(self._first_total or 0, self.page_size, passes, self.step_backs)
        if self.requests > budget:
            msg = (
                f"The customer listing did not end after {budget} requests (its first page said "
                f"total={self._first_total}, page size {self.page_size}); stopped at offset "
                f"{request.offset}. The API's `total` or its paging is wrong (a total that "
                "keeps growing, pages that never end)."
            )
            raise PaginationError(msg)

    def _check_progress(self, request: PageRequest, ids: Sequence[int], total: int) -> None:
        """Count forward pages that repeat the previous page's ids under an unchanged total.

        Walking over already-read ids is normal after insertions before the reading position
        (each page then shows the next ids); the same ids again at a later offset, with the
        same total, is an API that ignores `offset`.
        """
        page = (tuple(ids), total)
        stale = (
            request.offset > 0
            and len(ids) >= request.limit
            and page == self._previous_page
            and all(item_id in self._pass_ids for item_id in ids)
        )
        self._stale_pages = self._stale_pages + 1 if stale else 0
        self._previous_page = page
        stride = max(1, request.limit - 1)
        if self._stale_pages >= max(MIN_STALE_PAGES, math.ceil(STALE_OFFSETS / stride)):
            msg = (
                f"The API answered the customer listing at offset={request.offset} "
                f"limit={request.limit} with the same customers as the previous page(s) "
                f"({self._stale_pages + 1} pages in a row, total={total}): it seems to ignore "
                f"`offset`. Stopped after {self.requests} requests."
            )
            raise PaginationError(msg)

    @staticmethod
    def _give_up(what: str) -> None:
        msg = (
            f"The customer listing kept shifting while it was read ({what}); try again when "
            "fewer customers are being created or deleted."
        )
        raise PaginationError(msg)

    def _finish_certifying_pass(self, total: int) -> None:
        seen, counted = self._pass_ids, len(self._pass_ids) == total
        if self.passes == 1 and self._first_pass_check and self._first_pass_check(set(seen)):
            self.certified = True
            self._next = None
            return
        if self._previous_pass is not None:
            previous, previous_counted = self._previous_pass
            if previous_counted and previous <= seen:
                self.certified = True
                self._next = None
                return
        self._previous_pass = (seen, counted)
        self._pass_ids = set()
        if self.passes >= MAX_PASSES:
            self._next = None
            return
        self.passes += 1
        self.verifying = True
        self._expect_seen_head = False
        self._next = PageRequest(0, self.page_size)

    def _finish_pass(self) -> None:
        self._pass_ids = set()
        if self.drift_detected and not self.verifying:
            # One verification pass from the start picks up anything a shift hid.
            self.verifying = True
            self._expect_seen_head = False
            self._next = PageRequest(0, self.page_size)
        else:
            self._next = None
