"""The I/O loop of a bulk run: read targets, resolve, probe each distinct route once,
diagnose every domain from the shared route results, stream records out.

Bounds, whatever the input:

- memory: at most ``settings.in_flight`` domains and ``settings.pending_recipients``
  recipients are held; reading pauses until work finishes. Already finished domains
  keep one small entry each (for dedupe and for their later recipients);
- towards one address: ``settings.per_address_limit`` connections at a time and at
  most ``settings.per_address_rate`` new ones per minute; ``settings.concurrency``
  connections overall; every probe ends with QUIT where the session allows it (the
  probe stage's contract) and by its own deadline;
- per domain: ``settings.domain_deadline`` from the start of its resolution.

Stopping: setting ``stop`` stops reading at once; the domains in flight go on, queued
routes included, for at most :func:`stop_grace` seconds, and every one that finishes is
emitted. At the end of the grace the rest is given up: routes still queued or being
probed are cancelled, and the domains that needed them are not emitted (not done, so
``--resume`` does them again). Cancelling the run ends everything at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import threading
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, BinaryIO

from ..bounces import BatchTally
from ..bounces.reasons import Decision, Reason
from ..config import ProbeConfig
from ..model import (
    DaneState,
    ProbeReport,
    Route,
    RouteResult,
    Verdict,
)
from ..narrate.narrator import diagnose
from ..policy import DaneInputs, lookup_policy
from ..probing import plan_routes, probe_routes
from ..resolve import caching_resolver, resolve_domain
from ..timefmt import utc_iso
from ..version import __version__
from .input import Target, parse_line, read_targets
from .model import BulkItem, BulkSettings, DomainDecision, DomainRecord, ErrorRecord
from .plan import domain_record, recipient_record, route_key
from .routes import Interrupted, RouteCache, RunStats

if TYPE_CHECKING:
    from .cluster import ClusterOptions

__all__ = [
    "STOP_GRACE_CAP",
    "DomainDecision",
    "Engine",
    "RunStats",
    "bulk",
    "run_targets",
    "stop_grace",
]

# Input items read per trip to the reading thread (a file or a pipe may block).
_READ_CHUNK = 256
# Chunks read ahead of the run.
_READ_AHEAD = 4
# Records buffered between the run and a slow consumer.
_OUT_QUEUE = 1024

#: Seconds the domains in flight get to finish after a stop, at most. A service
#: manager's stop timeout sets the scale: ``docker stop`` sends SIGKILL 10 s after
#: SIGTERM, so the records must be written well before that.
STOP_GRACE_CAP = 8.0


def stop_grace(settings: BulkSettings) -> float:
    """How long the domains in flight get to finish after a stop: the per-domain
    deadline, capped at :data:`STOP_GRACE_CAP`."""
    return min(settings.domain_deadline, STOP_GRACE_CAP)


@dataclass(slots=True)
class _Waiting:
    """Recipients read while their domain is in flight."""

    items: list[Target] = field(default_factory=list)


class Engine:
    def __init__(
        self,
        config: ProbeConfig,
        settings: BulkSettings,
        emit: Callable[[BulkItem], Awaitable[None]],
        stats: RunStats,
        *,
        recipients: bool,
        done: Mapping[str, DomainDecision],
        now: datetime | None,
    ) -> None:
        self.config = config
        self.settings = settings
        self.emit = emit
        self.stats = stats
        self.recipients = recipients
        self.resumed = done
        self.now = now
        # domain -> in flight (_Waiting) or finished (its decision; None without recipients)
        self.state: dict[str, _Waiting | DomainDecision | None] = {}
        self.in_flight = asyncio.Semaphore(settings.in_flight)
        self.pending = 0
        self.room = asyncio.Condition()
        self.resolver = caching_resolver(
            config.resolver, config.timeouts.dns, size=settings.dns_cache
        )
        # The policy stage's DNSSEC questions (MX with DO, TLSA, the MX hosts' addresses)
        # have their own cache: each MX host is asked once per run, not once per domain.
        self.dnssec_resolver = caching_resolver(
            config.resolver, config.timeouts.dns, size=settings.dns_cache, dnssec=True
        )
        self.dns = asyncio.Semaphore(settings.dns_concurrency)
        self.active = 0
        self.idle = asyncio.Event()
        self.idle.set()
        self.tasks: set[asyncio.Task[None]] = set()
        # Set at the end of a stop's grace: a domain cancelled now is given up, not failed.
        self.abandoned = False
        # Set when worker processes diagnose (``--workers``): a domain name in, its
        # record out; this process then only reads, probes routes and writes.
        self.remote: Callable[[str], Awaitable[DomainRecord]] | None = None

    async def drained(self) -> None:
        """Return when no domain is in flight."""
        await self.idle.wait()

    async def _recipient(self, target: Target, decision: DomainDecision) -> None:
        record = recipient_record(
            decision, target.input, target.recipient, target.domain, target.bounce
        )
        self.stats.recipients += 1
        await self.emit(record)

    async def take(
        self, item: Target | ErrorRecord, group: asyncio.TaskGroup, routes: RouteCache
    ) -> None:
        self.stats.inputs += 1
        if isinstance(item, ErrorRecord):
            self.stats.errors += 1
            await self.emit(item)
            return
        name = item.domain
        state = self.state.get(name, _MISSING)
        if state is _MISSING:
            given = self.resumed.get(name)
            # A plain 4-tuple (a caller of an earlier version) reads as a known verdict.
            resumed = None if given is None else DomainDecision(*given)
            if resumed is not None:
                self.stats.skipped += 1
                self.state[name] = resumed if self.recipients else None
                if self.recipients:
                    await self._recipient(item, resumed)
                return
            await self.in_flight.acquire()
            waiting = _Waiting()
            if self.recipients:
                waiting.items.append(item)
                self.pending += 1
            self.state[name] = waiting
            self.active += 1
            self.stats.in_flight = self.active
            self.idle.clear()
            task = group.create_task(self._domain(name, routes))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        elif isinstance(state, _Waiting):
            if self.recipients:
                state.items.append(item)
                self.pending += 1
        elif state is not None and self.recipients:
            await self._recipient(item, state)
        if self.pending > self.settings.pending_recipients:
            async with self.room:
                await self.room.wait_for(lambda: self.pending <= self.settings.pending_recipients)

    async def _domain(self, name: str, routes: RouteCache) -> None:
        try:
            try:
                record: DomainRecord | ErrorRecord = await (
                    self.remote(name) if self.remote is not None else self._diagnose(name, routes)
                )
            except (Interrupted, asyncio.CancelledError) as exc:
                if isinstance(exc, asyncio.CancelledError) and not self.abandoned:
                    raise
                # Not done: neither it nor its recipients are written; resume redoes it.
                self.stats.given_up += 1
                left = self.state.pop(name, None)
                if isinstance(left, _Waiting):
                    async with self.room:
                        self.pending -= len(left.items)
                        self.room.notify_all()
                return
            except Exception as exc:  # a bug must not end the run; say which domain
                record = ErrorRecord(name, "internal", f"{type(exc).__name__}: {exc}"[:200])
            waiting = self.state.get(name)
            decision: DomainDecision | None = None
            if isinstance(record, DomainRecord):
                self.stats.domains += 1
                decision = DomainDecision.of(record)
            else:
                self.stats.errors += 1
                decision = DomainDecision(
                    Decision.KEEP, None, None, Reason.UNKNOWN, Verdict.UNKNOWN
                )
            self.state[name] = decision if self.recipients else None
            await self.emit(record)
            if isinstance(waiting, _Waiting):
                for target in waiting.items:
                    await self._recipient(target, decision)
                async with self.room:
                    self.pending -= len(waiting.items)
                    self.room.notify_all()
        finally:
            self.in_flight.release()
            self.active -= 1
            self.stats.in_flight = self.active
            if self.active == 0:
                self.idle.set()

    def abandon(self, routes: RouteCache) -> None:
        """End of a stop's grace: give up every domain still in flight and its routes."""
        self.abandoned = True
        routes.abandon()
        for task in list(self.tasks):
            task.cancel()

    async def _routes_of(
        self, planned: Sequence[Route], routes: RouteCache, deadline: float, dane: DaneInputs
    ) -> list[tuple[RouteResult, bool]]:
        """Each planned route's result and whether another domain's probe made it.

        Routes of an MX host with usable TLSA records are probed for this domain alone:
        their chains are matched against this domain's records (a shared result carries
        no match, or another domain's)."""
        own = {
            i
            for i, r in enumerate(planned)
            if (t := dane.tlsa.get(r.mx)) is not None and t.state is DaneState.USABLE
        }
        pairs: list[tuple[RouteResult, bool] | None] = [None] * len(planned)
        if own:
            probed = await probe_routes(
                [planned[i] for i in sorted(own)],
                self.config,
                deadline=deadline,
                tlsa=dane.tlsa,
                nexthop=dane.nexthop,
            )
            for index, result in zip(sorted(own), probed, strict=True):
                pairs[index] = (result, False)
        # Most routes are known already (shared with earlier domains): no task for them.
        misses: list[int] = []
        for index, route in enumerate(planned):
            if index in own:
                continue
            known = routes.cached(route)
            if known is not None:
                pairs[index] = (known, True)
            else:
                misses.append(index)
        if misses:
            waited = await asyncio.gather(
                *(routes.result_for(planned[i], deadline) for i in misses)
            )
            for index, pair in zip(misses, waited, strict=True):
                pairs[index] = pair
        return [p for p in pairs if p is not None]

    async def _diagnose(self, name: str, routes: RouteCache) -> DomainRecord:
        loop = asyncio.get_running_loop()
        config = self.config
        started = loop.time()
        started_at = utc_iso()
        deadline = started + self.settings.domain_deadline
        async with self.dns:
            resolution = await resolve_domain(
                name,
                config,
                deadline=min(deadline, loop.time() + config.timeouts.total),
                resolver=self.resolver,
            )
        planned = plan_routes(resolution, config)

        async def fetch(dane: DaneInputs) -> list[tuple[RouteResult, bool]]:
            return await self._routes_of(planned, routes, deadline, dane)

        # The same pipeline as a single probe: the TLS policy stage (MTA-STS, DANE,
        # TLS-RPT) runs around the routes, each domain's policy kept to that domain.
        try:
            policy, done_pairs = await lookup_policy(
                name,
                resolution,
                config,
                deadline=deadline,
                during=fetch,
                dnssec_resolver=self.dnssec_resolver,
            )
        except BaseExceptionGroup as group:
            # The policy stage's task group wraps a route given up (stop requested).
            if group.subgroup(Interrupted) is not None:
                raise Interrupted from None
            raise
        duration = (loop.time() - started) * 1000.0
        report = ProbeReport(
            domain=name,
            resolution=resolution,
            routes=tuple(result for result, _ in done_pairs),
            started_at=started_at,
            duration_ms=round(duration, 3),
            ports=config.ports,
            families=config.families,
            policy=policy,
            tool_version=__version__,
        )
        report = replace(report, diagnosis=diagnose(report, now=self.now))
        shared = frozenset(route_key(r) for r, (_, s) in zip(planned, done_pairs, strict=True) if s)
        return domain_record(report, shared, duration)


