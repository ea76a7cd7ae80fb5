"""Watch mode: probe a domain repeatedly, keep statistics, report what changes.

One probe says what is broken *now*; only repetition says whether it lasts. The seeds
draw the line between a transient 4.4.2 and a permanent 5.4.2 by persistence, so watch
mode passes every earlier report of the run to the diagnosis (``history``, oldest first)
as evidence, and keeps:

- per-route success rates and latency percentiles (p50, p90, max per phase, over the
  phases that succeeded);
- transitions: a route going down or coming back, routes appearing or disappearing, the
  MX set changing, the health status changing.

Always bounded: by a number of rounds, by a duration (no round *starts* after it; the
last round still ends within the probe's own deadline), or both; and by a stop event
(Ctrl-C in the CLI). Rounds start every ``interval`` seconds (start to start); a round
that overruns is followed at once by the next.

    async for rnd in watch("example.org", config, interval=60, count=10):
        print(rnd.number, rnd.report.diagnosis.verdict, rnd.transitions)

:class:`Watcher` holds the state and is pure (feed it reports); :func:`watch` is the loop
around :func:`smtpdiag.api.probe`.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from .config import ProbeConfig
from .errors import ConfigError
from .health.evaluation import HealthResult, evaluate
from .health.thresholds import Thresholds
from .model import Outcome, Phase, ProbeReport, ResolutionKind, Verdict
from .textsafe import clean

__all__ = [
    "MAX_ROUNDS",
    "PhaseStats",
    "RouteStats",
    "Transition",
    "TransitionKind",
    "WatchRound",
    "WatchSummary",
    "Watcher",
    "percentile",
    "watch",
]

#: Upper bound on rounds of one watch (and on ``count``).
MAX_ROUNDS = 100_000
#: Latency samples kept per route and phase (the oldest are dropped beyond this).
_MAX_SAMPLES = 10_000
#: Transitions kept in the summary (the oldest are dropped beyond this).
_MAX_TRANSITIONS = 1_000


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending, non-empty sequence (``fraction`` in (0, 1])."""
    if not sorted_values:
        raise ValueError("percentile of no values")
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


class TransitionKind(StrEnum):
    """What changed between two rounds."""

    ROUTE_DOWN = "route-down"  #: a route that worked failed
    ROUTE_UP = "route-up"  #: a route that failed works again
    ROUTE_ADDED = "route-added"  #: a route appeared (new MX or address)
    ROUTE_REMOVED = "route-removed"  #: a route disappeared
    MX_CHANGED = "mx-changed"  #: the MX set (names, preferences or kind) changed
    STATUS_CHANGED = "status-changed"  #: the health status changed


@dataclass(frozen=True, slots=True)
class Transition:
    """One change observed between consecutive rounds.

    Attributes:
        round: The round (1-based) in which the change was seen.
        kind: What changed.
        detail: One sanitized line for humans.
        route: The route label, for route transitions; else ``None``.
        at: ISO 8601 UTC instant of the round's probe.
    """

    round: int
    kind: TransitionKind
    detail: str
    route: str | None = None
    at: str = ""


@dataclass(frozen=True, slots=True)
class PhaseStats:
    """Latency of one phase on one route over the successful rounds (milliseconds).

    Attributes:
        phase: Which phase.
        samples: Number of successful runs of the phase.
        p50_ms: Median (nearest rank).
        p90_ms: 90th percentile (nearest rank).
        max_ms: Largest.
    """

    phase: Phase
    samples: int
    p50_ms: float
    p90_ms: float
    max_ms: float


@dataclass(frozen=True, slots=True)
class RouteStats:
    """One route over the watch.

    Attributes:
        label: ``mx[address]:port``.
        rounds: Rounds in which the route was probed.
        up: Rounds in which it was up.
        success_rate: ``up / rounds`` (0.0-1.0).
        last_up: Whether it was up in the last round it was probed.
        phases: Latency statistics per phase, in phase order.
    """

    label: str
    rounds: int
    up: int
    success_rate: float
    last_up: bool
    phases: tuple[PhaseStats, ...] = ()


@dataclass(frozen=True, slots=True)
class WatchRound:
    """The result of one round.

    Attributes:
        number: 1-based round number.
        report: The probe report (diagnosed with the earlier rounds as history).
        health: The report judged against the thresholds.
        transitions: What changed since the previous round.
    """

    number: int
    report: ProbeReport
    health: HealthResult
    transitions: tuple[Transition, ...] = ()


