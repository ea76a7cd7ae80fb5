"""Schema 3.1: the TLS policy round-trips through JSON, and 3.0 documents still load."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from factories.report_cases import healthy, tls_policy

from smtpdiag import diagnose
from smtpdiag.report.jsonout import dumps, loads, report_from_dict, report_to_dict

NOW = datetime(2026, 11, 23, 6, 0, 2, tzinfo=UTC)


def test_policy_report_round_trips() -> None:
    report = tls_policy()
    report = replace(report, diagnosis=diagnose(report, now=NOW))
    assert loads(dumps(report)) == report
    doc = report_to_dict(report)
    assert list(doc)[:8][-1] == "policy"  # right after families
    senders = [f["payload"]["senders"] for f in doc["diagnosis"]["findings"]]
    assert any(senders)


def _strip_31(doc: dict[str, Any]) -> dict[str, Any]:
    """The same document as schema 3.0 wrote it: no policy, no tls.dane, no new payload keys."""
    doc = json.loads(json.dumps(doc))
    doc["schema_version"] = "3.0"
    doc.pop("policy")
    for route in doc["routes"]:
        if route["tls"] is not None:
            route["tls"].pop("dane")
    for f in doc["diagnosis"]["findings"]:
        f["payload"].pop("senders")
        f["payload"].pop("tls_rpt_results")
    return doc


def test_a_30_document_still_loads() -> None:
    report = healthy()
    report = replace(report, diagnosis=diagnose(report, now=NOW))
    back = report_from_dict(_strip_31(report_to_dict(report)))
    assert back.policy is None
    assert back.routes == report.routes
    assert back.diagnosis == report.diagnosis
