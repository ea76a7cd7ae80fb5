"""TLS reports received by HTTPS POST (RFC 8460 section 5.4), kept in the serve state.

The body is hostile (the RFC requires no authentication): its media type is checked
before it is read, it is read up to :data:`MAX_BODY` bytes, and it is decoded and
validated by the ``tlsrpt`` reader (:func:`smtpdiag.tlsreports.read_tls_reports`),
which decompresses at most :data:`~smtpdiag.tlsreports.parse.MAX_REPORT` bytes (a zip
bomb is a ``too_large`` error, answered 413).

Accepted reports are stored once per (organization, report-id), as the reader dedupes;
at most ``max_reports`` are kept (the oldest received are dropped, so a report older
than all of those could be accepted again). Failure counts go to series keyed by
(policy domain, result type, receiving MX host); past :data:`MAX_SERIES` distinct
series, new keys are counted under ``other`` so the label set stays bounded.
"""

from __future__ import annotations

import io
import json
import sqlite3
import time
from dataclasses import dataclass
from enum import StrEnum

from ..tlsreports import TlsReportError, TlsReportErrorKind, TlsReportRecord, read_tls_reports
from ..tlsreports.parse import MAX_REPORT, looks_like_report

__all__ = [
    "GZIP_TYPE",
    "JSON_TYPE",
    "MAX_BODY",
    "MAX_SERIES",
    "OTHER",
    "PATH",
    "Outcome",
    "Received",
    "TlsrptStore",
]

