"""Table-driven tests of the rule table: observations built in memory -> exact findings."""

from __future__ import annotations

import errno
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import pytest
from factories import (
    cert,
    failed,
    host,
    ok,
    reply,
    report,
    resolution,
    route,
    routes_for,
    tls,
)

from smtpdiag import diagnose
from smtpdiag.diagnosis.rules import RULES, RouteState, classify
from smtpdiag.diagnosis.table import Enforced, ServerOwn
from smtpdiag.model import (
    ActionKind,
    AddressFamily,
    Diagnosis,
    DnsOutcome,
    Finding,
    MxTargetKind,
    Outcome,
    Persistence,
    Phase,
    ProbeReport,
    Resolution,
    ResolutionKind,
    Severity,
    StepStatus,
    TlsInfo,
    TlsReason,
    Verdict,
)

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
MX1 = host()
MX2 = host("mx2.example.org", 20, ("198.51.100.6",), rank=2)
R25 = route()
R587 = route(port=587)
R465 = route(port=465)
S442 = (1800, 5400, 12600, 27000, 113400)
S432 = (3600, 18000, 61200, 147600)
D = DONE = StepStatus.DONE
H = HUMAN = StepStatus.HUMAN


V4 = (AddressFamily.IPV4,)
V6 = (AddressFamily.IPV6,)
MX1_V6 = host("mx1.example.org", 10, ("2001:db8::5",))
MX2_V6 = host("mx2.example.org", 20, ("2001:db8::6",), rank=2)


def only_family(families: tuple[AddressFamily, ...], res: Resolution, rrs: list) -> ProbeReport:  # type: ignore[type-arg]
    """A report probed with -4 (``V4``) or -6 (``V6``)."""
    return replace(report(res, rrs), families=families)


def one(rr_: Callable[[], list]) -> ProbeReport:  # type: ignore[type-arg]
    return report(resolution([MX1]), rr_())


def single(phase: Phase, outcome: Outcome, **kw: object) -> ProbeReport:
    """mx1 with port 25 failing as given and 587/465 failing identically."""
    return report(
        resolution([MX1]),
        [failed(r, phase, outcome, **kw) for r in (R25, R587)]  # type: ignore[arg-type]
        + [failed(R465, Phase.CONNECT, Outcome.REFUSED)],
    )


def only25(phase: Phase, outcome: Outcome, **kw: object) -> ProbeReport:
    return report(resolution([MX1]), [failed(R25, phase, outcome, **kw)], ports=(25,))  # type: ignore[arg-type]


@dataclass
class Case:
    name: str
    build: Callable[[], ProbeReport]
    verdict: Verdict
    rules: list[str]
    primary: str | None
    action: ActionKind | None = None
    causes: list[str] | None = None  # cause slugs of the first finding, in order
    steps: list[StepStatus] | None = None  # statuses of the first finding's steps
    schedule: tuple[int, ...] | None = None
    neighbours: tuple[str, ...] | None = None
    evidence: dict[str, object] = field(default_factory=dict)  # first evidence fields
    summary_has: tuple[str, ...] = ()
    # The finding the detailed checks above apply to (default: the first one).
    focus: str | None = None
    severity: Severity | None = None  # of the focus finding
    summary_not: tuple[str, ...] = ()
    action_has: tuple[str, ...] = ()
    step_results: dict[str, str] = field(default_factory=dict)  # step slug -> exact result
    evidence_ports: frozenset[int] | None = None  # ports the focus finding's evidence covers
    title: str | None = None  # of the focus finding


def _cause_text(code: str, slugs: list[str]) -> tuple[str, ...]:
    from smtpdiag.diagnosis.knowledge import KNOWLEDGE

    return tuple(KNOWLEDGE[code].cause(s).text for s in slugs)


