"""The policy fetch against hostile and broken policy hosts, on loopback.

Each test stands up a real HTTPS server (or a plain TCP one) and checks how
``fetch_policy`` ends: the error it names, how many bytes it read, and that it ends
within its limit (timings are measured, with a margin for a loaded machine).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from sts_kit import PolicyServerFactory, make_config, zones

from smtpdiag.model import StsFetchError
from smtpdiag.policy.fetch import fetch_policy
from smtpdiag.testing.certs import TestPki
from smtpdiag.testing.dnsserver import ipv6_loopback_available
from smtpdiag.testing.httpsserver import PolicyResponse, policy_text

DOMAIN = "example.test"
POLICY = policy_text("enforce", ["mx1.example.test"])
#: Slack for scheduling on a shared machine when checking that a fetch ended in time.
MARGIN = 0.5


async def fetch(config: object, budget: float = 30.0) -> tuple[object, bytes | None, float]:
    loop = asyncio.get_running_loop()
    start = loop.time()
    result, body = await fetch_policy(DOMAIN, config, deadline=start + budget)  # type: ignore[arg-type]
    return result, body, loop.time() - start


async def test_good_fetch(dns_server, policy_server: PolicyServerFactory, pki: TestPki) -> None:
    dns = await dns_server(zones())
    web = await policy_server(PolicyResponse(POLICY))
    result, body, _ = await fetch(make_config(dns, pki, web))
    assert result.error is None, result.detail
    assert body == POLICY and result.size == len(POLICY)
    assert result.duration_ms > 0


@pytest.mark.parametrize(
    "response",
    [
        PolicyResponse(POLICY, content_type="text/plain; charset=utf-8"),
        PolicyResponse(POLICY, content_type="TEXT/Plain"),
        PolicyResponse(POLICY, chunked=True, drip_size=7),
        PolicyResponse(POLICY, content_length=False),  # the body ends with the connection
    ],
    ids=["charset", "case", "chunked", "until-close"],
)
async def test_accepted_variants(
    response: PolicyResponse, dns_server, policy_server, pki: TestPki
) -> None:
    dns = await dns_server(zones())
    web = await policy_server(response)
    result, body, _ = await fetch(make_config(dns, pki, web))
    assert result.error is None, result.detail
    assert body == POLICY


@pytest.mark.parametrize(
    ("response", "error", "status"),
    [
        (PolicyResponse(b"no\n", status=404), StsFetchError.HTTP_STATUS, 404),
        (PolicyResponse(b"oops\n", status=500), StsFetchError.HTTP_STATUS, 500),
        (PolicyResponse(POLICY, content_type="text/html"), StsFetchError.CONTENT_TYPE, 200),
        (PolicyResponse(POLICY, content_type=None), StsFetchError.CONTENT_TYPE, 200),
        (PolicyResponse(POLICY, content_type="text/plainx"), StsFetchError.CONTENT_TYPE, 200),
        (
            PolicyResponse(POLICY, content_type="application/octet-stream"),
            StsFetchError.CONTENT_TYPE,
            200,
        ),
    ],
    ids=["404", "500", "html", "no-type", "plainx", "octets"],
)
async def test_status_and_type(
    response: PolicyResponse,
    error: StsFetchError,
    status: int,
    dns_server,
    policy_server,
    pki: TestPki,
) -> None:
    dns = await dns_server(zones())
    web = await policy_server(response)
    result, body, _ = await fetch(make_config(dns, pki, web))
    assert result.error is error and result.status == status
    assert body is None


@pytest.mark.parametrize("status", [301, 302, 307])
async def test_redirect_not_followed(status: int, dns_server, policy_server, pki: TestPki) -> None:
    # RFC 8461 3.3: "HTTP 3xx redirects MUST NOT be followed". The target is the same
    # server, serving a good policy for another host: following it would succeed.
    dns = await dns_server(
        {**zones(), "other.test": {"mta-sts": "A 127.0.0.1"}},
    )
    web = await policy_server(
        {
            "mta-sts.example.test": PolicyResponse(
                b"", status=status, location="https://mta-sts.other.test/.well-known/mta-sts.txt"
            ),
            "mta-sts.other.test": PolicyResponse(POLICY),
        }
    )
    result, body, _ = await fetch(make_config(dns, pki, web))
    assert result.error is StsFetchError.HTTP_STATUS and result.status == status
    assert result.detail is not None and "mta-sts.other.test" in result.detail
    assert body is None
    assert len(web.requests) == 1


async def test_slow_drip_ends_at_fetch_timeout(dns_server, policy_server, pki: TestPki) -> None:
    # One byte every 50 ms: the whole policy would take ~3 s; the limit is 1 s.
    dns = await dns_server(zones())
    web = await policy_server(PolicyResponse(POLICY, drip=0.05, drip_size=1))
    result, body, elapsed = await fetch(make_config(dns, pki, web, fetch_timeout=1.0))
    assert result.error is StsFetchError.TIMEOUT
    assert body is None
    assert 0 < result.size < len(POLICY)  # it was reading, and stopped
    assert 1.0 <= elapsed < 1.0 + MARGIN
    assert result.duration_ms < (1.0 + MARGIN) * 1000


async def test_slow_headers_end_at_fetch_timeout(dns_server, policy_server, pki: TestPki) -> None:
    dns = await dns_server(zones())
    web = await policy_server(PolicyResponse(POLICY, delay=10))
    result, _, elapsed = await fetch(make_config(dns, pki, web, fetch_timeout=0.6))
    assert result.error is StsFetchError.TIMEOUT and result.status is None
    assert elapsed < 0.6 + MARGIN


async def test_deadline_before_fetch_timeout(dns_server, policy_server, pki: TestPki) -> None:
    dns = await dns_server(zones())
    web = await policy_server(PolicyResponse(POLICY, delay=10))
    result, _, elapsed = await fetch(make_config(dns, pki, web, fetch_timeout=20), budget=0.5)
    assert result.error is StsFetchError.TIMEOUT
    assert elapsed < 0.5 + MARGIN


@pytest.mark.parametrize(
    "response",
    [
        PolicyResponse(POLICY, size=50 << 20),  # Content-Length says 50 MiB
        PolicyResponse(POLICY, size=50 << 20, content_length=False),  # until close
        PolicyResponse(POLICY, size=50 << 20, chunked=True),
    ],
    ids=["content-length", "until-close", "chunked"],
)
async def test_huge_policy_stops_at_limit(
    response: PolicyResponse, dns_server, policy_server, pki: TestPki
) -> None:
    dns = await dns_server(zones())
    web = await policy_server(response)
    limit = 65536
    result, body, elapsed = await fetch(make_config(dns, pki, web, max_policy_bytes=limit))
    assert result.error is StsFetchError.TOO_LARGE
    assert body is None
    assert result.size <= limit + 16 * 1024  # at most one read beyond the limit
    assert elapsed < 2.0  # it stopped: 50 MiB would take far longer


async def test_limit_is_inclusive(dns_server, policy_server, pki: TestPki) -> None:
    dns = await dns_server(zones())
    body = POLICY + b"#" * (1024 - len(POLICY) - 1) + b"\n"
    web = await policy_server(PolicyResponse(body))
    result, got, _ = await fetch(make_config(dns, pki, web, max_policy_bytes=1024))
    assert result.error is None and got == body
    web.set_response(PolicyResponse(body + b"x"))
    result, got, _ = await fetch(make_config(dns, pki, web, max_policy_bytes=1024))
    assert result.error is StsFetchError.TOO_LARGE and got is None


@pytest.mark.parametrize(
    "raw",
    [
        b"SSH-2.0-OpenSSH_9.6\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\nshort",
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"HTTP/1.1 200 OK\r\nX: " + b"a" * 40_000 + b"\r\n\r\n",  # endless header
        b"",  # closed without a response
    ],
    ids=["not-http", "short-body", "bad-chunk", "huge-header", "empty"],
)
async def test_malformed_http(raw: bytes, dns_server, policy_server, pki: TestPki) -> None:
    dns = await dns_server(zones())
    web = await policy_server(PolicyResponse(raw=raw))
    result, body, elapsed = await fetch(make_config(dns, pki, web))
    assert result.error is StsFetchError.PROTOCOL, (result.error, result.detail)
    assert body is None
    assert elapsed < 3.0


@pytest.mark.parametrize(
    ("address", "allow"),
    [("10.1.2.3", ("127.0.0.0/8",)), ("127.0.0.1", ())],
    ids=["private", "loopback-not-allowed"],
)
async def test_address_not_allowed(
    address: str, allow: tuple[str, ...], dns_server, policy_server, pki: TestPki
) -> None:
    # The network guard (tests/conftest.py) would fail the test on a connect to 10/8.
    dns = await dns_server(zones(policy_host=f"A {address}"))
    web = await policy_server(PolicyResponse(POLICY))
    result, body, _ = await fetch(make_config(dns, pki, web, allow_targets=allow))
    assert result.error is StsFetchError.ADDRESS_NOT_ALLOWED
    assert body is None and web.connections == 0
    assert result.address is None


async def test_first_allowed_address_used(dns_server, policy_server, pki: TestPki) -> None:
    dns = await dns_server(zones(policy_host=["A 10.1.2.3", "A 127.0.0.1"]))
    web = await policy_server(PolicyResponse(POLICY))
    result, body, _ = await fetch(make_config(dns, pki, web))
    assert result.error is None and result.address == "127.0.0.1" and body == POLICY


async def test_policy_host_does_not_resolve(dns_server, policy_server, pki: TestPki) -> None:
    dns = await dns_server(zones(policy_host=None))
    web = await policy_server()
    result, _, _ = await fetch(make_config(dns, pki, web))
    assert result.error is StsFetchError.DNS and web.connections == 0
    assert result.detail is not None and "mta-sts.example.test" in result.detail


async def test_connection_refused(dns_server, pki: TestPki) -> None:
    dns = await dns_server(zones())
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()  # nothing listens on the port any more
    result, _, _ = await fetch(make_config(dns, pki, port=port))
    assert result.error is StsFetchError.CONNECT and result.address == "127.0.0.1"


@contextlib.asynccontextmanager
async def plain_server(reply: bytes, hold: float = 0.0) -> AsyncIterator[int]:
    """A TCP server that answers in plain text (no TLS), holds the connection open for
    ``hold`` seconds (or until the client goes), and closes."""
    done: list[asyncio.Event] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        finished = asyncio.Event()
        done.append(finished)
        try:
            writer.write(reply)
            with contextlib.suppress(OSError):
                await writer.drain()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(hold):
                    await reader.read()  # returns when the client closes
        finally:
            writer.transport.abort()
            finished.set()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        for finished in done:
            await asyncio.wait_for(finished.wait(), 5)
        await server.wait_closed()


async def test_plain_http_is_a_handshake_failure(dns_server, pki: TestPki) -> None:
    dns = await dns_server(zones())
    async with plain_server(b"HTTP/1.1 400 Bad Request\r\n\r\n") as port:
        result, _, elapsed = await fetch(make_config(dns, pki, port=port))
    assert result.error is StsFetchError.TLS_HANDSHAKE
    assert elapsed < 3.0


async def test_untrusted_without_ca_file(dns_server, policy_server, pki: TestPki) -> None:
    # Without --ca-file the system trust store judges; the test CA is not in it.
    from dataclasses import replace

    from smtpdiag.config import TlsConfig

    dns = await dns_server(zones())
    web = await policy_server(PolicyResponse(POLICY))
    config = replace(make_config(dns, pki, web), tls=TlsConfig())
    result, _, _ = await fetch(config)
    assert result.error is StsFetchError.CERT_UNTRUSTED


async def test_no_close_notify_is_accepted(dns_server, policy_server, pki: TestPki) -> None:
    # Many HTTPS servers close without a TLS close_notify; senders accept the body when
    # its framing says it is complete (and so does this fetch).
    dns = await dns_server(zones())
    web = await policy_server(PolicyResponse(POLICY, abort=True))
    result, body, _ = await fetch(make_config(dns, pki, web))
    assert result.error is None, result.detail
    assert body == POLICY


async def test_hostile_headers_are_sanitized(dns_server, policy_server, pki: TestPki) -> None:
    dns = await dns_server(zones())
    web = await policy_server(
        PolicyResponse(
            b"",
            status=302,
            location="https://evil.test/\x1b[31mred",
            content_type="x/\x1b]0;t\x07y",
        )
    )
    result, _, _ = await fetch(make_config(dns, pki, web))
    assert result.error is StsFetchError.HTTP_STATUS
    assert result.detail is not None and "\x1b" not in result.detail
    assert result.content_type is not None and "\x1b" not in result.content_type
    assert "\x07" not in result.content_type


@pytest.mark.skipif(not ipv6_loopback_available(), reason="no IPv6 loopback here")
async def test_ipv6_policy_host(dns_server, policy_server, pki: TestPki) -> None:
    dns = await dns_server(zones(policy_host="AAAA ::1"))
    web = await policy_server(PolicyResponse(POLICY), host="::1")
    config = make_config(dns, pki, web, allow_targets=("127.0.0.0/8", "::1/128"))
    result, body, _ = await fetch(config)
    assert result.error is None, result.detail
    assert result.address == "::1" and body == POLICY


@pytest.mark.parametrize(
    "domain",
    ["bad domain.test", "a..test", "exämple.test", "x" * 250 + ".test", "-\r\nHost: evil.test"],
)
async def test_invalid_domain_no_io(domain: str, dns_server, pki: TestPki) -> None:
    dns = await dns_server(zones())
    loop = asyncio.get_running_loop()
    result, body = await fetch_policy(domain, make_config(dns, pki), deadline=loop.time() + 5)
    assert result.error is StsFetchError.DNS and body is None
    assert dns.received == []
    assert result.detail is not None and "\n" not in result.detail
    assert "\r" not in result.url and "\n" not in result.url


async def test_endless_informational_responses_are_bounded(
    dns_server, policy_server, pki: TestPki
) -> None:
    # 1xx responses are skipped, but their bytes count: 250 KB of "100 Continue" ends
    # the fetch (wire limit 2 x 64 KiB + 64 KiB) instead of reading forever.
    dns = await dns_server(zones())
    web = await policy_server(PolicyResponse(raw=b"HTTP/1.1 100 Continue\r\n\r\n" * 10_000))
    result, body, elapsed = await fetch(make_config(dns, pki, web))
    assert result.error is StsFetchError.TOO_LARGE and body is None
    assert elapsed < 3.0


async def test_a_few_informational_responses_are_skipped(
    dns_server, policy_server, pki: TestPki
) -> None:
    dns = await dns_server(zones())
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n" % len(
        POLICY
    )
    web = await policy_server(
        PolicyResponse(raw=b"HTTP/1.1 100 Continue\r\n\r\n" * 3 + head + POLICY)
    )
    result, body, _ = await fetch(make_config(dns, pki, web))
    assert result.error is None, result.detail
    assert body == POLICY


async def test_silent_server_handshake_times_out(dns_server, pki: TestPki) -> None:
    # Accepts TCP and never speaks: the TLS handshake hangs until the fetch's limit.
    dns = await dns_server(zones())
    async with plain_server(b"", hold=5.0) as port:
        result, _, elapsed = await fetch(make_config(dns, pki, port=port, fetch_timeout=0.5))
    assert result.error is StsFetchError.TIMEOUT and result.address == "127.0.0.1"
    assert elapsed < 0.5 + MARGIN
