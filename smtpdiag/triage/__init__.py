"""Bulk triage (``smtpdiag bulk``): many domains or bounces in, one decision per domain
and per recipient out, every shared route probed once.

- :mod:`.input`: the input as a stream of targets (lists, every bounce format).
- :mod:`.plan`: pure policy (route sharing, per-domain certificate names, decisions).
- :mod:`.run`: the I/O loop (bounded concurrency, politeness, deadlines).
- :mod:`.work`: the unit of work as plain data, for running batches elsewhere.
- :mod:`.output`: NDJSON records and the summary.
- :mod:`.cluster`: the same run on Celery workers on several machines (optional extra;
  not imported here: ``smtpdiag.ClusterOptions`` loads it on first use).
"""

from __future__ import annotations

from .model import (
    BulkItem,
    BulkSettings,
    BulkSummary,
    DomainRecord,
    ErrorRecord,
    FindingBrief,
    RecipientRecord,
    RouteUse,
)
from .run import RunStats, bulk
from .sync import bulk_sync
from .work import WorkResult, WorkUnit, run_batch, run_unit

__all__ = [
    "BulkItem",
    "BulkSettings",
    "BulkSummary",
    "DomainRecord",
    "ErrorRecord",
    "FindingBrief",
    "RecipientRecord",
    "RouteUse",
    "RunStats",
    "WorkResult",
    "WorkUnit",
    "bulk",
    "bulk_sync",
    "run_batch",
    "run_unit",
]
