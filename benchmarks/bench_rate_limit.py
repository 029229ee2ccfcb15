"""Benchmark 6, rate limit: the adaptive limiter beside today's fixed concurrency, same run.

The sandbox adds ``latency_ms`` to every API request and limits the request rate (a token
bucket of one second's capacity, Retry-After 1 s; or a fixed window). Each case runs the tap
twice, ``adaptive_rate_limit`` true (the default) and false (each worker waits out its own
429, the others go on: the tap before the limiter), on enough customers for about
``seconds`` at the limit. Goodput = requests answered 2xx per second of the tap's sync
(singer-sdk's ``sync_duration`` of ``customers``, which includes its metadata child), read
from the sandbox's counters; the 429 share = 429 answers / all answers.

The mid-run case changes the bucket's rate while the tap runs (``POST /_sandbox/rate_limit``,
no refill) and reports how long the server-side goodput took to settle at each new limit.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from bench_metadata import STREAM, stream_sync_seconds
from harness import Sandbox, bin_path, run_measured, write_json
from messages import select_streams, tap_config
from results import Goal, Report, Row

BENCH = "6 rate limit"
CONCURRENCY = 8
# Goals of issue 11.
MIN_GOODPUT_SHARE = 0.9
MAX_429_SHARE = 0.05
POLL_S = 0.25


@dataclass
class Outcome:
    """What one tap run did against the limit."""

    ok: int
    throttled: int
    seconds: float
    metadata_seconds: float
    requests_line: str

    @property
    def goodput(self) -> float:
        return self.ok / self.seconds if self.seconds > 0 else 0.0

    @property
    def share_429(self) -> float:
        total = self.ok + self.throttled
        return self.throttled / total if total else 0.0


def _set_rate_limit(sandbox: Sandbox, **fields: Any) -> None:
    requests.post(
        f"{sandbox.base_url}/_sandbox/rate_limit", json=fields, timeout=30
    ).raise_for_status()


def _run_tap(
    workdir: Path, sandbox: Sandbox, catalog_path: Path, name: str, adaptive: bool
) -> Outcome:
    config = write_json(
        workdir / f"rl-{name}.json",
        tap_config(
            sandbox.base_url, metadata_concurrency=CONCURRENCY, adaptive_rate_limit=adaptive
        ),
    )
    measured = run_measured(
        [bin_path("tap-equipme"), "--config", str(config), "--catalog", str(catalog_path)]
    )
    stats = sandbox.stats()["by_status"]
    line = next(
        (ln for ln in measured.stderr.splitlines() if "Requests this run:" in ln), ""
    ).partition("Requests this run:")[2]
    return Outcome(
        ok=sum(n for status, n in stats.items() if status.startswith("2")),
        throttled=int(stats.get("429", 0)),
        seconds=stream_sync_seconds(measured, "customers"),
        metadata_seconds=stream_sync_seconds(measured, STREAM),
        requests_line=line.strip(),
    )


def _mode(adaptive: bool) -> str:
    return "adaptive" if adaptive else "fixed concurrency"


def _row(subject: str, outcome: Outcome, limit: float | None, extra: str = "") -> Row:
    share = f"{outcome.goodput / limit:.2f} of the limit; " if limit else ""
    return Row(
        BENCH,
        subject,
        outcome.ok,
        outcome.seconds,
        None,
        f"goodput {outcome.goodput:.1f}/s ({share}429 share {outcome.share_429:.1%}, "
        f"{outcome.throttled} x 429){extra}",
    )


def run_limits(
    report: Report,
    workdir: Path,
    sandbox: Sandbox,
    catalog: dict[str, Any],
    limits: tuple[float, ...],
    seconds: float,
    latency_ms: float,
) -> None:
    """The per-limit table: both behaviours with no limit, then at each token-bucket limit.

    With no limit, the fixed-concurrency run's goodput is what the tap can reach at all
    (concurrency / latency, less overheads): a limit above it cannot be used, so goodput is
    judged against min(limit, that ceiling).
    """
    ceiling = 0.85 * CONCURRENCY / (latency_ms / 1000)  # for sizing, until measured
    catalog_path = write_json(
        workdir / "rl-catalog.json", select_streams(catalog, {"customers", STREAM})
    )
    for limit in (None, *limits):
        customers = max(20, int(min(limit or ceiling, ceiling) * seconds))
        sandbox.reset(customers)
        for adaptive in (True, False):
            faults: dict[str, Any] = {"latency_ms": latency_ms}
            if limit is not None:
                faults["rate_limit_per_s"] = limit
            sandbox.set_faults(**faults)  # a full bucket for each run
            sandbox.clear_stats()
            outcome = _run_tap(workdir, sandbox, catalog_path, f"{limit}-{adaptive}", adaptive)
            label = f"limit {limit:g}/s" if limit else "no limit"
            if limit is None:
                bound = customers * latency_ms / 1000 / CONCURRENCY
                ratio = outcome.metadata_seconds / bound
                report.rows.append(
                    _row(
                        f"{label}, {_mode(adaptive)}",
                        outcome,
                        None,
                        f"; metadata stream {outcome.metadata_seconds:.2f} s = {ratio:.2f}x "
                        f"N x latency / concurrency",
                    )
                )
                if adaptive:
                    report.goals.append(
                        Goal(
                            BENCH,
                            "no limit: metadata wall time / bound, adaptive",
                            ratio,
                            1.1,
                            False,
                        )
                    )
                else:
                    ceiling = outcome.goodput
                continue
            # What the tap can reach at all (concurrency x latency) caps what it can use.
            usable = min(limit, ceiling)
            report.rows.append(_row(f"{label}, {_mode(adaptive)}", outcome, limit))
            if adaptive:
                report.goals.append(
                    Goal(
                        BENCH,
                        f"limit {limit:g}/s: goodput / min(limit, {ceiling:g}), adaptive",
                        outcome.goodput / usable,
                        MIN_GOODPUT_SHARE,
                        True,
                    )
                )
                report.goals.append(
                    Goal(
                        BENCH,
                        f"limit {limit:g}/s: 429 share, adaptive",
                        outcome.share_429,
                        MAX_429_SHARE,
                        False,
                    )
                )
            print(f"[bench] rate limit {label} {_mode(adaptive)}: {outcome}", flush=True)


def run_fixed_window(
    report: Report,
    workdir: Path,
    sandbox: Sandbox,
    catalog: dict[str, Any],
    rate: float,
    window_s: float,
    seconds: float,
    latency_ms: float,
) -> None:
    """A fixed window: `rate x window_s` requests per window; Retry-After = rest of it."""
    catalog_path = write_json(
        workdir / "rl-catalog.json", select_streams(catalog, {"customers", STREAM})
    )
    sandbox.reset(max(20, int(rate * seconds)))
    label = f"fixed window {rate * window_s:g} per {window_s:g} s"
    for adaptive in (True, False):
        sandbox.set_faults(
            latency_ms=latency_ms,
            rate_limit_per_s=rate,
            rate_limit_shape="fixed_window",
            rate_limit_window_s=window_s,
        )
        sandbox.clear_stats()
        outcome = _run_tap(workdir, sandbox, catalog_path, f"window-{adaptive}", adaptive)
        report.rows.append(_row(f"{label}, {_mode(adaptive)}", outcome, rate))
        if adaptive:
            report.goals.append(
                Goal(
                    BENCH, f"{label}: goodput / limit, adaptive", outcome.goodput / rate, 0.9, True
                )
            )
            report.goals.append(
                Goal(BENCH, f"{label}: 429 share, adaptive", outcome.share_429, 0.05, False)
            )


class _Watcher(threading.Thread):
    """Polls the sandbox's counters; applies each (offset, rate) change after the first request."""

    def __init__(self, sandbox: Sandbox, changes: list[tuple[float, float]]) -> None:
        super().__init__(daemon=True)
        self.sandbox, self.changes = sandbox, changes
        self.samples: list[tuple[float, int, int]] = []
        self.changed_at: list[tuple[float, float]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        started: float | None = None
        pending = list(self.changes)
        while not self.stop.wait(POLL_S):
            stats = self.sandbox.stats()
            now = time.monotonic()
            if started is None and stats["requests"] > 0:
                started = now
            if started is None:
                continue
            by_status = stats["by_status"]
            self.samples.append(
                (now - started, int(by_status.get("200", 0)), int(by_status.get("429", 0)))
            )
            if pending and now - started >= pending[0][0]:
                _offset, rate = pending.pop(0)
                _set_rate_limit(self.sandbox, rate_limit_per_s=rate)
                self.changed_at.append((now - started, rate))

    def goodput_between(self, start: float, end: float) -> float:
        inside = [s for s in self.samples if start <= s[0] <= end]
        if len(inside) < 2:
            return 0.0
        return (inside[-1][1] - inside[0][1]) / (inside[-1][0] - inside[0][0])

    def settled_after(self, at: float, rate: float, until: float) -> float | None:
        """Seconds after `at` until a 2-s stretch of goodput is within 15% of `rate`."""
        for sample in self.samples:
            t = sample[0]
            if t < at or t + 2.0 > until:
                continue
            if abs(self.goodput_between(t, t + 2.0) - rate) <= 0.15 * rate:
                return t - at
        return None


def run_mid_run_change(
    report: Report,
    workdir: Path,
    sandbox: Sandbox,
    catalog: dict[str, Any],
    rates: tuple[float, float, float],
    phase_s: float,
    latency_ms: float,
) -> None:
    """The bucket's rate changes twice while the tap runs (down, then up again)."""
    catalog_path = write_json(
        workdir / "rl-catalog.json", select_streams(catalog, {"customers", STREAM})
    )
    customers = int(sum(rates) * phase_s)
    sandbox.reset(customers)
    label = f"mid-run change {rates[0]:g} -> {rates[1]:g} -> {rates[2]:g}/s every {phase_s:g} s"
    for adaptive in (True, False):
        sandbox.set_faults(latency_ms=latency_ms, rate_limit_per_s=rates[0])
        sandbox.clear_stats()
        watcher = _Watcher(sandbox, [(phase_s, rates[1]), (2 * phase_s, rates[2])])
        watcher.start()
        try:
            outcome = _run_tap(workdir, sandbox, catalog_path, f"change-{adaptive}", adaptive)
        finally:
            watcher.stop.set()
            watcher.join()
        end = watcher.samples[-1][0] if watcher.samples else 0.0
        settled = []
        for index, (at, rate) in enumerate(watcher.changed_at):
            until = watcher.changed_at[index + 1][0] if index + 1 < len(watcher.changed_at) else end
            took = watcher.settled_after(at, rate, until)
            settled.append(
                f"to {rate:g}/s in {took:.1f} s"
                if took is not None
                else f"to {rate:g}/s: not settled"
            )
            if adaptive:
                report.goals.append(
                    Goal(
                        BENCH,
                        f"mid-run change to {rate:g}/s: seconds to settle, adaptive",
                        took if took is not None else 99.0,
                        10.0,
                        False,
                    )
                )
        report.rows.append(
            _row(f"{label}, {_mode(adaptive)}", outcome, None, f"; settled {', '.join(settled)}")
        )
        if adaptive:
            report.goals.append(
                Goal(BENCH, f"{label}: 429 share, adaptive", outcome.share_429, 0.05, False)
            )


def _background_customers(share: float, latency_ms: float, seconds: float) -> int:
    """Customers for about `seconds` of the fixed-concurrency sync under `share` random 429s.

    Each worker sends about 1 / share requests (one latency each), then waits out a 1-s
    Retry-After: that bounds what any client gets, whatever it does.
    """
    per_worker = (1 / share) / ((1 / share) * latency_ms / 1000 + 1.0)
    return max(50, int(CONCURRENCY * per_worker * seconds))


def _limiter_note(outcome: Outcome) -> str:
    """What the limiter concluded, from the tap's `Requests this run:` line."""
    try:
        limiter = json.loads(outcome.requests_line)["rate_limiter"]
    except (ValueError, KeyError, TypeError):
        return ""
    share = limiter.get("background_share")
    return (
        f"; limiter: {limiter.get('cuts', 0)} cut(s), {limiter.get('cuts_undone', 0)} undone, "
        f"{limiter.get('paused_s', 0):.1f} s paused, background share "
        + (f"{share:.0%}" if share else "none")
    )


def run_background(
    report: Report,
    workdir: Path,
    sandbox: Sandbox,
    catalog: dict[str, Any],
    shares: tuple[float, ...],
    seconds: float,
    latency_ms: float,
) -> None:
    """Issue 19: 429s not tied to rate (the sandbox's `throttle_rate`), side by side.

    With no rate limit the adaptive run's wall time must stay within 1.15x the fixed
    concurrency's (both wait out every 429's Retry-After; the adaptive one must not also pause
    everyone and cut its pace for them). Then a token bucket of 20/s plus 5% background 429s:
    goodput >= 0.85 of the limit and a 429 share <= 5% + the background share.
    """
    catalog_path = write_json(
        workdir / "rl-catalog.json", select_streams(catalog, {"customers", STREAM})
    )
    for share in shares:
        sandbox.reset(_background_customers(share, latency_ms, seconds))
        walls: dict[bool, float] = {}
        for adaptive in (True, False):
            sandbox.set_faults(latency_ms=latency_ms, throttle_rate=share, seed=19)
            sandbox.clear_stats()
            outcome = _run_tap(workdir, sandbox, catalog_path, f"bg{share}-{adaptive}", adaptive)
            walls[adaptive] = outcome.seconds
            report.rows.append(
                _row(
                    f"background 429s {share:.0%}, no limit, {_mode(adaptive)}",
                    outcome,
                    None,
                    _limiter_note(outcome) if adaptive else "",
                )
            )
            print(f"[bench] background {share:.0%} {_mode(adaptive)}: {outcome}", flush=True)
        report.goals.append(
            Goal(
                BENCH,
                f"background 429s {share:.0%}, no limit: wall time adaptive / fixed",
                walls[True] / walls[False] if walls[False] else 99.0,
                1.15,
                False,
            )
        )
    limit, share = 20.0, 0.05
    sandbox.reset(int(limit * seconds))
    label = f"limit {limit:g}/s + background 429s {share:.0%}"
    for adaptive in (True, False):
        sandbox.set_faults(
            latency_ms=latency_ms, rate_limit_per_s=limit, throttle_rate=share, seed=19
        )
        sandbox.clear_stats()
        outcome = _run_tap(workdir, sandbox, catalog_path, f"bucket-bg-{adaptive}", adaptive)
        note = _limiter_note(outcome) if adaptive else ""
        report.rows.append(_row(f"{label}, {_mode(adaptive)}", outcome, limit, note))
        if adaptive:
            report.goals.append(
                Goal(
                    BENCH,
                    f"{label}: goodput / limit, adaptive",
                    outcome.goodput / limit,
                    0.85,
                    True,
                )
            )
            report.goals.append(
                Goal(
                    BENCH,
                    f"{label}: 429 share, adaptive",
                    outcome.share_429,
                    MAX_429_SHARE + share,
                    False,
                )
            )
