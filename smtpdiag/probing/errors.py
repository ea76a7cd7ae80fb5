"""Adapter translation: foreign exceptions -> typed observations.

One ordered table (STYLE habit 2), most specific first, because the exception classes
overlap: aiosmtplib's ``SMTPTimeoutError`` is a ``TimeoutError``, its
``SMTPServerDisconnected`` a ``ConnectionError``, ``ssl.SSLError`` an ``OSError``.
Attributes are read (``.code``, ``.reason``, ``.library``, ``.verify_code``,
``.errno``) and become values (:class:`Outcome`, ``errno``, :class:`TlsReason`, the
alert's name); ``str(exc)`` is only used as a last-resort, sanitized ``detail`` that no
later stage reads.

Invariant: :func:`translate` never raises and covers every exception (the last row
is ``BaseException`` -> ``error``).
"""

from __future__ import annotations

import errno
import os
import re
import ssl
from collections.abc import Callable
from dataclasses import dataclass, replace

import aiosmtplib

from ..model import Outcome, SmtpReply, TlsReason
from ..textsafe import clean
from .replytext import reply_hint

__all__ = [
    "Failure",
    "bad_code_detail",
    "parse_reply",
    "tls_reason_for",
    "translate",
    "valid_reply_code",
]

# RFC 3463 section 2 / RFC 2034: "class.subject.detail" at the start of the reply text.
_ENHANCED = re.compile(r"^([245])\.(\d{1,3})\.(\d{1,3})(?=\s|$)")

#: Errnos that mean "no route to the destination" (an ICMP unreachable or no route).
_UNREACHABLE_ERRNOS = frozenset(
    {errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN, errno.ENETDOWN}
)


#: OpenSSL reasons (``ssl.SSLError.reason``) meaning "the peer does not speak TLS":
#: the first bytes were not a TLS record (a plaintext "220 ..." greeting on 465 reads
#: as a record of version 0x3232...). OpenSSL 3.2+ may report RECORD_LAYER_FAILURE.
_NOT_TLS_REASONS = frozenset(
    {
        "WRONG_VERSION_NUMBER",
        "RECORD_LAYER_FAILURE",
        "PACKET_LENGTH_TOO_LONG",
        "RECORD_LENGTH_MISMATCH",
        "HTTP_REQUEST",
        "HTTPS_PROXY_REQUEST",
        "UNKNOWN_PROTOCOL",
        "WRONG_SSL_VERSION",
        "UNEXPECTED_MESSAGE",
    }
)
#: No protocol version in common (the local refusal or the server's alert).
_VERSION_REASONS = frozenset(
    {
        "UNSUPPORTED_PROTOCOL",
        "NO_PROTOCOLS_AVAILABLE",
        "TLSV1_ALERT_PROTOCOL_VERSION",
        "VERSION_TOO_LOW",
        "VERSION_TOO_HIGH",
    }
)
#: No cipher suite, group or signature algorithm in common. The handshake_failure
#: alert is what a server sends for exactly that (RFC 8446 6.2: "unable to negotiate
#: an acceptable set of security parameters").
_CIPHER_REASONS = frozenset(
    {
        "NO_SHARED_CIPHER",
        "NO_CIPHERS_AVAILABLE",
        "NO_CIPHER_MATCH",
        "WRONG_CIPHER_RETURNED",
        "NO_SHARED_GROUPS",
        "NO_SUITABLE_KEY_SHARE",
        "NO_SUITABLE_SIGNATURE_ALGORITHM",
        "NO_SHARED_SIGNATURE_ALGORITHMS",
        "WRONG_CURVE",
        "DH_KEY_TOO_SMALL",
        "SSLV3_ALERT_HANDSHAKE_FAILURE",
        "TLSV1_ALERT_INSUFFICIENT_SECURITY",
    }
)
#: OpenSSL names a received alert ``<prefix><ALERT_NAME>`` (ssl/ssl_err.c).
_ALERT_PREFIXES = ("SSLV3_ALERT_", "TLSV1_ALERT_", "TLSV13_ALERT_", "TLSV1_")
#: Alerts OpenSSL names without "ALERT" (RFC 8446 6.2 names).
_BARE_ALERTS = frozenset(
    {
        "TLSV1_UNRECOGNIZED_NAME",
        "TLSV1_BAD_CERTIFICATE_STATUS_RESPONSE",
        "TLSV1_BAD_CERTIFICATE_HASH_VALUE",
        "TLSV1_CERTIFICATE_UNOBTAINABLE",
        "TLSV1_UNSUPPORTED_EXTENSION",
    }
)
#: OpenSSL's X509_V_ERR_* codes (``SSLCertVerificationError.verify_code``).
_VERIFY_CODES: dict[int, TlsReason] = {
    9: TlsReason.CERT_EXPIRED,  # CERT_NOT_YET_VALID
    10: TlsReason.CERT_EXPIRED,  # CERT_HAS_EXPIRED
    62: TlsReason.CERT_WRONG_NAME,  # HOSTNAME_MISMATCH
    64: TlsReason.CERT_WRONG_NAME,  # IP_ADDRESS_MISMATCH
    66: TlsReason.CERT_WEAK_KEY,  # EE_KEY_TOO_SMALL
    67: TlsReason.CERT_WEAK_KEY,  # CA_KEY_TOO_SMALL
}


