"""Judge a :class:`~smtpdiag.model.ProbeReport` against :class:`Thresholds` (pure).

The result is small and typed (:class:`HealthResult`): a status, one summary line, the
problems found (each naming its routes and a reason), and per-route, per-phase timings.
It is what a health endpoint returns and what the monitoring formats render.

How the status is decided (see also ``docs/health.md``):

``unknown``
    The probe could not run: no nameserver answered the MX query at all (timeout or
    local error), so nothing is known about the domain (``api.could_not_run``), or the
    probe raised (:func:`unknown_result`). SERVFAIL or REFUSED *are* answers: the
    domain's DNS is broken, which is critical.
``critical``
    No mail can be delivered under the requirements: null MX (RFC 7505), no route at
    all, the domain's DNS fails, no healthy route; or ``require_all_mx`` and some route
    is unhealthy; or a latency or certificate limit's critical level is crossed; or
    implicit TLS is required and no implicit-TLS route works.
``warning``
    Mail is deliverable, but some route is unhealthy, a warning limit is crossed, or an
    MX target is an alias (RFC 5321 5.1).
``ok``
    None of the above.

A route is *healthy* when it is up (``RouteResult.ok``) and meets every requirement:
STARTTLS offered and completed on STARTTLS ports (``require_starttls``), a TLS version
at least ``min_tls_version``, a valid certificate (``require_valid_cert``). Latency and
certificate lifetime give their own levels and do not change whether a route is healthy.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ..model import (
    DnsOutcome,
    MxTargetKind,
    Outcome,
    Phase,
    ProbeReport,
    ResolutionKind,
    RouteResult,
    TlsMode,
    Verdict,
)
from ..textsafe import clean
from ..timefmt import utc_iso
from ..wording import days_left, plural
from .thresholds import Thresholds, tls_version_rank

__all__ = [
    "HealthResult",
    "HealthStatus",
    "PhaseTiming",
    "Problem",
    "ProblemKind",
    "RouteHealth",
    "evaluate",
    "expected_phases",
    "route_facts",
    "unknown_result",
]


class HealthStatus(StrEnum):
    """The health check's answer, in the monitoring-plugins vocabulary."""

    OK = "ok"
    WARNING = "warning"
    CRITICAL = "critical"
    UNKNOWN = "unknown"  #: the probe could not run; nothing is known about the domain


# Severity order for "the worst of": unknown is not worse than critical here, because a
# report is only unknown as a whole (then it has no other problems).
_RANK = {HealthStatus.OK: 0, HealthStatus.WARNING: 1, HealthStatus.CRITICAL: 2}


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
    facts = [route.failure] if route.failure else []
    if route.tls_version:
        facts.append(route.tls_version)
    if route.cert_days_left is not None:
        facts.append(f"certificate {days_left(route.cert_days_left)}")
    return facts


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


# Outcomes that mean no nameserver answered (SERVFAIL and REFUSED are answers).
_UNANSWERED = (DnsOutcome.TIMEOUT, DnsOutcome.ERROR)


def _fmt_s(seconds: float) -> str:
    ms = seconds * 1000.0
    if ms < 10.0:
        return f"{ms:.1f} ms"
    if seconds < 1.0:
        return f"{ms:.0f} ms"
    return f"{seconds:.2f} s"


def _route_failure_text(rr: RouteResult) -> str | None:
    rec = rr.failure
    if rec is None:
        return None if rr.ok else "failed"
    return f"{rec.phase.value} {rec.outcome.value}"


def _failure_reason(rr: RouteResult) -> str:
    rec = rr.failure
    label = rr.route.label
    if rec is None:
        return f"{label}: route failed"
    parts = [f"{label}: {rec.phase.value} {rec.outcome.value}"]
    if rec.outcome is Outcome.TIMEOUT:
        parts.append(f"after {_fmt_s(rec.duration_ms / 1000.0)}")
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


