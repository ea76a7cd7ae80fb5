"""Run route probes concurrently under one deadline (STYLE habit 9).

One ``TaskGroup`` per call, a gate per destination address (so a probe never
opens more than ``config.per_address_limit`` connections to one server at a time;
gates passed in as an :class:`~.gates.AddressGates` registry are shared with the other
probes holding it, and may also bound the rate of new connections),
and a global bound. Every route ends by the deadline: phases are bounded by it, a
route still waiting for its address's slot when the deadline comes is recorded as
not attempted (``skip_reason`` deadline: never evidence against the server), and a
safety scope just past the deadline catches anything else.

Scheduling serves the verdict (which follows the delivery port, 25): routes are
queued for their address's slot delivery port first (primary MX first, then the
others), then the other ports, so with more routes than time the ones the verdict
needs have run. Within an address, a TLS handshake that stalled for the whole
``--tls-timeout`` shortens the handshake limit of that address's other routes to
:data:`~smtpdiag.probing.session.CONFIRM_LIMIT` (see :class:`AddressHints`): a domain
whose server stalls every handshake gets its verdict after about one TLS timeout
instead of one per port, and still never more than ``per_address_limit``
connections to one address at a time.

The address policy (:mod:`.addresses`) is enforced here, whatever the route says
about itself: a route to an address that is not global unicast and not inside
``config.allow_targets`` is recorded as not attempted (``skip_reason``
address-policy) without any packet being sent.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from types import MappingProxyType

from cryptography.x509.verification import Store

from ..certmatch import load_trust_store
from ..config import ProbeConfig
from ..model import (
    DaneState,
    Outcome,
    Phase,
    PhaseRecord,
    Route,
    RouteResult,
    SkipReason,
    TlsaLookup,
)
from ..textsafe import clean
from ..timefmt import utc_iso
from .addresses import NEVER_CONNECT, address_policy
from .gates import AddressGates, address_key
from .recorder import Clock
from .session import AddressHints, ProbeContext, run_route
from .tls import client_context

__all__ = ["MAX_CONCURRENCY", "probe_route", "probe_routes", "schedule"]

#: Routes probed at the same time, over all addresses.
MAX_CONCURRENCY = 32
#: How long past the deadline the safety scope waits before giving up on a route.
_GRACE = 0.5
#: A route whose turn comes with less time than this before the deadline is not
#: attempted: a connect cut short by our own deadline says nothing about the server.
_MIN_START = 0.1
#: No TLSA lookups: no route's chain is matched against TLSA records.
_NO_TLSA: Mapping[str, TlsaLookup] = MappingProxyType({})


def _context(
    config: ProbeConfig,
    now: datetime | None,
    clock: Clock | None,
    trace: Callable[[Route, PhaseRecord], None] | None,
    store: Store | None = None,
    tlsa: Mapping[str, TlsaLookup] = _NO_TLSA,
    nexthop: str | None = None,
) -> ProbeContext:
    # The store loads on the first handshake (cached per process by load_trust_store).
    # Only usable lookups matter to the probe: a DANE sender ignores the rest (RFC 7672 2.2).
    usable = {
        name.rstrip(".").lower(): lookup
        for name, lookup in tlsa.items()
        if lookup.state is DaneState.USABLE
    }
    return ProbeContext(
        config,
        client_context(),
        store,
        now=now,
        clock=clock,
        trace=trace,
        load_store=functools.partial(load_trust_store, config.tls.ca_file),
        dane=usable,
        nexthop=nexthop,
    )


def _unstarted(route: Route, detail: str, error_type: str | None = None) -> RouteResult:
    outcome = Outcome.ERROR if error_type else Outcome.TIMEOUT
    record = PhaseRecord(
        Phase.CONNECT, outcome, 0.0, 0.0, detail=clean(detail), error_type=error_type
    )
    return RouteResult(
        route=route,
        phases=(record,),
        ok=False,
        started_at=utc_iso(),
    )


def _skipped(route: Route, reason: SkipReason, detail: str) -> RouteResult:
    record = PhaseRecord(
        Phase.CONNECT, Outcome.NOT_ATTEMPTED, 0.0, 0.0, detail=clean(detail), skip_reason=reason
    )
    return RouteResult(route=route, phases=(record,), ok=False, started_at=utc_iso())


def _with_policy(route: Route, config: ProbeConfig) -> tuple[Route, RouteResult | None]:
    """The route with its address class set, and a not-attempted result if the
    policy forbids connecting (``None`` when it may be probed)."""
    policy = address_policy(route.address, config.allowed_networks)
    route = replace(route, address_class=policy.address_class, allowed=policy.allowed)
    if policy.connect:
        return route, None
    hint = "" if policy.address_class in NEVER_CONNECT else "; --allow-targets permits it"
    detail = f"not connected: {policy.address_class.value} address{hint}"
    return route, _skipped(route, SkipReason.ADDRESS_POLICY, detail)


def _traced(result: RouteResult, ctx: ProbeContext) -> RouteResult:
    """Report a route that was never attempted to the live trace, like any phase."""
    if ctx.trace is not None:
        for record in result.phases:
            ctx.trace(result.route, record)
    return result


def _too_late(route: Route) -> RouteResult:
    return _skipped(
        route,
        SkipReason.DEADLINE,
        "not attempted: the overall deadline passed before its turn came",
    )


async def _guarded(
    route: Route, ctx: ProbeContext, deadline: float, hints: AddressHints | None = None
) -> RouteResult:
    """Probe a route; whatever happens, return a result by ``deadline + _GRACE``."""
    route, skipped = _with_policy(route, ctx.config)
    if skipped is not None:
        return _traced(skipped, ctx)
    if deadline - asyncio.get_running_loop().time() < _MIN_START:
        return _traced(_too_late(route), ctx)
    try:
        async with asyncio.timeout_at(deadline + _GRACE):
            return await run_route(route, ctx, deadline, hints)
    except TimeoutError:
        return _unstarted(route, "overall deadline reached")
    except Exception as exc:  # a bug, not a network outcome: still never raise
        return _unstarted(route, f"internal error: {exc}", type(exc).__name__)


def schedule(routes: Sequence[Route], delivery_port: int) -> list[int]:
    """The order routes queue for connection slots: indexes into ``routes``.

    Delivery-port routes first (the verdict depends on them), by MX rank (primary
    first); then the rest, by rank; the plan's order within each group.
    """
    return sorted(
        range(len(routes)),
        key=lambda i: (routes[i].port != delivery_port, routes[i].rank, i),
    )


async def probe_route(
    route: Route,
    config: ProbeConfig,
    *,
    deadline: float | None = None,
    now: datetime | None = None,
    clock: Clock | None = None,
    trace: Callable[[Route, PhaseRecord], None] | None = None,
) -> RouteResult:
    """Probe one route and return what happened (never raises on network outcomes).

    Args:
        route: The route.
        config: Timeouts, TLS trust, EHLO name, source address.
        deadline: Absolute ``loop.time()`` by which the probe ends; default now +
            ``config.timeouts.total``.
        now: Instant for certificate validity (tests); default the current time.
        clock: Monotonic clock for phase timing (tests); default the loop's clock.
        trace: Called with each finished phase record.
    """
    loop = asyncio.get_running_loop()
    if deadline is None:
        deadline = loop.time() + config.timeouts.total
    return await _guarded(route, _context(config, now, clock, trace), deadline)


async def probe_routes(
    routes: Sequence[Route],
    config: ProbeConfig,
    *,
    deadline: float | None = None,
    now: datetime | None = None,
    trace: Callable[[Route, PhaseRecord], None] | None = None,
    tlsa: Mapping[str, TlsaLookup] = _NO_TLSA,
    nexthop: str | None = None,
    gates: AddressGates | None = None,
) -> tuple[RouteResult, ...]:
    """Probe every route concurrently; results in the order of ``routes``.

    At most ``config.per_address_limit`` connections per destination address and
    :data:`MAX_CONCURRENCY` overall. Returns by ``deadline`` (absolute
    ``loop.time()``, default now + ``config.timeouts.total``) plus a fraction of a
    second, whatever the servers do; never raises on network outcomes.

    ``tlsa``: TLSA lookups by MX host name (:func:`smtpdiag.policy.dane.lookup_tlsa`).
    A route on ``config.delivery_port`` whose host's lookup is ``usable`` gets the
    chain it presented matched against the records (:attr:`TlsInfo.dane`); the
    check runs right after the handshake and costs no extra time on the wire.
    ``nexthop``: the domain whose MX RRset named the routes' hosts, when that RRset is
    DNSSEC-secure: a DANE-TA certificate may name it (RFC 7672 3.2.2).
    ``gates``: per-address gates shared with other probes (:class:`AddressGates`: its
    limit and rate then bound every probe holding it together); default: gates of
    ``config.per_address_limit`` for this call only.
    """
    loop = asyncio.get_running_loop()
    if deadline is None:
        deadline = loop.time() + config.timeouts.total
    ctx = _context(config, now, None, trace, tlsa=tlsa, nexthop=nexthop)
    overall = asyncio.Semaphore(MAX_CONCURRENCY)
    if gates is None:
        gates = AddressGates(config.per_address_limit)
    hints: dict[str, AddressHints] = {}
    results: list[RouteResult | None] = [None] * len(routes)

    async def one(index: int, route: Route) -> None:
        route, skipped = _with_policy(route, config)
        if skipped is not None:
            results[index] = _traced(skipped, ctx)  # takes no slot: nothing is sent
            return
        gate = gates.gate(route.address)
        try:
            async with asyncio.timeout_at(deadline):
                stamp = await gate.acquire()
        except TimeoutError:
            results[index] = _traced(_too_late(route), ctx)
            return
        try:
            async with overall:
                gate.started(stamp)
                shared = hints.setdefault(address_key(route.address), AddressHints())
                results[index] = await _guarded(route, ctx, deadline, shared)
        finally:
            gate.release()

    # Tasks start, and so queue for slots (FIFO), in this order.
    async with asyncio.TaskGroup() as group:
        for index in schedule(routes, config.delivery_port):
            group.create_task(one(index, routes[index]))
    return tuple(
        r if r is not None else _unstarted(routes[i], "not run") for i, r in enumerate(results)
    )
