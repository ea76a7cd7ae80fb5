"""``explain --batch``: every input item -> one record per recipient, or one error record.

Streaming: one item is read, explained and yielded before the next is read, so memory
does not grow with the input. Nothing read is lost: every input (message, relevant log
line, queue entry) gives at least one record or exactly one error record.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from ..textsafe import clean
from .bounce import ParsedBounce, assess, parse_log_status, parse_recipients
from .logs import LogEntry, LogError, parse_exim, parse_postfix, parse_postqueue
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
from .readers import RawInput, read_inputs

__all__ = ["MAX_KEYS", "OTHER", "SummaryBuilder", "explain_batch", "record_of"]


def record_of(
    parsed: ParsedBounce,
    name: str,
    fmt: InputFormat,
    now: datetime,
    *,
    queue_id: str | None = None,
) -> BatchRecord:
    """The batch record of one parsed recipient."""
    a = assess(parsed, now=now)
    return BatchRecord(
        input=name,
        format=fmt,
        recipient=parsed.recipient,
        domain=parsed.domain,
        basic=parsed.basic,
        enhanced=a.code.code if a.code else None,
        code_source=parsed.code_source,
        confidence=parsed.confidence,
        matched_phrase=parsed.matched_phrase,
        reason=a.reason,
        severity=a.severity,
        decision=a.decision,
        retry_at=a.retry_at,
        action=parsed.action,
        remote_mta=parsed.remote_mta,
        text=parsed.text,
        queue_id=clean(queue_id, 64) if queue_id else None,
        limits=parsed.limits,
        truncated=parsed.truncated,
        notice=parsed.notice,
    )


def _entry_record(entry: LogEntry, item: RawInput, now: datetime) -> BatchRecord:
    parsed = parse_log_status(
        entry.status, entry.reply, action=entry.action, recipient=entry.recipient
    )
    if (parsed.remote_mta is None and entry.relay) or entry.dropped:
        from dataclasses import replace

        from .bounce import Limits

        relay = clean(entry.relay, 255) if entry.relay else None
        parsed = replace(
            parsed,
            remote_mta=parsed.remote_mta or relay,
            limits=Limits(recipients_dropped=entry.dropped) if entry.dropped else parsed.limits,
        )
    return record_of(parsed, item.name, item.format, now, queue_id=entry.queue_id)


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
    parsed = parse_recipients(item.data)
    if all(p.recipient is None for p in parsed):
        # A record without an address cannot be acted on: say so, with what was read.
        first = parsed[0]
        what = f" ({first.enhanced or first.basic}): {first.text}" if first.found else ""
        yield _error(item, ErrorKind.NO_RECIPIENT, f"no recipient address in the bounce{what}")
        return
    for parsed_bounce in parsed:
        yield record_of(parsed_bounce, item.name, fmt, now)


def explain_batch(
    paths: Iterable[str | Path],
    *,
    input_format: InputFormat | str = InputFormat.AUTO,
    now: datetime | None = None,
    stdin: BinaryIO | None = None,
    tally: BatchTally | None = None,
) -> Iterator[BatchItem]:
    """Explain every bounce of every input, one record per recipient.

    Args:
        paths: mbox files, maildirs, directories of ``.eml`` files, Postfix or Exim
            logs, ``postqueue -j`` output; ``"-"`` reads ``stdin``.
        input_format: Force a format instead of detecting it per input.
        now: The instant retry times are counted from (default: now, UTC).
        stdin: The binary stream ``"-"`` reads.
        tally: Updated with what gave no record: items not understood, and inputs
            that a forced ``input_format`` matched nothing of.

    Yields:
        :class:`BatchRecord` per recipient and :class:`BatchError` per input that could
        not be read; the iteration never raises on content.
    """
    fmt = InputFormat(input_format)
    # One instant for the whole batch: every retry_at is counted from it.
    instant = datetime.now(UTC) if now is None else now
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    tally = tally if tally is not None else BatchTally()
    for path in paths:
        looks: list[InputFormat] = []
        read = gave = 0
        label = "-" if str(path) == "-" else clean(str(path), 1024)
        for item in read_inputs(str(path), fmt, stdin=stdin, detected=looks.append):
            read += 1
            before = gave
            for out in _items_of(item, instant):
                gave += 1
                yield out
            if gave == before:
                tally.not_understood += 1
        if fmt is not InputFormat.AUTO and read and not gave and looks:
            tally.unmatched.append(Unmatched(label, fmt, looks[0], read))


#: Distinct keys kept per breakdown; more are counted under ``OTHER`` (memory stays
#: bounded however many recipient domains a batch names).
MAX_KEYS = 10_000
OTHER = "(other)"


def _bump(counter: Counter[str], key: str) -> None:
    if key in counter or len(counter) < MAX_KEYS:
        counter[key] += 1
    else:
        counter[OTHER] += 1


class SummaryBuilder:
    """Counts items as they stream by; :meth:`summary` gives the frozen result."""

    def __init__(self) -> None:
        self._inputs = 0
        self._records = 0
        self._errors = 0
        self._with_records = 0
        self._cut = 0
        self._last: str | None = None
        self._code: Counter[str] = Counter()
        self._reason: Counter[str] = Counter()
        self._decision: Counter[str] = Counter()
        self._domain: Counter[str] = Counter()
        self._source: Counter[str] = Counter()
        self._notice: Counter[str] = Counter()

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
            if item.truncated or item.limits.any:
                self._cut += 1
        code = item.enhanced or (str(item.basic) if item.basic is not None else "none")
        _bump(self._code, code)
        _bump(self._reason, item.reason.value)
        _bump(self._decision, item.decision.value)
        _bump(self._domain, item.domain or "none")
        _bump(self._source, item.code_source.value)
        _bump(self._notice, item.notice.value)

    def summary(self, top: int = 50, *, tally: BatchTally | None = None) -> BatchSummary:
        """The counts so far; each breakdown keeps its ``top`` largest entries;
        ``tally`` (the one :func:`explain_batch` updated) adds what gave no record."""

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
            inputs_cut=self._cut,
            not_understood=tally.not_understood if tally is not None else 0,
            by_notice=most(self._notice),
        )