def _pool(
    workers: int,
    config: ProbeConfig,
    settings: BulkSettings,
    routes: RouteCache,
    now: datetime | None,
) -> contextlib.AbstractAsyncContextManager[Callable[[str], Awaitable[DomainRecord]]]:
    from .pool import worker_pool  # only with --workers: spawns processes

    return worker_pool(workers, config, settings, routes, now)


def _cluster(
    options: ClusterOptions,
    config: ProbeConfig,
    settings: BulkSettings,
    now: datetime | None,
    stats: RunStats,
) -> contextlib.AbstractAsyncContextManager[Callable[[str], Awaitable[DomainRecord]]]:
    from .cluster.submit import cluster_pool  # only with the Celery engine: imports celery

    return cluster_pool(options, config, settings, now, stats)


_MISSING = _Waiting()  # a sentinel no domain state is ever identical to


class _Reader:
    """The input read in chunks on a daemon thread (a pipe or a slow disk may block,
    and a blocked read must not keep the process alive after Ctrl-C). At most
    :data:`_READ_AHEAD` chunks wait, so memory stays bounded."""

    def __init__(self, items: Iterator[Target | ErrorRecord]) -> None:
        self._items = items
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[list[Target | ErrorRecord] | BaseException] = asyncio.Queue()
        self._room = threading.Semaphore(_READ_AHEAD)
        self._closed = False
        threading.Thread(target=self._run, name="smtpdiag-bulk-input", daemon=True).start()

    def _put(self, value: list[Target | ErrorRecord] | BaseException) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody is waiting
            self._loop.call_soon_threadsafe(self._queue.put_nowait, value)

    def _run(self) -> None:
        try:
            while True:
                self._room.acquire()
                if self._closed:
                    return
                chunk = list(itertools.islice(self._items, _READ_CHUNK))
                self._put(chunk)
                if not chunk:
                    return
        except Exception as exc:  # handed to the loop, raised there
            self._put(exc)

    async def chunks(self) -> AsyncIterator[list[Target | ErrorRecord]]:
        while True:
            chunk = await self._queue.get()
            self._room.release()
            if isinstance(chunk, BaseException):
                raise chunk
            if not chunk:
                return
            yield chunk

    def close(self) -> None:
        self._closed = True
        self._room.release()


