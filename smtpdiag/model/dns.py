"""DNS observations: how one question ended and what it returned."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["DnsOutcome", "DnsQuery"]


class DnsOutcome(StrEnum):
    """How one DNS query ended."""

    OK = "ok"
    NXDOMAIN = "nxdomain"  #: the name does not exist
    NODATA = "nodata"  #: the name exists but has no record of this type
    SERVFAIL = "servfail"
    REFUSED = "refused"
    TIMEOUT = "timeout"  #: no nameserver answered within the lifetime
    ERROR = "error"  #: anything else (malformed answer, no nameservers, ...)


@dataclass(frozen=True, slots=True)
class DnsQuery:
    """One DNS question and how it was answered.

    Attributes:
        name: The queried name, absolute, without the trailing dot.
        rdtype: Record type asked for ("MX", "A", "AAAA", "TLSA", ...).
        outcome: How the query ended.
        answers: Answer data as text (e.g. ``"10 mx1.example.org"``), empty unless ``ok``.
        nameserver: ``ip`` or ``ip@port`` of the server that gave the final answer;
            ``None`` when none answered.
        duration_ms: Time from question to answer or give-up.
        detail: A short sanitized explanation when not ``ok``; ``None`` otherwise.
        cname: The canonical name when the answer came through a CNAME, else ``None``.
        deadline: The probe's overall deadline (``--timeout``), not the per-query limit
            (``--dns-timeout``), bounded this query: a ``timeout`` is then the user's
            own deadline, not a nameserver that did not answer.
    """

    name: str
    rdtype: str
    outcome: DnsOutcome
    answers: tuple[str, ...] = ()
    nameserver: str | None = None
    duration_ms: float = 0.0
    detail: str | None = None
    cname: str | None = None
    deadline: bool = False
