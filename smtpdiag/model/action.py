"""What a bounce explanation needs of the vocabulary: severity and action.

Kept apart from :mod:`.core` (the probe report's routes, phases and findings) so that
``smtpdiag explain``, one process per bounce, does not define the probe's dataclasses;
:mod:`.core` re-exports every name.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["SCHEMA_VERSION", "Action", "ActionKind", "RetryAttempt", "Severity"]

#: Version of the JSON document (``report/schema.json``). Bump on any change of shape.
SCHEMA_VERSION = "3.3"


class Severity(StrEnum):
    """The class of a status code as a bounce type."""

    SOFT = "soft"  #: class 4: retry later
    HARD = "hard"  #: class 5: do not retry
    INFO = "info"  #: no bounce implied (class 2, or an observation only)


class ActionKind(StrEnum):
    RETRY = "retry"  #: retry on the schedule given
    SUPPRESS = "suppress"  #: never retry; put the address on a suppression list
    NONE = "none"  #: nothing to do (healthy) or only informative
    FIX = "fix"  #: a configuration to fix (e.g. our own network blocks port 25)


@dataclass(frozen=True, slots=True)
class RetryAttempt:
    """One retry of a seed's retry schedule.

    Attributes:
        number: 1-based retry number.
        after_previous_s: Delay after the bounce (first) or the previous retry, seconds.
        offset_s: Cumulative delay from the bounce, seconds.
        at: ISO 8601 UTC instant, counted from the diagnosis time.
        final: This is the last try.
    """

    number: int
    after_previous_s: int
    offset_s: int
    at: str
    final: bool = False


@dataclass(frozen=True, slots=True)
class Action:
    """What to do now.

    Attributes:
        kind: Retry, suppress, fix or nothing.
        summary: One line for humans.
        schedule: Retry attempts with concrete times (only for ``retry``).
        after_schedule: What to do when every retry failed (seed text), if any.
    """

    kind: ActionKind
    summary: str
    schedule: tuple[RetryAttempt, ...] = ()
    after_schedule: str | None = None
