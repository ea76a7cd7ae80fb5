"""``smtpdiag tlsrpt --probe``: probe each reported failure's domain now, once, and
say per route and result type whether the probe reproduces what the reports say.

The probe is the public pipeline (:func:`smtpdiag.api.probe`), imported when
:func:`check_tls_reports` runs: reading and counting reports stays light. One probe per
policy domain covers every route of that domain, so each route is probed once
however many reports and organizations name it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..model import AddressFamily, Outcome, Phase, SkipReason
from ..narrate.tlsrpt import check_summary
from .model import CheckStatus, FailureGroup, NotTestable, TlsRouteCheck
from .parse import KNOWN_RESULT_TYPES

if TYPE_CHECKING:
    from ..config import ProbeConfig
    from ..model import Finding, ProbeReport, RouteResult

__all__ = ["DOMAIN_RESULTS", "MAX_DOMAINS", "check_tls_reports", "check_tls_reports_sync"]

#: At most this many policy domains are probed in one run (others: ``limit``).
MAX_DOMAINS = 100
#: Result types about the domain's policy, not about one MX route (RFC 8460 4.3.2.2).
DOMAIN_RESULTS = frozenset({"sts-policy-fetch-error", "sts-policy-invalid", "sts-webpki-invalid"})
#: Phases after which a route's TLS was judged (or found absent): the route was tested.
_TESTED = frozenset({Phase.EHLO, Phase.HELO, Phase.STARTTLS, Phase.TLS_HANDSHAKE, Phase.EHLO_TLS})

_Key = tuple[str, str | None, str | None, str]  # domain, host, ip, result


@dataclass(frozen=True, slots=True)
class _Verdict:
    status: CheckStatus
    why: NotTestable | None = None
    seen: tuple[str, ...] = ()
    routes: tuple[str, ...] = ()
    finding: Finding | None = None


def _merge(groups: Iterable[FailureGroup]) -> dict[_Key, int]:
    """Failed sessions per domain, route and result, over every organization."""
    merged: dict[_Key, int] = {}
    for g in groups:
        key = (g.policy_domain, g.receiving_mx_hostname, g.receiving_ip, g.result_type)
        merged[key] = merged.get(key, 0) + g.failed_sessions
    return merged


def _family(ip: str) -> AddressFamily:
    return AddressFamily.IPV6 if ipaddress.ip_address(ip).version == 6 else AddressFamily.IPV4


def _skipped(result: RouteResult) -> SkipReason | None:
    for rec in result.phases:
        if rec.outcome is Outcome.NOT_ATTEMPTED and rec.skip_reason is not None:
            return rec.skip_reason
    return None


def _tested(result: RouteResult) -> bool:
    """The session got far enough for TLS to be offered, negotiated or refused."""
    return any(rec.phase in _TESTED for rec in result.phases) and (
        result.ok or result.starttls_offered is not None or result.tls is not None
    )


def _findings_on(report: ProbeReport, labels: set[str], host: str | None) -> list[Finding]:
    diagnosis = report.diagnosis
    if diagnosis is None:
        return []
    out = []
    for f in diagnosis.findings:
        routes = set(f.payload.routes)
        if routes & labels or (not routes and host is not None and host in f.payload.hosts):
            out.append(f)
    return out


def _results_of(findings: list[Finding], result: str) -> tuple[tuple[str, ...], Finding | None]:
    """The result types the findings name, and the first finding naming ``result``."""
    seen = tuple(dict.fromkeys(r for f in findings for r in f.payload.tls_rpt_results))
    hit = next((f for f in findings if result in f.payload.tls_rpt_results), None)
    return seen, hit


def _judge_domain(report: ProbeReport, result: str) -> _Verdict:
    """A result type about the whole policy domain (not one route)."""
    findings = list(report.diagnosis.findings) if report.diagnosis else []
    seen, hit = _results_of(findings, result)
    status = CheckStatus.REPRODUCED if hit else CheckStatus.NOT_REPRODUCED
    return _Verdict(status, None, seen, (), hit)


def _candidates(
    report: ProbeReport, host: str | None, ip: str | None, port: int | None
) -> list[RouteResult]:
    """The probe's delivery-port routes to the reported MX host and address."""
    return [
        r
        for r in report.routes
        if r.route.port == port
        and (host is None or r.route.mx.rstrip(".").lower() == host)
        and (ip is None or r.route.address == ip)
    ]


def _not_attempted(candidates: list[RouteResult], labels: tuple[str, ...]) -> _Verdict:
    reasons = {_skipped(r) for r in candidates}
    why = (
        NotTestable.ADDRESS_POLICY
        if SkipReason.ADDRESS_POLICY in reasons
        else NotTestable.NO_CONNECTION
    )
    return _Verdict(CheckStatus.NOT_TESTABLE, why, (), labels)


