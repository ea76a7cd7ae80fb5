"""One way to run a coroutine to completion from blocking code: the ``*_sync`` twins.

``asyncio.run`` cannot nest, so from code that already runs an event loop in this
thread (an async test, a notebook, a web handler calling a sync helper) the coroutine
runs on its own loop in a worker thread; elsewhere on a fresh loop here.
:func:`smtpdiag.probe_sync` and :func:`smtpdiag.health.check_sync` both use it, so
they behave the same.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

__all__ = ["run_blocking"]

T = TypeVar("T")


def run_blocking(make: Callable[[], Coroutine[Any, Any, T]], *, name: str = "smtpdiag") -> T:
    """Run the coroutine that ``make()`` returns and return its result (or raise).

    ``make`` is a factory rather than a coroutine so that nothing is created on a loop
    it will not run on (no "coroutine was never awaited" warnings).
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make())
    import concurrent.futures  # only on this path: keeps the plain one cheap

    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix=name) as pool:
        return pool.submit(lambda: asyncio.run(make())).result()
