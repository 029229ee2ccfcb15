"""The drift-proof paginator on its own: page arithmetic and drift recovery (no HTTP)."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tap_equipme.listing.pagination import MAX_STEP_BACKS, DriftProofPaginator, PageRequest


class FakeListing:
    """A name-sorted listing that can change between requests."""

    def __init__(self, size: int) -> None:
        self.rows = [(f"name-{i:06d}", i) for i in range(size)]
        self.next_id = size
        self.requests: list[PageRequest] = []

    def page(self, request: PageRequest) -> tuple[list[int], int]:
        self.requests.append(request)
        window = self.rows[request.offset : request.offset + request.limit]
        return [row_id for _, row_id in window], len(self.rows)

    def insert(self, rng: random.Random) -> None:
        self.rows.append((f"name-{rng.randrange(10**6):06d}x", self.next_id))
        self.next_id += 1
        self.rows.sort()

    def delete(self, rng: random.Random) -> int | None:
        if not self.rows:
            return None
        return self.rows.pop(rng.randrange(len(self.rows)))[1]


def _read_all(
    listing: FakeListing, page_size: int, on_request=None
) -> tuple[list[int], DriftProofPaginator]:
    paginator = DriftProofPaginator(page_size)
    emitted: list[int] = []
    while (request := paginator.next_request()) is not None:
        if on_request is not None:
            on_request()
        ids, total = listing.page(request)
        emitted.extend(ids[i] for i in paginator.accept(request, ids, total))
        assert len(listing.requests) < 10_000, "the paginator loops"
    return emitted, paginator


@pytest.mark.parametrize(
    ("size", "page_size", "requests"),
    [(0, 5, 1), (1, 5, 1), (5, 5, 1), (6, 5, 2), (9, 5, 2), (10, 5, 3), (3, 1, 3), (2000, 1000, 3)],
)
def test_a_stable_listing_is_read_once_with_a_one_item_overlap(size, page_size, requests):
    listing = FakeListing(size)
    emitted, paginator = _read_all(listing, page_size)

    assert emitted == list(range(size))
    assert len(listing.requests) == requests
    assert not paginator.drift_detected
    for previous, current in zip(listing.requests, listing.requests[1:], strict=False):
        assert current.offset == previous.offset + previous.limit - 1
    assert all(r.offset < max(size, 1) for r in listing.requests)
    assert all(1 <= r.limit <= 1000 for r in listing.requests)


def test_page_size_out_of_range_is_refused():
    with pytest.raises(ValueError, match="page_size"):
        DriftProofPaginator(0)
    with pytest.raises(ValueError, match="page_size"):
        DriftProofPaginator(1001)


def test_a_deletion_before_the_frontier_triggers_a_step_back_and_a_verification_pass():
    listing = FakeListing(30)
    calls = 0

    def delete_once():
        nonlocal calls
        calls += 1
        if calls == 2:
            del listing.rows[0]

    emitted, paginator = _read_all(listing, 10, delete_once)

    assert sorted(emitted) == list(range(30))
    assert paginator.drift_detected
    assert paginator.step_backs >= 1
    assert paginator.verifying


def test_a_short_page_ends_the_listing_even_if_total_says_more():
    paginator = DriftProofPaginator(10)
    request = paginator.next_request()
    assert request == PageRequest(0, 10)
    assert paginator.accept(request, [1, 2, 3], 50) == [0, 1, 2]
    assert paginator.done


@settings(max_examples=150, deadline=None)
@given(
    size=st.integers(0, 120),
    page_size=st.integers(1, 25),
    seed=st.integers(0, 10_000),
    inserts=st.integers(0, 3),
    deletes=st.integers(0, 3),
    every=st.integers(1, 4),
)
def test_drift_never_loses_a_lasting_row_nor_emits_one_twice(
    size, page_size, seed, inserts, deletes, every
):
    rng = random.Random(seed)
    listing = FakeListing(size)
    deleted: set[int] = set()
    calls = 0

    def churn():
        nonlocal calls
        calls += 1
        if calls % every == 0 and calls < 60:
            for _ in range(inserts):
                listing.insert(rng)
            for _ in range(deletes):
                gone = listing.delete(rng)
                if gone is not None:
                    deleted.add(gone)

    emitted, paginator = _read_all(listing, page_size, churn)

    assert len(emitted) == len(set(emitted)), "an id was emitted twice"
    lasting = set(range(size)) - deleted
    assert lasting <= set(emitted), "a row present for the whole read was skipped"
    assert paginator.step_backs <= MAX_STEP_BACKS


def test_a_listing_shifting_on_every_request_ends_in_a_clear_error(monkeypatch):
    from tap_equipme.errors import EquipmeError
    from tap_equipme.listing import pagination

    monkeypatch.setattr(pagination, "MAX_STEP_BACKS", 3)
    listing = FakeListing(200)

    def delete_before_frontier():
        if len(listing.requests) >= 1:
            del listing.rows[0:3]

    with pytest.raises(EquipmeError, match="kept shifting"):
        _read_all(listing, 10, delete_before_frontier)
