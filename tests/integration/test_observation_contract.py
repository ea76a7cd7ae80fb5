"""The adapter contract: real exceptions from real sockets become typed observations.

Each server below fails in one real way (a plaintext server on an implicit-TLS port,
a TLS alert, a reset, a TLS 1.0-only server, no cipher in common, hostile reply
codes); the probe's phase records must carry what the adapter knew as values
(``errno``, ``tls_reason``, ``tls_alert``), and a handshake failure must never be
recorded as a certificate verdict (``TlsInfo.verify_error``).
"""

from __future__ import annotations

import asyncio
import errno
import socket
import ssl
import warnings
from collections.abc import Callable, Iterator
from dataclasses import replace

import jsonschema  # type: ignore[import-untyped,unused-ignore]
import pytest
from hostile import Conn, RawServer

from smtpdiag import diagnose
from smtpdiag.config import ProbeConfig, Timeouts
from smtpdiag.model import (
    AddressFamily,
    DnsOutcome,
    DnsQuery,
    MxHost,
    MxTargetKind,
    Outcome,
    Phase,
    ProbeReport,
    Resolution,
    ResolutionKind,
    Route,
    RouteResult,
    TlsMode,
    TlsReason,
)
from smtpdiag.probing import probe_route
from smtpdiag.report.jsonout import load_schema, report_to_dict
from smtpdiag.testing.certs import TestPki
from smtpdiag.testing.smtpserver import closed_port

MX = "mx.test"
VALIDATOR = jsonschema.Draft202012Validator(load_schema())


@pytest.fixture(scope="module")
def pki() -> Iterator[TestPki]:
    made = TestPki()
    yield made
    made.cleanup()


def _route(port: int, tls_mode: TlsMode) -> Route:
    return Route(MX, 10, 1, "127.0.0.1", AddressFamily.IPV4, port, tls_mode)


def _server_context(pki: TestPki, kind: str) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    files = pki.files["good"]
    ctx.load_cert_chain(str(files.chain), str(files.key))
    if kind == "tls1.0":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx.minimum_version = ssl.TLSVersion.TLSv1
            ctx.maximum_version = ssl.TLSVersion.TLSv1
        ctx.set_ciphers("ALL:@SECLEVEL=0")
    elif kind == "no-cipher":
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        ctx.set_ciphers("aNULL:@SECLEVEL=0")
    elif kind == "alert":

        def refuse(_sock: object, _name: object, _ctx: object) -> int:
            return ssl.ALERT_DESCRIPTION_INTERNAL_ERROR

        ctx.sni_callback = refuse
    return ctx


def _tls_handler(pki: TestPki, kind: str, starttls: bool) -> Callable[[Conn], None]:
    def handler(conn: Conn) -> None:
        if starttls:
            conn.send("220 mx.test ESMTP\r\n")
            conn.readline()
            conn.send("250-mx.test\r\n250 STARTTLS\r\n")
            conn.readline()
            conn.send("220 go ahead\r\n")
        if kind == "plaintext":
            conn.send("220 mx.test ESMTP plain\r\n")
            conn.wait_closed()
        elif kind == "reset":
            conn.sock.recv(4096)
            conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
            conn.sock.close()
        elif kind == "closed":
            conn.sock.recv(4096)
            conn.sock.shutdown(socket.SHUT_WR)
            conn.wait_closed()
        else:
            conn.start_tls(_server_context(pki, kind))

    return handler


async def _probe(route: Route, **timeouts: float) -> RouteResult:
    limits = dict(connect=1.0, greeting=1.0, command=1.0, tls=1.0, total=5.0) | timeouts
    config = ProbeConfig(timeouts=Timeouts(**limits), allow_targets=("127.0.0.0/8",))
    result = await probe_route(route, config)
    # Let the loop run the transport's close (abort is scheduled), so the server
    # thread sees the client go instead of waiting for its own socket timeout.
    await asyncio.sleep(0.01)
    return result


HANDSHAKE_CASES = [
    # kind, outcome, tls_reason, tls_alert
    ("plaintext", Outcome.TLS_FAILURE, TlsReason.NOT_TLS, None),
    ("alert", Outcome.TLS_FAILURE, TlsReason.ALERT, "internal_error"),
    ("tls1.0", Outcome.TLS_FAILURE, TlsReason.PROTOCOL_VERSION, "protocol_version"),
    ("no-cipher", Outcome.TLS_FAILURE, TlsReason.CIPHER, "handshake_failure"),
    ("reset", Outcome.RESET, TlsReason.RESET, None),
    ("closed", Outcome.CLOSED, TlsReason.CLOSED, None),
]


# The plaintext case only on 465: after a STARTTLS 220 it would be the same bytes.
_PARAMS = [
    pytest.param(*case, starttls, id=f"{case[0]}-{'starttls' if starttls else 'implicit'}")
    for case in HANDSHAKE_CASES
    for starttls in (False, True)
    if not (starttls and case[0] == "plaintext")
]


