"""Bulk output: one NDJSON line per record, the summary, and reading an output back
for ``--resume``.

Record lines carry ``"type"`` (``domain``, ``recipient``, ``error``, ``summary``) and
``"schema_version"``, then the record's fields in declaration order.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Any, TextIO

from ..bounces.reasons import Decision, Reason
from ..model import SCHEMA_VERSION, Verdict
from ..narrate.units import plural
from ..textsafe import clean
from .model import (
    BulkItem,
    BulkSummary,
    DomainDecision,
    DomainRecord,
    ErrorRecord,
    RecipientRecord,
)
from .run import RunStats
from .wire import record_to_plain
from .work import to_plain

__all__ = ["SummaryBuilder", "dumps", "read_done", "read_recipients", "render_table"]

_TYPES: dict[type, str] = {
    DomainRecord: "domain",
    RecipientRecord: "recipient",
    ErrorRecord: "error",
    BulkSummary: "summary",
}
#: Providers and codes listed in the summary (the rest are counted under ``"other"``).
TOP = 50
# One output line is read back at most this long (a domain record with many routes).
_MAX_LINE = 1 << 20


def dumps(item: BulkItem | BulkSummary) -> str:
    """One NDJSON line (without the newline)."""
    body = record_to_plain(item) if type(item) is DomainRecord else to_plain(item)
    assert isinstance(body, dict)
    line = {"type": _TYPES[type(item)], "schema_version": SCHEMA_VERSION, **body}
    return json.dumps(line, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _lines(stream: TextIO) -> Iterator[dict[str, Any]]:
    while True:
        line = stream.readline(_MAX_LINE)
        if not line:
            return
        try:
            data = json.loads(line)
        except ValueError:
            continue  # a line cut by an interrupted run: that domain is simply done again
        if isinstance(data, dict):
            yield data


def read_done(stream: TextIO) -> dict[str, DomainDecision]:
    """The domains an earlier run finished (``--resume``), with their decisions.

    A domain whose verdict was ``unknown`` (no nameserver answered, or its deadline
    passed) is not done: the run probes it again and writes its record anew."""
    done: dict[str, DomainDecision] = {}
    for data in _lines(stream):
        if data.get("type") != "domain" or not isinstance(data.get("domain"), str):
            continue
        try:
            decision = Decision(str(data.get("decision")))
            reason = Reason(str(data.get("reason")))
            verdict = Verdict(str(data.get("verdict")))
        except ValueError:
            continue
        if verdict is Verdict.UNKNOWN or data.get("could_not_run") is True:
            done.pop(data["domain"], None)
            continue
        retry_at = data.get("retry_at")
        primary = data.get("primary")
        done[data["domain"]] = DomainDecision(
            decision,
            retry_at if isinstance(retry_at, str) else None,
            primary if isinstance(primary, str) else None,
            reason,
            verdict,
        )
    return done


def read_recipients(stream: TextIO, done: Mapping[str, object]) -> set[str]:
    """The inputs whose recipient records an earlier run wrote for domains in ``done``
    (``--resume``): the recipients of a domain probed again are written again."""
    return {
        data["input"]
        for data in _lines(stream)
        if data.get("type") == "recipient"
        and isinstance(data.get("input"), str)
        and data.get("domain") in done
    }


class SummaryBuilder:
    """Counts records as they stream by; :meth:`summary` gives the frozen result."""

    def __init__(self) -> None:
        self._providers: dict[str, Counter[str]] = {}
        self._codes: Counter[str] = Counter()
        self._decisions: Counter[str] = Counter()
        self._recipients: Counter[str] = Counter()

    def add(self, item: BulkItem) -> None:
        if isinstance(item, DomainRecord):
            counts = self._providers.get(item.provider)
            if counts is None:
                if len(self._providers) >= 10 * TOP:  # hostile input: bounded anyway
                    counts = self._providers.setdefault("other", Counter())
                else:
                    counts = self._providers.setdefault(item.provider, Counter())
            counts["domains"] += 1
            counts[item.verdict.value] += 1
            self._codes[item.primary or "none"] += 1
            self._decisions[item.decision.value] += 1
        elif isinstance(item, RecipientRecord):
            self._recipients[item.decision.value] += 1

    def summary(self, stats: RunStats, elapsed_s: float) -> BulkSummary:
        ranked = sorted(self._providers.items(), key=lambda kv: -kv[1]["domains"])
        providers = {clean(k, 200): dict(v) for k, v in ranked[:TOP]}
        rest: Counter[str] = Counter()
        for _name, counts in ranked[TOP:]:
            rest.update(counts)
        if rest:
            providers["other"] = dict(rest)
        return BulkSummary(
            inputs=stats.inputs,
            errors=stats.errors,
            domains=stats.domains,
            recipients=stats.recipients,
            skipped=stats.skipped,
            routes_probed=stats.routes_probed,
            connections=dict(stats.connections.most_common(TOP)),
            by_provider=providers,
            by_code=dict(self._codes.most_common(TOP)),
            by_decision=dict(self._decisions),
            recipient_decisions=dict(self._recipients),
            elapsed_s=round(elapsed_s, 3),
            interrupted=stats.interrupted,
            not_understood=stats.not_understood,
        )


def render_table(summary: BulkSummary, *, width: int | None = None) -> str:
    """The summary as tables for a terminal (rich, no colour codes in the text)."""
    import io

    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    out = io.StringIO()
    console = Console(file=out, width=width or 100, color_system=None, highlight=False)
    rate = summary.domains / summary.elapsed_s if summary.elapsed_s > 0 else 0.0
    console.print(
        Text(
            f"{plural(summary.domains, 'domain')} ({rate:.0f}/s), "
            f"{plural(summary.recipients, 'recipient')}, {plural(summary.errors, 'error')}, "
            f"{summary.skipped} skipped, "
            + (f"{summary.not_understood} not understood, " if summary.not_understood else "")
            + f"{plural(summary.routes_probed, 'route')} probed "
            f"in {summary.elapsed_s:.1f} s" + (" (interrupted)" if summary.interrupted else "")
        )
    )
    providers = Table(title="by provider (MX set)")
    providers.add_column("provider", overflow="fold")
    for column in ("domains", "healthy", "degraded", "failed", "no-mail"):
        providers.add_column(column, justify="right")
    for name, counts in summary.by_provider.items():
        # Cells are Text, never markup: a provider is "[none]" or "[failed]", and a
        # domain-derived name may carry "[bold]" or "[link=...]".
        providers.add_row(
            Text(name),
            *(
                str(counts.get(c, 0))
                for c in ("domains", "healthy", "degraded", "failed", "no-mail")
            ),
        )
    console.print(providers)
    codes = Table(title="by primary code")
    codes.add_column("code")
    codes.add_column("domains", justify="right")
    for code, n in summary.by_code.items():
        codes.add_row(Text(code), str(n))
    console.print(codes)
    if summary.recipient_decisions:
        decisions = Table(title="recipients by decision")
        decisions.add_column("decision")
        decisions.add_column("recipients", justify="right")
        for decision, n in summary.recipient_decisions.items():
            decisions.add_row(Text(decision), str(n))
        console.print(decisions)
    return out.getvalue()
