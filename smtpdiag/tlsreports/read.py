"""Paths -> TLS reports, streaming: report files (``.json``, ``.json.gz``), mail
messages with reports attached, mboxes, maildirs and directories.

Mailboxes and directories are read by the bounce batch readers
(:func:`smtpdiag.bounces.readers.read_inputs`), which detect their formats and bound
each message's size; a file or standard input that starts like a report (gzip magic
or ``{``) is read here, up to :data:`~smtpdiag.tlsreports.parse.MAX_REPORT` bytes.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import BinaryIO

from ..bounces.bounce import MAX_INPUT
from ..bounces.readers import Chain, RawInput, read_inputs
from ..textsafe import clean
from .model import TlsReportError, TlsReportErrorKind, TlsReportItem, TlsReportRecord
from .parse import MAX_REPORT, looks_like_report, reports_in

__all__ = ["MAX_REMEMBERED", "read_tls_reports"]

#: Distinct (organization, report-id) pairs remembered for duplicate detection; past
#: that many, later reports are not checked for duplicates (memory stays bounded).
MAX_REMEMBERED = 1_000_000
_HEAD = 8192


_Raw = tuple[str, bytes, str, int]


def _whole(head: bytes, stream: BinaryIO, name: str) -> Iterator[_Raw]:
    data = head + stream.read(MAX_REPORT + 1 - len(head))
    yield name, data, "", MAX_REPORT


def _items(path: str, stdin: BinaryIO | None) -> Iterator[_Raw]:
    """(name, data, error detail, size limit) per raw item of one path."""
    if path == "-":
        if stdin is None:
            yield "-", b"", "no standard input", 0
            return
        head = stdin.read(_HEAD)
        if looks_like_report(head):
            yield from _whole(head, stdin, "-")
            return
        chained = io.BufferedReader(Chain(head, stdin))
        yield from _raw(read_inputs("-", stdin=chained))
        return
    if not os.path.isdir(path):
        label = clean(path, 1024)
        try:
            fh = open(path, "rb")  # noqa: SIM115 - closed below
        except OSError as exc:
            yield label, b"", clean(exc.strerror or type(exc).__name__, 200), 0
            return
        with fh:
            head = fh.read(_HEAD)
            if looks_like_report(head):
                yield from _whole(head, fh, label)
                return
    yield from _raw(read_inputs(path))


def _raw(items: Iterator[RawInput]) -> Iterator[_Raw]:
    for item in items:
        if item.error is not None:
            yield item.name, b"", item.detail or str(item.error), 0
        else:
            # The readers keep MAX_INPUT + 1 bytes of a message: more means it was cut.
            yield item.name, item.data, "", MAX_INPUT


class _Seen:
    """(organization, report-id) pairs read so far, bounded."""

    def __init__(self, limit: int = MAX_REMEMBERED) -> None:
        self._keys: set[tuple[str, str]] = set()
        self._limit = limit

    def again(self, record: TlsReportRecord) -> bool:
        key = (record.organization.casefold(), record.report_id)
        if key in self._keys:
            return True
        if len(self._keys) < self._limit:
            self._keys.add(key)
        return False


def read_tls_reports(
    paths: Iterable[str | Path], *, stdin: BinaryIO | None = None
) -> Iterator[TlsReportItem]:
    """Read and validate every TLS report (RFC 8460) of every input.

    Args:
        paths: ``.json`` or ``.json.gz`` report files, mail messages with reports
            attached, mboxes, maildirs, directories; ``"-"`` reads ``stdin``.
        stdin: The binary stream ``"-"`` reads.

    Yields:
        A :class:`TlsReportRecord` per report (``duplicate`` set when the same
        organization sent the same report-id before) and a :class:`TlsReportError` per
        input that gave no report; the iteration never raises on content.
    """
    seen = _Seen()
    for path in paths:
        for name, data, error, limit in _items(str(path), stdin):
            if error:
                yield TlsReportError(name, TlsReportErrorKind.UNREADABLE, None, clean(error, 200))
                continue
            if len(data) > limit:
                yield TlsReportError(
                    name, TlsReportErrorKind.TOO_LARGE, None, f"more than {limit} bytes"
                )
                continue
            for item in reports_in(data, name):
                if isinstance(item, TlsReportRecord) and seen.again(item):
                    item = replace(item, duplicate=True)
                yield item
