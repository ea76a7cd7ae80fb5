"""Pure policy of a bulk run: which routes are the same, how a shared route result
becomes one domain's, and what to do with a domain and with each recipient.

No I/O here: data in, data out (STYLE habit 7).
"""

from __future__ import annotations

import ipaddress
from dataclasses import replace

from ..bounces import BatchRecord
from ..bounces.reasons import Decision, Reason, classify
from ..certmatch import label_match
from ..model import (
    ActionKind,
    Outcome,
    Persistence,
    ProbeReport,
    Resolution,
    Route,
    RouteResult,
    RuleId,
    TlsMode,
    Verdict,
)
from ..probing.gates import address_key
from .model import DomainDecision, DomainRecord, FindingBrief, RecipientRecord, RouteUse

__all__ = [
    "RouteKey",
    "address_key",
    "domain_decision",
    "domain_record",
    "for_domain",
    "names_host",
    "provider_of",
    "recipient_record",
    "route_key",
    "throttled",
]

#: One distinct probe: (address, port, TLS mode). Domains whose MX hosts share it share
#: one connection per run.
RouteKey = tuple[str, int, TlsMode]

# Bounce reasons about reaching the domain, not the mailbox: when the probe finds the
# domain deliverable now, they no longer hold.
_REACH_REASONS = frozenset(
    {
        Reason.CONNECTION,
        Reason.ROUTING,
        Reason.DNS,
        Reason.DOMAIN,
        Reason.TLS,
        Reason.SYSTEM,
        Reason.EXPIRED,
    }
)


# Rules whose finding is about TLS, whatever the code they carry.
_TLS_RULES = frozenset(
    {
        RuleId.TLS_MISMATCH,
        RuleId.TLS_CERT_UNVERIFIED,
        RuleId.STARTTLS_REQUIRED,
        RuleId.MTA_STS_CERT_INVALID,
        RuleId.MTA_STS_MX_NOT_COVERED,
        RuleId.DANE_MISMATCH,
        RuleId.DANE_BOGUS,
    }
)


def route_key(route: Route) -> RouteKey:
    """The distinct probe a route needs."""
    return (address_key(route.address), route.port, route.tls_mode)


#: Replies by which a server says "too many connections from you, slow down"
#: (RFC 5321 4.2.3: 421 service not available, closing; 450 mailbox busy).
RATE_LIMIT_CODES = frozenset({421, 450})


def throttled(result: RouteResult) -> bool:
    """Whether the server answered the probe with a rate-limit reply (421, 450)."""
    return any(p.reply is not None and p.reply.code in RATE_LIMIT_CODES for p in result.phases)


def names_host(sans: tuple[str, ...], host: str) -> bool:
    """Whether a certificate's subjectAltNames name ``host`` (RFC 6125, as the probe
    judges it: DNS-IDs with a left-most wildcard; an IP host against IP SANs)."""
    name = host.rstrip(".").lower()
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return any(label_match(p.rstrip(".").lower(), name) for p in sans if ":" not in p)
    return address_key(name.strip("[]")) in {address_key(p) for p in sans}


def for_domain(shared: RouteResult, route: Route) -> RouteResult:
    """A shared route result as one domain's: its own route (MX name, preference,
    rank) and the certificate name checked against its own MX host name."""
    tls = shared.tls
    if (
        tls is not None
        and tls.certificate is not None
        and tls.hostname_match is not None
        and route.mx.lower() != shared.route.mx.lower()
    ):
        tls = replace(tls, hostname_match=names_host(tls.certificate.sans, route.mx))
    return replace(shared, route=route, tls=tls)


def provider_of(resolution: Resolution) -> str:
    """The MX set as a key: sorted host names, or the resolution kind in brackets."""
    names = sorted({h.name for h in resolution.hosts})
    return ",".join(names) if names else f"[{resolution.kind.value}]"


def _use(result: RouteResult, shared: bool) -> RouteUse:
    r = result.route
    if result.ok:
        return RouteUse(r.mx, r.address, r.port, r.tls_mode, True, shared=shared)
    stop = next((p for p in reversed(result.phases) if p.outcome is not Outcome.OK), None)
    return RouteUse(
        r.mx,
        r.address,
        r.port,
        r.tls_mode,
        False,
        phase=stop.phase.value if stop else None,
        outcome=stop.outcome.value if stop else None,
        shared=shared,
    )