def _judge(
    report: ProbeReport, host: str | None, ip: str | None, result: str, config: ProbeConfig
) -> _Verdict:
    if result in DOMAIN_RESULTS:
        return _judge_domain(report, result)
    if ip is not None and _family(ip) not in config.probe_families:
        return _Verdict(CheckStatus.NOT_TESTABLE, NotTestable.FAMILY)
    candidates = _candidates(report, host, ip, config.delivery_port)
    if not candidates:
        return _Verdict(CheckStatus.NOT_TESTABLE, NotTestable.ROUTE_NOT_FOUND)
    labels = tuple(r.route.label for r in candidates)
    attempted = [r for r in candidates if _skipped(r) is None]
    if not attempted:
        return _not_attempted(candidates, labels)
    findings = _findings_on(report, {r.route.label for r in attempted}, host)
    seen, hit = _results_of(findings, result)
    if hit is not None:
        return _Verdict(CheckStatus.REPRODUCED, None, seen, labels, hit)
    first = findings[0] if findings else None
    if not any(_tested(r) for r in attempted):
        return _Verdict(CheckStatus.NOT_TESTABLE, NotTestable.NO_CONNECTION, seen, labels, first)
    return _Verdict(CheckStatus.NOT_REPRODUCED, None, seen, labels, first)


def _check(key: _Key, failed: int, verdict: _Verdict, report: ProbeReport | None) -> TlsRouteCheck:
    domain, host, ip, result = key
    diagnosis = report.diagnosis if report is not None else None
    finding = verdict.finding
    return TlsRouteCheck(
        policy_domain=domain,
        receiving_mx_hostname=host,
        receiving_ip=ip,
        result_type=result,
        failed_sessions=failed,
        status=verdict.status,
        why=verdict.why,
        seen=verdict.seen,
        routes=verdict.routes,
        finding=finding.rule.value if finding is not None else None,
        code=finding.code if finding is not None else None,
        verdict=diagnosis.verdict.value if diagnosis is not None else None,
        summary=check_summary(
            verdict.status, verdict.why, result, host or domain, ip, verdict.seen
        ),
    )


async def check_tls_reports(
    groups: Iterable[FailureGroup],
    config: ProbeConfig | None = None,
    *,
    limit: int = MAX_DOMAINS,
) -> list[TlsRouteCheck]:
    """Probe each policy domain the failure groups name once (one after the other, each
    within ``config.timeouts.total``) and judge every reported route and result type.

    Args:
        groups: The failure groups of a :class:`~smtpdiag.tlsreports.TlsReportSummary`.
        config: The probe configuration (``ProbeConfig()`` by default).
        limit: Most domains probed; the others' checks say ``limit``.

    Returns:
        One :class:`TlsRouteCheck` per domain, MX host, address and result type, in the
        order the groups came (most failed sessions first).
    """
    from ..config import ProbeConfig
    from ..errors import ConfigError, ProbeError
    from ..pipeline import probe

    config = config or ProbeConfig()
    merged = _merge(groups)
    domains: list[str] = []
    for domain, _host, _ip, result in merged:
        if result in KNOWN_RESULT_TYPES and domain not in domains:
            domains.append(domain)
    reports: dict[str, ProbeReport | None] = {}
    for domain in domains[:limit]:
        try:
            reports[domain] = await probe(domain, config)
        except (ProbeError, ConfigError):  # a domain a probe cannot take
            reports[domain] = None
    out: list[TlsRouteCheck] = []
    for key, failed in merged.items():
        domain, host, ip, result = key
        report = reports.get(domain)
        if result not in KNOWN_RESULT_TYPES:
            verdict = _Verdict(CheckStatus.NOT_TESTABLE, NotTestable.UNKNOWN_RESULT_TYPE)
        elif domain not in reports:
            verdict = _Verdict(CheckStatus.NOT_TESTABLE, NotTestable.LIMIT)
        elif report is None or report.could_not_run:
            verdict = _Verdict(CheckStatus.NOT_TESTABLE, NotTestable.PROBE_FAILED)
        else:
            verdict = _judge(report, host, ip, result, config)
        out.append(_check(key, failed, verdict, report))
    return out


def check_tls_reports_sync(
    groups: Iterable[FailureGroup],
    config: ProbeConfig | None = None,
    *,
    limit: int = MAX_DOMAINS,
) -> list[TlsRouteCheck]:
    """Blocking twin of :func:`check_tls_reports` (also from code that already runs an
    event loop in this thread, like :func:`smtpdiag.probe_sync`)."""
    from ..blocking import run_blocking

    chosen = list(groups)
    return run_blocking(
        lambda: check_tls_reports(chosen, config, limit=limit), name="smtpdiag-tlsrpt"
    )
