"""Route and DNS wording shared by the finding narrators: what happened on a route,
evidence entries, route lists, per-port results, the seed steps' results.

Everything here writes English from typed facts; nothing here decides.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ..diagnosis.facts import Facts, RouteState, RouteView, family_of, ip_block_reply
from ..diagnosis.words import Draft
from ..model import (
    Action,
    AddressFamily,
    CertInfo,
    DnsOutcome,
    DnsQuery,
    Evidence,
    FindingPayload,
    MxHost,
    MxTargetKind,
    Outcome,
    Phase,
    PhaseRecord,
    SkipReason,
    SmtpReply,
    Step,
    TlsInfo,
    TlsReason,
)
from .units import days_left, fmt_ms, join, plural

__all__ = [
    "MAX_EVIDENCE",
    "Draft",
    "alt_ports_step",
    "cap_evidence",
    "cert_facts",
    "code_title",
    "connect_steps_542",
    "describe",
    "draft",
    "evidence",
    "filter_reason",
    "filtered_note",
    "fmt_reply",
    "host_line",
    "host_outcome",
    "in_probe_order",
    "ip_block_text",
    "ports_result",
    "q_evidence",
    "refusal_words",
    "routes_brief",
    "state_word",
    "steps_543",
    "tls_reason_text",
    "tls_step",
    "verify_text",
]

_TLS_PHASES = (Phase.STARTTLS, Phase.TLS_HANDSHAKE, Phase.EHLO_TLS)
#: At most this many evidence entries per finding (a domain with many addresses).
MAX_EVIDENCE = 24


_TLS_REASON_WORDS = {
    TlsReason.NOT_TLS: "the server speaks plaintext where TLS is expected",
    TlsReason.PROTOCOL_VERSION: "no TLS protocol version in common",
    TlsReason.CIPHER: "no cipher suite in common",
    TlsReason.CERT_UNTRUSTED: "the certificate has no chain to a trusted root",
    TlsReason.CERT_EXPIRED: "the certificate has expired (or is not yet valid)",
    TlsReason.CERT_WRONG_NAME: "the certificate does not name the MX host",
    TlsReason.CERT_WEAK_KEY: "the certificate's key is too weak",
    TlsReason.RESET: "the connection was reset during the handshake",
    TlsReason.CLOSED: "the server closed the connection during the handshake",
    TlsReason.TIMEOUT: "the handshake did not finish in time",
    TlsReason.OTHER: "the handshake failed",
}


def tls_reason_text(rec: PhaseRecord) -> str:
    """Why a TLS handshake failed, in words, from the typed reason and alert."""
    if rec.tls_reason is TlsReason.ALERT:
        return f"the server sent the TLS alert {rec.tls_alert or 'without a name'}"
    if rec.tls_reason is None:
        return "the handshake failed"
    return _TLS_REASON_WORDS[rec.tls_reason]


_SKIP_WORDS = {
    SkipReason.DEADLINE: "not attempted: the deadline passed before its turn",
    SkipReason.ADDRESS_POLICY: "not attempted: the address is not global unicast",
}


def fmt_reply(reply: SmtpReply | None) -> str | None:
    """``"421 4.3.2 text"`` (first lines joined by " / ")."""
    if reply is None:
        return None
    text = " / ".join(line for line in reply.text.splitlines() if line)
    if reply.enhanced and not text.startswith(reply.enhanced):
        text = f"{reply.enhanced} {text}"
    return f"{reply.code} {text}".rstrip()


_CONNECT_WORDS = {
    Outcome.REFUSED: "refused",
    Outcome.UNREACHABLE: "unreachable",
    Outcome.TIMEOUT: "timed out",
    Outcome.RESET: "reset",
    Outcome.CLOSED: "closed",
    Outcome.ERROR: "failed",
}


def describe(view: RouteView) -> str:
    """One line: what happened on the route (``connect to mx[ip]:25 refused in 0.4 ms``)."""
    rr, f = view.result, view.failure
    if view.state is RouteState.OK:
        tls = f", {rr.tls.version}" if rr.tls and rr.tls.version else ""
        return f"{view.label} works ({fmt_ms(rr.total_ms)}{tls})"
    if f is None:
        return f"{view.label}: no phase completed"
    if f.skip_reason is not None:
        return f"{view.label} {_SKIP_WORDS[f.skip_reason]}"
    if f.phase is Phase.CONNECT:
        word = _CONNECT_WORDS.get(f.outcome, f.outcome.value)
        extra = f" ({f.detail})" if f.detail and f.outcome is Outcome.ERROR else ""
        return f"connect to {view.label} {word} in {fmt_ms(f.duration_ms)}{extra}"
    if f.outcome is Outcome.REPLY:
        what = f"answered {fmt_reply(f.reply)}"
    elif f.outcome is Outcome.TLS_FAILURE:
        what = f"TLS handshake failed: {tls_reason_text(f)}"
    elif f.outcome is Outcome.CLOSED:
        what = "connection closed by the server without a reply"
    elif f.outcome is Outcome.RESET:
        what = "connection reset by the server"
    elif f.outcome is Outcome.TIMEOUT:
        what = "timed out"
    elif f.outcome is Outcome.ERROR:
        what = f"protocol error ({f.detail or 'unexpected data'})"
    else:
        what = f.outcome.value
    return f"{f.phase.value} on {view.label}: {what} after {fmt_ms(f.duration_ms)}"


# Failure details that only restate the outcome ("connection refused" for REFUSED):
# the evidence keeps them out of ``error`` so a reader sees each fact once.


_RESTATED = {
    Outcome.REFUSED: frozenset({"connection refused"}),
    Outcome.TIMEOUT: frozenset({"timed out", "connection timed out", "timeout"}),
    Outcome.RESET: frozenset({"connection reset by peer", "connection reset"}),
    Outcome.CLOSED: frozenset({"connection closed by peer", "connection closed"}),
}


def _error_detail(f: PhaseRecord) -> str | None:
    """The failure's detail when it adds to the outcome, else ``None``."""
    if f.detail and f.detail.strip().lower() in _RESTATED.get(f.outcome, frozenset()):
        return None
    return f.detail