#: The path reports are POSTed to (the ``rua=https://HOST/tlsrpt`` of the policy).
PATH = "/tlsrpt"
GZIP_TYPE = "application/tlsrpt+gzip"
JSON_TYPE = "application/tlsrpt+json"
#: Largest request body read (compressed or not): the reader's own limit.
MAX_BODY = MAX_REPORT
#: Distinct (policy domain, result type, MX host) series kept; the rest count as other.
MAX_SERIES = 1000
#: Label value of the series past the cap.
OTHER = "other"
_LABEL_MAX = 253  # a domain name's longest form

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS tlsrpt_report (
        organization TEXT NOT NULL,
        report_id TEXT NOT NULL,
        received REAL NOT NULL,
        start TEXT NOT NULL,
        end_ TEXT NOT NULL,
        policies TEXT NOT NULL,
        PRIMARY KEY (organization, report_id)
    )""",
    """CREATE TABLE IF NOT EXISTS tlsrpt_series (
        policy_domain TEXT NOT NULL,
        result_type TEXT NOT NULL,
        mx TEXT NOT NULL,
        sessions INTEGER NOT NULL,
        PRIMARY KEY (policy_domain, result_type, mx)
    )""",
    "CREATE TABLE IF NOT EXISTS tlsrpt_count (result TEXT PRIMARY KEY, n INTEGER NOT NULL)",
)


class Outcome(StrEnum):
    """What became of one POST (the ``result`` label of ``smtpdiag_tlsrpt_reports``)."""

    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class Received:
    """The answer to one POST: HTTP status, one line, and the outcome counted."""

    status: int
    line: str
    outcome: Outcome


def media_type(header: str) -> str:
    """``application/tlsrpt+gzip; charset=x`` -> ``application/tlsrpt+gzip``."""
    return header.partition(";")[0].strip().lower()


def _label(text: str | None) -> str:
    from ..textsafe import clean

    value = clean(text or "", _LABEL_MAX).strip().rstrip(".").lower()
    return value or "none"


def decode(body: bytes, mtype: str) -> TlsReportRecord | Received:
    """Validate one POSTed body with the ``tlsrpt`` reader; a record or the refusal."""
    is_gzip = body.startswith(b"\x1f\x8b")
    if mtype == GZIP_TYPE and not is_gzip:
        return Received(400, f"the body is not gzip (Content-Type: {GZIP_TYPE})", Outcome.REJECTED)
    if mtype == JSON_TYPE and (is_gzip or not looks_like_report(body[:64])):
        return Received(400, f"the body is not JSON (Content-Type: {JSON_TYPE})", Outcome.REJECTED)
    items = list(read_tls_reports(["-"], stdin=io.BytesIO(body)))
    if len(items) != 1:
        return Received(400, "not one report", Outcome.REJECTED)
    item = items[0]
    if isinstance(item, TlsReportError):
        status = 413 if item.error is TlsReportErrorKind.TOO_LARGE else 400
        where = f" at {item.field}" if item.field else ""
        return Received(status, f"{item.error.value}{where}: {item.detail}", Outcome.REJECTED)
    return item


def _policies(record: TlsReportRecord) -> str:
    return json.dumps(
        [
            {
                "policy-type": p.policy_type.value,
                "policy-domain": p.policy_domain,
                "successful": p.successful_sessions,
                "failed": p.failed_sessions,
                "failures": [
                    [f.result_type, f.receiving_mx_hostname, f.receiving_ip, f.failed_sessions]
                    for f in p.failures
                ],
            }
            for p in record.policies
        ]
    )


class TlsrptStore:
    """Received reports and their counts, in the serve state's SQLite database."""

    def __init__(self, db: sqlite3.Connection, max_reports: int = 10_000) -> None:
        self._db = db
        self._max = max_reports
        with self._db:
            for statement in _SCHEMA:
                self._db.execute(statement)

    def count(self, outcome: Outcome) -> None:
        with self._db:
            self._add_count(outcome)

    def _add_count(self, outcome: Outcome) -> None:
        self._db.execute(
            "INSERT INTO tlsrpt_count VALUES (?, 1) ON CONFLICT(result) DO UPDATE SET n = n + 1",
            (outcome.value,),
        )

    def add(self, record: TlsReportRecord, now: float | None = None) -> Outcome:
        """Store ``record`` unless seen before; counts its outcome (one transaction)."""
        now = time.time() if now is None else now
        key = (record.organization.casefold(), record.report_id)
        with self._db:
            seen = self._db.execute(
                "SELECT 1 FROM tlsrpt_report WHERE organization = ? AND report_id = ?", key
            ).fetchone()
            if seen is not None:
                self._add_count(Outcome.DUPLICATE)
                return Outcome.DUPLICATE
            self._db.execute(
                "INSERT INTO tlsrpt_report VALUES (?, ?, ?, ?, ?, ?)",
                (*key, now, record.start, record.end, _policies(record)),
            )
            for policy in record.policies:
                for failure in policy.failures:
                    self._add_series(
                        _label(policy.policy_domain),
                        _label(failure.result_type),
                        _label(failure.receiving_mx_hostname),
                        failure.failed_sessions,
                    )
            self._add_count(Outcome.ACCEPTED)
            self._db.execute(
                "DELETE FROM tlsrpt_report WHERE rowid NOT IN "
                "(SELECT rowid FROM tlsrpt_report ORDER BY received DESC LIMIT ?)",
                (self._max,),
            )
        return Outcome.ACCEPTED

    def _add_series(self, domain: str, result_type: str, mx: str, sessions: int) -> None:
        row = self._db.execute(
            "SELECT 1 FROM tlsrpt_series WHERE policy_domain = ? AND result_type = ? AND mx = ?",
            (domain, result_type, mx),
        ).fetchone()
        if row is None:
            (n,) = self._db.execute("SELECT COUNT(*) FROM tlsrpt_series").fetchone()
            if n >= MAX_SERIES:  # the cap holds one slot for the other series
                domain = result_type = mx = OTHER
        self._db.execute(
            "INSERT INTO tlsrpt_series VALUES (?, ?, ?, ?) ON CONFLICT DO UPDATE "
            "SET sessions = sessions + excluded.sessions",
            (domain, result_type, mx, sessions),
        )

    def counts(self) -> dict[Outcome, int]:
        rows = self._db.execute("SELECT result, n FROM tlsrpt_count").fetchall()
        known = {o.value: o for o in Outcome}
        return {known[r]: int(n) for r, n in rows if r in known}

    def series(self) -> list[tuple[str, str, str, int]]:
        rows = self._db.execute(
            "SELECT policy_domain, result_type, mx, sessions FROM tlsrpt_series "
            "ORDER BY policy_domain, result_type, mx"
        ).fetchall()
        return [(str(d), str(r), str(m), int(n)) for d, r, m, n in rows]

    def stored(self) -> int:
        (n,) = self._db.execute("SELECT COUNT(*) FROM tlsrpt_report").fetchone()
        return int(n)
