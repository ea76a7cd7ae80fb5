"""Build in-memory observations (Resolution, RouteResult, ProbeReport) for pure-stage tests.

Importable from any test as ``from factories import ...`` (``tests/`` is on ``sys.path``
through its ``conftest.py``). Every value is deterministic: fixed instants, fixed
durations, documentation addresses (RFC 5737 198.51.100.0/24, RFC 3849 2001:db8::/32).

The phase order follows the probe: STARTTLS ports run CONNECT, GREETING, EHLO,
STARTTLS, TLS_HANDSHAKE, EHLO_TLS, QUIT; implicit-TLS ports run CONNECT, TLS_HANDSHAKE,
GREETING, EHLO, QUIT.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

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
    "T0",
    "at",
    "cert",
    "failed",
    "host",
    "ok",
    "phases_until",
    "query",
    "reply",
    "report",
    "resolution",
    "route",
    "routes_for",
    "tls",
]

T0 = "2026-01-01T00:00:00Z"
STARTTLS_ORDER = (
    Phase.CONNECT,
    Phase.GREETING,
    Phase.EHLO,
    Phase.STARTTLS,
    Phase.TLS_HANDSHAKE,
    Phase.EHLO_TLS,
)
IMPLICIT_ORDER = (Phase.CONNECT, Phase.TLS_HANDSHAKE, Phase.GREETING, Phase.EHLO)
#: Fixed duration of each successful phase, ms.
PHASE_MS = 1.0


def query(
    name: str,
    rdtype: str = "A",
    outcome: DnsOutcome = DnsOutcome.OK,
    answers: Sequence[str] = (),
    detail: str | None = None,
    cname: str | None = None,
) -> DnsQuery:
    return DnsQuery(
        name=name,
        rdtype=rdtype,
        outcome=outcome,
        answers=tuple(answers),
        nameserver="127.0.0.1@5353" if outcome is not DnsOutcome.TIMEOUT else None,
        duration_ms=2.0,
        detail=detail if outcome is not DnsOutcome.OK else None,
        cname=cname,
    )


def host(
    name: str = "mx1.example.org",
    preference: int = 10,
    addresses: Sequence[str] = ("198.51.100.5",),
    kind: MxTargetKind = MxTargetKind.HOSTNAME,
    rank: int = 1,
    address_outcome: DnsOutcome | None = None,
) -> MxHost:
    """An MX host; ``address_outcome`` sets the outcome of its A/AAAA queries."""
    if address_outcome is None:
        address_outcome = DnsOutcome.OK if addresses else DnsOutcome.NXDOMAIN
    v4 = [a for a in addresses if ":" not in a]
    v6 = [a for a in addresses if ":" in a]
    if address_outcome is DnsOutcome.OK:
        queries = (
            query(name, "A", DnsOutcome.OK if v4 else DnsOutcome.NODATA, v4),
            query(name, "AAAA", DnsOutcome.OK if v6 else DnsOutcome.NODATA, v6),
        )
    else:
        queries = (
            query(name, "A", address_outcome, detail=f"{address_outcome.value} for {name}"),
            query(name, "AAAA", address_outcome, detail=f"{address_outcome.value} for {name}"),
        )
    return MxHost(name, preference, kind, tuple(addresses), queries, rank)


def resolution(
    hosts: Sequence[MxHost] = (),
    domain: str = "example.org",
    kind: ResolutionKind = ResolutionKind.MX,
    mx_outcome: DnsOutcome | None = None,
) -> Resolution:
    if mx_outcome is None:
        mx_outcome = {
            ResolutionKind.MX: DnsOutcome.OK,
            ResolutionKind.NULL_MX: DnsOutcome.OK,
            ResolutionKind.IMPLICIT: DnsOutcome.NODATA,
            ResolutionKind.NONE: DnsOutcome.NXDOMAIN,
            ResolutionKind.FAILED: DnsOutcome.SERVFAIL,
        }[kind]
    answers: tuple[str, ...] = ()
    if kind is ResolutionKind.MX:
        answers = tuple(f"{h.preference} {h.name}" for h in hosts)
    elif kind is ResolutionKind.NULL_MX:
        answers = ("0 .",)
    mxq = query(domain, "MX", mx_outcome, answers, detail=f"{mx_outcome.value} for {domain} MX")
    queries = (mxq, *(q for h in hosts for q in h.queries))
    return Resolution(domain, kind, mxq, tuple(hosts), queries, 5.0)


def route(
    mx: str = "mx1.example.org",
    address: str = "198.51.100.5",
    port: int = 25,
    preference: int = 10,
    rank: int = 1,
) -> Route:
    family = AddressFamily.IPV6 if ":" in address else AddressFamily.IPV4
    mode = TlsMode.IMPLICIT if port == 465 else TlsMode.STARTTLS
    return Route(mx, preference, rank, address, family, port, mode)


def reply(code: int, text: str) -> SmtpReply:
    """``reply(421, "4.3.2 busy")``: the enhanced code is read from the text."""
    first = text.split(" ", 1)[0]
    enhanced = first if first.count(".") == 2 and first[0] in "245" else None
    return SmtpReply(code, enhanced, text)


def cert(
    days_left: int = 200,
    subject: str = "CN=mx1.example.org",
    issuer: str = "CN=Example CA",
    sans: Sequence[str] = ("mx1.example.org",),
) -> CertInfo:
    return CertInfo(
        subject=subject,
        issuer=issuer,
        sans=tuple(sans),
        serial="0a1b",
        not_before="2025-06-01T00:00:00Z",
        not_after="2026-07-20T00:00:00Z",
        days_left=days_left,
        key_type="EC",
        key_bits=256,
        sha256="aa:bb:cc",
        self_signed=subject == issuer,
    )


def tls(
    verified: bool = True,
    verify_error: str | None = None,
    hostname_match: bool | None = True,
    certificate: CertInfo | None = None,
    version: str | None = "TLSv1.3",
) -> TlsInfo:
    return TlsInfo(
        version=version,
        cipher="TLS_AES_256_GCM_SHA384" if version else None,
        cipher_bits=256 if version else None,
        certificate=certificate if certificate is not None else cert(),
        chain_length=2,
        verified=verified,
        verify_error=verify_error,
        hostname_match=hostname_match,
    )


def _ok_record(phase: Phase, start: float) -> PhaseRecord:
    r: SmtpReply | None = None
    if phase is Phase.GREETING:
        r = reply(220, "mx ESMTP ready")
    elif phase in (Phase.EHLO, Phase.EHLO_TLS, Phase.HELO):
        r = reply(250, "mx hello")
    elif phase is Phase.STARTTLS:
        r = reply(220, "2.0.0 Ready to start TLS")
    return PhaseRecord(phase, Outcome.OK, start, PHASE_MS, r)


def phases_until(rt: Route, phase: Phase) -> list[PhaseRecord]:
    """Successful records of every phase before ``phase`` in the probe's order."""
    order = IMPLICIT_ORDER if rt.tls_mode is TlsMode.IMPLICIT else STARTTLS_ORDER
    if phase is Phase.HELO:
        # EHLO was rejected, then HELO: EHLO's record is a negative reply.
        idx = order.index(Phase.EHLO)
        out = [_ok_record(p, i * PHASE_MS) for i, p in enumerate(order[:idx])]
        out.append(
            PhaseRecord(
                Phase.EHLO, Outcome.REPLY, idx * PHASE_MS, PHASE_MS, reply(502, "5.5.1 no EHLO")
            )
        )
        return out
    idx = order.index(phase) if phase in order else len(order)
    return [_ok_record(p, i * PHASE_MS) for i, p in enumerate(order[:idx])]


