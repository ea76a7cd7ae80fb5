"""The seed knowledge: what each seed status code means, why it happens, how to
investigate it and what to do. The types and the lookup are here; the content is data
in ``knowledge.json`` (one entry per code, each with a note on where it comes from).

The four seeds (German originals in ``shared/seeds/``) win over any restatement:
``000`` = 4.4.2, ``001`` = 5.4.2, ``002`` = 4.3.2, ``003`` = 5.4.3. Every cause and step
keeps the seed's German label (``seed_label``) next to a faithful English text, so the
unit tests can check the data against the seed files. Neighbour codes the rules name
(4.4.1, 4.4.3, 5.4.4, 5.1.10) come from RFC 3463 / RFC 7505 and Postfix's usage; they are
marked ``from_seed=False``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from ..lazydata import LazyTable, load_json
from ..model import ActionKind, RetryAttempt, Severity
from ..timefmt import utc_iso

__all__ = [
    "KNOWLEDGE",
    "SEED_CODES",
    "Cause",
    "CodeKnowledge",
    "RetrySchedule",
    "StepSpec",
    "get",
    "rfc5321_retry",
    "schedule_from",
]


@dataclass(frozen=True, slots=True)
class Cause:
    """One cause from a seed's "Häufige Ursachen" list.

    Attributes:
        id: Stable identifier, ``"<code>/<slug>"``.
        text: English, faithful to the seed's wording.
        seed_label: The seed's German label (``None`` for causes not from a seed list).
    """

    id: str
    text: str
    seed_label: str | None = None


@dataclass(frozen=True, slots=True)
class StepSpec:
    """One investigation step (or one item of a checklist derived from the seed).

    Attributes:
        id: Stable identifier, ``"<code>/<slug>"``.
        text: English, faithful to the seed's wording.
        seed_label: The seed's German label.
        source: Where in the seed it comes from (e.g. ``"Untersuchungsschritte 1"``).
    """

    id: str
    text: str
    seed_label: str | None
    source: str


@dataclass(frozen=True, slots=True)
class RetrySchedule:
    """A seed's retry plan.

    Attributes:
        delays_s: Delay of each retry after the previous one (the first: after the
            bounce), in seconds. The last one is the final try.
        after_schedule: What to do when every retry failed, if the seed says.
    """

    delays_s: tuple[int, ...]
    after_schedule: str | None = None

    @property
    def offsets_s(self) -> tuple[int, ...]:
        """Cumulative delays from the bounce."""
        out: list[int] = []
        total = 0
        for d in self.delays_s:
            total += d
            out.append(total)
        return tuple(out)


@dataclass(frozen=True, slots=True)
class CodeKnowledge:
    """Everything known about one status code beyond the registry.

    Attributes:
        code: ``"4.4.2"``.
        title: English title as the seed gives it.
        severity: Soft or hard bounce.
        category: "network/routing" or "mail system status".
        meaning: What the code means (seed wording).
        distinction: How it differs from its neighbour (seed wording), if given.
        required_action: The seed's "Erforderliche Aktion", if given.
        typical_replies: Replies providers send with it (seed "Häufige Antworten").
        examples: The seed's example bounce lines.
        causes: Causes in seed order.
        steps: Investigation steps in seed order (for 4.4.2 and 4.3.2: a checklist
            derived from the developer and best-practice sections; see ``steps_derived``).
        steps_derived: The seed has no "Untersuchungsschritte" section; ``steps`` were
            derived from its other sections.
        mx_analysis: 5.4.3 "MX-Record-Analyse" items.
        routing_analysis: 5.4.3 "Routing-Pfad-Analyse" items.
        actions_marketers: "Für E-Mail-Marketer" items (English).
        actions_developers: "Für Entwickler" items (English).
        best_practices: "Best Practices" items (English).
        retry: Retry schedule (soft bounces), else ``None``.
        action_kind: Retry or suppress.
        action_summary: One line: what to do on this bounce.
        neighbours: Related codes with why.
        from_seed: The entry comes from a seed (else from RFCs / MTA usage).
        source: The seed file name, or the RFC.
    """

    code: str
    title: str
    severity: Severity
    category: str
    meaning: str
    distinction: str | None
    required_action: str | None
    typical_replies: tuple[str, ...]
    examples: tuple[str, ...]
    causes: tuple[Cause, ...]
    steps: tuple[StepSpec, ...]
    steps_derived: bool
    mx_analysis: tuple[StepSpec, ...]
    routing_analysis: tuple[StepSpec, ...]
    actions_marketers: tuple[str, ...]
    actions_developers: tuple[str, ...]
    best_practices: tuple[str, ...]
    retry: RetrySchedule | None
    action_kind: ActionKind
    action_summary: str
    neighbours: tuple[tuple[str, str], ...]
    from_seed: bool
    source: str

    def cause(self, slug: str) -> Cause:
        """The cause ``<code>/<slug>``; raises KeyError if there is none."""
        for c in self.causes:
            if c.id == f"{self.code}/{slug}":
                return c
        raise KeyError(f"{self.code}/{slug}")

    @property
    def all_steps(self) -> tuple[StepSpec, ...]:
        """Investigation steps followed by the MX and routing-path analysis items."""
        return self.steps + self.mx_analysis + self.routing_analysis


@cache
def _data() -> dict[str, Any]:
    """``knowledge.json``, read once."""
    data: dict[str, Any] = load_json(__file__, "knowledge.json")
    return data


def _retry(plan: dict[str, Any] | None) -> RetrySchedule | None:
    if plan is None:
        return None
    return RetrySchedule(tuple(plan["delays_s"]), plan["after_schedule"])


@cache
def rfc5321_retry() -> RetrySchedule:
    """Retry plan for soft codes without a seed schedule (RFC 5321 4.5.4.1)."""
    plan = _retry(_data()["rfc5321_retry"])
    assert plan is not None
    return plan


def schedule_from(schedule: RetrySchedule, now: datetime) -> tuple[RetryAttempt, ...]:
    """Concrete retry instants counted from ``now`` (ISO 8601 UTC, to the second)."""
    out = []
    offsets = schedule.offsets_s
    for i, (delay, offset) in enumerate(zip(schedule.delays_s, offsets, strict=True)):
        out.append(
            RetryAttempt(
                number=i + 1,
                after_previous_s=delay,
                offset_s=offset,
                at=utc_iso(now + timedelta(seconds=offset), "seconds"),
                final=i == len(offsets) - 1,
            )
        )
    return tuple(out)


def _steps(items: list[dict[str, Any]]) -> tuple[StepSpec, ...]:
    return tuple(StepSpec(s["id"], s["text"], s["seed_label"], s["source"]) for s in items)


def _entry(e: dict[str, Any]) -> CodeKnowledge:
    return CodeKnowledge(
        code=e["code"],
        title=e["title"],
        severity=Severity(e["severity"]),
        category=e["category"],
        meaning=e["meaning"],
        distinction=e["distinction"],
        required_action=e["required_action"],
        typical_replies=tuple(e["typical_replies"]),
        examples=tuple(e["examples"]),
        causes=tuple(Cause(c["id"], c["text"], c["seed_label"]) for c in e["causes"]),
        steps=_steps(e["steps"]),
        steps_derived=e["steps_derived"],
        mx_analysis=_steps(e["mx_analysis"]),
        routing_analysis=_steps(e["routing_analysis"]),
        actions_marketers=tuple(e["actions_marketers"]),
        actions_developers=tuple(e["actions_developers"]),
        best_practices=tuple(e["best_practices"]),
        retry=_retry(e["retry"]),
        action_kind=ActionKind(e["action_kind"]),
        action_summary=e["action_summary"],
        neighbours=tuple((code, why) for code, why in e["neighbours"]),
        from_seed=e["from_seed"],
        source=e["source"],
    )


def _load() -> dict[str, CodeKnowledge]:
    entries = _data()["entries"]
    return {e["code"]: _entry(e) for e in entries}


#: Code -> knowledge: the four seed codes and the neighbours the rules name (data in
#: ``knowledge.json``, read on first use).
KNOWLEDGE: Mapping[str, CodeKnowledge] = LazyTable(_load)

#: The codes this tool is built around (the seeds), in seed-file order.
SEED_CODES: tuple[str, ...] = ("4.4.2", "5.4.2", "4.3.2", "5.4.3")


def get(code: str | None) -> CodeKnowledge | None:
    """The knowledge for ``code``, or ``None`` if there is none."""
    if code is None:
        return None
    return KNOWLEDGE.get(code)
