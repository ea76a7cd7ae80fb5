"""Hostile and slow SMTP peers: every probe ends in time, memory stays bounded,
remote text is sanitized, and the probe never sends MAIL, RCPT or DATA.

The peers are raw servers (:mod:`hostile`) on loopback threads; memory is measured
on the client side with ``tracemalloc`` while the peer streams tens of megabytes.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest
from conftest import HAS_IPV6
from hostile import Conn, RawServer, stream
from probe_helpers import assert_plausible, phases

from smtpdiag.api import probe as api_probe
from smtpdiag.certmatch import load_trust_store
from smtpdiag.config import ProbeConfig, ResolverConfig, Timeouts
from smtpdiag.model import (
    AddressFamily,
    Outcome,
    Phase,
    ResolutionKind,
    Route,
    RouteResult,
    SkipReason,
    TlsMode,
)
from smtpdiag.probing import probe_route, probe_routes
from smtpdiag.probing.runner import MAX_CONCURRENCY
from smtpdiag.probing.session import MAX_LINE_BYTES, MAX_REPLY_BYTES
from smtpdiag.testing.smtpserver import ServerSet

OK = Outcome.OK
STREAM_BYTES = 50 * 1024 * 1024
#: Client-side peak allocation allowed while a peer streams 50 MB at it.
PEAK_LIMIT = 4 * 1024 * 1024
FORBIDDEN = {"MAIL", "RCPT", "DATA", "BDAT", "VRFY", "EXPN"}


def _route(server: RawServer, tls_mode: TlsMode = TlsMode.STARTTLS) -> Route:
    return Route("mx.test", 10, 1, server.host, AddressFamily.IPV4, server.port, tls_mode)


@pytest.fixture
def serve() -> Iterator[Callable[[Callable[[Conn], None]], RawServer]]:
    started: list[RawServer] = []

    def start(handler: Callable[[Conn], None]) -> RawServer:
        server = RawServer(handler).__enter__()
        started.append(server)
        return server

    yield start
    for server in started:
        server.__exit__()
        assert not FORBIDDEN & set(server.verbs()), server.lines


@pytest.fixture
def tls_server_context(smtp_servers: ServerSet) -> ssl.SSLContext:
    return smtp_servers.pki.server_context("good")


async def _measured(route: Route, config: ProbeConfig) -> tuple[RouteResult, float, int]:
    """Probe ``route``; return the result, the wall time and the traced peak bytes."""
    load_trust_store(config.tls.ca_file)  # parsed once per process: not what is measured
    tracemalloc.start()
    try:
        start = time.monotonic()
        result = await probe_route(route, config)
        elapsed = time.monotonic() - start
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, elapsed, peak


# ------------------------------------------------------------ endless replies

_CONTINUATION = b"250-" + b"x" * 70 + b"\r\n"
_CHUNK = _CONTINUATION * 900  # ~64 KiB, allocated once


def _endless_greeting(conn: Conn) -> None:
    conn.server.sent = stream(conn, _CHUNK, STREAM_BYTES)


def _endless_ehlo(conn: Conn) -> None:
    conn.send("220 mx.test ESMTP\r\n")
    if conn.readline():
        conn.server.sent = stream(conn, _CHUNK, STREAM_BYTES)


def _endless_line(conn: Conn) -> None:
    conn.server.sent = stream(conn, b"220 " + b"z" * 65532, STREAM_BYTES)


@pytest.mark.parametrize(
    ("handler", "phase"),
    [
        (_endless_greeting, Phase.GREETING),
        (_endless_ehlo, Phase.EHLO),
        (_endless_line, Phase.GREETING),
    ],
    ids=["multiline-greeting", "multiline-ehlo", "line-without-crlf"],
)
async def test_endless_reply_is_bounded(
    serve: Callable[[Callable[[Conn], None]], RawServer],
    probe_config: Callable[..., ProbeConfig],
    handler: Callable[[Conn], None],
    phase: Phase,
) -> None:
    server = serve(handler)
    config = probe_config(greeting=1.0, command=1.0)
    result, elapsed, peak = await _measured(_route(server), config)
    assert elapsed < 1.5
    assert peak < PEAK_LIMIT, f"peak {peak / 1e6:.1f} MB"
    assert phases(result)[-1] == (phase, Outcome.ERROR)
    record = result.phase(phase)
    assert record is not None
    assert record.detail == f"reply longer than {MAX_REPLY_BYTES // 1024} KiB"
    assert_plausible(result)


async def test_endless_reply_over_implicit_tls_is_bounded(
    serve: Callable[[Callable[[Conn], None]], RawServer],
    probe_config: Callable[..., ProbeConfig],
    tls_server_context: ssl.SSLContext,
) -> None:
    """The same flood inside TLS (465): the cap applies to the decrypted stream."""

    def handler(conn: Conn) -> None:
        conn.start_tls(tls_server_context)
        conn.server.sent = stream(conn, _CHUNK, STREAM_BYTES)

    server = serve(handler)
    result, elapsed, peak = await _measured(_route(server, TlsMode.IMPLICIT), probe_config())
    assert elapsed < 1.5
    assert peak < PEAK_LIMIT, f"peak {peak / 1e6:.1f} MB"
    assert phases(result) == [
        (Phase.CONNECT, OK),
        (Phase.TLS_HANDSHAKE, OK),
        (Phase.GREETING, Outcome.ERROR),
    ]
    assert result.phases[-1].detail == f"reply longer than {MAX_REPLY_BYTES // 1024} KiB"


async def test_long_line_in_small_pieces(
    serve: Callable[[Callable[[Conn], None]], RawServer],
    probe_config: Callable[..., ProbeConfig],
) -> None:
    """A 9 KB line trickled in 500-byte pieces: the line limit, not the reply limit."""

    def handler(conn: Conn) -> None:
        conn.send("220-mx.test first line\r\n")
        for _ in range(18):
            conn.send(b"220-" + b"y" * 496)
            time.sleep(0.005)
        conn.wait_closed()

    server = serve(handler)
    result = await probe_route(_route(server), probe_config())
    assert phases(result) == [(Phase.CONNECT, OK), (Phase.GREETING, Outcome.ERROR)]
    assert result.phases[-1].detail == f"reply line longer than {MAX_LINE_BYTES // 1024} KiB"


# ------------------------------------------------------------------------ TLS


async def test_tls_handshake_then_silence(
    serve: Callable[[Callable[[Conn], None]], RawServer],
    probe_config: Callable[..., ProbeConfig],
    tls_server_context: ssl.SSLContext,
) -> None:
    """Implicit TLS completes, then no greeting: a greeting timeout, TLS facts kept."""

    def handler(conn: Conn) -> None:
        conn.start_tls(tls_server_context)
        conn.wait_closed()

    server = serve(handler)
    start = time.monotonic()
    result = await probe_route(_route(server, TlsMode.IMPLICIT), probe_config(greeting=0.5))
    assert time.monotonic() - start < 1.0
    assert phases(result) == [
        (Phase.CONNECT, OK),
        (Phase.TLS_HANDSHAKE, OK),
        (Phase.GREETING, Outcome.TIMEOUT),
    ]
    assert result.tls is not None and result.tls.version is not None
    assert result.tls.verified
    assert server.quits == 0  # out of step after a timeout: closed, no QUIT


def _garbage_after_hello(conn: Conn) -> None:
    conn.sock.recv(4096)  # the ClientHello
    conn.send(b"\x00\xffNOT TLS AT ALL\r\n" * 64)
    conn.wait_closed()


async def test_client_hello_answered_with_garbage_implicit(
    serve: Callable[[Callable[[Conn], None]], RawServer],
    probe_config: Callable[..., ProbeConfig],
) -> None:
    server = serve(_garbage_after_hello)
    result = await probe_route(_route(server, TlsMode.IMPLICIT), probe_config())
    assert phases(result) == [(Phase.CONNECT, OK), (Phase.TLS_HANDSHAKE, Outcome.TLS_FAILURE)]
    record = result.phase(Phase.TLS_HANDSHAKE)
    assert record is not None and record.detail
    assert "\x00" not in record.detail
    assert result.tls is not None and not result.tls.verified
    assert_plausible(result)


async def test_client_hello_answered_with_garbage_starttls(
    serve: Callable[[Callable[[Conn], None]], RawServer],
    probe_config: Callable[..., ProbeConfig],
) -> None:
    def handler(conn: Conn) -> None:
        conn.send("220 mx.test ESMTP\r\n")
        conn.readline()
        conn.send("250-mx.test\r\n250 STARTTLS\r\n")
        conn.readline()
        conn.send("220 go ahead\r\n")
        _garbage_after_hello(conn)

    server = serve(handler)
    result = await probe_route(_route(server), probe_config())
    assert phases(result)[-2:] == [(Phase.STARTTLS, OK), (Phase.TLS_HANDSHAKE, Outcome.TLS_FAILURE)]
    assert server.verbs() == ["EHLO", "STARTTLS"]


async def test_tls_then_5xx_greeting(
    serve: Callable[[Callable[[Conn], None]], RawServer],
    probe_config: Callable[..., ProbeConfig],
    tls_server_context: ssl.SSLContext,
) -> None:
    """Implicit TLS, then 554: recorded as the server's reply, and QUIT is polite."""

    def handler(conn: Conn) -> None:
        conn.start_tls(tls_server_context)
        conn.send("554 5.7.1 \x1b[2Jgo away\r\n")
        if conn.readline().upper().startswith(b"QUIT"):
            conn.send("221 bye\r\n")

    server = serve(handler)
    result = await probe_route(_route(server, TlsMode.IMPLICIT), probe_config())
    assert phases(result) == [
        (Phase.CONNECT, OK),
        (Phase.TLS_HANDSHAKE, OK),
        (Phase.GREETING, Outcome.REPLY),
        (Phase.QUIT, OK),
    ]
    greeting = result.phase(Phase.GREETING)
    assert greeting is not None and greeting.reply is not None
    assert greeting.reply.code == 554 and greeting.reply.enhanced == "5.7.1"
    assert "\x1b" not in greeting.reply.text
    assert server.verbs() == ["QUIT"]


