"""Helpers for the MTA-STS tests: the zone that points ``mta-sts.<domain>`` at the
loopback policy server, and a config that trusts the test CA and may connect to loopback."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from smtpdiag.config import PolicyConfig, ProbeConfig, ResolverConfig, Timeouts, TlsConfig
from smtpdiag.testing.certs import TestPki
from smtpdiag.testing.dnsserver import LocalDnsServer
from smtpdiag.testing.httpsserver import PolicyHttpsServer

PolicyServerFactory = Callable[..., Awaitable[PolicyHttpsServer]]

#: Domains whose policy host the test certificates name.
DOMAINS = ("example.test", "other.test")


def zones(
    record: str | list[str] | None = '"v=STSv1; id=20240101"',
    policy_host: str | list[str] | None = "A 127.0.0.1",
    mx: tuple[str, ...] = ("mx1", "mx2"),
) -> dict[str, Any]:
    """example.test with its MX, the _mta-sts TXT record(s) and the policy host."""
    data: dict[str, Any] = {"@": [f"MX {10 * (i + 1)} {h}" for i, h in enumerate(mx)]}
    for host in mx:
        data[host] = "A 127.0.0.1"
    if record is not None:
        records = [record] if isinstance(record, str) else record
        data["_mta-sts"] = [f"TXT {r}" for r in records]
    if policy_host is not None:
        data["mta-sts"] = policy_host
    return {"example.test": data}


def make_config(
    dns: LocalDnsServer,
    pki: TestPki,
    server: PolicyHttpsServer | None = None,
    *,
    fetch_timeout: float = 5.0,
    max_policy_bytes: int = 64 * 1024,
    allow_targets: tuple[str, ...] = ("127.0.0.0/8",),
    port: int | None = None,
) -> ProbeConfig:
    https_port = port if port is not None else (server.port if server is not None else 443)
    return ProbeConfig(
        resolver=ResolverConfig(nameservers=(dns.nameserver,)),
        tls=TlsConfig(ca_file=str(pki.ca_file)),
        timeouts=Timeouts(dns=2.0),
        allow_targets=allow_targets,
        policy=PolicyConfig(
            https_port=https_port,
            fetch_timeout=fetch_timeout,
            max_policy_bytes=max_policy_bytes,
        ),
    )