CASES = [
    Case(
        "healthy",
        lambda: report(resolution([MX1, MX2]), [ok(r) for r in routes_for(MX1) + routes_for(MX2)]),
        Verdict.HEALTHY,
        ["healthy"],
        None,
        ActionKind.NONE,
        summary_has=(
            "Every delivery route works: 2 routes on port 25 across 2 MX hosts",
            "With ports 587, 465 as well, 6 of 6 routes work.",
        ),
    ),
    Case(
        "null-mx",
        lambda: report(resolution(kind=ResolutionKind.NULL_MX)),
        Verdict.NO_MAIL,
        ["null-mx"],
        "5.1.10",
        ActionKind.SUPPRESS,
        evidence={"query": "MX example.org", "dns_outcome": "ok"},
    ),
    Case(
        "dns-servfail",
        lambda: report(resolution(kind=ResolutionKind.FAILED, mx_outcome=DnsOutcome.SERVFAIL)),
        Verdict.FAILED,
        ["dns-failed"],
        "4.4.3",
        ActionKind.RETRY,
        schedule=(1800, 3600, 7200, 14400, 28800),
        evidence={"dns_outcome": "servfail"},
        summary_has=("transient DNS",),
    ),
    Case(
        # No nameserver answered at all: the probe could not run, which is no verdict on
        # the domain (not "FAILED 4.4.3").
        "dns-timeout",
        lambda: report(resolution(kind=ResolutionKind.FAILED, mx_outcome=DnsOutcome.TIMEOUT)),
        Verdict.UNKNOWN,
        ["could-not-run"],
        None,
        ActionKind.FIX,
        evidence={"dns_outcome": "timeout", "note": "no nameserver answered"},
        title="Could not run: no nameserver answered",
    ),
    Case(
        "no-route-nxdomain",
        lambda: report(resolution(kind=ResolutionKind.NONE)),
        Verdict.FAILED,
        ["no-route"],
        "5.4.4",
        ActionKind.SUPPRESS,
        neighbours=("5.1.2", "5.4.3"),
        summary_has=("NXDOMAIN",),
    ),
    Case(
        "implicit-healthy",
        lambda: report(
            resolution([host("example.org", 0)], kind=ResolutionKind.IMPLICIT),
            [ok(r) for r in routes_for(host("example.org", 0))],
        ),
        Verdict.HEALTHY,
        ["healthy", "implicit-mx"],
        None,
    ),
    Case(
        "greeting-421-postscreen",
        lambda: single(
            Phase.GREETING,
            Outcome.REPLY,
            reply_=reply(421, "4.3.2 Service currently unavailable"),
        ),
        Verdict.FAILED,
        ["greeting-deferred", "alt-ports-failing"],
        "4.3.2",
        ActionKind.RETRY,
        causes=["maintenance", "network-problems", "overload"],
        steps=[H, H, H, H],  # one probe logs no pattern and respects no rate limit
        schedule=S432,
        neighbours=(),
        evidence={
            "mx": "mx1.example.org",
            "address": "198.51.100.5",
            "port": 25,
            "phase": "greeting",
            "outcome": "reply",
            "reply": "421 4.3.2 Service currently unavailable",
        },
        summary_has=("does not say why",),
    ),
    Case(
        "ehlo-450-432",
        lambda: only25(Phase.EHLO, Outcome.REPLY, reply_=reply(450, "4.3.2 Try again later")),
        Verdict.FAILED,
        ["greeting-deferred"],
        "4.3.2",
        ActionKind.RETRY,
        causes=["maintenance", "network-problems", "overload"],
        schedule=S432,
        evidence={"phase": "ehlo", "reply": "450 4.3.2 Try again later"},
    ),
    Case(
        "too-many-connections",
        lambda: only25(
            Phase.GREETING,
            Outcome.REPLY,
            reply_=reply(421, "4.7.0 Too many connections from your host"),
        ),
        # The server states a well-formed 4.7.0 of its reply's class: that is the code.
        Verdict.FAILED,
        ["greeting-deferred"],
        "4.7.0",
        ActionKind.RETRY,
        causes=["overload"],
        neighbours=("4.3.2",),
        summary_has=("4.7.0 as the server states it",),
    ),
    Case(
        "greeting-closed",
        lambda: only25(Phase.GREETING, Outcome.CLOSED, duration_ms=3.0),
        Verdict.FAILED,
        ["connection-dropped"],
        "4.4.2",
        ActionKind.RETRY,
        causes=["connection-dropped", "connection-limit", "server-overloaded", "firewall"],
        steps=[D, H, H, D, D, H, H],
        schedule=S442,
        neighbours=("4.4.1",),
        evidence={"phase": "greeting", "outcome": "closed", "duration_ms": 3.0},
    ),
    Case(
        "greeting-timeout",
        lambda: only25(Phase.GREETING, Outcome.TIMEOUT, duration_ms=10000.0),
        Verdict.FAILED,
        ["connection-dropped"],
        "4.4.2",
        ActionKind.RETRY,
        causes=["handshake-timeout", "server-overloaded"],
        schedule=S442,
    ),
    Case(
        "ehlo-reset",
        lambda: only25(Phase.EHLO, Outcome.RESET),
        Verdict.FAILED,
        ["connection-dropped"],
        "4.4.2",
        causes=["connection-dropped", "firewall", "proxy"],
    ),
    Case(
        "tls-handshake-timeout-mtu",
        lambda: only25(Phase.TLS_HANDSHAKE, Outcome.TIMEOUT, duration_ms=10000.0),
        Verdict.FAILED,
        ["connection-dropped"],
        "4.4.2",
        causes=["tls-problems", "handshake-timeout", "mtu"],
        steps=[D, D, H, D, D, H, H],
    ),
    Case(
        "starttls-closed",
        lambda: only25(Phase.STARTTLS, Outcome.CLOSED),
        Verdict.FAILED,
        ["connection-dropped"],
        "4.4.2",
        causes=["tls-problems", "connection-dropped"],
    ),
    Case(
        "tls-eof-is-transient",
        lambda: only25(
            Phase.TLS_HANDSHAKE,
            Outcome.TLS_FAILURE,
            detail="EOF occurred in violation of protocol",
            tls_reason=TlsReason.CLOSED,
        ),
        Verdict.FAILED,
        ["connection-dropped"],
        "4.4.2",
        causes=["tls-problems"],
    ),
    Case(
        "starttls-454",
        lambda: only25(Phase.STARTTLS, Outcome.REPLY, reply_=reply(454, "4.7.0 TLS not available")),
        Verdict.FAILED,
        ["connection-dropped"],
        "4.7.0",
        causes=["tls-problems"],
    ),
    Case(
        "tls-no-common-version",
        lambda: only25(
            Phase.TLS_HANDSHAKE,
            Outcome.TLS_FAILURE,
            detail="[SSL: UNSUPPORTED_PROTOCOL] unsupported protocol",
            tls_reason=TlsReason.PROTOCOL_VERSION,
        ),
        Verdict.FAILED,
        ["tls-mismatch"],
        "5.4.2",
        ActionKind.FIX,
        causes=["tls-mismatch"],
        steps=[D, H, D, H, H, H],
        evidence={"error": "[SSL: UNSUPPORTED_PROTOCOL] unsupported protocol"},
        summary_has=("no TLS protocol version in common",),
    ),
    Case(
        "tls-no-common-cipher",
        lambda: only25(
            Phase.TLS_HANDSHAKE,
            Outcome.TLS_FAILURE,
            detail="[SSL: SSLV3_ALERT_HANDSHAKE_FAILURE] sslv3 alert handshake failure",
            tls_reason=TlsReason.ALERT,
            tls_alert="handshake_failure",
        ),
        Verdict.FAILED,
        ["tls-mismatch"],
        "5.4.2",
        summary_has=("no cipher suite in common",),
    ),
    Case(
        "tls-cert-verify-failed",
        lambda: only25(
            Phase.TLS_HANDSHAKE,
            Outcome.TLS_FAILURE,
            detail="[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed "
            "certificate",
            tls_reason=TlsReason.CERT_UNTRUSTED,
            tls_info=TlsInfo(
                certificate=cert(subject="CN=mx1", issuer="CN=mx1"),
                verify_error="self-signed certificate",
            ),
        ),
        Verdict.FAILED,
        ["tls-mismatch"],
        "5.4.2",
        summary_has=("the certificate has no chain to a trusted root",),
    ),
    Case(
        "implicit-tls-plaintext",
        lambda: report(
            resolution([MX1]),
            [
                ok(R25),
                failed(
                    R465,
                    Phase.TLS_HANDSHAKE,
                    Outcome.TLS_FAILURE,
                    detail="[SSL: WRONG_VERSION_NUMBER] wrong version number",
                    tls_reason=TlsReason.NOT_TLS,
                ),
            ],
            ports=(465, 25),
        ),
        Verdict.HEALTHY,
        ["healthy", "alt-ports-failing"],
        None,
    ),
    Case(
        "implicit-tls-plaintext-only-port",
        lambda: report(
            resolution([MX1]),
            [
                failed(
                    R465,
                    Phase.TLS_HANDSHAKE,
                    Outcome.TLS_FAILURE,
                    detail="[SSL: WRONG_VERSION_NUMBER] wrong version number",
                    tls_reason=TlsReason.NOT_TLS,
                )
            ],
            ports=(465,),
        ),
        Verdict.FAILED,
        ["tls-mismatch"],
        "5.4.2",
        causes=["server-configuration"],
        summary_has=("plaintext on an implicit-TLS port",),
    ),
    Case(
        "starttls-554",
        lambda: only25(Phase.STARTTLS, Outcome.REPLY, reply_=reply(554, "5.7.3 TLS not available")),
        Verdict.FAILED,
        ["tls-mismatch"],
        "5.4.2",
        summary_has=("STARTTLS refused with 554 5.7.3",),
    ),
    Case(
        "greeting-554-blocklist",
        lambda: only25(
            Phase.GREETING,
            Outcome.REPLY,
            reply_=reply(
                554, "5.7.1 Service unavailable; client host blocked using zen.spamhaus.org"
            ),
        ),
        Verdict.FAILED,
        ["server-rejected"],
        "5.7.1",
        ActionKind.FIX,
        causes=["connection-policy", "ip-blocked"],
        steps=[D, H, H, H, D, H],
    ),
    Case(
        "ehlo-helo-rejected",
        lambda: only25(Phase.HELO, Outcome.REPLY, reply_=reply(550, "5.5.1 HELO rejected")),
        Verdict.FAILED,
        ["server-rejected"],
        "5.5.1",
        causes=["protocol-incompatibility", "server-configuration"],
    ),
    Case(
        "not-smtp",
        lambda: only25(Phase.GREETING, Outcome.ERROR, detail="HTTP/1.1 400 Bad Request"),
        Verdict.FAILED,
        ["server-rejected"],
        "5.4.2",
        causes=["protocol-incompatibility"],
        summary_has=("does not speak SMTP",),
    ),
    Case(
        "all-refused",
        lambda: report(
            resolution([MX1, MX2]),
            [failed(r, Phase.CONNECT, Outcome.REFUSED) for r in routes_for(MX1) + routes_for(MX2)],
        ),
        # Every port of every MX refused: the hosts are up and nothing listens - a dead
        # mail host (5.4.3), not a firewall (5.4.2).
        Verdict.FAILED,
        ["mx-not-listening"],
        "5.4.3",
        ActionKind.FIX,
        causes=["mx-records", "server-shut-down"],
        neighbours=("4.4.1", "5.4.4"),
        evidence={"phase": "connect", "outcome": "refused", "duration_ms": 0.4},
        summary_has=("no mail server listens", "4.4.1"),
    ),
    Case(
        "all-silently-dropped",
        lambda: report(
            resolution([MX1]),
            [
                failed(r, Phase.CONNECT, Outcome.TIMEOUT, duration_ms=5000.0)
                for r in routes_for(MX1)
            ],
        ),
        Verdict.FAILED,
        ["all-routes-refused"],
        "5.4.2",
        causes=["port-blocked", "firewall-rules"],
        summary_has=(
            "3 timed out",
            "If other domains time out from here too, suspect your own network's",
        ),
    ),
    Case(
        "ehlo-reset-on-25-only-465-answers",
        lambda: report(
            resolution([MX1]),
            [
                failed(R25, Phase.EHLO, Outcome.RESET),
                failed(R587, Phase.EHLO, Outcome.RESET),
                ok(R465),
            ],
        ),
        # No delivery-port route works: failed, though 587/465 answer.
        Verdict.FAILED,
        ["connection-dropped"],
        "4.4.2",
        ActionKind.RETRY,
        action_has=(
            "Only mx1.example.org[198.51.100.5]:465 answers, but MTAs deliver on port 25 only.",
        ),
    ),
    Case(
        "tls-mismatch-on-25-submission-works",
        lambda: report(
            resolution([MX1]),
            [
                failed(
                    R25,
                    Phase.TLS_HANDSHAKE,
                    Outcome.TLS_FAILURE,
                    detail="no protocols available",
                    tls_reason=TlsReason.PROTOCOL_VERSION,
                ),
                ok(R587),
                ok(R465),
            ],
        ),
        # No delivery-port route works: failed, though 587/465 answer.
        Verdict.FAILED,
        ["tls-mismatch"],
        "5.4.2",
        ActionKind.FIX,
        action_has=(
            "Do not suppress yet: mx1.example.org[198.51.100.5]:587,465 still answers, though "
            "MTAs deliver on port 25 only",
        ),
    ),
    Case(
        "greeting-421-replies-differ-per-address",
        lambda: report(
            resolution([host(addresses=("198.51.100.5", "2001:db8::5"))]),
            [
                failed(
                    R25,
                    Phase.GREETING,
                    Outcome.REPLY,
                    reply_=reply(421, "4.3.2 <unknown[198.51.100.1]>: not accepting"),
                ),
                failed(
                    route(address="2001:db8::5"),
                    Phase.GREETING,
                    Outcome.REPLY,
                    reply_=reply(421, "4.3.2 <unknown[2001:db8::1]>: not accepting"),
                ),
            ],
            ports=(25,),
        ),
        Verdict.FAILED,
        ["greeting-deferred"],
        "4.3.2",
        summary_has=(
            "answered 421 4.3.2 <unknown[198.51.100.1]>: not accepting (and 1 other reply): ",
        ),
        summary_not=("2001:db8::1",),
    ),
    Case(
        "all-unreachable",
        lambda: report(
            resolution([MX1, MX2]),
            [
                failed(r, Phase.CONNECT, Outcome.UNREACHABLE)
                for r in routes_for(MX1) + routes_for(MX2)
            ],
        ),
        Verdict.FAILED,
        ["all-mx-unreachable"],
        "5.4.3",
        ActionKind.FIX,
        causes=["mx-records", "server-shut-down", "infrastructure"],
        steps=[D, H, D, H, D, D, D, D, D, H],
        neighbours=("4.4.3", "5.4.4", "4.4.1"),
    ),
    Case(
        "own-port-25-block",
        lambda: report(
            resolution([MX1, MX2]),
            [failed(route(), Phase.CONNECT, Outcome.TIMEOUT, duration_ms=5000.0)]
            + [ok(R587), ok(R465)]
            + [failed(routes_for(MX2)[0], Phase.CONNECT, Outcome.TIMEOUT, duration_ms=5000.0)]
            + [ok(r) for r in routes_for(MX2)[1:]],
        ),
        Verdict.DEGRADED,
        ["own-port-blocked"],
        None,
        ActionKind.FIX,
        severity=Severity.INFO,
        summary_has=(
            "Port 25 timed out on every MX address (2 routes, no answer to the SYN)",
            "while ports 587, 465 of the same addresses connect",
            "most likely your own network blocks outbound port 25",
            "less likely, example.org's firewall drops it",
            "probing another domain's port 25",
        ),
        action_has=("probe another domain's MX on port 25", "If it connects, example.org"),
        step_results={
            "alternative-ports": "25: timed out (2 routes); 587: works (2 routes); "
            "465: works (2 routes)"
        },
        evidence_ports=frozenset({25, 587, 465}),
    ),
    Case(
        "own-port-25-local-firewall-eperm",
        lambda: report(
            resolution([MX1]),
            [
                failed(
                    R25,
                    Phase.CONNECT,
                    Outcome.ERROR,
                    detail="Operation not permitted",
                    errno=errno.EPERM,
                ),
                ok(R587),
                ok(R465),
            ],
        ),
        Verdict.DEGRADED,
        ["own-port-blocked"],
        None,
        ActionKind.FIX,
        summary_has=("failed on this machine itself", "this says nothing about example.org"),
        summary_not=("less likely",),
    ),
    Case(
        # One domain's port 25 answers with RST (or ICMP port unreachable, which Linux
        # reports as ECONNREFUSED too) while 587/465 work: the destination refuses 25.
        "port-25-refused-by-destination",
        lambda: report(
            resolution([MX1]), [failed(R25, Phase.CONNECT, Outcome.REFUSED), ok(R587), ok(R465)]
        ),
        # No delivery-port route works: failed, though 587/465 answer.
        Verdict.FAILED,
        ["port-blocked"],
        "5.4.2",
        ActionKind.FIX,
        causes=["port-blocked", "firewall-rules"],
        severity=Severity.HARD,
        evidence={"port": 25, "phase": "connect", "outcome": "refused", "error": None},
        summary_has=(
            "Port 25 is refused (TCP RST or ICMP port unreachable) on every MX address (1 route)",
            "while ports 587, 465 on the same addresses work",
            "the destination, or a firewall on its path, refuses port 25",
            "MTAs deliver on port 25 only",
        ),
        summary_not=("your own network blocks", "prober's own"),
        action_has=("open port 25", "Do not suppress on one probe", "Ports 587, 465 answer"),
        step_results={"alternative-ports": "25: refused; 587: works; 465: works"},
        evidence_ports=frozenset({25, 587, 465}),
    ),
    Case(
        "port-25-icmp-admin-prohibited",
        lambda: report(
            resolution([MX1]),
            [
                failed(
                    R25,
                    Phase.CONNECT,
                    Outcome.UNREACHABLE,
                    detail="No route to host",
                    errno=errno.EHOSTUNREACH,
                ),
                ok(R587),
                ok(R465),
            ],
        ),
        # No delivery-port route works: failed, though 587/465 answer.
        Verdict.FAILED,
        ["port-blocked"],
        "5.4.2",
        ActionKind.FIX,
        summary_has=("Port 25 is rejected with an ICMP unreachable on every MX address",),
        summary_not=("your own network blocks",),
    ),
    Case(
        "port-25-timeout-v4-refused-v6",
        lambda: report(
            resolution([host(addresses=("198.51.100.5", "2001:db8::5"))]),
            [
                failed(R25, Phase.CONNECT, Outcome.TIMEOUT, duration_ms=5000.0),
                ok(R587),
                failed(route(address="2001:db8::5"), Phase.CONNECT, Outcome.REFUSED),
                ok(route(address="2001:db8::5", port=587)),
            ],
            ports=(25, 587),
        ),
        # No delivery-port route works: failed, though 587/465 answer.
        Verdict.FAILED,
        ["port-blocked"],
        "5.4.2",
        summary_has=("Port 25 is refused (TCP RST or ICMP port unreachable) or timed out",),
    ),
    Case(
        "destination-port-25-blocked-other-mx-delivers",
        lambda: report(
            resolution([MX1, MX2]),
            [failed(R25, Phase.CONNECT, Outcome.REFUSED), ok(R587), ok(R465)]
            + [ok(r) for r in routes_for(MX2)],
        ),
        Verdict.DEGRADED,
        ["primary-down-secondary-ok", "port-blocked"],
        None,
        ActionKind.FIX,
        causes=["port-blocked", "firewall-rules"],
        focus="port-blocked",
        severity=Severity.INFO,
        summary_has=(
            "Port 25 refused (TCP RST or ICMP port unreachable) on mx1.example.org",
            "but ports 587, 465 of the same address answer",
            "MTAs move on to the next address or MX",
            "no bounce",
        ),
    ),
    Case(
        "mx-no-address-secondary-works",
        lambda: report(
            resolution([host(addresses=(), kind=MxTargetKind.NO_ADDRESS), MX2]),
            [ok(r) for r in routes_for(MX2)],
        ),
        Verdict.DEGRADED,
        ["primary-down-secondary-ok", "mx-no-address"],
        None,
        ActionKind.FIX,
        causes=["dns-invalid", "mx-records"],
        neighbours=("5.4.4", "4.4.1"),
        evidence={"query": "A mx1.example.org", "dns_outcome": "nxdomain"},
        summary_has=(
            "MX target mx1.example.org has no address",
            "another MX works: mx2.example.org",
            "MTAs skip the broken MX and deliver (no bounce)",
        ),
        focus="mx-no-address",
        severity=Severity.INFO,
    ),
    Case(
        "mx-no-address-only",
        lambda: report(
            resolution(
                [
                    host(
                        addresses=(),
                        kind=MxTargetKind.NO_ADDRESS,
                        address_outcome=DnsOutcome.NODATA,
                    )
                ]
            )
        ),
        Verdict.FAILED,
        ["mx-no-address"],
        "5.4.3",
        ActionKind.FIX,
        summary_has=("no other MX works",),
    ),
    Case(
        "mx-ip-literal",
        lambda: report(
            resolution([host("198.51.100.9", addresses=(), kind=MxTargetKind.IP_LITERAL)])
        ),
        Verdict.FAILED,
        ["mx-no-address"],
        "5.4.3",
        causes=["dns-invalid", "mx-records", "configuration"],
        evidence={"target_kind": "ip-literal"},
    ),
    Case(
        "mx-cname",
        lambda: report(
            resolution([host(kind=MxTargetKind.CNAME)]), [ok(r) for r in routes_for(MX1)]
        ),
        Verdict.DEGRADED,
        ["mx-cname"],
        None,
        ActionKind.FIX,
    ),
    Case(
        "mx-lookup-servfail",
        lambda: report(
            resolution(
                [
                    host(
                        addresses=(),
                        kind=MxTargetKind.LOOKUP_FAILED,
                        address_outcome=DnsOutcome.SERVFAIL,
                    )
                ]
            )
        ),
        Verdict.FAILED,
        ["mx-lookup-failed"],
        "4.4.3",
        ActionKind.RETRY,
        neighbours=("5.4.3",),
    ),
    Case(
        # Mail is deliverable: the leading finding says so, and says it once (it
        # suppresses mx-down, which would repeat that the primary accepts nothing).
        "primary-down-secondary-ok",
        lambda: report(
            resolution([MX1, MX2]),
            [failed(r, Phase.CONNECT, Outcome.TIMEOUT, duration_ms=5000.0) for r in routes_for(MX1)]
            + [ok(r) for r in routes_for(MX2)],
        ),
        Verdict.DEGRADED,
        ["primary-down-secondary-ok"],
        None,
        ActionKind.FIX,
        severity=Severity.INFO,
        summary_has=(
            "The primary MX (mx1.example.org) fails on port 25 (timed out), but the secondary "
            "(mx2.example.org) works: mail is still deliverable.",
            "senders see no bounce",
            "One probe cannot tell whether the primary's failure is transient or permanent",
        ),
        action_has=("do not suppress",),
    ),
    Case(
        "primary-down-secondary-ok-refused-one-finding",
        lambda: report(
            resolution([MX1, MX2]),
            [failed(r, Phase.CONNECT, Outcome.REFUSED) for r in routes_for(MX1)]
            + [ok(r) for r in routes_for(MX2)],
        ),
        Verdict.DEGRADED,
        ["primary-down-secondary-ok"],
        None,
        ActionKind.FIX,
        severity=Severity.INFO,
    ),
    Case(
        "primary-drops-secondary-ok",
        lambda: report(
            resolution([MX1, MX2]),
            [failed(r, Phase.GREETING, Outcome.CLOSED) for r in routes_for(MX1)]
            + [ok(r) for r in routes_for(MX2)],
        ),
        Verdict.DEGRADED,
        ["primary-down-secondary-ok", "connection-dropped"],
        None,
        ActionKind.NONE,
        summary_has=("fails on port 25 (closed in greeting)",),
    ),
    Case(
        # MTAs skip a 5xx greeting and try the next MX (Postfix smtp_skip_5xx_greeting):
        # a hard code that bounces nothing while the secondary delivers.
        "greeting-554-on-primary-secondary-delivers",
        lambda: report(
            resolution([MX1, MX2]),
            [
                failed(r, Phase.GREETING, Outcome.REPLY, reply_=reply(554, "5.7.1 go away"))
                for r in routes_for(MX1)
            ]
            + [ok(r) for r in routes_for(MX2)],
        ),
        Verdict.DEGRADED,
        ["primary-down-secondary-ok", "server-rejected"],
        None,
        ActionKind.FIX,
        focus="server-rejected",
        severity=Severity.INFO,
        title="Delivery not authorized, message refused",
        action_has=("Do not suppress: mail is still deliverable via mx2.example.org",),
    ),
    Case(
        "tls-mismatch-one-address-other-delivers",
        lambda: report(
            resolution([host(addresses=("198.51.100.5", "198.51.100.9"))]),
            [
                failed(
                    R25,
                    Phase.TLS_HANDSHAKE,
                    Outcome.TLS_FAILURE,
                    detail="no protocols available",
                    tls_reason=TlsReason.PROTOCOL_VERSION,
                ),
                ok(route(address="198.51.100.9")),
            ],
            ports=(25,),
        ),
        Verdict.DEGRADED,
        ["tls-mismatch"],
        None,
        ActionKind.FIX,
        severity=Severity.INFO,
        title="Bad connection",
    ),
    Case(
        "two-mx-down-third-delivers",
        lambda: report(
            resolution([MX1, MX2, host("mx3.example.org", 30, ("198.51.100.7",), rank=3)]),
            [failed(r, Phase.CONNECT, Outcome.REFUSED) for r in routes_for(MX1) + routes_for(MX2)]
            + [ok(r) for r in routes_for(host("mx3.example.org", 30, ("198.51.100.7",), rank=3))],
        ),
        Verdict.DEGRADED,
        ["primary-down-secondary-ok", "mx-down"],
        None,
        focus="mx-down",
        summary_has=(
            "MX hosts mx1.example.org, mx2.example.org accept no connection",
            "(mx3.example.org)",
        ),
        summary_not=("accepts",),
    ),
    Case(
        "all-hosts-mixed-failures",
        lambda: report(
            resolution([MX1, MX2]),
            [failed(r, Phase.CONNECT, Outcome.REFUSED) for r in routes_for(MX1)]
            + [failed(r, Phase.GREETING, Outcome.CLOSED) for r in routes_for(MX2)],
        ),
        Verdict.FAILED,
        ["connection-dropped", "mx-down"],
        "4.4.2",
    ),
    Case(
        "starttls-not-offered",
        lambda: report(resolution([MX1]), [ok(R25, starttls_offered=False), ok(R587), ok(R465)]),
        Verdict.DEGRADED,
        ["starttls-not-offered"],
        "4.7.4",
        ActionKind.FIX,
        evidence={"port": 25, "phase": "ehlo", "note": "EHLO keywords: PIPELINING"},
    ),
    Case(
        "cert-unverified-but-works",
        lambda: report(
            resolution([MX1]),
            [
                ok(
                    r,
                    tls_info=tls(
                        verified=False, verify_error="unable to get local issuer certificate"
                    ),
                )
                for r in routes_for(MX1)
            ],
        ),
        Verdict.DEGRADED,
        ["tls-cert-unverified"],
        "4.7.5",
        ActionKind.FIX,
        summary_has=("unable to get local issuer certificate", "verify certificates"),
    ),
    Case(
        "cert-expiring",
        lambda: report(
            resolution([MX1]),
            [ok(r, tls_info=tls(certificate=cert(days_left=5))) for r in routes_for(MX1)],
        ),
        Verdict.HEALTHY,
        ["healthy", "cert-expiring"],
        None,
    ),
    Case(
        "submission-ports-closed",
        lambda: report(
            resolution([MX1]),
            [
                ok(R25),
                failed(R587, Phase.CONNECT, Outcome.REFUSED),
                failed(R465, Phase.CONNECT, Outcome.REFUSED),
            ],
        ),
        Verdict.HEALTHY,
        ["healthy", "alt-ports-failing"],
        None,
    ),
    Case(
        "nothing-probed",
        lambda: report(resolution([host(addresses=(), address_outcome=DnsOutcome.OK)])),
        Verdict.UNKNOWN,
        ["nothing-probed"],
        None,
        ActionKind.FIX,
    ),
    # ---- -4/-6 against an MX with addresses only in the other family: not probed, no
    # fault of the domain's (the resolve stage asks A and AAAA whatever the filter).
    Case(
        "ipv4-filter-ipv6-only-mx-nothing-probed",
        lambda: only_family(V4, resolution([MX1_V6]), []),
        Verdict.UNKNOWN,
        ["nothing-probed"],
        None,
        ActionKind.FIX,
        severity=Severity.INFO,
        summary_has=(
            "No route to example.org was probed: the MX has only IPv6 addresses, and -4 was given.",
            "says nothing about whether the domain accepts mail",
        ),
        summary_not=("5.4.3", "does not exist", "deadline"),
        action_has=("without -4/-6",),
        evidence={"mx": "mx1.example.org"},
    ),
    Case(
        "ipv6-filter-ipv4-only-mxs-nothing-probed",
        lambda: only_family(V6, resolution([MX1, MX2]), []),
        Verdict.UNKNOWN,
        ["nothing-probed"],
        None,
        summary_has=("every MX has only IPv4 addresses, and -6 was given",),
    ),
    Case(
        "ipv4-filter-ipv6-only-secondary-primary-works",
        lambda: only_family(V4, resolution([MX1, MX2_V6]), [ok(r) for r in routes_for(MX1)]),
        Verdict.HEALTHY,
        ["healthy", "family-filtered"],
        None,
        focus="family-filtered",
        severity=Severity.INFO,
        summary_has=("mx2.example.org: not probed: only IPv6 addresses, and -4 was given",),
        summary_not=("5.4.3",),
        title="MX not probed (address family filter)",
    ),
    Case(
        # Without the filter rule's exclusion this read as "primary down".
        "ipv4-filter-ipv6-only-primary-secondary-works",
        lambda: only_family(V4, resolution([MX1_V6, MX2]), [ok(r) for r in routes_for(MX2)]),
        Verdict.HEALTHY,
        ["healthy", "family-filtered"],
        None,
        focus="family-filtered",
        summary_has=("mx1.example.org: not probed: only IPv6 addresses, and -4 was given",),
    ),
    Case(
        "ipv6-filter-ipv4-only-mx-other-mx-refused",
        lambda: only_family(
            V6,
            resolution([MX1, MX2_V6]),
            [failed(r, Phase.CONNECT, Outcome.REFUSED) for r in routes_for(MX2_V6)],
        ),
        Verdict.FAILED,
        ["mx-not-listening", "family-filtered"],
        "5.4.3",
        ActionKind.FIX,
        action_has=("Do not suppress yet: mx1.example.org was not probed (-4/-6)",),
        summary_has=(
            "Not probed: mx1.example.org (only IPv4 addresses, and -6 was given), so this "
            "says nothing about it.",
        ),
    ),
    Case(
        "ipv4-filter-mx-down-other-not-probed",
        lambda: only_family(
            V4,
            resolution([MX1, host("mx3.example.org", 10, ("198.51.100.7",)), MX2_V6]),
            [failed(r, Phase.CONNECT, Outcome.REFUSED) for r in routes_for(MX1)]
            + [ok(r) for r in routes_for(host("mx3.example.org", 10, ("198.51.100.7",)))],
        ),
        Verdict.DEGRADED,
        ["mx-down", "family-filtered"],
        None,
        summary_not=("mx2.example.org",),
    ),
    Case(
        "ipv4-filter-no-address-mx-and-ipv6-only-mx",
        lambda: only_family(
            V4,
            resolution([host("gone.example.org", 10, (), MxTargetKind.NO_ADDRESS), MX2_V6]),
            [],
        ),
        Verdict.FAILED,
        ["mx-no-address", "family-filtered"],
        "5.4.3",
        ActionKind.FIX,
        summary_has=(
            "gone.example.org has no address",
            "no other probed MX works (mx2.example.org not probed: -4/-6)",
        ),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_rule_case(case: Case) -> None:
    d = diagnose(case.build(), now=NOW)
    assert [f.rule for f in d.findings] == case.rules
    assert d.verdict is case.verdict
    assert d.primary == case.primary
    assert d.generated_at == "2026-01-01T12:00:00Z"
    first = d.findings[0] if case.focus is None else _by_rule(d, case.focus)
    rule = next((r for r in RULES if r.id == first.rule), None)
    if rule is not None and isinstance(rule.code, ServerOwn):
        assert first.code in (rule.seed_code, first.payload.server_code)
    elif rule is not None and isinstance(rule.code, Enforced):
        assert first.code in (rule.code.code, None)
    else:
        assert first.code == (rule.code if rule else None)
    if case.severity is not None:
        assert first.severity is case.severity
    if case.title is not None:
        assert first.title == case.title
    for text in case.summary_not:
        assert text not in first.summary, (text, first.summary)
    for text in case.action_has:
        assert text in first.action.summary, (text, first.action.summary)
    steps = {s.id.split("/", 1)[1]: s for s in first.steps}
    for slug, result in case.step_results.items():
        assert steps[slug].status is StepStatus.DONE and steps[slug].result == result, slug
    if case.evidence_ports is not None:
        assert {e.port for e in first.evidence if e.port is not None} == case.evidence_ports
    # The renderer cuts paragraphs at 400 characters: summaries and actions fit.
    for f in d.findings:
        assert len(f.summary) <= 400 and len(f.action.summary) <= 400, f.rule
    # No finding of a domain that still delivers on the delivery port says "suppress".
    if d.verdict is Verdict.DEGRADED:
        assert all(f.action.kind is not ActionKind.SUPPRESS for f in d.findings)
    if case.action is not None:
        assert first.action.kind is case.action
    if case.causes is not None:
        assert first.code is not None
        seed = first.cause_ids[0].split("/", 1)[0] if first.cause_ids else first.code
        assert first.cause_ids == tuple(f"{seed}/{c}" for c in case.causes)
        assert first.causes == _cause_text(seed, case.causes)
    if case.steps is not None:
        assert [s.status for s in first.steps] == case.steps
        for s in first.steps:
            assert (s.result is not None) == (s.status is StepStatus.DONE), s.id
    if case.schedule is not None:
        assert tuple(a.offset_s for a in first.action.schedule) == case.schedule
        assert first.action.schedule[-1].final
    if case.neighbours is not None:
        assert first.neighbours == case.neighbours
    for key, value in case.evidence.items():
        assert getattr(first.evidence[0], key) == value, key
    for text in case.summary_has:
        assert text in first.summary, (text, first.summary)


def _by_rule(d: Diagnosis, rule: str) -> Finding:
    return next(f for f in d.findings if f.rule == rule)


def test_retry_times_are_concrete_from_now() -> None:
    d = diagnose(only25(Phase.GREETING, Outcome.CLOSED), now=NOW)
    sched = d.findings[0].action.schedule
    assert [a.at for a in sched] == [
        "2026-01-01T12:30:00Z",
        "2026-01-01T13:30:00Z",
        "2026-01-01T15:30:00Z",
        "2026-01-01T19:30:00Z",
        "2026-01-02T19:30:00Z",
    ]
    assert [a.after_previous_s for a in sched] == [1800, 3600, 7200, 14400, 86400]
    d432 = diagnose(only25(Phase.GREETING, Outcome.REPLY, reply_=reply(421, "4.3.2 busy")), now=NOW)
    a = d432.findings[0].action
    assert [x.at for x in a.schedule][-1] == "2026-01-03T05:00:00Z"
    assert a.after_schedule is not None and "temporarily" in a.after_schedule


def test_542_steps_results_name_what_the_probe_did() -> None:
    rep = report(
        resolution([MX1]),
        [
            failed(r, Phase.CONNECT, Outcome.REFUSED if r.port != 465 else Outcome.TIMEOUT)
            for r in routes_for(MX1)
        ],
    )
    f = diagnose(rep, now=NOW).findings[0]
    steps = {s.id: s for s in f.steps}
    assert steps["5.4.2/test-connection"].result is not None
    assert steps["5.4.2/test-connection"].result.startswith(
        "connect to mx1.example.org[198.51.100.5]:25 refused in 0.4 ms"
    )
    assert steps["5.4.2/alternative-ports"].result == "25: refused; 587: refused; 465: timed out"
    assert steps["5.4.2/contact-support"].status is StepStatus.HUMAN
    assert steps["5.4.2/check-ip-block"].status is StepStatus.HUMAN
    assert "persistence: a single probe cannot tell" in (f.evidence[-1].note or "")
    assert "smtpdiag watch" in f.action.summary


def test_ip_block_step_done_when_reply_says_so() -> None:
    rep = only25(
        Phase.GREETING, Outcome.REPLY, reply_=reply(554, "5.7.1 Your IP is listed on a blocklist")
    )
    f = diagnose(rep, now=NOW).findings[0]
    step = next(s for s in f.steps if s.id == "5.4.2/check-ip-block")
    assert step.status is StepStatus.DONE
    assert step.result == (
        "mx1.example.org[198.51.100.5]:25 said: 554 5.7.1 Your IP is listed on a blocklist"
    )


def test_tls_mismatch_evidence_carries_cert_facts() -> None:
    rep = only25(
        Phase.TLS_HANDSHAKE,
        Outcome.TLS_FAILURE,
        detail="certificate verify failed: certificate has expired",
        tls_reason=TlsReason.CERT_EXPIRED,
        tls_info=TlsInfo(certificate=cert(days_left=-3), verify_error="certificate has expired"),
    )
    f = diagnose(rep, now=NOW).findings[0]
    assert f.evidence[0].note == (
        "the certificate fails the handshake: the certificate has expired (or is not yet valid)"
    )
    facts = [e.note for e in f.evidence if (e.note or "").startswith("certificate: ")]
    assert len(facts) == 1  # once per certificate, not per route
    assert "subject CN=mx1.example.org" in facts[0] and "expired 3 days ago" in facts[0]
    assert f.evidence[0].error == "certificate verify failed: certificate has expired"


def test_dns_failure_is_never_hard() -> None:
    for outcome in (DnsOutcome.SERVFAIL, DnsOutcome.TIMEOUT, DnsOutcome.REFUSED, DnsOutcome.ERROR):
        d = diagnose(report(resolution(kind=ResolutionKind.FAILED, mx_outcome=outcome)), now=NOW)
        assert all(f.severity is not Severity.HARD for f in d.findings)
        # The factory names no nameserver for a timeout or an error (nobody replied);
        # SERVFAIL and REFUSED are answers.
        answered = outcome in (DnsOutcome.SERVFAIL, DnsOutcome.REFUSED)
        # No answer at all: the probe could not run - no code, verdict unknown.
        assert d.primary == ("4.4.3" if answered else None)
        assert d.verdict is (Verdict.FAILED if answered else Verdict.UNKNOWN)


# --------------------------------------------------------------------- coverage


_REPLIES = {
    Phase.GREETING: [reply(421, "busy"), reply(450, "later"), reply(554, "go away")],
    Phase.EHLO: [reply(421, "busy"), reply(451, "later")],
    Phase.HELO: [reply(421, "x"), reply(550, "no")],
    Phase.STARTTLS: [reply(421, "x"), reply(454, "x"), reply(554, "x")],
    Phase.EHLO_TLS: [reply(421, "x"), reply(550, "x")],
    Phase.TLS_HANDSHAKE: [reply(421, "x")],
    Phase.CONNECT: [reply(421, "x")],
}


def _coverage_cases() -> list[tuple[int, Phase, Outcome, int | None]]:
    out = []
    for port in (25, 465):
        for phase in Phase:
            if phase is Phase.QUIT:
                continue
            if port == 465 and phase in (Phase.STARTTLS, Phase.EHLO_TLS):
                continue
            for outcome in Outcome:
                if outcome is Outcome.OK:
                    continue
                if outcome is Outcome.REPLY:
                    for r in _REPLIES[phase]:
                        out.append((port, phase, outcome, r.code))
                else:
                    out.append((port, phase, outcome, None))
    return out


@pytest.mark.parametrize(("port", "phase", "outcome", "code"), _coverage_cases())
def test_every_phase_outcome_yields_a_coded_finding(
    port: int, phase: Phase, outcome: Outcome, code: int | None
) -> None:
    rt = route(port=port)
    r = reply(code, "x") if code is not None else None
    rep = report(
        resolution([MX1]), [failed(rt, phase, outcome, reply_=r, detail="x")], ports=(port,)
    )
    state, _ = classify(rep.routes[0])
    assert state is not RouteState.OK
    d = diagnose(rep, now=NOW)
    if outcome is Outcome.NOT_ATTEMPTED:
        # Never attempted: no evidence against the server, nothing verified.
        assert state is RouteState.SKIPPED
        assert d.verdict is Verdict.UNKNOWN and d.primary is None
        assert [f.rule for f in d.findings] == ["nothing-probed", "routes-not-attempted"]
        return
    assert d.verdict is Verdict.FAILED
    assert d.findings and d.findings[0].code is not None, (state, d.findings)
    assert d.primary == d.findings[0].code


@pytest.mark.parametrize("kind", list(ResolutionKind))
def test_every_resolution_kind_is_covered(kind: ResolutionKind) -> None:
    hosts = [MX1] if kind in (ResolutionKind.MX, ResolutionKind.IMPLICIT) else []
    routes = [ok(r) for r in routes_for(MX1)] if hosts else []
    d = diagnose(report(resolution(hosts, kind=kind), routes), now=NOW)
    assert d.findings


@pytest.mark.parametrize("kind", list(MxTargetKind))
def test_every_mx_target_kind_is_covered(kind: MxTargetKind) -> None:
    probed = kind in (MxTargetKind.HOSTNAME, MxTargetKind.CNAME)
    h = host(
        addresses=("198.51.100.5",) if probed else (),
        kind=kind,
        address_outcome=DnsOutcome.SERVFAIL if kind is MxTargetKind.LOOKUP_FAILED else None,
    )
    routes = [ok(r) for r in routes_for(h)] if probed else []
    d = diagnose(report(resolution([h]), routes), now=NOW)
    assert d.findings
    if kind is not MxTargetKind.HOSTNAME:
        # An alias MX target is delivered to (no code, issue 18): a misconfiguration.
        assert (d.findings[0].code is None) is (kind is MxTargetKind.CNAME)
        assert d.verdict is not Verdict.HEALTHY


def test_rule_ids_unique_and_table_documented() -> None:
    from smtpdiag.diagnosis.rules import RULE_TABLE_DOC

    ids = [r.id for r in RULES]
    assert len(ids) == len(set(ids))
    for r in RULES:
        code = r.code if isinstance(r.code, str) or r.code is None else None
        assert f"| {r.id} | {code or ''}" in RULE_TABLE_DOC
    assert "failed = no delivery-port route works, even if 587/465 answer" in RULE_TABLE_DOC
    seeds = {r.seed_code for r in RULES}
    assert {"4.4.2", "5.4.2", "4.3.2", "5.4.3", "4.4.3", "5.1.10"} <= seeds


def test_evidence_is_capped() -> None:
    addrs = tuple(f"198.51.100.{i}" for i in range(1, 40))
    h = host(addresses=addrs)
    rep = report(
        resolution([h]), [failed(r, Phase.CONNECT, Outcome.REFUSED) for r in routes_for(h)]
    )
    f = diagnose(rep, now=NOW).findings[0]
    assert len(f.evidence) == 24
    assert (f.evidence[-1].note or "").startswith("... and ")


def test_naive_now_is_utc_and_default_now_works() -> None:
    rep = only25(Phase.GREETING, Outcome.CLOSED)
    d = diagnose(rep, now=datetime(2026, 1, 1, 12, 0))
    assert d.generated_at == "2026-01-01T12:00:00Z"
    assert diagnose(rep).generated_at.endswith("Z")


def test_persistence_field_defaults_to_unknown_without_history() -> None:
    d = diagnose(only25(Phase.CONNECT, Outcome.REFUSED), now=NOW)
    assert d.persistence is Persistence.UNKNOWN
    assert d.findings[0].persistence is Persistence.UNKNOWN


def test_host_names_in_replies_do_not_match_cause_words() -> None:
    rep = only25(
        Phase.GREETING,
        Outcome.REPLY,
        reply_=reply(421, "4.3.2 mx.busy.example Service not available, closing channel"),
    )
    f = diagnose(rep, now=NOW).findings[0]
    assert len(f.causes) == 3  # nothing stated: all three seed causes, none "matched"
    assert "does not say why" in f.summary


def test_routes_are_grouped_by_address_in_summaries() -> None:
    mx3 = host("mx3.example.org", 30, ("198.51.100.7",), rank=3)
    rep = report(
        resolution([MX1, MX2, mx3]),
        [failed(r, Phase.CONNECT, Outcome.REFUSED) for r in routes_for(MX1) + routes_for(MX2)]
        + [ok(r) for r in routes_for(mx3)],
    )
    f = _by_rule(diagnose(rep, now=NOW), "mx-down")
    step = next(s for s in f.steps if s.id == "5.4.3/alternative-routes")
    assert step.result == "working routes: mx3.example.org[198.51.100.7]:25,587,465"
    assert "MX hosts mx1.example.org, mx2.example.org accept no connection" in f.summary


def test_port_blocked_names_working_alternatives_only() -> None:
    h2 = host("mx2.example.org", 20, ("198.51.100.6",), rank=2)
    rep = report(
        resolution([MX1, h2]),
        [
            failed(R25, Phase.CONNECT, Outcome.REFUSED),
            failed(R587, Phase.GREETING, Outcome.CLOSED),
            failed(R465, Phase.CONNECT, Outcome.REFUSED),
        ]
        + [ok(r) for r in routes_for(h2)],
    )
    d = diagnose(rep, now=NOW)
    f = next(x for x in d.findings if x.rule == "port-blocked")
    assert "but they fail as well" in f.summary
    assert [x.rule for x in d.findings] == [
        "primary-down-secondary-ok",
        "connection-dropped",
        "port-blocked",
    ]


def test_no_local_ipv6_is_not_blamed_on_the_destination() -> None:
    h = host(addresses=("198.51.100.5", "2001:db8::5"))
    v4 = [r for r in routes_for(h) if ":" not in r.address]
    v6 = [r for r in routes_for(h) if ":" in r.address]
    rep = report(
        resolution([h]),
        [ok(r) for r in v4]
        + [
            failed(
                r,
                Phase.CONNECT,
                Outcome.UNREACHABLE,
                detail="[Errno 101] Network is unreachable",
                errno=errno.ENETUNREACH,
            )
            for r in v6
        ],
    )
    d = diagnose(rep, now=NOW)
    assert [f.rule for f in d.findings] == ["healthy", "no-ipv6-here"]
    assert d.verdict is Verdict.HEALTHY and d.primary is None


def test_remote_ipv6_unreachable_is_a_degraded_family_not_a_firewall() -> None:
    h = host(addresses=("198.51.100.5", "2001:db8::5"))
    v4 = [r for r in routes_for(h) if ":" not in r.address]
    v6 = [r for r in routes_for(h) if ":" in r.address]
    rep = report(
        resolution([h]),
        [ok(r) for r in v4]
        + [
            failed(
                r,
                Phase.CONNECT,
                Outcome.UNREACHABLE,
                detail="[Errno 113] No route to host",
                errno=errno.EHOSTUNREACH,
            )
            for r in v6
        ],
    )
    d = diagnose(rep, now=NOW)
    # One family unreachable while the other delivers: a degraded IPv6 path, never a
    # 5.4.2 firewall finding and never the primary code of a deliverable domain.
    assert [f.rule for f in d.findings] == ["family-unreachable"]
    assert d.verdict is Verdict.DEGRADED and d.primary is None
    f = d.findings[0]
    assert f.code is None and f.severity is Severity.INFO
    assert "IPv6" in f.title and "no route to host" in f.summary
    assert "firewall" not in f.summary


def test_readme_carries_the_rule_table() -> None:
    from pathlib import Path

    from smtpdiag.diagnosis.table import RULE_TABLE_DOC
    from smtpdiag.model import RuleId

    readme = (Path(__file__).parents[3] / "README.md").read_text(encoding="utf-8")
    assert RULE_TABLE_DOC in readme, "regenerate the README rule table from RULE_TABLE_DOC"
    assert all(f"| {r.value} |" in RULE_TABLE_DOC for r in RuleId)
