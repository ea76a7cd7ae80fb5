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
    FaultSide,
    Finding,
    Persistence,
    RetryAttempt,
    RuleId,
    SenderKind,
    SenderOutcome,
    Severity,
    Verdict,
)
from .facts import Facts, RouteView

__all__ = [
    "POLICY",
    "SERVER_OWN_CODE",
    "SUPPRESS_CODES",
    "ActionBasis",
    "ActionDecision",
    "DecisionRecord",
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
    #: a network-path fault the probe proved (an MTU black hole): retries over the same
    #: path fail the same way until the path is fixed
    PATH_FAULT = "path-fault"


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
    path_fault: bool = False,
) -> ActionDecision:
    """The action of a finding with guide ``code``.

    ``deliverable_via`` are the working routes. Only those on the delivery port are
    where MTAs deliver (RFC 5321); working submission ports (587/465) rule out
    "suppress" too: a host that answers is not gone. ``path_fault``: the probe proved
    a fault of the network path (a path MTU black hole): fix, whatever the guide's
    retry says, since a retry over the same path fails the same way.
    """
    from . import knowledge  # loads with the first finding that has a code

    k = knowledge.get(code)
    if k is None:  # pragma: no cover - every code the rules use has knowledge
        raise KeyError(code)
    mta = tuple(v for v in deliverable_via if v.delivery)
    alt = tuple(v for v in deliverable_via if not v.delivery)
    if path_fault and not mta:
        return ActionDecision(ActionKind.FIX, ActionBasis.PATH_FAULT, code, alt=alt)
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
class DecisionRecord:
    """What a diagnosis sums up to, for every front end alike.

    Attributes:
        primary: The code the affected sender logs; ``None`` when no sender is affected.
        lead: The finding the domain's action comes from (``None``: nothing to do).
        who_fails: The kinds of sender that cannot deliver now.
        fault_side: Whose side the failure is on: ``vantage`` when the prober's own
            network blocks the delivery port (``own-port-blocked``) or its own address
            is listed on a configured blocklist and servers rejected it for that
            (``egress-listed`` with rejections); ``recipient`` for any other failure;
            ``none`` when nothing fails; ``unknown`` when the probe could not tell.
    """

    primary: str | None
    lead: Finding | None
    who_fails: tuple[SenderKind, ...]
    fault_side: FaultSide = FaultSide.NONE


def _affects(f: Finding, delivers: bool) -> bool:
    """Some sender logs this finding's code for the message. While a delivery-port route
    works, opportunistic senders deliver (the next address or MX, RFC 5321 5.1): only a
    finding on which some kind of sender defers has a logged code."""
    if f.code is None or f.severity is Severity.INFO:
        return False
    if delivers:
        return any(s.outcome is SenderOutcome.DEFER for s in f.payload.senders)
    return True


def decide(verdict: Verdict, findings: Sequence[Finding], *, delivers: bool) -> DecisionRecord:
    """The primary code, the finding whose action the domain takes, and who fails.

    The primary code is the first finding's code that some sender logs (a hard code is
    ``info`` when a delivery-port route still delivers: nobody logs it). The lead is that
    finding, else the first finding that asks for something (fix, retry, suppress);
    when the rejections are about the prober's own listed address, the
    ``egress-listed`` finding (the fault is on this side, :attr:`DecisionRecord.fault_side`).
    ``delivers``: a delivery-port route works (opportunistic senders deliver).
    """
    if verdict is Verdict.HEALTHY:
        return DecisionRecord(None, None, (), FaultSide.NONE)
    if verdict is Verdict.UNKNOWN:
        return DecisionRecord(None, None, (), FaultSide.UNKNOWN)
    coded = next((f for f in findings if _affects(f, delivers)), None)
    lead = coded or next((f for f in findings if f.action.kind is not ActionKind.NONE), None)
    # The prober's own side: its address is listed and servers rejected it for that
    # (the rejection would not meet a sender elsewhere), or its network blocks port 25.
    # Then the domain's action is the vantage finding's: nothing the recipient can fix.
    listed = next(
        (f for f in findings if f.rule is RuleId.EGRESS_LISTED and f.payload.routes), None
    )
    own_block = next((f for f in findings if f.rule is RuleId.OWN_PORT_BLOCKED), None)
    side = FaultSide.RECIPIENT if lead is not None else FaultSide.NONE
    if listed is not None:
        side, lead = FaultSide.VANTAGE, listed
    elif own_block is not None:
        side = FaultSide.VANTAGE
    who: list[SenderKind] = []
    if verdict in (Verdict.FAILED, Verdict.NO_MAIL) and not delivers:
        who.append(SenderKind.OPPORTUNISTIC)
    for f in findings:
        if not _affects(f, delivers):
            continue
        for s in f.payload.senders:
            if s.outcome is SenderOutcome.DEFER and s.sender not in who:
                who.append(s.sender)
    return DecisionRecord(coded.code if coded else None, lead, tuple(who), side)


@dataclass(frozen=True, slots=True)
class PolicyRow:
    """One row of the verdict and code policy (:data:`POLICY`); its words are in
    :mod:`smtpdiag.narrate.policy_table`.

    Attributes:
        id: A short name.
        verdict: The verdict.
        codes: The primary codes the row allows: ``()`` none, :data:`SERVER_OWN_CODE`
            the server's own enhanced code.
        actions: The action kinds the row allows.
    """

    id: str
    verdict: Verdict
    codes: tuple[str, ...]
    actions: tuple[ActionKind, ...]


#: In :attr:`PolicyRow.codes`: the code the servers' own replies state.
SERVER_OWN_CODE = "own"

_R, _S, _F, _N = ActionKind.RETRY, ActionKind.SUPPRESS, ActionKind.FIX, ActionKind.NONE

#: The verdict and primary-code policy, derived from what each kind of sender does.
# fmt: off
POLICY: tuple[PolicyRow, ...] = (
    PolicyRow("null-mx", Verdict.NO_MAIL, ("5.1.10",), (_S,)),
    PolicyRow("no-route", Verdict.FAILED, ("5.4.4",), (_S,)),
    PolicyRow("dns-failed", Verdict.FAILED, ("4.4.3",), (_R,)),
    PolicyRow("server-reply", Verdict.FAILED, (SERVER_OWN_CODE,), (_R, _F)),
    PolicyRow("no-reply", Verdict.FAILED, ("4.4.2", "5.4.2", "5.4.3"), (_R, _F)),
    PolicyRow("published-policy", Verdict.FAILED, ("4.7.5", "4.7.4"), (_F,)),
    PolicyRow("stricter-sender", Verdict.DEGRADED, ("4.7.5", "4.7.4"), (_F,)),
    PolicyRow("fallback", Verdict.DEGRADED, (), (_F, _N)),
    PolicyRow("healthy", Verdict.HEALTHY, (), (_N,)),
    PolicyRow("unknown", Verdict.UNKNOWN, (), (_N, _F)),
)
# fmt: on


def policy_row(row_id: str) -> PolicyRow:
    """The :data:`POLICY` row named ``row_id``."""
    return next(r for r in POLICY if r.id == row_id)
