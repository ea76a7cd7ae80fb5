"""Assertion helpers shared by the probe integration tests."""

from __future__ import annotations

from smtpdiag.model import Outcome, Phase, RouteResult

__all__ = ["assert_plausible", "phases"]


def phases(result: RouteResult) -> list[tuple[Phase, Outcome]]:
    """The (phase, outcome) sequence of a result."""
    return [(p.phase, p.outcome) for p in result.phases]


def assert_plausible(result: RouteResult, *, slow_ms: float = 1500.0) -> None:
    """Durations present, non-negative, in order, inside the route's total; quick
    phases quick (loopback), timeouts excepted."""
    assert result.phases, "no phase recorded"
    assert result.started_at.endswith("Z")  # ISO 8601 UTC, as everywhere in reports
    previous_end = 0.0
    for rec in result.phases:
        assert rec.duration_ms >= 0.0, rec
        assert rec.start_ms >= previous_end - 0.01, (rec, previous_end)
        previous_end = rec.start_ms + rec.duration_ms
        if rec.outcome is not Outcome.TIMEOUT:
            assert rec.duration_ms < slow_ms, rec
        if rec.outcome is not Outcome.OK:
            assert rec.detail or rec.reply, rec
    assert previous_end <= result.total_ms + 0.01