@dataclass(frozen=True, slots=True)
class Failure:
    """What an exception means for the phase it ended.

    Attributes:
        outcome: The phase outcome.
        detail: Sanitized short explanation, for display only.
        reply: The SMTP reply, for ``reply`` outcomes.
        error_type: Name of the exception type.
        errno: The OS errno behind a socket-level failure, else ``None``.
        tls_reason: Why a TLS handshake failed (TLS exceptions only), else ``None``.
        tls_alert: The name of the TLS alert the peer sent (``"internal_error"``),
            when the failure was a received alert, else ``None``.
    """

    outcome: Outcome
    detail: str | None
    reply: SmtpReply | None = None
    error_type: str | None = None
    errno: int | None = None
    tls_reason: TlsReason | None = None
    tls_alert: str | None = None


def valid_reply_code(code: int) -> bool:
    """RFC 5321 4.2: a reply code is three digits, the first 1-5 (100-599).

    aiosmtplib reads the first three characters with ``int()``, so "000", "999",
    "-12" and "2_2" (underscores are legal in ``int()``) arrive as 0, 999, -12 and
    22: none of them is a reply code, they are a protocol error.
    """
    return isinstance(code, int) and 100 <= code <= 599


def tls_reason_for(reason: str | None) -> tuple[TlsReason, str | None]:
    """Classify an OpenSSL reason name (``ssl.SSLError.reason``).

    Returns the :class:`TlsReason` and, when the reason is a received alert, the
    alert's name in RFC 8446 6.2 spelling (``TLSV1_ALERT_INTERNAL_ERROR`` ->
    ``internal_error``). Reason names are identifiers set by OpenSSL, not prose.
    """
    name = (reason or "").upper()
    alert: str | None = None
    if name in _BARE_ALERTS or ("_ALERT_" in name and name.startswith(_ALERT_PREFIXES)):
        for prefix in _ALERT_PREFIXES:
            if name.startswith(prefix):
                alert = name.removeprefix(prefix).removeprefix("ALERT_").lower()
                break
    if name in _NOT_TLS_REASONS:
        return TlsReason.NOT_TLS, alert
    if name in _VERSION_REASONS:
        return TlsReason.PROTOCOL_VERSION, alert
    if name in _CIPHER_REASONS:
        return TlsReason.CIPHER, alert
    if alert is not None:
        return TlsReason.ALERT, alert
    return TlsReason.OTHER, None


def parse_reply(code: int, message: str) -> SmtpReply:
    """Build a sanitized :class:`SmtpReply`, extracting an enhanced status code (RFC 2034)
    and what a negative reply's text says (:attr:`SmtpReply.hint`, read here once).

    Multi-line texts keep their newlines; every line is cleaned and the whole text is
    bounded by :data:`smtpdiag.textsafe.MAX_TEXT`.
    """
    text = clean(message, keep_newlines=True)
    match = _ENHANCED.match(text)
    enhanced = match.group(0) if match else None
    return SmtpReply(code=code, enhanced=enhanced, text=text, hint=reply_hint(code, text))


def _detail(exc: BaseException) -> str:
    text = clean(str(exc))
    return text or type(exc).__name__