async def test_starttls_then_5xx_to_ehlo(
    serve: Callable[[Callable[[Conn], None]], RawServer],
    probe_config: Callable[..., ProbeConfig],
    tls_server_context: ssl.SSLContext,
) -> None:
    def handler(conn: Conn) -> None:
        conn.send("220 mx.test ESMTP\r\n")
        conn.readline()
        conn.send("250-mx.test\r\n250 STARTTLS\r\n")
        conn.readline()
        conn.send("220 go ahead\r\n")
        conn.start_tls(tls_server_context)
        conn._buffer = b""
        conn.readline()
        conn.send("554 5.7.0 not after all\r\n")
        if conn.readline().upper().startswith(b"QUIT"):
            conn.send("221 bye\r\n")

    server = serve(handler)
    result = await probe_route(_route(server), probe_config())
    assert phases(result)[-3:] == [
        (Phase.TLS_HANDSHAKE, OK),
        (Phase.EHLO_TLS, Outcome.REPLY),
        (Phase.QUIT, OK),
    ]
    assert not result.ok
    assert server.verbs() == ["EHLO", "STARTTLS", "EHLO", "QUIT"]


# ------------------------------------------------------------- odd content


def _ehlo_with(extensions: int) -> Callable[[Conn], None]:
    body = b"".join(b"250-X%d\r\n" % i for i in range(extensions))

    def handler(conn: Conn) -> None:
        conn.send("220 mx.test ESMTP\r\n")
        conn.readline()
        conn.send(b"250-mx.test\r\n" + body + b"250 SMTPUTF8\r\n")
        if conn.readline().upper().startswith(b"QUIT"):
            conn.send("221 bye\r\n")
        conn.wait_closed()

    return handler


