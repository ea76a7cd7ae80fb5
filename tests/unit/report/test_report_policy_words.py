"""The words of the TLS policy section and of each finding's "who fails" line: a sender
deciding between retry and suppress reads them, so they must not contradict themselves."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from factories.report_cases import tls_policy

from smtpdiag import diagnose
from smtpdiag.model import (
    Finding,
    SenderImpact,
    SenderKind,
    SenderOutcome,
    StsMode,
    TlsRptResult,
    TlsRptStatus,
)
from smtpdiag.narrate.findings_policy import results_text, sender_text
from smtpdiag.narrate.policy import policy_rows, senders_line

NOW = datetime(2026, 11, 23, 6, 0, 2, tzinfo=UTC)


def _finding(*senders: SenderImpact) -> Finding:
    report = tls_policy()
    found = diagnose(report, now=NOW).findings[0]
    payload = replace(
        found.payload,
        senders=senders,
        tls_rpt_results=(TlsRptResult.CERTIFICATE_EXPIRED,),
    )
    return replace(found, payload=payload)


def test_who_fails_leads_with_the_senders_that_defer() -> None:
    line = senders_line(
        _finding(
            SenderImpact(SenderKind.OPPORTUNISTIC, SenderOutcome.DELIVER),
            SenderImpact(SenderKind.MTA_STS, SenderOutcome.DEFER, StsMode.ENFORCE),
            SenderImpact(SenderKind.DANE, SenderOutcome.NOT_APPLICABLE),
        )
    )
    assert line == (
        "MTA-STS (enforce): defer and retry (temporary failure); opportunistic: deliver; "
        "DANE: not affected; RFC 8460 result: certificate-expired"
    )


def test_who_fails_says_nobody_when_every_sender_delivers() -> None:
    line = senders_line(
        _finding(
            SenderImpact(SenderKind.OPPORTUNISTIC, SenderOutcome.DELIVER),
            SenderImpact(SenderKind.MTA_STS, SenderOutcome.REPORT, StsMode.TESTING),
            SenderImpact(SenderKind.DANE, SenderOutcome.NOT_APPLICABLE),
        )
    )
    assert line is not None and line.startswith("nobody; opportunistic: deliver; ")


def test_who_fails_does_not_say_nobody_when_an_outcome_is_unknown() -> None:
    line = senders_line(
        _finding(
            SenderImpact(SenderKind.OPPORTUNISTIC, SenderOutcome.DELIVER),
            SenderImpact(SenderKind.MTA_STS, SenderOutcome.UNKNOWN),
            SenderImpact(SenderKind.DANE, SenderOutcome.NOT_APPLICABLE),
        )
    )
    assert line is not None and not line.startswith("nobody")


def test_tls_rpt_row_is_worded_like_the_mta_sts_row() -> None:
    report = tls_policy()
    assert report.policy is not None
    missing = replace(report.policy.tls_rpt, status=TlsRptStatus.NOT_PUBLISHED, rua=(), problems=())
    report = replace(report, policy=replace(report.policy, tls_rpt=missing))
    rows = dict(policy_rows(report))
    assert rows["TLS-RPT"] == "not published (no _smtp._tls TXT record): no TLS reports"


def test_result_type_is_not_worded_as_a_report_sent() -> None:
    # A domain without a TLS-RPT record gets no reports: name the type, not a report.
    text = results_text((TlsRptResult.CERTIFICATE_EXPIRED,))
    assert text == "RFC 8460 result type: certificate-expired."


def test_dane_senders_that_ignore_unusable_records_are_not_said_to_match() -> None:
    impact = SenderImpact(SenderKind.DANE, SenderOutcome.DELIVER)
    assert "TLSA match decides" in sender_text(impact)
    assert sender_text(impact, tlsa_ignored=True) == (
        "DANE senders deliver as without DANE (the TLSA records are ignored)"
    )