async def run_targets(
    targets: Iterator[Target | ErrorRecord],
    config: ProbeConfig,
    settings: BulkSettings,
    emit: Callable[[BulkItem], Awaitable[None]],
    *,
    recipients: bool = False,
    done: Mapping[str, DomainDecision] | None = None,
    routes: Iterable[RouteResult] = (),
    stop: asyncio.Event | None = None,
    stats: RunStats | None = None,
    now: datetime | None = None,
    workers: int = 0,
    cluster: ClusterOptions | None = None,
) -> tuple[RouteResult, ...]:
    """Run every target through the bulk pipeline, calling ``emit`` with each record
    as soon as it is known; returns the route results kept at the end (the cache).

    Args:
        targets: Domains (and recipients) to triage, and input errors to pass on.
        config: Ports, timeouts, resolver, TLS trust, address policy.
        settings: Politeness and memory bounds.
        emit: Called with every record, in completion order.
        recipients: Emit a :class:`RecipientRecord` per target as well.
        done: Domains already finished (resume): not probed again; their
            recipients get the decision given here.
        routes: Route results from earlier batches: not probed again.
        stop: When set, reading stops at once; the domains in flight get
            :func:`stop_grace` seconds to finish (emitted), then the rest is given up
            (not emitted).
        stats: Counters to update (a new one when ``None``).
        now: The instant retry schedules count from (default: each diagnosis time).
        workers: Worker processes that resolve and diagnose (0: this process does).
        cluster: Hand every domain to the Celery workers of this cluster instead
            (``workers`` is then ignored).
    """
    stats = stats if stats is not None else RunStats()
    engine = Engine(config, settings, emit, stats, recipients=recipients, done=done or {}, now=now)
    reader = _Reader(targets)
    failure: Exception | None = None
    try:
        async with contextlib.AsyncExitStack() as stack:
            if cluster is not None:
                # Entered outside the task group: a broker out of reach is one error,
                # not a group of them.
                engine.remote = await stack.enter_async_context(
                    _cluster(cluster, config, settings, now, stats)
                )
            async with asyncio.TaskGroup() as group:
                cache = RouteCache(config, settings, group, stats, routes)
                if cluster is None and workers > 0:
                    engine.remote = await stack.enter_async_context(
                        _pool(workers, config, settings, cache, now)
                    )
                feeding = asyncio.get_running_loop().create_task(
                    _feed(reader, engine, group, cache)
                )
                if await _first(feeding, (stop or asyncio.Event()).wait()):
                    stats.interrupted = True  # reading stopped before the input ended
                failure = _failure(feeding)
                if failure is not None:
                    # Raised below, outside the task group (which would wrap it in a group).
                    engine.abandon(cache)
                elif stop is not None:
                    # The input may have ended before the stop: the stop still has its grace.
                    await _first(engine.drained(), stop.wait())
                    if stop.is_set():
                        # Also when the input had all been read: domains given up at the end
                        # of the grace are not done (and --resume does them again).
                        stats.interrupted = True
                        await _grace(engine, cache, stop_grace(settings))
    finally:
        reader.close()
    if failure is not None:
        raise failure
    return cache.results()


