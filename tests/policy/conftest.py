"""Fixtures for the MTA-STS tests: a test PKI naming the policy hosts and a loopback
HTTPS policy server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping

import pytest
from sts_kit import DOMAINS, PolicyServerFactory

from smtpdiag.testing.certs import TestPki
from smtpdiag.testing.httpsserver import PolicyHttpsServer, PolicyResponse


@pytest.fixture(scope="session")
def pki() -> Iterator[TestPki]:
    made = TestPki(names=tuple(f"mta-sts.{d}" for d in DOMAINS))
    yield made
    made.cleanup()


@pytest.fixture
async def policy_server(pki: TestPki) -> AsyncIterator[PolicyServerFactory]:
    """Factory: ``await policy_server(response, cert="good")`` -> a started server."""
    started: list[PolicyHttpsServer] = []

    async def start(
        response: PolicyResponse | Mapping[str, PolicyResponse] | None = None,
        *,
        cert: str = "good",
        host: str = "127.0.0.1",
    ) -> PolicyHttpsServer:
        server = PolicyHttpsServer(pki, response, cert=cert, host=host)
        await server.start()
        started.append(server)
        return server

    yield start
    for server in reversed(started):
        await server.stop()
