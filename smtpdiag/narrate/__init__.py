"""The narration layer: the only code that writes English for findings and health.

Decisions arrive as ids and typed values (:class:`~smtpdiag.model.RuleId`, matches,
codes, counts); this package turns them into titles, summaries, step results and
action texts. Units (ms, seconds, days, plurals) are in :mod:`.units`.

- :func:`narrate_rule`: the words of one fired rule (a :class:`~.common.Draft`), in
  :mod:`.rules`.
- :func:`finding_title`: a finding's title from its code and severity.
- ``bounce``: the words of ``explain``; ``health``: problem texts and summary lines.

Names load on first use: ``explain`` needs the bounce words, not every rule's narrator
(which pull in the diagnosis facts and predicates).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazyexports import lazy_exports

if TYPE_CHECKING:
    from .common import Draft
    from .persistence import persistence_note, persistence_text
    from .rules import finding_title, narrate_rule

__all__ = ["Draft", "finding_title", "narrate_rule", "persistence_note", "persistence_text"]

# name -> submodule that defines it
_EXPORTS = {
    "Draft": "common",
    "finding_title": "rules",
    "narrate_rule": "rules",
    "persistence_note": "persistence",
    "persistence_text": "persistence",
}

__getattr__ = lazy_exports(globals(), _EXPORTS)
