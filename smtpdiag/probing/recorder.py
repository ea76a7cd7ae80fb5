"""Phase timing: a recorder that turns ``with recorder.phase(...)`` blocks into records.

Every phase gets its start offset and duration from one injected monotonic clock, also
when the block raises, times out or is cancelled (STYLE habit 5): a timeout's real
duration belongs in the report. Exceptions are translated once, by
:func:`smtpdiag.probing.errors.translate`, and then re-raised so the caller stops.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from ..model import Outcome, Phase, PhaseRecord, SmtpReply, TlsReason
from ..textsafe import clean
from .errors import translate

__all__ = ["Clock", "PhaseHandle", "PhaseRecorder"]

_log = logging.getLogger(__name__)

#: A monotonic clock in seconds (``time.monotonic`` or a fake in tests).
Clock = Callable[[], float]


@dataclass(slots=True)
class PhaseHandle:
    """The mutable state of the phase being recorded; the body fills it in.

    Attributes:
        phase: Which phase.
        outcome: How it ended; ``ok`` unless the body says otherwise or raises.
        reply: The SMTP reply read in the phase, if any.
        detail: Sanitized explanation for a non-``ok`` outcome.
        error_type: Exception type name behind a failure.
        timeout_detail: What a timeout in this phase means (e.g. "phase limit 2 s");
            used as ``detail`` when the phase ends in a timeout.
        errno: OS errno behind a socket-level failure.
        tls_reason: Why a TLS handshake failed.
        tls_alert: Name of the TLS alert the peer sent.
    """

    phase: Phase
    outcome: Outcome = Outcome.OK
    reply: SmtpReply | None = None
    detail: str | None = None
    error_type: str | None = None
    timeout_detail: str | None = None
    errno: int | None = None
    tls_reason: TlsReason | None = None
    tls_alert: str | None = None

    def fail(
        self,
        outcome: Outcome,
        *,
        reply: SmtpReply | None = None,
        detail: str | None = None,
        error_type: str | None = None,
        errno: int | None = None,
        tls_reason: TlsReason | None = None,
        tls_alert: str | None = None,
    ) -> None:
        """Mark the phase as ended with ``outcome`` without raising."""
        self.outcome = outcome
        if reply is not None:
            self.reply = reply
        if detail is not None:
            self.detail = clean(detail)
        if error_type is not None:
            self.error_type = error_type
        if errno is not None:
            self.errno = errno
        if tls_reason is not None:
            self.tls_reason = tls_reason
        if tls_alert is not None:
            self.tls_alert = tls_alert


#: A failed handshake whose exception said nothing TLS-specific (a timeout scope, a
#: reset socket) still gets a reason, from how it ended.
_HANDSHAKE_REASONS: dict[Outcome, TlsReason] = {
    Outcome.TIMEOUT: TlsReason.TIMEOUT,
    Outcome.RESET: TlsReason.RESET,
    Outcome.CLOSED: TlsReason.CLOSED,
}


class PhaseRecorder:
    """Collects :class:`PhaseRecord` values for one route probe.

    Args:
        clock: Monotonic clock in seconds; its value at construction is offset 0.
        trace: Optional callback called with every finished record.
    """

    __slots__ = ("_clock", "_origin", "_records", "_trace")

    def __init__(
        self,
        clock: Clock = time.monotonic,
        trace: Callable[[PhaseRecord], None] | None = None,
    ) -> None:
        self._clock = clock
        self._origin = clock()
        self._records: list[PhaseRecord] = []
        self._trace = trace

    @property
    def records(self) -> tuple[PhaseRecord, ...]:
        """The records so far, in the order the phases ran."""
        return tuple(self._records)

    def elapsed_ms(self) -> float:
        """Milliseconds since the recorder was created."""
        return (self._clock() - self._origin) * 1000.0

    def add(self, record: PhaseRecord) -> None:
        """Append a record made elsewhere (e.g. a phase that never got to start)."""
        self._records.append(record)
        _log.debug("%s %s %.1f ms", record.phase, record.outcome, record.duration_ms)
        if self._trace is not None:
            self._trace(record)

    @contextmanager
    def phase(self, phase: Phase) -> Iterator[PhaseHandle]:
        """Time one phase. Exceptions are recorded as the phase's outcome and re-raised.

        ``asyncio.CancelledError`` (a cancel from outside, not one of our own timeout
        scopes, which arrive here as ``TimeoutError``) is recorded as a timeout.
        """
        handle = PhaseHandle(phase)
        start = self._clock()
        try:
            yield handle
        except asyncio.CancelledError:
            handle.fail(Outcome.TIMEOUT, detail="cancelled", error_type="CancelledError")
            self._finish(handle, start)
            raise
        except BaseException as exc:
            failure = translate(exc)
            detail = failure.detail
            if failure.outcome is Outcome.TIMEOUT and handle.timeout_detail:
                detail = handle.timeout_detail
            handle.fail(
                failure.outcome,
                reply=failure.reply,
                detail=detail,
                error_type=failure.error_type,
                errno=failure.errno,
                tls_reason=failure.tls_reason,
                tls_alert=failure.tls_alert,
            )
            self._finish(handle, start)
            raise
        self._finish(handle, start)

    def _finish(self, handle: PhaseHandle, start: float) -> None:
        end = self._clock()
        failed_tls = handle.outcome is Outcome.TLS_FAILURE
        if handle.phase is Phase.TLS_HANDSHAKE and handle.outcome is not Outcome.OK:
            failed_tls = True
            if handle.tls_reason is None:
                handle.tls_reason = _HANDSHAKE_REASONS.get(handle.outcome, TlsReason.OTHER)
        if not failed_tls:
            # Only a failed handshake (or a TLS error after it, e.g. a TLS 1.3 alert
            # read with the first reply) has a TLS reason; a reset while reading EHLO
            # over TLS is a reset.
            handle.tls_reason = None
            handle.tls_alert = None
        elif handle.tls_reason is None:
            handle.tls_reason = TlsReason.OTHER
        self.add(
            PhaseRecord(
                phase=handle.phase,
                outcome=handle.outcome,
                start_ms=round((start - self._origin) * 1000.0, 3),
                duration_ms=round(max(0.0, end - start) * 1000.0, 3),
                reply=handle.reply,
                detail=handle.detail,
                error_type=handle.error_type,
                errno=handle.errno,
                tls_reason=handle.tls_reason,
                tls_alert=handle.tls_alert,
            )
        )