async def _feed(
    reader: _Reader, engine: Engine, group: asyncio.TaskGroup, cache: RouteCache
) -> None:
    async for chunk in reader.chunks():
        for item in chunk:
            await engine.take(item, group, cache)


def _failure(feeding: asyncio.Task[None]) -> Exception | None:
    """What ended the reading (a ConfigError from the input, say), if anything."""
    if not feeding.done() or feeding.cancelled():
        return None
    exc = feeding.exception()
    if exc is None or isinstance(exc, Exception):
        return exc
    raise exc  # KeyboardInterrupt and the like: not ours to hold


async def _first(work: Awaitable[None], stopped: Awaitable[object]) -> bool:
    """Wait for ``work`` or the stop, whichever comes first; whether the stop came first.
    ``work`` (a task) is cancelled then: a read or a wait for room is abandoned."""
    work_task = asyncio.ensure_future(work)
    stop_task = asyncio.ensure_future(stopped)
    try:
        await asyncio.wait((work_task, stop_task), return_when=asyncio.FIRST_COMPLETED)
    finally:
        stop_task.cancel()
        if not work_task.done():
            work_task.cancel()
            # asyncio.wait, not "await work_task" under suppress(CancelledError): a
            # cancellation of this task arriving now (a second Ctrl-C) must not be
            # swallowed with the work task's own.
            await asyncio.wait((work_task,))
    return not (work_task.done() and not work_task.cancelled())


