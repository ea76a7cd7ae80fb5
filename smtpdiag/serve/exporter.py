"""One probe per target per interval, whatever the number of scrapers.

- **Cache**: a result younger than ``min_interval`` is served again (a cache hit).
- **Single flight**: a scrape that arrives while the target's probe runs waits for that
  probe instead of starting another (an HA Prometheus pair makes one set of connections).
- **Backoff**: when no route worked and a server answered 421 or 450 (rate limited,
  too busy), the round is *untestable*, not a failure: the served result is ``unknown``
  with the reason, and the target is not probed again before a backoff that doubles per
  such round (``min_interval`` x 2^n, at most ``max_backoff``).
- **Tarpits**: when every route that was tried either greeted slower than
  ``tarpit_greeting`` seconds or ended in a timeout (or a 421/450), and at least one
  greeting was that slow, the round is *untestable* with the reason ``tarpit`` and
  backs off the same way. A working route with a prompt greeting is never a tarpit.
- **Modules**: each ``/probe?module=NAME`` has its own probe config and requirements
  (:class:`Module`); a target's cache, history and backoff are kept per module.
- **Politeness across targets**: every probe of the process takes its connection slots
  from one :class:`~smtpdiag.probing.gates.AddressGates` registry, so targets whose MX
  hosts share an address never open more than its limit to it together, nor start
  connections faster than its rate.
- **DNS answers cached**: each module keeps one pair of caching resolvers (plain and
  DNSSEC) for the process: every answer (MX, addresses, TLSA, TXT, and NODATA and
  NXDOMAIN per RFC 2308) is kept for its TTL, at most :data:`DNS_CACHE_TTL` seconds
  and :data:`DNS_CACHE_SIZE` answers, so a round asks again only what has expired,
  and a DNS change is seen at the latest one TTL later.
- **Bounded**: at most ``max_concurrent`` probes run at once, at most ``max_targets``
  targets are remembered, and every probe ends within the probe config's deadline.

The pipeline is the library's (:func:`smtpdiag.api.probe` with the target's recent
reports as history, so the diagnosis can say "persistent", then
:func:`smtpdiag.health.evaluate`); this module adds only the service's policy.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ..config import ProbeConfig
from ..errors import ProbeError
from ..health import HealthResult, HealthStatus, Thresholds, check_config, evaluate, unknown_result
from ..model import Outcome, Phase, ProbeReport
from ..probing.gates import AddressGates
from .drift import signatures
from .state import ProbeResultKind, StateStore, TargetState
from .targets import DEFAULT_MODULE

__all__ = [
    "BACKOFF_CODES",
    "DNS_CACHE_SIZE",
    "DNS_CACHE_TTL",
    "TARPIT_GREETING",
    "Exporter",
    "Module",
    "ProbeAnswer",
    "Stats",
    "UntestableReason",
    "is_tarpit",
    "keep_in_history",
    "rate_limit_code",
    "untestable_reason",
]

#: A greeting slower than this (seconds) is a tarpit's (postscreen's greet pause is
#: 6 s by default; an MTA waits up to 5 minutes, RFC 5321 4.5.3.2).
TARPIT_GREETING = 8.0

#: SMTP reply codes that mean "come back later" rather than "broken" (RFC 5321 4.2.3:
#: 421 service not available, closing; 450 mailbox unavailable, e.g. rate limited).
BACKOFF_CODES = frozenset({421, 450})
#: Reports kept per target as the diagnosis' history (oldest dropped).
HISTORY = 8
#: Least time between two reports kept in the history, unless the status changed: the
#: diagnosis calls a failure persistent when it spans 30 minutes (PERSIST_MIN_SPAN), so
#: eight reports a minute apart would never get there, and 1,000 targets must not keep
#: 30 reports each.
HISTORY_SPACING = 300.0


def keep_in_history(
    last_kept_at: float | None, now: float, last_status: str | None, status: str
) -> bool:
    """Whether a new report joins the history: the first one, one whose status differs
    from the last kept, or one :data:`HISTORY_SPACING` seconds after the last kept."""
    if last_kept_at is None or last_status != status:
        return True
    return now - last_kept_at >= HISTORY_SPACING


def rate_limit_code(report: ProbeReport) -> int | None:
    """The 421/450 reply that makes this round untestable, or ``None``.

    Only when no route worked: one busy MX among working ones is a finding of the
    diagnosis, not a reason to stop probing the domain.
    """
    if not report.routes or any(rr.ok for rr in report.routes):
        return None
    for rr in report.routes:
        failure = rr.failure
        reply = failure.reply if failure is not None else None
        if reply is not None and reply.code in BACKOFF_CODES:
            return int(reply.code)
    return None


class UntestableReason(StrEnum):
    """Why a round gave no verdict (the ``reason`` label of ``smtpdiag_untestable``)."""

    SMTP_421 = "smtp-421"  #: 421: service not available, closing (RFC 5321 3.8)
    SMTP_450 = "smtp-450"  #: 450: rate limited or busy
    TARPIT = "tarpit"  #: greetings slower than the tarpit limit, or timeouts


def is_tarpit(report: ProbeReport, slow_greeting: float) -> bool:
    """Whether the round met a tarpit: every route tried greeted slower than
    ``slow_greeting`` seconds or ended in a timeout or a 421/450, and at least one
    greeting was that slow. Routes never tried (address policy, deadline) do not count;
    a greeting that never came is a timeout, not a slow greeting.
    """
    limit_ms = slow_greeting * 1000.0
    slow = False
    tried = 0
    for rr in report.routes:
        first = rr.phases[0] if rr.phases else None
        if first is None or first.outcome is Outcome.NOT_ATTEMPTED:
            continue
        tried += 1
        greeting = rr.phase(Phase.GREETING)
        answered = greeting is not None and greeting.outcome in (Outcome.OK, Outcome.REPLY)
        if answered and greeting is not None and greeting.duration_ms > limit_ms:
            slow = True
            continue
        failure = rr.failure
        if failure is None:
            return False  # a route that worked with a prompt greeting
        reply = failure.reply
        if failure.outcome is Outcome.TIMEOUT or (
            reply is not None and reply.code in BACKOFF_CODES
        ):
            continue
        return False
    return slow and tried > 0


def untestable_reason(report: ProbeReport, slow_greeting: float) -> UntestableReason | None:
    """Why the round is untestable (and backs off), ``None`` when it has a verdict."""
    code = rate_limit_code(report)
    if code is not None:
        return UntestableReason(f"smtp-{code}")
    if is_tarpit(report, slow_greeting):
        return UntestableReason.TARPIT
    return None


#: The most answers each of a module's caching resolvers keeps (least recently used
#: dropped): 1,000 targets ask about 9 questions each.
DNS_CACHE_SIZE = 50_000
#: The longest any DNS answer is kept, whatever its TTL (seconds).
DNS_CACHE_TTL = 3600.0


@dataclass(frozen=True, slots=True)
class Module:
    """One module: what ``/probe?module=NAME`` probes with and judges against.

    Attributes:
        config: The probe config (its ``per_address_limit`` gives way to the service's
            shared gates).
        thresholds: Limits and requirements (``require_mta_sts``, ``require_dane``).
    """

    config: ProbeConfig
    thresholds: Thresholds


@dataclass(frozen=True, slots=True)
class ProbeAnswer:
    """What a scrape of one target gets.

    Attributes:
        result: The health result served (``unknown`` while backing off).
        state: The target's history after the probe that made ``result``.
        cached: The result came from the cache (no probe for this scrape).
        shared: This scrape waited for a probe another scrape started.
        backoff_remaining: Seconds until the target is probed again when backing off
            (0 when not backing off).
        backoff_code: The reply code that caused the backoff, if any.
        age: Seconds since the result was made.
        backoff_reason: Why the target is backing off (``None``: it is not).
        module: The module that made the result.
    """

    result: HealthResult
    state: TargetState
    cached: bool
    shared: bool
    backoff_remaining: float
    backoff_code: int | None
    age: float
    backoff_reason: UntestableReason | None = None
    module: str = DEFAULT_MODULE


@dataclass(slots=True)
class _Entry:
    result: HealthResult | None = None
    state: TargetState | None = None
    made_at: float = 0.0  # monotonic
    inflight: asyncio.Task[None] | None = None
    history: deque[ProbeReport] = field(default_factory=lambda: deque(maxlen=HISTORY))
    kept_at: float | None = None  # monotonic time the last history report was kept
    kept_status: str | None = None
    backoff_rounds: int = 0
    backoff_until: float = 0.0  # monotonic
    backoff_code: int | None = None
    backoff_reason: UntestableReason | None = None


@dataclass(slots=True)
class Stats:
    """The exporter's own counters (``/metrics``)."""

    probes: int = 0
    cache_hits: int = 0
    shared: int = 0
    backoff_skips: int = 0
    in_flight: int = 0


