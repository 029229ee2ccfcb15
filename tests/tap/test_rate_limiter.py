"""The adaptive rate limiter as pure logic, on a fake clock (no threads, no HTTP)."""

from __future__ import annotations

import math
import random

import pytest

from tap_equipme.http.pace_curve import BETA, probe_factor
from tap_equipme.http.rate_limiter import RateLimiter


class FakeClock:
    """Monotonic seconds that move only when someone sleeps or a request takes time."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class TokenBucket:
    """The sandbox's limiter: `rate` tokens a second, one second's worth of capacity."""

    def __init__(self, clock: FakeClock, rate: float) -> None:
        self.clock, self.rate = clock, rate
        self.tokens, self.at = max(rate, 1.0), clock.now

    def admit(self) -> float | None:
        now = self.clock.now
        self.tokens = min(max(self.rate, 1.0), self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return None
        return 1.0  # refused: Retry-After 1 s


class FixedWindow:
    """`count` requests per `window` seconds; Retry-After until the window ends."""

    def __init__(self, clock: FakeClock, count: int, window: float) -> None:
        self.clock, self.count, self.window = clock, count, window
        self.start, self.used = clock.now, 0

    def admit(self) -> float | None:
        now = self.clock.now
        if now >= self.start + self.window:
            self.start += math.floor((now - self.start) / self.window) * self.window
            self.used = 0
        if self.used < self.count:
            self.used += 1
            return None
        return float(math.ceil(self.start + self.window - now))


def limiter(clock: FakeClock, **kwargs: object) -> RateLimiter:
    return RateLimiter(max_concurrency=8, clock=clock, sleep=clock.sleep, **kwargs)  # type: ignore[arg-type]


def drive(limiter_: RateLimiter, clock: FakeClock, server, seconds: float, latency=0.01):
    """One worker sends back to back through the limiter for `seconds`; returns answer times."""
    answered: list[float] = []
    refused = 0
    end = clock.now + seconds
    while clock.now < end:
        permit = limiter_.acquire()
        wait = server.admit()
        clock.now += latency
        if wait is None:
            answered.append(clock.now)
            limiter_.on_answer(permit, throttled=False)
        else:
            refused += 1
            limiter_.on_answer(permit, throttled=True, pause_s=wait)
            clock.sleep(wait)
    return answered, refused


def test_nothing_is_paced_until_the_first_429():
    clock = FakeClock()
    rl = limiter(clock)
    for _ in range(1000):
        rl.on_answer(rl.acquire(), throttled=False)
    assert clock.now == 0.0
    assert rl.as_dict()["rate_per_s"] is None
    assert rl.as_dict()["waited_s"] == 0.0


def test_slow_start_opens_concurrency_half_a_request_per_answer():
    clock = FakeClock()
    rl = limiter(clock)
    first = rl.acquire()
    assert rl._wait_locked(clock.now) > 0, "a second request must wait for the first answer"
    rl.on_answer(first, throttled=False)
    second = rl.acquire()
    assert rl._wait_locked(clock.now) > 0, "1.5 in flight allowed: still one"
    rl.on_answer(second, throttled=False)
    permits = [rl.acquire(), rl.acquire()]
    assert rl._wait_locked(clock.now) > 0
    for permit in permits:
        rl.on_answer(permit, throttled=False)
    while rl._window < rl.max_concurrency:
        rl.on_answer(rl.acquire(), throttled=False)
    # Once open (8 = max_concurrency) the limiter no longer counts: the fan-out bounds it.
    assert [rl.acquire() for _ in range(20)]


def test_a_429_pauses_every_worker_for_the_whole_retry_after():
    clock = FakeClock()
    rl = limiter(clock)
    for _ in range(20):
        rl.on_answer(rl.acquire(), throttled=False)
    clock.now = 0.5
    rl.on_answer(rl.acquire(), throttled=True, pause_s=3.0)
    # Any worker's next request goes out no sooner than 3 s after the 429.
    rl.acquire()
    assert clock.now >= 3.5
    assert rl.as_dict()["paused_s"] == pytest.approx(3.0)


def test_the_first_429_sets_the_rate_just_under_the_measured_goodput():
    clock = FakeClock()
    rl = limiter(clock)
    for _ in range(40):  # 40 answers in 2 s: 20 a second
        rl.on_answer(rl.acquire(), throttled=False)
        clock.now += 0.05
    rl.on_answer(rl.acquire(), throttled=True, pause_s=1.0)
    state = rl.as_dict()
    assert state["settled_per_s"] == pytest.approx(20.0, rel=0.05)
    assert state["rate_per_s"] == pytest.approx(BETA * 20.0, rel=0.05)
    assert state["cuts"] == 1


def test_the_first_429_of_a_fixed_window_estimates_the_window_not_the_burst():
    clock = FakeClock()
    rl = limiter(clock)
    for _ in range(50):  # a window's allowance in 0.5 s, then "come back in 9.5 s"
        rl.on_answer(rl.acquire(), throttled=False)
        clock.now += 0.01
    rl.on_answer(rl.acquire(), throttled=True, pause_s=9.5)
    assert rl.as_dict()["settled_per_s"] == pytest.approx(5.0, rel=0.05)


def test_429s_to_requests_sent_before_the_cut_extend_the_pause_but_cut_once():
    clock = FakeClock()
    rl = limiter(clock)
    for _ in range(10):
        rl.on_answer(rl.acquire(), throttled=False)
    in_flight = [rl.acquire() for _ in range(3)]
    clock.now = 1.0
    rl.on_answer(in_flight[0], throttled=True, pause_s=1.0)
    clock.now = 1.2
    rl.on_answer(in_flight[1], throttled=True, pause_s=1.0)
    rl.on_answer(in_flight[2], throttled=True, pause_s=1.0)
    state = rl.as_dict()
    assert state["cuts"] == 1
    assert state["throttled"] == 3
    rl.acquire()
    assert clock.now >= 2.2, "the later 429's Retry-After is honoured too"


def test_the_rate_probes_upward_after_a_cut_and_doubles_once_past_the_plateau():
    assert probe_factor(0.0, 3.0) == pytest.approx(BETA)
    assert probe_factor(3.0, 3.0) == pytest.approx(1.0)
    assert probe_factor(6.0, 3.0) == pytest.approx(2.0 - BETA)
    assert probe_factor(6.0 + 1.5, 3.0) == pytest.approx(2 * (2.0 - BETA))
    samples = [probe_factor(t / 10, 3.0) for t in range(200)]
    assert samples == sorted(samples), "the probe never lowers the rate by itself"


def test_max_requests_per_second_caps_the_rate_from_the_first_request():
    clock = FakeClock()
    rl = limiter(clock, max_rate=10.0)
    for _ in range(101):
        rl.on_answer(rl.acquire(), throttled=False)
    assert clock.now == pytest.approx(10.0, rel=0.02)


def test_not_adaptive_keeps_only_the_cap_no_shared_pause():
    clock = FakeClock()
    rl = limiter(clock, adaptive=False)
    rl.on_answer(rl.acquire(), throttled=True, pause_s=5.0)
    rl.acquire()
    assert clock.now == 0.0
    assert rl.as_dict()["throttled"] == 1
    assert rl.as_dict()["rate_per_s"] is None


def test_a_storm_with_no_success_paces_one_request_per_pause_not_slower():
    clock = FakeClock()
    rl = limiter(clock)
    for _ in range(5):
        rl.on_answer(rl.acquire(), throttled=True, pause_s=0.01)
    # Nothing got through: the pace follows the pauses the server asked for (100 a second).
    assert rl.as_dict()["rate_per_s"] >= 0.5 * 100


@pytest.mark.parametrize("rate", [2.0, 5.0, 20.0, 100.0])
def test_against_a_token_bucket_goodput_is_near_the_limit_with_few_429s(rate):
    clock = FakeClock()
    rl = limiter(clock)
    answered, refused = drive(rl, clock, TokenBucket(clock, rate), 120.0, latency=0.2 / rate)
    goodput = len(answered) / clock.now
    assert goodput >= 0.9 * rate
    assert refused / (refused + len(answered)) <= 0.05


def test_against_a_fixed_window_goodput_is_near_the_limit_with_few_429s():
    clock = FakeClock()
    rl = limiter(clock)
    answered, refused = drive(rl, clock, FixedWindow(clock, 50, 10.0), 120.0)
    assert len(answered) / clock.now >= 0.9 * 5.0
    assert refused / (refused + len(answered)) <= 0.05


def test_a_limit_that_changes_mid_run_is_followed_within_ten_seconds():
    clock = FakeClock()
    rl = limiter(clock)
    drive(rl, clock, TokenBucket(clock, 40.0), 20.0)
    lowered, _ = drive(rl, clock, TokenBucket(clock, 10.0), 20.0)
    settled = [t for t in lowered if t >= clock.now - 10.0]
    assert len(settled) / 10.0 == pytest.approx(10.0, rel=0.15)
    raised_at = clock.now
    raised, _ = drive(rl, clock, TokenBucket(clock, 40.0), 20.0)
    # Within 10 s of the raise, some 2-s stretch runs at 90% of the new limit or more ...
    reached = [
        start / 10
        for start in range(0, 100)
        if sum(1 for t in raised if 0 <= t - raised_at - start / 10 < 2.0) >= 0.9 * 40.0 * 2
    ]
    assert reached
    assert reached[0] <= 10.0
    # ... and the second 10 s after it average at least 75% of it, 429 pauses included.
    late = [t for t in raised if raised_at + 10.0 <= t < raised_at + 20.0]
    assert len(late) / 10.0 >= 0.75 * 40.0


# ----- 429s not tied to rate (issue 19) ------------------------------------------------------
from hypothesis import HealthCheck, example, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from tests.tap.limiter_sim import Server, simulate  # noqa: E402


def test_a_cut_that_does_not_lower_the_429_share_is_undone_and_not_repeated():
    clock = FakeClock()
    rl = limiter(clock)
    for _ in range(29):  # unpaced, 50 a second
        rl.on_answer(rl.acquire(), throttled=False)
        clock.now += 0.02
    rl.on_answer(rl.acquire(), throttled=True, pause_s=1.0)
    assert rl.as_dict()["cuts"] == 1
    assert rl.as_dict()["rate_per_s"] is not None
    # After the pause, slower: one request in five is still refused, as before the cut.
    for n in range(1, 40):
        permit = rl.acquire()
        clock.now += 0.02
        rl.on_answer(permit, throttled=n % 5 == 0, pause_s=1.0)
        if rl.as_dict()["cuts_undone"]:
            break
    state = rl.as_dict()
    assert state["cuts_undone"] == 1, state
    assert state["cuts"] == 1, "the cut was not repeated"
    assert state["rate_per_s"] is None, "the pace went back to what it was before: unpaced"
    assert state["settled_per_s"] is None, "an undone cut found no rate limit"
    assert 0.05 <= (state["background_share"] or 0.0) <= 0.3
    # From now on such a 429 is waited out by its own request alone: the next one goes at once.
    before, paused = clock.now, state["paused_s"]
    rl.on_answer(rl.acquire(), throttled=True, pause_s=1.0)
    rl.acquire()
    assert clock.now == before
    assert rl.as_dict()["paused_s"] == paused


def test_background_429s_do_not_starve_a_sync():
    """14% of requests refused at random: the old limiter took ~60x the fixed run's time."""
    adaptive = simulate(Server(None, 0.14, seed=1), requests=300)
    fixed = simulate(Server(None, 0.14, seed=1), requests=300, adaptive=False)
    assert adaptive.seconds <= 1.5 * fixed.seconds
    assert adaptive.longest_below(50.0) <= 10.0


