"""The exception translation table, exception by exception."""

from __future__ import annotations

import errno
import os
import ssl

import aiosmtplib
import pytest

from smtpdiag.model import Outcome, TlsReason
from smtpdiag.probing.errors import parse_reply, translate


def _caused(exc: BaseException, cause: BaseException) -> BaseException:
    exc.__cause__ = cause
    return exc


def _ssl_error(reason: str) -> ssl.SSLError:
    err = ssl.SSLError(1, f"[SSL: {reason}] boom")
    err.reason = reason
    err.library = "SSL"
    return err


@pytest.mark.parametrize(
    ("exc", "outcome"),
    [
        (TimeoutError(), Outcome.TIMEOUT),
        (aiosmtplib.SMTPReadTimeoutError("t"), Outcome.TIMEOUT),
        (aiosmtplib.SMTPConnectTimeoutError("t"), Outcome.TIMEOUT),
        (ConnectionRefusedError(errno.ECONNREFUSED, "refused"), Outcome.REFUSED),
        (ConnectionResetError(errno.ECONNRESET, "reset"), Outcome.RESET),
        (BrokenPipeError(errno.EPIPE, "pipe"), Outcome.RESET),
        (OSError(errno.EHOSTUNREACH, "No route to host"), Outcome.UNREACHABLE),
        (OSError(errno.ENETUNREACH, "Network is unreachable"), Outcome.UNREACHABLE),
        (_ssl_error("TLSV1_ALERT_PROTOCOL_VERSION"), Outcome.TLS_FAILURE),
        (aiosmtplib.SMTPServerDisconnected("gone"), Outcome.CLOSED),
        (
            _caused(aiosmtplib.SMTPServerDisconnected("x"), ConnectionResetError()),
            Outcome.RESET,
        ),
        (
            _caused(aiosmtplib.SMTPConnectError("x"), _ssl_error("NO_SHARED_CIPHER")),
            Outcome.TLS_FAILURE,
        ),
        (aiosmtplib.SMTPResponseException(-1, "Response too long"), Outcome.ERROR),
        (ValueError("weird"), Outcome.ERROR),
        (OSError(errno.EADDRNOTAVAIL, "Cannot assign"), Outcome.ERROR),
    ],
)
def test_table(exc: BaseException, outcome: Outcome) -> None:
    failure = translate(exc)
    assert failure.outcome is outcome
    # Wrapped errors name the innermost exception that explains the outcome.
    names = {type(exc).__name__, type(exc.__cause__).__name__}
    assert failure.error_type in names


def test_ssl_reason_from_attributes() -> None:
    failure = translate(_ssl_error("NO_SHARED_CIPHER"))
    assert failure.detail == "SSL: NO_SHARED_CIPHER"


def test_cert_verification_message() -> None:
    err = ssl.SSLCertVerificationError(1, "verify failed")
    err.verify_message = "certificate has expired"
    err.reason = "CERTIFICATE_VERIFY_FAILED"
    assert translate(err).detail == "certificate has expired"
    assert translate(err).outcome is Outcome.TLS_FAILURE


def test_reply_and_enhanced_code() -> None:
    failure = translate(aiosmtplib.SMTPResponseException(421, "4.3.2 Service not available"))
    assert failure.outcome is Outcome.REPLY
    assert failure.reply is not None
    assert (failure.reply.code, failure.reply.enhanced) == (421, "4.3.2")


@pytest.mark.parametrize(
    ("text", "enhanced"),
    [
        ("5.7.1 go away", "5.7.1"),
        ("2.0.0", "2.0.0"),
        ("4.4.2x nope", None),
        ("3.1.1 wrong class", None),
        ("mx.example.org ESMTP", None),
        ("5.1234.1 too long", None),
    ],
)
def test_parse_reply(text: str, enhanced: str | None) -> None:
    assert parse_reply(550, text).enhanced == enhanced


def test_parse_reply_sanitizes_and_bounds() -> None:
    reply = parse_reply(220, "\x1b[2Jhello\nsecond\x07 line" + "x" * 5000)
    assert "\x1b" not in reply.text and "\x07" not in reply.text
    assert "\n" in reply.text
    assert len(reply.text) <= 512


def test_unreachable_detail_is_the_errno_text() -> None:
    # As asyncio's sock_connect raises it: the address in strerror, errno set.
    exc = OSError(errno.EHOSTUNREACH, "Connect call failed ('198.51.100.99', 25)")
    failure = translate(exc)
    assert failure.outcome is Outcome.UNREACHABLE
    assert failure.detail == os.strerror(errno.EHOSTUNREACH)


@pytest.mark.parametrize(
    ("reason", "tls_reason", "alert"),
    [
        ("WRONG_VERSION_NUMBER", TlsReason.NOT_TLS, None),
        ("RECORD_LAYER_FAILURE", TlsReason.NOT_TLS, None),
        ("TLSV1_ALERT_PROTOCOL_VERSION", TlsReason.PROTOCOL_VERSION, "protocol_version"),
        ("UNSUPPORTED_PROTOCOL", TlsReason.PROTOCOL_VERSION, None),
        ("NO_SHARED_CIPHER", TlsReason.CIPHER, None),
        ("SSLV3_ALERT_HANDSHAKE_FAILURE", TlsReason.CIPHER, "handshake_failure"),
        ("TLSV1_ALERT_INTERNAL_ERROR", TlsReason.ALERT, "internal_error"),
        ("TLSV13_ALERT_CERTIFICATE_REQUIRED", TlsReason.ALERT, "certificate_required"),
        ("TLSV1_UNRECOGNIZED_NAME", TlsReason.ALERT, "unrecognized_name"),
        ("SOMETHING_NEW", TlsReason.OTHER, None),
    ],
)
def test_ssl_reason_is_typed(reason: str, tls_reason: TlsReason, alert: str | None) -> None:
    failure = translate(_ssl_error(reason))
    assert failure.outcome is Outcome.TLS_FAILURE
    assert (failure.tls_reason, failure.tls_alert) == (tls_reason, alert)


@pytest.mark.parametrize("code", [0, 999, -12, 22, 600, 99])
def test_reply_exception_with_a_code_outside_100_599_is_an_error(code: int) -> None:
    failure = translate(aiosmtplib.SMTPResponseException(code, "x"))
    assert failure.outcome is Outcome.ERROR and failure.reply is None


def test_socket_errors_keep_their_errno() -> None:
    assert translate(ConnectionRefusedError(errno.ECONNREFUSED, "x")).errno == errno.ECONNREFUSED
    assert translate(OSError(errno.EHOSTUNREACH, "x")).errno == errno.EHOSTUNREACH
    assert translate(OSError(errno.EPERM, "x")).errno == errno.EPERM
    # asyncio's "Connection lost" during a TLS handshake (no errno) is the peer closing.
    assert translate(ConnectionResetError("Connection lost")).outcome is Outcome.CLOSED
