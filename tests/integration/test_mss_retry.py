"""The small-MSS retry of a stalled TLS handshake (issue 23, MTU black hole), on real
sockets: the retry really sets ``TCP_MAXSEG`` before connecting, and the scripted
server (:attr:`Behaviour.MTU_BLACK_HOLE`) reads the segment size the connection
negotiated, stalling the handshake for a large one as a path that drops large packets
would. The kernel-made black hole (a router, a small MTU, ICMP dropped) is in
``tests/lab/test_mtu_lab.py``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from conftest import HAS_IPV6

from smtpdiag.config import ProbeConfig, Timeouts, TlsConfig
from smtpdiag.model import (
    AddressFamily,
    MssRetryResult,
    Outcome,
    Phase,
    Route,
    TlsMode,
    TlsReason,
)
from smtpdiag.probing import probe_route, probe_routes
from smtpdiag.probing.session import SMALL_MSS, mss_retry_limit
from smtpdiag.testing.smtpserver import Behaviour, ServerSet, ServerSpec


def _handshake_stalled(result_phase: object) -> None:
    assert result_phase is not None
    assert getattr(result_phase, "outcome", None) is Outcome.TIMEOUT
    assert getattr(result_phase, "tls_reason", None) is TlsReason.TIMEOUT


async def test_a_black_hole_handshake_completes_with_a_small_mss(
    route_to: Callable[..., Route], probe_config: Callable[..., ProbeConfig]
) -> None:
    route = route_to(Behaviour.MTU_BLACK_HOLE.value)
    start = time.monotonic()
    result = await probe_route(route, probe_config(tls=1.0, total=10.0))
    elapsed = time.monotonic() - start
    assert not result.ok  # a normal sender still stalls: the route fails
    failure = result.failure
    assert failure is not None and failure.phase is Phase.TLS_HANDSHAKE
    _handshake_stalled(failure)
    retry = result.mss_retry
    assert retry is not None
    assert retry.mss == SMALL_MSS[AddressFamily.IPV4] == 536
    assert retry.result is MssRetryResult.COMPLETED
    assert retry.limit_s == mss_retry_limit(1.0) == 0.5
    assert [(p.phase, p.outcome) for p in retry.phases] == [
        (Phase.CONNECT, Outcome.OK),
        (Phase.GREETING, Outcome.OK),
        (Phase.EHLO, Outcome.OK),
        (Phase.STARTTLS, Outcome.OK),
        (Phase.TLS_HANDSHAKE, Outcome.OK),
    ]
    assert retry.handshake_ms is not None and retry.handshake_ms < 500
    assert retry.chain_bytes is not None and retry.chain_bytes > 300  # a real certificate
    # After the stall, in the same route probe, and it costs far less than a TLS timeout.
    assert retry.start_ms >= failure.start_ms + failure.duration_ms
    assert retry.duration_ms < 500
    assert result.total_ms >= retry.start_ms + retry.duration_ms - 0.01
    assert elapsed < 1.0 + 0.6, elapsed


async def test_a_handshake_that_stalls_whatever_the_mss_is_recorded_as_stalled(
    route_to: Callable[..., Route], probe_config: Callable[..., ProbeConfig]
) -> None:
    result = await probe_route(route_to(Behaviour.STALL_TLS.value), probe_config(tls=1.0))
    retry = result.mss_retry
    assert retry is not None and retry.result is MssRetryResult.STALLED
    assert retry.handshake_ms is not None and 450 <= retry.handshake_ms < 800
    assert retry.chain_bytes is None


async def test_no_retry_without_room_before_the_deadline(
    route_to: Callable[..., Route], probe_config: Callable[..., ProbeConfig]
) -> None:
    # The stall ends at 1 s; the retry would need 0.5 s + 1 s of the 1.8 s total.
    result = await probe_route(
        route_to(Behaviour.MTU_BLACK_HOLE.value), probe_config(tls=1.0, total=1.8)
    )
    _handshake_stalled(result.failure)
    assert result.mss_retry is None


async def test_no_retry_for_other_failures(
    route_to: Callable[..., Route], probe_config: Callable[..., ProbeConfig]
) -> None:
    for name in ("reset-in-tls", "starttls-454", "healthy", "silent"):
        result = await probe_route(route_to(name), probe_config())
        assert result.mss_retry is None, name


@pytest.mark.skipif(not HAS_IPV6, reason="no IPv6 loopback")
async def test_ipv6_uses_1220() -> None:
    with ServerSet([ServerSpec("v6", Behaviour.MTU_BLACK_HOLE, host="::1")]) as servers:
        route = Route(
            "mx.test", 10, 1, "::1", AddressFamily.IPV6, servers.port("v6"), TlsMode.STARTTLS
        )
        config = ProbeConfig(
            timeouts=Timeouts(connect=1, greeting=1, command=1, tls=1.0, total=10),
            tls=TlsConfig(ca_file=servers.ca_file),
            allow_targets=("::1/128",),
        )
        result = await probe_route(route, config)
    retry = result.mss_retry
    assert retry is not None and retry.mss == 1220
    assert retry.result is MssRetryResult.COMPLETED


async def test_one_retry_per_address_and_implicit_tls_after_plain_smtp() -> None:
    """Three ports of one address behind the black hole: one retry in all (one extra
    connection), made by the delivery port's route; 465 is retried only when plain SMTP
    worked on the address."""
    specs = [
        ServerSpec("25", Behaviour.MTU_BLACK_HOLE),
        ServerSpec("587", Behaviour.MTU_BLACK_HOLE),
        ServerSpec("465", Behaviour.MTU_BLACK_HOLE, implicit_tls=True),
    ]
    with ServerSet(specs) as servers:

        def route(name: str) -> Route:
            mode = TlsMode.IMPLICIT if name == "465" else TlsMode.STARTTLS
            return Route(
                "mx.test", 10, 1, "127.0.0.1", AddressFamily.IPV4, servers.port(name), mode
            )

        config = ProbeConfig(
            ports=(servers.port("25"), servers.port("587"), servers.port("465")),
            implicit_tls_ports=(servers.port("465"),),
            timeouts=Timeouts(connect=1, greeting=1, command=1, tls=1.0, total=10),
            tls=TlsConfig(ca_file=servers.ca_file),
            allow_targets=("127.0.0.0/8",),
        )
        results = await probe_routes([route("25"), route("587"), route("465")], config)
        sessions = {name: len(servers.server(name).sessions) for name in ("25", "587", "465")}
        # Only 465, nothing in the clear on this address: no retry.
        (alone,) = await probe_routes(
            [route("465")],
            ProbeConfig(
                ports=(servers.port("465"),),
                implicit_tls_ports=(servers.port("465"),),
                timeouts=Timeouts(connect=1, greeting=1, command=1, tls=1.0, total=10),
                tls=TlsConfig(ca_file=servers.ca_file),
                allow_targets=("127.0.0.0/8",),
            ),
        )
    retries = [r for r in results if r.mss_retry is not None]
    assert len(retries) == 1
    assert retries[0].route.port == servers.port("25")
    assert sessions == {"25": 2, "587": 1, "465": 1}
    for r in results:
        _handshake_stalled(r.phase(Phase.TLS_HANDSHAKE))
    assert alone.mss_retry is None