def domain_decision(report: ProbeReport) -> tuple[Decision, str | None, Reason]:
    """What to do with mail to the domain: (decision, retry instant, reason)."""
    diagnosis = report.diagnosis
    if report.could_not_run or diagnosis is None:
        return Decision.KEEP, None, Reason.UNKNOWN  # our DNS failed: nothing is known
    primary = next((f for f in diagnosis.findings if f.code == diagnosis.primary), None)
    reason = classify(diagnosis.primary, None, "") if diagnosis.primary else Reason.UNKNOWN
    if primary is not None and diagnosis.primary and primary.rule in _TLS_RULES:
        # The code (4.4.2, 5.4.2) reads as "connection"; the rule knows it was TLS.
        reason = Reason.TLS
    if diagnosis.verdict is Verdict.NO_MAIL:
        return Decision.SUPPRESS, None, Reason.DOMAIN
    if diagnosis.verdict is not Verdict.FAILED:
        return Decision.KEEP, None, reason
    # The diagnosis' one decision record: the action decided next to the findings.
    action = diagnosis.action
    kind = action.kind
    if kind is ActionKind.SUPPRESS:
        return Decision.SUPPRESS, None, reason
    if kind is ActionKind.RETRY:
        schedule = action.schedule
        return Decision.RETRY, schedule[0].at if schedule else None, reason
    if kind is ActionKind.FIX:
        return Decision.FIX, None, reason
    return Decision.KEEP, None, reason


def domain_record(
    report: ProbeReport, shared: frozenset[RouteKey], duration_ms: float
) -> DomainRecord:
    """The bulk record of a diagnosed domain; ``shared`` are the route keys that were
    probed for another domain first."""
    diagnosis = report.diagnosis
    decision, retry_at, reason = domain_decision(report)
    findings = tuple(
        FindingBrief(f.rule, f.code, f.severity, f.action.kind.value)
        for f in (diagnosis.findings if diagnosis else ())
    )
    return DomainRecord(
        domain=report.domain,
        verdict=diagnosis.verdict if diagnosis else Verdict.FAILED,
        primary=diagnosis.primary if diagnosis else None,
        persistence=diagnosis.persistence if diagnosis else Persistence.UNKNOWN,
        findings=findings,
        decision=decision,
        retry_at=retry_at,
        reason=reason,
        provider=provider_of(report.resolution),
        routes=tuple(_use(r, route_key(r.route) in shared) for r in report.routes),
        could_not_run=report.could_not_run,
        duration_ms=round(duration_ms, 3),
    )


def recipient_record(
    d: DomainDecision,
    target_input: str,
    recipient: str | None,
    domain_name: str,
    bounce: BatchRecord | None,
) -> RecipientRecord:
    """One recipient's decision from its domain's result and, if any, its bounce.

    Without a bounce, the domain decides. A domain that takes no mail at all (a null
    MX, or suppressed for a reason about the domain itself: it does not exist, or has
    no mail route) decides too. A bounce about the mailbox (unknown user, full, disabled, spam,
    policy) stands whatever state the domain is in now: one probe of the domain says
    nothing about that mailbox. A bounce about reaching the domain (connection,
    routing, DNS, TLS, expiry) stands when the probe learned nothing (verdict
    ``unknown``: no nameserver answered, or the domain's deadline passed); when the
    domain is deliverable now (decision keep) it no longer holds: keep; when the
    domain is failing now, the domain decides (retry at its schedule, fix, suppress).
    """
    probe = RecipientRecord(
        target_input, recipient, domain_name, d.decision, d.retry_at, d.code, d.reason, "probe"
    )
    gone = d.verdict is Verdict.NO_MAIL or (
        d.decision is Decision.SUPPRESS and d.reason is Reason.DOMAIN
    )
    if bounce is None or gone:
        return probe
    reach = bounce.reason in _REACH_REASONS
    if not reach or d.verdict is Verdict.UNKNOWN:
        return RecipientRecord(
            target_input,
            recipient,
            domain_name,
            bounce.decision,
            bounce.retry_at[0] if bounce.retry_at else None,
            bounce.enhanced,
            bounce.reason,
            "bounce",
        )
    if d.decision is Decision.KEEP:
        return RecipientRecord(
            target_input,
            recipient,
            domain_name,
            Decision.KEEP,
            None,
            bounce.enhanced,
            bounce.reason,
            "probe",
        )
    return probe
