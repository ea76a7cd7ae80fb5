"""The submitting side of a cluster run: domains in, records out, through Celery.

The local engine (:class:`~smtpdiag.triage.run.Engine`) reads the input, skips what is
done (``--resume``), keeps the recipients and writes the records, as in a local run;
each domain it would diagnose goes to :meth:`_Submitter.diagnose` instead, which
collects domains into batches (tasks) and waits for their records.

The Celery client blocks, so it runs on a thread of its own: it publishes the batches,
and polls the result backend for all outstanding tasks at once (one ``MGET`` per
poll). A result read is deleted from the backend. A task that ends in failure gives an
error record for each of its domains; one revoked, or given up when the run stops,
gives none (not done: ``--resume`` does it again). When nothing finishes for a long
time (the broker lost its queue in a restart without persistence), the outstanding
batches are published again: the workers reuse whatever was stored for the run, so
nothing is probed or written twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import Any

from ...config import ProbeConfig
from ...errors import ProbeError
from ..model import BulkSettings, DomainRecord
from ..routes import Interrupted, RunStats
from ..wire import record_from_plain
from ..work import WorkUnit
from . import ClusterOptions, mask_url

__all__ = ["cluster_pool"]

# Seconds between two polls of the result backend.
_POLL = 0.05
# Seconds a partly filled batch waits for more domains before it is sent.
_LINGER = 0.05
# Seconds the broker may stay unreachable before the run ends with an error.
_BROKER_PATIENCE = 30.0
# Seconds to wait for a worker to answer the first ping.
_PING = 2.0


#: Times a batch whose task failed (a worker's Redis went away mid-batch, say) is sent
#: again before its domains are reported as errors. Records are kept per (run, domain),
#: first one wins, so a batch sent again never gives a domain two records.
_RESENDS = 2


class _Task:
    __slots__ = ("futures", "names", "sends", "sent")

    def __init__(
        self, names: list[str], futures: list[asyncio.Future[DomainRecord]], sends: int = 1
    ) -> None:
        self.names = names
        self.futures = futures
        self.sent = time.monotonic()
        self.sends = sends


class _Submitter:
    def __init__(
        self,
        options: ClusterOptions,
        config: ProbeConfig,
        settings: BulkSettings,
        now: datetime | None,
        stats: RunStats,
    ) -> None:
        import redis  # noqa: F401  (both of the extra, checked before anything starts)
        from celery import Celery

        from .app import QUEUE, TASK, configure

        # An app of its own: the module's app (the workers') keeps the connection pools
        # of the first broker it used, and a process may submit to several brokers.
        app = Celery("smtpdiag-submit", set_as_current=False)
        configure(app, options.broker)
        self._app = app
        self._queue = QUEUE
        self._task_name = TASK
        self._options = options
        self._base = WorkUnit((), config, settings, (), now.isoformat() if now else None).to_dict()
        self._stats = stats
        self._loop = asyncio.get_running_loop()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = threading.Event()
        self._pending: list[tuple[str, asyncio.Future[DomainRecord]]] = []
        self._pending_since = 0.0
        self._outstanding: dict[str, _Task] = {}
        self._progress = time.monotonic()
        self._stall = 2 * (settings.domain_deadline + config.timeouts.total)
        self.failure: str | None = None
        #: Broker and backend commands sent (the benchmark's broker load).
        self.trips = 0
        self.worker_trips = 0
        self._thread = threading.Thread(target=self._run, name="smtpdiag-submit", daemon=True)

    # -------------------------------------------------------- the event loop side

    def start(self) -> None:
        import redis

        try:  # a clear line now, not Celery's retries for minutes
            client = redis.Redis.from_url(
                self._options.broker, socket_connect_timeout=_PING, socket_timeout=_PING
            )
            try:
                client.ping()
            finally:
                client.close()
            answered = self._app.control.ping(timeout=_PING, limit=1)
        except Exception as exc:
            raise ProbeError(self._unreachable(exc)) from None
        if not answered:
            raise ProbeError(
                f"no smtpdiag worker answered on the broker {mask_url(self._options.broker)} "
                "(start one with: smtpdiag worker --broker URL)"
            )
        self._thread.start()

    async def diagnose(self, name: str) -> DomainRecord:
        if self.failure is not None:
            raise Interrupted
        future: asyncio.Future[DomainRecord] = self._loop.create_future()
        with self._lock:
            if not self._pending:
                self._pending_since = time.monotonic()
            self._pending.append((name, future))
            if len(self._pending) >= self._options.batch_size:
                self._wake.set()
        return await future

    async def close(self) -> None:
        self._closed.set()
        self._wake.set()
        if self._thread.is_alive():
            await asyncio.to_thread(self._thread.join)
        left = [tid for tid in self._outstanding]
        if left:  # a stop: the workers need not do what nobody will write
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self._app.control.revoke, left)
        for _name, future in self._pending:
            future.cancel()
        with contextlib.suppress(Exception):
            await asyncio.to_thread(self._app.close)  # the broker connection pools
        if self.failure is not None:
            raise ProbeError(self.failure)

    # -------------------------------------------------------- the client thread

    def _unreachable(self, exc: BaseException) -> str:
        return f"cannot reach the broker {mask_url(self._options.broker)}: {type(exc).__name__}"

    def _run(self) -> None:
        try:
            self._serve()
        finally:
            # The result backend is this thread's own (Celery keeps one per thread).
            with contextlib.suppress(Exception):
                self._app.backend.client.connection_pool.disconnect()

    def _serve(self) -> None:
        trouble_since: float | None = None
        while not self._closed.is_set():
            try:
                self._send()
                self._collect()
                self._resend_stalled()
                trouble_since = None
            except Exception as exc:  # the broker went away: retry for a while
                now = time.monotonic()
                trouble_since = trouble_since or now
                if now - trouble_since > _BROKER_PATIENCE:
                    self.failure = self._unreachable(exc)
                    self._give_up_all()
                    return
                time.sleep(0.5)
                continue
            self._wake.wait(_POLL)
            self._wake.clear()

    def _send(self) -> None:
        size = self._options.batch_size
        with self._lock:
            due = self._pending and (
                len(self._pending) >= size or time.monotonic() - self._pending_since >= _LINGER
            )
            if not due:
                return
            taken, self._pending = self._pending, []
        for start in range(0, len(taken), size):
            chunk = taken[start : start + size]
            self._publish([n for n, _ in chunk], [f for _, f in chunk])

    def _publish(
        self, names: list[str], futures: list[asyncio.Future[DomainRecord]], sends: int = 1
    ) -> None:
        unit = {**self._base, "domains": names}
        options = self._options
        sent = self._app.send_task(
            self._task_name,
            args=[options.run_id, unit, options.throttle_backoff],
            queue=self._queue,
        )
        self.trips += 1
        self._outstanding[sent.id] = _Task(names, futures, sends)

    def _collect(self) -> None:
        if not self._outstanding:
            self._progress = time.monotonic()
            return
        backend = self._app.backend
        ready = list(backend.get_many(list(self._outstanding), interval=0, max_iterations=1))
        self.trips += 1
        if not ready:
            return
        self._progress = time.monotonic()
        for task_id, meta in ready:
            task = self._outstanding.pop(task_id, None)
            if task is not None:
                self._settle(task, meta)
        backend.client.delete(*(backend.get_key_for_task(tid) for tid, _ in ready))
        self.trips += 1

    def _settle(self, task: _Task, meta: dict[str, Any]) -> None:
        status = meta.get("status")
        result = meta.get("result")
        if status == "SUCCESS" and isinstance(result, dict):
            self._loop.call_soon_threadsafe(self._count, result)
            rows = {row[0]: row for row in result.get("records", []) if isinstance(row, list)}
            for name, future in zip(task.names, task.futures, strict=True):
                row = rows.get(name)
                if row is None or len(row) != 3:
                    self._fail(future, RuntimeError("no record came back for it"))
                elif isinstance(row[1], dict):
                    try:
                        self._done(future, record_from_plain(row[1]))
                    except (ValueError, TypeError, KeyError) as exc:
                        self._fail(
                            future, RuntimeError(f"unreadable record ({type(exc).__name__})")
                        )
                else:
                    self._fail(future, RuntimeError(str(row[2])[:200]))
        elif status == "FAILURE":
            if task.sends <= _RESENDS:
                self._publish(task.names, task.futures, task.sends + 1)
                return
            why = result.get("exc_type") if isinstance(result, dict) else None
            for future in task.futures:
                self._fail(future, RuntimeError(f"the worker's task failed ({why or 'unknown'})"))
        else:  # revoked: not done
            for future in task.futures:
                self._fail(future, Interrupted())

    def _count(self, result: dict[str, Any]) -> None:
        connections = result.get("connections")
        if isinstance(connections, dict):
            for address, n in connections.items():
                if isinstance(n, int):
                    self._stats.connections[str(address)] += n
        probed = result.get("routes_probed")
        if isinstance(probed, int):
            self._stats.routes_probed += probed
        trips = result.get("trips")
        if isinstance(trips, int):
            self.worker_trips += trips

    def _resend_stalled(self) -> None:
        if not self._outstanding or time.monotonic() - self._progress < self._stall:
            return
        stalled, self._outstanding = self._outstanding, {}
        for task in stalled.values():
            self._publish(task.names, task.futures, task.sends)
        self._progress = time.monotonic()

    def _give_up_all(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
        for _name, future in pending:
            self._fail(future, Interrupted())
        for task in self._outstanding.values():
            for future in task.futures:
                self._fail(future, Interrupted())
        self._outstanding.clear()

    def _done(self, future: asyncio.Future[DomainRecord], record: DomainRecord) -> None:
        def settle() -> None:
            if not future.done():
                future.set_result(record)

        self._loop.call_soon_threadsafe(settle)

    def _fail(self, future: asyncio.Future[DomainRecord], exc: BaseException) -> None:
        def settle() -> None:
            if not future.done():
                future.set_exception(exc)

        self._loop.call_soon_threadsafe(settle)


@contextlib.asynccontextmanager
async def cluster_pool(
    options: ClusterOptions,
    config: ProbeConfig,
    settings: BulkSettings,
    now: datetime | None,
    stats: RunStats,
) -> AsyncIterator[Callable[[str], Awaitable[DomainRecord]]]:
    """The function a domain name goes into, its record out, diagnosed by the cluster's
    workers. Raises :class:`ProbeError` when the broker cannot be reached or no worker
    answers (at the start, or the broker for long during the run)."""
    try:
        submitter = _Submitter(options, config, settings, now, stats)
    except ImportError as exc:
        from ...errors import ConfigError

        raise ConfigError(
            f"the celery engine needs the smtpdiag[celery] extra ({exc.name} is missing)"
        ) from None
    await asyncio.to_thread(submitter.start)
    try:
        yield submitter.diagnose
    finally:
        await submitter.close()