@dataclass(frozen=True, slots=True)
class WatchSummary:
    """The whole watch so far.

    Attributes:
        domain: The domain watched.
        rounds: Completed rounds.
        routes: Per-route statistics, in first-seen order.
        transitions: Every transition, oldest first (at most the last 1000).
        verdicts: How many rounds ended with each diagnosis verdict.
        last: The last completed round, ``None`` before the first.
        interrupted: The watch was stopped early (Ctrl-C / stop event).
    """

    domain: str
    rounds: int
    routes: tuple[RouteStats, ...]
    transitions: tuple[Transition, ...]
    verdicts: tuple[tuple[Verdict, int], ...] = ()
    last: WatchRound | None = None
    interrupted: bool = False


def _mx_signature(report: ProbeReport) -> tuple[str, tuple[tuple[int, str], ...]]:
    res = report.resolution
    return res.kind.value, tuple(sorted((h.preference, h.name) for h in res.hosts))


def _mx_text(sig: tuple[str, tuple[tuple[int, str], ...]]) -> str:
    kind, hosts = sig
    if kind != ResolutionKind.MX.value or not hosts:
        return kind
    return ", ".join(f"{pref} {name}" for pref, name in hosts)


class Watcher:
    """The state of a watch: feed it reports in order, read rounds and the summary. Pure.

    Args:
        domain: The domain watched.
        thresholds: What the health status of each round is judged against.
        history_limit: Earlier reports kept for the diagnosis's persistence evidence.
    """

    def __init__(
        self, domain: str, thresholds: Thresholds | None = None, history_limit: int = 20
    ) -> None:
        if not 1 <= history_limit <= 1000:
            raise ConfigError("history limit must be 1-1000 reports")
        self.domain = domain
        self.thresholds = thresholds or Thresholds()
        self._history: deque[ProbeReport] = deque(maxlen=history_limit)
        self._rounds = 0
        self._last: WatchRound | None = None
        self._route_up: dict[str, bool] = {}
        self._route_counts: dict[str, list[int]] = {}  # label -> [rounds, up]
        self._samples: dict[str, dict[Phase, deque[float]]] = {}
        self._transitions: deque[Transition] = deque(maxlen=_MAX_TRANSITIONS)
        self._verdicts: dict[Verdict, int] = {}

    @property
    def history(self) -> tuple[ProbeReport, ...]:
        """Earlier reports, oldest first (what the next probe's diagnosis gets)."""
        return tuple(self._history)

    def add(self, report: ProbeReport) -> WatchRound:
        """Record the next round's report; returns the round with its transitions."""
        self._rounds += 1
        n = self._rounds
        health = evaluate(report, self.thresholds)
        transitions: list[Transition] = []
        at = report.started_at
        prev = self._last
        current = {rr.route.label: rr for rr in report.routes}
        if prev is not None:
            before = _mx_signature(prev.report)
            after = _mx_signature(report)
            if before != after:
                transitions.append(
                    Transition(
                        n,
                        TransitionKind.MX_CHANGED,
                        clean(f"MX set changed: {_mx_text(before)} -> {_mx_text(after)}", 400),
                        at=at,
                    )
                )
            previous = {rr.route.label: rr.ok for rr in prev.report.routes}
            for label, rr in current.items():
                if label not in previous:
                    state = "up" if rr.ok else "down"
                    transitions.append(
                        Transition(
                            n,
                            TransitionKind.ROUTE_ADDED,
                            f"{label} appeared ({state})",
                            label,
                            at,
                        )
                    )
                elif previous[label] and not rr.ok:
                    rec = rr.failure
                    why = f"{rec.phase.value} {rec.outcome.value}" if rec else "failed"
                    transitions.append(
                        Transition(
                            n, TransitionKind.ROUTE_DOWN, f"{label} went down: {why}", label, at
                        )
                    )
                elif not previous[label] and rr.ok:
                    transitions.append(
                        Transition(n, TransitionKind.ROUTE_UP, f"{label} is back up", label, at)
                    )
            for label in previous:
                if label not in current:
                    transitions.append(
                        Transition(
                            n, TransitionKind.ROUTE_REMOVED, f"{label} disappeared", label, at
                        )
                    )
            if prev.health.status is not health.status:
                transitions.append(
                    Transition(
                        n,
                        TransitionKind.STATUS_CHANGED,
                        f"status {prev.health.status.value} -> {health.status.value}",
                        at=at,
                    )
                )
        for label, rr in current.items():
            counts = self._route_counts.setdefault(label, [0, 0])
            counts[0] += 1
            counts[1] += int(rr.ok)
            self._route_up[label] = rr.ok
            phases = self._samples.setdefault(label, {})
            for rec in rr.phases:
                if rec.outcome is Outcome.OK:
                    phases.setdefault(rec.phase, deque(maxlen=_MAX_SAMPLES)).append(rec.duration_ms)
        if report.diagnosis is not None:
            v = report.diagnosis.verdict
            self._verdicts[v] = self._verdicts.get(v, 0) + 1
        self._transitions.extend(transitions)
        self._history.append(report)
        rnd = WatchRound(n, report, health, tuple(transitions))
        self._last = rnd
        return rnd

    def summary(self, *, interrupted: bool = False) -> WatchSummary:
        """The statistics so far."""
        routes = []
        order = list(Phase)
        for label, (rounds, up) in self._route_counts.items():
            stats = []
            for phase, samples in sorted(
                self._samples.get(label, {}).items(), key=lambda kv: order.index(kv[0])
            ):
                values = sorted(samples)
                stats.append(
                    PhaseStats(
                        phase,
                        len(values),
                        round(percentile(values, 0.5), 3),
                        round(percentile(values, 0.9), 3),
                        round(values[-1], 3),
                    )
                )
            routes.append(
                RouteStats(
                    label,
                    rounds,
                    up,
                    up / rounds if rounds else 0.0,
                    self._route_up.get(label, False),
                    tuple(stats),
                )
            )
        return WatchSummary(
            self.domain,
            self._rounds,
            tuple(routes),
            tuple(self._transitions),
            tuple((v, self._verdicts[v]) for v in Verdict if v in self._verdicts),
            self._last,
            interrupted,
        )