def evidence(view: RouteView, note: str | None = None) -> Evidence:
    rt, f = view.result.route, view.failure
    if f is None:
        tls = view.result.tls
        if note is None and tls is not None and tls.version:
            note = f"{tls.version} {tls.cipher or ''}".rstrip()
        return Evidence(
            mx=rt.mx,
            address=rt.address,
            port=rt.port,
            outcome=Outcome.OK,
            duration_ms=view.result.total_ms,
            note=note,
        )
    return Evidence(
        mx=rt.mx,
        address=rt.address,
        port=rt.port,
        phase=f.phase,
        outcome=f.outcome,
        reply=fmt_reply(f.reply),
        error=_error_detail(f),
        duration_ms=f.duration_ms,
        note=note,
    )


def cap_evidence(items: Sequence[Evidence]) -> tuple[Evidence, ...]:
    if len(items) <= MAX_EVIDENCE:
        return tuple(items)
    rest = len(items) - MAX_EVIDENCE + 1
    return (*items[: MAX_EVIDENCE - 1], Evidence(note=f"... and {rest} more"))


def cert_facts(cert: CertInfo | None) -> str | None:
    if cert is None:
        return None
    sans = ", ".join(cert.sans[:6]) or "none"
    parts = [
        f"subject {cert.subject}",
        f"issuer {cert.issuer}",
        f"SANs {sans}",
        f"valid {cert.not_before} to {cert.not_after} ({days_left(cert.days_left)})",
        f"key {cert.key_type}{'' if cert.key_bits is None else f' {cert.key_bits}'}",
        f"sha256 {cert.sha256}",
    ]
    if cert.self_signed:
        parts.append("self-signed")
    return "certificate: " + "; ".join(parts)


def routes_brief(views: Sequence[RouteView], limit: int = 3) -> str:
    """``mx[addr]:25,587,465, mx2[addr2]:25``: routes grouped by address."""
    groups: dict[tuple[str, str], list[str]] = {}
    for v in views:
        rt = v.result.route
        ports = groups.setdefault((rt.mx, rt.address), [])
        if str(rt.port) not in ports:
            ports.append(str(rt.port))
    labels = [f"{mx}[{addr}]:{','.join(ports)}" for (mx, addr), ports in groups.items()]
    if len(labels) > limit:
        return ", ".join(labels[:limit]) + f" and {len(labels) - limit} more"
    return ", ".join(labels)


