"""Plain-text rendering of a health check, for a terminal or a log. Pure, no colour."""

from __future__ import annotations

from ..health.evaluate import HealthResult, route_facts
from ..model import Outcome, Phase
from ..textsafe import clean

__all__ = ["render_health_text"]


def _ms(ms: float) -> str:
    text = f"{round(ms, 3):.3f}".rstrip("0").rstrip(".")
    return f"{text} ms"


def render_health_text(result: HealthResult) -> str:
    """A short human-readable report: status, summary, problems, one line per route."""
    lines = [f"{result.status.value.upper()}: {clean(result.summary, 400)}"]
    if result.verdict is not None:
        primary = f" ({result.primary})" if result.primary else ""
        lines.append(f"diagnosis: {result.verdict.value}{primary}")
    if result.problems:
        lines.append("problems:")
        lines += [
            f"  [{p.level.value}] {p.kind.value}: {clean(p.reason, 400)}" for p in result.problems
        ]
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
    return "\n".join(lines) + "\n"
