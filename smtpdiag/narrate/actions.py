"""Actions, steps and causes from the seed knowledge, worded for this probe.

The seed texts are data (``diagnosis/knowledge.json``); the sentences added around them
(which route still delivers, what to confirm first) are written here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from ..diagnosis.facts import Facts, RouteView
from ..model import (
    Action,
    ActionKind,
    CauseId,
    Persistence,
    Step,
    StepId,
    StepStatus,
)
from .common import routes_brief

# The seed knowledge (and its code registry) loads on the first finding with a code: a
# healthy probe has none and does not pay for the tables at start-up.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from datetime import datetime

    from ..diagnosis.knowledge import CodeKnowledge, RetrySchedule
    from ..model import RetryAttempt

__all__ = ["cause_texts", "make_action", "make_steps", "neighbours", "schedule_from"]


def schedule_from(schedule: RetrySchedule, now: datetime) -> tuple[RetryAttempt, ...]:
    """:func:`smtpdiag.diagnosis.knowledge.schedule_from`, loaded on first use."""
    from ..diagnosis.knowledge import schedule_from as from_knowledge

    return from_knowledge(schedule, now)


def _k(code: str) -> CodeKnowledge:
    from ..diagnosis import knowledge

    k = knowledge.get(code)
    if k is None:  # pragma: no cover - every code the rules use has knowledge
        raise KeyError(code)
    return k


def make_action(
    code: str,
    facts: Facts,
    *,
    deliverable_via: Sequence[RouteView] = (),
    fix: str | None = None,
    persistence: Persistence = Persistence.UNKNOWN,
) -> Action:
    """The code's action: retry on its schedule, or suppress; FIX when a route still works.

    ``deliverable_via`` are the working routes. Only those on the delivery port are
    where MTAs deliver (RFC 5321); working submission ports (587/465) are named as
    such, and they too rule out "suppress": a host that answers is not gone.
    """
    k = _k(code)
    mta = [v for v in deliverable_via if v.delivery]
    alt = [v for v in deliverable_via if not v.delivery]
    port = facts.delivery_port
    if k.action_kind is ActionKind.RETRY and k.retry is not None:
        summary = k.action_summary
        if mta:
            summary += f" Meanwhile mail is deliverable via {routes_brief(mta)}."
        elif alt:
            summary += f" Only {routes_brief(alt)} answers, but MTAs deliver on port {port} only."
        return Action(
            ActionKind.RETRY, summary, schedule_from(k.retry, facts.now), k.retry.after_schedule
        )
    what = fix or "the recipient's administrators should fix the failing route"
    if mta:
        return Action(
            ActionKind.FIX,
            f"Do not suppress: mail is still deliverable via {routes_brief(mta)}; {what}.",
        )
    if alt:
        return Action(
            ActionKind.FIX,
            f"Do not suppress yet: {routes_brief(alt)} still answers, though MTAs deliver "
            f"on port {port} only; {what}. Confirm it persists (smtpdiag watch) before "
            "suppressing.",
        )
    if facts.filtered_hosts:
        # An MX the family filter kept from being probed may still deliver: nothing
        # here justifies suppressing an address until it has been tested.
        names = ", ".join(h.name for h in facts.filtered_hosts)
        return Action(
            ActionKind.FIX,
            f"Do not suppress yet: {names} was not probed (-4/-6) and may deliver; probe "
            f"again without -4/-6 before deciding. {what[0].upper()}{what[1:]}.",
        )
    summary = k.action_summary
    if persistence is not Persistence.PERMANENT:
        summary += (
            " This probe alone does not show that the failure persists: confirm with "
            "repeated probes (smtpdiag watch) before suppressing."
        )
    return Action(ActionKind.SUPPRESS, summary)


def make_steps(code: str, done: Mapping[str, str]) -> tuple[Step, ...]:
    """The code's checklist; steps in ``done`` (slug -> result) are DONE, the rest HUMAN."""
    k = _k(code)
    out = []
    prefix = f"{code}/"
    for spec in k.all_steps:
        slug = spec.id.removeprefix(prefix)
        if slug in done:
            out.append(Step(StepId(spec.id), spec.text, StepStatus.DONE, done[slug]))
        else:
            out.append(Step(StepId(spec.id), spec.text, StepStatus.HUMAN))
    unknown = set(done) - {s.id.removeprefix(prefix) for s in k.all_steps}
    if unknown:  # pragma: no cover - a typo in a rule
        raise KeyError(f"unknown steps for {code}: {sorted(unknown)}")
    return tuple(out)


def cause_texts(ids: Iterable[CauseId]) -> tuple[str, ...]:
    """The seed wording of each cause id."""
    out = []
    for cid in ids:
        code, slug = cid.split("/", 1)
        out.append(_k(code).cause(slug).text)
    return tuple(out)


def neighbours(code: str) -> tuple[str, ...]:
    return tuple(n for n, _ in _k(code).neighbours)
