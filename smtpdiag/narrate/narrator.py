"""The narration layer's side of :class:`smtpdiag.diagnosis.words.Narrator`, and
:func:`diagnose`: the diagnosis engine with these words (what :func:`smtpdiag.diagnose`
is)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from ..diagnosis.engine import diagnose as _engine
from ..diagnosis.facts import Facts, PersistenceFact
from ..diagnosis.predicates import Match
from ..diagnosis.words import Draft
from ..model import CauseId, Diagnosis, Evidence, ProbeReport, RuleId
from .actions import cause_texts
from .common import cap_evidence
from .persistence import persistence_note
from .rules import finding_title, narrate_rule

__all__ = ["NARRATOR", "diagnose"]


class _Narrator:
    def draft(self, rule: RuleId, facts: Facts, match: Match) -> Draft:
        return narrate_rule(rule, facts, match)

    def title(self, code: str | None, rule: RuleId, *, no_bounce: bool) -> str:
        return finding_title(code, rule, no_bounce=no_bounce)

    def persistence_note(self, fact: PersistenceFact) -> str:
        return persistence_note(fact)

    def causes(self, ids: Iterable[CauseId]) -> tuple[str, ...]:
        return cause_texts(ids)

    def cap_evidence(self, items: Sequence[Evidence]) -> tuple[Evidence, ...]:
        return cap_evidence(items)


#: The words every diagnosis of this package is written with.
NARRATOR = _Narrator()


def diagnose(
    report: ProbeReport,
    *,
    now: datetime | None = None,
    history: Sequence[ProbeReport] = (),
) -> Diagnosis:
    """Diagnose one probe report.

    Args:
        report: What the probe saw.
        now: The instant retry schedules are counted from (default: the current UTC
            time); a naive datetime is taken as UTC.
        history: Earlier reports of the same domain, oldest first (watch mode); reports
            of other domains are ignored.

    Returns:
        The verdict, its persistence, the leading code and the findings, most
        important first.
    """
    return _engine(report, narrator=NARRATOR, now=now, history=history)
