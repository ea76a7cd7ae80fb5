"""Narrators of the route-level rules: the finding's words from its match."""

from __future__ import annotations

import errno as errnos

from ..diagnosis.facts import (
    Facts,
    RouteState,
    RouteView,
    TlsFault,
    local_deny,
    reply_cause_slugs,
    server_code,
    tls_fault,
)
from ..diagnosis.predicates import Match
from ..diagnosis.vantage import listed_zones
from ..model import (
    Action,
    ActionKind,
    AddressFamily,
    Evidence,
    FindingPayload,
    MssRetry,
    MssRetryResult,
    Outcome,
    Phase,
    RuleId,
)
from .actions import make_action, make_steps, neighbours
from .common import (
    Draft,
    alt_ports_step,
    cert_facts,
    connect_steps_542,
    describe,
    draft,
    evidence,
    filtered_note,
    fmt_reply,
    in_probe_order,
    ports_result,
    refusal_words,
    routes_brief,
    steps_543,
    tls_reason_text,
    tls_step,
)
from .persistence import persistence_text
from .units import cap1, fmt_ms, fmt_s, join, plural, ports_word

__all__ = [
    "all_refused",
    "all_unreachable",
    "deferred",
    "dropped",
    "family_unreachable",
    "mtu_black_hole",
    "mx_not_listening",
    "own_block",
    "port_blocked",
    "rejected",
    "tls_mismatch",
]

_TLS_PHASES = (Phase.STARTTLS, Phase.TLS_HANDSHAKE, Phase.EHLO_TLS)


def own_block(f: Facts, m: Match) -> Draft:
    port = f.delivery_port
    domain = f.report.resolution.domain
    blocked = [v for v in f.views if v.delivery]
    answering = [v for v in f.views if not v.delivery and v.connected]
    alt_ports = in_probe_order(f, (v.result.route.port for v in answering))
    local = [v for v in blocked if local_deny(v)]
    if local:
        how = (
            f"{plural(len(local), 'connect')} to port {port} failed on this machine itself "
            "('operation not permitted': a local firewall refused to send the SYN)"
        )
        if len(local) < len(blocked):
            how += f", the other {plural(len(blocked) - len(local), 'route')} timed out"
        favoured = f"your own host or network blocks outbound port {port}"
        if len(local) == len(blocked):
            favoured += f"; this says nothing about {domain}"
        else:
            favoured += f"; less likely, {domain}'s firewall drops it"
    else:
        how = (
            f"port {port} timed out on every MX address ({plural(len(blocked), 'route')}, "
            "no answer to the SYN)"
        )
        favoured = (
            f"most likely your own network blocks outbound port {port} (ISPs and clouds "
            f"drop it silently, for every destination); less likely, {domain}'s firewall "
            "drops it"
        )
    done = {
        "test-connection": join(describe(v) for v in blocked + answering),
        "alternative-ports": ports_result(f),
    }
    return draft(
        f"{cap1(how)}, while {ports_word(alt_ports)} of the same addresses connect: "
        f"{favoured}. Confirm by probing another domain's port {port} from here.",
        [evidence(v) for v in blocked + answering],
        steps=make_steps("5.4.2", done),
        action=Action(
            ActionKind.FIX,
            f"Check the network this probe ran from: probe another domain's MX on port {port} "
            f"(smtpdiag probe <domain> --ports {port}). If that times out too, allow outbound "
            f"TCP {port} or probe from a host that may send mail, then probe {domain} again. "
            f"If it connects, {domain} drops port {port} itself (5.4.2 'port permanently "
            f"blocked' candidate): MTAs deliver on {port} only, so its administrators must "
            "open it.",
        ),
        title=f"Outbound port {port} blocked on the prober's network (suspected)",
    )


def all_unreachable(f: Facts, m: Match) -> Draft:
    views = list(m.views)
    hosts = f.hosts_with_routes
    return draft(
        f"Every MX of {f.report.resolution.domain} ({', '.join(hosts)}) is unreachable "
        "on every address and port while DNS answers: the MX records point at servers "
        "that cannot be reached (routing server failure). Nothing connected at all, so "
        "MTAs report this as 4.4.1 until they give up." + filtered_note(f),
        [evidence(v) for v in views],
        steps=make_steps("5.4.3", steps_543(f, hosts, views)),
        action=make_action(
            "5.4.3", f, persistence=f.persistence_of(RuleId.ALL_MX_UNREACHABLE).persistence
        ),
        neighbours=neighbours("5.4.3"),
    )


