"""The local DNS server itself, asked with dnspython's own query functions."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import dns.asyncquery
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest

from smtpdiag.testing.dnsserver import (
    LocalDnsServer,
    ThreadedDnsServer,
    zone_text,
)

ZONE = {
    "@": ["MX 10 mx", "A 127.0.0.1"],
    "mx": "A 127.0.0.2",
    "www": "CNAME mx",
    "chain1": "CNAME chain2",
    "chain2": "CNAME mx",
    "loop1": "CNAME loop2",
    "loop2": "CNAME loop1",
    "out": "CNAME host.other.test.",
    "ent.below": "A 127.0.0.3",  # makes "below" an empty non-terminal
}
OTHER = {"host": "A 127.0.0.4"}


async def ask(server: LocalDnsServer, name: str, rdtype: str, *, tcp: bool = False) -> Any:
    request = dns.message.make_query(name, rdtype)
    if tcp:
        return await dns.asyncquery.tcp(request, server.address, timeout=2, port=server.port)
    return await dns.asyncquery.udp(request, server.address, timeout=2, port=server.port)


@pytest.fixture
async def server(dns_server: Any) -> LocalDnsServer:
    started: LocalDnsServer = await dns_server({"zone.test": ZONE, "other.test": OTHER})
    return started


async def test_answer_is_authoritative(server: LocalDnsServer) -> None:
    response = await ask(server, "mx.zone.test", "A")
    assert response.rcode() == dns.rcode.NOERROR
    assert response.flags & dns.flags.AA
    assert [rr.to_text() for rr in response.answer[0]] == ["127.0.0.2"]
    assert response.answer[0].ttl == 300


@pytest.mark.parametrize("tcp", [False, True])
async def test_nxdomain_and_nodata_carry_the_soa(server: LocalDnsServer, tcp: bool) -> None:
    nx = await ask(server, "nope.zone.test", "A", tcp=tcp)
    assert nx.rcode() == dns.rcode.NXDOMAIN
    assert nx.answer == []
    assert nx.authority[0].rdtype == dns.rdatatype.SOA
    assert nx.authority[0].ttl == 60  # min(SOA TTL, MINIMUM), RFC 2308 3

    nodata = await ask(server, "mx.zone.test", "AAAA", tcp=tcp)
    assert nodata.rcode() == dns.rcode.NOERROR
    assert nodata.answer == []
    assert nodata.authority[0].rdtype == dns.rdatatype.SOA


async def test_empty_non_terminal_is_nodata(server: LocalDnsServer) -> None:
    response = await ask(server, "below.zone.test", "A")
    assert response.rcode() == dns.rcode.NOERROR
    assert response.answer == []


async def test_cname_chains_are_followed(server: LocalDnsServer) -> None:
    response = await ask(server, "chain1.zone.test", "A")
    assert [rrset.rdtype for rrset in response.answer] == [
        dns.rdatatype.CNAME,
        dns.rdatatype.CNAME,
        dns.rdatatype.A,
    ]
    cross = await ask(server, "out.zone.test", "A")
    assert [rrset.rdtype for rrset in cross.answer] == [dns.rdatatype.CNAME, dns.rdatatype.A]
    assert cross.answer[1][0].to_text() == "127.0.0.4"
    as_cname = await ask(server, "www.zone.test", "CNAME")
    assert [rrset.rdtype for rrset in as_cname.answer] == [dns.rdatatype.CNAME]


async def test_cname_loop_is_servfail(server: LocalDnsServer) -> None:
    response = await ask(server, "loop1.zone.test", "A")
    assert response.rcode() == dns.rcode.SERVFAIL


async def test_names_outside_the_zones_are_refused(server: LocalDnsServer) -> None:
    response = await ask(server, "example.org", "A")
    assert response.rcode() == dns.rcode.REFUSED


async def test_faults_can_change_while_running(server: LocalDnsServer) -> None:
    server.set_fault("mx.zone.test", "servfail")
    assert (await ask(server, "mx.zone.test", "A")).rcode() == dns.rcode.SERVFAIL
    server.set_fault("mx.zone.test/A", "refused")
    assert (await ask(server, "mx.zone.test", "A")).rcode() == dns.rcode.REFUSED
    assert (await ask(server, "mx.zone.test", "MX")).rcode() == dns.rcode.SERVFAIL
    server.clear_faults()
    assert (await ask(server, "mx.zone.test", "A")).rcode() == dns.rcode.NOERROR
    server.set_fault("*.zone.test", "refused")
    assert (await ask(server, "deep.mx.zone.test", "A")).rcode() == dns.rcode.REFUSED
    assert (await ask(server, "zone.test", "A")).rcode() == dns.rcode.REFUSED
    assert (await ask(server, "host.other.test", "A")).rcode() == dns.rcode.NOERROR
    server.set_fault("*.zone.test", None)
    assert (await ask(server, "zone.test", "A")).rcode() == dns.rcode.NOERROR


async def test_drop_never_answers(server: LocalDnsServer) -> None:
    server.set_fault("mx.zone.test", "drop")
    with pytest.raises(dns.exception.Timeout):
        request = dns.message.make_query("mx.zone.test", "A")
        await dns.asyncquery.udp(request, server.address, timeout=0.3, port=server.port)


async def test_zones_can_be_added_while_running(server: LocalDnsServer) -> None:
    assert (await ask(server, "new.test", "A")).rcode() == dns.rcode.REFUSED
    server.add_zone("new.test", {"@": "A 127.0.0.5"})
    response = await ask(server, "new.test", "A")
    assert response.answer[0][0].to_text() == "127.0.0.5"


def test_unknown_fault_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown DNS fault"):
        LocalDnsServer({}, {"x.test": "explode"})
    with pytest.raises(ValueError, match="unknown DNS fault"):
        LocalDnsServer({}, {"x.test": "delay:1000"})


def test_zone_text_from_records() -> None:
    text = zone_text("a.test", {"@": ["MX 10 mx"], "mx": "A 127.0.0.1"})
    assert text.splitlines()[:3] == [
        "$ORIGIN a.test.",
        "$TTL 300",
        "@ SOA ns.a.test. hostmaster.a.test. 1 3600 600 86400 60",
    ]
    assert "mx A 127.0.0.1" in text


async def test_zone_text_without_soa_gets_one(dns_server: Any) -> None:
    server = await dns_server({"bare.test": "$ORIGIN bare.test.\n@ 60 IN A 127.0.0.9\n"})
    nodata = await ask(server, "bare.test", "MX")
    assert nodata.rcode() == dns.rcode.NOERROR
    assert nodata.authority[0].rdtype == dns.rdatatype.SOA
    answer = await ask(server, "bare.test", "A")
    assert answer.answer[0].ttl == 60


async def test_junk_is_ignored_and_the_server_keeps_answering(server: LocalDnsServer) -> None:
    loop = asyncio.get_running_loop()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        await loop.sock_connect(sock, (server.address, server.port))
        await loop.sock_sendall(sock, b"\x00\x01garbage")
        await loop.sock_sendall(sock, b"\xff" * 5000)
    _reader, writer = await asyncio.open_connection(server.address, server.port)
    writer.write(b"\x00\x05hello")  # framed junk over TCP
    await writer.drain()
    writer.close()
    await writer.wait_closed()
    assert (await ask(server, "mx.zone.test", "A")).rcode() == dns.rcode.NOERROR
    assert (await ask(server, "mx.zone.test", "A", tcp=True)).rcode() == dns.rcode.NOERROR


async def test_stop_releases_the_port(dns_server: Any) -> None:
    server = LocalDnsServer({"zone.test": ZONE})
    await server.start()
    port = server.port
    assert port > 0
    await server.stop()
    await server.stop()  # twice is fine
    again = LocalDnsServer({"zone.test": ZONE}, port=port)
    await again.start()
    try:
        assert again.port == port
        assert (await ask(again, "mx.zone.test", "A")).rcode() == dns.rcode.NOERROR
    finally:
        await again.stop()


def test_threaded_server_answers_sync_code() -> None:
    with ThreadedDnsServer({"zone.test": ZONE}) as threaded:
        assert threaded.port > 0
        request = dns.message.make_query("mx.zone.test", "A")
        response = dns.query.udp(request, threaded.address, timeout=2, port=threaded.port)
        assert response.answer[0][0].to_text() == "127.0.0.2"
        threaded.server.set_fault("mx.zone.test", "servfail")
        response = dns.query.udp(request, threaded.address, timeout=2, port=threaded.port)
        assert response.rcode() == dns.rcode.SERVFAIL
    # Stopped: the port no longer answers over TCP.
    with (
        pytest.raises(OSError),
        socket.create_connection((threaded.address, threaded.port), timeout=1),
    ):
        pass


def test_threaded_server_reports_bind_errors() -> None:
    with ThreadedDnsServer({"zone.test": ZONE}) as first:
        clash = ThreadedDnsServer({"zone.test": ZONE}, port=first.port)
        with pytest.raises(OSError):
            clash.start()
        clash.stop()
