"""The rule table and its vocabulary, under the name earlier releases used.

The table itself is in :mod:`.table`, the facts its predicates read in :mod:`.facts`,
the predicates in :mod:`.predicates` and the engine in :mod:`.engine`; the words of each
finding are written by :mod:`smtpdiag.narrate`. This module re-exports the names
(not the narration's: the diagnosis stage imports nothing above it).
"""

from __future__ import annotations

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
    "family_of",
    "iso",
    "local_deny",
    "silent_or_local",
]
