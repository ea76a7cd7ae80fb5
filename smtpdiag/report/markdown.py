"""A Markdown summary of a health check for a CI job page (GitHub Actions
``$GITHUB_STEP_SUMMARY``, GitLab, ...). Pure.

GitHub-flavoured Markdown: a heading with the status, the summary line, the diagnosis,
the problems as a list, and a table of routes with per-phase timings. Remote text is
escaped: Markdown punctuation gets a backslash, ``<``, ``>`` and ``&`` become entities
(so a banner cannot inject HTML or links), and ``|`` cannot split a table cell.
"""

from __future__ import annotations

import re

from ..health.evaluation import HealthResult, HealthStatus, RouteHealth
from ..model import Outcome, Phase
from ..narrate.policy import policy_rows, senders_line
from ..textsafe import clean

__all__ = ["escape_markdown", "render_markdown"]

# Inline punctuation that can start emphasis, code, links or split a table cell. ``(``
# and ``!`` need no escape once ``[`` is escaped (no link or image can form).
_SPECIAL = re.compile(r"([\\`*_\[\]|~])")
# Block syntax at the start of a text: heading, list item, quote, ordered list.
# A backslash before a digit is literal, so "1." is escaped as "1\.".
_LEADING = re.compile(r"^(\s*)(?:([#>+-])|(\d+)([.)]))")
_ICON = {
    HealthStatus.OK: "OK",
    HealthStatus.WARNING: "WARNING",
    HealthStatus.CRITICAL: "CRITICAL",
    HealthStatus.UNKNOWN: "UNKNOWN",
}
# Column order: the union of both TLS modes' phase sequences.
_COLUMNS = (
    Phase.CONNECT,
    Phase.TLS_HANDSHAKE,
    Phase.GREETING,
    Phase.EHLO,
    Phase.STARTTLS,
    Phase.EHLO_TLS,
)


def _escape_leading(m: re.Match[str]) -> str:
    if m.group(2):
        return f"{m.group(1)}\\{m.group(2)}"
    return f"{m.group(1)}{m.group(3)}\\{m.group(4)}"


def escape_markdown(text: str | None, limit: int = 500, *, line_start: bool = False) -> str:
    """``text`` sanitized and escaped so that it renders literally, also inside a table.

    With ``line_start``, block syntax at its start (``#``, ``-``, ``1.``) is escaped too.
    """
    safe = clean(text, limit)
    safe = safe.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    safe = _SPECIAL.sub(r"\\\1", safe)
    return _LEADING.sub(_escape_leading, safe) if line_start else safe


def _ms(ms: float) -> str:
    text = f"{round(ms, 3):.3f}".rstrip("0").rstrip(".")
    return f"{text} ms"


def _cell(route: RouteHealth, phase: Phase) -> str:
    t = route.timing(phase)
    # Sequence of phases of the route's TLS mode; others do not apply.
    if t.outcome is Outcome.NOT_ATTEMPTED:
        return "\u2013"  # en dash: did not run
    if t.outcome is Outcome.OK:
        return _ms(t.duration_ms)
    return f"**{escape_markdown(t.outcome.value)}**"


def _state(route: RouteHealth) -> str:
    if route.healthy:
        return "healthy"
    if route.up:
        return "**requirement not met**"
    return f"**down** ({escape_markdown(route.failure or 'failed')})"


def _head(result: HealthResult) -> list[str]:
    lines = [
        f"## smtpdiag check {escape_markdown(result.domain)}: {_ICON[result.status]}",
        "",
        escape_markdown(result.summary, 600, line_start=True),
        "",
    ]
    facts = []
    if result.verdict is not None:
        verdict = f"**Diagnosis:** {escape_markdown(result.verdict.value)}"
        if result.primary:
            verdict += f" ({escape_markdown(result.primary)})"
        facts.append(verdict)
    report = result.report
    if report is not None:
        facts.append(
            f"**Probed:** {escape_markdown(report.started_at)}, "
            f"{escape_markdown(_ms(report.duration_ms))}, "
            f"ports {escape_markdown(', '.join(map(str, report.ports)))}"
        )
    if facts:
        lines += [*[f"- {f}" for f in facts], ""]
    return lines


def _problems(result: HealthResult) -> list[str]:
    if not result.problems:
        return []
    lines = ["### Problems", ""]
    for p in result.problems:
        lines.append(
            f"- **{p.level.value}** ({escape_markdown(p.kind.value)}): "
            f"{escape_markdown(p.reason, 600)}"
        )
    return [*lines, ""]


def _routes(result: HealthResult) -> list[str]:
    if not result.routes:
        return []
    header = ["Route", "State", "TLS", "Cert days", *[p.value for p in _COLUMNS]]
    lines = [
        "### Routes",
        "",
        "| " + " | ".join(escape_markdown(h) for h in header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
    ]
    for r in result.routes:
        row = [
            escape_markdown(r.label),
            _state(r),
            escape_markdown(r.tls_version or "\u2013"),
            "\u2013" if r.cert_days_left is None else str(r.cert_days_left),
            *[_cell(r, p) for p in _COLUMNS],
        ]
        lines.append("| " + " | ".join(row) + " |")
    return [*lines, ""]


def _findings(result: HealthResult) -> list[str]:
    diagnosis = result.report.diagnosis if result.report is not None else None
    if diagnosis is None or not diagnosis.findings:
        return []
    lines = ["### Diagnosis findings", ""]
    for f in diagnosis.findings:
        code = f"{f.code} " if f.code else ""
        lines.append(
            f"- {escape_markdown(code + f.title)} ({escape_markdown(f.severity.value)}): "
            f"{escape_markdown(f.summary, 600)}"
        )
        who = senders_line(f)
        if who is not None:
            lines.append(f"  - Who fails: {escape_markdown(who, 600)}")
    return [*lines, ""]


def _policy(result: HealthResult) -> list[str]:
    rows = policy_rows(result.report) if result.report is not None else []
    if not rows:
        return []
    lines = ["### TLS policy", "", "| | |", "|---|---|"]
    for label, text in rows:
        lines.append(f"| {escape_markdown(label, 40)} | {escape_markdown(text, 600)} |")
    return [*lines, ""]


def render_markdown(result: HealthResult) -> str:
    """The Markdown summary of ``result`` (ends with a newline)."""
    lines = (
        _head(result) + _problems(result) + _routes(result) + _policy(result) + _findings(result)
    )
    return "\n".join(lines).rstrip("\n") + "\n"
