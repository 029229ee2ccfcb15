"""The pace a cut sets: the goodput estimate it starts from, and CUBIC's curve back up from it.

Pure arithmetic for `RateLimiter` (no clock, no lock, no state): what the server let through
before a 429 says what it allows (for a token bucket or a fixed window, its sustainable rate),
and the pace then climbs back along CUBIC's curve normalised to that estimate, as botocore's
adaptive mode and TCP CUBIC do.
"""

from __future__ import annotations

from collections import deque

# Share of the measured goodput the rate drops to after a 429 (botocore: 0.7, against a
# rougher estimate: its measured send rate, 429s included).
BETA = 0.9
# Seconds of answers the goodput estimate looks back at most, and at least divides by (a
# first 429 a few milliseconds into a run would otherwise estimate from a burst).
ESTIMATE_WINDOW_S = 10.0
MIN_ESTIMATE_SPAN_S = 1.0
# Answers a first burst needs before its pause counts in the estimate (with fewer, one answer
# more or less swings it by tens of percent).
MIN_BURST_ANSWERS = 10
# Seconds from a cut back to the estimate: PROBE_REQUESTS requests' worth at the estimated
# rate, bounded; long enough that probing costs few 429s, short enough that a raised limit is
# found within seconds.
PROBE_REQUESTS = 40.0
MIN_PROBE_S = 3.0
MAX_PROBE_S = 15.0
# Past 2 K seconds without a 429 the rate doubles every this many seconds (a raised limit is
# found within seconds, whatever the old one was).
DOUBLING_S = 1.5
# Doublings at most (beyond them the pace is far above any rate a tap reaches: unpaced).
MAX_DOUBLINGS = 20.0
# The slowest pace ever set, requests per second.
MIN_RATE = 0.1


def probe_seconds(estimate: float) -> float:
    """Seconds from a cut back to the estimate (`k`): PROBE_REQUESTS requests' worth, bounded."""
    return min(max(PROBE_REQUESTS / estimate, MIN_PROBE_S), MAX_PROBE_S)


def probe_factor(elapsed: float, k: float) -> float:
    """The send rate `elapsed` seconds after a cut, as a multiple of the estimate then.

    CUBIC's curve scaled to the estimate: BETA at the cut, 1 after `k` seconds (flat around
    it), 2 - BETA after `2 k`; from there on it doubles every DOUBLING_S seconds.

    Args:
        elapsed: Seconds since the cut.
        k: Seconds from the cut back to the estimate.

    Returns:
        The factor.
    """
    if elapsed <= 2 * k:
        return 1.0 + (1.0 - BETA) * ((elapsed - k) / k) ** 3
    return (2.0 - BETA) * 2.0 ** min((elapsed - 2 * k) / DOUBLING_S, MAX_DOUBLINGS)


def goodput_since(
    answers: deque[float], now: float, since: float, *, first: bool, pause_s: float
) -> tuple[float, float]:
    """The goodput a cut estimates from: answers since `since` over that span.

    Drops the answer times at or before `since` from `answers` (they are no longer needed).

    Args:
        answers: Times of the answers (not 429s) since the last cut, oldest first.
        now: The cut.
        since: The last cut, or the start of the run (at most ESTIMATE_WINDOW_S back).
        first: No cut before this one (the span starts with the run, unpaced).
        pause_s: The pause the 429 asks for.

    Returns:
        (answers per second, the span in seconds they were counted over).
    """
    while answers and answers[0] <= since:
        answers.popleft()
    # The first span starts with the run: at least a second, or a burst into a full bucket
    # would read as the rate. Later spans start with a cut and include its pause.
    span = max(now - since, MIN_ESTIMATE_SPAN_S if first else 1e-3)
    estimate = len(answers) / span
    if first and now - since < MIN_ESTIMATE_SPAN_S:
        # Unpaced so far, the answers are what the server refilled over the span plus what it
        # held at the start: a bucket's capacity, one second of its rate (the sandbox's, and
        # a common default). Counting that second keeps a short burst from overestimating.
        span = now - since + MIN_ESTIMATE_SPAN_S
        estimate = len(answers) / span
        if pause_s > now - since and len(answers) >= MIN_BURST_ANSWERS:
            estimate = min(estimate, len(answers) / (now - since + pause_s))
        return estimate, span
    if first:
        # Unpaced so far, the tap itself may have been the bottleneck for most of the span
        # (start-up, a busy machine); the last second is what the server allowed.
        recent = sum(1 for t in answers if t > now - MIN_ESTIMATE_SPAN_S)
        if recent / MIN_ESTIMATE_SPAN_S > estimate:
            estimate, span = recent / MIN_ESTIMATE_SPAN_S, MIN_ESTIMATE_SPAN_S
        if pause_s > now - since and len(answers) >= MIN_BURST_ANSWERS:
            # Refused sooner than the wait it asks for: a window-like limit, whose allowance
            # came in a burst (50 per 10 s: 50 answers in 0.5 s, then "wait 9.5 s"). Its rate
            # is the answers over the span and the pause.
            estimate = min(estimate, len(answers) / (now - since + pause_s))
    return estimate, span


def goodput_lately(lately: deque[float], now: float, started: float) -> float:
    """Answers per second over the last ESTIMATE_WINDOW_S (at least a second; from `started`).

    Drops the answer times older than the window from `lately`.
    """
    while lately and lately[0] <= now - ESTIMATE_WINDOW_S:
        lately.popleft()
    window = min(max(now - started, 1.0), ESTIMATE_WINDOW_S)
    return len(lately) / window


def later_estimate(
    estimate: float,
    lately: float,
    *,
    floor_lately: bool,
    standing: float | None,
    counted: int,
    pause_s: float,
) -> float:
    """The estimate a cut sets, from `goodput_since`'s and what else is known.

    Args:
        estimate: The goodput since the last cut (`goodput_since`).
        lately: The goodput of the last seconds (`goodput_lately`).
        floor_lately: Never go below `lately` (a later cut: a short span after a pause is no
            measure of what the server allows, and each cut estimating from the goodput of the
            pace the last one set ratchets the pace down).
        standing: The standing estimate when the refused request was sent past it (probing
            above it): the server allowed that rate, a limit under it would have refused
            sooner, so the cut never goes below it. None otherwise.
        counted: Answers `estimate` was counted from.
        pause_s: The pause the 429 asks for.

    Returns:
        Requests per second.
    """
    if floor_lately:
        estimate = max(estimate, lately)
    if standing is not None:
        estimate = max(estimate, standing)
    if not counted:
        # Nothing got through since the last cut: no estimate. Then one request per pause the
        # server asked for (it said a request is welcome again by then).
        estimate = 1.0 / max(pause_s, 1e-3)
    return estimate
