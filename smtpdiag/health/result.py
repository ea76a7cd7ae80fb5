"""What a health check returns: status, problems, per-route health (plain data).

:func:`smtpdiag.health.evaluate` builds it; the renderers in ``smtpdiag.report``
lay it out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ..model import Outcome, Phase, ProbeReport, TlsMode, Verdict
from ..narrate.health import route_facts as _route_facts
from .thresholds import Thresholds

__all__ = [
    "HealthResult",
    "HealthStatus",
    "PhaseTiming",
    "Problem",
    "ProblemKind",
    "RouteHealth",
    "expected_phases",
    "route_facts",
]


class HealthStatus(StrEnum):
    """The health check's answer, in the monitoring-plugins vocabulary."""

    OK = "ok"
    WARNING = "warning"
    CRITICAL = "critical"
    UNKNOWN = "unknown"  #: the probe could not run; nothing is known about the domain


class ProblemKind(StrEnum):
    """What kind of problem a :class:`Problem` is (stable, for scripts and metrics)."""

    PROBE_FAILED = "probe-failed"  #: the probe could not run (DNS unanswered, error)
    DNS = "dns"  #: the domain's MX lookup failed (SERVFAIL, REFUSED, ...)
    NULL_MX = "null-mx"  #: the domain publishes that it accepts no mail (RFC 7505)
    NO_ROUTE = "no-route"  #: no MX, no address, or nothing left to probe
    MX_TARGET = "mx-target"  #: an MX target without usable addresses, an IP literal, a CNAME
    ROUTE_DOWN = "route-down"  #: a phase failed on a route
    NO_STARTTLS = "no-starttls"  #: STARTTLS not offered where it is required
    TLS_VERSION = "tls-version"  #: negotiated TLS version below the minimum
    CERT_INVALID = "cert-invalid"  #: certificate does not verify or does not name the host
    CERT_EXPIRY = "cert-expiry"  #: few days left on a certificate, or expired
    LATENCY = "latency"  #: a phase took longer than a limit
    NO_IMPLICIT_TLS = "no-implicit-tls"  #: implicit TLS required, no such route works
    #: enforcing senders (MTA-STS enforce, DANE) defer: a TLS policy finding with a code
    TLS_POLICY = "tls-policy"
    MTA_STS = "mta-sts"  #: MTA-STS required (--require-mta-sts), not in effect as required
    DANE = "dane"  #: DANE required (--require-dane), not usable or not matching
    #: the diagnosis' verdict, when no other problem carries its level (e.g. degraded by
    #: a misconfiguration no threshold judges)
    DIAGNOSIS = "diagnosis"


@dataclass(frozen=True, slots=True)
class Problem:
    """One reason the status is not ``ok``.

    Attributes:
        level: ``warning``, ``critical`` or ``unknown``.
        kind: What kind of problem.
        reason: One sanitized line for humans.
        routes: Labels (``mx[address]:port``) of the routes concerned; empty for
            domain-level problems.
        phase: The phase concerned, if any.
        value: The measured value behind a limit (seconds for latency, days for
            certificates), else ``None``.
        limit: The limit that was crossed, in the same unit, else ``None``.
    """

    level: HealthStatus
    kind: ProblemKind
    reason: str
    routes: tuple[str, ...] = ()
    phase: Phase | None = None
    value: float | None = None
    limit: float | None = None


@dataclass(frozen=True, slots=True)
class PhaseTiming:
    """How long one phase of a route took, with the limits it was judged against.

    Attributes:
        phase: Which phase.
        outcome: How it ended; only ``ok`` phases have a meaningful latency.
        duration_ms: Time the phase took as recorded (also for a failure or timeout).
        warn_s: Warning limit in seconds, ``None`` when not judged.
        crit_s: Critical limit in seconds, ``None`` when not judged.
    """

    phase: Phase
    outcome: Outcome
    duration_ms: float
    warn_s: float | None = None
    crit_s: float | None = None

    @property
    def seconds(self) -> float | None:
        """Latency in seconds for an ``ok`` phase; ``None`` when it failed (no fake value)."""
        return self.duration_ms / 1000.0 if self.outcome is Outcome.OK else None