def all_refused(f: Facts, m: Match) -> Draft:
    views = list(m.views)
    refused = [v for v in views if v.failure and v.failure.outcome is Outcome.REFUSED]
    dropped = [v for v in views if v.failure and v.failure.outcome is Outcome.TIMEOUT]
    how = []
    if refused:
        how.append(f"{len(refused)} refused (TCP RST: the host answers but rejects the port)")
    if dropped:
        how.append(f"{len(dropped)} timed out (SYN silently dropped: a firewall DROP)")
    other = len(views) - len(refused) - len(dropped)
    if other:
        how.append(f"{other} unreachable or failed")
    return draft(
        f"No address of any MX of {f.report.resolution.domain} accepts a TCP connection "
        f"on any probed port ({'; '.join(how)}): a 5.4.2 bad-connection candidate. "
        "Permanent only if it persists."
        + (
            " If other domains time out from here too, suspect your own network's "
            "outbound filter instead."
            if dropped and len(dropped) == len(views)
            else ""
        )
        + filtered_note(f),
        [evidence(v) for v in views],
        steps=make_steps("5.4.2", connect_steps_542(f, views)),
        action=make_action(
            "5.4.2", f, persistence=f.persistence_of(RuleId.ALL_ROUTES_REFUSED).persistence
        ),
        neighbours=("4.4.1",),
    )


def _deferred_steps(f: Facts, views: list[RouteView], rate: str | None) -> dict[str, str]:
    working = f.ok_views
    identify = f"not accepting: {routes_brief(views, 6)}"
    if working:
        identify += f"; accepting: {routes_brief(working, 6)}"
    # A step is done only when an observation did it: logging which servers often
    # defer and tracking how often needs repeated probes (watch); respecting rate
    # limits is the sender's to do, never the probe's.
    done: dict[str, str] = {}
    if f.history_len:
        done["identify-servers"] = identify
        done["track-metrics"] = persistence_text(f.persistence_of(RuleId.GREETING_DEFERRED))
    del rate  # the reply's rate-limit wording is in the summary's causes
    return done


def _quoted(views: list[RouteView]) -> str:
    """One reply quoted (they usually differ only in the client address they echo); the
    evidence has every one."""
    shown = sorted({r for v in views if v.failure and (r := fmt_reply(v.failure.reply))})
    if not shown:
        return "a deferral"
    more = len(shown) - 1
    return shown[0][:200] + (
        f" (and {plural(more, 'other reply', 'other replies')})" if more else ""
    )


def deferred(f: Facts, m: Match) -> Draft:
    views = list(m.views)
    said_why, rate = reply_cause_slugs(
        v.failure.reply.text for v in views if v.failure and v.failure.reply
    )
    own = server_code(views)
    own_differs = bool(own) and own != "4.3.2"
    servers = sorted({v.result.route.mx for v in views})
    summary = (
        f"{', '.join(servers)} answered {_quoted(views)}: the server is up but temporarily "
        f"not accepting messages ({f'{own} as the server states it' if own_differs else '4.3.2'}"
        ", soft bounce)"
    )
    if not said_why:
        summary += (
            "; the reply does not say why (the 4.3.2 guide names maintenance, network problems, "
            "overload)"
        )
    return draft(
        summary + ".",
        [evidence(v) for v in views],
        steps=make_steps("4.3.2", _deferred_steps(f, views, rate)),
        action=make_action("4.3.2", f, deliverable_via=f.ok_views),
        neighbours=("4.3.2",) if own_differs else (),
        payload=FindingPayload(routes=tuple(v.label for v in views), server_code=own),
    )


def _tls_kind_text(v: RouteView) -> str:
    f = v.failure
    if f is None:
        return "TLS failed"
    fault = tls_fault(f)
    if fault is TlsFault.STARTTLS_REFUSED:
        return f"STARTTLS refused with {fmt_reply(f.reply)}"
    if fault is TlsFault.NOT_TLS:
        return (
            "the server speaks plaintext on an implicit-TLS port (it expects STARTTLS, or "
            "the port is misconfigured)"
        )
    if fault is TlsFault.VERSION:
        return "no TLS protocol version in common"
    if fault is TlsFault.CIPHER:
        return "no cipher suite in common"
    return f"the certificate fails the handshake: {tls_reason_text(f)}"


