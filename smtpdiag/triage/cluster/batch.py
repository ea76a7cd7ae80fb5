"""The body of a cluster task: a batch of domains through the same pipeline as the
local engine (:class:`~smtpdiag.triage.run.Engine`), with the route cache and the
politeness gates shared through Redis (:mod:`.state`).

- a domain whose record is stored for the run already is not done again (a task
  delivered twice, after a worker was lost, returns the stored records);
- a route is probed by the one worker holding its claim; the others wait for its
  result (bounded by the domain's deadline) and take the claim over if it lapses;
- every connection takes a lease of its address's cluster-wide limit and rate; a
  rate-limit reply (421 or 450) pauses that address for every worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ...model import Route, RouteResult
from ...probing import probe_route
from ...probing.addresses import address_policy
from ..model import DomainRecord
from ..plan import RouteKey, route_key, throttled
from ..routes import RouteCache, RunStats, skipped_result
from ..run import Engine
from ..wire import record_to_plain
from ..work import WorkUnit, to_plain
from .state import CLAIM_TTL_MS, Shared

__all__ = ["ClusterRoutes", "Kept", "run_domains"]

# Seconds between two looks at a route another worker is probing (first, then at most).
_POLL_FIRST = 0.02
_POLL_MAX = 0.25
# Seconds a lease outlives the probe's own deadline (a lost worker's lease lapses then).
_LEASE_MARGIN = 5.0


class ClusterRoutes(RouteCache):
    """The route cache of a cluster task: known routes from this task first, then from
    Redis; a route nobody has probed is claimed, probed politely and published."""

    def __init__(self, shared: Shared, backoff: float, *args: Any) -> None:
        super().__init__(*args)
        self._shared_state = shared
        self._backoff = backoff
        self._elsewhere: set[RouteKey] = set()

    async def result_for(self, route: Route, deadline: float) -> tuple[RouteResult, bool]:
        result, shared = await super().result_for(route, deadline)
        # Shared as well when another worker (or an earlier task) probed it.
        return result, shared or route_key(route) in self._elsewhere

    async def _probe(
        self, key: RouteKey, route: Route, future: asyncio.Future[RouteResult]
    ) -> None:
        try:
            result = await self._cluster_result(key, route)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as exc:  # a bug or Redis gone: this route only, the run goes on
            result = skipped_result(route, f"internal error: {type(exc).__name__}")
        finally:
            self._pending.pop(key, None)
        self._keep(key, result)
        if not future.done():
            future.set_result(result)

    async def _cluster_result(self, key: RouteKey, route: Route) -> RouteResult:
        shared = self._shared_state
        config = self._config
        if not address_policy(route.address, config.allowed_networks).connect:
            return await probe_route(route, config)  # recorded as not attempted, no packet
        loop = asyncio.get_running_loop()
        # Bounded: a domain waits at most its deadline; the probe ends by its own.
        give_up = loop.time() + self._settings.domain_deadline + config.timeouts.total
        poll = _POLL_FIRST
        while True:
            known = await shared.route_result(key)
            if known is not None:
                self._elsewhere.add(key)
                return known
            if await shared.claim(key):
                # The holder before us may have published and let go between our look
                # and our claim: look again before connecting.
                known = await shared.route_result(key)
                if known is not None:
                    await shared.unclaim(key)
                    self._elsewhere.add(key)
                    return known
                return await self._probe_claimed(key, route, give_up)
            if loop.time() >= give_up:
                return skipped_result(
                    route, "not attempted: another worker's probe of this route did not end"
                )
            await asyncio.sleep(poll)
            poll = min(poll * 2, _POLL_MAX)

    async def _probe_claimed(self, key: RouteKey, route: Route, give_up: float) -> RouteResult:
        shared = self._shared_state
        settings = self._settings
        address = key[0]
        renewing = asyncio.get_running_loop().create_task(self._renew(key))
        try:
            lease = await shared.acquire(
                address,
                settings.per_address_limit,
                settings.per_address_limit * 60.0 / settings.per_address_rate,
                self._config.timeouts.total + _LEASE_MARGIN,
                give_up,
            )
            if lease is None:
                result = skipped_result(
                    route, "not attempted: the domain's deadline passed while it waited"
                )
            else:
                try:
                    async with self._overall:
                        self._stats.connections[address] += 1
                        result = await probe_route(route, self._config)
                    if throttled(result):  # before the slot is free: nobody slips in
                        await shared.pause(address, self._backoff)
                finally:
                    await shared.release(address, lease)
                self._stats.routes_probed += 1
                await shared.keep_route(key, result)
        finally:
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewing
        with contextlib.suppress(Exception):
            await shared.unclaim(key)
        return result

    async def _renew(self, key: RouteKey) -> None:
        while True:
            await asyncio.sleep(CLAIM_TTL_MS / 3000)
            with contextlib.suppress(Exception):
                await self._shared_state.renew(key)


@dataclass(slots=True)
class Kept:
    """What a worker thread keeps from batch to batch, all on its one event loop: the
    engine of the last settings (its DNS caches) and the route results of the last run.

    Attributes:
        engine: (the settings as JSON, the engine), or ``None``.
        routes: (the run id, its route results known here), or ``None``.
    """

    engine: tuple[str, Engine] | None = None
    routes: tuple[str, tuple[RouteResult, ...]] | None = None


def _engine(unit: WorkUnit, kept: Kept | None) -> Engine:
    now = datetime.fromisoformat(unit.now.replace("Z", "+00:00")) if unit.now else None
    key = json.dumps([to_plain(unit.config), to_plain(unit.settings), unit.now], sort_keys=True)
    if kept is not None and kept.engine is not None and kept.engine[0] == key:
        return kept.engine[1]

    async def nothing(_item: object) -> None:
        return None

    engine = Engine(
        unit.config, unit.settings, nothing, RunStats(), recipients=False, done={}, now=now
    )
    if kept is not None:
        kept.engine = (key, engine)
    return engine


async def run_domains(
    client: Any, run_id: str, unit: WorkUnit, backoff: float, *, kept: Kept | None = None
) -> dict[str, Any]:
    """Diagnose ``unit.domains`` (stored records reused); the task's plain result:
    ``{"records": [[domain, record or None, error detail or None], ...],
    "connections": {address: n}, "routes_probed": n, "trips": n}``.

    With ``kept`` (the caller runs its batches on one event loop), the engine and the
    route results known are kept there for the next batch."""
    shared = Shared(client, run_id)
    names = list(dict.fromkeys(unit.domains))
    stored = await shared.records(names)
    out: dict[str, Any] = {}
    todo = []
    for name, plain in zip(names, stored, strict=True):
        if plain is not None:
            out[name] = [name, plain, None]
        else:
            todo.append(name)
    stats = RunStats()
    engine = _engine(unit, kept)
    seed = unit.routes
    if kept is not None and kept.routes is not None and kept.routes[0] == run_id:
        seed = (*kept.routes[1], *seed)

    async def one(name: str, routes: ClusterRoutes) -> None:
        try:
            record: DomainRecord = await engine._diagnose(name, routes)
        except Exception as exc:  # a bug: the submitter writes an error record for it
            out[name] = [name, None, f"{type(exc).__name__}: {exc}"[:200]]
            return
        kept = await shared.keep_record(name, record_to_plain(record))
        out[name] = [name, kept, None]

    async with asyncio.TaskGroup() as group:
        routes = ClusterRoutes(shared, backoff, unit.config, unit.settings, group, stats, seed)
        for name in todo:
            group.create_task(one(name, routes))
    if kept is not None:
        kept.routes = (run_id, routes.results())
    return {
        "records": [out[name] for name in names],
        "connections": dict(stats.connections),
        "routes_probed": stats.routes_probed,
        "trips": shared.trips,
    }
