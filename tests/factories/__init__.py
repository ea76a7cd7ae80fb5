"""Build in-memory observations (Resolution, RouteResult, ProbeReport) for pure-stage tests.

Importable from any test as ``from factories import ...`` (``tests/`` is on ``sys.path``
through its ``conftest.py``). Every value is deterministic: fixed instants, fixed
durations, documentation addresses (RFC 5737 198.51.100.0/24, RFC 3849 2001:db8::/32).

Two layers live here. The shared primitives (:func:`dns_query`, :func:`address_queries`,
:func:`mx_host`, :func:`route`, :func:`route_to`, :func:`cert`, :func:`tls`,
:func:`phase_order`, :func:`run_phases`) build one model object each, with every value
that differs between test areas a parameter; the area factories
(``factories.report_cases``, ``factories.health_cases``: modules of this package) build
their scenarios on them with their own fixed values, so their goldens stay put. The
diagnose tests use the compact builders below them (:func:`host`, :func:`resolution`,
:func:`ok`, :func:`failed`, :func:`report`).

The phase order follows the probe: STARTTLS ports run CONNECT, GREETING, EHLO,
STARTTLS, TLS_HANDSHAKE, EHLO_TLS, QUIT; implicit-TLS ports run CONNECT, TLS_HANDSHAKE,
GREETING, EHLO, QUIT.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from smtpdiag.config import tls_mode_for_port
from smtpdiag.health.evaluation import expected_phases
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
    SkipReason,
    SmtpReply,
    TlsInfo,
    TlsMode,
    TlsReason,
)

__all__ = [
    "IMPLICIT_ORDER",
    "NS",
    "PHASE_MS",
    "STARTTLS_ORDER",
    "T0",
    "address_queries",
    "at",
    "cert",
    "dns_query",
    "failed",
    "host",
    "mx_host",
    "ok",
    "phase_order",
    "phases_until",
    "query",
    "reply",
    "report",
    "resolution",
    "route",
    "route_to",
    "routes_for",
    "run_phases",
    "tls",
]

T0 = "2026-01-01T00:00:00Z"
#: The local test nameserver every query names.
NS = "127.0.0.1@5353"
#: The probe's phase order before QUIT (RFC 3207 4; RFC 8314 3.3 for implicit TLS).
STARTTLS_ORDER = expected_phases(TlsMode.STARTTLS)
IMPLICIT_ORDER = expected_phases(TlsMode.IMPLICIT)
#: Phases of a STARTTLS port whose server does not offer STARTTLS.
PLAIN_ORDER = (Phase.CONNECT, Phase.GREETING, Phase.EHLO)
#: Fixed duration of each successful phase, ms.
PHASE_MS = 1.0


# ------------------------------------------------------------------ shared primitives


def dns_query(
    name: str,
    rdtype: str,
    answers: Sequence[str] = (),
    outcome: DnsOutcome = DnsOutcome.OK,
    detail: str | None = None,
    nameserver: str | None = NS,
    *,
    duration_ms: float = 2.0,
    cname: str | None = None,
) -> DnsQuery:
    """One DNS query, exactly as given."""
    return DnsQuery(name, rdtype, outcome, tuple(answers), nameserver, duration_ms, detail, cname)


def address_queries(
    name: str, addresses: Sequence[str], *, duration_ms: float = 2.0
) -> tuple[DnsQuery, DnsQuery]:
    """The A and AAAA queries of ``name`` answering ``addresses`` (NODATA for a family without any)."""
    v4 = [a for a in addresses if ":" not in a]
    v6 = [a for a in addresses if ":" in a]
    return (
        dns_query(
            name, "A", v4, DnsOutcome.OK if v4 else DnsOutcome.NODATA, duration_ms=duration_ms
        ),
        dns_query(
            name, "AAAA", v6, DnsOutcome.OK if v6 else DnsOutcome.NODATA, duration_ms=duration_ms
        ),
    )


def mx_host(
    name: str,
    preference: int,
    addresses: Sequence[str],
    *,
    rank: int = 1,
    kind: MxTargetKind = MxTargetKind.HOSTNAME,
    queries: Sequence[DnsQuery] | None = None,
    dns_ms: float = 2.0,
) -> MxHost:
    """An MX host; ``queries`` defaults to :func:`address_queries` (``dns_ms`` each)."""
    if queries is None:
        queries = address_queries(name, addresses, duration_ms=dns_ms)
    return MxHost(name, preference, kind, tuple(addresses), tuple(queries), rank)


def route(
    mx: str = "mx1.example.org",
    address: str = "198.51.100.5",
    port: int = 25,
    preference: int = 10,
    rank: int = 1,
) -> Route:
    """The route to ``address:port``; 465 is implicit TLS, every other port STARTTLS."""
    family = AddressFamily.IPV6 if ":" in address else AddressFamily.IPV4
    return Route(mx, preference, rank, address, family, port, tls_mode_for_port(port))


def route_to(h: MxHost, address: str, port: int) -> Route:
    """The route to ``address:port`` of MX host ``h``."""
    return route(h.name, address, port, h.preference, h.rank)


def cert(
    days_left: int = 200,
    subject: str = "CN=mx1.example.org",
    issuer: str = "CN=Example CA",
    sans: Sequence[str] = ("mx1.example.org",),
    *,
    serial: str = "0a1b",
    not_before: str = "2025-06-01T00:00:00Z",
    not_after: str = "2026-07-20T00:00:00Z",
    sha256: str = "aa:bb:cc",
) -> CertInfo:
    """A leaf certificate (EC P-256); self-signed when subject and issuer match."""
    return CertInfo(
        subject=subject,
        issuer=issuer,
        sans=tuple(sans),
        serial=serial,
        not_before=not_before,
        not_after=not_after,
        days_left=days_left,
        key_type="EC",
        key_bits=256,
        sha256=sha256,
        self_signed=subject == issuer,
    )


def tls(
    verified: bool = True,
    verify_error: str | None = None,
    hostname_match: bool | None = True,
    certificate: CertInfo | None = None,
    version: str | None = "TLSv1.3",
    *,
    cipher: str = "TLS_AES_256_GCM_SHA384",
    cipher_bits: int = 256,
    chain_length: int = 2,
) -> TlsInfo:
    """A completed TLS session (no cipher without a ``version``)."""
    return TlsInfo(
        version=version,
        cipher=cipher if version else None,
        cipher_bits=cipher_bits if version else None,
        certificate=certificate if certificate is not None else cert(),
        chain_length=chain_length,
        verified=verified,
        verify_error=verify_error,
        hostname_match=hostname_match,
    )


def phase_order(mode: TlsMode, starttls_offered: bool | None = True) -> tuple[Phase, ...]:
    """The phases a probe runs before QUIT on a port with ``mode``."""
    if mode is TlsMode.IMPLICIT:
        return IMPLICIT_ORDER
    return STARTTLS_ORDER if starttls_offered else PLAIN_ORDER


def run_phases(
    order: Sequence[Phase],
    durations: Mapping[Phase, float] | float,
    *,
    failure: PhaseRecord | None = None,
    then: Sequence[Phase] = (),
    replies: Mapping[Phase, SmtpReply] | None = None,
    gap: float = 0.0,
    ndigits: int | None = None,
    failure_takes_time: bool = True,
) -> tuple[list[PhaseRecord], float]:
    """Records of the phases in ``order`` laid end to end from 0 ms, and the end time.

    Every phase succeeds with its duration (``durations`` per phase, or one for all)
    and its reply from ``replies``, until the phase of ``failure``: that record
    (its start set here) ends the run, and only the phases of ``then`` (say QUIT)
    follow it. Each phase starts ``gap`` ms after the previous one ends, rounded to
    ``ndigits``; a failure delays what follows only when ``failure_takes_time``.
    """
    replies = replies or {}
    records: list[PhaseRecord] = []
    t = 0.0

    def add(rec: PhaseRecord, takes_time: bool = True) -> None:
        nonlocal t
        records.append(rec)
        if takes_time:
            t = t + rec.duration_ms + gap
            t = round(t, ndigits) if ndigits is not None else t

    def succeed(ph: Phase) -> None:
        ms = durations if isinstance(durations, float) else durations[ph]
        add(PhaseRecord(ph, Outcome.OK, t, ms, replies.get(ph)))

    for ph in order:
        if failure is not None and ph is failure.phase:
            add(replace(failure, start_ms=t), failure_takes_time)
            for after in then:
                succeed(after)
            break
        succeed(ph)
    return records, t


# ------------------------------------------------------- compact builders (diagnose)


def query(
    name: str,
    rdtype: str = "A",
    outcome: DnsOutcome = DnsOutcome.OK,
    answers: Sequence[str] = (),
    detail: str | None = None,
    cname: str | None = None,
) -> DnsQuery:
    """A query; a timed-out or failed one names no nameserver (no server replied: an
    ``error`` with a nameserver is a malformed reply or a CNAME loop, build it with
    ``dns_query``), an answered one carries no detail."""
    return dns_query(
        name,
        rdtype,
        answers,
        outcome,
        detail if outcome is not DnsOutcome.OK else None,
        NS if outcome not in (DnsOutcome.TIMEOUT, DnsOutcome.ERROR) else None,
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
    queries: Sequence[DnsQuery] | None = None
    if address_outcome is not DnsOutcome.OK:
        queries = tuple(
            query(name, rdtype, address_outcome, detail=f"{address_outcome.value} for {name}")
            for rdtype in ("A", "AAAA")
        )
    return mx_host(name, preference, addresses, rank=rank, kind=kind, queries=queries)


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


def reply(code: int, text: str) -> SmtpReply:
    """``reply(421, "4.3.2 busy")``: the enhanced code is read from the text."""
    first = text.split(" ", 1)[0]
    enhanced = first if first.count(".") == 2 and first[0] in "245" else None
    return SmtpReply(code, enhanced, text)


#: Replies of the successful phases that have one.
_OK_REPLIES = {
    Phase.GREETING: reply(220, "mx ESMTP ready"),
    Phase.EHLO: reply(250, "mx hello"),
    Phase.EHLO_TLS: reply(250, "mx hello"),
    Phase.HELO: reply(250, "mx hello"),
    Phase.STARTTLS: reply(220, "2.0.0 Ready to start TLS"),
}


def phases_until(rt: Route, phase: Phase) -> list[PhaseRecord]:
    """Successful records of every phase before ``phase`` in the probe's order."""
    order = phase_order(rt.tls_mode)
    if phase is Phase.HELO:
        # EHLO was rejected, then HELO: EHLO's record is a negative reply.
        rejected = PhaseRecord(
            Phase.EHLO, Outcome.REPLY, 0.0, PHASE_MS, reply(502, "5.5.1 no EHLO")
        )
        return run_phases(order, PHASE_MS, failure=rejected, replies=_OK_REPLIES)[0]
    idx = order.index(phase) if phase in order else len(order)
    return run_phases(order[:idx], PHASE_MS, replies=_OK_REPLIES)[0]


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
    order = phase_order(rt.tls_mode, starttls_offered)
    recs, end = run_phases((*order, Phase.QUIT), PHASE_MS, replies=_OK_REPLIES)
    has_tls = Phase.TLS_HANDSHAKE in order
    return RouteResult(
        route=rt,
        phases=tuple(recs),
        ok=True,
        banner="mx ESMTP ready",
        extensions=("PIPELINING", "STARTTLS") if starttls_offered else ("PIPELINING",),
        starttls_offered=starttls_offered,
        tls=(tls_info if tls_info is not None else tls()) if has_tls else None,
        total_ms=end,
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
    errno: int | None = None,
    tls_reason: TlsReason | None = None,
    tls_alert: str | None = None,
    skip_reason: SkipReason | None = None,
) -> RouteResult:
    """A route whose probe ended in ``phase`` with ``outcome`` (typed fields as the probe
    records them: ``errno``, ``tls_reason``/``tls_alert``, ``skip_reason``)."""
    recs = [] if outcome is Outcome.NOT_ATTEMPTED else phases_until(rt, phase)
    start = len(recs) * PHASE_MS
    recs.append(
        PhaseRecord(
            phase,
            outcome,
            start,
            duration_ms if outcome is not Outcome.NOT_ATTEMPTED else 0.0,
            reply_,
            detail,
            error_type,
            errno,
            tls_reason,
            tls_alert,
            skip_reason,
        )
    )
    reached_tls = phase in (Phase.TLS_HANDSHAKE, Phase.EHLO_TLS) or (
        rt.tls_mode is TlsMode.IMPLICIT and phase not in (Phase.CONNECT, Phase.TLS_HANDSHAKE)
    )
    tls_value = tls_info
    if tls_value is None and phase is Phase.TLS_HANDSHAKE:
        tls_value = TlsInfo(verify_error=None)
    elif tls_value is None and reached_tls:
        tls_value = tls()
    connected = phase is not Phase.CONNECT and outcome is not Outcome.NOT_ATTEMPTED
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
        total_ms=start + (duration_ms if outcome is not Outcome.NOT_ATTEMPTED else 0.0),
        started_at=started_at,
    )


def routes_for(h: MxHost, ports: Sequence[int] = (25, 587, 465)) -> list[Route]:
    """Every (address, port) route of an MX host, in the probe's order."""
    return [route_to(h, a, p) for a in h.addresses for p in ports]


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