def tls_mismatch(f: Facts, m: Match) -> Draft:
    views = list(m.views)
    working = f.working_other_than(())
    ev = []
    certs: dict[str, str] = {}
    for v in views:
        ev.append(evidence(v, _tls_kind_text(v)))
        cert = v.result.tls.certificate if v.result.tls else None
        if cert is not None:
            certs.setdefault(cert.sha256, cert_facts(cert) or "")
    ev.extend(Evidence(note=text) for text in certs.values())
    reasons = sorted({_tls_kind_text(v) for v in views})
    done = {
        "test-connection": join(describe(v) for v in views),
        "check-tls": join(f"{v.label}: {_tls_kind_text(v)}" for v in views),
    }
    alt = alt_ports_step(f, views)
    if alt:
        done["alternative-ports"] = alt
    return draft(
        f"TLS configuration mismatch on {routes_brief(views)}: {'; '.join(reasons)}. "
        "Senders that require TLS fail permanently here (5.4.2).",
        ev,
        steps=make_steps("5.4.2", done),
        action=make_action(
            "5.4.2",
            f,
            deliverable_via=working,
            fix="the recipient's administrators should fix the TLS configuration",
            persistence=f.persistence_of(RuleId.TLS_MISMATCH).persistence,
        ),
        payload=FindingPayload(
            routes=tuple(v.label for v in views),
            tls_reasons=tuple(
                dict.fromkeys(
                    v.failure.tls_reason for v in views if v.failure and v.failure.tls_reason
                )
            ),
        ),
    )


def dropped(f: Facts, m: Match) -> Draft:
    views = list(m.views)
    working = f.ok_views
    hosts = sorted({v.result.route.mx for v in views})
    # Routes never attempted are no evidence either way: not counted.
    total = sum(1 for v in f.views if v.state is not RouteState.SKIPPED)
    pattern = f"fails on {len(views)} of {plural(total, 'route')} (hosts: {', '.join(hosts)})"
    if working:
        pattern += f"; works on {routes_brief(working)}"
    done = {
        "log-failure": join(describe(v) for v in views),
        "timeouts": join(
            f"{v.failure.phase.value} on {v.label} ended after {fmt_ms(v.failure.duration_ms)}"
            for v in views
            if v.failure
        ),
        "patterns": pattern,
    }
    tls = tls_step(views) or tls_step(list(f.ok_views))
    if tls:
        done["check-tls"] = tls
    alt = alt_ports_step(f, views)
    if alt:
        done["alternative-ports"] = alt
    mss = _mss_step(f, views)
    if mss:
        done["network-diagnostics"] = mss
    phases = sorted({v.failure.phase.value for v in views if v.failure})
    own = server_code(views)
    if own is not None:
        # A reply is the server's own word: nothing was dropped (RFC 3463, RFC 3207 4).
        replies = sorted({fmt_reply(v.failure.reply) or "" for v in views if v.failure})
        head = (
            f"{routes_brief(views)} answered {', '.join(phases)} with "
            f"{'; '.join(replies)}: the server's own temporary refusal ({own}, soft bounce), "
            "not a dropped connection."
        )
    else:
        head = (
            f"Connected to {routes_brief(views)}, then the session failed during "
            f"{', '.join(phases)} before a message could be sent: connection failure "
            "(4.4.2, soft bounce)."
        )
    unlikely = {id(v) for v in f.mtu_unlikely}
    if any(id(v) in unlikely for v in views):
        head += (
            " The stalled TLS handshake, repeated with a small segment size, stalled as well: "
            "the server's large packets are not what is lost, so an MTU black hole is "
            "unlikely."
        )
    return draft(
        head,
        [evidence(v) for v in views] + _mss_evidence(f, views),
        steps=make_steps("4.4.2", done),
        action=make_action("4.4.2", f, deliverable_via=working),
        neighbours=neighbours("4.4.2"),
        payload=FindingPayload(routes=tuple(v.label for v in views), server_code=own)
        if own is not None
        else None,
    )


