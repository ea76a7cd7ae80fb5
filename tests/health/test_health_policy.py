"""Health over the TLS policy: --require-mta-sts / --require-dane, the tls-policy
problems of enforcing senders deferring, and the policy in every health format."""

from __future__ import annotations

import json
from dataclasses import replace

import jsonschema  # type: ignore[import-untyped,unused-ignore]
import pytest
from factories import host, ok, report, resolution, routes_for, tls
from factories.policy_cases import dane_match, dane_miss, mta_sts, tls_policy, tls_rpt, tlsa
from om_validate import validate_openmetrics

from smtpdiag import diagnose
from smtpdiag.errors import ConfigError
from smtpdiag.health import Thresholds
from smtpdiag.health.evaluation import HealthStatus, ProblemKind, evaluate
from smtpdiag.model import DaneState, ProbeReport, RouteResult, StsMode, TlsPolicy
from smtpdiag.report.health_json import dumps_health, load_check_schema
from smtpdiag.report.health_text import render_health_text
from smtpdiag.report.junit import render_junit
from smtpdiag.report.markdown import render_markdown
from smtpdiag.report.nagios import render_nagios
from smtpdiag.report.openmetrics import render_openmetrics

MX1 = host()
MX2 = host("mx2.example.org", 20, ("198.51.100.6",), rank=2)


def _routes(hosts: tuple[object, ...] = (MX1,), check: object = None) -> list[RouteResult]:
    out = []
    for h in hosts:
        for r in routes_for(h, (25,)):  # type: ignore[arg-type]
            tls_info = replace(tls(), dane=check) if check is not None else None
            out.append(ok(r, tls_info=tls_info))  # type: ignore[arg-type]
    return out


def _report(
    policy: TlsPolicy | None, hosts: tuple[object, ...] = (MX1,), check: object = None
) -> ProbeReport:
    rep = report(resolution(list(hosts)), _routes(hosts, check), ports=(25,))  # type: ignore[arg-type]
    return replace(rep, policy=policy)


GOOD = tls_policy(mta_sts("example.org", [MX1.name]), [tlsa(MX1.name)], tls_rpt("example.org"))


def test_requirements_met() -> None:
    th = Thresholds(require_mta_sts=StsMode.ENFORCE, require_dane=True)
    result = evaluate(_report(GOOD, check=dane_match()), th)
    assert result.status is HealthStatus.OK, result.problems


@pytest.mark.parametrize(
    ("policy", "required", "reason"),
    [
        (tls_policy(), StsMode.TESTING, "publishes no MTA-STS record"),
        (
            tls_policy(mta_sts("example.org", [MX1.name], mode=StsMode.TESTING)),
            StsMode.ENFORCE,
            "policy is mode testing",
        ),
        (
            tls_policy(mta_sts("example.org", [MX1.name], patterns=["*.other.test"])),
            StsMode.TESTING,
            "do not cover mx1.example.org",
        ),
        (None, StsMode.ENFORCE, "not looked up"),
    ],
)
def test_require_mta_sts(policy: TlsPolicy | None, required: StsMode, reason: str) -> None:
    result = evaluate(_report(policy), Thresholds(require_mta_sts=required))
    assert result.status is HealthStatus.CRITICAL
    problems = [p for p in result.problems if p.kind is ProblemKind.MTA_STS]
    assert problems and reason in problems[0].reason


def test_testing_meets_a_testing_requirement() -> None:
    pol = tls_policy(mta_sts("example.org", [MX1.name], mode=StsMode.TESTING))
    result = evaluate(_report(pol), Thresholds(require_mta_sts=StsMode.TESTING))
    assert not [p for p in result.problems if p.kind is ProblemKind.MTA_STS]


@pytest.mark.parametrize(
    ("policy", "check", "reason"),
    [
        (tls_policy(dane=[tlsa(MX1.name, state=DaneState.NONE)]), None, "has no TLSA records"),
        (
            tls_policy(dane=[tlsa(MX1.name, state=DaneState.NOT_USABLE)]),
            None,
            "not usable",
        ),
        (tls_policy(dane=[tlsa(MX1.name)]), dane_miss(), "no TLSA record matches"),
    ],
)
def test_require_dane(policy: TlsPolicy, check: object, reason: str) -> None:
    result = evaluate(_report(policy, check=check), Thresholds(require_dane=True))
    assert result.status is HealthStatus.CRITICAL
    assert any(p.kind is ProblemKind.DANE and reason in p.reason for p in result.problems)


def test_enforcing_senders_deferring_is_critical_without_requirements() -> None:
    # DANE senders cannot deliver to a domain that published TLSA records: failed.
    result = evaluate(_report(tls_policy(dane=[tlsa(MX1.name)]), check=dane_miss()))
    assert result.status is HealthStatus.CRITICAL
    (problem,) = [p for p in result.problems if p.kind is ProblemKind.TLS_POLICY]
    assert "DANE senders defer (4.7.5)" in problem.reason


def test_bad_require_mta_sts_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="require_mta_sts"):
        Thresholds(require_mta_sts=StsMode.NONE)


def test_formats_carry_the_policy() -> None:
    pol = tls_policy(
        mta_sts("example.org", [MX1.name, MX2.name], patterns=[MX1.name]),
        [tlsa(MX1.name), tlsa(MX2.name, state=DaneState.NONE)],
        tls_rpt("example.org"),
    )
    rep = _report(pol, (MX1, MX2), check=dane_match())
    rep = replace(rep, diagnosis=diagnose(rep))
    result = evaluate(rep, Thresholds(require_mta_sts=StsMode.ENFORCE))
    doc = json.loads(dumps_health(result))
    jsonschema.Draft202012Validator(load_check_schema()).validate(doc)
    assert doc["thresholds"]["require_mta_sts"] == "enforce"
    kinds = {p["kind"] for p in doc["health"]["problems"]}
    # mx2 is not covered, but enforcing senders deliver through mx1, which passes
    # (RFC 8461 5): no sender defers, so no tls-policy warning.
    assert "mta-sts" in kinds and "tls-policy" not in kinds

    om = render_openmetrics(result)
    validate_openmetrics(om)
    assert 'smtpdiag_mta_sts_mode{domain="example.org",mode="enforce"} 1' in om
    assert 'smtpdiag_dane_usable{domain="example.org",mx="mx1.example.org"} 1' in om
    assert 'smtpdiag_dane_usable{domain="example.org",mx="mx2.example.org"} 0' in om

    nagios = render_nagios(result)
    assert "'mta_sts_mode'=2;;;0;2" in nagios and "'dane_usable_mx'=1;;;0;2" in nagios
    assert "TLS policy: MTA-STS enforce (covers 1/2 MX); DANE usable on 1/2 MX" in nagios

    md = render_markdown(result)
    assert "### TLS policy" in md and "mx2.example.org: NOT covered" in md
    assert (
        "Who fails: nobody; opportunistic: deliver; MTA-STS (enforce): deliver through another MX host"
        in md
    )

    text = render_health_text(result)
    assert "TLS policy: MTA-STS enforce (covers 1/2 MX)" in text

    junit = render_junit(result)
    assert "MTA-STS: MX not covered (another MX host delivers)" in junit
    assert 'name="tls_policy_0"' in junit  # the TLS policy section as properties
