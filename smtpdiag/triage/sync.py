"""Blocking twin of :func:`smtpdiag.bulk`: a plain iterator of records.

The run goes on its own event loop in a worker thread (so it works from plain code and
from code that already runs a loop in this thread); records come back through a small
bounded queue, so a slow consumer slows the run down instead of filling memory.
Leaving the loop early (``break``, an exception) stops the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Iterator
from typing import Any

from .model import BulkItem
from .run import bulk

__all__ = ["bulk_sync"]

_QUEUE = 256
_DONE = object()


def bulk_sync(*args: Any, **kwargs: Any) -> Iterator[BulkItem]:
    """Like :func:`smtpdiag.bulk` (same arguments), as a blocking iterator."""
    out: queue.Queue[object] = queue.Queue(_QUEUE)
    state: dict[str, Any] = {}
    stopping = threading.Event()

    async def run() -> None:
        state["loop"] = asyncio.get_running_loop()
        state["task"] = asyncio.current_task()
        async for item in bulk(*args, **kwargs):
            while not stopping.is_set():
                try:
                    out.put_nowait(item)
                    break
                except queue.Full:
                    await asyncio.sleep(0.01)  # the consumer lags: never block the loop
            if stopping.is_set():
                return

    def worker() -> None:
        try:
            asyncio.run(run())
        except BaseException as exc:
            state["error"] = exc
        finally:
            with contextlib.suppress(queue.Full):
                out.put(_DONE, timeout=5)

    thread = threading.Thread(target=worker, name="smtpdiag-bulk", daemon=True)
    thread.start()
    try:
        while True:
            item = out.get()
            if item is _DONE:
                break
            yield item  # type: ignore[misc]
    finally:
        stopping.set()
        loop, task = state.get("loop"), state.get("task")
        if loop is not None and task is not None:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(task.cancel)
        while thread.is_alive():  # drain so the worker is never stuck on a full queue
            with contextlib.suppress(queue.Empty):
                out.get(timeout=0.1)
        thread.join()
    error = state.get("error")
    if isinstance(error, Exception):
        raise error