async def test_ten_thousand_extensions(
    serve: Callable[[Callable[[Conn], None]], RawServer],
    probe_config: Callable[..., ProbeConfig],
) -> None:
    """10,000 extension lines (~90 KB) exceed the reply cap: an error, bounded."""
    server = serve(_ehlo_with(10_000))
    result, elapsed, peak = await _measured(_route(server), probe_config())
    assert elapsed < 1.0 and peak < PEAK_LIMIT
    assert phases(result) == [
        (Phase.CONNECT, OK),
        (Phase.GREETING, OK),
        (Phase.EHLO, Outcome.ERROR),
    ]
    assert server.quits == 0


async def test_many_extensions_under_the_cap_are_capped(
    serve: Callable[[Callable[[Conn], None]], RawServer],
    probe_config: Callable[..., ProbeConfig],
) -> None:
    """2,000 extensions fit under the reply cap: kept, but at most 64 of them."""
    server = serve(_ehlo_with(2_000))
    result = await probe_route(_route(server), probe_config())
    assert result.ok
    assert len(result.extensions) == 64
    assert result.starttls_offered is False
    assert server.verbs() == ["EHLO", "QUIT"]


async def test_binary_banner_is_sanitized(
    serve: Callable[[Callable[[Conn], None]], RawServer],
    probe_config: Callable[..., ProbeConfig],
) -> None:
    def handler(conn: Conn) -> None:
        conn.send(b"220 mx.test \x00\xff\xfe\x80\x1b[31m\x9b2J\xe2\x80\xae evil\x07\r\n")
        conn.readline()
        conn.send(b"250-mx.test \x00hi\r\n250 8BIT\xffMIME\r\n")
        if conn.readline().upper().startswith(b"QUIT"):
            conn.send("221 bye\r\n")

    server = serve(handler)
    result = await probe_route(_route(server), probe_config())
    assert result.ok
    texts = [result.banner or "", *result.extensions]
    texts += [p.reply.text for p in result.phases if p.reply is not None]
    assert result.banner == "mx.test 2J evil"  # escapes and controls gone
    for text in texts:
        assert all(c == "\n" or c.isprintable() for c in text), repr(text)
    assert server.quits == 1