async def _grace(engine: Engine, cache: RouteCache, grace: float) -> None:
    """After a stop: the domains in flight get ``grace`` seconds to finish; then the
    rest is given up."""
    engine.stats.stopped_in_flight = engine.active
    try:
        async with asyncio.timeout(grace):
            await engine.drained()
    except TimeoutError:
        engine.abandon(cache)


def _targets_of(
    source: str | Iterable[str], input_format: str, stdin: BinaryIO | None, tally: BatchTally
) -> Iterator[Target | ErrorRecord]:
    if isinstance(source, str):
        return read_targets(source, input_format, stdin=stdin, tally=tally)

    def lines() -> Iterator[Target | ErrorRecord]:
        for number, line in enumerate(source, 1):
            item = parse_line(line.encode("utf-8", "replace"), f"item:{number}")
            if item is not None:
                yield item

    return lines()


async def bulk(
    source: str | Iterable[str],
    config: ProbeConfig | None = None,
    settings: BulkSettings | None = None,
    *,
    input_format: str = "auto",
    recipients: bool = False,
    done: Mapping[str, DomainDecision] | None = None,
    stdin: BinaryIO | None = None,
    stop: asyncio.Event | None = None,
    stats: RunStats | None = None,
    now: datetime | None = None,
    workers: int = 0,
    cluster: ClusterOptions | None = None,
) -> AsyncIterator[BulkItem]:
    """Triage many domains, probing each distinct route once; records stream out as
    each domain completes.

    Args:
        source: A path (a list of domains or addresses, an mbox, a maildir, a
            directory of ``.eml``, a Postfix or Exim log, ``postqueue -j`` output;
            ``"-"`` reads ``stdin``), or an iterable of domains and addresses (read
            lazily: a generator of any length is fine).
        config: Ports, timeouts, resolver, TLS trust, address policy.
        settings: Politeness and memory bounds (defaults: see :class:`BulkSettings`).
        input_format: ``auto``, ``list`` or a bounce format (``mbox``, ``maildir``, ...).
        recipients: Also yield one :class:`RecipientRecord` per input item.
        done: Domains already finished (resume), with their decisions.
        stdin: The binary stream ``"-"`` reads.
        stop: Set it to stop reading at once; the domains in flight that finish
            within :func:`stop_grace` seconds are yielded, the rest given up.
        stats: Live counters (connections per address, routes probed, ...).
        now: The instant retry schedules count from.
        workers: Processes that resolve and diagnose domains (0: none, all in this
            one). Routes are still probed here, once per run, under one set of
            per-address limits; records then arrive in completion order as well.
        cluster: Run on the Celery workers of a cluster (the ``smtpdiag[celery]``
            extra): each domain is diagnosed by a worker, each route probed once per
            run over all workers, the per-address limits held over all workers
            (see :class:`~smtpdiag.triage.cluster.ClusterOptions`). ``None``: this
            machine.

    Yields:
        :class:`DomainRecord` per distinct domain, :class:`RecipientRecord` per input
        item (with ``recipients``), :class:`ErrorRecord` per unusable input item.
        Never raises on content or network outcomes.

    Raises:
        ConfigError: A bad setting.
        ProbeError: No nameserver configured and the system has none; with
            ``cluster``, the broker cannot be reached or no worker answers.
    """
    config = config or ProbeConfig()
    settings = settings or BulkSettings()
    queue: asyncio.Queue[BulkItem | None] = asyncio.Queue(_OUT_QUEUE)
    stats = stats if stats is not None else RunStats()
    tally = BatchTally()
    targets = _targets_of(source, input_format, stdin, tally)

    async def produce() -> None:
        try:
            await run_targets(
                targets,
                config,
                settings,
                queue.put,
                recipients=recipients,
                done=done,
                stop=stop,
                stats=stats,
                now=now,
                workers=workers,
                cluster=cluster,
            )
        except Exception:
            await queue.put(None)  # the consumer is waiting: wake it, then raise there
            raise
        finally:
            stats.not_understood = tally.not_understood
        await queue.put(None)

    task = asyncio.get_running_loop().create_task(produce())
    try:
        while True:
            item = await queue.get()
            if item is None:
                break
            yield item
        await task  # re-raise what ended the run (a ConfigError, a ProbeError)
    finally:
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
