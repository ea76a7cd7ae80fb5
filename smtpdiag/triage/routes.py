"""The route cache of a bulk run: each distinct route probed once, its result shared by
every domain that needs it, under per-address gates (a connection limit and a rate).

Used by the run's engine (:mod:`.run`) and by the worker pool (:mod:`.pool`), which
reads the same cache from the main process.
"""

from __future__ import annotations

import asyncio
from collections import Counter, OrderedDict
from collections.abc import (
    Iterable,
)
from dataclasses import dataclass, field

from ..config import ProbeConfig
from ..model import (
    Outcome,
    Phase,
    PhaseRecord,
    Route,
    RouteResult,
    SkipReason,
)
from ..probing import probe_route
from ..probing.addresses import address_policy
from ..probing.gates import AddressGate
from ..timefmt import utc_iso
from .model import BulkSettings
from .plan import RouteKey, for_domain, route_key

__all__ = [
    "AddressGate",
    "Interrupted",
    "RouteCache",
    "RunStats",
    "cancelling",
    "skipped_result",
]


# Routes whose per-domain result is kept for the next domain with the same route.
_OWN_KEPT = 4096


@dataclass(slots=True)
class RunStats:
    """Live counters of a run (mutable: the run updates them as it goes).

    Attributes:
        inputs: Input items read.
        errors: Error records emitted.
        domains: Domain records emitted.
        recipients: Recipient records emitted.
        skipped: Domains skipped as already done (resume).
        routes_probed: Distinct routes probed (connections attempted, or refused by the
            address policy without a packet).
        connections: Connections opened per address.
        interrupted: Reading stopped before the input ended.
        not_understood: Log lines and messages read that gave neither a target nor an
            error record (log lines that are not delivery results); set as the run ends.
        in_flight: Domains being worked on now.
        stopped_in_flight: Domains in flight when the stop came (0 without a stop).
        given_up: Of those, the ones that did not finish within the grace and were not
            emitted.
    """

    inputs: int = 0
    errors: int = 0
    domains: int = 0
    recipients: int = 0
    skipped: int = 0
    routes_probed: int = 0
    connections: Counter[str] = field(default_factory=Counter)
    interrupted: bool = False
    not_understood: int = 0
    in_flight: int = 0
    stopped_in_flight: int = 0
    given_up: int = 0


