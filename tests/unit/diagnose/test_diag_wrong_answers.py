"""The wrong answers of issue 8, each pinned on typed observations built with factories.

Every test here fails on the rule engine before the typed rule table (it read text our
own adapters wrote, and had no notion of a route not attempted or of address policy).
"""

from __future__ import annotations

import errno
from dataclasses import replace

from factories import cert, failed, host, ok, report, resolution, route, routes_for, tls

from smtpdiag import diagnose
from smtpdiag.model import (
    ActionKind,
    AddressClass,
    Outcome,
    Phase,
    Route,
    RouteResult,
    Severity,
    SkipReason,
    TlsInfo,
    TlsReason,
    Verdict,
)
from smtpdiag.report.text import render_text

MX1 = host()
R25, R587, R465 = route(), route(port=587), route(port=465)


def _rules(rep: object) -> list[str]:
    return [f.rule for f in diagnose(rep).findings]  # type: ignore[arg-type]


def test_plaintext_on_implicit_tls_port_is_server_configuration() -> None:
    # What the adapter records for plaintext SMTP on 465: OpenSSL's reason name, no words.
    rep = report(
        resolution([MX1]),
        [
            failed(
                R465,
                Phase.TLS_HANDSHAKE,
                Outcome.TLS_FAILURE,
                detail="[SSL: WRONG_VERSION_NUMBER]",
                tls_reason=TlsReason.NOT_TLS,
            )
        ],
        ports=(465,),
    )
    f = diagnose(rep).findings[0]
    assert f.rule == "tls-mismatch"
    assert [c.split("/", 1)[1] for c in f.cause_ids] == ["server-configuration"]
    assert "plaintext on an implicit-TLS port" in f.summary
    assert "no TLS protocol version in common" not in f.summary
    assert f.payload.tls_reasons == (TlsReason.NOT_TLS,)


def test_internal_error_alert_is_a_retryable_442_not_a_certificate_problem() -> None:
    rep = report(
        resolution([MX1]),
        [
            failed(
                R25,
                Phase.TLS_HANDSHAKE,
                Outcome.TLS_FAILURE,
                detail="[SSL: TLSV1_ALERT_INTERNAL_ERROR] tlsv1 alert internal error",
                tls_reason=TlsReason.ALERT,
                tls_alert="internal_error",
                tls_info=TlsInfo(),
            )
        ],
        ports=(25,),
    )
    d = diagnose(rep)
    assert d.primary == "4.4.2" and d.findings[0].rule == "connection-dropped"
    assert d.findings[0].severity is Severity.SOFT
    assert "certificate" not in d.findings[0].summary


def test_handshake_failure_alert_is_still_a_cipher_mismatch() -> None:
    rep = report(
        resolution([MX1]),
        [
            failed(
                R25,
                Phase.TLS_HANDSHAKE,
                Outcome.TLS_FAILURE,
                tls_reason=TlsReason.ALERT,
                tls_alert="handshake_failure",
            )
        ],
        ports=(25,),
    )
    d = diagnose(rep)
    assert d.primary == "5.4.2" and "no cipher suite in common" in d.findings[0].summary


def _skipped(rt: Route, reason: SkipReason) -> RouteResult:
    return failed(rt, Phase.CONNECT, Outcome.NOT_ATTEMPTED, skip_reason=reason)


def test_route_not_attempted_is_never_evidence_against_the_server() -> None:
    # Port 25 works; 465 never got its turn before the deadline.
    rep = report(
        resolution([MX1]),
        [ok(R25), ok(R587), _skipped(R465, SkipReason.DEADLINE)],
    )
    d = diagnose(rep)
    rules = [f.rule for f in d.findings]
    assert d.verdict is Verdict.HEALTHY
    assert "alt-ports-failing" not in rules and "port-blocked" not in rules
    f = next(f for f in d.findings if f.rule == "routes-not-attempted")
    assert f.severity is Severity.INFO and f.code is None
    assert "no evidence against the server" in f.summary
    assert f.payload.skip_reasons == (SkipReason.DEADLINE,)
    text = render_text(replace(rep, diagnosis=d), width=100, color=False)
    assert "0.00 ms" not in text and "timed out" not in text
    assert "Alternative ports not available" not in text