# The seeds of a wider sweep (buckets 5/20/100 per s x background 0/5/15/30% x seeds 0-39, 480
# runs) on which the property still fails (35 of 480 before this round, 5 now). Given as
# explicit examples, so the test fails on them whatever else Hypothesis draws.
STILL_SLOW = [(5.0, 0.3, 8), (20.0, 0.15, 2), (100.0, 0.05, 0), (100.0, 0.05, 2), (100.0, 0.15, 2)]


def _with_still_slow_examples(test):
    for rate, background, seed in STILL_SLOW:
        test = example(rate=rate, background=background, seed=seed)(test)
    return test


@pytest.mark.xfail(
    strict=True,
    reason="issue 19 point 3 not met yet: over 480 seeds the pace still sits under half the "
    "bucket for over 10 s in 5 (worst 35 s; 35 of 480 and 44 s before): a guess from two "
    "answers saw no 429 in its 4-answer trial, then a cut past it from the goodput since held "
    "~2/s for 6 s (2 seeds); a first cut from 20-50 answers at 5% background saw no 429 by "
    "chance and each probe past it was cut and kept by chance too (2); a cut right after an "
    "undo with no answer since paced one request per Retry-After for 15 s (5/s + 30%). See "
    "docs/ARCHITECTURE.md 'Request rate'.",
)
@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    rate=st.sampled_from([5.0, 20.0, 100.0]),
    background=st.sampled_from([0.0, 0.05, 0.15, 0.3]),
    seed=st.integers(0, 10_000),
)
@_with_still_slow_examples
def test_the_pace_never_stays_under_half_the_bucket_for_more_than_10_s(rate, background, seed):
    run = simulate(Server(rate, background, seed=seed), requests=int(rate * 40))
    assert run.longest_below(0.5 * rate) <= 10.0


