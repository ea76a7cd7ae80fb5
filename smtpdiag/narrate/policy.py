"""The words of the "TLS policy" section every renderer lays out: MTA-STS, DANE per MX
host, TLS-RPT, and the compact "who fails" of a finding."""

from __future__ import annotations

from ..model import (
    DaneState,
    Finding,
    MtaSts,
    ProbeReport,
    SenderKind,
    SenderOutcome,
    StsFetch,
    StsStatus,
    TlsPolicy,
    TlsRptStatus,
)
from ..textsafe import clean
from .units import plural

__all__ = ["looked_up", "policy_rows", "failing_sender_rows", "sender_rows", "senders_line"]

_STATUS_WORDS = {
    StsStatus.NOT_PUBLISHED: "not published (no _mta-sts TXT record)",
    StsStatus.DNS_ERROR: "TXT lookup failed",
    StsStatus.RECORD_INVALID: "TXT record invalid (senders assume no policy)",
    StsStatus.FETCH_ERROR: "policy fetch failed (sts-policy-fetch-error)",
    StsStatus.WEBPKI_INVALID: "policy host certificate invalid (sts-webpki-invalid)",
    StsStatus.POLICY_INVALID: "policy invalid (sts-policy-invalid)",
    StsStatus.VALID: "valid",
    StsStatus.NOT_CHECKED: "not checked",
}

_DANE_WORDS = {
    DaneState.NONE: "no TLSA records",
    DaneState.NOT_USABLE: "TLSA present but not usable",
    DaneState.USABLE: "usable",
    DaneState.BOGUS: "DNSSEC bogus (dnssec-invalid)",
    DaneState.UNKNOWN: "no answer",
}

_RPT_WORDS = {
    TlsRptStatus.NOT_PUBLISHED: "not published (no _smtp._tls TXT record): no TLS reports",
    TlsRptStatus.INVALID: "invalid: senders send no TLS reports",
    TlsRptStatus.VALID: "valid",
    TlsRptStatus.DNS_ERROR: "TXT lookup failed",
    TlsRptStatus.NOT_CHECKED: "not checked",
}

_SENDER_WORDS = {
    SenderKind.OPPORTUNISTIC: "opportunistic",
    SenderKind.MTA_STS: "MTA-STS",
    SenderKind.DANE: "DANE",
    SenderKind.VERIFYING: "verifying by local policy",
}

_OUTCOME_WORDS = {
    SenderOutcome.DELIVER: "deliver",
    SenderOutcome.REPORT: "deliver and report",
    SenderOutcome.DEFER: "defer and retry (temporary failure)",
    SenderOutcome.OTHER_MX: "deliver through another MX host or address",
    SenderOutcome.NOT_APPLICABLE: "not affected",
    SenderOutcome.UNKNOWN: "unknown",
}


def senders_line(finding: Finding) -> str | None:
    """``MTA-STS (enforce): defer and retry (...); opportunistic: deliver; DANE: not
    affected``, plus the RFC 8460 result types; ``None`` for a finding without sender
    impact. Senders that defer come first; ``nobody`` leads when every sender's outcome is
    known and none defers, so the line never reads as if delivering senders failed."""
    payload = finding.payload
    if not payload.senders:
        return None
    failing = [s for s in payload.senders if s.outcome is SenderOutcome.DEFER]
    others = [s for s in payload.senders if s.outcome is not SenderOutcome.DEFER]
    known = all(s.outcome is not SenderOutcome.UNKNOWN for s in payload.senders)
    parts = ["nobody"] if not failing and known else []
    for s in (*failing, *others):
        name = _SENDER_WORDS[s.sender]
        if s.mode is not None:
            name += f" ({s.mode.value})"
        parts.append(f"{name}: {_OUTCOME_WORDS[s.outcome]}")
    text = "; ".join(parts)
    if payload.tls_rpt_results:
        text += "; RFC 8460 result: " + ", ".join(r.value for r in payload.tls_rpt_results)
    return text


def _sts_head(sts: MtaSts) -> str:
    """``valid, mode enforce, max_age 86400 s; id 2024``, or the status in words."""
    head = _STATUS_WORDS[sts.status]
    if sts.status is StsStatus.VALID and sts.policy is not None:
        mode = sts.policy.mode.value if sts.policy.mode else "?"
        head = f"valid, mode {mode}"
        if sts.policy.max_age is not None:
            head += f", max_age {sts.policy.max_age} s"
    if sts.record is not None and sts.record.id:
        head += f"; id {clean(sts.record.id, 40)}"
    return head


