"""Deterministic ProbeReports for the health tests (pure renderers, evaluation).

Addresses are documentation ranges (RFC 5737, RFC 3849); nothing here touches a network.
Every scenario is a function returning a ProbeReport with fixed instants and durations,
so renderings can be compared with golden files.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial

import factories as shared
from factories import route_to as route
from smtpdiag import diagnose
from smtpdiag.model import (
    AddressFamily,
    CertInfo,
    DnsOutcome,
    DnsQuery,
    MxHost,
    MxTargetKind,
    Outcome,
    Phase,
    PhaseRecord,
    ProbeReport,
    Resolution,
    ResolutionKind,
    Route,
    RouteResult,
    SmtpReply,
    TlsInfo,
    TlsMode,
)

__all__ = [
    "SCENARIOS",
    "STARTED_AT",
    "cert",
    "cert_expiring",
    "dns_unanswered",
    "healthy",
    "hostile",
    "mx_host",
    "no_starttls",
    "null_mx",
    "one_route_down",
    "report",
    "route",
    "route_result",
    "servfail",
    "slow_greeting",
    "all_down",
]

STARTED_AT = "2026-11-23T06:00:00.000Z"
#: The instant the diagnoses count retry times from (fixed for goldens).
DIAGNOSED_AT = datetime(2026, 11, 23, 6, 0, 1, tzinfo=UTC)

# Fixed phase durations (ms).
DUR = {
    Phase.CONNECT: 12.5,
    Phase.GREETING: 48.25,
    Phase.EHLO: 9.75,
    Phase.HELO: 9.5,
    Phase.STARTTLS: 8.125,
    Phase.TLS_HANDSHAKE: 31.0,
    Phase.EHLO_TLS: 7.5,
    Phase.QUIT: 3.0,
}


def cert(host: str, days_left: int = 80, fingerprint: str = "ab") -> CertInfo:
    """A leaf certificate for ``host``; the fingerprint is ``fingerprint`` repeated."""
    return shared.cert(
        days_left,
        f"CN={host}",
        "CN=Test CA",
        (host,),
        serial="01",
        not_before="2026-09-01T00:00:00Z",
        not_after="2027-02-11T00:00:00Z",
        sha256=":".join([fingerprint] * 32),
    )


def tls(host: str, *, days_left: int = 80, version: str = "TLSv1.3", fp: str = "ab") -> TlsInfo:
    """A successful TLS session."""
    return shared.tls(certificate=cert(host, days_left, fp), version=version)


#: One DNS query: ``q(name, rdtype, answers, outcome, detail, nameserver)``.
q = partial(shared.dns_query, duration_ms=1.5)


def mx_host(
    name: str,
    preference: int,
    addresses: Sequence[str],
    rank: int = 1,
    kind: MxTargetKind = MxTargetKind.HOSTNAME,
) -> MxHost:
    """An MX host with its addresses (one A query lists them all)."""
    queries = (q(name, "A", addresses),)
    return shared.mx_host(name, preference, addresses, rank=rank, kind=kind, queries=queries)


def route_result(
    r: Route,
    *,
    fail: Phase | None = None,
    outcome: Outcome = Outcome.OK,
    reply: SmtpReply | None = None,
    detail: str | None = None,
    fail_ms: float | None = None,
    starttls_offered: bool = True,
    durations: dict[Phase, float] | None = None,
    days_left: int = 80,
    version: str = "TLSv1.3",
    fp: str = "ab",
    banner: str | None = None,
) -> RouteResult:
    """A route probe running the normal phase sequence, stopping at ``fail``.

    QUIT follows a failure (unless the connection failed) at the failed phase's start.
    """
    dur = {**DUR, **(durations or {})}
    seq = shared.phase_order(r.tls_mode, starttls_offered)
    failure = None
    if fail in seq:
        ms = fail_ms if fail_ms is not None else dur[fail]
        failure = PhaseRecord(fail, outcome, 0.0, ms, reply, detail, "Err")
    phases, _ = shared.run_phases(
        (*seq, Phase.QUIT),
        dur,
        failure=failure,
        then=() if fail is Phase.CONNECT else (Phase.QUIT,),
        failure_takes_time=False,
    )
    ran_tls = Phase.TLS_HANDSHAKE in [p.phase for p in phases if p.ok]
    return RouteResult(
        route=r,
        phases=tuple(phases),
        ok=failure is None,
        banner=banner
        if banner is not None
        else (f"{r.mx} ESMTP" if fail is not Phase.CONNECT else None),
        extensions=("PIPELINING", "STARTTLS") if starttls_offered else ("PIPELINING",),
        starttls_offered=None if r.tls_mode is TlsMode.IMPLICIT else starttls_offered,
        tls=tls(r.mx, days_left=days_left, version=version, fp=fp) if ran_tls else None,
        total_ms=sum(p.duration_ms for p in phases),
        started_at=STARTED_AT,
    )


def report(
    domain: str,
    hosts: Sequence[MxHost],
    routes: Sequence[RouteResult],
    *,
    kind: ResolutionKind = ResolutionKind.MX,
    mx_query: DnsQuery | None = None,
    ports: tuple[int, ...] = (25,),
    diagnosed: bool = True,
) -> ProbeReport:
    """A report of ``domain``, diagnosed by the real diagnose stage (health reads the
    diagnosis, so it must be the one the rules give)."""
    mxq = mx_query or q(domain, "MX", [f"{h.preference} {h.name}" for h in hosts])
    rep = ProbeReport(
        domain=domain,
        resolution=Resolution(domain, kind, mxq, tuple(hosts), (mxq,), 3.0),
        routes=tuple(routes),
        started_at=STARTED_AT,
        duration_ms=250.5,
        ports=ports,
        families=(AddressFamily.IPV4,),
        tool_version="0.1.0",
    )
    if not diagnosed:
        return rep
    return replace(rep, diagnosis=diagnose(rep, now=DIAGNOSED_AT))


MX1 = mx_host("mx1.example.org", 10, ["198.51.100.10"])
MX2 = mx_host("mx2.example.org", 20, ["198.51.100.20"], rank=2)


def healthy() -> ProbeReport:
    """Two MX hosts, ports 25 and 465, everything works."""
    routes = [route_result(route(h, h.addresses[0], p)) for h in (MX1, MX2) for p in (25, 465)]
    return report("example.org", [MX1, MX2], routes, ports=(25, 465))


def one_route_down() -> ProbeReport:
    """mx2 refuses connections on port 25; mx1 works."""
    routes = [
        route_result(route(MX1, "198.51.100.10", 25)),
        route_result(
            route(MX2, "198.51.100.20", 25),
            fail=Phase.CONNECT,
            outcome=Outcome.REFUSED,
            detail="Connection refused",
            fail_ms=0.5,
        ),
    ]
    return report("example.org", [MX1, MX2], routes)


def all_down() -> ProbeReport:
    """mx1 times out at the greeting, mx2 answers 421."""
    routes = [
        route_result(
            route(MX1, "198.51.100.10", 25),
            fail=Phase.GREETING,
            outcome=Outcome.TIMEOUT,
            fail_ms=2000.0,
            detail="timed out",
        ),
        route_result(
            route(MX2, "198.51.100.20", 25),
            fail=Phase.GREETING,
            outcome=Outcome.REPLY,
            reply=SmtpReply(421, "4.3.2", "4.3.2 Service not available, closing channel"),
        ),
    ]
    return report("example.org", [MX1, MX2], routes)


def slow_greeting(ms: float = 2500.0) -> ProbeReport:
    """One MX whose greeting takes ``ms`` milliseconds."""
    routes = [route_result(route(MX1, "198.51.100.10", 25), durations={Phase.GREETING: ms})]
    return report("example.org", [MX1], routes)


def cert_expiring(days: int = 5) -> ProbeReport:
    """One MX on 25 and 465 whose certificate has ``days`` days left (same certificate)."""
    routes = [route_result(route(MX1, "198.51.100.10", p), days_left=days) for p in (25, 465)]
    return report("example.org", [MX1], routes, ports=(25, 465))


def no_starttls() -> ProbeReport:
    """One MX that does not offer STARTTLS."""
    routes = [route_result(route(MX1, "198.51.100.10", 25), starttls_offered=False)]
    return report("example.org", [MX1], routes)


def dns_unanswered() -> ProbeReport:
    """No nameserver answered the MX query: the probe could not run."""
    mxq = q("example.org", "MX", (), DnsOutcome.TIMEOUT, "no nameserver answered", None)
    return report("example.org", [], [], kind=ResolutionKind.FAILED, mx_query=mxq)


def servfail() -> ProbeReport:
    """The domain's nameservers answer SERVFAIL."""
    mxq = q("example.org", "MX", (), DnsOutcome.SERVFAIL, "SERVFAIL from 127.0.0.1")
    return report(
        "example.org",
        [],
        [],
        kind=ResolutionKind.FAILED,
        mx_query=mxq,
    )


def null_mx() -> ProbeReport:
    """``MX 0 .`` (RFC 7505)."""
    mxq = q("example.org", "MX", ["0 ."])
    return report(
        "example.org",
        [],
        [],
        kind=ResolutionKind.NULL_MX,
        mx_query=mxq,
    )


def hostile() -> ProbeReport:
    """Remote strings full of characters every format must escape."""
    host = mx_host("mx'=|\"<&>.example.org", 10, ["198.51.100.66"])
    routes = [
        route_result(
            route(host, "198.51.100.66", 25),
            fail=Phase.EHLO,
            outcome=Outcome.REPLY,
            reply=SmtpReply(554, "5.7.1", '5.7.1 no | "way" <b>&</b> ]]> *x* `y` \\ =\''),
        ),
    ]
    return report("example.org", [host], routes)


#: Scenario name -> factory, for parametrized and golden tests.
SCENARIOS = {
    "healthy": healthy,
    "one_route_down": one_route_down,
    "all_down": all_down,
    "slow_greeting": slow_greeting,
    "cert_expiring": cert_expiring,
    "no_starttls": no_starttls,
    "dns_unanswered": dns_unanswered,
    "servfail": servfail,
    "null_mx": null_mx,
    "hostile": hostile,
}