def code_title(code: str) -> str:
    # The tables load on first use: a healthy probe names no code.
    from ..diagnosis import knowledge
    from ..diagnosis.codes import lookup

    k = knowledge.get(code)
    if k is not None:
        return k.title
    sc = lookup(code)
    return sc.title if sc else code


def ports_result(facts: Facts, views: Sequence[RouteView] | None = None) -> str:
    """Per-port result: ``25: refused on 2 routes; 587: works on 1 route``."""
    views = facts.views if views is None else views
    if len(facts.report.ports) < 2 and len({v.result.route.port for v in views}) < 2:
        return ""
    by_port: dict[int, list[RouteView]] = {}
    for v in views:
        by_port.setdefault(v.result.route.port, []).append(v)
    parts = []
    order = {p: i for i, p in enumerate(facts.report.ports)}
    for port in sorted(by_port, key=lambda p: (p != facts.delivery_port, order.get(p, p))):
        states: dict[str, int] = {}
        for v in by_port[port]:
            word = state_word(v)
            states[word] = states.get(word, 0) + 1
        desc = ", ".join(
            f"{w} ({n} route{'s' if n != 1 else ''})" if len(by_port[port]) > 1 else w
            for w, n in states.items()
        )
        parts.append(f"{port}: {desc}")
    return "; ".join(parts)


def in_probe_order(facts: Facts, ports: Iterable[int]) -> list[int]:
    order = {p: i for i, p in enumerate(facts.report.ports)}
    return sorted(set(ports), key=lambda p: (order.get(p, len(order)), p))


def state_word(v: RouteView) -> str:
    f = v.failure
    if v.state is RouteState.OK:
        return "works"
    if f is None:
        return "incomplete"
    if f.phase is Phase.CONNECT:
        return _CONNECT_WORDS.get(f.outcome, f.outcome.value)
    if f.outcome is Outcome.REPLY and f.reply is not None:
        return f"{f.reply.code} to {f.phase.value}"
    return f"{f.outcome.value} in {f.phase.value}"


def alt_ports_step(facts: Facts, views: Sequence[RouteView]) -> str | None:
    """Result of "try the other SMTP ports" for the addresses in ``views``."""
    addrs = {(v.result.route.mx, v.result.route.address) for v in views}
    related = [v for v in facts.views if (v.result.route.mx, v.result.route.address) in addrs]
    if len({v.result.route.port for v in related}) < 2:
        return None
    return ports_result(facts, related)


def tls_step(views: Sequence[RouteView]) -> str | None:
    """Result of "check TLS" from the routes that reached TLS; ``None`` if none did."""
    lines = []
    same: dict[str, list[RouteView]] = {}
    for v in views:
        rr, f = v.result, v.failure
        if f is not None and (f.phase in _TLS_PHASES or f.outcome is Outcome.TLS_FAILURE):
            lines.append(describe(v))
        elif rr.tls is not None and rr.tls.version:
            ver = (
                "verified"
                if rr.tls.verified
                else f"not verified ({verify_text(rr.tls, v.result.route.mx)})"
            )
            same.setdefault(f"{rr.tls.version} {rr.tls.cipher}, certificate {ver}", []).append(v)
    lines.extend(f"{routes_brief(vs, 6)}: {text}" for text, vs in same.items())
    return join(lines) if lines else None


def verify_text(tls: TlsInfo, mx: str) -> str:
    """Why a certificate did not verify, named from ``verify_reason``."""
    cert = tls.certificate
    reason = tls.verify_reason
    if reason is TlsReason.CERT_WEAK_KEY:
        size = f"{cert.key_type} {cert.key_bits} bits" if cert and cert.key_bits else "key"
        return f"the key is too weak ({size}; RSA needs at least 2048 bits)"
    if reason is TlsReason.CERT_EXPIRED:
        if cert is not None and cert.days_left < 0:
            return f"the certificate {days_left(cert.days_left)}"
        return "the certificate is expired or not yet valid"
    if reason is TlsReason.CERT_WRONG_NAME:
        return f"the certificate does not name {mx}"
    if reason is TlsReason.CERT_UNTRUSTED:
        if tls.chain_truncated:
            return (
                f"the chain was cut at {plural(tls.chain_length, 'certificate')} (the probe's "
                "cap), so a path to a trusted root could not be checked"
            )
        if cert is not None and cert.self_signed:
            return "self-signed: no chain to a trusted root"
        return "no chain to a trusted root"
    return tls.verify_error or "unknown reason"


