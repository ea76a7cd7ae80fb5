"""``explain --batch``: every input item -> one record per recipient, or one error record.

Streaming: one item is read, explained and yielded before the next is read, so memory
does not grow with the input. Nothing read is lost: every input (message, relevant log
line, queue entry) gives at least one record or exactly one error record.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from ..diagnose.bounce import Explanation, explain_parsed, parse_log_status, parse_recipients
from ..diagnose.reasons import Decision
from ..diagnose.rules import aware_now
from ..textsafe import clean
from .logs import LogEntry, LogError, parse_exim, parse_postfix, parse_postqueue
from .model import BatchError, BatchItem, BatchRecord, BatchSummary, ErrorKind, InputFormat
from .readers import RawInput, read_inputs

__all__ = ["SummaryBuilder", "explain_batch", "record_of"]


def record_of(
    expl: Explanation, name: str, fmt: InputFormat, *, queue_id: str | None = None
) -> BatchRecord:
    """The batch record of one explained recipient."""
    b = expl.bounce
    retry_at: tuple[str, ...] = ()
    if expl.decision is Decision.RETRY and expl.action is not None:
        retry_at = tuple(a.at for a in expl.action.schedule)
    return BatchRecord(
        input=name,
        format=fmt,
        recipient=b.recipient,
        domain=b.domain,
        basic=b.basic,
        enhanced=expl.code.code if expl.code else None,
        code_source=b.code_source,
        confidence=b.confidence,
        matched_phrase=b.matched_phrase,
        reason=expl.reason,
        severity=expl.severity,
        decision=expl.decision,
        retry_at=retry_at,
        action=b.action,
        remote_mta=b.remote_mta,
        text=b.text,
        queue_id=clean(queue_id, 64) if queue_id else None,
    )


def _entry_record(entry: LogEntry, item: RawInput, now: datetime) -> BatchRecord:
    parsed = parse_log_status(
        entry.status, entry.reply, action=entry.action, recipient=entry.recipient
    )
    if parsed.remote_mta is None and entry.relay:
        from dataclasses import replace

        parsed = replace(parsed, remote_mta=clean(entry.relay, 255))
    return record_of(
        explain_parsed(parsed, now=now), item.name, item.format, queue_id=entry.queue_id
    )


def _error(item: RawInput, kind: ErrorKind, detail: str) -> BatchError:
    return BatchError(item.name, item.format, kind, clean(detail, 200))


def _items_of(item: RawInput, now: datetime) -> Iterator[BatchItem]:
    if item.error is not None:
        yield _error(item, item.error, item.detail)
        return
    fmt = item.format
    if fmt in (InputFormat.POSTFIX_LOG, InputFormat.EXIM_LOG, InputFormat.POSTQUEUE):
        line = item.data.decode("utf-8", "replace")
        entries: list[LogEntry] | LogError
        if fmt is InputFormat.POSTQUEUE:
            entries = parse_postqueue(line)
        else:
            one = parse_postfix(line) if fmt is InputFormat.POSTFIX_LOG else parse_exim(line)
            entries = [] if one is None else ([one] if isinstance(one, LogEntry) else one)
        if isinstance(entries, LogError):
            yield _error(item, entries.kind, entries.detail)
            return
        for entry in entries:
            yield _entry_record(entry, item, now)
        return
    if not item.data.strip():
        yield _error(item, ErrorKind.MALFORMED, "empty message")
        return
    for parsed_bounce in parse_recipients(item.data):
        yield record_of(explain_parsed(parsed_bounce, now=now), item.name, fmt)


def explain_batch(
    paths: Iterable[str | Path],
    *,
    input_format: InputFormat | str = InputFormat.AUTO,
    now: datetime | None = None,
    stdin: BinaryIO | None = None,
) -> Iterator[BatchItem]:
    """Explain every bounce of every input, one record per recipient.

    Args:
        paths: mbox files, maildirs, directories of ``.eml`` files, Postfix or Exim
            logs, ``postqueue -j`` output; ``"-"`` reads ``stdin``.
        input_format: Force a format instead of detecting it per input.
        now: The instant retry times are counted from (default: now, UTC).
        stdin: The binary stream ``"-"`` reads.

    Yields:
        :class:`BatchRecord` per recipient and :class:`BatchError` per input that could
        not be read; the iteration never raises on content.
    """
    fmt = InputFormat(input_format)
    instant = aware_now(now)
    for path in paths:
        for item in read_inputs(str(path), fmt, stdin=stdin):
            yield from _items_of(item, instant)


class SummaryBuilder:
    """Counts items as they stream by; :meth:`summary` gives the frozen result."""

    def __init__(self) -> None:
        self._inputs = 0
        self._records = 0
        self._errors = 0
        self._with_records = 0
        self._last: str | None = None
        self._code: Counter[str] = Counter()
        self._reason: Counter[str] = Counter()
        self._decision: Counter[str] = Counter()
        self._domain: Counter[str] = Counter()
        self._source: Counter[str] = Counter()

    def add(self, item: BatchItem) -> None:
        """Count one record or error record."""
        if isinstance(item, BatchError):
            self._errors += 1
            self._inputs += 1
            self._last = None
            return
        self._records += 1
        if item.input != self._last:
            # Records of one input are consecutive: a new name is a new input.
            self._inputs += 1
            self._with_records += 1
            self._last = item.input
        code = item.enhanced or (str(item.basic) if item.basic is not None else "none")
        self._code[code] += 1
        self._reason[item.reason.value] += 1
        self._decision[item.decision.value] += 1
        self._domain[item.domain or "none"] += 1
        self._source[item.code_source.value] += 1

    def summary(self, top: int = 50) -> BatchSummary:
        """The counts so far; each breakdown keeps its ``top`` largest entries."""

        def most(c: Counter[str]) -> dict[str, int]:
            return dict(c.most_common(top))

        return BatchSummary(
            inputs=self._inputs,
            records=self._records,
            errors=self._errors,
            inputs_with_records=self._with_records,
            by_code=most(self._code),
            by_reason=most(self._reason),
            by_decision=most(self._decision),
            by_domain=most(self._domain),
            by_source=most(self._source),
        )