def ok(
    rt: Route,
    *,
    starttls_offered: bool | None = True,
    tls_info: TlsInfo | None = None,
    started_at: str = T0,
) -> RouteResult:
    """A route that works; without STARTTLS when ``starttls_offered`` is False."""
    if rt.tls_mode is TlsMode.IMPLICIT:
        starttls_offered = None
        order: tuple[Phase, ...] = IMPLICIT_ORDER
    elif starttls_offered:
        order = STARTTLS_ORDER
    else:
        order = (Phase.CONNECT, Phase.GREETING, Phase.EHLO)
    recs = [_ok_record(p, i * PHASE_MS) for i, p in enumerate(order)]
    recs.append(PhaseRecord(Phase.QUIT, Outcome.OK, len(order) * PHASE_MS, PHASE_MS))
    has_tls = Phase.TLS_HANDSHAKE in order
    return RouteResult(
        route=rt,
        phases=tuple(recs),
        ok=True,
        banner="mx ESMTP ready",
        extensions=("PIPELINING", "STARTTLS") if starttls_offered else ("PIPELINING",),
        starttls_offered=starttls_offered,
        tls=(tls_info if tls_info is not None else tls()) if has_tls else None,
        total_ms=(len(order) + 1) * PHASE_MS,
        started_at=started_at,
    )


