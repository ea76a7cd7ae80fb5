"""The health policy as tables: diagnosis rule -> problem kind and level.

Health is a policy over the diagnosis plus measurements. What the rules found (null MX,
DNS failure, MX targets, STARTTLS not offered, certificates that do not verify, the
probe that could not run) is read from the diagnosis by rule id, never re-derived
from the observations; only measurements are judged here against thresholds
(latency per phase, days left on a certificate, the negotiated TLS version) and
route up/down counts.
"""

from __future__ import annotations

from enum import StrEnum

from ..model import RuleId, Verdict
from .result import HealthStatus, ProblemKind

__all__ = [
    "RANK",
    "REQUIREMENT_LEVEL",
    "ROUTE_FAULTS",
    "ROUTE_LEVEL",
    "RULE_PROBLEMS",
    "VERDICT_LEVEL",
    "Level",
    "worst",
]


class Level(StrEnum):
    """A problem's level in a policy row: fixed, or that of an unhealthy route."""

    WARNING = "warning"
    CRITICAL = "critical"
    UNKNOWN = "unknown"
    #: critical when no route is healthy or every MX is required, else warning
    ROUTE = "route"


ROUTE_LEVEL = Level.ROUTE

#: Diagnosis rule -> (problem kind, level). Rules not listed add no problem of their own:
#: their routes are judged as routes (down, requirements, latency, certificate).
RULE_PROBLEMS: dict[RuleId, tuple[ProblemKind, Level]] = {
    RuleId.COULD_NOT_RUN: (ProblemKind.PROBE_FAILED, Level.UNKNOWN),
    RuleId.NULL_MX: (ProblemKind.NULL_MX, Level.CRITICAL),
    RuleId.DNS_FAILED: (ProblemKind.DNS, Level.CRITICAL),
    RuleId.NO_ROUTE: (ProblemKind.NO_ROUTE, Level.CRITICAL),
    RuleId.MX_NO_ADDRESS: (ProblemKind.MX_TARGET, Level.ROUTE),
    RuleId.MX_LOOKUP_FAILED: (ProblemKind.MX_TARGET, Level.ROUTE),
    RuleId.MX_NOT_GLOBAL: (ProblemKind.MX_TARGET, Level.ROUTE),
    RuleId.MX_CNAME: (ProblemKind.MX_TARGET, Level.WARNING),
    # Senders applying the domain's own published policy defer (a coded finding: MTA-STS
    # in testing mode is not counted): the diagnosis calls the domain failed.
    RuleId.DANE_BOGUS: (ProblemKind.TLS_POLICY, Level.CRITICAL),
    RuleId.DANE_MISMATCH: (ProblemKind.TLS_POLICY, Level.CRITICAL),
    RuleId.STARTTLS_REQUIRED: (ProblemKind.TLS_POLICY, Level.CRITICAL),
    RuleId.MTA_STS_CERT_INVALID: (ProblemKind.TLS_POLICY, Level.CRITICAL),
    RuleId.MTA_STS_MX_NOT_COVERED: (ProblemKind.TLS_POLICY, Level.CRITICAL),
}

#: Diagnosis rules that make an up route not healthy, and the problem kind they give:
#: a route whose certificate does not verify, or that offers no STARTTLS, is up but
#: not healthy (the diagnosis' finding names it), whatever the thresholds.
ROUTE_FAULTS: dict[RuleId, ProblemKind] = {
    RuleId.TLS_CERT_UNVERIFIED: ProblemKind.CERT_INVALID,
    RuleId.MTA_STS_CERT_INVALID: ProblemKind.CERT_INVALID,
    RuleId.STARTTLS_NOT_OFFERED: ProblemKind.NO_STARTTLS,
    RuleId.STARTTLS_REQUIRED: ProblemKind.NO_STARTTLS,
}

#: The least level each verdict gives (the decision's, read, not re-derived): a check
#: never says OK for a domain the diagnosis calls degraded, nor less than critical for
#: one where no sender can deliver.
VERDICT_LEVEL: dict[Verdict, HealthStatus] = {
    Verdict.HEALTHY: HealthStatus.OK,
    Verdict.DEGRADED: HealthStatus.WARNING,
    Verdict.FAILED: HealthStatus.CRITICAL,
    Verdict.NO_MAIL: HealthStatus.CRITICAL,
    Verdict.UNKNOWN: HealthStatus.UNKNOWN,
}

#: Level of a requirement the domain does not meet (``--require-mta-sts``,
#: ``--require-dane``): the operator asked for it, so its absence is critical, like a
#: required implicit-TLS port that does not work.
REQUIREMENT_LEVEL: dict[ProblemKind, Level] = {
    ProblemKind.MTA_STS: Level.CRITICAL,
    ProblemKind.DANE: Level.CRITICAL,
}

#: Severity order for "the worst of": unknown is not worse than critical here, because
#: a report is only unknown as a whole (then it has no other problems).
RANK = {HealthStatus.OK: 0, HealthStatus.WARNING: 1, HealthStatus.CRITICAL: 2}


def worst(levels: list[HealthStatus]) -> HealthStatus:
    """The worst status of ``levels`` (``unknown`` wins: nothing else is known)."""
    status = HealthStatus.OK
    for level in levels:
        if level is HealthStatus.UNKNOWN:
            return HealthStatus.UNKNOWN
        if RANK[level] > RANK[status]:
            status = level
    return status
