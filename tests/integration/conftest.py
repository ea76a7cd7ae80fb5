"""Fixtures for probe integration tests: scripted SMTP servers on loopback.

``smtp_servers`` runs one :class:`ServerSet` for the whole session on a background
thread (one server per behaviour), so each test only connects. ``route_to`` builds a
:class:`Route` to one of them; ``probe_config`` a :class:`ProbeConfig` with short
timeouts that trusts the test CA.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from smtpdiag.config import LOOPBACK_NETWORKS, ProbeConfig, Timeouts, TlsConfig
from smtpdiag.model import AddressFamily, Route, TlsMode
from smtpdiag.testing.smtpserver import Behaviour, Blackhole, ServerSet, ServerSpec

MX = "mx.test"


def ipv6_loopback() -> bool:
    """Whether ``::1`` can be bound here (containers without IPv6 cannot)."""
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


HAS_IPV6 = ipv6_loopback()


def _specs() -> list[ServerSpec]:
    specs = [ServerSpec(b.value, b) for b in Behaviour]
    specs += [
        ServerSpec("port25"),
        ServerSpec("port587"),
        ServerSpec("port465", implicit_tls=True),
        ServerSpec("implicit-reset", Behaviour.RESET_IN_TLS, implicit_tls=True),
        ServerSpec("implicit-silent", Behaviour.SILENT, implicit_tls=True),
        ServerSpec("implicit-expired", implicit_tls=True, cert="expired"),
        ServerSpec("implicit-tls-version", Behaviour.TLS_VERSION_MISMATCH, implicit_tls=True),
        ServerSpec("expired", cert="expired"),
        ServerSpec("wrong-name", cert="wrong-name"),
        ServerSpec("untrusted", cert="untrusted"),
    ]
    if HAS_IPV6:
        specs += [ServerSpec("v6", host="::1"), ServerSpec("v6-465", host="::1", implicit_tls=True)]
    return specs


@pytest.fixture(scope="session")
def smtp_servers() -> Iterator[ServerSet]:
    """Every scripted behaviour, running for the whole session."""
    with ServerSet(_specs()) as servers:
        yield servers


@pytest.fixture
def route_to(smtp_servers: ServerSet) -> Callable[..., Route]:
    """``route_to(name, mx=MX)``: a route to the scripted server called ``name``."""

    def build(name: str, mx: str = MX) -> Route:
        spec = smtp_servers.spec(name)
        v6 = ":" in spec.host
        return Route(
            mx=mx,
            preference=10,
            rank=1,
            address=spec.host,
            family=AddressFamily.IPV6 if v6 else AddressFamily.IPV4,
            port=smtp_servers.port(name),
            tls_mode=TlsMode.IMPLICIT if spec.implicit_tls else TlsMode.STARTTLS,
        )

    return build


@pytest.fixture
def probe_config(smtp_servers: ServerSet) -> Callable[..., ProbeConfig]:
    """``probe_config(**timeouts)``: short timeouts, the test CA as trust store."""

    def build(trust_test_ca: bool = True, **overrides: Any) -> ProbeConfig:
        limits: dict[str, float] = dict(connect=1.0, greeting=1.0, command=1.0, tls=1.0, total=5.0)
        extra = {k: overrides.pop(k) for k in list(overrides) if k in limits}
        limits.update(extra)
        tls = TlsConfig(ca_file=smtp_servers.ca_file) if trust_test_ca else TlsConfig()
        overrides.setdefault("allow_targets", LOOPBACK_NETWORKS)
        return ProbeConfig(timeouts=Timeouts(**limits), tls=tls, **overrides)

    return build


@pytest.fixture
def blackhole() -> Iterator[Blackhole]:
    """A loopback port whose SYNs are dropped (full accept queue)."""
    hole = Blackhole()
    if not hole.full:
        hole.close()
        pytest.skip("could not fill the accept queue: connects here would not hang")
    yield hole
    hole.close()
