"""The TLS policy rules (MTA-STS, DANE, TLS-RPT): hand-built observations -> findings,
with who fails (SenderImpact) and the RFC 8460 result type in each payload."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from factories import host, ok, report, resolution, routes_for, tls
from factories.policy_cases import (
    dane_match,
    dane_miss,
    mta_sts,
    sts_fetch_failed,
    sts_invalid,
    tls_policy,
    tls_rpt,
    tlsa,
)

from smtpdiag import diagnose
from smtpdiag.model import (
    DaneState,
    Diagnosis,
    DnssecStatus,
    Finding,
    ProbeReport,
    RouteResult,
    RuleId,
    SenderImpact,
    SenderKind,
    SenderOutcome,
    Severity,
    StsFetchError,
    StsMode,
    StsProblem,
    StsStatus,
    TlsPolicy,
    TlsReason,
    TlsRpt,
    TlsRptProblem,
    TlsRptResult,
    TlsRptStatus,
    Verdict,
)

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
DOMAIN = "example.org"
MX1 = host()
MX2 = host("mx2.other.example", 20, ("198.51.100.6",), rank=2)
OPP, S, D = SenderKind.OPPORTUNISTIC, SenderKind.MTA_STS, SenderKind.DANE
DELIVER, DEFER, REPORT = SenderOutcome.DELIVER, SenderOutcome.DEFER, SenderOutcome.REPORT
NA, UNKNOWN = SenderOutcome.NOT_APPLICABLE, SenderOutcome.UNKNOWN
R = RuleId
BAD_CERT = replace(
    tls(verified=False, verify_error="self-signed", hostname_match=True),
    verify_reason=TlsReason.CERT_UNTRUSTED,
)
EXPIRED = replace(tls(verified=False, verify_error="expired"), verify_reason=TlsReason.CERT_EXPIRED)


def _routes(
    hosts: tuple[object, ...] = (MX1,), *, tls_info: object = None, starttls: bool = True
) -> list[RouteResult]:
    out = []
    for h in hosts:
        for r in routes_for(h):  # type: ignore[arg-type]
            out.append(ok(r, tls_info=tls_info, starttls_offered=starttls))  # type: ignore[arg-type]
    return out


def _report(policy: TlsPolicy | None, routes: list[RouteResult], hosts=(MX1,)) -> ProbeReport:  # type: ignore[no-untyped-def]
    """The report; every MX host without a TLSA lookup gets one that found none (as the
    policy stage looks every host up)."""
    if policy is not None:
        have = {t.mx for t in policy.dane}
        extra = [tlsa(h.name, state=DaneState.NONE) for h in hosts if h.name not in have]
        policy = replace(policy, dane=(*policy.dane, *extra))
    return replace(report(resolution(list(hosts)), routes), policy=policy)


def _diag(rep: ProbeReport) -> Diagnosis:
    return diagnose(rep, now=NOW)


def _f(d: Diagnosis, rule: RuleId) -> Finding:
    found = [f for f in d.findings if f.rule is rule]
    assert found, [f.rule for f in d.findings]
    return found[0]


def _who(f: Finding) -> dict[SenderKind, SenderImpact]:
    return {s.sender: s for s in f.payload.senders}


def _with_dane(routes: list[RouteResult], check: object) -> list[RouteResult]:
    return [
        replace(r, tls=replace(r.tls, dane=check))  # type: ignore[arg-type]
        if r.route.port == 25 and r.tls is not None
        else r
        for r in routes
    ]


# ------------------------------------------------------------------ healthy policy


def test_a_good_policy_is_healthy_and_adds_no_finding() -> None:
    pol = tls_policy(mta_sts(DOMAIN, [MX1.name]), [tlsa(MX1.name)], tls_rpt(DOMAIN))
    d = _diag(_report(pol, _with_dane(_routes(), dane_match())))
    assert d.verdict is Verdict.HEALTHY
    assert [f.rule for f in d.findings] == [R.HEALTHY]


# ------------------------------------------------------------------------ MTA-STS


@pytest.mark.parametrize(
    ("mode", "code", "outcome", "severity"),
    [
        (StsMode.ENFORCE, "4.7.5", DEFER, Severity.SOFT),
        (StsMode.TESTING, None, REPORT, Severity.INFO),
    ],
)
def test_mta_sts_cert_invalid(
    mode: StsMode, code: str | None, outcome: SenderOutcome, severity: Severity
) -> None:
    pol = tls_policy(mta_sts(DOMAIN, [MX1.name], mode=mode))
    d = _diag(_report(pol, _routes(tls_info=EXPIRED)))
    f = _f(d, R.MTA_STS_CERT_INVALID)
    assert f.code == code and f.severity is severity
    # Senders applying the domain's own enforced policy cannot deliver: failed (issue
    # 18); in testing mode they deliver and report: degraded.
    assert d.verdict is (Verdict.FAILED if mode is StsMode.ENFORCE else Verdict.DEGRADED)
    who = _who(f)
    assert who[OPP].outcome is DELIVER
    assert who[S] == SenderImpact(S, outcome, mode)
    assert who[D].outcome is NA  # no TLSA records
    assert f.payload.tls_rpt_results == (TlsRptResult.CERTIFICATE_EXPIRED,)
    assert "defer" in f.summary if mode is StsMode.ENFORCE else "report" in f.summary
    # Only the delivery port is the policy's: 587 is still tls-cert-unverified's.
    assert [r.split(":")[-1] for r in f.payload.routes] == ["25"]
    rest = _f(d, R.TLS_CERT_UNVERIFIED)
    assert {r.split(":")[-1] for r in rest.payload.routes} == {"587", "465"}
    assert _who(rest)[S].outcome is NA


def test_cert_unverified_without_policy_lookups_keeps_the_general_words() -> None:
    d = _diag(_report(None, _routes(tls_info=BAD_CERT)))
    f = _f(d, R.TLS_CERT_UNVERIFIED)
    # Without policy lookups only the senders that read no policy are judged.
    assert [s.sender for s in f.payload.senders] == [OPP, SenderKind.VERIFYING]
    assert "senders that verify" in f.summary


def test_cert_unverified_with_no_policy_published_says_nobody_enforces() -> None:
    d = _diag(_report(tls_policy(), _routes(tls_info=BAD_CERT)))
    f = _f(d, R.TLS_CERT_UNVERIFIED)
    who = _who(f)
    assert (who[OPP].outcome, who[S].outcome, who[D].outcome) == (DELIVER, NA, NA)
    assert f.payload.tls_rpt_results == (TlsRptResult.CERTIFICATE_NOT_TRUSTED,)
    assert "Opportunistic senders deliver anyway" in f.summary


def test_cert_unverified_with_matching_dane_lets_dane_senders_deliver() -> None:
    pol = tls_policy(dane=[tlsa(MX1.name)])
    d = _diag(_report(pol, _with_dane(_routes(tls_info=BAD_CERT), dane_match())))
    f = _f(d, R.TLS_CERT_UNVERIFIED)
    assert _who(f)[D].outcome is DELIVER


@pytest.mark.parametrize(
    ("mode", "outcome"), [(StsMode.ENFORCE, SenderOutcome.OTHER_MX), (StsMode.TESTING, REPORT)]
)
def test_mx_not_covered_while_a_covered_mx_passes(mode: StsMode, outcome: SenderOutcome) -> None:
    """RFC 8461 5: an enforcing sender skips the MX host the policy does not cover and
    delivers through the covered one that passes: nothing is deferred, no code."""
    pol = tls_policy(mta_sts(DOMAIN, [MX1.name, MX2.name], mode=mode))
    d = _diag(_report(pol, _routes((MX1, MX2)), hosts=(MX1, MX2)))
    f = _f(d, R.MTA_STS_MX_NOT_COVERED)
    assert f.code is None
    assert f.payload.hosts == (MX2.name,)
    assert f.payload.tls_rpt_results == (TlsRptResult.VALIDATION_FAILURE,)
    assert _who(f)[S].outcome is outcome


def test_mx_not_covered_and_the_covered_mx_fails_defers() -> None:
    """No MX host passes (the covered one's certificate is untrusted): enforcing
    senders defer, 4.4.2."""
    pol = tls_policy(mta_sts(DOMAIN, [MX1.name, MX2.name], mode=StsMode.ENFORCE))
    d = _diag(_report(pol, _routes((MX1, MX2), tls_info=BAD_CERT), hosts=(MX1, MX2)))
    f = _f(d, R.MTA_STS_MX_NOT_COVERED)
    assert f.code == "4.7.5"
    assert _who(f)[S].outcome is DEFER
    assert _f(d, R.MTA_STS_CERT_INVALID).code == "4.7.5"


def test_cert_invalid_on_one_mx_while_another_passes_defers_nothing() -> None:
    """The primary's certificate fails, the secondary (covered, valid) works: enforcing
    MTA-STS senders deliver through the secondary; the finding has no code."""
    pol = tls_policy(
        mta_sts(
            DOMAIN,
            [MX1.name, MX2.name],
            mode=StsMode.ENFORCE,
            patterns=["*.example.org", "*.other.example"],
        )
    )
    routes = [
        ok(r, tls_info=BAD_CERT if h is MX1 else None, starttls_offered=True)
        for h in (MX1, MX2)
        for r in routes_for(h)
    ]
    d = _diag(_report(pol, routes, hosts=(MX1, MX2)))
    f = _f(d, R.MTA_STS_CERT_INVALID)
    assert f.code is None
    assert _who(f)[S].outcome is SenderOutcome.OTHER_MX
    assert "another MX host" in f.summary


def test_cert_invalid_on_one_address_while_another_address_of_the_host_passes() -> None:
    """One MX host, two addresses, the first one's certificate fails: an enforcing
    sender tries the host's next address (RFC 5321 5.1), which passes, and delivers.
    With the bad certificate on both, it defers."""
    pol = tls_policy(mta_sts(DOMAIN, [MX1.name], mode=StsMode.ENFORCE))
    mx = host(addresses=("198.51.100.5", "198.51.100.7"))
    first = mx.addresses[0]

    def diag(bad: set[str]) -> Finding:
        routes = [
            ok(r, tls_info=BAD_CERT if r.address in bad else None, starttls_offered=True)
            for r in routes_for(mx)
        ]
        return _f(_diag(_report(pol, routes, hosts=(mx,))), R.MTA_STS_CERT_INVALID)

    one = diag({first})
    assert one.code is None
    assert _who(one)[S].outcome is SenderOutcome.OTHER_MX
    both = diag(set(mx.addresses))
    assert both.code == "4.7.5"
    assert _who(both)[S].outcome is DEFER


def test_mode_none_binds_nothing() -> None:
    pol = tls_policy(mta_sts(DOMAIN, [MX1.name, MX2.name], mode=StsMode.NONE))
    d = _diag(_report(pol, _routes((MX1, MX2), tls_info=BAD_CERT), hosts=(MX1, MX2)))
    rules = {f.rule for f in d.findings}
    assert R.MTA_STS_MX_NOT_COVERED not in rules and R.MTA_STS_CERT_INVALID not in rules
    assert _who(_f(d, R.TLS_CERT_UNVERIFIED))[S].outcome is NA


@pytest.mark.parametrize(
    ("sts", "rule", "result"),
    [
        (
            sts_fetch_failed(DOMAIN, StsFetchError.CONNECT, StsStatus.FETCH_ERROR),
            R.MTA_STS_FETCH_FAILED,
            TlsRptResult.STS_POLICY_FETCH_ERROR,
        ),
        (
            sts_fetch_failed(DOMAIN, StsFetchError.CERT_EXPIRED, StsStatus.WEBPKI_INVALID),
            R.MTA_STS_WEBPKI_INVALID,
            TlsRptResult.STS_WEBPKI_INVALID,
        ),
        (
            sts_invalid(DOMAIN, StsProblem.POLICY_NO_MODE),
            R.MTA_STS_INVALID,
            TlsRptResult.STS_POLICY_INVALID,
        ),
    ],
)
def test_policy_lookup_failures(sts: object, rule: RuleId, result: TlsRptResult) -> None:
    d = _diag(_report(tls_policy(sts), _routes()))  # type: ignore[arg-type]
    f = _f(d, rule)
    assert f.code is None and f.severity is Severity.INFO
    assert d.verdict is Verdict.DEGRADED  # a broken feature, no bounce
    assert f.payload.tls_rpt_results == (result,)
    # RFC 8461 3.3: without a valid policy senders deliver as if there were none.
    assert _who(f)[S].outcome is DELIVER
    assert "cached" in f.summary


def test_invalid_sts_record_is_no_policy_and_reports_nothing() -> None:
    from smtpdiag.model import MtaSts, StsRecord

    sts = MtaSts(
        StsStatus.RECORD_INVALID,
        record=StsRecord("v=STSv1; id=", None, (StsProblem.RECORD_NO_ID,)),
    )
    f = _f(_diag(_report(tls_policy(sts), _routes())), R.MTA_STS_INVALID)
    assert f.payload.tls_rpt_results == ()
    assert "record-no-id" in f.summary


# --------------------------------------------------------------------------- DANE


def test_dane_mismatch_defers_dane_senders() -> None:
    pol = tls_policy(dane=[tlsa(MX1.name)])
    d = _diag(_report(pol, _with_dane(_routes(), dane_miss())))
    f = _f(d, R.DANE_MISMATCH)
    assert (f.code, f.severity) == ("4.7.5", Severity.SOFT)
    assert d.primary == "4.7.5" and d.verdict is Verdict.FAILED
    assert d.who_fails == (SenderKind.DANE,)
    who = _who(f)
    assert (who[OPP].outcome, who[S].outcome, who[D].outcome) == (DELIVER, NA, DEFER)
    assert f.payload.tls_rpt_results == (TlsRptResult.TLSA_INVALID,)


def test_dane_bogus() -> None:
    pol = tls_policy(dane=[tlsa(MX1.name, state=DaneState.BOGUS, dnssec=DnssecStatus.BOGUS)])
    d = _diag(_report(pol, _routes()))
    f = _f(d, R.DANE_BOGUS)
    assert (f.code, f.severity) == ("4.4.3", Severity.SOFT)
    assert f.payload.tls_rpt_results == (TlsRptResult.DNSSEC_INVALID,)
    assert _who(f)[D].outcome is DEFER


def test_bogus_mx_rrset_is_dane_bogus_for_every_host() -> None:
    pol = tls_policy(mx_dnssec=DnssecStatus.BOGUS)
    f = _f(_diag(_report(pol, _routes((MX1, MX2)), hosts=(MX1, MX2))), R.DANE_BOGUS)
    assert f.payload.hosts == (MX1.name, MX2.name)


@pytest.mark.parametrize(
    ("dnssec", "result"),
    [(DnssecStatus.INSECURE, ()), (DnssecStatus.SECURE, (TlsRptResult.TLSA_INVALID,))],
)
def test_dane_not_usable_is_never_a_pass(
    dnssec: DnssecStatus, result: tuple[TlsRptResult, ...]
) -> None:
    pol = tls_policy(dane=[tlsa(MX1.name, state=DaneState.NOT_USABLE, dnssec=dnssec)])
    d = _diag(_report(pol, _routes()))
    f = _f(d, R.DANE_NOT_USABLE)
    # Records in an unsigned zone affect no sender: informational, the verdict does
    # not move (issue 18); secure but unusable records were meant to be a policy.
    assert d.verdict is (Verdict.DEGRADED if dnssec is DnssecStatus.SECURE else Verdict.HEALTHY)
    assert f.payload.tls_rpt_results == result
    assert _who(f)[D].outcome is DELIVER


# ----------------------------------------------------------------------- STARTTLS


@pytest.mark.parametrize(
    ("pol", "rule", "sts", "dane"),
    [
        (tls_policy(mta_sts(DOMAIN, [MX1.name])), R.STARTTLS_REQUIRED, DEFER, NA),
        (tls_policy(dane=[tlsa(MX1.name)]), R.STARTTLS_REQUIRED, NA, DEFER),
        (
            tls_policy(dane=[tlsa(MX1.name, state=DaneState.NOT_USABLE)]),
            R.STARTTLS_REQUIRED,
            NA,
            DEFER,
        ),
        (
            tls_policy(mta_sts(DOMAIN, [MX1.name], mode=StsMode.TESTING)),
            R.STARTTLS_NOT_OFFERED,
            REPORT,
            NA,
        ),
        (tls_policy(), R.STARTTLS_NOT_OFFERED, NA, NA),
    ],
)
def test_starttls_missing(
    pol: TlsPolicy, rule: RuleId, sts: SenderOutcome, dane: SenderOutcome
) -> None:
    d = _diag(_report(pol, _routes(starttls=False)))
    f = _f(d, rule)
    # What an MTA requiring TLS logs: Postfix "4.7.4 TLS is required, but was not
    # offered"; a sender verifying by local policy requires it too (issue 18).
    assert f.code == "4.7.4"
    who = _who(f)
    assert (who[OPP].outcome, who[S].outcome, who[D].outcome) == (DELIVER, sts, dane)
    assert f.payload.tls_rpt_results == (TlsRptResult.STARTTLS_NOT_SUPPORTED,)
    assert "plaintext" in f.summary


# ------------------------------------------------------------------------ TLS-RPT


def test_tls_rpt_invalid_is_info() -> None:
    rpt = TlsRpt(TlsRptStatus.INVALID, text="v=TLSRPTv1", problems=(TlsRptProblem.NO_RUA,))
    d = _diag(_report(tls_policy(rpt=rpt), _routes()))
    f = _f(d, R.TLS_RPT_INVALID)
    assert f.severity is Severity.INFO and d.verdict is Verdict.HEALTHY
    assert "no-rua" in f.summary


def test_not_checked_policy_is_unknown_to_senders() -> None:
    from smtpdiag.policy import NOT_CHECKED

    f = _f(_diag(_report(NOT_CHECKED, _routes(tls_info=BAD_CERT))), R.TLS_CERT_UNVERIFIED)
    assert _who(f)[S].outcome is UNKNOWN
