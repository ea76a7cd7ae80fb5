"""Worker processes for a bulk run (``--workers N``): they resolve and diagnose, this
process reads, probes and writes.

A bulk run is CPU-bound in Python (DNS messages, the rule table, JSON), so one
process uses one core. With workers, each domain goes to the least busy worker;
the worker asks this process for every route result it does not know yet, and this
process probes each distinct route once per run under the one set of per-address
limits and rates (:class:`~.run.RouteCache`). So politeness and "each route once" hold
over all workers exactly as in one process: no worker opens an SMTP connection.

A worker that dies (a crash, the OOM killer) turns each of its unfinished domains into
an ``internal`` error record naming the exit status, and is replaced (at most ``N``
times in a run); the run never waits for it. Closing the pool closes the workers'
stdin, waits a bounded time and then kills what is left, so no worker outlives the run
(each also dies with its parent: see :mod:`.worker`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime

from ..config import ProbeConfig
from ..model import Route
from .model import BulkSettings, DomainRecord
from .routes import Interrupted, RouteCache
from .wire import INTERRUPTED, LINE_LIMIT, Outbox, encode, record_from_plain
from .work import WorkUnit, from_plain, to_plain

__all__ = ["MAX_WORKERS", "WorkerLost", "default_workers", "worker_pool"]

#: Most workers a run starts (each one costs an interpreter: about 40 MB).
MAX_WORKERS = 64
#: Most workers the default picks, whatever the core count: with the main process, four
#: interpreters of about 50 MB each stay within 200 MB of memory for the run.
_DEFAULT_CAP = 3
#: Seconds a closing worker gets to exit on its own before it is killed.
_CLOSE_WAIT = 5.0
#: A route result the parent waits for on a worker's behalf: no deadline of its own
#: (the worker applies the domain's); the probe itself ends by its own deadline.
_ROUTE_WAIT = 3600.0


def default_workers() -> int:
    """One worker per core this process may run on, at most :data:`_DEFAULT_CAP`; 0 (all
    in this process) on one core. The main process only reads, probes the distinct
    routes and writes, a small share of the work, so it does not need a core of its
    own: measured on two shared cores, two workers ran about 1.5x as fast as one
    worker or none (``scripts/bench.py bulk``)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return 0 if cores < 2 else min(cores, _DEFAULT_CAP)


class WorkerLost(Exception):
    """A worker process ended with domains unfinished."""


class _Proc:
    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.waiting: dict[int, asyncio.Future[DomainRecord]] = {}
        self.outbox = Outbox(self._write)
        self.alive = True
        self.reader: asyncio.Task[None] | None = None

    def _write(self, data: bytes) -> None:
        stdin = self.proc.stdin
        if self.alive and stdin is not None and not stdin.is_closing():
            stdin.write(data)