def _reply(exc: BaseException) -> Failure:
    assert isinstance(exc, aiosmtplib.SMTPResponseException)
    if exc.code == -1:
        # aiosmtplib uses -1 for "Response too long" / "Malformed SMTP response line":
        # the peer did not speak SMTP (or sent more than 32 KiB).
        return Failure(Outcome.ERROR, clean(exc.message))
    if not valid_reply_code(exc.code):
        return Failure(Outcome.ERROR, bad_code_detail(exc.code))
    return Failure(Outcome.REPLY, None, parse_reply(exc.code, exc.message))


def bad_code_detail(code: int) -> str:
    """Display text for a reply whose code is not 100-599 (the code is not kept as one)."""
    return clean(f"malformed reply: code {code} is not an SMTP reply code", 120)


def _timeout(exc: BaseException) -> Failure:
    return Failure(Outcome.TIMEOUT, "timed out")


def _disconnected(exc: BaseException) -> Failure:
    cause = exc.__cause__
    if isinstance(cause, ConnectionResetError | BrokenPipeError | ConnectionAbortedError):
        return Failure(Outcome.RESET, "connection reset by peer", errno=cause.errno)
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
    # Not raised by our non-verifying context; kept so a verifying caller is covered.
    assert isinstance(exc, ssl.SSLCertVerificationError)
    code = getattr(exc, "verify_code", None)  # unset on a hand-made instance
    reason = _VERIFY_CODES.get(code, TlsReason.CERT_UNTRUSTED) if code else TlsReason.CERT_UNTRUSTED
    message = getattr(exc, "verify_message", None) or exc.reason or ""
    text = clean(str(message)) or "certificate verify failed"
    return Failure(Outcome.TLS_FAILURE, text, tls_reason=reason)


def _ssl_eof(exc: BaseException) -> Failure:
    return Failure(
        Outcome.CLOSED, "connection closed by peer during TLS", tls_reason=TlsReason.CLOSED
    )


def _ssl_error(exc: BaseException) -> Failure:
    assert isinstance(exc, ssl.SSLError)
    # ``reason`` is OpenSSL's reason code name (e.g. "TLSV1_ALERT_PROTOCOL_VERSION",
    # "NO_SHARED_CIPHER", "WRONG_VERSION_NUMBER"); ``library`` the OpenSSL module.
    reason, alert = tls_reason_for(exc.reason)
    if exc.reason:
        text = f"{exc.library}: {exc.reason}" if exc.library else str(exc.reason)
        return Failure(Outcome.TLS_FAILURE, clean(text), tls_reason=reason, tls_alert=alert)
    return Failure(Outcome.TLS_FAILURE, _detail(exc), tls_reason=reason)


def _refused(exc: BaseException) -> Failure:
    assert isinstance(exc, OSError)
    return Failure(Outcome.REFUSED, "connection refused", errno=exc.errno or errno.ECONNREFUSED)


def _reset(exc: BaseException) -> Failure:
    assert isinstance(exc, OSError)
    if isinstance(exc, ConnectionResetError) and exc.errno is None:
        # asyncio's SSL protocol raises ConnectionResetError("Connection lost"), with
        # no errno, when the peer closes (FIN) during the handshake; a real RST
        # carries ECONNRESET.
        return Failure(Outcome.CLOSED, "connection closed by peer")
    return Failure(Outcome.RESET, "connection reset by peer", errno=exc.errno)


def _os_text(exc: OSError) -> str:
    # asyncio's sock_connect puts "Connect call failed (addr, port)" in strerror; the
    # errno's own text ("No route to host") is what a reader needs.
    if exc.errno:
        return clean(os.strerror(exc.errno))
    return clean(exc.strerror or str(exc)) or type(exc).__name__


def _oserror(exc: BaseException) -> Failure:
    assert isinstance(exc, OSError)
    number = exc.errno if isinstance(exc.errno, int) else None
    if number in _UNREACHABLE_ERRNOS:
        return Failure(Outcome.UNREACHABLE, _os_text(exc), errno=number)
    if number == errno.ETIMEDOUT:
        return Failure(Outcome.TIMEOUT, _os_text(exc), errno=number)
    if number == errno.ECONNREFUSED:
        return Failure(Outcome.REFUSED, "connection refused", errno=number)
    # EPERM/EACCES: a local firewall (e.g. an OUTPUT rule) denied the connect.
    return Failure(Outcome.ERROR, _os_text(exc), errno=number)


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
            return replace(failure, error_type=error_type)
    raise AssertionError("unreachable: BaseException matches everything")  # pragma: no cover