def test_the_pace_stays_under_half_the_bucket_on_most_seeds():
    """The sweep's first five seeds (60 runs): 4 over 10 s now, 9 before (the property is xfail)."""
    slow = []
    for rate in (5.0, 20.0, 100.0):
        for background in (0.0, 0.05, 0.15, 0.3):
            for seed in range(5):
                run = simulate(Server(rate, background, seed=seed), requests=int(rate * 40))
                below = run.longest_below(0.5 * rate)
                if below > 10.0:
                    slow.append((rate, background, seed, round(below, 1)))
    assert len(slow) <= 4, slow
    assert max((below for *_, below in slow), default=0.0) <= 36.0, slow


@pytest.mark.parametrize("in_flight_refused", [False, True])
def test_an_unpaced_first_cut_is_judged_by_the_requests_in_flight_at_it(in_flight_refused):
    """A chance 429 leaves the requests in flight alone (undone at once); a dry bucket does not."""
    clock = FakeClock()
    rl = limiter(clock)
    for _ in range(20):  # slow start fully open, unpaced
        rl.on_answer(rl.acquire(), throttled=False)
        clock.now += 0.01
    refused = rl.acquire()
    in_flight = [rl.acquire() for _ in range(4)]
    clock.now += 0.02
    rl.on_answer(refused, throttled=True, pause_s=1.0)
    assert rl.as_dict()["cuts"] == 1
    assert rl.as_dict()["rate_per_s"] is not None
    for permit in in_flight:
        rl.on_answer(permit, throttled=in_flight_refused, pause_s=1.0)
    state = rl.as_dict()
    if in_flight_refused:
        assert state["cuts_undone"] == 0
        assert state["rate_per_s"] is not None
        return
    assert state["cuts_undone"] == 1
    assert state["rate_per_s"] is None, "back to unpaced"
    assert state["background_share"]
    before = clock.now
    rl.acquire()
    assert clock.now == before, "the pause the undone cut imposed is lifted"