def test_every_route_not_attempted_is_unknown_not_failed() -> None:
    rep = report(resolution([MX1]), [_skipped(r, SkipReason.DEADLINE) for r in routes_for(MX1)])
    d = diagnose(rep)
    assert d.verdict is Verdict.UNKNOWN and d.primary is None
    assert all(f.severity is Severity.INFO for f in d.findings)


def test_server_own_enhanced_code_is_primary_when_consistent() -> None:
    from factories import reply

    for code, text, want in (
        (554, "5.3.2 No SMTP service here", "5.3.2"),
        (421, "4.7.0 too many connections", "4.7.0"),
        # Inconsistent with the reply class, or malformed: the tool's code stays.
        (421, "5.3.2 odd", "4.3.2"),
        (554, "5.03.2 odd", "5.4.2"),
    ):
        rep = report(
            resolution([MX1]),
            [failed(R25, Phase.GREETING, Outcome.REPLY, reply_=reply(code, text))],
            ports=(25,),
        )
        assert diagnose(rep).primary == want, (code, text)


def test_mx_on_loopback_is_its_own_finding_and_never_deliverable() -> None:
    lo = host(addresses=("127.0.0.1",))
    rr = [
        _skipped(replace(r, address_class=AddressClass.LOOPBACK), SkipReason.ADDRESS_POLICY)
        for r in routes_for(lo)
    ]
    d = diagnose(report(resolution([lo]), rr))
    assert d.verdict is Verdict.FAILED and d.primary == "5.4.3"
    f = d.findings[0]
    assert f.rule == "mx-not-global" and f.neighbours == ("5.4.4",)
    assert "MX points at loopback address" in f.summary
    assert "mail from the Internet cannot arrive there" in f.summary
    assert f.payload.address_classes == (AddressClass.LOOPBACK,)
    assert "nothing-probed" not in [x.rule for x in d.findings]


def test_private_secondary_mx_degrades_a_deliverable_domain() -> None:
    mx2 = host("mx2.example.org", 20, ("10.0.0.5",), rank=2)
    rr = [ok(r) for r in routes_for(MX1)] + [
        _skipped(replace(r, address_class=AddressClass.PRIVATE), SkipReason.ADDRESS_POLICY)
        for r in routes_for(mx2)
    ]
    d = diagnose(report(resolution([MX1, mx2]), rr))
    assert d.verdict is Verdict.DEGRADED
    f = next(x for x in d.findings if x.rule == "mx-not-global")
    assert "private" in f.summary and f.severity is Severity.INFO  # MTAs skip it


def test_refusal_of_some_ports_only_stays_port_blocked() -> None:
    rep = report(
        resolution([MX1]),
        [failed(R25, Phase.CONNECT, Outcome.REFUSED, errno=errno.ECONNREFUSED), ok(R587)],
        ports=(25, 587),
    )
    assert _rules(rep) == ["port-blocked", "alt-ports-failing"] or "port-blocked" in _rules(rep)
    assert diagnose(rep).primary == "5.4.2"


def test_refusal_of_every_port_everywhere_is_a_dead_host() -> None:
    rr = [
        failed(r, Phase.CONNECT, Outcome.REFUSED, errno=errno.ECONNREFUSED) for r in routes_for(MX1)
    ]
    d = diagnose(report(resolution([MX1]), rr))
    assert d.primary == "5.4.3" and d.findings[0].rule == "mx-not-listening"
    assert "4.4.1" in d.findings[0].neighbours


def _cert_unverified(reason: TlsReason, **kw: object) -> str:
    t = replace(tls(), verified=False, verify_reason=reason, **kw)  # type: ignore[arg-type]
    rep = report(resolution([MX1]), [ok(R25, tls_info=t)], ports=(25,))
    f = next(x for x in diagnose(rep).findings if x.rule == "tls-cert-unverified")
    return f.summary