class Exporter:
    """Probes targets with caching, single flight and backoff; see the module docstring."""

    def __init__(
        self,
        config: ProbeConfig,
        thresholds: Thresholds,
        store: StateStore,
        *,
        min_interval: float = 60.0,
        max_backoff: float = 3600.0,
        max_concurrent: int = 8,
        max_targets: int = 10_000,
        modules: Mapping[str, Module] | None = None,
        gates: AddressGates | None = None,
        tarpit_greeting: float = TARPIT_GREETING,
    ) -> None:
        self.config = check_config(config, thresholds)
        self.thresholds = thresholds
        self.modules: dict[str, Module] = {DEFAULT_MODULE: Module(self.config, thresholds)}
        for name, module in (modules or {}).items():
            if name != DEFAULT_MODULE:
                checked = check_config(module.config, module.thresholds)
                self.modules[name] = Module(checked, module.thresholds)
        self.store = store
        self.min_interval = min_interval
        self.max_backoff = max(max_backoff, min_interval)
        self.tarpit_greeting = tarpit_greeting
        #: The process's per-address gates: every probe takes its slots here.
        self.gates = gates if gates is not None else AddressGates(config.per_address_limit)
        self.stats = Stats()
        self._slots = asyncio.Semaphore(max_concurrent)
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._max_targets = max_targets
        self._tasks: set[asyncio.Task[None]] = set()
        # Per module: the (plain, DNSSEC) caching resolvers, made with its first probe.
        # (keyed by the module's identity: the module itself is kept beside them).
        self._resolvers: dict[int, tuple[Module, tuple[Any, Any]]] = {}

    @property
    def targets(self) -> int:
        return len(self._entries)

    @property
    def backing_off(self) -> int:
        now = time.monotonic()
        return sum(e.backoff_until > now for e in self._entries.values())

    @staticmethod
    def key(target: str, module: str = DEFAULT_MODULE) -> str:
        """The cache and state key: the domain, ``MODULE/domain`` for other modules
        (a domain has no ``/``)."""
        return target if module == DEFAULT_MODULE else f"{module}/{target}"

    def latest(self, target: str, module: str = DEFAULT_MODULE) -> HealthResult | None:
        """The latest result for ``target`` without probing (``None``: never probed)."""
        entry = self._entries.get(self.key(target, module))
        return entry.result if entry is not None else None

    def latest_answer(self, target: str, module: str = DEFAULT_MODULE) -> ProbeAnswer | None:
        """The latest answer for ``target`` without probing (``None``: never probed)."""
        entry = self._entries.get(self.key(target, module))
        if entry is None or entry.result is None or entry.state is None:
            return None
        return self._answer(entry, module, cached=True, shared=False)

    def _entry(self, key: str) -> _Entry:
        entry = self._entries.get(key)
        if entry is None:
            entry = self._entries[key] = _Entry()
            while len(self._entries) > self._max_targets:
                old_key, old = next(iter(self._entries.items()))
                if old.inflight is not None:
                    break  # never drop a target whose probe runs; bounded by the slots
                del self._entries[old_key]
        self._entries.move_to_end(key)
        return entry

    async def probe(self, target: str, module: str = DEFAULT_MODULE) -> ProbeAnswer:
        """The answer for ``target`` (canonical domain) under ``module`` (one of
        :attr:`modules`; KeyError otherwise), probing only when due."""
        chosen = self.modules[module]
        key = self.key(target, module)
        entry = self._entry(key)
        now = time.monotonic()
        cached = shared = False
        if entry.inflight is not None:
            shared = True
            self.stats.shared += 1
        elif entry.result is not None and now < entry.backoff_until:
            cached = True
            self.stats.backoff_skips += 1
        elif entry.result is not None and now - entry.made_at < self.min_interval:
            cached = True
            self.stats.cache_hits += 1
        else:
            task = asyncio.get_running_loop().create_task(self._run(target, key, chosen, entry))
            entry.inflight = task
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        if entry.inflight is not None:
            # shield: a scrape that gives up (its deadline) does not cancel the probe
            # the others wait for; the probe ends within its own deadline anyway.
            await asyncio.shield(entry.inflight)
        if entry.result is None or entry.state is None:
            raise RuntimeError(f"the probe of {target} ended without a result")
        return self._answer(entry, module, cached=cached, shared=shared)

    @staticmethod
    def _answer(entry: _Entry, module: str, *, cached: bool, shared: bool) -> ProbeAnswer:
        assert entry.result is not None and entry.state is not None
        now = time.monotonic()
        backing_off = entry.backoff_until > now
        return ProbeAnswer(
            result=entry.result,
            state=entry.state,
            cached=cached,
            shared=shared,
            backoff_remaining=max(0.0, entry.backoff_until - now),
            backoff_code=entry.backoff_code if backing_off else None,
            age=max(0.0, now - entry.made_at),
            backoff_reason=entry.backoff_reason if backing_off else None,
            module=module,
        )

    async def _run(self, target: str, key: str, module: Module, entry: _Entry) -> None:
        try:
            async with self._slots:
                self.stats.in_flight += 1
                try:
                    await self._probe_once(target, key, module, entry)
                finally:
                    self.stats.in_flight -= 1
        finally:
            entry.inflight = None

    def _resolvers_of(self, module: Module) -> tuple[Any, Any]:
        """The module's caching resolvers (plain, DNSSEC), made on first use; ``None``
        for both when its resolver configuration cannot make one (the probe then
        reports that itself, as without the cache)."""
        # Imported here: dnspython loads with the first probe.
        from ..resolve import caching_resolver

        kept = self._resolvers.get(id(module))
        if kept is not None and kept[0] is module:
            return kept[1]
        config = module.config
        pair: tuple[Any, Any]
        try:
            pair = (
                caching_resolver(
                    config.resolver,
                    config.timeouts.dns,
                    size=DNS_CACHE_SIZE,
                    keep_all=True,
                    max_ttl=DNS_CACHE_TTL,
                ),
                caching_resolver(
                    config.resolver,
                    config.timeouts.dns,
                    size=DNS_CACHE_SIZE,
                    dnssec=True,
                    keep_all=True,
                    max_ttl=DNS_CACHE_TTL,
                ),
            )
        except ProbeError:
            pair = (None, None)
        self._resolvers[id(module)] = (module, pair)
        return pair

    async def _probe_once(self, target: str, key: str, module: Module, entry: _Entry) -> None:
        from ..api import probe  # the DNS and SMTP libraries load with the first probe

        self.stats.probes += 1
        report: ProbeReport | None = None
        thresholds = module.thresholds
        try:
            resolver, dnssec_resolver = self._resolvers_of(module)
            report = await probe(
                target,
                module.config,
                history=tuple(entry.history),
                gates=self.gates,
                resolver=resolver,
                dnssec_resolver=dnssec_resolver,
            )
        except ProbeError as exc:
            result = unknown_result(target, str(exc), thresholds)
        else:
            result = evaluate(report, thresholds)
            now = time.monotonic()
            if keep_in_history(entry.kept_at, now, entry.kept_status, result.status.value):
                entry.history.append(report)
                entry.kept_at, entry.kept_status = now, result.status.value
        reason = untestable_reason(report, self.tarpit_greeting) if report is not None else None
        if reason is not None:
            entry.backoff_rounds += 1
            delay = min(self.max_backoff, self.min_interval * 2**entry.backoff_rounds)
            entry.backoff_until = time.monotonic() + delay
            entry.backoff_reason = reason
            code = rate_limit_code(report) if report is not None else None
            entry.backoff_code = code
            why = (
                f"the server answered {code} (rate limited or busy)"
                if code is not None
                else f"the servers tarpit (greetings slower than {self.tarpit_greeting:g} s "
                "or timeouts)"
            )
            result = unknown_result(
                target, f"untestable: {why}; backing off {delay:g} s", thresholds
            )
            kind = ProbeResultKind.UNTESTABLE
        else:
            entry.backoff_rounds = 0
            entry.backoff_until = 0.0
            entry.backoff_code = None
            entry.backoff_reason = None
            kind = ProbeResultKind(result.status.value)
        sigs = signatures(report) if report is not None else None
        entry.state = self.store.record(key, kind, sigs)
        entry.result = result
        entry.made_at = time.monotonic()

    async def aclose(self) -> None:
        """Cancel the probes still running (shutdown)."""
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


assert {s.value for s in HealthStatus} <= {k.value for k in ProbeResultKind}
