"""The Celery application of a bulk cluster: one task, ``smtpdiag.bulk.batch``.

``smtpdiag worker --broker URL`` runs a worker of it; so does the standard
``celery -A smtpdiag.triage.cluster.app worker`` with the broker URL in the environment
variable ``SMTPDIAG_BROKER`` (and, optionally, ``SMTPDIAG_VISIBILITY_TIMEOUT``).

Settings that matter:

- only JSON is accepted, for tasks and results (pickle from a network broker would run
  whatever a sender of messages wants);
- late acknowledgement, and a task whose worker process was lost goes back on the
  queue: a worker killed mid-task loses no domain (its unacknowledged batch is
  delivered again after the visibility timeout; records already stored for the run
  are reused, so nothing is done or written twice);
- one task reserved per worker process (prefetch 1): a batch waits in the queue, where
  any worker can take it, not behind a busy process.
"""

from __future__ import annotations

import asyncio
import os
import threading
from typing import Any

from celery import Celery

from ...blocking import run_blocking
from ...errors import ConfigError
from ..work import WorkUnit

__all__ = ["BROKER_ENV", "QUEUE", "TASK", "VISIBILITY_ENV", "app", "configure"]

BROKER_ENV = "SMTPDIAG_BROKER"
VISIBILITY_ENV = "SMTPDIAG_VISIBILITY_TIMEOUT"
#: The queue the batches go to (not Celery's default: the broker may serve other apps).
QUEUE = "smtpdiag"
TASK = "smtpdiag.bulk.batch"
#: Seconds a delivered batch may go unacknowledged before it is delivered again (to a
#: worker that is alive): above the longest batch (a domain's deadline, 90 s by default).
DEFAULT_VISIBILITY = 300.0


def configure(target: Celery, broker: str, visibility_timeout: float = DEFAULT_VISIBILITY) -> None:
    """Point ``target`` at ``broker`` with the cluster's settings."""
    # A lost delivery is looked for a few times per visibility timeout.
    sweep = max(1.0, min(10.0, visibility_timeout / 3))
    target.conf.update(
        broker_url=broker,
        result_backend=broker,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_accept_content=["json"],
        event_serializer="json",
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=True,
        worker_prefetch_multiplier=1,
        task_default_queue=QUEUE,
        result_expires=2 * 24 * 3600,
        broker_connection_retry_on_startup=True,
        broker_transport_options={
            "visibility_timeout": visibility_timeout,
            "unacked_restore_interval": sweep,
            "unacked_restore_throttle": 1,
        },
        worker_hijack_root_logger=True,
        worker_redirect_stdouts=False,
    )


def _visibility() -> float:
    text = os.environ.get(VISIBILITY_ENV)
    if not text:
        return DEFAULT_VISIBILITY
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"{VISIBILITY_ENV} is not a number: {text!r}") from None
    if not 1 <= value <= 86400:
        raise ConfigError(f"{VISIBILITY_ENV} must be 1-86400 seconds: {text!r}")
    return value


app = Celery("smtpdiag")
configure(app, os.environ.get(BROKER_ENV, "redis://127.0.0.1:6379/0"), _visibility())


@app.task(name=TASK, acks_late=True, reject_on_worker_lost=True)  # type: ignore[untyped-decorator]
def batch(run_id: str, unit: dict[str, Any], backoff: float) -> dict[str, Any]:
    """A batch of domains of run ``run_id``: :func:`.batch.run_domains`'s result."""
    from . import ClusterOptions

    # The message may come from anyone who can write to the broker: check it all.
    options = ClusterOptions(str(app.conf.broker_url), run_id, 1, float(backoff))
    work = WorkUnit.from_dict(unit)
    if _in_loop():  # a pool that runs tasks inside an event loop: a loop of our own
        return run_blocking(lambda: _run(options, work, None), name="smtpdiag-batch")
    # One event loop per worker process (or thread, with --threads), kept from batch to
    # batch: the DNS caches, the engine and the Redis connection of the last batch serve
    # the next one.
    state = _LOCAL.__dict__.get("state")
    if state is None:
        state = _LOCAL.state = _Loop()
    return state.runner.run(_run(options, work, state))


class _Loop:
    def __init__(self) -> None:
        from .batch import Kept

        self.runner = asyncio.Runner()
        self.clients: dict[str, Any] = {}  # broker URL -> its client on this loop
        self.kept = Kept()


_LOCAL = threading.local()


def _in_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


async def _run(options: Any, work: WorkUnit, state: _Loop | None) -> dict[str, Any]:
    import redis.asyncio

    from .batch import run_domains

    client = state.clients.get(options.broker) if state is not None else None
    if client is None:
        client = redis.asyncio.from_url(options.broker)
        if state is not None:
            state.clients = {options.broker: client}
    try:
        return await run_domains(
            client,
            options.run_id,
            work,
            options.throttle_backoff,
            kept=state.kept if state is not None else None,
        )
    finally:
        if state is None:
            await client.aclose()