def rejected(f: Facts, m: Match) -> Draft:
    views = list(m.views)
    lines = []
    for v in views:
        fr = v.failure
        if fr is None or fr.outcome is Outcome.ERROR or fr.reply is None:
            lines.append(f"{v.label} does not speak SMTP as expected")
        elif fr.phase is Phase.GREETING:
            lines.append(f"{v.label} refuses sessions: {fmt_reply(fr.reply)}")
        else:
            lines.append(f"{v.label} rejects {fr.phase.value}: {fmt_reply(fr.reply)}")
    working = f.ok_views
    own = server_code(views)
    what = (
        f"{own} as the server states it"
        if own
        else "5.4.2 candidate: bad connection by policy or protocol"
    )
    listed = listed_zones(f)
    about = (
        f" This prober's own address is listed on {', '.join(listed)}: the refusal may be "
        "about the sender, not the recipient (see egress-listed)."
        if listed
        else ""
    )
    return draft(
        f"{'; '.join(lines[:4])}: the server refuses the connection permanently ({what})." + about,
        [evidence(v) for v in views],
        steps=make_steps("5.4.2", connect_steps_542(f, views)),
        action=make_action(
            "5.4.2",
            f,
            deliverable_via=working,
            persistence=f.persistence_of(RuleId.SERVER_REJECTED).persistence,
        ),
        neighbours=("5.4.2",) if own and own != "5.4.2" else (),
        payload=FindingPayload(routes=tuple(v.label for v in views), server_code=own),
    )


def _answering(f: Facts, views: list[RouteView]) -> list[RouteView]:
    """Routes of the same addresses as ``views`` that did connect."""
    keys = {v.key for v in views}
    return [o for o in f.views if o.key in keys and o.connected]


def _refused_everywhere(
    f: Facts, delivery: list[RouteView], alt_ports: list[int], working_alt: list[int]
) -> tuple[str, Action]:
    """Every MX address turns the delivery port away actively while another port of the
    same addresses answers: the host is up, the destination (or a firewall on its path)
    refuses the delivery port. An outbound block on the prober's side would time out
    silently instead (see own-port-blocked)."""
    port = f.delivery_port
    worked = (
        f"{ports_word(working_alt)} on the same addresses "
        f"{'works' if len(working_alt) == 1 else 'work'}"
        if working_alt
        else f"{ports_word(alt_ports)} on the same addresses connect but fail later "
        "(see the other findings)"
    )
    summary = (
        f"Port {port} is {refusal_words(delivery)} on every MX address "
        f"({plural(len(delivery), 'route')}), while {worked}: the destination, or a "
        f"firewall on its path, refuses port {port} (an outbound block on your side would "
        f"more likely time out). MTAs deliver on port {port} only (RFC 5321): they retry "
        "(4.4.1) and bounce if it persists."
    )
    alt_text = (
        f" {cap1(ports_word(working_alt))} answer (5.4.2 guide step 'try the other "
        "ports'), usually for authenticated submission only."
        if working_alt
        else ""
    )
    action = Action(
        ActionKind.FIX,
        f"The recipient's administrators should open port {port} to the MX. Do not "
        "suppress on one probe: confirm it persists (smtpdiag watch) first; suppress only "
        f"when it does.{alt_text}",
    )
    return summary, action


def _refused_here(
    f: Facts, views: list[RouteView], alt_ports: list[int], working_alt: list[int]
) -> str:
    """Some routes refused while other ports or addresses of the MX answer."""
    if alt_ports:
        advice = (
            f"try the alternative {ports_word(working_alt)} "
            "(5.4.2 guide step 'try the other ports')"
            if working_alt
            else "but they fail as well (see the other findings)"
        )
        blocked_ports = in_probe_order(f, (v.result.route.port for v in views))
        summary = (
            f"{cap1(ports_word(blocked_ports))} {refusal_words(views)} on "
            f"{routes_brief(views)}, but {ports_word(alt_ports)} of the same address "
            f"answer: {advice}."
        )
    else:
        summary = (
            f"{routes_brief(views)} {'accepts' if len(views) == 1 else 'accept'} no "
            "connection while other addresses of the same MX do: an address-specific "
            "network path or firewall problem."
        )
    if f.delivery_ok:
        summary += (
            f" MTAs move on to the next address or MX (RFC 5321 5.4.4) and deliver via "
            f"{routes_brief(f.delivery_ok_views)}: no bounce."
        )
    return summary