async def test_no_mail_commands_with_any_scripted_behaviour(
    smtp_servers: ServerSet,
    route_to: Callable[..., Route],
    probe_config: Callable[..., ProbeConfig],
) -> None:
    """Server-side: over every scripted behaviour, the probe never says MAIL/RCPT/DATA,
    and its last word in every session that succeeded is QUIT."""
    names = [spec.name for spec in smtp_servers.specs]
    for name in names:
        smtp_servers.server(name).reset_stats()
    config = probe_config(greeting=0.4, command=0.4, tls=0.4, total=3.0)
    results = await asyncio.gather(*(probe_route(route_to(name), config) for name in names))
    assert any(r.ok for r in results) and not all(r.ok for r in results)
    for name, result in zip(names, results, strict=True):
        sessions = list(smtp_servers.server(name).sessions)
        for verbs in sessions:
            assert not FORBIDDEN & set(verbs), (name, verbs)
        if result.ok:
            assert len(sessions) == 1 and sessions[0][-1] == "QUIT", (name, sessions)
            quit_record = result.phase(Phase.QUIT)
            assert quit_record is not None and quit_record.outcome is OK


# ------------------------------------------------------- concurrency limits


class _Gauge:
    """Server-side record of when each connection was open, over many servers.

    The peak counts connections open at the same moment, with each one's end moved
    ``_SETTLE`` earlier: a server thread notices a client's close a few milliseconds
    late (thread scheduling), while a real breach of a limit overlaps for a whole
    phase timeout (hundreds of milliseconds).
    """

    _SETTLE = 0.05

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.spans: list[tuple[float, float]] = []

    def hold(self, conn: Conn) -> None:
        start = time.monotonic()
        try:
            conn.wait_closed()
        finally:
            with self.lock:
                self.spans.append((start, time.monotonic()))

    @property
    def peak(self) -> int:
        with self.lock:
            events = [(a, 1) for a, _ in self.spans]
            events += [(max(a, b - self._SETTLE), -1) for a, b in self.spans]
        level = best = 0
        for _, step in sorted(events):
            level += step
            best = max(best, level)
        return best


