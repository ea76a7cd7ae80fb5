"""The values of a bulk run: settings, and the records it streams out.

Frozen data, no English beyond sanitized details: verdicts, decisions and reasons are
enums shared with the rest of the tool, so the NDJSON stays stable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from ..bounces.reasons import Decision, Reason
from ..errors import ConfigError
from ..model import Persistence, Severity, TlsMode, Verdict

__all__ = [
    "BulkItem",
    "BulkSettings",
    "BulkSummary",
    "DomainDecision",
    "DomainRecord",
    "ErrorRecord",
    "FindingBrief",
    "RecipientRecord",
    "RouteUse",
]


@dataclass(frozen=True, slots=True)
class BulkSettings:
    """How hard a bulk run may push, and how much it keeps in memory.

    The defaults are meant to be something a large mailbox provider would not mind:
    two connections at a time to one address and at most 30 new connections per
    minute to it (each route is probed once per run anyway, so a provider hosting
    10,000 of the domains still sees a handful of connections per address).

    Attributes:
        per_address_limit: Connections open at the same time to one IP address.
        per_address_rate: New connections per minute to one IP address (a sliding
            window: at most ``per_address_limit`` starts in any
            ``per_address_limit * 60 / per_address_rate`` seconds).
        concurrency: Connections open at the same time over all addresses.
        dns_concurrency: Domains being resolved at the same time.
        domain_deadline: Seconds a domain may take from the start of its resolution
            to its result, waiting for shared routes included; a route still queued
            then is recorded for that domain as not attempted (``skip_reason``
            deadline, never evidence against the server).
        in_flight: Domains started and not yet finished; reading the input pauses
            when it is reached, so memory follows the work in flight, not the input.
        pending_recipients: Recipients waiting for their domain's result; reading
            pauses above it.
        route_cache: Distinct route results kept for reuse (least recently used
            dropped beyond it; a dropped route is probed again if met again).
        dns_cache: DNS answers cached (TTLs honoured).
    """

    per_address_limit: int = 2
    per_address_rate: float = 30.0
    concurrency: int = 64
    dns_concurrency: int = 64
    domain_deadline: float = 90.0
    in_flight: int = 512
    pending_recipients: int = 20_000
    route_cache: int = 50_000
    dns_cache: int = 50_000

    def __post_init__(self) -> None:
        checks = (
            ("per_address_limit", self.per_address_limit, 1, 64),
            ("per_address_rate", self.per_address_rate, 0.1, 6000),
            ("concurrency", self.concurrency, 1, 4096),
            ("dns_concurrency", self.dns_concurrency, 1, 4096),
            ("domain_deadline", self.domain_deadline, 1, 3600),
            ("in_flight", self.in_flight, 1, 100_000),
            ("pending_recipients", self.pending_recipients, 1, 10_000_000),
            ("route_cache", self.route_cache, 1, 10_000_000),
            ("dns_cache", self.dns_cache, 1, 10_000_000),
        )
        for name, value, low, high in checks:
            if isinstance(value, bool) or not low <= value <= high:
                raise ConfigError(f"{name} must be between {low:g} and {high:g}, got {value!r}")


@dataclass(frozen=True, slots=True)
class RouteUse:
    """One route a domain's result rests on.

    Attributes:
        mx: The domain's MX host for this route (the certificate was checked against it).
        address: The IP address.
        port: The TCP port.
        tls_mode: STARTTLS or implicit TLS.
        ok: The route delivered (connect, greeting, EHLO, TLS where offered).
        phase: The phase where it stopped, ``None`` when ``ok``.
        outcome: That phase's outcome (``timeout``, ``refused``, ...), ``None`` when ``ok``.
        shared: The probe was made for another domain first and reused here.
    """

    mx: str
    address: str
    port: int
    tls_mode: TlsMode
    ok: bool
    phase: str | None = None
    outcome: str | None = None
    shared: bool = False


@dataclass(frozen=True, slots=True)
class FindingBrief:
    """A finding as a bulk record carries it (the full finding is in ``smtpdiag probe``).

    Attributes:
        rule: The rule id.
        code: Its enhanced status code, if any.
        severity: Soft, hard or info.
        action: The action kind (``retry``, ``suppress``, ``fix``, ``none``).
    """

    rule: str
    code: str | None
    severity: Severity
    action: str


@dataclass(frozen=True, slots=True)
class DomainRecord:
    """The result of one domain.

    Attributes:
        domain: The domain (normalized).
        verdict: The diagnosis verdict.
        primary: The leading enhanced status code, ``None`` when healthy.
        persistence: Whether the failure is known to last (one probe: usually unknown).
        findings: The findings, most important first.
        decision: What to do with mail to this domain: suppress, retry or keep.
        retry_at: For ``retry``: the next attempt (ISO 8601 UTC), else ``None``.
        reason: Why, as the bounce vocabulary says it.
        provider: The MX set (sorted MX host names joined by ``,``); the resolution kind
            in brackets when there is no MX host (``[none]``, ``[null-mx]``, ``[failed]``).
        routes: The routes the result rests on.
        could_not_run: No nameserver answered: nothing is known about the domain.
        duration_ms: From the start of its resolution to its result.
    """

    domain: str
    verdict: Verdict
    primary: str | None
    persistence: Persistence
    findings: tuple[FindingBrief, ...]
    decision: Decision
    retry_at: str | None
    reason: Reason
    provider: str
    routes: tuple[RouteUse, ...] = ()
    could_not_run: bool = False
    duration_ms: float = 0.0


class DomainDecision(NamedTuple):
    """What a later recipient of a finished domain needs.

    ``verdict`` ``unknown`` means the probe learned nothing about reaching the domain
    (no nameserver answered, or its deadline passed first): a bounce's own answer then
    stands. ``None`` (a caller that does not say) reads as a verdict that is known.
    """

    decision: Decision
    retry_at: str | None
    code: str | None
    reason: Reason
    verdict: Verdict | None = None

    @classmethod
    def of(cls, record: DomainRecord) -> DomainDecision:
        """A finished domain's decision (``unknown`` when no nameserver answered)."""
        verdict = Verdict.UNKNOWN if record.could_not_run else record.verdict
        return cls(record.decision, record.retry_at, record.primary, record.reason, verdict)


