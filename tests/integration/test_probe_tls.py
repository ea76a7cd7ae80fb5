"""TLS outcomes: not offered, refused (454), bad certificates (still recorded), resets."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from probe_helpers import assert_plausible, phases

from smtpdiag.config import ProbeConfig
from smtpdiag.model import Outcome, Phase, Route, TlsMode, TlsReason
from smtpdiag.probing import probe_route

OK = Outcome.OK


async def test_starttls_not_offered(
    route_to: Callable[..., Route], probe_config: Callable[..., ProbeConfig]
) -> None:
    result = await probe_route(route_to("no-starttls"), probe_config())
    assert result.ok  # deliverable in plain text; the diagnosis judges the missing TLS
    assert result.starttls_offered is False
    assert result.tls is None
    assert phases(result) == [
        (Phase.CONNECT, OK),
        (Phase.GREETING, OK),
        (Phase.EHLO, OK),
        (Phase.QUIT, OK),
    ]
    assert "STARTTLS" not in result.extensions and "SIZE" in result.extensions
    assert_plausible(result)


async def test_starttls_refused_454(
    route_to: Callable[..., Route], probe_config: Callable[..., ProbeConfig]
) -> None:
    result = await probe_route(route_to("starttls-454"), probe_config())
    assert not result.ok
    assert result.starttls_offered is True
    assert phases(result)[:4] == [
        (Phase.CONNECT, OK),
        (Phase.GREETING, OK),
        (Phase.EHLO, OK),
        (Phase.STARTTLS, Outcome.REPLY),
    ]
    # The session is still open after a 454: QUIT politely.
    assert phases(result)[4:] == [(Phase.QUIT, OK)]
    failure = result.failure
    assert failure is not None and failure.phase is Phase.STARTTLS
    assert failure.reply is not None
    assert (failure.reply.code, failure.reply.enhanced) == (454, "4.7.0")
    assert "TLS not available" in failure.reply.text
    assert result.tls is None
    assert_plausible(result)


async def test_certificate_untrusted(
    route_to: Callable[..., Route], probe_config: Callable[..., ProbeConfig]
) -> None:
    result = await probe_route(route_to("untrusted"), probe_config())
    tls = result.tls
    assert result.ok and tls is not None
    assert phases(result)[3:6] == [
        (Phase.STARTTLS, OK),
        (Phase.TLS_HANDSHAKE, OK),
        (Phase.EHLO_TLS, OK),
    ]
    assert tls.verified is False
    assert tls.verify_error is not None and "issuer" in tls.verify_error
    assert tls.hostname_match is True
    assert tls.certificate is not None and "unknown CA" in tls.certificate.issuer
    assert_plausible(result)


async def test_certificate_expired(
    route_to: Callable[..., Route], probe_config: Callable[..., ProbeConfig]
) -> None:
    result = await probe_route(route_to("expired"), probe_config())
    tls = result.tls
    assert result.ok and tls is not None
    assert tls.verified is False and tls.verify_error is not None
    assert "not valid at validation time" in tls.verify_error
    assert tls.hostname_match is True
    cert = tls.certificate
    assert cert is not None and cert.days_left < 0
    assert datetime.fromisoformat(cert.not_after) < datetime.now(UTC)
    assert_plausible(result)


async def test_certificate_expired_on_implicit_tls(
    route_to: Callable[..., Route], probe_config: Callable[..., ProbeConfig]
) -> None:
    result = await probe_route(route_to("implicit-expired"), probe_config())
    assert result.ok
    assert result.tls is not None and result.tls.certificate is not None
    assert not result.tls.verified and result.tls.certificate.days_left < 0


async def test_days_left_follows_injected_now(
    route_to: Callable[..., Route], probe_config: Callable[..., ProbeConfig]
) -> None:
    """A certificate valid today is judged expired when ``now`` is after not_after."""
    later = datetime(3001, 1, 1, tzinfo=UTC)
    result = await probe_route(route_to("healthy"), probe_config(), now=later)
    tls = result.tls
    assert tls is not None and tls.certificate is not None
    assert tls.certificate.days_left < 0 and not tls.verified
    earlier = later - timedelta(days=400 * 365)
    result = await probe_route(route_to("healthy"), probe_config(), now=earlier)
    assert result.tls is not None and result.tls.verified


async def test_certificate_wrong_name(
    route_to: Callable[..., Route], probe_config: Callable[..., ProbeConfig]
) -> None:
    result = await probe_route(route_to("wrong-name"), probe_config())
    tls = result.tls
    assert result.ok and tls is not None
    assert tls.hostname_match is False
    assert tls.verified is True  # the chain itself is fine; the name is judged apart
    assert tls.certificate is not None and tls.certificate.sans == ("wrong.invalid",)
    assert_plausible(result)


async def test_hostname_match_uses_route_mx(
    route_to: Callable[..., Route], probe_config: Callable[..., ProbeConfig]
) -> None:
    result = await probe_route(route_to("healthy", mx="other.test"), probe_config())
    assert result.tls is not None and result.tls.hostname_match is False


async def test_reset_during_starttls_handshake(
    route_to: Callable[..., Route], probe_config: Callable[..., ProbeConfig]
) -> None:
    result = await probe_route(route_to("reset-in-tls"), probe_config())
    assert not result.ok
    assert phases(result) == [
        (Phase.CONNECT, OK),
        (Phase.GREETING, OK),
        (Phase.EHLO, OK),
        (Phase.STARTTLS, OK),
        (Phase.TLS_HANDSHAKE, Outcome.RESET),
    ]
    assert result.tls is not None and result.tls.certificate is None
    # A handshake failure is not a certificate verdict (issue 8): the reason is typed
    # on the phase, verify_error stays for certificate verification only.
    assert result.tls.verify_error is None and result.tls.verify_reason is None
    handshake = result.phase(Phase.TLS_HANDSHAKE)
    assert handshake is not None and handshake.tls_reason is TlsReason.RESET
    assert_plausible(result)


async def test_reset_during_implicit_handshake(
    route_to: Callable[..., Route], probe_config: Callable[..., ProbeConfig]
) -> None:
    result = await probe_route(route_to("implicit-reset"), probe_config())
    assert not result.ok
    assert phases(result) == [(Phase.CONNECT, OK), (Phase.TLS_HANDSHAKE, Outcome.RESET)]
    assert result.banner is None
    assert_plausible(result)


async def test_implicit_tls_handshake_timeout(
    route_to: Callable[..., Route], probe_config: Callable[..., ProbeConfig]
) -> None:
    result = await probe_route(route_to("implicit-silent"), probe_config(tls=0.4))
    assert phases(result) == [(Phase.CONNECT, OK), (Phase.TLS_HANDSHAKE, Outcome.TIMEOUT)]
    handshake = result.phase(Phase.TLS_HANDSHAKE)
    assert handshake is not None
    assert 380 <= handshake.duration_ms < 900
    assert handshake.detail == "no TLS handshake within 0.4 s"


async def test_plain_server_on_implicit_port(
    route_to: Callable[..., Route], probe_config: Callable[..., ProbeConfig]
) -> None:
    """A plaintext server where TLS is expected: a TLS failure with OpenSSL's reason."""
    route = route_to("healthy")
    result = await probe_route(replace(route, tls_mode=TlsMode.IMPLICIT), probe_config())
    assert phases(result) == [(Phase.CONNECT, OK), (Phase.TLS_HANDSHAKE, Outcome.TLS_FAILURE)]
    failure = result.failure
    assert failure is not None and failure.detail
    assert "WRONG_VERSION_NUMBER" in failure.detail or "PACKET" in failure.detail


async def test_no_tls_version_in_common(
    route_to: Callable[..., Route], probe_config: Callable[..., ProbeConfig]
) -> None:
    """A TLS 1.0-only server: the handshake fails with OpenSSL's alert as the reason."""
    for name, before in (
        ("tls-version-mismatch", Phase.STARTTLS),
        ("implicit-tls-version", Phase.CONNECT),
    ):
        result = await probe_route(route_to(name), probe_config())
        assert not result.ok
        assert phases(result)[-2:] == [(before, OK), (Phase.TLS_HANDSHAKE, Outcome.TLS_FAILURE)]
        failure = result.failure
        assert failure is not None and failure.detail == "SSL: TLSV1_ALERT_PROTOCOL_VERSION"
        assert failure.error_type == "SSLError"
        assert result.tls is not None and result.tls.version is None
        assert result.tls.certificate is None
        assert_plausible(result)
