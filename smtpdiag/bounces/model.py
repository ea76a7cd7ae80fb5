"""The records of ``explain --batch``: one per recipient, one per unreadable input.

Frozen data, no English: reasons, decisions and code sources are enums (see
:mod:`smtpdiag.bounces.reasons`); the wording lives in ``narrate/bounce``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from ..model import Severity
from .dsn import NO_LIMITS, Limits
from .reasons import CodeSource, Confidence, Decision, Notice, Reason

__all__ = [
    "BatchError",
    "BatchItem",
    "BatchRecord",
    "BatchSummary",
    "BatchTally",
    "ErrorKind",
    "InputFormat",
    "Unmatched",
]


class InputFormat(StrEnum):
    """What a batch input holds."""

    AUTO = "auto"  #: detect it (the default)
    MBOX = "mbox"  #: messages separated by "From " lines
    MAILDIR = "maildir"  #: a directory with cur/ and new/
    EML_DIR = "eml-dir"  #: a directory of message files (``*.eml``)
    EML = "eml"  #: one message
    POSTFIX_LOG = "postfix-log"  #: Postfix log lines (``status=deferred|bounced``)
    EXIM_LOG = "exim-log"  #: Exim main log lines (``**`` failed, ``==`` deferred)
    POSTQUEUE = "postqueue"  #: ``postqueue -j`` output, one JSON object per message


class ErrorKind(StrEnum):
    """Why an input gave no record."""

    UNREADABLE = "unreadable"  #: the file or directory could not be read
    MALFORMED = "malformed"  #: a log line or queue entry that does not parse
    TOO_LONG = "too-long"  #: a log line or queue entry over the length limit
    NO_RECIPIENT = "no-recipient"  #: a bounce or queue entry that names no recipient


@dataclass(frozen=True, slots=True)
class BatchRecord:
    """One recipient of one bounce. Every string is sanitized.

    Attributes:
        input: Where it was read: ``path#n`` (n-th message), ``path:line`` (log line) or
            ``path/file`` (maildir, directory).
        format: The input's format.
        recipient: The recipient address, ``None`` if the bounce names none.
        domain: The recipient's domain (lower case), ``None`` without a recipient.
        basic: The basic reply code, if any.
        enhanced: The enhanced status code (read or inferred), if any.
        code_source: Where the code came from.
        confidence: How far the code can be trusted; ``None`` without a code.
        matched_phrase: The words an inferred code came from; ``None`` unless inferred.
        reason: Why the recipient bounced.
        severity: Soft, hard or info; ``None`` without a code.
        decision: What to do with the address.
        retry_at: For ``retry``: the concrete retry instants (ISO 8601 UTC).
        action: The DSN Action (``failed``, ``delayed``) or its log equivalent, if known.
        remote_mta: The remote MTA, if named.
        text: The reply or line the code came from.
        queue_id: The MTA's queue id (logs, ``postqueue -j``), if any.
        limits: What the reading limits left out of the bounce (recipients beyond the
            first 64 among them): the same for every record of one input.
        truncated: The message was longer than 1 MiB and was cut.
        notice: What the notification is for this recipient: ``failed``, ``delayed``, or
            a notice that is not a failure (``delivered``, ``relayed``, ``expanded``:
            decision ``keep``, never ``suppress``).
    """

    input: str
    format: InputFormat
    recipient: str | None
    domain: str | None
    basic: int | None
    enhanced: str | None
    code_source: CodeSource
    confidence: Confidence | None
    matched_phrase: str | None
    reason: Reason
    severity: Severity | None
    decision: Decision
    retry_at: tuple[str, ...] = ()
    action: str | None = None
    remote_mta: str | None = None
    text: str = ""
    queue_id: str | None = None
    limits: Limits = NO_LIMITS
    truncated: bool = False
    notice: Notice = Notice.FAILED


@dataclass(frozen=True, slots=True)
class BatchError:
    """An input that gave no record; the batch goes on.

    Attributes:
        input: Where it was read (see :attr:`BatchRecord.input`).
        format: The input's format.
        error: What went wrong.
        detail: A short sanitized detail for people.
    """

    input: str
    format: InputFormat
    error: ErrorKind
    detail: str


#: What :func:`~smtpdiag.bounces.explain_batch` yields.
BatchItem = BatchRecord | BatchError


@dataclass(frozen=True, slots=True)
class BatchSummary:
    """Counts over a batch. ``inputs == inputs_with_records + errors`` always.

    Attributes:
        inputs: Messages, relevant log lines and queue entries read.
        records: Records written (a DSN with several recipients gives several).
        errors: Error records written.
        inputs_with_records: Inputs that gave at least one record.
        by_code: Records per enhanced code (or basic code, or ``"none"``).
        by_reason: Records per reason.
        by_decision: Records per decision.
        by_domain: Records per recipient domain (``"none"`` without a recipient).
        by_source: Records per code source.
        inputs_cut: Inputs whose records say a reading limit cut something.
        not_understood: Log lines and messages read that gave neither a record nor an
            error record (log lines that are not delivery results, or not in the format
            they were read as).
        by_notice: Records per notice (``failed``, ``delayed``, ``delivered``,
            ``relayed``, ``expanded``).
    """

    inputs: int
    records: int
    errors: int
    inputs_with_records: int
    by_code: dict[str, int] = field(default_factory=dict)
    by_reason: dict[str, int] = field(default_factory=dict)
    by_decision: dict[str, int] = field(default_factory=dict)
    by_domain: dict[str, int] = field(default_factory=dict)
    by_source: dict[str, int] = field(default_factory=dict)
    inputs_cut: int = 0
    not_understood: int = 0
    by_notice: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Unmatched:
    """An input read in a forced format that gave nothing: not one record, not one
    error record, from ``items`` non-blank lines or messages.

    Attributes:
        input: The input's name (sanitized).
        forced: The format it was read as (``--input-format``).
        detected: What its first bytes look like (:func:`~smtpdiag.bounces.detect`).
        items: The non-blank lines or messages read from it.
    """

    input: str
    forced: InputFormat
    detected: InputFormat
    items: int


@dataclass(slots=True)
class BatchTally:
    """What a batch read beyond its records (mutable: updated as the batch streams).

    Attributes:
        not_understood: Items read that gave neither a record nor an error record.
        unmatched: Inputs read in a forced format that gave nothing at all.
    """

    not_understood: int = 0
    unmatched: list[Unmatched] = field(default_factory=list)
