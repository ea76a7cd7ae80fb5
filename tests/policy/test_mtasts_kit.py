"""The loopback HTTPS policy server of the test kit, from synchronous code (the demo's
way): a threaded server, and its argument checks."""

from __future__ import annotations

import asyncio

import pytest
from sts_kit import make_config, zones

from smtpdiag.model import StsStatus
from smtpdiag.policy.mtasts import lookup_mta_sts
from smtpdiag.testing.certs import TestPki
from smtpdiag.testing.httpsserver import (
    PolicyHttpsServer,
    PolicyResponse,
    ThreadedPolicyServer,
    policy_text,
)


def test_threaded_server_serves_a_lookup(dns_server_thread, pki: TestPki) -> None:
    dns = dns_server_thread(zones())
    server = PolicyHttpsServer(pki, PolicyResponse(policy_text("testing", ["mx1.example.test"])))
    with ThreadedPolicyServer(server) as web:
        assert web.port > 0
        config = make_config(dns.server, pki, server)

        async def run() -> object:
            loop = asyncio.get_running_loop()
            return await lookup_mta_sts(
                "example.test", ["mx1.example.test"], config, deadline=loop.time() + 10
            )

        result = asyncio.run(run())
    assert result.status is StsStatus.VALID  # type: ignore[attr-defined]
    assert len(server.requests) == 1
    web.stop()  # twice is fine


@pytest.mark.parametrize(
    "kwargs",
    [{"delay": -1}, {"delay": 31}, {"drip": 99}, {"drip_size": 0}, {"size": -1}],
)
def test_response_limits(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        PolicyResponse(**kwargs)  # type: ignore[arg-type]


def test_pieces_generate_filler_lazily() -> None:
    response = PolicyResponse(b"abc", size=10, drip=0.1, drip_size=4)
    assert list(response.pieces()) == [b"abc" + b"x", b"xxxx", b"xx"]
    assert response.total == 10
