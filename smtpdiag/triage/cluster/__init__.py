"""Bulk on several machines: the run as Celery tasks on a Redis broker (``smtpdiag bulk
--engine celery``, ``smtpdiag worker``; the ``smtpdiag[celery]`` extra).

The submitting process reads the input, hands domains in batches to the workers
(:mod:`.submit`) and writes the records, with the same engine as the local run
(deduplication, ``--resume``, recipients, stopping); the workers diagnose each batch
with the same pipeline (:mod:`.batch`) and share, through the same Redis, one probe per
route per run and one politeness budget per destination address (:mod:`.state`). The
Celery application is :mod:`.app` (``celery -A smtpdiag.triage.cluster.app worker``).

Nothing here imports Celery or Redis: only a run with the Celery engine does.
"""

from __future__ import annotations

import re
import secrets
import urllib.parse
from dataclasses import dataclass, field

from ...errors import ConfigError

__all__ = ["ClusterOptions", "mask_url", "new_run_id"]

_RUN_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_SCHEMES = ("redis", "rediss")


def new_run_id() -> str:
    """A fresh run id."""
    return secrets.token_hex(8)


def mask_url(url: str) -> str:
    """The URL with its password (and a user name's secret part) replaced by ``****``:
    what may appear in output and logs."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    masked = parts
    if "@" in parts.netloc:
        user = parts.username or ""
        host = parts.netloc.rpartition("@")[2]
        auth = f"{user}:****" if parts.password is not None else user
        masked = parts._replace(netloc=f"{auth}@{host}")
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    if any(k.lower() == "password" for k, _ in query):
        masked = masked._replace(
            query=urllib.parse.urlencode(
                [(k, "****" if k.lower() == "password" else v) for k, v in query]
            )
        )
    return urllib.parse.urlunsplit(masked)


@dataclass(frozen=True, slots=True)
class ClusterOptions:
    """How a run goes to the workers.

    Attributes:
        broker: The Redis URL (``redis://`` or ``rediss://``) of the broker, the result
            backend and the shared state; the workers use the same one.
        run_id: Names the run's shared state (route results, records): a run submitted
            again with the same id reuses what the workers finished for it.
        batch_size: Domains per task.
        throttle_backoff: Seconds every worker waits before the next connection to an
            address that answered with a rate-limit reply (421, 450).
    """

    broker: str = field(repr=False)  # its password: never in a repr, a log, a traceback
    run_id: str = field(default_factory=new_run_id)
    batch_size: int = 16
    throttle_backoff: float = 60.0

    def __post_init__(self) -> None:
        scheme = self.broker.partition("://")[0].lower()
        if scheme not in _SCHEMES or "://" not in self.broker:
            raise ConfigError(
                f"the broker must be a redis:// or rediss:// URL, got {mask_url(self.broker)!r}"
            )
        if not _RUN_ID.fullmatch(self.run_id):
            raise ConfigError("a run id is 1-64 letters, digits, '.', '_' or '-'")
        if isinstance(self.batch_size, bool) or not 1 <= self.batch_size <= 1000:
            raise ConfigError(f"batch_size must be between 1 and 1000, got {self.batch_size!r}")
        if not 0 <= self.throttle_backoff <= 3600:
            raise ConfigError(
                f"throttle_backoff must be between 0 and 3600, got {self.throttle_backoff!r}"
            )
