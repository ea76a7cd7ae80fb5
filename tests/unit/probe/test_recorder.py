"""PhaseRecorder with a fake clock: exact offsets and durations, also on failure."""

from __future__ import annotations

import asyncio

import pytest

from smtpdiag.model import Outcome, Phase
from smtpdiag.probing.recorder import PhaseRecorder


class FakeClock:
    def __init__(self, start: float = 100.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def test_ok_phase_offsets_and_durations() -> None:
    clock = FakeClock()
    rec = PhaseRecorder(clock)
    clock.advance(0.010)
    with rec.phase(Phase.CONNECT):
        clock.advance(0.005)
    with rec.phase(Phase.GREETING) as p:
        clock.advance(0.250)
        assert p.outcome is Outcome.OK
    connect, greeting = rec.records
    assert (connect.phase, connect.outcome) == (Phase.CONNECT, Outcome.OK)
    assert connect.start_ms == pytest.approx(10.0)
    assert connect.duration_ms == pytest.approx(5.0)
    assert greeting.start_ms == pytest.approx(15.0)
    assert greeting.duration_ms == pytest.approx(250.0)
    assert rec.elapsed_ms() == pytest.approx(265.0)


def test_exception_is_recorded_and_reraised() -> None:
    clock = FakeClock()
    rec = PhaseRecorder(clock)
    with pytest.raises(ConnectionRefusedError), rec.phase(Phase.CONNECT):
        clock.advance(0.002)
        raise ConnectionRefusedError(111, "Connection refused")
    (record,) = rec.records
    assert record.outcome is Outcome.REFUSED
    assert record.duration_ms == pytest.approx(2.0)
    assert record.error_type == "ConnectionRefusedError"


def test_timeout_uses_timeout_detail() -> None:
    clock = FakeClock()
    rec = PhaseRecorder(clock)
    with pytest.raises(TimeoutError), rec.phase(Phase.GREETING) as p:
        p.timeout_detail = "no greeting within 2 s"
        clock.advance(2.0)
        raise TimeoutError
    (record,) = rec.records
    assert record.outcome is Outcome.TIMEOUT
    assert record.detail == "no greeting within 2 s"
    assert record.duration_ms == pytest.approx(2000.0)


def test_cancel_is_recorded_as_timeout() -> None:
    clock = FakeClock()
    rec = PhaseRecorder(clock)
    with pytest.raises(asyncio.CancelledError), rec.phase(Phase.EHLO):
        clock.advance(0.5)
        raise asyncio.CancelledError
    (record,) = rec.records
    assert record.outcome is Outcome.TIMEOUT
    assert record.detail == "cancelled"
    assert record.duration_ms == pytest.approx(500.0)


def test_fail_without_raising_and_trace() -> None:
    clock = FakeClock()
    seen = []
    rec = PhaseRecorder(clock, trace=seen.append)
    with rec.phase(Phase.STARTTLS) as p:
        p.fail(Outcome.REPLY, detail="refused\x1b[31m")
    assert seen == list(rec.records)
    assert seen[0].outcome is Outcome.REPLY
    assert seen[0].detail == "refused"  # the whole escape sequence is removed