@dataclass(frozen=True, slots=True)
class RouteHealth:
    """One route as the health check saw it.

    Attributes:
        label: ``mx[address]:port`` (``Route.label``).
        mx: MX host name.
        address: IP address.
        port: TCP port.
        tls_mode: STARTTLS or implicit TLS.
        up: The route accepted a session (``RouteResult.ok``).
        healthy: Up and meeting every requirement of the thresholds.
        phases: Phase timings in the order they ran (QUIT included, never judged).
        total_ms: Wall time of the route probe.
        failure: ``"<phase> <outcome>"`` of the failed phase, ``None`` when up.
        tls_version: Negotiated TLS version, ``None`` without a handshake.
        cert_days_left: Days left on the leaf certificate, ``None`` without one.
    """

    label: str
    mx: str
    address: str
    port: int
    tls_mode: TlsMode
    up: bool
    healthy: bool
    phases: tuple[PhaseTiming, ...] = ()
    total_ms: float = 0.0
    failure: str | None = None
    tls_version: str | None = None
    cert_days_left: int | None = None

    @property
    def failed_phase(self) -> PhaseTiming | None:
        """The phase that ended the probe unsuccessfully (QUIT ignored), or ``None``."""
        for t in reversed(self.phases):
            if t.phase is not Phase.QUIT and t.outcome is not Outcome.OK:
                return t
        return None

    def timing(self, phase: Phase) -> PhaseTiming:
        """The timing of ``phase`` (the last one if it ran twice).

        Always a :class:`PhaseTiming`, so ``route.timing(phase).seconds`` is a number
        or ``None`` without a check: a phase that never ran (the route failed before
        it) comes back as ``not-attempted`` with no duration and ``seconds`` ``None``.
        """
        for t in reversed(self.phases):
            if t.phase is phase:
                return t
        return PhaseTiming(phase, Outcome.NOT_ATTEMPTED, 0.0)


@dataclass(frozen=True, slots=True)
class HealthResult:
    """The health check's result for one domain.

    Attributes:
        domain: The domain checked.
        status: ok, warning, critical or unknown.
        summary: One line for humans (and the plugin status line).
        problems: Most severe first; empty when ``ok``.
        routes: Per-route health and timings, in report order.
        verdict: The diagnosis verdict, ``None`` when not diagnosed or not run.
        primary: The diagnosis's leading status code (``"4.4.2"``), if any.
        duration_ms: Wall time of the probe.
        checked_at: ISO 8601 UTC instant the probe started.
        thresholds: The thresholds judged against.
        report: The full probe report behind the result (``None`` when the probe
            raised); every value in every format is taken from it.
    """

    domain: str
    status: HealthStatus
    summary: str
    problems: tuple[Problem, ...] = ()
    routes: tuple[RouteHealth, ...] = ()
    verdict: Verdict | None = None
    primary: str | None = None
    duration_ms: float = 0.0
    checked_at: str = ""
    thresholds: Thresholds = field(default_factory=Thresholds)
    report: ProbeReport | None = field(default=None, compare=False, repr=False)

    @property
    def ok(self) -> bool:
        """True when the status is ``ok``."""
        return self.status is HealthStatus.OK

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able mapping of everything but ``report`` and ``thresholds``."""
        return {
            "domain": self.domain,
            "status": self.status.value,
            "summary": self.summary,
            "problems": [_problem_dict(p) for p in self.problems],
            "routes": [_route_dict(r) for r in self.routes],
            "verdict": None if self.verdict is None else self.verdict.value,
            "primary": self.primary,
            "duration_ms": round(self.duration_ms, 3),
            "checked_at": self.checked_at,
        }


def _problem_dict(p: Problem) -> dict[str, Any]:
    return {
        "level": p.level.value,
        "kind": p.kind.value,
        "reason": p.reason,
        "routes": list(p.routes),
        "phase": None if p.phase is None else p.phase.value,
        "value": p.value,
        "limit": p.limit,
    }


def _route_dict(r: RouteHealth) -> dict[str, Any]:
    return {
        "label": r.label,
        "mx": r.mx,
        "address": r.address,
        "port": r.port,
        "tls_mode": r.tls_mode.value,
        "up": r.up,
        "healthy": r.healthy,
        "failure": r.failure,
        "tls_version": r.tls_version,
        "cert_days_left": r.cert_days_left,
        "total_ms": round(r.total_ms, 3),
        "phases": [
            {
                "phase": t.phase.value,
                "outcome": t.outcome.value,
                "duration_ms": round(t.duration_ms, 3),
                "warn_s": t.warn_s,
                "crit_s": t.crit_s,
            }
            for t in r.phases
        ],
    }


def route_facts(route: RouteHealth) -> list[str]:
    """What the renderers say about a route after its state: failure, TLS, certificate."""
    return _route_facts(route.failure, route.tls_version, route.cert_days_left)


def expected_phases(tls_mode: TlsMode) -> tuple[Phase, ...]:
    """The phases a fully successful probe of a route runs, in order (QUIT excluded).

    Monitoring formats emit a value for each of them on every route, also when a phase
    did not run, so that a graph's series never vanish (the value is then unknown).
    """
    if tls_mode is TlsMode.IMPLICIT:
        # RFC 8314 3.3: the TLS handshake comes first, the 220 greeting inside TLS.
        return (Phase.CONNECT, Phase.TLS_HANDSHAKE, Phase.GREETING, Phase.EHLO)
    # RFC 3207 4 and 4.2: greeting, EHLO, STARTTLS, handshake, EHLO again.
    return (
        Phase.CONNECT,
        Phase.GREETING,
        Phase.EHLO,
        Phase.STARTTLS,
        Phase.TLS_HANDSHAKE,
        Phase.EHLO_TLS,
    )
