"""What the engine needs from the narration layer, declared here so that it can be passed in.

The diagnosis stage decides; :mod:`smtpdiag.narrate` words. The engine builds each
finding from a decision and its words, so it takes a :class:`Narrator` as a parameter
(``narrate.narrator.NARRATOR``) instead of importing the layer above it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from ..model import Action, CauseId, Evidence, FindingPayload, RuleId, Step

if TYPE_CHECKING:
    from .facts import Facts, PersistenceFact
    from .predicates import Match

__all__ = ["Draft", "Narrator"]


@dataclass(frozen=True, slots=True)
class Draft:
    """A finding's words and the ids behind them, before the engine adds the decision
    (rule id, code, severity, persistence, the seed causes it names).

    Attributes:
        summary: One line.
        evidence: The observations behind it.
        steps: The code's steps, done or left for a human.
        action: What to do, ``None`` for nothing.
        neighbours: Related codes.
        title: A title instead of the code's own.
        payload: Typed facts for programs.
    """

    summary: str
    evidence: Sequence[Evidence] = ()
    steps: Sequence[Step] = ()
    action: Action | None = None
    neighbours: Sequence[str] = ()
    title: str | None = None
    payload: FindingPayload = field(default_factory=FindingPayload)


class Narrator(Protocol):
    """The words of findings: implemented by :mod:`smtpdiag.narrate.narrator`."""

    def draft(self, rule: RuleId, facts: Facts, match: Match) -> Draft:
        """The words of a fired rule."""

    def title(self, code: str | None, rule: RuleId, *, no_bounce: bool) -> str:
        """A finding's title from its code."""

    def persistence_note(self, fact: PersistenceFact) -> str:
        """The evidence note about persistence a failure finding carries."""

    def causes(self, ids: Iterable[CauseId]) -> tuple[str, ...]:
        """The wording of each cause id."""

    def cap_evidence(self, items: Sequence[Evidence]) -> tuple[Evidence, ...]:
        """At most the number of evidence lines a finding shows."""