def _requirement_failures(rr: RouteResult, th: Thresholds) -> list[tuple[ProblemKind, str]]:
    """Why an up route does not meet the requirements (empty when it does)."""
    out: list[tuple[ProblemKind, str]] = []
    label = rr.route.label
    if th.require_starttls and rr.route.tls_mode is TlsMode.STARTTLS:
        if rr.starttls_offered is False:
            out.append((ProblemKind.NO_STARTTLS, f"{label}: STARTTLS not offered (RFC 3207)"))
        elif rr.tls is None or rr.tls.version is None:
            out.append((ProblemKind.NO_STARTTLS, f"{label}: no TLS session after STARTTLS"))
    if th.min_tls_version is not None and rr.tls is not None and rr.tls.version is not None:
        have = tls_version_rank(rr.tls.version)
        want = tls_version_rank(th.min_tls_version)
        if have is None or (want is not None and have < want):
            out.append(
                (
                    ProblemKind.TLS_VERSION,
                    f"{label}: negotiated {clean(rr.tls.version, 20)}, "
                    f"below the minimum {th.min_tls_version}",
                )
            )
    if th.require_valid_cert and rr.tls is not None and rr.tls.version is not None:
        if not rr.tls.verified:
            why = clean(rr.tls.verify_error, 120) or "does not verify"
            out.append((ProblemKind.CERT_INVALID, f"{label}: certificate invalid ({why})"))
        elif rr.tls.hostname_match is False:
            out.append(
                (
                    ProblemKind.CERT_INVALID,
                    f"{label}: certificate does not name {rr.route.mx} (RFC 6125)",
                )
            )
    return out


def _latency_problems(rr: RouteResult, th: Thresholds) -> list[Problem]:
    out: list[Problem] = []
    for rec in rr.phases:
        limit = th.limit(rec.phase)
        if limit is None or rec.outcome is not Outcome.OK:
            continue
        seconds = rec.duration_ms / 1000.0
        for level, bound in (
            (HealthStatus.CRITICAL, limit.crit),
            (HealthStatus.WARNING, limit.warn),
        ):
            if bound is not None and seconds > bound:
                out.append(
                    Problem(
                        level,
                        ProblemKind.LATENCY,
                        f"{rr.route.label}: {rec.phase.value} took {_fmt_s(seconds)} "
                        f"(> {bound:g} s)",
                        routes=(rr.route.label,),
                        phase=rec.phase,
                        value=round(seconds, 6),
                        limit=bound,
                    )
                )
                break
    return out


def _cert_problems(routes: Iterable[RouteResult], th: Thresholds) -> list[Problem]:
    # One certificate is usually served on several ports and addresses: one problem per
    # certificate (by fingerprint), naming every route that served it.
    by_cert: dict[str, tuple[int, str, list[str]]] = {}
    for rr in routes:
        cert = rr.tls.certificate if rr.tls is not None else None
        if cert is None:
            continue
        entry = by_cert.setdefault(cert.sha256, (cert.days_left, rr.route.mx, []))
        entry[2].append(rr.route.label)
    out: list[Problem] = []
    for days, mx, labels in by_cert.values():
        level: HealthStatus | None = None
        bound: int | None = None
        if th.cert_warn_days is None and th.cert_crit_days is None:
            continue  # certificate lifetime is not judged at all
        if days < 0:
            level, bound = HealthStatus.CRITICAL, 0
        elif th.cert_crit_days is not None and days < th.cert_crit_days:
            level, bound = HealthStatus.CRITICAL, th.cert_crit_days
        elif th.cert_warn_days is not None and days < th.cert_warn_days:
            level, bound = HealthStatus.WARNING, th.cert_warn_days
        if level is None:
            continue
        what = (
            f"expired {plural(-days, 'day')} ago"
            if days < 0
            else f"expires in {plural(days, 'day')} (limit {plural(bound or 0, 'day')})"
        )
        rest = len(labels) - 1
        more = f" (+{rest} more route{'' if rest == 1 else 's'})" if rest else ""
        out.append(
            Problem(
                level,
                ProblemKind.CERT_EXPIRY,
                f"{labels[0]}{more}: certificate of {mx} {what}",
                routes=tuple(labels),
                value=float(days),
                limit=float(bound) if bound is not None else None,
            )
        )
    return out


def _route_health(rr: RouteResult, th: Thresholds, healthy: bool) -> RouteHealth:
    timings = []
    for rec in rr.phases:
        limit = th.limit(rec.phase)
        timings.append(
            PhaseTiming(
                rec.phase,
                rec.outcome,
                rec.duration_ms,
                warn_s=None if limit is None else limit.warn,
                crit_s=None if limit is None else limit.crit,
            )
        )
    tls = rr.tls
    return RouteHealth(
        label=rr.route.label,
        mx=rr.route.mx,
        address=rr.route.address,
        port=rr.route.port,
        tls_mode=rr.route.tls_mode,
        up=rr.ok,
        healthy=healthy,
        phases=tuple(timings),
        total_ms=rr.total_ms,
        failure=_route_failure_text(rr),
        tls_version=tls.version if tls is not None else None,
        cert_days_left=(tls.certificate.days_left if tls is not None and tls.certificate else None),
    )