def port_blocked(f: Facts, m: Match) -> Draft:
    views = list(m.views)
    answering = _answering(f, views)
    alt_ports = in_probe_order(f, (o.result.route.port for o in answering))
    working_alt = in_probe_order(
        f, (o.result.route.port for o in answering if o.state is RouteState.OK)
    )
    delivery = [v for v in f.views if v.delivery]
    everywhere = bool(delivery) and all(v.state is RouteState.NO_CONNECT for v in delivery)
    action: Action | None = None
    if everywhere and alt_ports:
        summary, action = _refused_everywhere(f, delivery, alt_ports, working_alt)
        title: str | None = f"Bad connection: port {f.delivery_port} refused"
    else:
        summary, title = _refused_here(f, views, alt_ports, working_alt), None
    if f.delivery_ok:
        title = "Bad connection: port or address refused"
    return draft(
        summary,
        [evidence(v) for v in views]
        + ([evidence(o) for o in dict.fromkeys(answering)] if everywhere else []),
        steps=make_steps("5.4.2", connect_steps_542(f, views)),
        action=action
        or make_action(
            "5.4.2",
            f,
            deliverable_via=f.ok_views,
            fix="the recipient's administrators should open the blocked port or address",
            persistence=f.persistence_of(RuleId.PORT_BLOCKED).persistence,
        ),
        neighbours=("4.4.1",),
        title=title,
    )


def mx_not_listening(f: Facts, m: Match) -> Draft:
    views = list(m.views)
    hosts = f.hosts_with_routes
    ports = in_probe_order(f, (v.result.route.port for v in views))
    return draft(
        f"Every MX of {f.report.resolution.domain} ({', '.join(hosts)}) refuses every "
        f"probed port ({ports_word(ports)}) on every address: the hosts are up, but no mail "
        "server listens there - a dead or decommissioned mail host the MX records still "
        "point at (5.4.3; sending MTAs log 4.4.1 while they retry)." + filtered_note(f),
        [evidence(v) for v in views],
        steps=make_steps("5.4.3", steps_543(f, hosts, views)),
        action=make_action(
            "5.4.3",
            f,
            fix="the domain's administrators should start the mail server or update the MX",
            persistence=f.persistence_of(RuleId.MX_NOT_LISTENING).persistence,
        ),
        neighbours=("4.4.1", "5.4.4"),
        title="MX host not listening (dead or decommissioned mail host)",
        payload=FindingPayload(hosts=tuple(hosts), ports=tuple(ports)),
    )


_FAMILY_WORDS = {AddressFamily.IPV4: "IPv4", AddressFamily.IPV6: "IPv6"}


def family_unreachable(f: Facts, m: Match) -> Draft:
    views = list(m.views)
    family = views[0].result.route.family
    word = _FAMILY_WORDS[family]
    other = _FAMILY_WORDS[
        AddressFamily.IPV4 if family is AddressFamily.IPV6 else AddressFamily.IPV6
    ]
    no_route_here = all(v.failure and v.failure.errno == errnos.ENETUNREACH for v in views)
    where = (
        "this machine has no route to them (network unreachable)"
        if no_route_here
        else "the network path answers 'no route to host'"
    )
    working = [v for v in f.delivery_ok_views if v.result.route.family is not family]
    return draft(
        f"The {word} addresses of the MX ({routes_brief(views)}) are unreachable: {where}, "
        f"while {other} delivers ({routes_brief(working)}). Mail flows; {word} senders "
        f"fall back to {other} (RFC 5321 5.4.4), so this is a degraded {word} path, not a "
        "refused port.",
        [evidence(v) for v in views],
        action=Action(
            ActionKind.FIX,
            f"The recipient's administrators should check {word} routing to the MX (or "
            f"remove the {word} address records until it works); probe again from another "
            f"{word} network to rule out this one.",
        ),
        title=f"{word} unreachable, {other} delivers (degraded)",
        payload=FindingPayload(routes=tuple(v.label for v in views)),
    )


_MSS_RESULT_WORDS = {
    MssRetryResult.COMPLETED: "completed",
    MssRetryResult.STALLED: "stalled as well",
    MssRetryResult.FAILED: "failed another way (no conclusion about the MTU)",
    MssRetryResult.CUT: "was cut short by the overall deadline (no conclusion)",
}


def _retries(f: Facts, views: list[RouteView]) -> list[tuple[RouteView, MssRetry]]:
    """One (route that made it, retry) per address of ``views`` that had a retry."""
    addresses = {v.result.route.address for v in views}
    return [
        (v, v.result.mss_retry)
        for v in f.views
        if v.result.mss_retry is not None and v.result.route.address in addresses
    ]