def cancelling() -> bool:
    """Whether the current task itself is being cancelled (not just something it awaited)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def skipped_result(route: Route, detail: str) -> RouteResult:
    record = PhaseRecord(
        Phase.CONNECT,
        Outcome.NOT_ATTEMPTED,
        0.0,
        0.0,
        detail=detail,
        skip_reason=SkipReason.DEADLINE,
    )
    return RouteResult(route=route, phases=(record,), ok=False, started_at=utc_iso())


class Interrupted(Exception):
    """A route the run gave up before connecting (stop requested): its domain is not
    done, so it is not written (``--resume`` does it again)."""


class RouteCache:
    """Every distinct route probed once per run; results kept (LRU) for later domains."""

    def __init__(
        self,
        config: ProbeConfig,
        settings: BulkSettings,
        group: asyncio.TaskGroup,
        stats: RunStats,
        seed: Iterable[RouteResult],
    ) -> None:
        self._config = config
        self._settings = settings
        self._group = group
        self._stats = stats
        self._done: OrderedDict[RouteKey, RouteResult] = OrderedDict()
        # route -> (the shared result, that result as this route's): most domains of a
        # provider have the very same route, so it is made once, not once per domain.
        self._own: dict[Route, tuple[RouteResult, RouteResult]] = {}
        self._pending: dict[RouteKey, asyncio.Future[RouteResult]] = {}
        self._gates: dict[str, AddressGate] = {}
        self._overall = asyncio.Semaphore(settings.concurrency)
        self._interrupted = False
        self._queued: dict[RouteKey, asyncio.Task[list[float]]] = {}
        self._probing: set[asyncio.Task[None]] = set()
        for result in seed:
            self._keep(route_key(result.route), result)

    def interrupt(self) -> None:
        """Give up every route still waiting for its turn; connections already open
        finish (and QUIT)."""
        self._interrupted = True
        for task in list(self._queued.values()):
            task.cancel()

    def abandon(self) -> None:
        """Give up every route not finished: queued ones, and probes in progress (their
        connections close without QUIT; the stop's grace is over)."""
        self.interrupt()
        for task in list(self._probing):
            task.cancel()

    def results(self) -> tuple[RouteResult, ...]:
        """The finished route results kept now (the cache a work unit hands on)."""
        return tuple(self._done.values())

    def _keep(self, key: RouteKey, result: RouteResult) -> None:
        self._done[key] = result
        self._done.move_to_end(key)
        while len(self._done) > self._settings.route_cache:
            self._done.popitem(last=False)

    def cached(self, route: Route) -> RouteResult | None:
        """The route's result as the domain's own if it is known already."""
        key = route_key(route)
        done = self._done.get(key)
        if done is None:
            return None
        self._done.move_to_end(key)
        own = self._own.get(route)
        if own is not None and own[0] is done:
            return own[1]
        result = for_domain(done, route)
        if len(self._own) >= _OWN_KEPT:
            self._own.clear()  # bounded: routes of one-domain MX names come and go
        self._own[route] = (done, result)
        return result

    async def result_for(self, route: Route, deadline: float) -> tuple[RouteResult, bool]:
        """The route's result as the domain's own, and whether it was probed for
        another domain first. Waits for a probe in progress until ``deadline``."""
        known = self.cached(route)
        if known is not None:
            return known, True
        key = route_key(route)
        future = self._pending.get(key)
        shared = future is not None
        if future is None:
            if self._interrupted:
                raise Interrupted
            future = asyncio.get_running_loop().create_future()
            self._pending[key] = future
            self._group.create_task(self._probe(key, route, future))
        remaining = deadline - asyncio.get_running_loop().time()
        try:
            async with asyncio.timeout(max(remaining, 0.0)):
                result = await asyncio.shield(future)
        except TimeoutError:
            return (
                skipped_result(
                    route, "not attempted: the domain's deadline passed while it waited"
                ),
                shared,
            )
        except asyncio.CancelledError:
            if future.cancelled() and not cancelling():
                raise Interrupted from None
            raise
        return for_domain(result, route), shared

    async def _probe(
        self, key: RouteKey, route: Route, future: asyncio.Future[RouteResult]
    ) -> None:
        config = self._config
        me = asyncio.current_task()
        if me is not None:
            self._probing.add(me)
        try:
            if not address_policy(route.address, config.allowed_networks).connect:
                result = await probe_route(route, config)  # recorded as not attempted
            else:
                address = key[0]
                gate = self._gates.get(address)
                if gate is None:
                    gate = AddressGate(
                        self._settings.per_address_limit, self._settings.per_address_rate
                    )
                    self._gates[address] = gate
                waiting = asyncio.ensure_future(gate.acquire())
                self._queued[key] = waiting
                try:
                    stamp = await waiting
                except asyncio.CancelledError:
                    if self._interrupted and not cancelling():
                        self._pending.pop(key, None)
                        future.cancel()
                        return
                    raise
                finally:
                    self._queued.pop(key, None)
                try:
                    async with self._overall:
                        gate.started(stamp)
                        self._stats.connections[address] += 1
                        result = await probe_route(route, config)
                finally:
                    gate.release()
            self._stats.routes_probed += 1
        except asyncio.CancelledError:
            # Abandoned (or the whole run cancelled): whoever waits for it gives up too.
            future.cancel()
            raise
        except Exception as exc:  # a bug, not a network outcome: the run goes on
            result = skipped_result(route, f"internal error: {type(exc).__name__}")
        finally:
            self._pending.pop(key, None)
            if me is not None:
                self._probing.discard(me)
        self._keep(key, result)
        if not future.done():
            future.set_result(result)
