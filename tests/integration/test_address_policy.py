"""A hostile MX pointing at the prober's own machine or internal networks is never
connected to (issue 8, item 5): proven by listening servers that record no connection.

The zone's MX host lists loopback, unspecified, IPv4-mapped, private, link-local
(the cloud metadata address) and broadcast addresses. A listener on 127.0.0.1 and one
on ::1, on the probed port, would see any connect to 127.0.0.1, 0.0.0.0,
::ffff:127.0.0.1, :: or ::1 (Linux delivers the unspecified and mapped forms to
loopback). A connect to 10.0.0.1, 169.254.169.254 or 255.255.255.255 would be caught
by the suite's network guard before a packet leaves (and fail the test).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
from collections.abc import Iterator
from contextlib import ExitStack

import pytest
from hostile import Conn, RawServer

from smtpdiag.api import probe
from smtpdiag.cli import main
from smtpdiag.config import ProbeConfig, ResolverConfig, Timeouts
from smtpdiag.model import (
    AddressClass,
    AddressFamily,
    Outcome,
    Phase,
    ProbeReport,
    Route,
    SkipReason,
    TlsMode,
)
from smtpdiag.probing import probe_route

HOSTILE = [
    "A 127.0.0.1",
    "A 0.0.0.0",
    "A 10.0.0.1",
    "A 169.254.169.254",
    "A 255.255.255.255",
    "AAAA ::",
    "AAAA ::ffff:127.0.0.1",
    "AAAA ::1",
]


def _canon(address: str) -> str:
    # Python 3.11 writes ::ffff:127.0.0.1 as ::ffff:7f00:1, 3.13 keeps the dotted form.
    return str(ipaddress.ip_address(address))


CLASSES_TEXT = {
    "127.0.0.1": AddressClass.LOOPBACK,
    "0.0.0.0": AddressClass.UNSPECIFIED,
    "10.0.0.1": AddressClass.PRIVATE,
    "169.254.169.254": AddressClass.LINK_LOCAL,
    "255.255.255.255": AddressClass.BROADCAST,
    "::": AddressClass.UNSPECIFIED,
    "::ffff:127.0.0.1": AddressClass.LOOPBACK,
    "::1": AddressClass.LOOPBACK,
}
CLASSES = {_canon(a): c for a, c in CLASSES_TEXT.items()}


def _greet(conn: Conn) -> None:
    conn.send("220 mx.hostile.test ESMTP\r\n")
    conn.wait_closed()


@pytest.fixture
def listeners() -> Iterator[list[RawServer]]:
    """A greeting server on 127.0.0.1 and, where possible, one on ::1, same port."""
    with ExitStack() as stack:
        v4 = stack.enter_context(RawServer(_greet))
        servers = [v4]
        # No IPv6 loopback here (or the port is taken): the IPv4 side still counts.
        with contextlib.suppress(OSError):
            servers.append(stack.enter_context(RawServer(_greet, host="::1", port=v4.port)))
        yield servers


def _config(nameserver: object, port: int, allow: tuple[str, ...] = ()) -> ProbeConfig:
    return ProbeConfig(
        ports=(port,),
        resolver=ResolverConfig((nameserver,)),  # type: ignore[arg-type]
        timeouts=Timeouts(dns=1.0, connect=1.0, greeting=1.0, command=1.0, tls=1.0, total=5.0),
        allow_targets=allow,
    )


def _by_address(report: ProbeReport) -> dict[str, tuple[Outcome, SkipReason | None]]:
    out = {}
    for result in report.routes:
        first = result.phases[0]
        out[_canon(result.route.address)] = (first.outcome, first.skip_reason)
    return out


async def test_hostile_mx_addresses_are_never_connected_to(
    dns_server: object, listeners: list[RawServer]
) -> None:
    zone = {"hostile.test": {"@": "MX 10 mx", "mx": HOSTILE}}
    dns = await dns_server(zone)  # type: ignore[operator]
    report = await probe("hostile.test", _config(dns.nameserver, listeners[0].port))
    assert [s.connections for s in listeners] == [0] * len(listeners)
    assert len(report.routes) == len(HOSTILE)
    for result in report.routes:
        (record,) = result.phases
        assert (record.phase, record.outcome, record.skip_reason) == (
            Phase.CONNECT,
            Outcome.NOT_ATTEMPTED,
            SkipReason.ADDRESS_POLICY,
        ), result
        assert record.duration_ms == 0.0 and record.detail
        assert result.route.address_class is CLASSES[result.route.address]
        assert result.route.allowed is False
        assert not result.ok
    # Never a "deliverable" domain on the strength of the prober's own machine.
    assert report.diagnosis is not None and report.diagnosis.verdict.value != "healthy"


async def test_allow_targets_probes_inside_but_never_unspecified_or_broadcast(
    dns_server: object, listeners: list[RawServer]
) -> None:
    zone = ["A 127.0.0.1", "A 0.0.0.0", "A 255.255.255.255", "AAAA ::", "AAAA ::ffff:127.0.0.1"]
    dns = await dns_server({"lab.test": {"@": "MX 10 mx", "mx": zone}})  # type: ignore[operator]
    # Even "everything" allowed: unspecified and broadcast addresses are no TCP peers.
    config = _config(dns.nameserver, listeners[0].port, ("0.0.0.0/0", "::/0"))
    report = await probe("lab.test", config)
    got = _by_address(report)
    for address in ("0.0.0.0", "255.255.255.255", "::"):
        assert got[_canon(address)] == (Outcome.NOT_ATTEMPTED, SkipReason.ADDRESS_POLICY), address
    for address in ("127.0.0.1", "::ffff:127.0.0.1"):
        assert got[_canon(address)][0] is not Outcome.NOT_ATTEMPTED, address
    allowed = {_canon(r.route.address): r.route.allowed for r in report.routes}
    assert allowed["127.0.0.1"] and allowed[_canon("::ffff:127.0.0.1")]
    # The two probed routes are the two connections the IPv4 listener saw.
    assert listeners[0].connections == 2


def test_cli_allow_targets_is_validated() -> None:
    assert main(["probe", "example.test", "--allow-targets", "10.0.0.0/33"]) == 2


def test_source_of_truth_is_the_runner(listeners: list[RawServer]) -> None:
    """A route built by hand (no class set) is still held to the policy by the runner."""
    port = listeners[0].port
    route = Route("mx.test", 10, 1, "127.0.0.1", AddressFamily.IPV4, port, TlsMode.STARTTLS)
    result = asyncio.run(probe_route(route, ProbeConfig()))
    assert result.phases[0].skip_reason is SkipReason.ADDRESS_POLICY
    assert result.route.address_class is AddressClass.LOOPBACK
    assert listeners[0].connections == 0


async def test_skipped_routes_reach_the_live_trace(dns_server: object) -> None:
    zone = {"traced.test": {"@": "MX 10 mx", "mx": ["A 10.0.0.1"]}}
    dns = await dns_server(zone)  # type: ignore[operator]
    seen: list[tuple[str, Outcome]] = []
    config = _config(dns.nameserver, 25)
    await probe("traced.test", config, trace=lambda r, rec: seen.append((r.address, rec.outcome)))
    assert seen == [("10.0.0.1", Outcome.NOT_ATTEMPTED)]