def test_certificate_problems_are_named_from_verify_reason() -> None:
    weak = replace(cert(), key_type="RSA", key_bits=1024)
    assert "too weak (RSA 1024 bits" in _cert_unverified(TlsReason.CERT_WEAK_KEY, certificate=weak)
    assert "expired 3 days ago" in _cert_unverified(
        TlsReason.CERT_EXPIRED, certificate=cert(days_left=-3)
    )
    assert "no chain to a trusted root" in _cert_unverified(TlsReason.CERT_UNTRUSTED)
    assert "does not name mx1.example.org" in _cert_unverified(TlsReason.CERT_WRONG_NAME)
    cut = _cert_unverified(TlsReason.CERT_UNTRUSTED, chain_truncated=True, chain_length=10)
    assert "chain was cut at 10 certificates" in cut


def test_unverified_certificate_on_a_working_route_is_not_a_hard_bounce() -> None:
    # Mail is delivered (opportunistic senders ignore the certificate): a sender must
    # not read the 5.4.2 as "suppress the address". The action is to fix the server.
    t = replace(tls(), verified=False, verify_reason=TlsReason.CERT_EXPIRED)
    rep = report(resolution([MX1]), [ok(R25, tls_info=t)], ports=(25,))
    d = diagnose(rep)
    f = next(x for x in d.findings if x.rule == "tls-cert-unverified")
    assert d.verdict is Verdict.DEGRADED
    # Only senders verifying by local policy fail, and they defer with 4.7.5 (issue 18):
    # a soft code, never a hard bounce.
    assert f.code == "4.7.5" and f.severity is Severity.SOFT
    assert f.action.kind is not ActionKind.SUPPRESS


def test_caps_are_said_in_the_text_report() -> None:
    h = replace(MX1, addresses_omitted=3)
    t = replace(tls(), chain_truncated=True, chain_length=10)
    t = replace(t, certificate=replace(cert(), sans_omitted=150))
    res = replace(resolution([h]), hosts_omitted=5)
    rep = report(res, [ok(r, tls_info=t) for r in routes_for(h)])
    d = diagnose(rep)
    f = next(x for x in d.findings if x.rule == "observation-capped")
    text = render_text(replace(rep, diagnosis=d), width=120, color=False)
    for words in ("5 MX hosts beyond the cap", "3 addresses beyond the cap", "150 more SANs"):
        assert words in f.summary and words in text, words
    assert "the chain was cut" in text


def test_healthy_report_says_what_was_verified() -> None:
    h = host(addresses=("198.51.100.5", "2001:db8::5"))
    d = diagnose(report(resolution([h]), [ok(r) for r in routes_for(h)]))
    assert d.verdict is Verdict.HEALTHY
    s = d.findings[0].summary
    assert "STARTTLS on port 25" in s and "TLSv1.3" in s
    assert "certificate trusted and naming the MX" in s and "IPv6 reached" in s


def test_could_not_run_is_not_a_failed_verdict() -> None:
    from smtpdiag.model import DnsOutcome, ResolutionKind

    rep = report(resolution(kind=ResolutionKind.FAILED, mx_outcome=DnsOutcome.TIMEOUT))
    d = diagnose(rep)
    assert d.verdict is Verdict.UNKNOWN and d.primary is None
    text = render_text(replace(rep, diagnosis=d), width=100, color=False)
    assert text.splitlines()[1].startswith("Could not run: no nameserver answered")
    assert "FAILED" not in text and "4.4.3" not in text


def test_family_filter_that_leaves_nothing_probed_says_so() -> None:
    from smtpdiag.model import AddressFamily

    rep = replace(report(resolution([MX1]), []), families=(AddressFamily.IPV6,))
    d = diagnose(rep)
    assert d.verdict is Verdict.UNKNOWN
    text = render_text(replace(rep, diagnosis=d), width=100, color=False)
    assert text.splitlines()[1].startswith("No route probed")
    assert "FAILED" not in text