def _mss_words(v: RouteView, retry: MssRetry, *, route: bool = True) -> str:
    """``the TLS handshake with mx[ip]:25, repeated with MSS 536, completed in 4.2 ms``."""
    who = f"the TLS handshake with {v.label}, repeated" if route else "repeated"
    text = (
        f"{who} on a new connection with a maximum segment size of {retry.mss} bytes, "
        f"{_MSS_RESULT_WORDS[retry.result]}"
    )
    if retry.result is MssRetryResult.COMPLETED and retry.handshake_ms is not None:
        text += f" in {fmt_ms(retry.handshake_ms)}"
        if retry.chain_bytes:
            text += f" (the server's certificates: {retry.chain_bytes:,} bytes)"
    elif retry.result is MssRetryResult.STALLED:
        text += f" (no handshake within {retry.limit_s:g} s)"
    return text


def _mss_step(f: Facts, views: list[RouteView]) -> str | None:
    """Result of the 4.4.2 step "network diagnostics" when a small-MSS retry was made."""
    retries = _retries(f, views)
    if not retries:
        return None
    return join(cap1(_mss_words(v, r)) for v, r in retries)


def _mss_evidence(f: Facts, views: list[RouteView]) -> list[Evidence]:
    out = []
    for v, r in _retries(f, views):
        rt = v.result.route
        handshake = next((p for p in reversed(r.phases) if p.phase is Phase.TLS_HANDSHAKE), None)
        out.append(
            Evidence(
                mx=rt.mx,
                address=rt.address,
                port=rt.port,
                phase=Phase.TLS_HANDSHAKE if handshake is not None else None,
                outcome=handshake.outcome if handshake is not None else None,
                duration_ms=r.handshake_ms,
                note=_mss_words(v, r, route=False),
            )
        )
    return out


def mtu_black_hole(f: Facts, m: Match) -> Draft:
    views = list(m.views)
    stalls = sorted({v.failure.duration_ms for v in views if v.failure is not None})
    retries = _retries(f, views)
    small = ", ".join(f"MSS {r.mss} on {v.label}: {fmt_ms(r.handshake_ms)}" for v, r in retries)
    summary = (
        f"Path MTU black hole, proven: the TLS handshake with {routes_brief(views)} stalls "
        f"({fmt_s(stalls[-1] / 1000) if stalls else 'its limit'} without a reply) while the "
        f"TCP handshake and plain SMTP work, and completes with small segments ({small}). "
        "The server's full-size packets are lost on the path, and the ICMP 'fragmentation "
        "needed' / 'packet too big' that would make it send smaller ones does not reach it "
        "(4.4.2 'MTU problems'). Senders with a normal segment size stall the same way and "
        "retry (4.4.2, soft bounce)."
    )
    working = f.ok_views
    done = {
        "log-failure": join(describe(v) for v in views),
        "timeouts": join(
            f"{v.failure.phase.value} on {v.label} ended after {fmt_ms(v.failure.duration_ms)}"
            for v in views
            if v.failure
        ),
        "patterns": f"the TLS handshake stalls on {routes_brief(views)}; small segments pass",
        "network-diagnostics": join(cap1(_mss_words(v, r)) for v, r in retries),
    }
    alt = alt_ports_step(f, views)
    if alt:
        done["alternative-ports"] = alt
    return draft(
        summary,
        [evidence(v) for v in views] + _mss_evidence(f, views),
        steps=make_steps("4.4.2", done),
        action=make_action(
            "4.4.2",
            f,
            deliverable_via=working,
            path_fault=True,
            fix=(
                "the network in front of the MX (or, less often, in front of this prober) must "
                "stop losing large packets silently: clamp the TCP MSS to the path MTU on the "
                "router or firewall in front of the MX (nftables: tcp flags syn tcp option "
                "maxseg size set rt mtu; iptables: -j TCPMSS --clamp-mss-to-pmtu), and let "
                "ICMP 'fragmentation needed' (IPv4 type 3 code 4) and ICMPv6 'packet too big' "
                "(type 2) through to the MX"
            ),
        ),
        neighbours=neighbours("4.4.2"),
        title="Path MTU black hole (proven): large packets are lost on the way",
    )
