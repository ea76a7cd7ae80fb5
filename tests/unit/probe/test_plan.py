"""plan_routes: order, family filter, dedupe, cap, TLS mode."""

from __future__ import annotations

from smtpdiag.config import ProbeConfig
from smtpdiag.model import (
    AddressFamily,
    DnsOutcome,
    DnsQuery,
    MxHost,
    MxTargetKind,
    Resolution,
    ResolutionKind,
    TlsMode,
)
from smtpdiag.probing import plan_routes


def _resolution(*hosts: MxHost) -> Resolution:
    q = DnsQuery("example.org", "MX", DnsOutcome.OK)
    return Resolution("example.org", ResolutionKind.MX, q, hosts=hosts, queries=(q,))


MX1 = MxHost("mx1.example.org", 10, MxTargetKind.HOSTNAME, ("198.51.100.1", "2001:db8::1"), rank=1)
MX2 = MxHost("mx2.example.org", 20, MxTargetKind.CNAME, ("198.51.100.7",), rank=2)
LIT = MxHost("[198.51.100.9]", 5, MxTargetKind.IP_LITERAL, ("198.51.100.9",), rank=1)
NOADDR = MxHost("gone.example.org", 5, MxTargetKind.NO_ADDRESS, (), rank=1)


def test_order_and_tls_mode() -> None:
    routes = plan_routes(_resolution(MX2, MX1, LIT, NOADDR), ProbeConfig(ports=(25, 465)))
    assert [(r.mx, r.address, r.port) for r in routes] == [
        ("mx1.example.org", "198.51.100.1", 25),
        ("mx1.example.org", "198.51.100.1", 465),
        ("mx1.example.org", "2001:db8::1", 25),
        ("mx1.example.org", "2001:db8::1", 465),
        ("mx2.example.org", "198.51.100.7", 25),
        ("mx2.example.org", "198.51.100.7", 465),
    ]
    assert [r.tls_mode for r in routes[:2]] == [TlsMode.STARTTLS, TlsMode.IMPLICIT]
    assert routes[2].family is AddressFamily.IPV6
    assert routes[4].rank == 2 and routes[4].preference == 20


def test_family_filter_dedupe_and_cap() -> None:
    dup = MxHost("MX1.example.org", 10, MxTargetKind.HOSTNAME, ("2001:db8:0::1",), rank=1)
    only6 = ProbeConfig(ports=(25,), families=(AddressFamily.IPV6,))
    routes = plan_routes(_resolution(MX1, dup), only6)
    assert [(r.address, r.port) for r in routes] == [("2001:db8::1", 25)]
    capped = plan_routes(_resolution(MX1, MX2), ProbeConfig(max_routes=4))
    assert len(capped) == 4


def test_implicit_tls_ports_from_config() -> None:
    config = ProbeConfig(ports=(2525, 4465), implicit_tls_ports=(4465,))
    routes = plan_routes(_resolution(MX2), config)
    assert [r.tls_mode for r in routes] == [TlsMode.STARTTLS, TlsMode.IMPLICIT]


def test_nothing_to_probe() -> None:
    assert plan_routes(_resolution(LIT, NOADDR), ProbeConfig()) == ()
