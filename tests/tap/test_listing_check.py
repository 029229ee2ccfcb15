"""`ListingCheck`: one-pass certification of a change-capture listing (pure logic).

The property test plays several scheduled runs against a model of the API (a name-ordered
list with creation times, `createdAfter`, offset pages) that inserts, deletes and moves
customers between any two requests, and between runs. Each run does what the list stream
does: one pass certified by the previous run's check if it can be, else the second pass.
Whenever a run certifies its listing, every customer alive for the whole run was emitted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from tap_equipme.listing.listing_check import ListingCheck, id_set_digest
from tap_equipme.listing.pagination import DriftProofPaginator


def test_the_digest_ignores_order_and_tells_sets_apart() -> None:
    assert id_set_digest([3, 1, 2]) == id_set_digest([1, 2, 3])
    assert id_set_digest([1, 2, 3])[1] != id_set_digest([1, 2, 4])[1]
    assert id_set_digest([]) == (0, "0" * 32)


def test_a_pass_missing_an_old_customer_or_a_new_one_is_not_complete() -> None:
    check = ListingCheck.record(range(1, 101), {99, 100}, "2026-12-01T10:00:00Z", "")
    assert check.count == 98
    everyone = set(range(1, 102))  # 101 was created after the cutoff
    assert check.proves_complete(everyone, {99, 100, 101})
    assert not check.proves_complete(everyone - {7}, {99, 100, 101}), "an old one missed"
    assert not check.proves_complete(everyone - {101}, {99, 100, 101}), "a new one missed"
    # 7 missed, and 150 (created after the cutoff, seen, deleted before the check) makes up
    # the count: only the digest tells.
    assert not check.proves_complete((everyone - {7}) | {150}, {99, 100, 101})


def test_the_state_form_round_trips_and_anything_malformed_is_no_check() -> None:
    check = ListingCheck.record([5, 6], [], "2026-12-01T10:00:00Z", "2020-01-01T00:00:00Z")
    assert ListingCheck.from_state(check.to_state()) == check
    for bad in (None, [], {"cutoff": 1}, {**check.to_state(), "digest": "xyz"}):
        assert ListingCheck.from_state(bad) is None
    assert set(check.to_state()) == {"cutoff", "count", "digest", "scope"}


@dataclass
class ModelApi:
    """A name-ordered listing with creation times; `now` ticks once per request."""

    order: list[int] = field(default_factory=list)
    created: dict[int, int] = field(default_factory=dict)
    deleted: set[int] = field(default_factory=set)
    now: int = 0
    next_id: int = 1

    def create(self, position: int) -> None:
        self.order.insert(position % (len(self.order) + 1), self.next_id)
        self.created[self.next_id] = self.now
        self.next_id += 1

    def mutate(self, kind: str, a: int, b: int) -> None:
        if kind == "i":
            self.create(a)
        elif kind == "d" and self.order:
            self.deleted.add(self.order.pop(a % len(self.order)))
        elif kind == "r" and self.order:
            moved = self.order.pop(a % len(self.order))
            self.order.insert(b % (len(self.order) + 1), moved)

    def page(self, offset: int, limit: int, created_after: int | None) -> tuple[list[int], int]:
        self.now += 1
        listing = [
            i for i in self.order if created_after is None or self.created[i] > created_after
        ]
        return listing[offset : offset + limit], len(listing)


def _read(
    api: ModelApi, paginator: DriftProofPaginator, created_after: int | None, ops
) -> list[int]:
    emitted: list[int] = []
    while (request := paginator.next_request()) is not None:
        ids, total = api.page(request.offset, request.limit, created_after)
        emitted += [ids[i] for i in paginator.accept(request, ids, total)]
        for kind, a, b in next(ops, ()):
            api.mutate(kind, a, b)
        assert api.now < 100_000, "the read did not end"
    return emitted


def _run(api: ModelApi, state: dict, page_size: int, ops) -> tuple[bool, list[int], int]:
    """One change-capture run, as `EquipmeListStream` does it; returns (certified, ids, passes)."""
    started = api.now
    check = ListingCheck.from_state(state.get("check"))
    if check is not None and check.cutoff != str(state.get("bookmark")):
        check = None

    def first_pass(first: set[int]) -> bool:
        assert check is not None
        created = DriftProofPaginator(page_size)
        ids = set(_read(api, created, int(check.cutoff), ops))
        one_page = created.requests == 1 and not created.drift_detected
        return one_page and check.proves_complete(first, ids)

    paginator = DriftProofPaginator(
        page_size, certify=True, first_pass_check=first_pass if check else None
    )
    emitted = _read(api, paginator, None, ops)
    cutoff = started - 1  # the bookmark: start minus a lookback
    state.pop("check", None)
    if paginator.certified:
        created = set(_read(api, DriftProofPaginator(page_size), cutoff, ops))
        state["check"] = ListingCheck.record(emitted, created, str(cutoff), "").to_state()
    state["bookmark"] = cutoff
    return paginator.certified, emitted, paginator.passes


OP = st.tuples(st.sampled_from("idr"), st.integers(0, 10_000), st.integers(0, 10_000))
# Mostly quiet requests: a run without deletions is the one that may certify in one pass.
OPS = st.lists(
    st.one_of(st.just([]), st.just([]), st.just([]), st.lists(OP, min_size=1, max_size=2)),
    max_size=12,
)


@settings(max_examples=1500, deadline=None)
@given(
    size=st.integers(0, 25),
    page_size=st.integers(2, 8),
    runs=st.lists(st.tuples(OPS, OPS), min_size=2, max_size=4),
)
def test_a_certified_run_holds_every_customer_alive_throughout_it(
    size: int, page_size: int, runs: list[tuple[list, list]]
) -> None:
    api = ModelApi()
    for position in range(size):
        api.create(position)
    api.now = 100
    state: dict = {}
    for before, during in runs:
        for step in before:  # changes between two scheduled runs
            for kind, a, b in step:
                api.mutate(kind, a, b)
        alive_at_start = set(api.order)
        certified, emitted, passes = _run(api, state, page_size, iter(during))
        assert len(emitted) == len(set(emitted)), "an id was emitted twice"
        if certified:
            missed = alive_at_start - api.deleted - set(emitted)
            assert not missed, f"a certified listing missed {sorted(missed)} (passes {passes})"


def test_a_quiet_run_after_a_certified_one_reads_the_listing_once() -> None:
    api = ModelApi()
    for position in range(50):
        api.create(position)
    api.now = 100  # the customers are older than the first run's bookmark
    state: dict = {}
    assert _run(api, state, 10, iter(()))[::2] == (True, 2), "the first run reads twice"
    api.mutate("r", 3, 40)  # edits and renames between runs do not matter
    api.create(7)  # nor do new customers
    assert _run(api, state, 10, iter(()))[::2] == (True, 1)
    api.mutate("d", 5, 0)  # a deletion makes the next run read twice again
    assert _run(api, state, 10, iter(()))[::2] == (True, 2)
    assert _run(api, state, 10, iter(()))[::2] == (True, 1)
