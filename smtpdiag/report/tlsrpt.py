"""Render ``smtpdiag tlsrpt`` records: NDJSON lines (``kind``: report, error, check,
summary; see ``tlsrpt_schema.json``) and the summary and checks as text tables."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..model import SCHEMA_VERSION

if TYPE_CHECKING:
    from ..tlsreports.model import TlsReportItem, TlsReportSummary, TlsRouteCheck

__all__ = [
    "TLSRPT_SCHEMA_VERSION",
    "dumps_check",
    "dumps_item",
    "dumps_summary",
    "render_checks",
    "render_summary",
]

#: Version of the ``tlsrpt`` lines: the release's schema version.
TLSRPT_SCHEMA_VERSION = SCHEMA_VERSION


def _line(kind: str, value: object) -> str:
    from .jsonout import to_jsonable

    body = to_jsonable(value)
    assert isinstance(body, dict)
    doc: dict[str, Any] = {"kind": kind, "schema_version": TLSRPT_SCHEMA_VERSION, **body}
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"))


def dumps_item(item: TlsReportItem) -> str:
    """One report (``kind: report``) or error record (``kind: error``), no line end."""
    from ..tlsreports.model import TlsReportError

    return _line("error" if isinstance(item, TlsReportError) else "report", item)


def dumps_check(check: TlsRouteCheck) -> str:
    """One ``--probe`` line (``kind: check``)."""
    return _line("check", check)


def dumps_summary(summary: TlsReportSummary) -> str:
    """The summary line (``kind: summary``), last with ``--json``."""
    return _line("summary", summary)


def _rate(rate: float | None) -> str:
    return "-" if rate is None else f"{rate * 100:.2f}%"


def _table(rows: Sequence[Sequence[str]], width: int, numeric: int) -> list[str]:
    """Rows laid out in columns; the last ``numeric`` columns are right-aligned."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    first = len(widths) - numeric
    out = []
    for row in rows:
        cells = [
            c.rjust(w) if i >= first else c.ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        out.append("  " + "  ".join(cells).rstrip())
    return [line[:width] for line in out]


def render_summary(summary: TlsReportSummary, *, width: int | None = None) -> str:
    """The summary as text: totals, sessions per policy, failures per route."""
    w = max(40, min(width or 100, 400))
    total = summary.successful_sessions + summary.failed_sessions
    rate = _rate(summary.failed_sessions / total if total else None)
    out = [
        f"{summary.inputs} inputs: {summary.reports} reports, {summary.duplicates} duplicates, "
        f"{summary.errors} errors; {summary.successful_sessions} successful and "
        f"{summary.failed_sessions} failed sessions ({rate} failed)"
    ]
    if summary.policies:
        out += ["", "sessions per policy"]
        rows = [["domain", "type", "organization", "from", "to", "reports", "ok", "failed", "rate"]]
        rows += [
            [
                g.policy_domain,
                g.policy_type,
                g.organization,
                g.start[:10],
                g.end[:10],
                str(g.reports),
                str(g.successful_sessions),
                str(g.failed_sessions),
                _rate(g.failure_rate),
            ]
            for g in summary.policies
        ]
        out += _table(rows, w, 4)
    if summary.failures:
        out += ["", "failures per route"]
        rows = [["domain", "mx host", "ip", "result", "organization", "failed", "rate"]]
        rows += [
            [
                g.policy_domain,
                g.receiving_mx_hostname or "-",
                g.receiving_ip or "-",
                g.result_type if g.known_result_type else f"{g.result_type} (unknown)",
                g.organization,
                str(g.failed_sessions),
                _rate(g.failure_rate),
            ]
            for g in summary.failures
        ]
        out += _table(rows, w, 2)
    if summary.groups_omitted:
        out += ["", f"{summary.groups_omitted} more groups counted under (other)"]
    return "\n".join(out) + "\n"


def render_checks(checks: Sequence[TlsRouteCheck], *, width: int | None = None) -> str:
    """The ``--probe`` checks: one line per route and result type."""
    w = max(40, min(width or 100, 400))
    if not checks:
        return "\nno reported failure to check\n"
    import textwrap

    out = ["", "checked now"]
    for c in checks:
        code = f" [{c.code}]" if c.code else ""
        line = f"{c.summary}{code} ({c.failed_sessions} failed sessions reported)"
        out += textwrap.wrap(line, w, initial_indent="  ", subsequent_indent="    ")
    return "\n".join(out) + "\n"