def ip_block_text(views: Sequence[RouteView]) -> str | None:
    """``mx[ip]:25 said: 554 ...`` for the first reply that names an IP block."""
    v = ip_block_reply(views)
    if v is None or v.failure is None:
        return None
    return f"{v.label} said: {fmt_reply(v.failure.reply)}"


def q_evidence(q: DnsQuery, note: str | None = None) -> Evidence:
    return Evidence(
        mx=None,
        query=f"{q.rdtype} {q.name}",
        dns_outcome=q.outcome,
        error=q.detail,
        duration_ms=q.duration_ms,
        note=note
        or (
            f"nameserver {q.nameserver}"
            if q.nameserver
            else "the probe's deadline (--timeout) passed first"
            if q.deadline
            else "no nameserver answered"
        ),
    )


def connect_steps_542(f: Facts, views: Sequence[RouteView]) -> dict[str, str]:
    done: dict[str, str] = {"test-connection": join(describe(v) for v in views)}
    alt = alt_ports_step(f, views)
    if alt:
        done["alternative-ports"] = alt
    tls = tls_step(views)
    if tls:
        done["check-tls"] = tls
    block = ip_block_text(views)
    if block:
        done["check-ip-block"] = block
    return done


def refusal_words(views: Sequence[RouteView]) -> str:
    """How the connects were turned away: ``refused (TCP RST or ICMP port unreachable)``."""
    outcomes = {v.failure.outcome for v in views if v.failure is not None}
    words = []
    if Outcome.REFUSED in outcomes:
        words.append("refused (TCP RST or ICMP port unreachable)")
    if Outcome.UNREACHABLE in outcomes:
        words.append("rejected with an ICMP unreachable")
    if Outcome.TIMEOUT in outcomes:
        words.append("timed out")
    if outcomes - {Outcome.REFUSED, Outcome.UNREACHABLE, Outcome.TIMEOUT}:
        words.append("failed")
    return " or ".join(words) or "failed"


_FAMILY_WORD = {AddressFamily.IPV4: "IPv4", AddressFamily.IPV6: "IPv6"}


_FAMILY_FLAG = {AddressFamily.IPV4: "-4", AddressFamily.IPV6: "-6"}


_FAMILY_RDTYPE = {AddressFamily.IPV4: "A", AddressFamily.IPV6: "AAAA"}


def filter_reason(f: Facts, h: MxHost) -> str:
    """Why a host of :attr:`Facts.filtered_hosts` was not probed, e.g. "only IPv6
    addresses, and -4 was given"."""
    have = [
        fam
        for fam in (AddressFamily.IPV4, AddressFamily.IPV6)
        if any(family_of(a) is fam for a in h.addresses)
    ]
    probed = list(dict.fromkeys(f.report.families))
    flag = _FAMILY_FLAG[probed[0]] if len(probed) == 1 else "the family filter"
    text = f"only {' and '.join(_FAMILY_WORD[x] for x in have)} addresses, and {flag} was given"
    # A failed lookup of the probed family is no proof the host lacks such addresses.
    failed = sorted(
        {
            f"{q.rdtype} lookup {q.outcome.value}"
            for q in h.queries
            if q.rdtype in {_FAMILY_RDTYPE[p] for p in probed}
            and q.outcome not in (DnsOutcome.OK, DnsOutcome.NXDOMAIN, DnsOutcome.NODATA)
        }
    )
    if failed:
        text += f" ({', '.join(failed)})"
    return text


def filtered_note(f: Facts) -> str:
    """A sentence naming the MX hosts the family filter kept from being probed."""
    hosts = f.filtered_hosts
    if not hosts:
        return ""
    them = "it" if len(hosts) == 1 else "them"
    return (
        " Not probed: "
        + "; ".join(f"{h.name} ({filter_reason(f, h)})" for h in hosts)
        + f", so this says nothing about {them}."
    )