class RandomRefusals:
    """No rate limit; `share` of the requests refused at random (Retry-After 1 s)."""

    def __init__(self, share: float, seed: int) -> None:
        self.share, self.rng = share, random.Random(seed)

    def admit(self) -> float | None:
        return 1.0 if self.rng.random() < self.share else None


def test_retests_of_a_background_back_off_while_they_are_undone():
    """Every retest of background 429s costs a trial at a lowered pace: 10 s, 20 s, ... 160 s."""
    clock = FakeClock()
    rl = limiter(clock)
    answered, _ = drive(rl, clock, RandomRefusals(0.15, seed=3), 400.0, latency=0.02)
    state = rl.as_dict()
    # Retesting every 10 s would be some 40 cuts; backing off, about 8 (a few first ones).
    assert state["cuts"] <= 12, state
    assert state["cuts_undone"] >= state["cuts"] - 2, state
    fixed_clock = FakeClock()
    fixed = limiter(fixed_clock, adaptive=False)
    baseline, _ = drive(fixed, fixed_clock, RandomRefusals(0.15, seed=3), 400.0, latency=0.02)
    assert len(answered) / clock.now >= 0.9 * len(baseline) / fixed_clock.now, state


class ThirdThenRandom(RandomRefusals):
    """The run's third request refused (two answers, nothing else in flight), then `share`."""

    def __init__(self, share: float, seed: int) -> None:
        super().__init__(share, seed)
        self.sent = 0

    def admit(self) -> float | None:
        self.sent += 1
        if self.sent <= 3:
            return 1.0 if self.sent == 3 else None
        return super().admit()


