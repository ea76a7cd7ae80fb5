"""In-memory ProbeReports for the report tests: one function per scenario.

Everything is deterministic (fixed instants, fixed durations) so renderings can be
compared with golden files. Addresses are documentation ranges (RFC 5737, RFC 3849).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from functools import partial

import factories as shared
from factories import route_to
from smtpdiag.model import (
    Action,
    ActionKind,
    AddressFamily,
    CertInfo,
    DaneState,
    Diagnosis,
    DnsOutcome,
    Evidence,
    Finding,
    MxHost,
    MxTargetKind,
    Outcome,
    Persistence,
    Phase,
    PhaseRecord,
    ProbeReport,
    Resolution,
    ResolutionKind,
    RetryAttempt,
    Route,
    RouteResult,
    RuleId,
    Severity,
    SmtpReply,
    Step,
    StepStatus,
    TlsInfo,
    TlsMode,
    Verdict,
)

__all__ = [
    "NOW",
    "SCENARIOS",
    "STARTED_AT",
    "cert",
    "dead_primary",
    "greeting_421",
    "handmade_diagnosis_421",
    "healthy",
    "hostile",
    "implicit_mx",
    "mx_no_address",
    "null_mx",
    "nxdomain",
    "probe_report",
    "route_result",
    "servfail",
    "tls_mismatch",
    "tls_policy",
]

STARTED_AT = "2026-11-23T06:00:00Z"
#: The diagnosis instant retry times are counted from (probe start + 2 s).
NOW = "2026-11-23T06:00:02Z"
PORTS = (25, 587, 465)
#: Every DNS query of these scenarios takes this long, ms.
_DNS_MS = 1.214

# Fixed phase durations (ms): plausible for a server on the same continent.
_DUR = {
    Phase.CONNECT: 21.437,
    Phase.GREETING: 48.912,
    Phase.EHLO: 22.05,
    Phase.HELO: 22.1,
    Phase.STARTTLS: 21.8,
    Phase.TLS_HANDSHAKE: 66.25,
    Phase.EHLO_TLS: 22.4,
    Phase.QUIT: 21.9,
}
#: Idle time between two phases, ms.
_GAP_MS = 0.113

_EXTENSIONS = ("PIPELINING", "SIZE 52428800", "8BITMIME", "ENHANCEDSTATUSCODES", "SMTPUTF8")


def cert(
    host: str,
    *,
    sans: Sequence[str] | None = None,
    issuer: str = "CN=Example Issuing CA R3,O=Example Trust,C=US",
    days_left: int = 61,
    not_after: str = "2027-01-23T12:00:00Z",
) -> CertInfo:
    """A leaf certificate for ``host``."""
    return shared.cert(
        days_left,
        f"CN={host}",
        issuer,
        sans if sans is not None else (host,),
        serial="4a1f0c9e2b7d33e1",
        not_before="2026-10-25T12:00:00Z",
        not_after=not_after,
        sha256=":".join(["5e", "a7", "19", "c0"] * 8),
    )


def _tls_ok(host: str) -> TlsInfo:
    return shared.tls(certificate=cert(host))


#: One DNS query: ``q(name, rdtype, answers, outcome, detail, nameserver)``.
q = partial(shared.dns_query, duration_ms=_DNS_MS)


#: An MX host whose A/AAAA queries answered with ``addresses``:
#: ``mx_host(name, preference, addresses, *, rank=1, kind=HOSTNAME)``.
mx_host = partial(shared.mx_host, dns_ms=_DNS_MS)


def route_result(
    route: Route,
    *,
    fail: Phase | None = None,
    outcome: Outcome = Outcome.OK,
    reply: SmtpReply | None = None,
    detail: str | None = None,
    error_type: str | None = None,
    fail_ms: float | None = None,
    starttls_offered: bool = True,
    tls: TlsInfo | None = None,
    banner: str | None = None,
    quit_after_failure: bool = False,
) -> RouteResult:
    """A route probe that runs the normal phase sequence and stops at ``fail``.

    ``fail`` names the phase that ends with ``outcome`` (and ``reply``/``detail``);
    ``None`` means every phase succeeds. Durations come from a fixed table.
    """
    host = route.mx
    implicit = route.tls_mode is TlsMode.IMPLICIT
    seq = (*shared.phase_order(route.tls_mode, starttls_offered), Phase.QUIT)
    ok_replies = {
        Phase.GREETING: SmtpReply(220, None, banner or f"{host} ESMTP ready"),
        Phase.EHLO: SmtpReply(250, None, f"{host}\n" + "\n".join(_EXTENSIONS)),
        Phase.STARTTLS: SmtpReply(220, "2.0.0", "Ready to start TLS"),
        Phase.EHLO_TLS: SmtpReply(250, None, f"{host}\n" + "\n".join(_EXTENSIONS)),
        Phase.QUIT: SmtpReply(221, "2.0.0", "Bye"),
    }
    failure = None
    if fail is not None:
        ms = fail_ms if fail_ms is not None else _DUR[fail]
        failure = PhaseRecord(fail, outcome, 0.0, ms, reply, detail, error_type)
    phases, t = shared.run_phases(
        seq,
        _DUR,
        failure=failure,
        then=(Phase.QUIT,) if quit_after_failure and fail is not Phase.QUIT else (),
        replies=ok_replies,
        gap=_GAP_MS,
        ndigits=3,
    )

    greeting = next((p for p in phases if p.phase is Phase.GREETING), None)
    ok = fail is None
    ehlo_done = any(p.phase is Phase.EHLO and p.ok for p in phases)
    if tls is None and any(p.phase is Phase.TLS_HANDSHAKE for p in phases):
        if fail is Phase.TLS_HANDSHAKE:
            tls = TlsInfo(verify_error=None, hostname_match=None)
        else:
            tls = _tls_ok(host)
    return RouteResult(
        route=route,
        phases=tuple(phases),
        ok=ok,
        banner=greeting.reply.text if greeting and greeting.reply else None,
        extensions=_EXTENSIONS if ehlo_done else (),
        starttls_offered=None if implicit or not ehlo_done else starttls_offered,
        tls=tls,
        total_ms=round(t, 3),
        started_at=STARTED_AT,
    )


def _refused(route: Route, fail_ms: float) -> RouteResult:
    """Nothing listens on the port: the connection is refused after ``fail_ms``."""
    return route_result(
        route,
        fail=Phase.CONNECT,
        outcome=Outcome.REFUSED,
        detail="connection refused",
        error_type="ConnectionRefusedError",
        fail_ms=fail_ms,
    )


def probe_report(
    domain: str,
    resolution: Resolution,
    routes: Sequence[RouteResult],
    *,
    duration_ms: float | None = None,
    ports: tuple[int, ...] = PORTS,
) -> ProbeReport:
    """Wrap a resolution and route results into a report (no diagnosis)."""
    longest = max((r.total_ms for r in routes), default=0.0)
    return ProbeReport(
        domain=domain,
        resolution=resolution,
        routes=tuple(routes),
        started_at=STARTED_AT,
        duration_ms=duration_ms
        if duration_ms is not None
        else round(resolution.duration_ms + longest, 3),
        ports=ports,
        families=(AddressFamily.IPV4, AddressFamily.IPV6),
        tool_version="0.1.0",
    )


def _resolution(domain: str, hosts: Sequence[MxHost], mx_answers: Sequence[str]) -> Resolution:
    mx = q(domain, "MX", mx_answers)
    queries = (mx, *[qq for h in hosts for qq in h.queries])
    return Resolution(
        domain=domain,
        kind=ResolutionKind.MX,
        mx_query=mx,
        hosts=tuple(hosts),
        queries=queries,
        duration_ms=round(sum(qq.duration_ms for qq in queries), 3),
    )


def _all_ok(hosts: Sequence[MxHost], ports: Sequence[int] = PORTS) -> list[RouteResult]:
    return [route_result(route_to(h, a, p)) for h in hosts for a in h.addresses for p in ports]


# ----------------------------------------------------------------------- scenarios


def healthy() -> ProbeReport:
    """One MX with an IPv4 and an IPv6 address; all six routes work with TLS 1.3."""
    mx1 = mx_host("mx1.healthy.example", 10, ["198.51.100.10", "2001:db8::10"])
    res = _resolution("healthy.example", [mx1], ["10 mx1.healthy.example"])
    return probe_report("healthy.example", res, _all_ok([mx1]))


def dead_primary() -> ProbeReport:
    """The preferred MX drops SYNs (connect timeout) on every port; the backup MX works."""
    mx1 = mx_host("mx1.deadprimary.example", 10, ["198.51.100.21"])
    mx2 = mx_host("mx2.deadprimary.example", 20, ["198.51.100.22"], rank=2)
    res = _resolution(
        "deadprimary.example",
        [mx1, mx2],
        ["10 mx1.deadprimary.example", "20 mx2.deadprimary.example"],
    )
    dead = [
        route_result(
            route_to(mx1, "198.51.100.21", p),
            fail=Phase.CONNECT,
            outcome=Outcome.TIMEOUT,
            detail="connect timed out after 5.0 s",
            error_type="TimeoutError",
            fail_ms=5000.912,
        )
        for p in PORTS
    ]
    return probe_report("deadprimary.example", res, [*dead, *_all_ok([mx2])])


def greeting_421() -> ProbeReport:
    """The only MX answers every connection with a postscreen-style 421 4.3.2 greeting."""
    mx1 = mx_host("mx.busy.example", 10, ["198.51.100.31"])
    res = _resolution("busy.example", [mx1], ["10 mx.busy.example"])
    reply = SmtpReply(421, "4.3.2", "4.3.2 Service currently unavailable, too many connections")
    routes = [
        route_result(
            route_to(mx1, "198.51.100.31", p),
            fail=Phase.GREETING,
            outcome=Outcome.REPLY,
            reply=reply,
            detail="421 greeting",
            # On 465 the TLS handshake comes first and succeeds; the 421 follows.
        )
        for p in PORTS
    ]
    return probe_report("busy.example", res, routes)


def tls_mismatch() -> ProbeReport:
    """STARTTLS works, but the certificate is self-signed and names another host."""
    mx1 = mx_host("mx.badcert.example", 10, ["198.51.100.41"])
    res = _resolution("badcert.example", [mx1], ["10 mx.badcert.example"])
    bad = shared.tls(
        verified=False,
        verify_error="self-signed certificate (X509 error 18)",
        hostname_match=False,
        certificate=cert(
            "localhost.localdomain",
            sans=("localhost.localdomain", "localhost"),
            issuer="CN=localhost.localdomain",
            days_left=-12,
            not_after="2026-11-11T08:30:00Z",
        ),
        cipher="TLS_AES_128_GCM_SHA256",
        cipher_bits=128,
        chain_length=1,
    )
    routes = [route_result(route_to(mx1, "198.51.100.41", p), tls=bad) for p in (25, 587)]
    # Implicit TLS on 465 is not listening at all.
    routes.append(_refused(route_to(mx1, "198.51.100.41", 465), 0.388))
    return probe_report("badcert.example", res, routes)


def mx_no_address() -> ProbeReport:
    """The primary MX name does not exist (NXDOMAIN); the secondary works on port 25 only."""
    domain = "noaddr.example"
    gone = MxHost(
        name="mx-old.noaddr.example",
        preference=10,
        kind=MxTargetKind.NO_ADDRESS,
        addresses=(),
        queries=(
            q("mx-old.noaddr.example", "A", (), DnsOutcome.NXDOMAIN, detail="NXDOMAIN"),
            q("mx-old.noaddr.example", "AAAA", (), DnsOutcome.NXDOMAIN, detail="NXDOMAIN"),
        ),
        rank=1,
    )
    mx2 = mx_host("mx2.noaddr.example", 20, ["198.51.100.52"], rank=2)
    res = _resolution(domain, [gone, mx2], ["10 mx-old.noaddr.example", "20 mx2.noaddr.example"])
    routes = [route_result(route_to(mx2, "198.51.100.52", 25))]
    routes += [_refused(route_to(mx2, "198.51.100.52", p), 0.402) for p in (587, 465)]
    return probe_report(domain, res, routes)


def null_mx() -> ProbeReport:
    """The domain publishes ``0 .`` (RFC 7505): no routes are probed."""
    domain = "nomail.example"
    mx = q(domain, "MX", ["0 ."])
    res = Resolution(
        domain=domain,
        kind=ResolutionKind.NULL_MX,
        mx_query=mx,
        hosts=(),
        queries=(mx,),
        duration_ms=mx.duration_ms,
    )
    return probe_report(domain, res, [])


def nxdomain() -> ProbeReport:
    """The domain does not exist."""
    domain = "nosuchdomain.example"
    mx = q(domain, "MX", (), DnsOutcome.NXDOMAIN, detail="NXDOMAIN")
    res = Resolution(domain, ResolutionKind.NONE, mx, (), (mx,), mx.duration_ms)
    return probe_report(domain, res, [])


def servfail() -> ProbeReport:
    """Every nameserver answers SERVFAIL for the MX query."""
    domain = "broken-dns.example"
    mx = q(
        domain,
        "MX",
        (),
        DnsOutcome.SERVFAIL,
        duration_ms=812.5,
        detail="SERVFAIL from 127.0.0.1@5353",
    )
    res = Resolution(domain, ResolutionKind.FAILED, mx, (), (mx,), mx.duration_ms)
    return probe_report(domain, res, [])


#: Hostile text: ANSI escapes, rich markup, a bidi override, emoji codes and 10 kB.
HOSTILE_TEXT = (
    "\x1b[31mRED\x1b[0m [bold]bold[/bold] [link=http://evil.invalid]click[/link] "
    ":thumbs_up: \u202egnp.exe\u202c \x07\r\n" + "A" * 10_000
)


def hostile() -> ProbeReport:
    """Server-controlled strings full of escapes and markup, not sanitized (worst case).

    The adapters sanitize with ``textsafe.clean``, but the renderer must not rely on it:
    this report puts raw hostile text in every remote string field.
    """
    evil_host = "mx[bold].hostile.example"
    mx1 = mx_host(evil_host, 10, ["198.51.100.61"])
    res = _resolution("hostile.example", [mx1], [f"10 {evil_host} {HOSTILE_TEXT}"])
    reply = SmtpReply(554, "5.7.1", HOSTILE_TEXT)
    r25 = route_result(
        route_to(mx1, "198.51.100.61", 25),
        fail=Phase.GREETING,
        outcome=Outcome.REPLY,
        reply=reply,
        detail=HOSTILE_TEXT,
        error_type=HOSTILE_TEXT[:40],
    )
    r587 = route_result(route_to(mx1, "198.51.100.61", 587), banner=HOSTILE_TEXT)
    tls = replace(
        _tls_ok(evil_host),
        certificate=replace(cert(HOSTILE_TEXT[:300]), issuer=HOSTILE_TEXT),
        verify_error=HOSTILE_TEXT,
        verified=False,
    )
    r465 = route_result(route_to(mx1, "198.51.100.61", 465), tls=tls)
    return probe_report(
        "hostile.example", res, [r25, replace(r587, extensions=(HOSTILE_TEXT,)), r465]
    )


def implicit_mx() -> ProbeReport:
    """No MX records: the domain's own address is the route (RFC 5321 5.1).

    Port 25 does not offer STARTTLS, 587 is closed and 465 fails the TLS handshake
    (no protocol version in common).
    """
    domain = "implicit.example"
    mxq = q(domain, "MX", (), DnsOutcome.NODATA)
    own = mx_host(domain, 0, ["198.51.100.71"])
    res = Resolution(
        domain=domain,
        kind=ResolutionKind.IMPLICIT,
        mx_query=mxq,
        hosts=(own,),
        queries=(mxq, *own.queries),
        duration_ms=3.642,
    )
    routes = [
        route_result(route_to(own, "198.51.100.71", 25), starttls_offered=False),
        _refused(route_to(own, "198.51.100.71", 587), 0.351),
        route_result(
            route_to(own, "198.51.100.71", 465),
            fail=Phase.TLS_HANDSHAKE,
            outcome=Outcome.TLS_FAILURE,
            detail="[SSL: UNSUPPORTED_PROTOCOL] unsupported protocol (_ssl.c:1000)",
            error_type="SSLError",
            fail_ms=1.204,
        ),
    ]
    return probe_report(domain, res, routes)


def tls_policy() -> ProbeReport:
    """Two MX hosts that work; MTA-STS enforce whose mx pattern misses mx2, DANE on mx1
    (the chain matches), no TLSA for mx2, a TLS-RPT record."""
    from factories import policy_cases as pc

    domain = "policy.example"
    mx1 = mx_host("mx1.policy.example", 10, ["198.51.100.31"])
    mx2 = mx_host("mx2.backup.example", 20, ["198.51.100.32"], rank=2)
    res = _resolution(domain, [mx1, mx2], ["10 mx1.policy.example", "20 mx2.backup.example"])
    routes = [
        replace(r, tls=replace(r.tls, dane=pc.dane_match()))
        if r.route.mx == mx1.name and r.route.port == 25 and r.tls is not None
        else r
        for r in _all_ok([mx1, mx2])
    ]
    policy = pc.tls_policy(
        pc.mta_sts(domain, [mx1.name, mx2.name]),
        [pc.tlsa(mx1.name), pc.tlsa(mx2.name, state=DaneState.NONE)],
        pc.tls_rpt(domain, "mailto:tlsrpt@policy.example", "https://tlsrpt.policy.example/v1"),
    )
    return replace(probe_report(domain, res, routes), policy=policy)


SCENARIOS = {
    "healthy": healthy,
    "dead_primary": dead_primary,
    "greeting_421": greeting_421,
    "tls_mismatch": tls_mismatch,
    "mx_no_address": mx_no_address,
    "null_mx": null_mx,
    "nxdomain": nxdomain,
    "servfail": servfail,
    "implicit_mx": implicit_mx,
    "tls_policy": tls_policy,
}


def handmade_diagnosis_421(report: ProbeReport) -> Diagnosis:
    """A hand-built 4.3.2 diagnosis of :func:`greeting_421` with every field filled.

    Used by the JSON tests so they cover the diagnosis shape without depending on the
    diagnose stage.
    """
    evidence = tuple(
        Evidence(
            mx=r.route.mx,
            address=r.route.address,
            port=r.route.port,
            phase=r.failure.phase if r.failure else None,
            outcome=r.failure.outcome if r.failure else None,
            reply="421 4.3.2 Service currently unavailable, too many connections",
            duration_ms=r.failure.duration_ms if r.failure else None,
        )
        for r in report.routes
    )
    hours = (1, 4, 12, 24)
    offsets = [sum(hours[: i + 1]) * 3600 for i in range(len(hours))]
    schedule = tuple(
        RetryAttempt(
            number=i + 1,
            after_previous_s=h * 3600,
            offset_s=offsets[i],
            at=f"2026-11-{23 + (6 + offsets[i] // 3600) // 24}T{(6 + offsets[i] // 3600) % 24:02d}:00:02Z",
            final=i == len(hours) - 1,
        )
        for i, h in enumerate(hours)
    )
    finding = Finding(
        rule=RuleId.GREETING_DEFERRED,
        code="4.3.2",
        title="System not accepting network messages",
        severity=Severity.SOFT,
        summary="Every route answers the greeting with 421 4.3.2: the server defers connections.",
        evidence=evidence,
        causes=("server overloaded", "anti-spam front end defers new connections"),
        steps=(
            Step(
                "4.3.2/test-connection",
                "Test the connection manually",
                StepStatus.DONE,
                "3 of 3 routes connect, then get 421",
            ),
            Step("4.3.2/contact", "Contact the recipient's IT", StepStatus.HUMAN),
        ),
        action=Action(
            kind=ActionKind.RETRY,
            summary="Retry with backoff: 1 h, then +4 h, +12 h, +24 h.",
            schedule=schedule,
            after_schedule="Mark the address temporarily unavailable.",
        ),
        neighbours=("4.7.0",),
        persistence=Persistence.TRANSIENT,
    )
    return Diagnosis(
        verdict=Verdict.FAILED,
        persistence=Persistence.TRANSIENT,
        primary="4.3.2",
        findings=(finding,),
        generated_at=NOW,
    )
