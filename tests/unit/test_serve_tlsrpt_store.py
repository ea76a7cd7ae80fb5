"""The received TLS reports' tables in the serve state: bounded in count, deduped by
organization + report-id, counts kept when old reports are dropped (real SQLite)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from factories.tlsrpt_cases import google_report

from smtpdiag.serve.state import StateStore
from smtpdiag.serve.tlsrpt import GZIP_TYPE, JSON_TYPE, Outcome, Received, TlsrptStore, decode
from smtpdiag.tlsreports import TlsReportRecord


def _record(report_id: str, organization: str = "Google Inc.") -> TlsReportRecord:
    failure = {
        "result-type": "validation-failure",
        "receiving-mx-hostname": "MX1.Receiver.Example.",
        "failed-session-count": 2,
    }
    doc = google_report("receiver.example", failures=[failure], report_id=report_id)
    doc["organization-name"] = organization
    item = decode(gzip.compress(json.dumps(doc).encode()), GZIP_TYPE)
    assert isinstance(item, TlsReportRecord), item
    return item


def test_bounded_deduped_and_persisted(tmp_path: Path) -> None:
    with StateStore(tmp_path) as state:
        store = TlsrptStore(state.db, max_reports=3)
        assert [store.add(_record(f"r{k}"), now=float(k)) for k in range(5)] == [
            Outcome.ACCEPTED
        ] * 5
        assert store.stored() == 3  # the two received first were dropped
        # Same organization (any case) and report-id: a duplicate, counted once.
        assert store.add(_record("r4", "GOOGLE INC."), now=9.0) is Outcome.DUPLICATE
    with StateStore(tmp_path) as state:
        store = TlsrptStore(state.db, max_reports=3)
        assert store.stored() == 3
        assert store.counts() == {Outcome.ACCEPTED: 5, Outcome.DUPLICATE: 1}
        # The counter keeps the sessions of dropped reports (a counter never goes down).
        assert store.series() == [
            ("receiver.example", "validation-failure", "mx1.receiver.example", 10)
        ]


def test_decode_refusals() -> None:
    assert decode(b'{"a": 1}', GZIP_TYPE) == Received(
        400, f"the body is not gzip (Content-Type: {GZIP_TYPE})", Outcome.REJECTED
    )
    refused = decode(b"From: a@b\r\n\r\nhello", JSON_TYPE)
    assert isinstance(refused, Received) and refused.status == 400
    bad = decode(b"\x1f\x8b" + b"\0" * 40, GZIP_TYPE)
    assert isinstance(bad, Received) and bad.status == 400 and "gzip" in bad.line
