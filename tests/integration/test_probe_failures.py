"""Connection and SMTP failures, each recorded on the phase where it happened."""

from __future__ import annotations

from collections.abc import Callable

from probe_helpers import assert_plausible, phases

from smtpdiag.config import ProbeConfig
from smtpdiag.model import AddressFamily, Outcome, Phase, Route, TlsMode
from smtpdiag.probing import probe_route
from smtpdiag.testing.smtpserver import Blackhole, closed_port

OK = Outcome.OK


def _route(port: int) -> Route:
    return Route("mx.test", 10, 1, "127.0.0.1", AddressFamily.IPV4, port, TlsMode.STARTTLS)


async def test_connection_refused(probe_config: Callable[..., ProbeConfig]) -> None:
    result = await probe_route(_route(closed_port()), probe_config())
    assert not result.ok
    assert phases(result) == [(Phase.CONNECT, Outcome.REFUSED)]
    assert result.failure is not None
    assert result.failure.error_type == "ConnectionRefusedError"
    assert result.failure.duration_ms < 500
    assert result.banner is None and result.tls is None
    assert_plausible(result)


async def test_silent_drop_is_connect_timeout(
    blackhole: Blackhole, probe_config: Callable[..., ProbeConfig]
) -> None:
    result = await probe_route(_route(blackhole.port), probe_config(connect=0.5))
    assert phases(result) == [(Phase.CONNECT, Outcome.TIMEOUT)]
    connect = result.phase(Phase.CONNECT)
    assert connect is not None
    assert 480 <= connect.duration_ms < 1000
    assert connect.detail == "no TCP connection within 0.5 s"
    assert_plausible(result)


async def test_greeting_timeout(
    route_to: Callable[..., Route], probe_config: Callable[..., ProbeConfig]
) -> None:
    result = await probe_route(route_to("silent"), probe_config(greeting=0.4))
    assert phases(result) == [(Phase.CONNECT, OK), (Phase.GREETING, Outcome.TIMEOUT)]
    greeting = result.phase(Phase.GREETING)
    assert greeting is not None and 380 <= greeting.duration_ms < 900
    assert greeting.detail == "no greeting within 0.4 s"
    assert result.phase(Phase.QUIT) is None  # out of step after a timeout: just close
    assert_plausible(result)


async def test_greeting_421(
    route_to: Callable[..., Route], probe_config: Callable[..., ProbeConfig]
) -> None:
    result = await probe_route(route_to("greeting-421"), probe_config())
    assert not result.ok
    # RFC 5321 3.8: the server closes after 421, so there is no QUIT.
    assert phases(result) == [(Phase.CONNECT, OK), (Phase.GREETING, Outcome.REPLY)]
    reply = result.phase(Phase.GREETING).reply  # type: ignore[union-attr]
    assert reply is not None and (reply.code, reply.enhanced) == (421, "4.3.2")
    assert "Service not available" in reply.text
    assert result.banner is not None and "Service not available" in result.banner
    assert_plausible(result)


async def test_greeting_554(
    route_to: Callable[..., Route], probe_config: Callable[..., ProbeConfig]
) -> None:
    result = await probe_route(route_to("greeting-554"), probe_config())
    assert not result.ok
    # RFC 5321 3.1: after a 554 greeting the client should QUIT.
    assert phases(result) == [
        (Phase.CONNECT, OK),
        (Phase.GREETING, Outcome.REPLY),
        (Phase.QUIT, OK),
    ]
    failure = result.failure
    assert failure is not None and failure.phase is Phase.GREETING
    assert failure.reply is not None and (failure.reply.code, failure.reply.enhanced) == (
        554,
        "5.3.2",
    )
    assert_plausible(result)


async def test_closed_after_greeting(
    route_to: Callable[..., Route], probe_config: Callable[..., ProbeConfig]
) -> None:
    result = await probe_route(route_to("close-after-greeting"), probe_config())
    assert not result.ok
    assert phases(result) == [
        (Phase.CONNECT, OK),
        (Phase.GREETING, OK),
        (Phase.EHLO, Outcome.CLOSED),
    ]
    assert result.banner is not None
    assert_plausible(result)


async def test_ehlo_rejected_falls_back_to_helo(
    route_to: Callable[..., Route], probe_config: Callable[..., ProbeConfig]
) -> None:
    result = await probe_route(route_to("ehlo-502"), probe_config())
    assert result.ok
    assert phases(result) == [
        (Phase.CONNECT, OK),
        (Phase.GREETING, OK),
        (Phase.EHLO, Outcome.REPLY),
        (Phase.HELO, OK),
        (Phase.QUIT, OK),
    ]
    ehlo = result.phase(Phase.EHLO)
    assert ehlo is not None and ehlo.reply is not None and ehlo.reply.code == 502
    assert result.extensions == ()
    assert result.starttls_offered is None  # EHLO never succeeded
    assert_plausible(result)


async def test_reset_after_ehlo(
    route_to: Callable[..., Route], probe_config: Callable[..., ProbeConfig]
) -> None:
    result = await probe_route(route_to("reset-after-ehlo"), probe_config())
    assert not result.ok
    assert phases(result) == [
        (Phase.CONNECT, OK),
        (Phase.GREETING, OK),
        (Phase.EHLO, OK),
        (Phase.STARTTLS, Outcome.RESET),
    ]
    assert_plausible(result)


async def test_huge_reply_is_bounded(
    route_to: Callable[..., Route], probe_config: Callable[..., ProbeConfig]
) -> None:
    """A ~70 KB greeting: the session stops reading at 32 KiB and records an error."""
    result = await probe_route(route_to("huge-reply"), probe_config())
    assert phases(result) == [(Phase.CONNECT, OK), (Phase.GREETING, Outcome.ERROR)]
    greeting = result.phase(Phase.GREETING)
    assert greeting is not None and greeting.detail == "reply longer than 32 KiB"
    assert greeting.duration_ms < 1000
    assert_plausible(result)


async def test_hostile_banner_is_sanitized(
    route_to: Callable[..., Route], probe_config: Callable[..., ProbeConfig]
) -> None:
    result = await probe_route(route_to("hostile-banner"), probe_config())
    assert result.ok
    banner = result.banner
    assert banner is not None and banner.startswith("mx.test")
    assert not any(ord(c) < 32 or ord(c) == 127 for c in banner)
    reply = result.phase(Phase.GREETING).reply  # type: ignore[union-attr]
    assert reply is not None and "\x1b" not in reply.text and "\x07" not in reply.text


async def test_source_address_is_honoured(
    route_to: Callable[..., Route], probe_config: Callable[..., ProbeConfig]
) -> None:
    good = await probe_route(route_to("healthy"), probe_config(source_address="127.0.0.1"))
    assert good.ok
    # An IPv6 source for an IPv4 destination cannot be bound: a local error, no traffic.
    bad = await probe_route(route_to("healthy"), probe_config(source_address="::1"))
    assert phases(bad) == [(Phase.CONNECT, Outcome.ERROR)]
    assert bad.failure is not None and bad.failure.error_type == "ConfigError"
    assert bad.failure.detail == "source address ::1 cannot reach an ipv4 address"
