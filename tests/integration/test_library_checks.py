"""Local mistakes are refused by the library itself (issue 8, item 7): a program that
calls ``smtpdiag.probe(...)`` gets a ConfigError, never a report that blames the
destination for a source address this machine does not own, one of a family that is
not probed, or a CA file without a usable certificate.
"""

from __future__ import annotations

import contextlib
import socket
from pathlib import Path
from typing import Any

import pytest
from hostile import Conn, RawServer

from smtpdiag.api import probe, probe_sync
from smtpdiag.config import ProbeConfig, ResolverConfig, Timeouts, TlsConfig
from smtpdiag.errors import ConfigError
from smtpdiag.model import AddressFamily, Outcome

# Lab ranges (inside the lab's namespaces only): binding to one fails here, and a
# bind sends nothing.
CANDIDATES = ("198.51.100.77", "198.18.0.77", "2001:db8::77")


def _foreign_address() -> str:
    for address in CANDIDATES:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        try:
            with contextlib.closing(socket.socket(family, socket.SOCK_STREAM)) as sock:
                sock.bind((address, 0))
        except OSError:
            return address
    pytest.skip("every candidate address is local here (lab up?)")


async def test_source_address_not_owned_is_a_config_error(dns_server: Any) -> None:
    dns = await dns_server({"lib.test": {"@": "MX 10 mx", "mx": "A 127.0.0.1"}})
    address = _foreign_address()
    family = AddressFamily.IPV6 if ":" in address else AddressFamily.IPV4
    config = ProbeConfig(
        resolver=ResolverConfig((dns.nameserver,)),
        source_address=address,
        families=(family,),
        allow_targets=("127.0.0.0/8",),
    )
    with pytest.raises(ConfigError, match=f"source address {address}"):
        await probe("lib.test", config)
    assert not dns.received  # refused before anything was asked


@pytest.mark.parametrize(
    ("address", "families"),
    [("::1", (AddressFamily.IPV4,)), ("127.0.0.1", (AddressFamily.IPV6,))],
)
def test_source_address_of_a_family_not_probed(
    address: str, families: tuple[AddressFamily, ...]
) -> None:
    with pytest.raises(ConfigError, match=f"source address {address}"):
        ProbeConfig(source_address=address, families=families)


def test_ca_file_without_a_usable_certificate(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_bytes(b"-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----\n")
    config = ProbeConfig(tls=TlsConfig(ca_file=str(ca)))
    with pytest.raises(ConfigError, match="CA file"):
        probe_sync("lib.test", config)


async def test_source_address_narrows_the_probed_family(dns_server: Any) -> None:
    """An IPv4 source with both families: the IPv6 routes are not planned (they would
    fail locally and read as the MX's fault), and the report says IPv4 was probed."""

    def greet(conn: Conn) -> None:
        conn.send("220 mx.lib.test ESMTP\r\n")
        conn.wait_closed()

    with RawServer(greet) as server:
        zone = {"@": "MX 10 mx", "mx": ["A 127.0.0.1", "AAAA ::1"]}
        dns = await dns_server({"lib.test": zone})
        config = ProbeConfig(
            ports=(server.port,),
            resolver=ResolverConfig((dns.nameserver,)),
            timeouts=Timeouts(connect=1, greeting=1, command=1, tls=1, total=3),
            source_address="127.0.0.1",
            allow_targets=("127.0.0.0/8", "::1/128"),
        )
        report = await probe("lib.test", config, diagnose=False)
    assert report.families == (AddressFamily.IPV4,)
    assert [r.route.family for r in report.routes] == [AddressFamily.IPV4]
    assert all(p.outcome is not Outcome.ERROR for r in report.routes for p in r.phases)