@dataclass(frozen=True, slots=True)
class RecipientRecord:
    """The decision for one recipient (one per input item, duplicates included).

    Attributes:
        input: Where it was read (``path:line``, ``path#n``).
        recipient: The address, ``None`` when the input named only a domain.
        domain: Its domain.
        decision: Suppress, retry (at ``retry_at``), keep, or fix (our side).
        retry_at: For ``retry``: when (ISO 8601 UTC).
        code: The enhanced code the decision rests on, if any.
        reason: Why.
        source: ``probe`` (the domain's diagnosis decided) or ``bounce`` (the bounce
            itself decided: the domain works, the mailbox-level answer stands).
    """

    input: str
    recipient: str | None
    domain: str
    decision: Decision
    retry_at: str | None
    code: str | None
    reason: Reason
    source: str


@dataclass(frozen=True, slots=True)
class ErrorRecord:
    """An input item that gave no domain; the run goes on.

    Attributes:
        input: Where it was read.
        error: What went wrong (``malformed``, ``too-long``, ``unreadable``, ``no-recipient``).
        detail: A short sanitized detail for people.
    """

    input: str
    error: str
    detail: str


#: What :func:`smtpdiag.bulk` yields.
BulkItem = DomainRecord | RecipientRecord | ErrorRecord


@dataclass(frozen=True, slots=True)
class BulkSummary:
    """Counts over a run.

    Attributes:
        inputs: Input items read (lines, messages, log entries).
        errors: Error records.
        domains: Domain records (distinct domains finished).
        recipients: Recipient records.
        skipped: Domains skipped because the output already had them (``--resume``).
        routes_probed: Distinct routes connected to (or attempted).
        connections: Connections opened, per address (``address`` -> count).
        by_provider: Per MX set: domains and their verdicts.
        by_code: Domains per primary code (``"none"`` when healthy).
        by_decision: Domain decisions.
        recipient_decisions: Recipient decisions.
        elapsed_s: Wall-clock seconds.
        interrupted: The run was stopped (Ctrl-C, SIGTERM) before the input ended.
        not_understood: Log lines and messages of a bounce input that gave neither a
            target nor an error record (log lines that are not delivery results).
    """

    inputs: int
    errors: int
    domains: int
    recipients: int
    skipped: int
    routes_probed: int
    connections: dict[str, int] = field(default_factory=dict)
    by_provider: dict[str, dict[str, int]] = field(default_factory=dict)
    by_code: dict[str, int] = field(default_factory=dict)
    by_decision: dict[str, int] = field(default_factory=dict)
    recipient_decisions: dict[str, int] = field(default_factory=dict)
    elapsed_s: float = 0.0
    interrupted: bool = False
    not_understood: int = 0