@pytest.mark.parametrize("limit", [1, 2])
async def test_per_address_limit_holds_server_side(
    limit: int, probe_config: Callable[..., ProbeConfig]
) -> None:
    """Five routes to one address (five MX names): never more than ``limit`` open."""
    gauge = _Gauge()
    with RawServer(gauge.hold) as server:
        routes = [
            Route(
                f"mx{i}.test", 10, 1, server.host, AddressFamily.IPV4, server.port, TlsMode.STARTTLS
            )
            for i in range(5)
        ]
        config = probe_config(greeting=0.3, per_address_limit=limit, total=5.0)
        start = time.monotonic()
        results = await probe_routes(routes, config)
        elapsed = time.monotonic() - start
    assert server.connections == 5
    assert gauge.peak == limit
    assert all(r.phase(Phase.GREETING).outcome is Outcome.TIMEOUT for r in results)  # type: ignore[union-attr]
    waves = -(-5 // limit)
    assert 0.3 * waves - 0.05 <= elapsed < 0.3 * waves + 0.6


@pytest.mark.skipif(not HAS_IPV6, reason="no IPv6 on this host")
async def test_per_address_limit_sees_through_ipv4_mapped_addresses(
    probe_config: Callable[..., ProbeConfig],
) -> None:
    """AAAA ::ffff:127.0.0.1 is the host behind A 127.0.0.1: one limit for both."""
    gauge = _Gauge()
    with RawServer(gauge.hold) as server:
        v4 = Route("a.test", 10, 1, "127.0.0.1", AddressFamily.IPV4, server.port, TlsMode.STARTTLS)
        mapped = replace(v4, mx="b.test", address="::ffff:127.0.0.1", family=AddressFamily.IPV6)
        results = await probe_routes([v4, mapped], probe_config(greeting=0.3))
    assert server.connections == 2
    assert [r.phases[-1].outcome for r in results] == [Outcome.TIMEOUT] * 2
    assert gauge.peak == 1


async def test_global_connection_cap(probe_config: Callable[..., ProbeConfig]) -> None:
    """40 silent servers on 40 loopback addresses: at most MAX_CONCURRENCY at once."""
    gauge = _Gauge()
    servers = [RawServer(gauge.hold, host=f"127.0.0.{i}").__enter__() for i in range(2, 42)]
    try:
        routes = [_route(server) for server in servers]
        start = time.monotonic()
        results = await probe_routes(routes, probe_config(greeting=0.4, total=5.0))
        elapsed = time.monotonic() - start
    finally:
        for server in servers:
            server.__exit__()
    assert gauge.peak == MAX_CONCURRENCY == 32
    assert sum(server.connections for server in servers) == 40
    assert all(r.phase(Phase.GREETING).outcome is Outcome.TIMEOUT for r in results)  # type: ignore[union-attr]
    assert 0.8 <= elapsed < 2.0  # two waves of 0.4 s


async def test_no_task_left_behind(
    serve: Callable[[Callable[[Conn], None]], RawServer],
    route_to: Callable[..., Route],
    probe_config: Callable[..., ProbeConfig],
) -> None:
    """After probe_routes returns, nothing of it is still running on the loop."""
    server = serve(_endless_ehlo)
    routes = [_route(server), route_to("healthy"), route_to("silent"), route_to("port465")]
    routes += [route_to("reset-in-tls"), route_to("implicit-silent")]
    before = asyncio.all_tasks()
    results = await probe_routes(routes, probe_config(greeting=0.3, tls=0.3, command=0.3))
    assert len(results) == len(routes)
    await asyncio.sleep(0)  # let callbacks scheduled by transports' abort() run
    assert asyncio.all_tasks() == before


# --------------------------------------------------------- overall deadline


async def test_api_probe_slow_dns_then_silent_servers(
    dns_server: Any, probe_config: Callable[..., ProbeConfig]
) -> None:
    """The MX answer comes at 0.9 x total and names 10 hosts whose servers never speak:
    smtpdiag.api.probe still returns by total + 1 s, with every route's timeout recorded."""
    gauge = _Gauge()
    first = RawServer(gauge.hold, host="127.0.0.2").__enter__()
    servers = [first]
    try:
        servers += [
            RawServer(gauge.hold, host=f"127.0.0.{i}", port=first.port).__enter__()
            for i in range(3, 12)
        ]
        zone = {"@": [f"MX {10 * i} mx{i}" for i in range(10)]}
        zone.update({f"mx{i}": f"A 127.0.0.{i + 2}" for i in range(10)})
        total = 2.0
        dns = await dns_server({"slow.test": zone}, {"slow.test/MX": f"delay:{0.9 * total}"})
        config = replace(
            probe_config(total=total, greeting=30.0, connect=30.0),
            ports=(first.port,),
            families=(AddressFamily.IPV4,),
            resolver=ResolverConfig(nameservers=(dns.nameserver,)),
            timeouts=Timeouts(dns=total, connect=30.0, greeting=30.0, total=total),
        )
        start = time.monotonic()
        report = await api_probe("slow.test", config)
        elapsed = time.monotonic() - start
    finally:
        for server in servers:
            server.__exit__()
    assert elapsed < total + 1.0
    assert report.resolution.kind is ResolutionKind.MX
    assert len(report.routes) == 10
    attempted = 0
    for route in report.routes:
        assert not route.ok
        last = route.phases[-1]
        if last.outcome is Outcome.NOT_ATTEMPTED:
            # Its turn came with (almost) no time left: never tried, never a timeout.
            assert last.skip_reason is SkipReason.DEADLINE
        else:
            attempted += 1
            assert last.outcome is Outcome.TIMEOUT
        assert "overall deadline" in (last.detail or "")
    assert sum(server.connections for server in servers) == attempted
    assert report.diagnosis is not None


async def test_internal_error_between_phases_is_recorded(
    route_to: Callable[..., Route],
    probe_config: Callable[..., ProbeConfig],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A bug in the code that digests a phase's result (here: EHLO parsing, made to
    fail on purpose; no server can trigger it today) is a recorded error, never a
    silent ``ok=False`` with no failing phase."""
    from smtpdiag.probing import session

    def broken(_: str) -> tuple[str, ...]:
        raise RuntimeError("\x1b[31mboom")

    monkeypatch.setattr(session, "_extensions", broken)
    result = await probe_route(route_to("healthy"), probe_config())
    assert not result.ok
    failure = result.failure
    assert failure is not None
    assert (failure.phase, failure.outcome) == (Phase.EHLO, Outcome.ERROR)
    assert failure.detail == "internal error: boom"
    assert failure.error_type == "RuntimeError"
