"""Actions, steps and causes from the seed knowledge, worded for this probe.

The seed texts are data (``diagnosis/knowledge.json``); the sentences added around them
(which route still delivers, what to confirm first) are written here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from ..diagnosis.facts import Facts, RouteView
from ..model import (
    Action,
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
    path_fault: bool = False,
) -> Action:
    """The action :func:`smtpdiag.diagnosis.decision.decide_action` chose, in words.

    ``fix`` is who should fix what, when the action is to fix something;
    ``path_fault``: the probe proved a fault of the network path.
    """
    from ..diagnosis.decision import ActionBasis, decide_action

    d = decide_action(
        code,
        facts,
        deliverable_via=deliverable_via,
        persistence=persistence,
        path_fault=path_fault,
    )
    k = _k(code)
    port = facts.delivery_port
    what = fix or "the recipient's administrators should fix the failing route"
    if d.basis is ActionBasis.RETRY:
        summary = k.action_summary
        if d.mta:
            summary += f" Meanwhile mail is deliverable via {routes_brief(d.mta)}."
        elif d.alt:
            summary += f" Only {routes_brief(d.alt)} answers, but MTAs deliver on port {port} only."
        return Action(d.kind, summary, d.schedule, d.after_schedule)
    if d.basis is ActionBasis.DELIVERABLE:
        return Action(
            d.kind, f"Do not suppress: mail is still deliverable via {routes_brief(d.mta)}; {what}."
        )
    if d.basis is ActionBasis.OTHER_PORT:
        return Action(
            d.kind,
            f"Do not suppress yet: {routes_brief(d.alt)} still answers, though MTAs deliver "
            f"on port {port} only; {what}. Confirm it persists (smtpdiag watch) before "
            "suppressing.",
        )
    if d.basis is ActionBasis.NOT_PROBED:
        names = ", ".join(h.name for h in facts.filtered_hosts)
        return Action(
            d.kind,
            f"Do not suppress yet: {names} was not probed (-4/-6) and may deliver; probe "
            f"again without -4/-6 before deciding. {what[0].upper()}{what[1:]}.",
        )
    if d.basis is ActionBasis.PATH_FAULT:
        also = (
            f" Only {routes_brief(d.alt)} answers, but MTAs deliver on port {port} only."
            if d.alt
            else ""
        )
        return Action(
            d.kind,
            f"{what[0].upper()}{what[1:]}. Do not suppress: the server is up, and retries over "
            f"the same path fail the same way until the path is fixed.{also}",
        )
    if d.basis is ActionBasis.UNCONFIRMED:
        return Action(
            d.kind,
            "Hold the mail and probe again: one probe does not show that the address or "
            "the domain cannot receive (repeat it with smtpdiag watch before suppressing); "
            f"{what}.",
        )
    return Action(d.kind, k.action_summary)


#: Steps the guides list twice under different words (a guide's checklist, then its MX and
#: path analysis): slug -> the slug of the step it repeats. The checklist shows each once,
#: under the first wording, done when either was done.
_SAME_STEP: dict[str, dict[str, str]] = {
    "5.4.3": {
        "mx-valid": "check-mx",
        "path-alternatives": "alternative-routes",
        "path-failed-server": "mx-identify-failed",
        "path-trace": "trace-path",
    },
}


def make_steps(
    code: str, done: Mapping[str, str], *, only: Iterable[str] | None = None
) -> tuple[Step, ...]:
    """The code's checklist; steps in ``done`` (slug -> result) are DONE, the rest HUMAN.

    ``only``: the slugs of the HUMAN steps that apply to this finding (default all): a
    certificate problem has no firewall to check. A step the guide repeats in other words
    (:data:`_SAME_STEP`) appears once.
    """
    k = _k(code)
    out = []
    prefix = f"{code}/"
    keep = None if only is None else set(only)
    same = _SAME_STEP.get(code, {})
    merged = dict(done)
    for repeat, first in same.items():
        if repeat in merged and first not in merged:
            merged[first] = merged[repeat]
        if keep is not None and repeat in keep:
            keep.add(first)
    for spec in k.all_steps:
        slug = spec.id.removeprefix(prefix)
        if slug in same:
            continue
        if slug in merged:
            out.append(Step(StepId(spec.id), spec.text, StepStatus.DONE, merged[slug]))
        elif keep is None or slug in keep:
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
