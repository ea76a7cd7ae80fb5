"""Plain-text rendering of a health check, for a terminal or a log. Pure.

Colour only on request (the status word); at a given width, long lines wrap at word
boundaries with their indent kept, never cut, so no value is shortened.
"""

from __future__ import annotations

import textwrap

from ..health.evaluation import HealthResult, HealthStatus, route_facts
from ..model import Outcome, Phase
from ..narrate.health import policy_line
from ..narrate.policy import looked_up
from ..textsafe import clean

__all__ = ["render_health_text"]

_ANSI = {
    HealthStatus.OK: "\x1b[32m",
    HealthStatus.WARNING: "\x1b[33m",
    HealthStatus.CRITICAL: "\x1b[31m",
    HealthStatus.UNKNOWN: "\x1b[35m",
}


def _wrap(line: str, width: int) -> list[str]:
    indent = " " * (len(line) - len(line.lstrip(" ")))
    # Continuation lines indent two more, so a wrapped line reads as one item.
    return textwrap.wrap(
        line,
        width=width,
        subsequent_indent=indent + "  ",
        break_long_words=False,
        break_on_hyphens=False,
    ) or [line]


def _ms(ms: float) -> str:
    text = f"{round(ms, 3):.3f}".rstrip("0").rstrip(".")
    return f"{text} ms"


def render_health_text(
    result: HealthResult, *, width: int | None = None, color: bool = False
) -> str:
    """A short human-readable report: status, summary, problems, the TLS policy line, one
    line per route.

    Args:
        result: The health check.
        width: Wrap lines longer than this many columns (``None``: no wrapping).
        color: Colour the status word with ANSI escapes.
    """
    lines = [f"{result.status.value.upper()}: {clean(result.summary, 400)}"]
    if result.verdict is not None:
        primary = f" ({result.primary})" if result.primary else ""
        lines.append(f"diagnosis: {result.verdict.value}{primary}")
    if result.problems:
        lines.append("problems:")
        lines += [
            f"  [{p.level.value}] {p.kind.value}: {clean(p.reason, 400)}" for p in result.problems
        ]
    if result.report is not None and looked_up(result.report):
        lines.append(policy_line(result.report))
    if result.routes:
        lines.append("routes:")
        for r in result.routes:
            state = "healthy" if r.healthy else ("up, requirement not met" if r.up else "down")
            bits = [state, *route_facts(r)]
            lines.append(f"  {clean(r.label, 300)}: {', '.join(bits)}")
            times = [
                f"{t.phase.value} {_ms(t.duration_ms)}"
                if t.outcome is Outcome.OK
                else f"{t.phase.value} {t.outcome.value} after {_ms(t.duration_ms)}"
                for t in r.phases
                if t.phase is not Phase.QUIT
            ]
            if times:
                lines.append("    " + ", ".join(times))
    if width is not None:
        lines = [part for line in lines for part in _wrap(line, width)]
    if color:
        word = result.status.value.upper()
        lines[0] = f"{_ANSI[result.status]}{word}\x1b[0m{lines[0][len(word) :]}"
    return "\n".join(lines) + "\n"