def host_line(h: MxHost, f: Facts | None = None) -> str:
    if f is not None and h in f.filtered_hosts:
        return (
            f"{h.preference} {h.name}: {', '.join(h.addresses)}, not probed: {filter_reason(f, h)}"
        )
    if h.kind is MxTargetKind.NO_ADDRESS:
        outs = sorted({q.outcome.value for q in h.queries if q.rdtype in ("A", "AAAA")})
        return f"{h.preference} {h.name}: no address ({'/'.join(outs) or 'no records'})"
    if h.kind is MxTargetKind.IP_LITERAL:
        return f"{h.preference} {h.name}: an IP literal, not a host name"
    if h.kind is MxTargetKind.CNAME:
        return f"{h.preference} {h.name}: an alias (CNAME) -> {', '.join(h.addresses) or '?'}"
    if h.kind is MxTargetKind.LOOKUP_FAILED:
        outs = sorted({q.outcome.value for q in h.queries if q.outcome is not DnsOutcome.OK})
        return f"{h.preference} {h.name}: address lookup failed ({'/'.join(outs)})"
    return f"{h.preference} {h.name}: {', '.join(h.addresses) or 'no address in probed families'}"


def steps_543(
    f: Facts, failed_hosts: Sequence[str], failed_views: Sequence[RouteView]
) -> dict[str, str]:
    res = f.report.resolution
    mx_lines = [host_line(h, f) for h in res.hosts]
    working = f.working_other_than(failed_hosts)
    alternatives = (
        f"working route{'' if len(working) == 1 else 's'}: {routes_brief(working, 6)}"
        if working
        else "no MX gives a working route"
    )
    per_mx = []
    tried_any = False
    for h in res.hosts:
        views = f.host_views(h.name)
        # A route never attempted (deadline, address policy) is no test of the host.
        hv = [v for v in views if v.state is not RouteState.SKIPPED]
        skipped = len(views) - len(hv)
        if not views and h in f.filtered_hosts:
            per_mx.append(f"{h.name}: not probed: {filter_reason(f, h)}")
        elif not views:
            per_mx.append(f"{h.name}: not probed ({h.kind.value})")
        elif not hv:
            per_mx.append(f"{h.name}: not tested ({plural(skipped, 'route')} not attempted)")
        else:
            tried_any = True
            good = sum(1 for v in hv if v.state is RouteState.OK)
            verb = "works" if len(hv) == 1 else "work"
            line = f"{h.name}: {good} of {plural(len(hv), 'route')} {verb}"
            per_mx.append(line + (f" ({skipped} not attempted)" if skipped else ""))
    failed_desc = ", ".join(failed_hosts) or "none"
    done = {
        "check-mx": join(mx_lines),
        "domain-status": (
            f"{res.domain} exists and publishes {plural(len(res.hosts), 'MX record')} "
            f"(MX query {res.mx_query.outcome.value})"
        ),
        "document-pattern": (
            f"the failure is in {res.domain}'s MX routing, so every address at "
            f"{res.domain} is affected"
        ),
        "alternative-routes": alternatives,
        "mx-preferences": join(f"{h.preference} {h.name} (rank {h.rank})" for h in res.hosts),
        "mx-valid": join(mx_lines),
        "mx-connectivity": join(per_mx),
        "mx-identify-failed": failed_desc
        + (f" ({join(describe(v) for v in failed_views[:4])})" if failed_views else ""),
        "path-failed-server": failed_desc,
        "path-alternatives": alternatives,
    }
    if not tried_any:
        # Connectivity was not tested: the step stays to do, not "done -> not probed".
        del done["mx-connectivity"]
    return done


def host_outcome(views: Sequence[RouteView]) -> str:
    """``ok`` (every route works), ``failed`` (none) or ``partial``."""
    good = sum(1 for v in views if v.state is RouteState.OK)
    return "ok" if good == len(views) else ("failed" if good == 0 else "partial")


def draft(
    summary: str,
    evidence: Sequence[Evidence],
    *,
    steps: Sequence[Step] = (),
    action: Action | None = None,
    neighbours: Sequence[str] = (),
    title: str | None = None,
    payload: FindingPayload | None = None,
) -> Draft:
    """A :class:`Draft` (keyword names as the narrators use them)."""
    return Draft(
        summary,
        tuple(evidence),
        tuple(steps),
        action,
        tuple(neighbours),
        title,
        payload or FindingPayload(),
    )
