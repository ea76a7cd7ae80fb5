"""Adapter translation: foreign exceptions -> :class:`~smtpdiag.model.Outcome`.

One ordered table (STYLE habit 2), most specific first, because the exception classes
overlap: aiosmtplib's ``SMTPTimeoutError`` is a ``TimeoutError``, its
``SMTPServerDisconnected`` a ``ConnectionError``, ``ssl.SSLError`` an ``OSError``.
Attributes are read (``.code``, ``.reason``, ``.verify_message``, ``.errno``); ``str(exc)``
is only used as a last-resort, sanitized detail.

Invariant: :func:`translate` never raises and covers every exception (the last row
is ``BaseException`` -> ``error``).
"""

from __future__ import annotations

import errno
import os
import re
import ssl
from collections.abc import Callable
from dataclasses import dataclass

import aiosmtplib

from ..model import Outcome, SmtpReply
from ..textsafe import clean

__all__ = ["Failure", "parse_reply", "translate"]

# RFC 3463 section 2 / RFC 2034: "class.subject.detail" at the start of the reply text.
_ENHANCED = re.compile(r"^([245])\.(\d{1,3})\.(\d{1,3})(?=\s|$)")

#: Errnos that mean "no route to the destination" (an ICMP unreachable or no route).
_UNREACHABLE_ERRNOS = frozenset(
    {errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN, errno.ENETDOWN}
)


@dataclass(frozen=True, slots=True)
class Failure:
    """What an exception means for the phase it ended.

    Attributes:
        outcome: The phase outcome.
        detail: Sanitized short explanation.
        reply: The SMTP reply, for ``reply`` outcomes.
        error_type: Name of the exception type.
    """

    outcome: Outcome
    detail: str | None
    reply: SmtpReply | None = None
    error_type: str | None = None


def parse_reply(code: int, message: str) -> SmtpReply:
    """Build a sanitized :class:`SmtpReply`, extracting an enhanced status code (RFC 2034).

    Multi-line texts keep their newlines; every line is cleaned and the whole text is
    bounded by :data:`smtpdiag.textsafe.MAX_TEXT`.
    """
    text = clean(message, keep_newlines=True)
    match = _ENHANCED.match(text)
    enhanced = match.group(0) if match else None
    return SmtpReply(code=code, enhanced=enhanced, text=text)


def _detail(exc: BaseException) -> str:
    text = clean(str(exc))
    return text or type(exc).__name__


def _reply(exc: BaseException) -> Failure:
    assert isinstance(exc, aiosmtplib.SMTPResponseException)
    if exc.code < 100:
        # aiosmtplib uses -1 for "Response too long" / "Malformed SMTP response line":
        # the peer did not speak SMTP (or sent more than 32 KiB).
        return Failure(Outcome.ERROR, clean(exc.message))
    return Failure(Outcome.REPLY, None, parse_reply(exc.code, exc.message))


def _timeout(exc: BaseException) -> Failure:
    return Failure(Outcome.TIMEOUT, "timed out")


def _disconnected(exc: BaseException) -> Failure:
    cause = exc.__cause__
    if isinstance(cause, ConnectionResetError | BrokenPipeError | ConnectionAbortedError):
        return Failure(Outcome.RESET, "connection reset by peer")
    if cause is not None and not isinstance(cause, aiosmtplib.SMTPServerDisconnected):
        inner = translate(cause)
        if inner.outcome is not Outcome.ERROR:
            return inner
    return Failure(Outcome.CLOSED, "connection closed by peer")


def _connect_error(exc: BaseException) -> Failure:
    cause = exc.__cause__
    if cause is not None:
        return translate(cause)
    return Failure(Outcome.ERROR, _detail(exc))


def _cert_verification(exc: BaseException) -> Failure:
    assert isinstance(exc, ssl.SSLCertVerificationError)
    return Failure(Outcome.TLS_FAILURE, clean(exc.verify_message or exc.reason or str(exc)))


def _ssl_eof(exc: BaseException) -> Failure:
    return Failure(Outcome.CLOSED, "connection closed by peer during TLS")


def _ssl_error(exc: BaseException) -> Failure:
    assert isinstance(exc, ssl.SSLError)
    # ``reason`` is OpenSSL's reason code name (e.g. "TLSV1_ALERT_PROTOCOL_VERSION",
    # "NO_SHARED_CIPHER", "WRONG_VERSION_NUMBER"); ``library`` the OpenSSL module.
    if exc.reason:
        text = f"{exc.library}: {exc.reason}" if exc.library else str(exc.reason)
        return Failure(Outcome.TLS_FAILURE, clean(text))
    return Failure(Outcome.TLS_FAILURE, _detail(exc))


def _refused(exc: BaseException) -> Failure:
    return Failure(Outcome.REFUSED, "connection refused")


def _reset(exc: BaseException) -> Failure:
    return Failure(Outcome.RESET, "connection reset by peer")


def _os_text(exc: OSError) -> str:
    # asyncio's sock_connect puts "Connect call failed (addr, port)" in strerror; the
    # errno's own text ("No route to host") is what a reader needs.
    if exc.errno:
        return clean(os.strerror(exc.errno))
    return clean(exc.strerror or str(exc)) or type(exc).__name__


def _oserror(exc: BaseException) -> Failure:
    assert isinstance(exc, OSError)
    if exc.errno in _UNREACHABLE_ERRNOS:
        return Failure(Outcome.UNREACHABLE, _os_text(exc))
    if exc.errno == errno.ETIMEDOUT:
        return Failure(Outcome.TIMEOUT, _os_text(exc))
    if exc.errno == errno.ECONNREFUSED:
        return Failure(Outcome.REFUSED, "connection refused")
    return Failure(Outcome.ERROR, _os_text(exc))


def _other(exc: BaseException) -> Failure:
    return Failure(Outcome.ERROR, _detail(exc))


#: The table. Order matters: the first row whose type matches wins.
_TABLE: tuple[tuple[type[BaseException], Callable[[BaseException], Failure]], ...] = (
    (aiosmtplib.SMTPResponseException, _reply),  # incl. SMTPConnectResponseError, SMTPHeloError
    (aiosmtplib.SMTPTimeoutError, _timeout),  # incl. SMTPReadTimeoutError, SMTPConnectTimeoutError
    (aiosmtplib.SMTPServerDisconnected, _disconnected),  # RESET if caused by a reset
    (aiosmtplib.SMTPConnectError, _connect_error),  # the real error is the __cause__ (465 TLS)
    (TimeoutError, _timeout),  # asyncio.TimeoutError is TimeoutError since 3.11
    (ssl.SSLCertVerificationError, _cert_verification),
    (ssl.SSLEOFError, _ssl_eof),
    (ssl.SSLZeroReturnError, _ssl_eof),
    (ssl.SSLError, _ssl_error),
    (ConnectionRefusedError, _refused),
    (ConnectionResetError, _reset),
    (BrokenPipeError, _reset),
    (ConnectionAbortedError, _reset),
    (OSError, _oserror),  # errno: EHOSTUNREACH/ENETUNREACH -> unreachable
    (BaseException, _other),
)


def translate(exc: BaseException) -> Failure:
    """Map an exception to the outcome of the phase it ended (never raises)."""
    for exc_type, handler in _TABLE:
        if isinstance(exc, exc_type):
            failure = handler(exc)
            error_type = failure.error_type or type(exc).__name__
            return Failure(failure.outcome, failure.detail, failure.reply, error_type)
    raise AssertionError("unreachable: BaseException matches everything")  # pragma: no cover
