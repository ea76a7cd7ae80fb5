"""Which seed causes a fired rule names: one chooser per rule, in one table.

A cause is a seed's "Häufige Ursachen" entry (``"5.4.2/port-blocked"``, see
:mod:`.knowledge`). Which ones a finding names is a decision over typed facts (what
failed where, how, what the reply said), so it is made here, once per rule; the
narration layer only writes the seed's wording for the ids it is given. Every id is
checked against the seed knowledge (a slug the seed does not have raises).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from ..model import CauseId, MxTargetKind, Outcome, Phase, RuleId, TlsMode
from .facts import Facts, RouteView, TlsFault, ip_block_reply, reply_cause_slugs, tls_fault
from .predicates import Match

__all__ = ["CAUSES", "cause_ids", "cause_tests", "causes"]

_TLS_PHASES = (Phase.STARTTLS, Phase.TLS_HANDSHAKE, Phase.EHLO_TLS)


def causes(code: str, slugs: Iterable[str]) -> tuple[CauseId, ...]:
    """The ids of ``code``'s seed causes named by ``slugs`` (each checked, order kept)."""
    from . import knowledge  # loads with the first code (a healthy probe has none)

    k = knowledge.get(code)
    if k is None:  # pragma: no cover - every code the rules name has knowledge
        raise KeyError(code)
    for s in slugs:
        k.cause(s)  # raises on a slug the seed does not have
    return tuple(CauseId(f"{code}/{s}") for s in dict.fromkeys(slugs))


def _fixed(code: str, *slugs: str) -> Callable[[Facts, Match], tuple[CauseId, ...]]:
    """A rule that always names the same causes."""
    return lambda f, m: causes(code, slugs)


def _mx_no_address(f: Facts, m: Match) -> tuple[CauseId, ...]:
    ip_literal = any(h.kind is MxTargetKind.IP_LITERAL for h in m.hosts)
    return causes("5.4.3", ["dns-invalid", "mx-records", *(["configuration"] * ip_literal)])


def _mx_down(f: Facts, m: Match) -> tuple[CauseId, ...]:
    unreachable_only = all(
        v.failure is not None and v.failure.outcome is Outcome.UNREACHABLE for v in m.views
    )
    return causes(
        "5.4.3", ["mx-records", "server-shut-down", *(["infrastructure"] * unreachable_only)]
    )


def _all_refused(f: Facts, m: Match) -> tuple[CauseId, ...]:
    outcomes = [v.failure.outcome if v.failure else None for v in m.views]
    slugs = ["port-blocked", "firewall-rules"]
    if Outcome.REFUSED in outcomes:
        slugs.append("connection-policy")
    if any(o not in (Outcome.REFUSED, Outcome.TIMEOUT) for o in outcomes):
        slugs.append("network-path")  # some were unreachable: no route to the host
    return causes("5.4.2", slugs)


def _deferred(f: Facts, m: Match) -> tuple[CauseId, ...]:
    slugs, _rate = reply_cause_slugs(
        v.failure.reply.text for v in m.views if v.failure and v.failure.reply
    )
    # A reply that does not say why: the seed's three causes.
    return causes("4.3.2", slugs or ["maintenance", "network-problems", "overload"])


def _tls_mismatch(f: Facts, m: Match) -> tuple[CauseId, ...]:
    faults = {tls_fault(v.failure) for v in m.views if v.failure is not None}
    slugs = ["tls-mismatch"] if faults - {TlsFault.NOT_TLS} else []
    if TlsFault.NOT_TLS in faults:
        slugs.append("server-configuration")  # plaintext on an implicit-TLS port
    return causes("5.4.2", slugs)


def _drop_slugs(v: RouteView) -> list[str]:
    """4.4.2 causes of one route that connected and then failed."""
    f = v.failure
    if f is None:
        return ["connection-dropped"]
    tls_phase = f.phase in _TLS_PHASES or (
        v.result.route.tls_mode is TlsMode.IMPLICIT and f.phase is Phase.TLS_HANDSHAKE
    )
    if f.outcome is Outcome.TIMEOUT:
        if f.phase is Phase.TLS_HANDSHAKE:
            # Small packets pass (TCP handshake, greeting), the large certificate
            # flight vanishes: the seed's MTU symptom.
            return ["tls-problems", "handshake-timeout", "mtu"]
        if tls_phase:
            return ["tls-problems", "handshake-timeout"]
        return ["handshake-timeout", "server-overloaded"]
    if f.outcome in (Outcome.CLOSED, Outcome.RESET):
        if tls_phase:
            return ["tls-problems", "connection-dropped"]
        if f.phase is Phase.GREETING:
            return ["connection-dropped", "connection-limit", "server-overloaded", "firewall"]
        return ["connection-dropped", "firewall", "proxy"]
    if f.outcome in (Outcome.TLS_FAILURE, Outcome.REPLY, Outcome.ERROR):
        return ["tls-problems"]
    return ["connection-dropped", "network-instability"]