@pytest.mark.xfail(
    strict=True,
    reason="issue 19: benchmark 6's 15% case with seed 19. 6 of these 8 seeds now get 0.75-1.01 "
    "of the fixed run's goodput over 20 s (4 of 8 before, 0.29-0.43 for the rest); seeds 0 and 7 "
    "get 0.43 and 0.58: the guess's trial (2 s at 1.8/s, about 4 answers) saw no 429 by chance "
    "and a background 429 after the pace probed past it cut again from the goodput since (seed "
    "0), or a retest cut from a goodput lowered by the worker's own Retry-After waits (seed 7). "
    "Telling them apart sooner costs a 2/s bucket 429s (see docs/ARCHITECTURE.md 'Request "
    "rate').",
)
def test_a_429_on_the_third_request_sets_no_lasting_pace():
    """The run's third request refused, then 15% at random: the pace must not stay at 2/s."""
    worst = 1.0
    for seed in range(8):
        clock = FakeClock()
        rl = limiter(clock)
        answered, _ = drive(rl, clock, ThirdThenRandom(0.15, seed), 20.0, latency=0.02)
        fixed_clock = FakeClock()
        fixed = limiter(fixed_clock, adaptive=False)
        baseline, _ = drive(fixed, fixed_clock, ThirdThenRandom(0.15, seed), 20.0, latency=0.02)
        ratio = (len(answered) / clock.now) / (len(baseline) / fixed_clock.now)
        worst = min(worst, ratio)
    assert worst >= 0.65


@pytest.mark.parametrize("rate", [2.0, 5.0])
def test_eight_workers_against_a_slow_bucket_get_few_429s(rate):
    """Benchmark 6's slow buckets on the model (8 workers, 20 ms): 6.2% / 3.2% of 429s today.

    Guards the trade-off met in issue 19: letting an undecided trial absorb 429s as background
    (to fix the test above) gave 27% / 11% here and 31% / 15% in benchmark 6.
    """
    run = simulate(Server(rate, 0.0, seed=0), requests=int(rate * 30), latency=0.02)
    assert run.share_429 <= 0.10
    assert run.ok / run.seconds >= 0.9 * rate


def _standing_cut(clock: FakeClock) -> RateLimiter:
    """A limiter whose cut at 20/s (from 40 answers over 2 s) was tested and stands."""
    rl = limiter(clock)
    for _ in range(40):
        rl.on_answer(rl.acquire(), throttled=False)
        clock.now += 0.05
    rl.on_answer(rl.acquire(), throttled=True, pause_s=1.0)
    while rl._trial is not None:  # paced sends, none refused, until the trial is judged
        permit = rl.acquire()
        clock.now += 0.01
        rl.on_answer(permit, throttled=False)
    assert rl.as_dict()["settled_per_s"] == pytest.approx(20.0, rel=0.05)
    assert rl.as_dict()["cuts_undone"] == 0
    return rl


