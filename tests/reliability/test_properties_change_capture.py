"""Property: a change-capture run never falsely deletes (against the sandbox over HTTP).

Once every run may delete, a customer the listing misses is a false deletion. While the tap
pages, the sandbox inserts, deletes and renames customers (a renamed customer moves in the
name order, here always from ahead of the reading position to behind it: the move a paging
client cannot see). Whatever happens, when the tap closes the customers version (the
ACTIVATE_VERSION after the last record, which lets the loader delete), every customer that
existed for the whole run was emitted; and a run without drift always closes it.
"""

from __future__ import annotations

import contextlib
import io
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tap_equipme.tap import TapEquipme

EXAMPLES = settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _run_tap(config: dict[str, Any], state: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    out = io.StringIO()
    tap = TapEquipme(config=config, state=state, parse_env_config=False)
    try:
        with contextlib.redirect_stdout(out):
            tap.sync_all()
    finally:
        tap.api_client.close()
    return [json.loads(line) for line in out.getvalue().splitlines()]


@EXAMPLES
@given(
    page_size=st.integers(3, 12),
    after=st.integers(1, 3),
    insert=st.integers(0, 2),
    delete=st.integers(0, 2),
    rename=st.integers(0, 3),
    repeat=st.booleans(),
)
def test_a_closed_version_holds_every_customer_alive_for_the_whole_run(
    sandbox_server, api_key, page_size, after, insert, delete, rename, repeat
):
    control = sandbox_server.control
    control.reset(customers=40, seed=7)
    before = {c["id"] for c in control.snapshot()["customers"]}
    if insert or delete or rename:
        control.schedule_drift(after, insert=insert, delete=delete, repeat=repeat, rename=rename)
    config = {
        "api_key": api_key,
        "api_url": sandbox_server.base_url,
        "page_size": page_size,
        "backoff_factor": 0.001,
        "metadata_concurrency": 4,
    }
    messages = _run_tap(config)
    control.schedule_drift(1)  # a no-op plan replaces any repeating one
    after_run = {c["id"] for c in control.snapshot()["customers"]}
    emitted = {
        m["record"]["id"] for m in messages if m["type"] == "RECORD" and m["stream"] == "customers"
    }
    activations = [
        m for m in messages if m["type"] == "ACTIVATE_VERSION" and m["stream"] == "customers"
    ]
    closed = len(activations) == 2
    alive_throughout = before & after_run  # ids never come back once deleted
    if closed:
        assert alive_throughout <= emitted, sorted(alive_throughout - emitted)
    if not (insert or delete or rename):
        assert closed, "a run without drift must close its version"


def _final_state(messages: list[dict[str, Any]]) -> dict[str, Any]:
    return [m["value"] for m in messages if m["type"] == "STATE"][-1]


@EXAMPLES
@given(
    page_size=st.integers(3, 12),
    after=st.integers(1, 4),
    insert=st.integers(0, 2),
    delete=st.integers(0, 2),
    rename=st.integers(0, 3),
    deleted_between_runs=st.booleans(),
)
def test_a_listing_certified_in_one_pass_holds_every_customer_alive_for_the_whole_run(
    sandbox_server, api_key, page_size, after, insert, delete, rename, deleted_between_runs
):
    """The second run may certify its listing from the first run's digest (`listing_check`)."""
    control = sandbox_server.control
    control.reset(customers=40, seed=8)
    config = {
        "api_key": api_key,
        "api_url": sandbox_server.base_url,
        "page_size": page_size,
        "backoff_factor": 0.001,
        "metadata_concurrency": 4,
    }
    state = _final_state(_run_tap(config))
    assert "listing_check" in state["bookmarks"]["customers"]
    control.create_customers([{"name": "Zwischendurch GmbH", "active": True}])
    if deleted_between_runs:
        control.delete_customers([control.snapshot()["customers"][5]["id"]])
    before = {c["id"] for c in control.snapshot()["customers"]}
    if insert or delete or rename:
        control.schedule_drift(after, insert=insert, delete=delete, rename=rename)
    control.clear_stats()
    messages = _run_tap(config, state)
    control.schedule_drift(1)
    list_requests = control.stats()["by_route"]["GET /v1/sales/customers"]
    after_run = {c["id"] for c in control.snapshot()["customers"]}
    emitted = {
        m["record"]["id"] for m in messages if m["type"] == "RECORD" and m["stream"] == "customers"
    }
    closed = [m for m in messages if m["type"] == "ACTIVATE_VERSION" and m["stream"] == "customers"]
    if len(closed) == 2:
        missed = (before & after_run) - emitted
        assert not missed, sorted(missed)
    if not (insert or delete or rename or deleted_between_runs):
        pages = 1 + max(0, -(-(len(before) - page_size) // (page_size - 1)))
        assert len(closed) == 2
        assert list_requests == pages + 2, "a quiet run reads its listing once"


OPS = st.lists(
    st.lists(
        st.tuples(st.sampled_from("idr"), st.integers(0, 10_000), st.integers(0, 10_000)),
        max_size=4,
    ),
    max_size=16,
)


@settings(max_examples=400, deadline=None)
@given(st.integers(0, 120), st.integers(1, 20), OPS)
def test_a_certified_listing_holds_every_id_alive_throughout_whatever_moves(
    size: int, page_size: int, ops: list[list[tuple[str, int, int]]]
) -> None:
    """The paginator alone, any inserts / deletes / moves (renames) between requests."""
    from tap_equipme.listing.pagination import DriftProofPaginator

    listing, next_id, deleted = list(range(1, size + 1)), size + 1, set()
    paginator = DriftProofPaginator(page_size, certify=True)
    emitted: list[int] = []
    requests = 0
    while (request := paginator.next_request()) is not None:
        page = listing[request.offset : request.offset + request.limit]
        emitted += [page[i] for i in paginator.accept(request, page, len(listing))]
        for kind, a, b in ops[requests] if requests < len(ops) else ():
            if kind == "i":
                listing.insert(a % (len(listing) + 1), next_id)
                next_id += 1
            elif kind == "d" and listing:
                deleted.add(listing.pop(a % len(listing)))
            elif kind == "r" and listing:
                moved = listing.pop(a % len(listing))
                listing.insert(b % (len(listing) + 1), moved)
        requests += 1
        assert requests < 20_000, "the read did not end"
    assert len(emitted) == len(set(emitted)), "an id was emitted twice"
    if paginator.certified:
        assert not (set(range(1, size + 1)) - deleted - set(emitted))
    if not ops:
        assert paginator.certified
        assert paginator.passes == 2
