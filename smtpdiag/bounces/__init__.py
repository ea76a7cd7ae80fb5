"""Batch bounce reading: mbox, maildir, ``.eml`` directories, Postfix and Exim logs,
``postqueue -j`` and stdin, one record per recipient (``smtpdiag explain --batch``)."""

from __future__ import annotations

from ..diagnosis.reasons import CodeSource, Confidence, Decision, Reason
from .batch import SummaryBuilder, explain_batch, record_of
from .confirm import DomainCollector, DomainConfirmation, confirm_domains
from .model import (
    BatchError,
    BatchItem,
    BatchRecord,
    BatchSummary,
    BatchTally,
    ErrorKind,
    InputFormat,
    Unmatched,
)
from .readers import detect

__all__ = [
    "BatchError",
    "BatchItem",
    "BatchRecord",
    "BatchSummary",
    "BatchTally",
    "CodeSource",
    "Confidence",
    "Decision",
    "DomainCollector",
    "DomainConfirmation",
    "ErrorKind",
    "InputFormat",
    "Reason",
    "SummaryBuilder",
    "Unmatched",
    "confirm_domains",
    "detect",
    "explain_batch",
    "record_of",
]