class _Pool:
    def __init__(
        self,
        count: int,
        config: ProbeConfig,
        settings: BulkSettings,
        routes: RouteCache,
        now: datetime | None,
    ) -> None:
        unit = WorkUnit((), config, settings, (), now.isoformat() if now else None)
        self._unit = encode("unit", unit.to_dict())
        self._count = count
        self._respawns = count
        self._routes = routes
        self._procs: list[_Proc] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._tag = 0
        self._closing = False

    async def start(self) -> None:
        for _ in range(self._count):
            self._procs.append(await self._spawn())

    async def _spawn(self) -> _Proc:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "smtpdiag.triage.worker",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=LINE_LIMIT,
        )
        worker = _Proc(proc)
        assert proc.stdin is not None
        proc.stdin.write(self._unit)
        worker.reader = asyncio.get_running_loop().create_task(self._read(worker))
        return worker

    async def diagnose(self, name: str) -> DomainRecord:
        """The domain's record from the least busy worker."""
        alive = [p for p in self._procs if p.alive]
        if not alive:
            raise WorkerLost("no worker process left")
        worker = min(alive, key=lambda p: len(p.waiting))
        self._tag += 1
        future: asyncio.Future[DomainRecord] = asyncio.get_running_loop().create_future()
        worker.waiting[self._tag] = future
        worker.outbox.put("d", [self._tag, name])
        return await future

    async def _read(self, worker: _Proc) -> None:
        stdout = worker.proc.stdout
        assert stdout is not None
        try:
            while line := await stdout.readline():
                if not line.endswith(b"\n"):
                    break  # cut off: the worker ended mid-message; its exit status says why
                kind, items = json.loads(line)
                if kind == "rec":
                    for tag, plain, detail in items:
                        self._record(worker, tag, plain, detail)
                elif kind == "p":
                    for req, route in items:
                        task = asyncio.get_running_loop().create_task(
                            self._route(worker, req, route)
                        )
                        self._tasks.add(task)
                        task.add_done_callback(self._tasks.discard)
        except (ValueError, TypeError, KeyError, asyncio.LimitOverrunError) as exc:
            _kill(worker)
            await self._lost(worker, f"sent a malformed message ({type(exc).__name__})")
            return
        await self._lost(worker, None)

    def _record(self, worker: _Proc, tag: int, plain: object, detail: str | None) -> None:
        future = worker.waiting.pop(tag, None)
        if future is None or future.done():
            return
        if isinstance(plain, dict):
            try:
                future.set_result(record_from_plain(plain))
            except (ValueError, TypeError, KeyError) as exc:
                future.set_exception(WorkerLost(f"unreadable record ({type(exc).__name__})"))
        elif detail == INTERRUPTED:
            future.set_exception(Interrupted())
        else:
            future.set_exception(RuntimeError(f"in worker {worker.proc.pid}: {detail}"))

    async def _route(self, worker: _Proc, req: int, plain: object) -> None:
        try:
            route = from_plain(Route, plain, "route")
            loop = asyncio.get_running_loop()
            result, shared = await self._routes.result_for(route, loop.time() + _ROUTE_WAIT)
            answer = [req, to_plain(result), shared]
        except Interrupted:
            answer = [req, None, False]
        except Exception:  # a bad request from the worker: it gets nothing, and ends
            _kill(worker)
            return
        worker.outbox.put("r", answer)

    async def _lost(self, worker: _Proc, why: str | None) -> None:
        worker.alive = False
        try:
            async with asyncio.timeout(_CLOSE_WAIT):
                code = await worker.proc.wait()
        except TimeoutError:
            _kill(worker)
            code = await worker.proc.wait()
        if worker.waiting:
            status = f"signal {-code}" if code < 0 else f"status {code}"
            lost = WorkerLost(f"worker process {worker.proc.pid} {why or f'ended ({status})'}")
            for future in worker.waiting.values():
                if not future.done():
                    future.set_exception(lost)
            worker.waiting.clear()
        if not self._closing and self._respawns > 0:
            self._respawns -= 1
            with contextlib.suppress(OSError):
                self._procs.append(await self._spawn())

    async def close(self, *, at_once: bool) -> None:
        self._closing = True
        for worker in self._procs:
            worker.outbox.flush()
            if at_once:
                _kill(worker)
            elif worker.proc.stdin is not None:
                worker.proc.stdin.close()
        readers = [w.reader for w in self._procs if w.reader is not None]
        try:
            async with asyncio.timeout(_CLOSE_WAIT):
                await asyncio.gather(*(w.proc.wait() for w in self._procs))
        except TimeoutError:
            for worker in self._procs:
                _kill(worker)
        finally:
            for worker in self._procs:
                with contextlib.suppress(ProcessLookupError):
                    await worker.proc.wait()
            for task in [*self._tasks, *readers]:
                task.cancel()
            await asyncio.gather(*self._tasks, *readers, return_exceptions=True)


def _kill(worker: _Proc) -> None:
    if worker.proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            worker.proc.kill()


@contextlib.asynccontextmanager
async def worker_pool(
    count: int,
    config: ProbeConfig,
    settings: BulkSettings,
    routes: RouteCache,
    now: datetime | None,
) -> AsyncIterator[Callable[[str], Awaitable[DomainRecord]]]:
    """``count`` workers that diagnose domains; the route results they need come from
    ``routes`` (probed here). Yields the function a domain name goes into."""
    pool = _Pool(min(count, MAX_WORKERS), config, settings, routes, now)
    clean = False
    try:
        await pool.start()
        yield pool.diagnose
        clean = True
    finally:
        await pool.close(at_once=not clean)