def test_a_429_under_a_standing_estimate_is_waited_out_alone():
    """The server let 20/s through: a 429 to a request sent at that pace is not about our rate."""
    clock = FakeClock()
    rl = _standing_cut(clock)
    before = rl.as_dict()
    permit = rl.acquire()
    assert permit.pace is not None
    assert permit.pace <= 1.1 * 20.0
    rl.on_answer(permit, throttled=True, pause_s=1.0)
    after = rl.as_dict()
    assert after["cuts"] == before["cuts"], "no new cut"
    assert after["paused_s"] == before["paused_s"], "nobody else paused"
    assert after["background_429s"] == before["background_429s"] + 1
    assert after["settled_per_s"] == before["settled_per_s"]


def test_a_limit_that_fell_under_the_estimate_still_cuts():
    """Half the last answers refused under the estimate: the limit fell, not background."""
    clock = FakeClock()
    rl = _standing_cut(clock)
    cuts = rl.as_dict()["cuts"]
    for n in range(16):
        permit = rl.acquire()
        clock.now += 0.01
        rl.on_answer(permit, throttled=n % 2 == 0, pause_s=0.1)
        if rl.as_dict()["cuts"] > cuts:
            break
    assert rl.as_dict()["cuts"] == cuts + 1


def test_a_cut_after_probing_past_the_estimate_never_goes_below_it():
    """Refused only at twice the estimate: the server allowed the estimate, whatever the span."""
    clock = FakeClock()
    rl = _standing_cut(clock)
    settled = rl.as_dict()["settled_per_s"]
    # Few requests while the curve climbs (the tap was busy elsewhere): a low goodput since.
    while (rl.as_dict()["rate_per_s"] or 0.0) < 2 * settled:
        clock.now += 0.5
        rl.on_answer(rl.acquire(), throttled=False)
    rl.on_answer(rl.acquire(), throttled=True, pause_s=1.0)
    assert rl.as_dict()["cuts"] == 2
    assert rl.as_dict()["settled_per_s"] >= settled


def test_a_guess_is_undone_by_one_429_under_it():
    """Three answers, then a 429: a 3/s guess. A 429 at that pace is no 3/s limit's."""
    clock = FakeClock()
    rl = limiter(clock)
    for _ in range(3):
        rl.on_answer(rl.acquire(), throttled=False)
        clock.now += 0.01
    rl.on_answer(rl.acquire(), throttled=True, pause_s=1.0)
    state = rl.as_dict()
    assert state["cuts"] == 1
    assert state["rate_per_s"] < 3.0
    rl.on_answer(rl.acquire(), throttled=True, pause_s=1.0)  # the first one after the pause
    state = rl.as_dict()
    assert state["cuts_undone"] == 1, state
    assert state["rate_per_s"] is None, "back to unpaced"
    assert state["settled_per_s"] is None


def test_a_burst_into_a_full_bucket_does_not_read_as_its_rate():
    """A 5/s bucket holds 5 tokens: 6 answers in 0.24 s, then a 429, is no 6/s limit.

    The first estimate must not exceed the bucket's rate: a guess (fewer than 10 answers) is
    undone by a 429 under it, which a limit found too high would send.
    """
    clock = FakeClock()
    rl = limiter(clock)
    bucket = TokenBucket(clock, 5.0)
    while rl.as_dict()["cuts"] == 0:
        permit = rl.acquire()
        refused = bucket.admit()
        clock.now += 0.04
        rl.on_answer(permit, throttled=refused is not None, pause_s=refused or 0.0)
    assert rl.as_dict()["settled_per_s"] <= 5.0
