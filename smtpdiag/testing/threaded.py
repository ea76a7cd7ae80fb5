"""Run an asyncio test server on its own event loop in a daemon thread.

The test kit's servers (:class:`~smtpdiag.testing.dnsserver.LocalDnsServer`,
:class:`~smtpdiag.testing.httpsserver.PolicyHttpsServer`) are asyncio servers; synchronous
code (the demo, plain pytest tests) runs them through :class:`ThreadedServer`.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from types import TracebackType
from typing import Generic, Protocol, Self, TypeVar

__all__ = ["AsyncServer", "AsyncServerContext", "ThreadedServer"]


class AsyncServer(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class AsyncServerContext:
    """``async with server:`` for the test kit's asyncio servers: start, then stop."""

    async def start(self) -> None:
        raise NotImplementedError

    async def stop(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()


S = TypeVar("S", bound=AsyncServer)


class ThreadedServer(Generic[S]):
    """``server`` on its own event loop in a daemon thread; :meth:`start` returns once it
    listens (or raises what its start raised), :meth:`stop` ends and joins the thread."""

    #: Thread name and the words of the "did not start" error (subclasses set them).
    thread_name = "smtpdiag-server"
    what = "test server"

    def __init__(self, server: S) -> None:
        self.server = server
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def start(self, timeout: float = 10.0) -> None:
        """Start the thread and wait until the server listens."""
        if self._thread is not None:
            raise RuntimeError(f"{type(self).__name__} already started")
        self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError(f"{self.what} did not start in time")
        if self._error is not None:
            self._thread.join(timeout)
            raise self._error

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server and join the thread. Safe to call twice."""
        loop, stop, thread = self._loop, self._stop, self._thread
        if loop is not None and stop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stop.set)
        if thread is not None:
            thread.join(timeout)
        self._thread = None

    def _run(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            try:
                await self.server.start()
            except BaseException as exc:
                self._error = exc
                self._ready.set()
                return
            self._ready.set()
            try:
                await self._stop.wait()
            finally:
                await self.server.stop()

        try:
            asyncio.run(main())
        except BaseException as exc:  # pragma: no cover - reported through start()
            if not self._ready.is_set():
                self._error = exc
                self._ready.set()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