def _domain_problems(report: ProbeReport) -> list[Problem]:
    """Problems visible in the DNS stage alone (the probe ran)."""
    res = report.resolution
    name = report.domain
    if res.kind is ResolutionKind.NULL_MX:
        kind = ProblemKind.NULL_MX
        reason = f"{name} publishes a null MX (RFC 7505): it accepts no mail"
    elif res.kind is ResolutionKind.NONE:
        kind = ProblemKind.NO_ROUTE
        reason = f"{name} has no MX and no address record: no route (RFC 5321 5.1)"
    elif res.kind is ResolutionKind.FAILED:
        detail = clean(res.mx_query.detail, 120)
        kind = ProblemKind.DNS
        reason = f"MX lookup of {name} failed: {res.mx_query.outcome.value}" + (
            f" ({detail})" if detail else ""
        )
    else:
        return []
    return [Problem(HealthStatus.CRITICAL, kind, reason)]


def _worst(problems: Iterable[Problem]) -> HealthStatus:
    status = HealthStatus.OK
    for p in problems:
        if p.level is HealthStatus.UNKNOWN:
            return HealthStatus.UNKNOWN
        if _RANK[p.level] > _RANK[status]:
            status = p.level
    return status


def _summary_line(
    domain: str, routes: list[RouteHealth], problems: list[Problem], primary: str | None
) -> str:
    parts: list[str] = []
    if routes:
        parts.append(f"{sum(r.healthy for r in routes)}/{len(routes)} routes healthy")
    if problems:
        first = problems[0].reason
        more = len(problems) - 1
        parts.append(first + (f" (+{more} more)" if more else ""))
    else:
        greet = [
            t.seconds
            for r in routes
            for t in r.phases
            if t.phase is Phase.GREETING and t.seconds is not None
        ]
        if greet:
            parts.append(f"greeting max {_fmt_s(max(greet))}")
        days = [r.cert_days_left for r in routes if r.cert_days_left is not None]
        if days:
            parts.append(f"certificate {days_left(min(days))}")
    line = f"{domain}: " + "; ".join(parts) if parts else domain
    if primary:
        line += f" [diagnosis {primary}]"
    return clean(line, 300)


