"""The loader's policy for committing at a STATE (time and rows bounds)."""

from __future__ import annotations

from tap_equipme.warehouse.commit_policy import CommitPolicy


def test_a_state_is_committed_after_enough_rows_or_enough_time() -> None:
    now = [0.0]
    policy = CommitPolicy(rows=100, seconds=30, clock=lambda: now[0])
    policy.record(99)
    assert not policy.due()
    policy.record()
    assert policy.due()
    policy.committed()
    assert not policy.due()
    now[0] = 30.0
    assert policy.due()  # no rows, but the interval passed
    policy.committed()
    assert not policy.due()