@pytest.mark.parametrize(("kind", "outcome", "reason", "alert", "starttls"), _PARAMS)
async def test_handshake_failures_are_typed(
    pki: TestPki,
    kind: str,
    outcome: Outcome,
    reason: TlsReason,
    alert: str | None,
    starttls: bool,
) -> None:
    mode = TlsMode.STARTTLS if starttls else TlsMode.IMPLICIT
    with RawServer(_tls_handler(pki, kind, starttls)) as server:
        result = await _probe(_route(server.port, mode))
    handshake = result.phase(Phase.TLS_HANDSHAKE)
    assert handshake is not None, result.phases
    assert (handshake.outcome, handshake.tls_reason, handshake.tls_alert) == (
        outcome,
        reason,
        alert,
    ), handshake
    assert handshake.detail  # for people, still there
    if reason is TlsReason.RESET:
        assert handshake.errno == errno.ECONNRESET
    # Issue 8: a handshake failure is never a certificate verdict.
    assert result.tls is not None
    assert result.tls.verify_error is None and result.tls.verify_reason is None
    assert not result.ok


async def test_handshake_timeout_is_typed() -> None:
    def silent(conn: Conn) -> None:
        conn.wait_closed()

    with RawServer(silent) as server:
        result = await _probe(_route(server.port, TlsMode.IMPLICIT), tls=0.3)
    handshake = result.phase(Phase.TLS_HANDSHAKE)
    assert handshake is not None
    assert (handshake.outcome, handshake.tls_reason) == (Outcome.TIMEOUT, TlsReason.TIMEOUT)
    assert result.tls is not None and result.tls.verify_error is None


async def test_refused_connect_records_errno() -> None:
    result = await _probe(_route(closed_port(), TlsMode.STARTTLS))
    connect = result.phase(Phase.CONNECT)
    assert connect is not None
    assert (connect.outcome, connect.errno) == (Outcome.REFUSED, errno.ECONNREFUSED)
    assert connect.tls_reason is None


async def test_reset_after_ehlo_is_not_a_tls_reason() -> None:
    def reset_after_ehlo(conn: Conn) -> None:
        conn.send("220 mx.test ESMTP\r\n")
        conn.readline()
        conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
        conn.sock.close()

    with RawServer(reset_after_ehlo) as server:
        result = await _probe(_route(server.port, TlsMode.STARTTLS))
    failure = result.failure
    assert failure is not None and failure.phase is Phase.EHLO
    assert failure.outcome in (Outcome.RESET, Outcome.CLOSED)
    assert failure.tls_reason is None and failure.tls_alert is None


# --------------------------------------------------------------- reply codes

HOSTILE_CODES = ["000", "999", "-12", "2_2", "600", "099"]


def _report(results: tuple[RouteResult, ...]) -> ProbeReport:
    query = DnsQuery("hostile.test", "MX", DnsOutcome.OK, ("10 mx.test",), "127.0.0.1")
    host = MxHost(MX, 10, MxTargetKind.HOSTNAME, ("127.0.0.1",))
    resolution = Resolution("hostile.test", ResolutionKind.MX, query, (host,), (query,))
    report = ProbeReport(
        "hostile.test", resolution, results, "2026-01-01T00:00:00Z", 1.0, (25,), ()
    )
    return replace(report, diagnosis=diagnose(report))


@pytest.mark.parametrize("code", HOSTILE_CODES)
@pytest.mark.parametrize("where", ["greeting", "ehlo"])
async def test_reply_codes_outside_100_599_are_not_codes(code: str, where: str) -> None:
    """RFC 5321 4.2: a reply code is 2xx-5xx (1xx unused); anything else is a protocol
    error, never a recorded reply, and the JSON report still matches its schema."""

    def handler(conn: Conn) -> None:
        if where == "greeting":
            conn.send(f"{code} mx.test hello\r\n")
        else:
            conn.send("220 mx.test ESMTP\r\n")
            conn.readline()
            conn.send(f"{code}-mx.test\r\n{code} STARTTLS\r\n")
        conn.wait_closed()

    with RawServer(handler) as server:
        result = await _probe(_route(server.port, TlsMode.STARTTLS))
    failure = result.failure
    assert failure is not None
    assert failure.phase is (Phase.GREETING if where == "greeting" else Phase.EHLO)
    assert failure.outcome is Outcome.ERROR and failure.reply is None, failure
    assert failure.detail
    document = report_to_dict(_report((result,)))
    VALIDATOR.validate(document)


async def test_starttls_after_many_keywords_is_seen(pki: TestPki) -> None:
    """The keyword list is bounded, but STARTTLS listed 100th is still offered."""

    def handler(conn: Conn) -> None:
        conn.send("220 mx.test ESMTP\r\n")
        conn.readline()
        lines = [f"250-X-FILLER-{i}\r\n" for i in range(100)]
        conn.send("250-mx.test\r\n" + "".join(lines) + "250 STARTTLS\r\n")
        conn.readline()
        conn.send("220 go ahead\r\n")
        conn.start_tls(_server_context(pki, "good"))
        conn.readline()
        conn.send("250-mx.test\r\n250 SIZE 1000\r\n")
        conn.readline()
        conn.send("221 bye\r\n")

    with RawServer(handler) as server:
        result = await _probe(_route(server.port, TlsMode.STARTTLS))
    assert result.starttls_offered is True
    assert result.phase(Phase.TLS_HANDSHAKE) is not None
    ehlo = [p for p in result.phases if p.phase is Phase.EHLO]
    assert ehlo and ehlo[0].ok
