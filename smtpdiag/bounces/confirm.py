"""``explain --batch --probe``: probe each recipient domain of a network or routing
bounce once per run and say whether what the probe sees now confirms the bounce.

The probe (:func:`smtpdiag.probe`) is the caller's to pass: the facade sits above this
layer, and reading bounces stays light (no asyncio, ssl or dnspython).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..model import Verdict
from .bounce import ParsedBounce, confirm, explain_parsed
from .confirmation import ConfirmStatus
from .model import BatchRecord
from .reasons import Reason

if TYPE_CHECKING:
    from ..config import ProbeConfig
    from ..model import ProbeReport

__all__ = [
    "MAX_DOMAINS",
    "NETWORK_REASONS",
    "DomainCollector",
    "DomainConfirmation",
    "confirm_domains",
]

#: Reasons a connection-level probe can check (the domain's MX, its ports, its TLS).
NETWORK_REASONS = frozenset(
    {Reason.CONNECTION, Reason.ROUTING, Reason.DNS, Reason.DOMAIN, Reason.TLS}
)
#: At most this many domains are probed in one run (the others are counted, not probed).
MAX_DOMAINS = 100


@dataclass(frozen=True, slots=True)
class DomainConfirmation:
    """What a probe of one recipient domain says about its bounces.

    Attributes:
        domain: The recipient domain probed.
        code: The code of the first network or routing record for it.
        records: How many network or routing records named this domain.
        status: Confirmed, not reproduced, different, or not checkable.
        summary: One or two sentences.
        verdict: The probe's verdict, ``None`` if it could not run.
        primary: The probe's leading code, if any.
    """

    domain: str
    code: str | None
    records: int
    status: ConfirmStatus
    summary: str
    verdict: Verdict | None
    primary: str | None


class DomainCollector:
    """Keeps the first network or routing record per domain (bounded) as records stream by."""

    def __init__(self, limit: int = MAX_DOMAINS) -> None:
        self._first: dict[str, BatchRecord] = {}
        self._count: dict[str, int] = {}
        self._limit = limit
        #: Domains seen beyond ``limit`` (not probed).
        self.skipped = 0

    def add(self, record: BatchRecord) -> None:
        """Remember ``record`` if it is a network or routing bounce of a new domain."""
        if record.domain is None or record.reason not in NETWORK_REASONS:
            return
        if record.domain in self._first:
            self._count[record.domain] += 1
        elif len(self._first) < self._limit:
            self._first[record.domain] = record
            self._count[record.domain] = 1
        else:
            self.skipped += 1

    @property
    def domains(self) -> list[str]:
        """The domains to probe, in the order first seen."""
        return list(self._first)

    def first(self, domain: str) -> BatchRecord:
        """The first record of ``domain``."""
        return self._first[domain]

    def count(self, domain: str) -> int:
        """How many network or routing records named ``domain``."""
        return self._count[domain]


def _parsed(record: BatchRecord) -> ParsedBounce:
    """The record's typed values as a parsed bounce (nothing is parsed again)."""
    return ParsedBounce(
        basic=record.basic,
        enhanced=record.enhanced,
        text=record.text,
        recipient=record.recipient,
        domain=record.domain,
        remote_mta=record.remote_mta,
        remote_address=None,
        action=record.action,
        source="text",
        code_source=record.code_source,
        confidence=record.confidence,
        matched_phrase=record.matched_phrase,
    )


#: How a confirmation probes a domain: :func:`smtpdiag.probe` (the caller passes it, as
#: the facade sits above this layer).
ProbeFn = Callable[[str, "ProbeConfig | None"], Awaitable["ProbeReport"]]


async def confirm_domains(
    collector: DomainCollector, config: ProbeConfig | None, probe: ProbeFn
) -> list[DomainConfirmation]:
    """Probe every collected domain once with ``probe`` (:func:`smtpdiag.probe`), one
    after the other (each probe is bounded by the config's total timeout), and compare
    with its first record."""
    from ..errors import ConfigError, ProbeError

    out: list[DomainConfirmation] = []
    for domain in collector.domains:
        record = collector.first(domain)
        expl = explain_parsed(_parsed(record))
        try:
            report = await probe(domain, config)
        except (ProbeError, ConfigError) as exc:  # a domain a probe cannot take
            out.append(
                DomainConfirmation(
                    domain,
                    record.enhanced,
                    collector.count(domain),
                    ConfirmStatus.NOT_CHECKABLE,
                    str(exc)[:200],
                    None,
                    None,
                )
            )
            continue
        c = confirm(expl, report)
        out.append(
            DomainConfirmation(
                domain,
                record.enhanced,
                collector.count(domain),
                c.status,
                c.summary,
                c.verdict,
                c.primary,
            )
        )
    return out
