"""A bulk worker process (``python -m smtpdiag.triage.worker``, started by
``smtpdiag bulk --workers N``): resolves and diagnoses the domains its parent sends,
and asks the parent for every route result. It opens no SMTP connection itself, so
the parent's per-address limits and its once-per-run route cache hold over all
workers.

Signals: SIGINT and SIGTERM are ignored (a Ctrl-C reaches the whole process group;
the parent decides what is finished); the worker ends when its stdin closes, and
with its parent (``PR_SET_PDEATHSIG`` on Linux), so it never outlives the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from typing import Any

from ..model import Route, RouteResult
from .routes import Interrupted, RouteCache
from .run import Engine, RunStats
from .wire import INTERRUPTED, LINE_LIMIT, Outbox, record_to_plain
from .work import WorkUnit, from_plain, to_plain

__all__ = ["main"]


class _RemoteRoutes(RouteCache):
    """The route cache of a worker: a route not known here is asked of the parent
    (which probes it once per run, politely) instead of being probed here."""

    def __init__(self, outbox: Outbox, *args: Any) -> None:
        super().__init__(*args)
        self._outbox = outbox
        self._asked: dict[int, asyncio.Future[tuple[RouteResult, bool] | None]] = {}
        self._next = 0
        self._shared: set[object] = set()

    def answer(self, req: int, result: RouteResult | None, shared: bool) -> None:
        future = self._asked.pop(req, None)
        if future is not None and not future.done():
            future.set_result(None if result is None else (result, shared))

    async def result_for(self, route: Route, deadline: float) -> tuple[RouteResult, bool]:
        result, shared = await super().result_for(route, deadline)
        # Shared with another domain when the parent had it from another worker first.
        return result, shared or (route.address, route.port, route.tls_mode) in self._shared

    async def _probe(self, key: Any, route: Route, future: asyncio.Future[RouteResult]) -> None:
        loop = asyncio.get_running_loop()
        self._next += 1
        req = self._next
        asked: asyncio.Future[tuple[RouteResult, bool] | None] = loop.create_future()
        self._asked[req] = asked
        self._outbox.put("p", [req, to_plain(route)])
        try:
            answer = await asked
        finally:
            self._asked.pop(req, None)
            self._pending.pop(key, None)
        if answer is None:  # stopped before its turn: not done, like an interrupted probe
            future.cancel()
            return
        result, shared = answer
        if shared:
            self._shared.add((route.address, route.port, route.tls_mode))
        self._keep(key, result)
        if not future.done():
            future.set_result(result)


class _Worker:
    def __init__(self, unit: WorkUnit, outbox: Outbox, group: asyncio.TaskGroup) -> None:
        now = None
        if unit.now:
            from datetime import datetime

            now = datetime.fromisoformat(unit.now.replace("Z", "+00:00"))

        async def nothing(_item: Any) -> None:
            return None

        stats = RunStats()
        self.engine = Engine(
            unit.config, unit.settings, nothing, stats, recipients=False, done={}, now=now
        )
        self.routes = _RemoteRoutes(outbox, unit.config, unit.settings, group, stats, ())
        self.outbox = outbox
        self.group = group

    def take(self, tag: int, name: str) -> None:
        self.group.create_task(self._one(tag, name))

    async def _one(self, tag: int, name: str) -> None:
        try:
            record = await self.engine._diagnose(name, self.routes)
        except Interrupted:
            self.outbox.put("rec", [tag, None, INTERRUPTED])
            return
        except Exception as exc:  # a bug: the parent writes an error record for it
            self.outbox.put("rec", [tag, None, f"{type(exc).__name__}: {exc}"[:200]])
            return
        self.outbox.put("rec", [tag, record_to_plain(record), None])


async def _serve() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=LINE_LIMIT)
    await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(0, "rb", buffering=0)
    )
    # fd 1 is the process's own: the interpreter closes it at exit, and an object that
    # owned it would be finalized unclosed (a ResourceWarning in every worker).
    out = os.fdopen(1, "wb", buffering=0, closefd=False)

    def write(data: bytes) -> None:
        view = memoryview(data)
        while view:  # a blocking pipe: the parent reads it all the time
            view = view[out.write(view) or 0 :]

    outbox = Outbox(write)
    first = json.loads(await reader.readline())
    unit = WorkUnit.from_dict(first[1])
    async with asyncio.TaskGroup() as group:
        worker = _Worker(unit, outbox, group)
        while line := await reader.readline():
            kind, items = json.loads(line)
            if kind == "d":
                for tag, name in items:
                    worker.take(tag, name)
            elif kind == "r":
                for req, plain, shared in items:
                    result = None if plain is None else from_plain(RouteResult, plain, "route")
                    worker.routes.answer(req, result, shared)
        # stdin closed: the parent is done with us (or gone); stop whatever is left.
        raise _Closed


class _Closed(Exception):
    pass


def _die_with_parent() -> None:
    with contextlib.suppress(Exception):  # Linux only; stdin EOF ends us elsewhere
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() == 1:  # the parent died before the line above
        os._exit(0)


def main() -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _die_with_parent()
    try:
        asyncio.run(_serve())
    except* _Closed:
        pass
    except* (BrokenPipeError, ConnectionResetError):
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