def _fetch_text(fetch: StsFetch) -> str:
    bits = [
        clean(fetch.url, 120),
        *([f"HTTP {fetch.status}"] if fetch.status is not None else []),
        *([f"error {fetch.error.value}"] if fetch.error is not None else []),
        *([clean(fetch.detail, 120)] if fetch.detail else []),
    ]
    return "fetch: " + ", ".join(bits)


def _sts_lists(sts: MtaSts) -> list[tuple[str, str]]:
    """The policy's mx patterns and problems, and the record's problems: one row each
    that is not empty."""
    policy, record = sts.policy, sts.record
    lists = (
        ("mx patterns", [clean(m, 80) for m in policy.mx[:8]] if policy else []),
        ("problems", [x.value for x in policy.problems] if policy else []),
        ("record problems", [x.value for x in record.problems] if record else []),
    )
    return [("", f"{label}: " + ", ".join(values)) for label, values in lists if values]


def _sts_rows(p: TlsPolicy) -> list[tuple[str, str]]:
    sts = p.mta_sts
    rows = [("MTA-STS", _sts_head(sts))]
    if sts.fetch is not None:
        rows.append(("", _fetch_text(sts.fetch)))
    rows += _sts_lists(sts)
    for m in sts.matches[:8]:
        covered = f"covered by {clean(m.pattern, 80)}" if m.pattern else "NOT covered"
        rows.append(("", f"{clean(m.mx, 80)}: {covered}"))
    return rows


def _dane_rows(report: ProbeReport, p: TlsPolicy) -> list[tuple[str, str]]:
    rows = [("DANE", f"MX records DNSSEC {p.mx_dnssec.value}")]
    checks: dict[str, list[str]] = {}
    for r in report.routes:
        if r.tls is not None and r.tls.dane is not None:
            word = "matched" if r.tls.dane.matched else "NO MATCH"
            checks.setdefault(r.route.mx.lower(), []).append(f"{r.route.address} {word}")
    for t in p.dane[:8]:
        text = f"{clean(t.mx, 80)}: {_DANE_WORDS[t.state]}"
        if t.records:
            recs = ", ".join(f"{r.usage} {r.selector} {r.matching_type}" for r in t.records[:4])
            text += f" ({plural(len(t.records), 'record')}: {recs}; DNSSEC {t.dnssec.value})"
        if t.mx.lower() in checks:
            text += "; chain " + ", ".join(checks[t.mx.lower()][:4])
        rows.append(("", text))
    return rows


def looked_up(report: ProbeReport) -> bool:
    """The policy stage looked something up (not off, not a domain without mail servers)."""
    p = report.policy
    return p is not None and not (
        p.mta_sts.status is StsStatus.NOT_CHECKED
        and not p.dane
        and p.tls_rpt.status is TlsRptStatus.NOT_CHECKED
    )


def policy_rows(report: ProbeReport) -> list[tuple[str, str]]:
    """The TLS policy as (label, text) rows; empty when nothing was looked up."""
    p = report.policy
    if p is None or not looked_up(report):
        return []
    rows = _sts_rows(p) + _dane_rows(report, p)
    rpt = p.tls_rpt
    text = _RPT_WORDS[rpt.status]
    if rpt.rua:
        text += ": " + ", ".join(clean(u, 120) for u in rpt.rua[:4])
    if rpt.problems:
        text += " (" + ", ".join(x.value for x in rpt.problems) + ")"
    rows.append(("TLS-RPT", text))
    return rows


def sender_rows(finding: Finding) -> list[tuple[str, str, bool]]:
    """The "who fails" table of ``finding``: ``(sender, outcome, fails)`` per kind of
    sender, those that defer first (the HTML report lays it out as a table)."""
    senders = finding.payload.senders
    ordered = [s for s in senders if s.outcome is SenderOutcome.DEFER]
    ordered += [s for s in senders if s.outcome is not SenderOutcome.DEFER]
    rows = []
    for s in ordered:
        name = _SENDER_WORDS[s.sender]
        if s.mode is not None:
            name += f" ({s.mode.value})"
        rows.append((name, _OUTCOME_WORDS[s.outcome], s.outcome is SenderOutcome.DEFER))
    return rows


def failing_sender_rows(kinds: tuple[SenderKind, ...]) -> list[tuple[str, str, bool]]:
    """:func:`sender_rows` for the decision record's "who fails" alone (a finding that
    names no sender kinds)."""
    return [(_SENDER_WORDS[k], "cannot deliver now", True) for k in kinds]