def failed(
    rt: Route,
    phase: Phase,
    outcome: Outcome,
    *,
    reply_: SmtpReply | None = None,
    detail: str | None = None,
    duration_ms: float = 0.4,
    tls_info: TlsInfo | None = None,
    error_type: str | None = None,
    started_at: str = T0,
) -> RouteResult:
    """A route whose probe ended in ``phase`` with ``outcome``."""
    recs = phases_until(rt, phase)
    start = len(recs) * PHASE_MS
    recs.append(PhaseRecord(phase, outcome, start, duration_ms, reply_, detail, error_type))
    reached_tls = phase in (Phase.TLS_HANDSHAKE, Phase.EHLO_TLS) or (
        rt.tls_mode is TlsMode.IMPLICIT and phase not in (Phase.CONNECT, Phase.TLS_HANDSHAKE)
    )
    tls_value = tls_info
    if tls_value is None and phase is Phase.TLS_HANDSHAKE:
        tls_value = TlsInfo(verify_error=None)
    elif tls_value is None and reached_tls:
        tls_value = tls()
    connected = phase is not Phase.CONNECT
    starttls_offered: bool | None = None
    if rt.tls_mode is TlsMode.STARTTLS and any(r.phase is Phase.EHLO and r.ok for r in recs):
        starttls_offered = True
    return RouteResult(
        route=rt,
        phases=tuple(recs),
        ok=False,
        banner="mx ESMTP ready" if any(r.phase is Phase.GREETING and r.ok for r in recs) else None,
        extensions=("PIPELINING", "STARTTLS") if starttls_offered else (),
        starttls_offered=starttls_offered,
        tls=tls_value if connected else None,
        total_ms=start + duration_ms,
        started_at=started_at,
    )


def routes_for(h: MxHost, ports: Sequence[int] = (25, 587, 465)) -> list[Route]:
    """Every (address, port) route of an MX host, in the probe's order."""
    return [route(h.name, a, p, h.preference, h.rank) for a in h.addresses for p in ports]


def report(
    res: Resolution,
    routes: Sequence[RouteResult] = (),
    *,
    ports: Sequence[int] = (25, 587, 465),
    started_at: str = T0,
) -> ProbeReport:
    fams = {r.route.family for r in routes} or {AddressFamily.IPV4}
    return ProbeReport(
        domain=res.domain,
        resolution=res,
        routes=tuple(routes),
        started_at=started_at,
        duration_ms=50.0,
        ports=tuple(ports),
        families=tuple(sorted(fams)),
        tool_version="test",
    )


def at(report_: ProbeReport, started_at: str) -> ProbeReport:
    """The same report as if probed at ``started_at`` (for watch-mode history)."""
    return replace(report_, started_at=started_at)
