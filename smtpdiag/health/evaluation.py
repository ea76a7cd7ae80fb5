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
    The diagnosis says failed or no-mail (its verdict is read, never derived again); or
    ``require_all_mx`` and some route is unhealthy; or a latency or certificate-lifetime
    limit's critical level is crossed; or implicit TLS is required and no implicit-TLS
    route works; or a required policy (``--require-mta-sts``, ``--require-dane``) is not
    in effect.
``warning``
    The diagnosis says degraded (at least), some route is unhealthy while the domain
    delivers, or a warning limit is crossed.
``ok``
    None of the above.

Health is a policy over the diagnosis plus measurements (``policy.py``): what the rules
found (could not run, null MX, DNS failure, MX targets, STARTTLS not offered, a
certificate that does not verify) is read from the diagnosis by rule id; only
measurements are judged here (latency, certificate days left, TLS version, how many
routes are up). Routes never attempted (deadline, address policy) are not judged.

A route is *healthy* when it is up (``RouteResult.ok``), no finding of the diagnosis
names a fault on it (:data:`~.policy.ROUTE_FAULTS`: a certificate that does not verify,
no STARTTLS) and it meets every requirement: STARTTLS offered and completed on STARTTLS
ports (``require_starttls``), a TLS version at least ``min_tls_version``. Latency and
certificate lifetime give their own levels and do not change whether a route is healthy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from ..model import (
    DaneState,
    Diagnosis,
    Finding,
    Outcome,
    Phase,
    ProbeReport,
    RouteResult,
    RuleId,
    StsMode,
    StsStatus,
    TlsMode,
    Verdict,
)
from ..narrate import health as words
from ..timefmt import utc_iso
from .policy import (
    RANK,
    REQUIREMENT_LEVEL,
    ROUTE_FAULTS,
    RULE_PROBLEMS,
    VERDICT_LEVEL,
    Level,
    worst,
)
from .result import (
    HealthResult,
    HealthStatus,
    PhaseTiming,
    Problem,
    ProblemKind,
    RouteHealth,
    expected_phases,
    route_facts,
)
from .thresholds import DAYS_ROWS, Thresholds, tls_version_rank

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


def _flagged(findings: Iterable[Finding]) -> dict[RuleId, frozenset[str]]:
    """Route labels each route-level finding is about (from its typed payload)."""
    return {f.rule: frozenset(f.payload.routes) for f in findings}


_Flagged = Mapping[RuleId, frozenset[str]]


def _faulted(rr: RouteResult, flagged: _Flagged, kind: ProblemKind) -> bool:
    """The diagnosis names this route in a finding that gives ``kind`` (ROUTE_FAULTS)."""
    return any(
        rr.route.label in flagged.get(rule, frozenset())
        for rule, k in ROUTE_FAULTS.items()
        if k is kind
    )


def _no_starttls(rr: RouteResult, th: Thresholds, flagged: _Flagged) -> bool:
    return (
        th.require_starttls
        and rr.route.tls_mode is TlsMode.STARTTLS
        and _faulted(rr, flagged, ProblemKind.NO_STARTTLS)
    )


def _tls_too_old(rr: RouteResult, th: Thresholds, flagged: _Flagged) -> bool:
    if th.min_tls_version is None or rr.tls is None or rr.tls.version is None:
        return False
    have = tls_version_rank(rr.tls.version)
    want = tls_version_rank(th.min_tls_version)
    return have is None or (want is not None and have < want)


def _cert_invalid(rr: RouteResult, th: Thresholds, flagged: _Flagged) -> bool:
    # Always: a route whose certificate does not verify is not healthy (the diagnosis
    # calls the domain degraded); --require-valid-cert makes it critical (_route_level).
    return _faulted(rr, flagged, ProblemKind.CERT_INVALID)


# The requirements an up route must meet to count as healthy, one row each: the problem
# it gives, whether the route fails it, and the reason's narrator.
_REQUIREMENTS: tuple[
    tuple[
        ProblemKind,
        Callable[[RouteResult, Thresholds, _Flagged], bool],
        Callable[[RouteResult, Thresholds], str],
    ],
    ...,
] = (
    (ProblemKind.NO_STARTTLS, _no_starttls, lambda rr, th: words.no_starttls_reason(rr)),
    (
        ProblemKind.TLS_VERSION,
        _tls_too_old,
        lambda rr, th: words.tls_version_reason(rr, th.min_tls_version or ""),
    ),
    (ProblemKind.CERT_INVALID, _cert_invalid, lambda rr, th: words.cert_invalid_reason(rr)),
)


