"""Healthy servers: STARTTLS on "25" and "587", implicit TLS on "465", IPv6 on ::1.

The ports are ephemeral; ``implicit_tls_ports`` tells the planner which one plays 465.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest
from conftest import HAS_IPV6, MX
from probe_helpers import assert_plausible, phases

from smtpdiag.config import ProbeConfig
from smtpdiag.model import (
    DnsOutcome,
    DnsQuery,
    MxHost,
    MxTargetKind,
    Outcome,
    Phase,
    Resolution,
    ResolutionKind,
    Route,
    TlsMode,
)
from smtpdiag.probing import plan_routes, probe_route, probe_routes
from smtpdiag.testing.smtpserver import ServerSet

OK = Outcome.OK
STARTTLS_FLOW = [
    (Phase.CONNECT, OK),
    (Phase.GREETING, OK),
    (Phase.EHLO, OK),
    (Phase.STARTTLS, OK),
    (Phase.TLS_HANDSHAKE, OK),
    (Phase.EHLO_TLS, OK),
    (Phase.QUIT, OK),
]
IMPLICIT_FLOW = [
    (Phase.CONNECT, OK),
    (Phase.TLS_HANDSHAKE, OK),
    (Phase.GREETING, OK),
    (Phase.EHLO, OK),
    (Phase.QUIT, OK),
]


def _resolution(*addresses: str) -> Resolution:
    query = DnsQuery("example.test", "MX", DnsOutcome.OK, (f"10 {MX}",))
    host = MxHost(MX, 10, MxTargetKind.HOSTNAME, addresses, rank=1)
    return Resolution("example.test", ResolutionKind.MX, query, (host,), (query,))


async def test_plan_and_probe_25_587_465(
    smtp_servers: ServerSet, probe_config: Callable[..., ProbeConfig]
) -> None:
    p25, p587, p465 = (smtp_servers.port(n) for n in ("port25", "port587", "port465"))
    config = probe_config(ports=(p25, p587, p465), implicit_tls_ports=(p465,), per_address_limit=3)
    routes = plan_routes(_resolution("127.0.0.1"), config)
    assert [(r.port, r.tls_mode) for r in routes] == [
        (p25, TlsMode.STARTTLS),
        (p587, TlsMode.STARTTLS),
        (p465, TlsMode.IMPLICIT),
    ]
    r25, r587, r465 = await probe_routes(routes, config)
    for result in (r25, r587):
        assert result.ok
        assert phases(result) == STARTTLS_FLOW
        assert result.starttls_offered is True
        assert "STARTTLS" in result.phase(Phase.EHLO).reply.text  # type: ignore[union-attr]
        assert "STARTTLS" not in result.extensions  # RFC 3207 4.2: not offered inside TLS
        assert "PIPELINING" in result.extensions
        assert_plausible(result)
    assert r465.ok
    assert phases(r465) == IMPLICIT_FLOW
    assert r465.starttls_offered is None
    assert_plausible(r465)
    for result in (r25, r587, r465):
        assert result.route.mx == MX
        assert result.banner is not None and result.banner.startswith("mx.test ESMTP")
        greeting = result.phase(Phase.GREETING)
        assert greeting is not None and greeting.reply is not None
        assert greeting.reply.code == 220
        tls = result.tls
        assert tls is not None
        assert tls.version in {"TLSv1.2", "TLSv1.3"}
        assert tls.cipher and tls.cipher_bits and tls.cipher_bits >= 128
        assert tls.verified and tls.verify_error is None and tls.hostname_match is True
        cert = tls.certificate
        assert cert is not None
        assert MX in cert.sans and "127.0.0.1" in cert.sans
        assert cert.days_left > 300 and cert.key_type == "EC" and cert.key_bits == 256
        assert len(cert.sha256.split(":")) == 32 and not cert.self_signed
        assert "smtpdiag test CA" in cert.issuer
        assert tls.chain_length >= 1


async def test_quit_reply_recorded(
    route_to: Callable[..., Route], probe_config: Callable[..., ProbeConfig]
) -> None:
    result = await probe_route(route_to("healthy"), probe_config())
    quit_ = result.phase(Phase.QUIT)
    assert quit_ is not None and quit_.reply is not None
    assert (quit_.reply.code, quit_.reply.enhanced) == (221, "2.0.0")


async def test_untrusted_without_ca_file(
    route_to: Callable[..., Route], probe_config: Callable[..., ProbeConfig]
) -> None:
    """Against the system trust store the test CA is unknown: verified False, cert kept."""
    result = await probe_route(route_to("healthy"), probe_config(trust_test_ca=False))
    assert result.ok
    assert result.tls is not None and not result.tls.verified
    assert result.tls.verify_error
    assert result.tls.certificate is not None and result.tls.hostname_match is True


@pytest.mark.skipif(not HAS_IPV6, reason="::1 is not available on this host")
async def test_ipv6_loopback(
    route_to: Callable[..., Route], probe_config: Callable[..., ProbeConfig]
) -> None:
    starttls, implicit = route_to("v6"), route_to("v6-465")
    assert starttls.address == "::1" and starttls.family.value == "ipv6"
    r1, r2 = await probe_routes([starttls, implicit], probe_config())
    assert r1.ok and phases(r1) == STARTTLS_FLOW
    assert r2.ok and phases(r2) == IMPLICIT_FLOW
    assert r1.tls is not None and r1.tls.verified
    assert_plausible(r1)
    assert_plausible(r2)


async def test_per_address_limit_serializes(
    route_to: Callable[..., Route], probe_config: Callable[..., ProbeConfig]
) -> None:
    """With the default limit of 1, two routes to one address never overlap."""
    seen: list[tuple[float, float]] = []
    loop = asyncio.get_running_loop()
    routes = [route_to("port25"), route_to("port587")]
    spans: dict[int, list[float]] = {}

    def trace(route: Route, record: object) -> None:
        spans.setdefault(route.port, []).append(loop.time())

    results = await probe_routes(routes, probe_config(), trace=trace)
    assert all(r.ok for r in results)
    for port in (routes[0].port, routes[1].port):
        seen.append((min(spans[port]), max(spans[port])))
    first, second = sorted(seen)
    assert first[1] <= second[0] + 0.001  # the second started after the first ended


async def test_routes_run_concurrently(
    route_to: Callable[..., Route], probe_config: Callable[..., ProbeConfig]
) -> None:
    """Two routes that each wait out a 0.6 s greeting limit take ~0.6 s together."""
    routes = [route_to("silent"), route_to("implicit-silent")]
    start = time.monotonic()
    first, second = await probe_routes(
        routes, probe_config(per_address_limit=2, greeting=0.6, tls=0.6)
    )
    wall = time.monotonic() - start
    assert first.phase(Phase.GREETING).outcome is Outcome.TIMEOUT  # type: ignore[union-attr]
    assert second.phase(Phase.TLS_HANDSHAKE).outcome is Outcome.TIMEOUT  # type: ignore[union-attr]
    assert wall < (first.total_ms + second.total_ms) / 1000 * 0.8