ProbeFunc = Callable[..., Awaitable[ProbeReport]]


def _check_bounds(interval: float, count: int | None, duration: float | None) -> None:
    if count is None and duration is None:
        raise ConfigError("a watch needs a bound: a round count or a duration")
    if (
        not isinstance(interval, int | float)
        or isinstance(interval, bool)
        or not 0.01 <= interval <= 86_400
    ):
        raise ConfigError(f"interval must be 0.01-86400 seconds, got {interval!r}")
    if count is not None and (
        not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= MAX_ROUNDS
    ):
        raise ConfigError(f"count must be 1-{MAX_ROUNDS}, got {count!r}")
    if duration is not None and (
        not isinstance(duration, int | float)
        or isinstance(duration, bool)
        or not 0 < duration <= 7 * 86_400
    ):
        raise ConfigError(f"duration must be > 0 and at most 7 days, got {duration!r}")


async def watch(
    domain: str,
    config: ProbeConfig | None = None,
    *,
    interval: float = 60.0,
    count: int | None = None,
    duration: float | None = None,
    thresholds: Thresholds | None = None,
    watcher: Watcher | None = None,
    stop: asyncio.Event | None = None,
    probe: ProbeFunc | None = None,
) -> AsyncIterator[WatchRound]:
    """Probe ``domain`` every ``interval`` seconds; yield each round.

    Args:
        domain: The mail domain.
        config: Probe settings (default ``ProbeConfig()``).
        interval: Seconds from one round's start to the next's.
        count: Stop after this many rounds.
        duration: Start no round later than this many seconds after the first.
        thresholds: For each round's health status.
        watcher: The state to record into (pass one to read :meth:`Watcher.summary`
            afterwards, also after an interruption); a new one if ``None``.
        stop: Set it to end the watch early; a round in progress is cancelled.
        probe: The probe function (default :func:`smtpdiag.api.probe`); it gets
            ``(domain, config, history=...)``.

    Raises:
        ConfigError: No bound, a bound out of range, or a bad domain.
    """
    _check_bounds(interval, count, duration)
    if probe is None:
        from .api import probe as api_probe

        probe = api_probe
    state = watcher or Watcher(domain, thresholds)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    first = loop.time()
    start = first
    n = 0
    while count is None or n < count:
        if n:
            # Start to start; a round that overran is followed at once, and the rounds
            # it made late are not made up for (the schedule slips, no burst).
            start = max(start + interval, loop.time())
            # (the epsilon keeps float sums of the interval from adding a round)
            if duration is not None and start - first >= duration - 1e-9:
                return
        delay = start - loop.time()
        if delay > 0:
            try:
                await asyncio.wait_for(stop.wait(), delay)
                return  # stopped while waiting
            except TimeoutError:
                pass
        if stop.is_set():
            return
        task = asyncio.ensure_future(probe(domain, config, history=state.history))
        stopper = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopper.cancel()
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if task.cancelled():
            return  # stopped during the round: it does not count
        report = task.result()  # ConfigError / ProbeError propagate
        n += 1
        yield state.add(report)
