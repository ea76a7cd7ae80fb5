"""The rule table and its vocabulary, under the name earlier releases used.

The table itself is in :mod:`.table`, the facts its predicates read in :mod:`.facts`,
the predicates in :mod:`.predicates` and the engine in :mod:`.engine`; the words of each
finding are written by :mod:`smtpdiag.narrate`. This module re-exports the names.
"""

from __future__ import annotations

from ..narrate.actions import make_action, make_steps, schedule_from
from ..narrate.common import MAX_EVIDENCE, describe, fmt_reply
from ..narrate.units import fmt_ms
from .facts import (
    Facts,
    RouteState,
    RouteView,
    aware_now,
    build_facts,
    classify,
    delivery_port_of,
    family_of,
    iso,
    local_deny,
    silent_or_local,
)
from .table import RULE_TABLE_DOC, RULES, SERVER_OWN, VERDICT_DOC, Row, RuleKind

#: One row of the table (the name earlier releases used).
Rule = Row

__all__ = [
    "MAX_EVIDENCE",
    "RULES",
    "RULE_TABLE_DOC",
    "SERVER_OWN",
    "VERDICT_DOC",
    "Facts",
    "RouteState",
    "RouteView",
    "Row",
    "Rule",
    "RuleKind",
    "aware_now",
    "build_facts",
    "classify",
    "delivery_port_of",
    "describe",
    "family_of",
    "fmt_ms",
    "fmt_reply",
    "iso",
    "local_deny",
    "make_action",
    "make_steps",
    "schedule_from",
    "silent_or_local",
]
