"""The decision record: what to do, decided once, next to the findings.

Pure. :func:`decide_action` chooses a finding's action kind (retry, suppress, fix) and
its schedule from the code's guide and the observations; :func:`decide` sums a
diagnosis up: the primary code (the code an affected sender logs, none when no sender
is affected), the domain's action and who fails. The narration layer only words these
(:mod:`smtpdiag.narrate.actions`); health, bulk and every renderer read them.

Suppress needs evidence that the address or the whole domain cannot receive: a null
MX (RFC 7505, 5.1.10), no route at all (NXDOMAIN, no MX and no address: 5.4.4), or a
failure seen to persist over repeated probes (watch history). One look at a failing
server, a 5xx greeting (which may be about the prober's own address), or routes that
were never tried is no such evidence: those get "fix" (hold the mail and probe again).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from ..model import (
    ActionKind,
    Finding,
    Persistence,
    RetryAttempt,
    SenderKind,
    SenderOutcome,
    Severity,
    Verdict,
)
from .facts import Facts, RouteView

__all__ = [
    "POLICY",
    "POLICY_DOC",
    "SERVER_OWN_CODE",
    "SUPPRESS_CODES",
    "ActionBasis",
    "ActionDecision",
    "Decision",
    "PolicyRow",
    "decide",
    "decide_action",
    "policy_row",
]

#: Codes that are themselves evidence that the domain cannot receive mail: a null MX
#: (RFC 7505) and no route at all (NXDOMAIN, or no MX and no address: RFC 5321 5.1).
SUPPRESS_CODES = frozenset({"5.1.10", "5.4.4"})


class ActionBasis(StrEnum):
    """Why an action kind was chosen (the narration words each differently)."""

    RETRY = "retry"  #: the code's guide retries (soft bounce)
    DELIVERABLE = "deliverable"  #: a delivery-port route works: fix, never suppress
    OTHER_PORT = "other-port"  #: only a submission port answers: fix, confirm first
    NOT_PROBED = "not-probed"  #: an MX was not probed (-4/-6): fix, probe again first
    NO_MAIL = "no-mail"  #: the DNS says the domain cannot receive: suppress
    PERSISTS = "persists"  #: repeated probes show the failure persists: suppress
    UNCONFIRMED = "unconfirmed"  #: one look at a hard failure: hold and probe again


@dataclass(frozen=True, slots=True)
class ActionDecision:
    """A finding's action, before it is worded.

    Attributes:
        kind: Retry, suppress or fix.
        basis: Why.
        code: The guide code whose schedule and wording apply.
        schedule: Retry attempts (only for ``retry``).
        after_schedule: The guide's text for when every retry failed, if any.
        mta: Working delivery-port routes (mail is deliverable through them).
        alt: Working routes on other ports only.
    """

    kind: ActionKind
    basis: ActionBasis
    code: str
    schedule: tuple[RetryAttempt, ...] = ()
    after_schedule: str | None = None
    mta: tuple[RouteView, ...] = ()
    alt: tuple[RouteView, ...] = ()


def decide_action(
    code: str,
    facts: Facts,
    *,
    deliverable_via: Sequence[RouteView] = (),
    persistence: Persistence = Persistence.UNKNOWN,
) -> ActionDecision:
    """The action of a finding with guide ``code``.

    ``deliverable_via`` are the working routes. Only those on the delivery port are
    where MTAs deliver (RFC 5321); working submission ports (587/465) rule out
    "suppress" too: a host that answers is not gone.
    """
    from . import knowledge  # loads with the first finding that has a code

    k = knowledge.get(code)
    if k is None:  # pragma: no cover - every code the rules use has knowledge
        raise KeyError(code)
    mta = tuple(v for v in deliverable_via if v.delivery)
    alt = tuple(v for v in deliverable_via if not v.delivery)
    if k.action_kind is ActionKind.RETRY and k.retry is not None:
        return ActionDecision(
            ActionKind.RETRY,
            ActionBasis.RETRY,
            code,
            knowledge.schedule_from(k.retry, facts.now),
            k.retry.after_schedule,
            mta,
            alt,
        )
    if mta:
        return ActionDecision(ActionKind.FIX, ActionBasis.DELIVERABLE, code, mta=mta, alt=alt)
    if alt:
        return ActionDecision(ActionKind.FIX, ActionBasis.OTHER_PORT, code, alt=alt)
    if facts.filtered_hosts:
        # An MX the family filter kept from being probed may still deliver.
        return ActionDecision(ActionKind.FIX, ActionBasis.NOT_PROBED, code)
    if code in SUPPRESS_CODES:
        return ActionDecision(ActionKind.SUPPRESS, ActionBasis.NO_MAIL, code)
    if persistence is Persistence.PERMANENT:
        return ActionDecision(ActionKind.SUPPRESS, ActionBasis.PERSISTS, code)
    return ActionDecision(ActionKind.FIX, ActionBasis.UNCONFIRMED, code)


@dataclass(frozen=True, slots=True)
class Decision:
    """What a diagnosis sums up to, for every front end alike.

    Attributes:
        primary: The code the affected sender logs; ``None`` when no sender is affected.
        lead: The finding the domain's action comes from (``None``: nothing to do).
        who_fails: The kinds of sender that cannot deliver now.
    """

    primary: str | None
    lead: Finding | None
    who_fails: tuple[SenderKind, ...]


def _affects(f: Finding, delivers: bool) -> bool:
    """Some sender logs this finding's code for the message. While a delivery-port route
    works, opportunistic senders deliver (the next address or MX, RFC 5321 5.1): only a
    finding on which some kind of sender defers has a logged code."""
    if f.code is None or f.severity is Severity.INFO:
        return False
    if delivers:
        return any(s.outcome is SenderOutcome.DEFER for s in f.payload.senders)
    return True


def decide(verdict: Verdict, findings: Sequence[Finding], *, delivers: bool) -> Decision:
    """The primary code, the finding whose action the domain takes, and who fails.

    The primary code is the first finding's code that some sender logs (a hard code is
    ``info`` when a delivery-port route still delivers: nobody logs it). The lead is that
    finding, else the first finding that asks for something (fix, retry, suppress).
    ``delivers``: a delivery-port route works (opportunistic senders deliver).
    """
    if verdict in (Verdict.HEALTHY, Verdict.UNKNOWN):
        return Decision(None, None, ())
    coded = next((f for f in findings if _affects(f, delivers)), None)
    lead = coded or next((f for f in findings if f.action.kind is not ActionKind.NONE), None)
    who: list[SenderKind] = []
    if verdict in (Verdict.FAILED, Verdict.NO_MAIL) and not delivers:
        who.append(SenderKind.OPPORTUNISTIC)
    for f in findings:
        if not _affects(f, delivers):
            continue
        for s in f.payload.senders:
            if s.outcome is SenderOutcome.DEFER and s.sender not in who:
                who.append(s.sender)
    return Decision(coded.code if coded else None, lead, tuple(who))


@dataclass(frozen=True, slots=True)
class PolicyRow:
    """One row of the verdict and code policy (:data:`POLICY`).

    Attributes:
        id: A short name.
        situation: What the probe saw.
        verdict: The verdict.
        codes: The primary codes the row allows: ``()`` none, :data:`SERVER_OWN_CODE`
            the server's own enhanced code.
        actions: The action kinds the row allows.
        who: Which sender fails, and what it logs.
    """

    id: str
    situation: str
    verdict: Verdict
    codes: tuple[str, ...]
    actions: tuple[ActionKind, ...]
    who: str


#: In :attr:`PolicyRow.codes`: the code the servers' own replies state.
SERVER_OWN_CODE = "own"

_R, _S, _F, _N = ActionKind.RETRY, ActionKind.SUPPRESS, ActionKind.FIX, ActionKind.NONE

#: The verdict and primary-code policy, derived from what each kind of sender does.
POLICY: tuple[PolicyRow, ...] = (
    PolicyRow(
        "null-mx",
        "the domain publishes a null MX (RFC 7505)",
        Verdict.NO_MAIL,
        ("5.1.10",),
        (_S,),
        "every sender bounces (Postfix: 5.1.10)",
    ),
    PolicyRow(
        "no-route",
        "no such domain, or no MX and no address",
        Verdict.FAILED,
        ("5.4.4",),
        (_S,),
        "every sender bounces (Postfix: 5.4.4, host or domain name not found)",
    ),
    PolicyRow(
        "dns-failed",
        "the MX query fails (SERVFAIL, REFUSED)",
        Verdict.FAILED,
        ("4.4.3",),
        (_R,),
        "every sender defers (Postfix: 4.4.3, name service error)",
    ),
    PolicyRow(
        "server-reply",
        "no delivery-port route works; the servers reply with an enhanced code (421 4.3.2, "
        "454 4.7.0 to STARTTLS, 554 5.7.1)",
        Verdict.FAILED,
        (SERVER_OWN_CODE,),
        (_R, _F),
        "opportunistic senders log the server's own reply; 4xx: retry; 5xx: fix (hold and "
        "probe again: one 5xx greeting may be about the prober's address), never suppress",
    ),
    PolicyRow(
        "no-reply",
        "no delivery-port route works and no server replied (refused, unreachable, dropped, "
        "no TLS in common)",
        Verdict.FAILED,
        ("4.4.2", "5.4.2", "5.4.3"),
        (_R, _F),
        "opportunistic senders defer (Postfix logs 4.4.1 or 4.4.2 and retries); the guide's "
        "code names the event; a hard one: hold and probe again, suppress only once it persists",
    ),
    PolicyRow(
        "published-policy",
        "a delivery route works, but the domain's own policy (MTA-STS enforce, DANE) "
        "refuses every MX host",
        Verdict.FAILED,
        ("4.7.5", "4.7.4"),
        (_F,),
        "MTA-STS and DANE senders defer: Postfix (dane level, or an MTA-STS policy map) logs "
        "4.7.5 'Server certificate not verified' (also for an MX the policy does not cover) "
        "or 4.7.4 'TLS is required, but was not offered'; Exim defers with its TLS error",
    ),
    PolicyRow(
        "stricter-sender",
        "a delivery route works; its certificate does not verify or name the MX, or it "
        "offers no STARTTLS, and no published policy asks for either",
        Verdict.DEGRADED,
        ("4.7.5", "4.7.4"),
        (_F,),
        "only senders verifying by local policy (Postfix verify, secure or encrypt levels) "
        "defer, logging 4.7.5 or 4.7.4; opportunistic senders deliver",
    ),
    PolicyRow(
        "fallback",
        "a delivery route works, but another MX host, address, family or port fails, or a "
        "misconfiguration that affects no sender (an alias MX target, MTA-STS testing mode, "
        "an unusable policy)",
        Verdict.DEGRADED,
        (),
        (_F, _N),
        "nobody: MTAs use the next address or MX (RFC 5321 5.1), so nobody logs a code",
    ),
    PolicyRow(
        "healthy",
        "every delivery route works; only informational findings (TLSA records in an "
        "unsigned zone, a certificate expiring soon, routes not attempted)",
        Verdict.HEALTHY,
        (),
        (_N,),
        "nobody",
    ),
    PolicyRow(
        "unknown",
        "the probe could not run (no nameserver answered, or the --timeout deadline passed) "
        "or probed nothing",
        Verdict.UNKNOWN,
        (),
        (_N, _F),
        "not known: probe again",
    ),
)


def policy_row(row_id: str) -> PolicyRow:
    """The :data:`POLICY` row named ``row_id``."""
    return next(r for r in POLICY if r.id == row_id)


def _policy_doc() -> str:
    lines = [
        "| situation | verdict | primary code | action | who fails, and what it logs |",
        "|---|---|---|---|---|",
    ]
    for r in POLICY:
        codes = (
            ", ".join("the server's own" if c == SERVER_OWN_CODE else c for c in r.codes) or "none"
        )
        actions = ", ".join(a.value for a in r.actions)
        lines.append(f"| {r.situation} | {r.verdict.value} | {codes} | {actions} | {r.who} |")
    return "\n".join(lines)


#: :data:`POLICY` as Markdown (the README's "Diagnosis rules" carries it).
POLICY_DOC = _policy_doc()
