"""Scheduling serves the verdict (issue 8, item 6).

Routes queue for their address's connection slot delivery port first; a TLS handshake
that stalled for the whole limit on one port is only confirmed on the address's other
ports (a short limit), so a server that stalls every handshake gets a verdict after
about one TLS timeout, not one per port (plus the small-MSS retry of the stall, issue
23: a shorter limit, once per address); and never two connections to one address at a
time (the politeness limit).
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import Callable

from hostile import Conn, RawServer

from smtpdiag.config import ProbeConfig, Timeouts
from smtpdiag.model import AddressFamily, Outcome, Phase, Route, TlsMode, TlsReason
from smtpdiag.probing import probe_routes
from smtpdiag.probing.session import CONFIRM_LIMIT, mss_retry_limit


class Log:
    """Connection start/end instants across several servers (one address)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.spans: list[tuple[str, float, float]] = []

    def handler(self, name: str, starttls: bool) -> Callable[[Conn], None]:
        def run(conn: Conn) -> None:
            start = time.monotonic()
            try:
                if starttls:
                    conn.send("220 mx.test ESMTP\r\n")
                    conn.readline()
                    conn.send("250-mx.test\r\n250 STARTTLS\r\n")
                    conn.readline()
                    conn.send("220 go ahead\r\n")
                conn.wait_closed()  # the ClientHello is never answered
            finally:
                with self.lock:
                    self.spans.append((name, start, time.monotonic()))

        return run


def by_port_retry(results: object) -> list[int]:
    """Ports of the routes that made a small-MSS retry."""
    return [r.route.port for r in results if r.mss_retry is not None]  # type: ignore[attr-defined]


def _route(port: int, mode: TlsMode) -> Route:
    return Route("mx.test", 10, 1, "127.0.0.1", AddressFamily.IPV4, port, mode)


async def test_stalled_tls_everywhere_gets_a_verdict_after_one_tls_timeout() -> None:
    log = Log()
    tls_limit = 2.0
    with (
        RawServer(log.handler("25", True)) as p25,
        RawServer(log.handler("587", True)) as p587,
        RawServer(log.handler("465", False)) as p465,
    ):
        config = ProbeConfig(
            ports=(p25.port, p587.port, p465.port),
            implicit_tls_ports=(p465.port,),
            timeouts=Timeouts(connect=1, greeting=1, command=1, tls=tls_limit, total=30),
            allow_targets=("127.0.0.0/8",),
        )
        # Given in the "wrong" order: the delivery port must still go first.
        routes = [
            _route(p465.port, TlsMode.IMPLICIT),
            _route(p587.port, TlsMode.STARTTLS),
            _route(p25.port, TlsMode.STARTTLS),
        ]
        start = time.monotonic()
        results = await probe_routes(routes, config)
        elapsed = time.monotonic() - start
        await asyncio.sleep(0.05)
    # Before: one full TLS timeout per port (3 x 2 s); now one, the small-MSS retry of
    # the stall (half of it here), plus two confirmations.
    retry = mss_retry_limit(tls_limit)
    assert elapsed < tls_limit + retry + 2 * CONFIRM_LIMIT + 1.0, elapsed
    assert by_port_retry(results) == [p25.port]
    by_port = {r.route.port: r for r in results}
    handshakes = {port: r.phase(Phase.TLS_HANDSHAKE) for port, r in by_port.items()}
    for record in handshakes.values():
        assert record is not None
        assert (record.outcome, record.tls_reason) == (Outcome.TIMEOUT, TlsReason.TIMEOUT)
    assert handshakes[p25.port].duration_ms >= tls_limit * 1000 - 50  # type: ignore[union-attr]
    for port in (p587.port, p465.port):
        record = handshakes[port]
        assert record is not None and record.duration_ms < (CONFIRM_LIMIT + 0.3) * 1000
        assert record.detail and "stalled" in record.detail
    # The delivery port went first, and never two connections at once.
    spans = sorted(log.spans, key=lambda s: s[1])
    assert [name for name, _, _ in spans[:2]] == ["25", "25"], spans  # the stall, its retry
    assert len(spans) == 4
    for (_, _, end), (_, begin, _) in itertools.pairwise(spans):
        assert begin >= end - 0.05, spans


async def test_a_slow_but_working_handshake_is_not_shortened() -> None:
    """Only a handshake that used its whole limit counts as a proven stall."""
    log = Log()
    with RawServer(log.handler("25", True)) as p25:
        config = ProbeConfig(
            ports=(p25.port,),
            timeouts=Timeouts(connect=1, greeting=1, command=1, tls=0.6, total=10),
            allow_targets=("127.0.0.0/8",),
        )
        (result,) = await probe_routes([_route(p25.port, TlsMode.STARTTLS)], config)
        await asyncio.sleep(0.05)
    record = result.phase(Phase.TLS_HANDSHAKE)
    assert record is not None and record.outcome is Outcome.TIMEOUT
    assert record.detail == "no TLS handshake within 0.6 s"