def _dropped(f: Facts, m: Match) -> tuple[CauseId, ...]:
    # A stall whose small-MSS retry stalled too: the MTU cause is unlikely, not named.
    unlikely = {id(v) for v in f.mtu_unlikely}
    return causes(
        "4.4.2",
        [s for v in m.views for s in _drop_slugs(v) if s != "mtu" or id(v) not in unlikely],
    )


def _reject_slugs(v: RouteView) -> list[str]:
    """5.4.2 causes of one route whose server refused the session."""
    fr = v.failure
    if fr is None or fr.outcome is Outcome.ERROR or fr.reply is None:
        return ["protocol-incompatibility"]  # it does not speak SMTP as expected
    if fr.phase is Phase.GREETING:
        return ["connection-policy", *(["ip-blocked"] if ip_block_reply([v]) else [])]
    return ["protocol-incompatibility", "server-configuration"]


def _rejected(f: Facts, m: Match) -> tuple[CauseId, ...]:
    return causes("5.4.2", [s for v in m.views for s in _reject_slugs(v)])


def _port_blocked(f: Facts, m: Match) -> tuple[CauseId, ...]:
    keys = {v.key for v in m.views}
    answering = any(o.key in keys and o.connected for o in f.views)
    # Another port of the same address connected: the host is there, the port is not.
    return causes(
        "5.4.2", ["port-blocked", "firewall-rules", *([] if answering else ["network-path"])]
    )


def _when_deferred(f: Facts, m: Match) -> tuple[CauseId, ...]:
    return causes("4.4.2", ["tls-problems"] * m.enforced)


#: Rule -> its cause chooser; a rule without a row names no seed cause.
CAUSES: dict[RuleId, Callable[[Facts, Match], tuple[CauseId, ...]]] = {
    RuleId.MX_NO_ADDRESS: _mx_no_address,
    # MTAs deliver to an alias MX target: no routing server failed, no 5.4.3 cause.
    RuleId.MX_DOWN: _mx_down,
    RuleId.MX_NOT_GLOBAL: _fixed("5.4.3", "mx-records", "configuration"),
    # A certificate that does not verify is itself the cause (the summary names why);
    # the 5.4.2 guide's "configuration problems prevent secure connections" does not
    # hold while every route connects.
    RuleId.ALL_MX_UNREACHABLE: _fixed("5.4.3", "mx-records", "server-shut-down", "infrastructure"),
    RuleId.ALL_ROUTES_REFUSED: _all_refused,
    RuleId.GREETING_DEFERRED: _deferred,
    RuleId.TLS_MISMATCH: _tls_mismatch,
    RuleId.CONNECTION_DROPPED: _dropped,
    # Proven by the small-MSS retry: the one cause, not one among several.
    RuleId.PATH_MTU_BLACK_HOLE: _fixed("4.4.2", "mtu"),
    RuleId.SERVER_REJECTED: _rejected,
    RuleId.PORT_BLOCKED: _port_blocked,
    RuleId.MX_NOT_LISTENING: _fixed("5.4.3", "mx-records", "server-shut-down"),
    # Enforcing senders (MTA-STS enforce, DANE) defer over a TLS problem: the 4.4.2 seed's
    # "TLS/SSL problems". When nobody defers (MTA-STS testing mode, or another MX host
    # passes) there is no code and no cause.
    RuleId.DANE_MISMATCH: _when_deferred,
    RuleId.STARTTLS_REQUIRED: _when_deferred,
    RuleId.MTA_STS_CERT_INVALID: _when_deferred,
}


def cause_tests(
    rule: RuleId, facts: Facts, match: Match, named: tuple[CauseId, ...]
) -> tuple[tuple[CauseId, ...], tuple[CauseId, ...]]:
    """The causes a test of the probe proved (of ``named``, the ids the finding names)
    and those a test argued against (named nowhere): the small-MSS retry proves or
    makes unlikely the seed's MTU cause (4.4.2 "MTU problems")."""
    mtu = CauseId("4.4.2/mtu")
    if rule is RuleId.PATH_MTU_BLACK_HOLE:
        return (mtu,) if mtu in named else (), ()
    if rule is RuleId.CONNECTION_DROPPED and mtu not in named:
        unlikely = {id(v) for v in facts.mtu_unlikely}
        if any(id(v) in unlikely for v in match.views):
            return (), (mtu,)
    return (), ()


def cause_ids(rule: RuleId, facts: Facts, match: Match) -> tuple[CauseId, ...]:
    """The seed causes a fired rule names (none for a rule without a row)."""
    chooser = CAUSES.get(rule)
    return chooser(facts, match) if chooser is not None else ()