def _requirement_failures(
    rr: RouteResult, th: Thresholds, flagged: _Flagged
) -> list[tuple[ProblemKind, str]]:
    """Why an up route does not meet the requirements (empty when it does)."""
    return [
        (kind, reason(rr, th)) for kind, fails, reason in _REQUIREMENTS if fails(rr, th, flagged)
    ]


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
                reason = words.latency_reason(rr, rec.phase.value, seconds, bound)
                out.append(
                    Problem(
                        level,
                        ProblemKind.LATENCY,
                        reason,
                        routes=(rr.route.label,),
                        phase=rec.phase,
                        value=round(seconds, 6),
                        limit=bound,
                    )
                )
                break
    return out


def _cert_level(days: int, th: Thresholds) -> tuple[HealthStatus, int] | None:
    """The level of ``days`` left: expired is critical, else the first row crossed."""
    if days < 0:
        return HealthStatus.CRITICAL, 0
    for row in DAYS_ROWS:
        bound = th.days(row)
        if bound is not None and days < bound:
            return (HealthStatus.CRITICAL if row.critical else HealthStatus.WARNING), bound
    return None


def _cert_problems(
    routes: Iterable[RouteResult], th: Thresholds, invalid: frozenset[str] = frozenset()
) -> list[Problem]:
    # One certificate is usually served on several ports and addresses: one problem per
    # certificate (by fingerprint), naming every route that served it.
    if all(th.days(row) is None for row in DAYS_ROWS):
        return []  # certificate lifetime is not judged at all
    by_cert: dict[str, tuple[int, str, list[str]]] = {}
    for rr in routes:
        if rr.route.label in invalid:
            # Its certificate does not verify: the route's cert-invalid problem (at the
            # level the verdict gives) says so, expired or not; not judged twice.
            continue
        cert = rr.tls.certificate if rr.tls is not None else None
        if cert is not None:
            by_cert.setdefault(cert.sha256, (cert.days_left, rr.route.mx, []))[2].append(
                rr.route.label
            )
    out: list[Problem] = []
    for days, mx, labels in by_cert.values():
        judged = _cert_level(days, th)
        if judged is None:
            continue
        level, bound = judged
        out.append(
            Problem(
                level,
                ProblemKind.CERT_EXPIRY,
                words.cert_expiry_reason(labels, mx, days, bound),
                routes=tuple(labels),
                value=float(days),
                limit=float(bound),
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
        failure=words.route_failure_text(rr),
        tls_version=tls.version if tls is not None else None,
        cert_days_left=(tls.certificate.days_left if tls is not None and tls.certificate else None),
    )


def _attempted(report: ProbeReport) -> list[RouteResult]:
    """Routes the probe tried (a route not attempted is judged neither way)."""
    return [
        rr
        for rr in report.routes
        if not (rr.failure is not None and rr.failure.outcome is Outcome.NOT_ATTEMPTED)
    ]


def _rule_problems(
    report: ProbeReport, findings: Iterable[Finding], route_level: HealthStatus
) -> list[Problem]:
    """One problem per policy row the diagnosis fired (per MX host for MX targets)."""
    out: list[Problem] = []
    hosts = {h.name: h for h in report.resolution.hosts}
    for f in findings:
        row = RULE_PROBLEMS.get(f.rule)
        if row is None or f.rule is RuleId.COULD_NOT_RUN:
            continue
        kind, level = row
        status = route_level if level is Level.ROUTE else HealthStatus(level.value)
        if kind is ProblemKind.TLS_POLICY:
            if f.code is not None:  # no code: nobody defers (MTA-STS testing mode)
                out.append(
                    Problem(status, kind, words.tls_policy_reason(f), routes=f.payload.routes)
                )
        elif kind is ProblemKind.MX_TARGET:
            names = f.payload.hosts or tuple(dict.fromkeys(e.mx for e in f.evidence if e.mx))
            for name in names:
                if name in hosts:
                    reason = words.mx_target_reason(
                        hosts[name], not_global=f.rule is RuleId.MX_NOT_GLOBAL
                    )
                    out.append(Problem(status, kind, reason))
        else:
            out.append(Problem(status, kind, words.domain_reason(report, kind.value)))
    return out


#: MTA-STS modes by strength: a required mode is met by it or a stronger one.
_MODE_RANK = {StsMode.NONE: 0, StsMode.TESTING: 1, StsMode.ENFORCE: 2}


def _requirement(kind: ProblemKind, reason: str, routes: tuple[str, ...] = ()) -> Problem:
    return Problem(HealthStatus(REQUIREMENT_LEVEL[kind].value), kind, reason, routes=routes)


def _mta_sts_problems(report: ProbeReport, required: StsMode) -> list[Problem]:
    """``--require-mta-sts``: a valid policy of at least ``required`` covering every MX."""
    kind = ProblemKind.MTA_STS
    p = report.policy
    if p is None:
        return [_requirement(kind, words.policy_not_checked_reason("MTA-STS"))]
    sts = p.mta_sts
    if sts.status is not StsStatus.VALID:
        return [_requirement(kind, words.mta_sts_status_reason(report.domain, sts.status))]
    mode = sts.mode or StsMode.NONE
    out = []
    if _MODE_RANK[mode] < _MODE_RANK[required]:
        out.append(_requirement(kind, words.mta_sts_mode_reason(report.domain, mode, required)))
    uncovered = tuple(m.mx for m in sts.matches if m.pattern is None)
    if uncovered:
        out.append(_requirement(kind, words.mta_sts_uncovered_reason(uncovered)))
    return out


def _dane_problems(report: ProbeReport, delivery_port: int | None) -> list[Problem]:
    """``--require-dane``: usable TLSA for every MX host, and every chain matches."""
    kind = ProblemKind.DANE
    p = report.policy
    if p is None:
        return [_requirement(kind, words.policy_not_checked_reason("DANE"))]
    out = []
    looked = {t.mx.lower(): t for t in p.dane}
    for h in report.resolution.hosts:
        t = looked.get(h.name.lower())
        state = t.state if t is not None else DaneState.UNKNOWN
        if state is not DaneState.USABLE:
            out.append(_requirement(kind, words.dane_state_reason(h.name, state)))
    bad = tuple(
        rr.route.label
        for rr in report.routes
        if rr.route.port == delivery_port
        and rr.tls is not None
        and rr.tls.dane is not None
        and not rr.tls.dane.matched
    )
    if bad:
        out.append(_requirement(kind, words.dane_mismatch_reason(bad), routes=bad))
    return out


def _judge_routes(
    routes: Iterable[RouteResult],
    attempted: list[RouteResult],
    th: Thresholds,
    findings: Iterable[Finding],
    verdict: Verdict,
) -> tuple[list[RouteHealth], list[Problem], HealthStatus]:
    """Per-route health, the routes' problems and the level a route problem has (it
    depends on how many routes are healthy)."""
    flagged = _flagged(findings)
    unhealthy: list[tuple[RouteResult, list[tuple[ProblemKind, str]]]] = []
    route_health: list[RouteHealth] = []
    tried = {id(rr) for rr in attempted}
    for rr in routes:
        if id(rr) not in tried:
            # Listed (so a monitoring series never vanishes), never judged: a route not
            # attempted is no evidence either way (the diagnosis says why it was skipped).
            route_health.append(_route_health(rr, th, healthy=False))
            continue
        reasons = (
            [(ProblemKind.ROUTE_DOWN, words.failure_reason(rr))]
            if not rr.ok
            else _requirement_failures(rr, th, flagged)
        )
        if reasons:
            unhealthy.append((rr, reasons))
        route_health.append(_route_health(rr, th, healthy=not reasons))
    n_healthy = sum(r.healthy for r in route_health)
    n_up = sum(rr.ok for rr in attempted)
    # The decision says whether mail gets through; a route problem is critical only when
    # it does not (failed), when every MX is required, or when the operator's own
    # certificate requirement leaves no healthy route. Otherwise it is a warning: the
    # domain delivers (degraded), as the diagnosis says.
    critical = (
        verdict in (Verdict.FAILED, Verdict.NO_MAIL)
        or th.require_all_mx
        or n_up == 0
        or (n_healthy == 0 and th.require_valid_cert)
    )
    level = HealthStatus.CRITICAL if critical else HealthStatus.WARNING
    problems = []
    for rr, reasons in unhealthy:
        failed = rr.failure
        phase = failed.phase if failed is not None and not rr.ok else None
        problems += [
            Problem(level, kind, reason, (rr.route.label,), phase) for kind, reason in reasons
        ]
    return route_health, problems, level


def _implicit_tls_problems(route_health: list[RouteHealth]) -> list[Problem]:
    implicit = [rh for rh in route_health if rh.tls_mode is TlsMode.IMPLICIT]
    if any(rh.healthy for rh in implicit):
        return []
    return [
        Problem(
            HealthStatus.CRITICAL,
            ProblemKind.NO_IMPLICIT_TLS,
            words.implicit_tls_reason(len(implicit)),
            routes=tuple(rh.label for rh in implicit),
        )
    ]


def _summary(
    domain: str, routes: list[RouteHealth], problems: list[Problem], primary: str | None
) -> str:
    greet = [t.seconds for r in routes for t in r.phases if t.phase is Phase.GREETING and t.seconds]
    days = [r.cert_days_left for r in routes if r.cert_days_left is not None]
    return words.summary_line(
        domain,
        sum(r.healthy for r in routes),
        sum(r.up for r in routes),
        len(routes),
        problems[0].reason if problems else None,
        len(problems) - 1,
        max(greet) if greet else None,
        min(days) if days else None,
        primary,
    )


def _threshold_problems(
    report: ProbeReport,
    th: Thresholds,
    attempted: Sequence[RouteResult],
    route_health: list[RouteHealth],
    earlier: Sequence[Problem],
) -> list[Problem]:
    """What the thresholds' requirements and limits find (implicit TLS, latency,
    certificates, MTA-STS, DANE), given the problems found so far."""
    problems: list[Problem] = []
    if th.require_implicit_tls and attempted:
        problems.extend(_implicit_tls_problems(route_health))
    for rr in attempted:
        problems.extend(_latency_problems(rr, th))
    invalid = frozenset(
        label
        for p in (*earlier, *problems)
        if p.kind is ProblemKind.CERT_INVALID
        for label in p.routes
    )
    problems.extend(_cert_problems(attempted, th, invalid))
    if th.require_mta_sts is not None and report.resolution.hosts:
        problems.extend(_mta_sts_problems(report, th.require_mta_sts))
    if th.require_dane and report.resolution.hosts:
        from ..diagnosis.facts import delivery_port_of

        problems.extend(_dane_problems(report, delivery_port_of(report)))
    return problems


def _verdict_floor(diag: Diagnosis, problems: Sequence[Problem]) -> list[Problem]:
    """The verdict's level, when no judged problem carries it (a degraded domain is
    never OK, a failed one never less than critical)."""
    floor = VERDICT_LEVEL[diag.verdict]
    if floor in RANK and RANK[floor] > RANK[worst([p.level for p in problems])]:
        lead = next((f for f in diag.findings if f.rule is not RuleId.HEALTHY), None)
        return [Problem(floor, ProblemKind.DIAGNOSIS, words.diagnosis_reason(diag.verdict, lead))]
    return []


def evaluate(report: ProbeReport, thresholds: Thresholds | None = None) -> HealthResult:
    """Judge ``report`` against ``thresholds`` (default :class:`Thresholds`). Pure.

    Args:
        report: A probe report (diagnosed here when it was not).
        thresholds: Limits and requirements.

    Returns:
        The health result; ``result.report`` is ``report``.
    """
    from ..narrate.narrator import diagnose

    th = thresholds or Thresholds()
    diag = report.diagnosis or diagnose(report)
    common: dict[str, Any] = {
        "verdict": diag.verdict,
        "primary": diag.primary,
        "duration_ms": report.duration_ms,
        "checked_at": report.started_at,
        "thresholds": th,
        "report": report,
    }
    if any(f.rule is RuleId.COULD_NOT_RUN for f in diag.findings):
        reason, summary = words.could_not_run_reason(report)
        problem = Problem(HealthStatus.UNKNOWN, ProblemKind.PROBE_FAILED, reason)
        return HealthResult(
            report.domain, HealthStatus.UNKNOWN, summary, problems=(problem,), **common
        )

    attempted = _attempted(report)
    route_health, route_problems, route_level = _judge_routes(
        report.routes, attempted, th, diag.findings, diag.verdict
    )
    problems = _rule_problems(report, diag.findings, route_level) + route_problems
    if report.resolution.kind.value in ("mx", "implicit") and not attempted:
        problems.append(
            Problem(HealthStatus.CRITICAL, ProblemKind.NO_ROUTE, words.no_route_reason(report))
        )
    problems.extend(_threshold_problems(report, th, attempted, route_health, problems))
    problems.extend(_verdict_floor(diag, problems))
    # Most severe first; the sort is stable, so report order is kept within a level.
    problems.sort(key=lambda p: -RANK.get(p.level, 3))
    return HealthResult(
        report.domain,
        worst([p.level for p in problems]),
        _summary(report.domain, route_health, problems, diag.primary),
        problems=tuple(problems),
        routes=tuple(route_health),
        **common,
    )


def unknown_result(domain: str, reason: str, thresholds: Thresholds | None = None) -> HealthResult:
    """The result for a probe that raised before producing a report (status ``unknown``)."""
    from ..textsafe import clean

    text = clean(reason, 200) or "probe failed"
    name = clean(domain, 253)
    return HealthResult(
        name,
        HealthStatus.UNKNOWN,
        words.unknown_summary(name, text),
        problems=(Problem(HealthStatus.UNKNOWN, ProblemKind.PROBE_FAILED, text),),
        checked_at=utc_iso(),
        thresholds=thresholds or Thresholds(),
    )