def evaluate(report: ProbeReport, thresholds: Thresholds | None = None) -> HealthResult:
    """Judge ``report`` against ``thresholds`` (default :class:`Thresholds`). Pure.

    Args:
        report: A probe report (with or without diagnosis).
        thresholds: Limits and requirements.

    Returns:
        The health result; ``result.report`` is ``report``.
    """
    th = thresholds or Thresholds()
    diag = report.diagnosis
    verdict = diag.verdict if diag is not None else None
    primary = diag.primary if diag is not None else None
    common: dict[str, Any] = {
        "verdict": verdict,
        "primary": primary,
        "duration_ms": report.duration_ms,
        "checked_at": report.started_at,
        "thresholds": th,
        "report": report,
    }

    if report.could_not_run:
        q = report.resolution.mx_query
        detail = clean(q.detail, 160)
        reason = f"MX lookup of {report.domain}: {q.outcome.value}" + (
            f" ({detail})" if detail else " (no nameserver answered)"
        )
        problem = Problem(HealthStatus.UNKNOWN, ProblemKind.PROBE_FAILED, reason)
        return HealthResult(
            report.domain,
            HealthStatus.UNKNOWN,
            clean(f"{report.domain}: probe could not run: {reason}", 300),
            problems=(problem,),
            **common,
        )

    problems = _domain_problems(report)

    # Route health first: the level of a route problem depends on how many are healthy.
    unhealthy: list[tuple[RouteResult, list[tuple[ProblemKind, str]]]] = []
    route_health: list[RouteHealth] = []
    for rr in report.routes:
        reasons: list[tuple[ProblemKind, str]]
        if not rr.ok:
            reasons = [(ProblemKind.ROUTE_DOWN, _failure_reason(rr))]
        else:
            reasons = _requirement_failures(rr, th)
        if reasons:
            unhealthy.append((rr, reasons))
        route_health.append(_route_health(rr, th, healthy=not reasons))
    n_healthy = sum(r.healthy for r in route_health)
    route_level = (
        HealthStatus.CRITICAL if th.require_all_mx or n_healthy == 0 else HealthStatus.WARNING
    )
    for rr, reasons in unhealthy:
        failed = rr.failure
        for kind, reason in reasons:
            problems.append(
                Problem(
                    route_level,
                    kind,
                    reason,
                    routes=(rr.route.label,),
                    phase=failed.phase if failed is not None and not rr.ok else None,
                )
            )

    # MX targets that produced no route (or an alias) are problems of the DNS setup.
    if report.resolution.kind in (ResolutionKind.MX, ResolutionKind.IMPLICIT):
        lookup_failed = 0
        for host in report.resolution.hosts:
            if host.kind is MxTargetKind.CNAME:
                problems.append(
                    Problem(
                        HealthStatus.WARNING,
                        ProblemKind.MX_TARGET,
                        f"MX target {host.name} is an alias (CNAME; RFC 5321 5.1, RFC 2181 10.3)",
                    )
                )
            elif host.kind in (
                MxTargetKind.NO_ADDRESS,
                MxTargetKind.IP_LITERAL,
                MxTargetKind.LOOKUP_FAILED,
            ):
                # Unanswered (not SERVFAIL/REFUSED, which are answers): nothing is known.
                lookup_failed += host.kind is MxTargetKind.LOOKUP_FAILED and all(
                    q.outcome in _UNANSWERED for q in host.queries if q.outcome is not DnsOutcome.OK
                )
                what = {
                    MxTargetKind.NO_ADDRESS: "has no address record",
                    MxTargetKind.IP_LITERAL: "is an IP literal, not a host name (RFC 5321 5.1)",
                    MxTargetKind.LOOKUP_FAILED: "could not be resolved (address lookup failed)",
                }[host.kind]
                problems.append(
                    Problem(route_level, ProblemKind.MX_TARGET, f"MX target {host.name} {what}")
                )
        if not report.routes:
            if lookup_failed and lookup_failed == len(report.resolution.hosts):
                # No address lookup was answered: as with the MX query, nothing is known.
                reason = f"{report.domain}: no nameserver answered for any MX target"
                return HealthResult(
                    report.domain,
                    HealthStatus.UNKNOWN,
                    clean(f"{reason}: probe could not run", 300),
                    problems=(Problem(HealthStatus.UNKNOWN, ProblemKind.PROBE_FAILED, reason),),
                    **common,
                )
            problems.append(
                Problem(
                    HealthStatus.CRITICAL,
                    ProblemKind.NO_ROUTE,
                    f"{report.domain}: no route to probe (no usable MX address"
                    f" for ports {', '.join(map(str, report.ports))})",
                )
            )

    if th.require_implicit_tls and report.routes:
        implicit = [rh for rh in route_health if rh.tls_mode is TlsMode.IMPLICIT]
        if not any(rh.healthy for rh in implicit):
            why = (
                "no implicit-TLS port was probed"
                if not implicit
                else f"none of {len(implicit)} implicit-TLS routes works"
            )
            problems.append(
                Problem(
                    HealthStatus.CRITICAL,
                    ProblemKind.NO_IMPLICIT_TLS,
                    f"implicit TLS required (RFC 8314 3.3): {why}",
                    routes=tuple(rh.label for rh in implicit),
                )
            )

    for rr in report.routes:
        problems.extend(_latency_problems(rr, th))
    problems.extend(_cert_problems(report.routes, th))

    # Most severe first; the sort is stable, so report order is kept within a level.
    problems.sort(key=lambda p: -_RANK.get(p.level, 3))
    status = _worst(problems)
    return HealthResult(
        report.domain,
        status,
        _summary_line(report.domain, route_health, problems, primary),
        problems=tuple(problems),
        routes=tuple(route_health),
        **common,
    )


def unknown_result(domain: str, reason: str, thresholds: Thresholds | None = None) -> HealthResult:
    """The result for a probe that raised before producing a report (status ``unknown``)."""
    text = clean(reason, 200) or "probe failed"
    name = clean(domain, 253)
    return HealthResult(
        name,
        HealthStatus.UNKNOWN,
        clean(f"{name}: probe could not run: {text}", 300),
        problems=(Problem(HealthStatus.UNKNOWN, ProblemKind.PROBE_FAILED, text),),
        checked_at=utc_iso(),
        thresholds=thresholds or Thresholds(),
    )
