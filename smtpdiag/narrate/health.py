"""The health check's words: problem reasons, route facts and the summary line.

The health policy (``smtpdiag.health``) decides levels and kinds from the diagnosis and
the measurements; every sentence it shows is written here.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..model import (
    DaneState,
    DnsOutcome,
    Finding,
    MxHost,
    MxTargetKind,
    Outcome,
    ProbeReport,
    RouteResult,
    SenderKind,
    SenderOutcome,
    StsMode,
    StsStatus,
    Verdict,
)
from ..textsafe import clean
from .common import verify_text
from .units import days_left, fmt_s, plural

__all__ = [
    "cert_expiry_reason",
    "cert_invalid_reason",
    "could_not_run_reason",
    "dane_mismatch_reason",
    "dane_state_reason",
    "diagnosis_reason",
    "domain_reason",
    "failure_reason",
    "implicit_tls_reason",
    "latency_reason",
    "mta_sts_mode_reason",
    "mta_sts_status_reason",
    "mta_sts_uncovered_reason",
    "mx_target_reason",
    "no_route_reason",
    "no_starttls_reason",
    "policy_line",
    "policy_not_checked_reason",
    "route_facts",
    "route_failure_text",
    "summary_line",
    "tls_policy_reason",
    "tls_version_reason",
    "unknown_summary",
]


def route_failure_text(rr: RouteResult) -> str | None:
    """``"<phase> <outcome>"`` of the failed phase, ``None`` when up."""
    rec = rr.failure
    if rec is None:
        return None if rr.ok else "failed"
    return f"{rec.phase.value} {rec.outcome.value}"


def route_facts(failure: str | None, tls_version: str | None, cert_days: int | None) -> list[str]:
    """What the renderers say about a route after its state: failure, TLS, certificate."""
    facts = [failure] if failure else []
    if tls_version:
        facts.append(tls_version)
    if cert_days is not None:
        facts.append(f"certificate {days_left(cert_days)}")
    return facts


def failure_reason(rr: RouteResult) -> str:
    """``mx[ip]:25: greeting timeout after 5.00 s`` / ``... (421 4.3.2 busy)``."""
    rec = rr.failure
    label = rr.route.label
    if rec is None:
        return f"{label}: route failed"
    parts = [f"{label}: {rec.phase.value} {rec.outcome.value}"]
    if rec.outcome is Outcome.TIMEOUT:
        parts.append(f"after {fmt_s(rec.duration_ms / 1000.0)}")
    if rec.reply is not None:
        reply = f"{rec.reply.code}"
        text = clean(rec.reply.text, 120)
        if rec.reply.enhanced and not text.startswith(rec.reply.enhanced):
            reply += f" {rec.reply.enhanced}"
        if text:
            reply += f" {text}"
        parts.append(f"({reply})")
    elif rec.detail:
        parts.append(f"({clean(rec.detail, 120)})")
    return " ".join(parts)


def no_starttls_reason(rr: RouteResult) -> str:
    return f"{rr.route.label}: STARTTLS not offered (RFC 3207)"


def tls_version_reason(rr: RouteResult, minimum: str) -> str:
    version = rr.tls.version if rr.tls is not None else None
    return f"{rr.route.label}: negotiated {clean(version, 20)}, below the minimum {minimum}"


def cert_invalid_reason(rr: RouteResult) -> str:
    tls = rr.tls
    if tls is not None and tls.verified and tls.hostname_match is False:
        return f"{rr.route.label}: certificate does not name {rr.route.mx} (RFC 6125)"
    why = verify_text(tls, rr.route.mx) if tls is not None else "does not verify"
    return f"{rr.route.label}: certificate invalid ({clean(why, 160)})"


def diagnosis_reason(verdict: Verdict, lead: Finding | None) -> str:
    """``diagnosis degraded: MX target is an alias (CNAME)``: the verdict and its lead."""
    text = f"diagnosis {verdict.value}"
    if lead is not None:
        text += f": {clean(lead.title, 120)}"
        if lead.code:
            text += f" ({lead.code})"
    return text


def latency_reason(rr: RouteResult, phase: str, seconds: float, bound: float) -> str:
    return f"{rr.route.label}: {phase} took {fmt_s(seconds)} (> {bound:g} s)"


def cert_expiry_reason(labels: Sequence[str], mx: str, days: int, bound: int | None) -> str:
    what = (
        f"expired {plural(-days, 'day')} ago"
        if days < 0
        else f"expires in {plural(days, 'day')} (limit {plural(bound or 0, 'day')})"
    )
    rest = len(labels) - 1
    more = f" (+{rest} more route{'' if rest == 1 else 's'})" if rest else ""
    return f"{labels[0]}{more}: certificate of {mx} {what}"


def domain_reason(report: ProbeReport, kind: str) -> str:
    """The reason of a DNS-level problem (``null-mx``, ``no-route``, ``dns``)."""
    name = report.domain
    if kind == "null-mx":
        return f"{name} publishes a null MX (RFC 7505): it accepts no mail"
    if kind == "no-route":
        return f"{name} has no MX and no address record: no route (RFC 5321 5.1)"
    q = report.resolution.mx_query
    detail = clean(q.detail, 120)
    return f"MX lookup of {name} failed: {q.outcome.value}" + (f" ({detail})" if detail else "")


_TARGET_WORDS = {
    MxTargetKind.NO_ADDRESS: "has no address record",
    MxTargetKind.IP_LITERAL: "is an IP literal, not a host name (RFC 5321 5.1)",
    MxTargetKind.LOOKUP_FAILED: "could not be resolved (address lookup failed)",
    MxTargetKind.CNAME: "is an alias (CNAME; RFC 5321 5.1, RFC 2181 10.3)",
}


def mx_target_reason(host: MxHost, *, not_global: bool = False) -> str:
    if not_global:
        return (
            f"MX target {host.name} points at an address not reachable from the Internet "
            "(loopback, private, link-local ...)"
        )
    return f"MX target {host.name} {_TARGET_WORDS.get(host.kind, 'is unusable')}"


def no_route_reason(report: ProbeReport) -> str:
    return (
        f"{report.domain}: no route to probe (no usable MX address"
        f" for ports {', '.join(map(str, report.ports))})"
    )


def implicit_tls_reason(probed: int) -> str:
    why = (
        "no implicit-TLS port was probed"
        if not probed
        else f"none of {probed} implicit-TLS routes works"
    )
    return f"implicit TLS required (RFC 8314 3.3): {why}"


def could_not_run_reason(report: ProbeReport) -> tuple[str, str]:
    """(problem reason, summary line) of a probe that could not run."""
    q = report.resolution.mx_query
    if q.outcome not in (DnsOutcome.TIMEOUT, DnsOutcome.ERROR):
        reason = f"{report.domain}: no nameserver answered for any MX target"
        return reason, clean(f"{reason}: probe could not run", 300)
    detail = clean(q.detail, 160)
    if q.deadline:
        detail = "the probe's deadline (--timeout) passed first"
    reason = f"MX lookup of {report.domain}: {q.outcome.value}" + (
        f" ({detail})" if detail else " (no nameserver answered)"
    )
    return reason, clean(f"{report.domain}: probe could not run: {reason}", 300)


def unknown_summary(domain: str, reason: str) -> str:
    return clean(f"{domain}: probe could not run: {reason}", 300)


def summary_line(
    domain: str,
    healthy: int,
    up: int,
    routes: int,
    first_problem: str | None,
    more: int,
    greeting_max_s: float | None,
    cert_days: int | None,
    primary: str | None,
) -> str:
    """The status line's text: why the level is what it is, first.

    Healthy: ``example.org: 3/3 routes healthy; greeting max 12 ms; certificate 80 days
    left``. With a problem, the worst problem leads and the routes are counted as *up*
    (they answer), a fact that never contradicts the level: an expired certificate is
    critical while every route still works (``example.org: mx1...:25 (+2 more routes):
    certificate of mx1... expired 3 days ago; 3/3 routes up``).
    """
    parts: list[str] = []
    if first_problem is not None:
        parts.append(first_problem + (f" (+{plural(more, 'more problem')})" if more else ""))
        if routes:
            parts.append(f"{up}/{routes} routes up")
    else:
        if routes:
            parts.append(f"{healthy}/{routes} routes healthy")
        if greeting_max_s is not None:
            parts.append(f"greeting max {fmt_s(greeting_max_s)}")
        if cert_days is not None:
            parts.append(f"certificate {days_left(cert_days)}")
    line = f"{domain}: " + "; ".join(parts) if parts else domain
    if primary:
        line += f" [diagnosis {primary}]"
    return clean(line, 300)


# ------------------------------------------------------------------- TLS policy


_SENDER_NAMES = {
    SenderKind.OPPORTUNISTIC: "opportunistic",
    SenderKind.MTA_STS: "MTA-STS",
    SenderKind.DANE: "DANE",
}


def tls_policy_reason(f: Finding) -> str:
    """A TLS policy finding that makes enforcing senders defer, in one line."""
    where = ", ".join((f.payload.routes or f.payload.hosts)[:3])
    more = len(f.payload.routes or f.payload.hosts) - 3
    where += f" (+{more} more)" if more > 0 else ""
    who = [_SENDER_NAMES[s.sender] for s in f.payload.senders if s.outcome is SenderOutcome.DEFER]
    deferring = f"{' and '.join(who)} senders defer" if who else "enforcing senders defer"
    return f"{f.rule.value}{': ' + where if where else ''}: {deferring} ({f.code})"


def policy_not_checked_reason(what: str) -> str:
    return f"{what} is required, but the TLS policy was not looked up (--no-policy)"


_STS_STATUS_WORDS = {
    StsStatus.NOT_PUBLISHED: "publishes no MTA-STS record",
    StsStatus.DNS_ERROR: "MTA-STS record lookup failed",
    StsStatus.RECORD_INVALID: "has an invalid _mta-sts TXT record",
    StsStatus.FETCH_ERROR: "MTA-STS policy cannot be fetched",
    StsStatus.WEBPKI_INVALID: "MTA-STS policy host's certificate does not verify",
    StsStatus.POLICY_INVALID: "MTA-STS policy is invalid",
    StsStatus.NOT_CHECKED: "MTA-STS policy was not checked",
}


def mta_sts_status_reason(domain: str, status: StsStatus) -> str:
    words = _STS_STATUS_WORDS.get(status, status.value)
    return f"MTA-STS required: {domain} {words}"


def mta_sts_mode_reason(domain: str, mode: StsMode, required: StsMode) -> str:
    return f"MTA-STS required in mode {required.value}: {domain}'s policy is mode {mode.value}"


def mta_sts_uncovered_reason(hosts: Sequence[str]) -> str:
    names = ", ".join(hosts[:3]) + (f" (+{len(hosts) - 3} more)" if len(hosts) > 3 else "")
    return f"MTA-STS required: the policy's mx patterns do not cover {names}"


_DANE_STATE_WORDS = {
    DaneState.NONE: "has no TLSA records",
    DaneState.NOT_USABLE: "has TLSA records that are not usable (unsigned zone or bad records)",
    DaneState.BOGUS: "TLSA lookup fails DNSSEC validation",
    DaneState.UNKNOWN: "TLSA lookup got no answer",
}


def dane_state_reason(host: str, state: DaneState) -> str:
    return f"DANE required: {host} {_DANE_STATE_WORDS.get(state, state.value)}"


def dane_mismatch_reason(labels: Sequence[str]) -> str:
    rest = len(labels) - 1
    more = f" (+{rest} more route{'' if rest == 1 else 's'})" if rest else ""
    return f"DANE required: {labels[0]}{more} presents a chain no TLSA record matches"


def policy_line(report: ProbeReport) -> str:
    """``TLS policy: MTA-STS enforce (covers 2/2 MX); DANE usable on 1/2 MX; TLS-RPT valid``."""
    p = report.policy
    if p is None:
        return "TLS policy: not looked up"
    sts = p.mta_sts
    if sts.status is StsStatus.VALID:
        covered = sum(m.pattern is not None for m in sts.matches)
        mode = sts.mode.value if sts.mode else "?"
        sts_text = f"MTA-STS {mode} (covers {covered}/{len(sts.matches)} MX)"
    else:
        sts_text = f"MTA-STS {sts.status.value}"
    hosts = len(report.resolution.hosts)
    usable = sum(t.state is DaneState.USABLE for t in p.dane)
    other = [t.state.value for t in p.dane if t.state not in (DaneState.USABLE, DaneState.NONE)]
    dane_text = f"DANE usable on {usable}/{hosts} MX" + (
        f" ({', '.join(dict.fromkeys(other))} on others)" if other else ""
    )
    return f"TLS policy: {sts_text}; {dane_text}; TLS-RPT {p.tls_rpt.status.value}"
