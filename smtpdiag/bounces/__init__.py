"""Batch bounce reading: mbox, maildir, ``.eml`` directories, Postfix and Exim logs,
``postqueue -j`` and stdin, one record per recipient (``smtpdiag explain --batch``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazyexports import lazy_exports

if TYPE_CHECKING:
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
    from .reasons import CodeSource, Confidence, Decision, Notice, Reason

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
    "Notice",
    "Reason",
    "SummaryBuilder",
    "Unmatched",
    "confirm_domains",
    "detect",
    "explain_batch",
    "record_of",
]

# name -> submodule that defines it: ``explain`` reads one bounce with the parser alone,
# not the batch readers, confirmation and summaries.
_EXPORTS = {
    "BatchError": "model",
    "BatchItem": "model",
    "BatchRecord": "model",
    "BatchSummary": "model",
    "BatchTally": "model",
    "CodeSource": "reasons",
    "Confidence": "reasons",
    "Decision": "reasons",
    "DomainCollector": "confirm",
    "DomainConfirmation": "confirm",
    "ErrorKind": "model",
    "InputFormat": "model",
    "Notice": "reasons",
    "Reason": "reasons",
    "SummaryBuilder": "batch",
    "Unmatched": "model",
    "confirm_domains": "confirm",
    "detect": "readers",
    "explain_batch": "batch",
    "record_of": "batch",
}

__getattr__ = lazy_exports(globals(), _EXPORTS)
