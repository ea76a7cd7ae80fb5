"""evaluate(): status decisions on factory-built reports (pure, no network)."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from factories import health_cases as f

from smtpdiag.health import (
    HealthStatus,
    Limit,
    ProblemKind,
    Thresholds,
    evaluate,
    unknown_result,
)
from smtpdiag.model import DnsOutcome, MxTargetKind, Outcome, Phase, TlsInfo, Verdict

EXPECTED = {
    "healthy": HealthStatus.OK,
    "one_route_down": HealthStatus.WARNING,
    "all_down": HealthStatus.CRITICAL,
    "slow_greeting": HealthStatus.WARNING,
    "cert_expiring": HealthStatus.CRITICAL,
    # Degraded (opportunistic senders deliver in plaintext): a warning (issue 18).
    "no_starttls": HealthStatus.WARNING,
    "dns_unanswered": HealthStatus.UNKNOWN,
    "servfail": HealthStatus.CRITICAL,
    "null_mx": HealthStatus.CRITICAL,
    "hostile": HealthStatus.CRITICAL,
}


@pytest.mark.parametrize("name", sorted(f.SCENARIOS))
def test_status_per_scenario(name: str) -> None:
    result = evaluate(f.SCENARIOS[name]())
    assert result.status is EXPECTED[name]
    assert result.ok is (result.status is HealthStatus.OK)
    assert bool(result.problems) is (result.status is not HealthStatus.OK)
    assert "\n" not in result.summary and result.summary.startswith("example.org")
    json.dumps(result.to_dict())  # JSON-able


@pytest.mark.parametrize("name", sorted(f.SCENARIOS))
def test_summary_leads_with_the_reason_for_the_status(name: str) -> None:
    # A monitoring user reads the first line as "why is it in this state": a not-OK
    # line starts with its worst problem and never calls the routes "healthy".
    result = evaluate(f.SCENARIOS[name]())
    if result.status is HealthStatus.OK:
        assert result.summary.startswith("example.org: 4/4 routes healthy")
        return
    if result.status is HealthStatus.UNKNOWN:  # "probe could not run: <why>"
        assert result.summary.endswith(result.problems[0].reason)
        return
    assert result.summary.startswith(f"example.org: {result.problems[0].reason}")
    assert "routes healthy" not in result.summary


def test_expired_certificate_on_working_routes_reads_critical() -> None:
    result = evaluate(f.cert_expiring(-3))
    assert result.status is HealthStatus.CRITICAL
    assert all(r.healthy for r in result.routes)  # by design: lifetime is not route health
    assert result.summary.startswith("example.org: mx1.example.org[198.51.100.10]:25 (+")
    assert "certificate of mx1.example.org expired 3 days ago" in result.summary
    assert result.summary.endswith(f"{len(result.routes)}/{len(result.routes)} routes up")


def test_healthy_has_timings_and_cert_days() -> None:
    result = evaluate(f.healthy())
    assert [r.label for r in result.routes] == [
        "mx1.example.org[198.51.100.10]:25",
        "mx1.example.org[198.51.100.10]:465",
        "mx2.example.org[198.51.100.20]:25",
        "mx2.example.org[198.51.100.20]:465",
    ]
    r = result.routes[0]
    assert r.healthy and r.up and r.cert_days_left == 80 and r.tls_version == "TLSv1.3"
    greeting = r.timing(Phase.GREETING)
    assert greeting is not None and greeting.seconds == pytest.approx(0.04825)
    assert (greeting.warn_s, greeting.crit_s) == (2.0, 5.0)
    assert result.verdict is Verdict.HEALTHY
    assert "4/4 routes healthy" in result.summary and "certificate 80 days left" in result.summary


def test_route_down_is_warning_unless_every_mx_required() -> None:
    report = f.one_route_down()
    loose = evaluate(report)
    strict = evaluate(report, Thresholds(require_all_mx=True))
    assert loose.status is HealthStatus.WARNING
    assert strict.status is HealthStatus.CRITICAL
    (p,) = strict.problems
    assert p.kind is ProblemKind.ROUTE_DOWN and p.phase is Phase.CONNECT
    assert p.routes == ("mx2.example.org[198.51.100.20]:25",)
    assert "connect refused" in p.reason
    # The real diagnosis: mx2 accepts no connection at all while mx1 delivers (mx-down).
    # The other MX delivers: nobody logs 5.4.3, so the domain has no primary code.
    assert loose.primary is None and "[diagnosis 5.4.3]" not in loose.summary


def test_failed_phase_has_no_latency() -> None:
    result = evaluate(f.all_down())
    timing = result.routes[0].timing(Phase.GREETING)
    assert timing is not None and timing.outcome is Outcome.TIMEOUT
    assert timing.seconds is None and timing.duration_ms == 2000.0
    # A timed-out greeting is a route failure, not a latency problem.
    assert {p.kind for p in result.problems} == {ProblemKind.ROUTE_DOWN}
    assert "421 4.3.2 Service not available" in result.problems[1].reason


@pytest.mark.parametrize(
    ("ms", "status"),
    [
        (1999.0, HealthStatus.OK),
        (2000.0, HealthStatus.OK),
        (2000.5, HealthStatus.WARNING),
        (5000.5, HealthStatus.CRITICAL),
    ],
)
def test_latency_limits_are_strict_greater_than(ms: float, status: HealthStatus) -> None:
    result = evaluate(f.slow_greeting(ms))
    assert result.status is status
    if status is not HealthStatus.OK:
        (p,) = result.problems
        assert p.kind is ProblemKind.LATENCY and p.phase is Phase.GREETING
        assert p.value == pytest.approx(ms / 1000)
        assert p.limit == (2.0 if status is HealthStatus.WARNING else 5.0)


def test_latency_limit_can_be_disabled() -> None:
    result = evaluate(f.slow_greeting(9000.0), Thresholds(greeting=Limit(None, None)))
    assert result.status is HealthStatus.OK


@pytest.mark.parametrize(
    ("days", "status", "limit"),
    [
        (21, HealthStatus.OK, None),
        (20, HealthStatus.WARNING, 21.0),
        (7, HealthStatus.WARNING, 21.0),
        (6, HealthStatus.CRITICAL, 7.0),
        (-3, HealthStatus.CRITICAL, 0.0),
    ],
)
def test_certificate_days(days: int, status: HealthStatus, limit: float | None) -> None:
    result = evaluate(f.cert_expiring(days))
    assert result.status is status
    if limit is not None:
        (p,) = result.problems  # one certificate on two routes: one problem
        assert p.kind is ProblemKind.CERT_EXPIRY and p.limit == limit and p.value == days
        assert len(p.routes) == 2
        assert ("expired 3 days ago" in p.reason) is (days < 0)
    off = Thresholds(cert_warn_days=None, cert_crit_days=None)
    assert evaluate(f.cert_expiring(days), off).status is HealthStatus.OK


def test_no_starttls_allowed_when_not_required() -> None:
    result = evaluate(f.no_starttls(), Thresholds(require_starttls=False))
    # The route meets the relaxed requirement; the diagnosis still calls the domain
    # degraded, and the level follows it (issue 18).
    assert result.routes[0].healthy
    assert result.status is HealthStatus.WARNING
    assert [p.kind for p in result.problems] == [ProblemKind.DIAGNOSIS]
    strict = evaluate(f.no_starttls())
    assert strict.problems[0].kind is ProblemKind.NO_STARTTLS
    assert not strict.routes[0].healthy and strict.routes[0].up


def test_min_tls_version() -> None:
    r = f.route_result(f.route(f.MX1, "198.51.100.10", 25), version="TLSv1.1")
    report = f.report("example.org", [f.MX1], [r])
    assert evaluate(report).problems[0].kind is ProblemKind.TLS_VERSION
    assert evaluate(report, Thresholds(min_tls_version=None)).status is HealthStatus.OK
    assert evaluate(report, Thresholds(min_tls_version="TLSv1.1")).status is HealthStatus.OK


def test_require_valid_cert() -> None:
    base = f.healthy()
    rr = base.routes[0]
    assert rr.tls is not None
    bad = replace(rr, tls=replace(rr.tls, verified=False, verify_error="self-signed certificate"))
    mismatch = replace(rr, tls=replace(rr.tls, hostname_match=False))
    report = replace(base, routes=(bad, mismatch, *base.routes[2:]), diagnosis=None)
    # Not required by default, yet a route whose certificate does not verify is not
    # healthy: a warning, as the diagnosis (degraded) says (issue 18).
    assert evaluate(report).status is HealthStatus.WARNING
    result = evaluate(report, Thresholds(require_valid_cert=True))
    assert result.status is HealthStatus.WARNING
    reasons = [p.reason for p in result.problems if p.kind is ProblemKind.CERT_INVALID]
    assert "self-signed certificate" in reasons[0]
    assert "does not name mx1.example.org" in reasons[1]


def test_require_implicit_tls() -> None:
    th = Thresholds(require_implicit_tls=True)
    assert evaluate(f.healthy(), th).status is HealthStatus.OK
    only25 = evaluate(f.one_route_down(), th)
    p = [p for p in only25.problems if p.kind is ProblemKind.NO_IMPLICIT_TLS]
    assert p and p[0].level is HealthStatus.CRITICAL and "no implicit-TLS port" in p[0].reason
    base = f.healthy()
    down465 = tuple(
        replace(rr, ok=False, tls=TlsInfo()) if rr.route.port == 465 else rr for rr in base.routes
    )
    result = evaluate(replace(base, routes=down465, diagnosis=None), th)
    assert result.status is HealthStatus.CRITICAL
    assert any("none of 2 implicit-TLS routes works" in p.reason for p in result.problems)


def test_dns_unanswered_is_unknown_servfail_is_critical() -> None:
    unknown = evaluate(f.dns_unanswered())
    assert unknown.status is HealthStatus.UNKNOWN
    assert unknown.problems[0].kind is ProblemKind.PROBE_FAILED
    assert "timeout" in unknown.summary
    crit = evaluate(f.servfail())
    assert crit.problems[0].kind is ProblemKind.DNS and "servfail" in crit.summary


def test_mx_targets_without_routes() -> None:
    broken = f.mx_host("mx3.example.org", 30, [], kind=MxTargetKind.NO_ADDRESS)
    base = f.one_route_down()
    report = replace(
        base,
        resolution=replace(base.resolution, hosts=(*base.resolution.hosts, broken)),
        diagnosis=None,
    )
    result = evaluate(report)
    assert any(
        p.kind is ProblemKind.MX_TARGET and "mx3.example.org has no address" in p.reason
        for p in result.problems
    )
    timeout = replace(
        f.mx_host("mx9.example.org", 10, [], kind=MxTargetKind.LOOKUP_FAILED),
        queries=(f.q("mx9.example.org", "A", (), DnsOutcome.TIMEOUT),),
    )
    assert evaluate(f.report("example.org", [timeout], [])).status is HealthStatus.UNKNOWN
    servfail = replace(timeout, queries=(f.q("mx9.example.org", "A", (), DnsOutcome.SERVFAIL),))
    result = evaluate(f.report("example.org", [servfail], []))
    assert result.status is HealthStatus.CRITICAL
    assert "mx9.example.org could not be resolved" in result.problems[0].reason
    noaddr = f.report("example.org", [broken], [])
    result = evaluate(noaddr)
    assert result.status is HealthStatus.CRITICAL
    assert ProblemKind.NO_ROUTE in {p.kind for p in result.problems}


def test_problems_sorted_most_severe_first() -> None:
    base = f.one_route_down()
    slow = f.route_result(f.route(f.MX1, "198.51.100.10", 25), durations={Phase.CONNECT: 3500.0})
    report = replace(base, routes=(slow, base.routes[1]), diagnosis=None)
    levels = [p.level for p in evaluate(report).problems]
    assert levels == [HealthStatus.CRITICAL, HealthStatus.WARNING]


def test_unknown_result() -> None:
    result = unknown_result("example.org", "probe overran\x1b[31m its deadline")
    assert result.status is HealthStatus.UNKNOWN and result.report is None
    assert "\x1b" not in result.summary and "overran" in result.summary
