"""Hostile DNS: huge answers, CNAME loops, mismatched replies, endless truncation.

The resolve stage must end every question within its lifetime (plus the guard's
slack), keep only bounded parts of what it was sent, and turn every oddity into an
outcome. Friendly-but-large zones come from :class:`LocalDnsServer`; the hostile
server here is a raw UDP/TCP endpoint whose replies are written by hand.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import time
import tracemalloc
from collections.abc import AsyncIterator, Callable
from typing import Any

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

from smtpdiag.api import probe
from smtpdiag.config import Nameserver, ProbeConfig, ResolverConfig, Timeouts
from smtpdiag.model import DnsOutcome, MxTargetKind, ResolutionKind
from smtpdiag.resolve import resolve_domain
from smtpdiag.resolve.mx import MAX_ADDRESSES_PER_FAMILY, MAX_MX_HOSTS
from smtpdiag.resolve.resolver import MAX_ANSWERS

#: Slack on top of a question's lifetime: the resolver's guard (0.25 s) and scheduling.
SLACK = 0.5

Reply = Callable[[dns.message.Message, bytes], list[bytes]]


def _config(ns: Nameserver, dns_limit: float = 1.0, total: float = 5.0) -> ProbeConfig:
    return ProbeConfig(
        timeouts=Timeouts(dns=dns_limit, total=total),
        resolver=ResolverConfig(nameservers=(ns,)),
    )


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, reply: Reply) -> None:
        self.reply = reply
        self.transport: asyncio.DatagramTransport | None = None
        self.queries = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        self.queries += 1
        if self.queries > 10_000 or self.transport is None:
            return
        try:
            request = dns.message.from_wire(data)
        except Exception:
            return
        for wire in self.reply(request, data):
            self.transport.sendto(wire, addr)


@contextlib.asynccontextmanager
async def hostile_dns(reply: Reply, *, tcp_reset: bool = False) -> AsyncIterator[Any]:
    """A UDP server answering with ``reply(request)``; TCP either answers the same way
    or (``tcp_reset``) resets every connection at once."""
    loop = asyncio.get_running_loop()
    tcp_connections = 0

    async def serve_tcp(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal tcp_connections
        tcp_connections += 1
        try:
            if tcp_reset:
                sock = writer.get_extra_info("socket")
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                writer.transport.abort()
                return
            size = int.from_bytes(await reader.readexactly(2), "big")
            data = await reader.readexactly(size)
            for wire in reply(dns.message.from_wire(data), data):
                writer.write(len(wire).to_bytes(2, "big") + wire)
            await writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.transport.abort()

    # The UDP port's number may be taken for TCP (another socket's ephemeral port):
    # pick again, a bounded number of times, closing what was opened.
    for attempt in range(20):
        transport, udp = await loop.create_datagram_endpoint(
            lambda: _Udp(reply), local_addr=("127.0.0.1", 0)
        )
        port = transport.get_extra_info("sockname")[1]
        try:
            server = await asyncio.start_server(serve_tcp, "127.0.0.1", port)
            break
        except OSError:
            transport.close()
            if attempt == 19:
                raise

    class Handle:
        nameserver = Nameserver("127.0.0.1", port)

        @staticmethod
        def counts() -> tuple[int, int]:
            return udp.queries, tcp_connections

    try:
        yield Handle
    finally:
        transport.close()
        server.close()
        await server.wait_closed()


def _answer(request: dns.message.Message, *rrsets: str) -> dns.message.Message:
    response = dns.message.make_response(request)
    response.flags |= dns.flags.AA
    for text in rrsets:
        name, ttl, rdclass, rdtype, *rdata = text.split()
        response.answer.append(
            dns.rrset.from_text(name, int(ttl), rdclass, rdtype, " ".join(rdata))
        )
    return response


# ---------------------------------------------------------------- big answers


async def test_five_hundred_a_records_over_tcp(dns_server: Any) -> None:
    """500 A records (too big for UDP: TC, then TCP): kept to a few, quickly."""
    many = [f"A 127.0.{i // 250}.{i % 250 + 1}" for i in range(500)]
    server = await dns_server({"big.test": {"@": "MX 10 mx", "mx": many}})
    start = time.monotonic()
    resolution = await resolve_domain("big.test", _config(server.nameserver))
    assert time.monotonic() - start < 1.0
    (host,) = resolution.hosts
    assert len(host.addresses) == MAX_ADDRESSES_PER_FAMILY
    a_query = next(q for q in host.queries if q.rdtype == "A")
    assert a_query.outcome is DnsOutcome.OK and len(a_query.answers) == MAX_ANSWERS
    assert any(q.transport == "tcp" for q in server.received)


async def test_largest_tcp_answer_costs_bounded_memory() -> None:
    """A ~64 KB MX answer (the TCP maximum) of long names: bounded work and memory."""
    names = [("x" * 60 + ".") * 3 + f"n{i}.test." for i in range(300)]
    rrsets = [f"bigmx.test. 60 IN MX {i} {name}" for i, name in enumerate(names)]
    # Built once (the server's cost is not what is measured); the ID is patched per query.
    template = _answer(dns.message.make_query("bigmx.test", "MX"), *rrsets).to_wire(max_size=65535)
    assert len(template) > 50_000

    def reply(request: dns.message.Message, _: bytes) -> list[bytes]:
        if request.question[0].rdtype != dns.rdatatype.MX:
            return [dns.message.make_response(request).to_wire()]  # NODATA
        return [request.id.to_bytes(2, "big") + template[2:]]

    async with hostile_dns(reply) as server:
        tracemalloc.start()
        try:
            start = time.monotonic()
            resolution = await resolve_domain("bigmx.test", _config(server.nameserver))
            elapsed = time.monotonic() - start
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    # A hang guard, not a speed target (that lives in scripts/bench.py): tracemalloc
    # slows this several-fold on a loaded machine.
    assert elapsed < 10.0
    assert peak < 8_000_000, f"peak {peak / 1e6:.1f} MB"
    assert resolution.kind is ResolutionKind.MX
    assert len(resolution.hosts) == MAX_MX_HOSTS
    assert len(resolution.mx_query.answers) == MAX_ANSWERS
    assert all(len(a) <= 300 for a in resolution.mx_query.answers)


# --------------------------------------------------------------- CNAME loops


async def test_cname_loop_inside_one_answer() -> None:
    """The answer itself loops (a -> b -> a): an error outcome, not a hang."""

    def reply(request: dns.message.Message, _: bytes) -> list[bytes]:
        qname = request.question[0].name.to_text()
        if qname == "loop.test.":
            return [_answer(request, "loop.test. 60 IN MX 10 mx.loop.test.").to_wire()]
        return [
            _answer(
                request,
                "mx.loop.test. 60 IN CNAME alias.loop.test.",
                "alias.loop.test. 60 IN CNAME mx.loop.test.",
            ).to_wire()
        ]

    async with hostile_dns(reply) as server:
        start = time.monotonic()
        resolution = await resolve_domain("loop.test", _config(server.nameserver))
        assert time.monotonic() - start < 1.0
    (host,) = resolution.hosts
    assert host.kind is MxTargetKind.LOOKUP_FAILED
    assert not host.addresses
    assert all(q.outcome is not DnsOutcome.OK for q in host.queries)


async def test_mx_pointing_at_itself_through_a_cname_loop(dns_server: Any) -> None:
    """mx CNAME alias, alias CNAME mx: the server gives up (SERVFAIL); so do we."""
    server = await dns_server(
        {"self.test": {"@": "MX 10 mx", "mx": "CNAME alias", "alias": "CNAME mx"}}
    )
    start = time.monotonic()
    resolution = await resolve_domain("self.test", _config(server.nameserver))
    assert time.monotonic() - start < 1.0
    (host,) = resolution.hosts
    assert host.kind is MxTargetKind.LOOKUP_FAILED
    assert {q.outcome for q in host.queries} == {DnsOutcome.SERVFAIL}


# ---------------------------------------------------- replies that don't match


def _mismatched(kind: str) -> Reply:
    def reply(request: dns.message.Message, wire: bytes) -> list[bytes]:
        out = []
        for i in range(50):  # a flood of near-misses for every query
            response = _answer(request, f"{request.question[0].name} 60 IN MX 10 evil.test.")
            if kind == "id":
                response.id = (request.id + 1 + i) % 65536
            else:
                response.question[0].name = dns.name.from_text(f"other{i}.test.")
            out.append(response.to_wire())
        return out

    return reply


@pytest.mark.parametrize("kind", ["id", "qname"])
async def test_mismatched_replies_are_ignored_within_the_lifetime(kind: str) -> None:
    async with hostile_dns(_mismatched(kind)) as server:
        before = asyncio.all_tasks()
        start = time.monotonic()
        resolution = await resolve_domain("victim.test", _config(server.nameserver, 0.8))
        elapsed = time.monotonic() - start
        await asyncio.sleep(0)
        assert asyncio.all_tasks() == before  # nothing of the question left running
    assert elapsed < 0.8 + SLACK
    assert resolution.kind is ResolutionKind.FAILED
    assert resolution.mx_query.outcome in (DnsOutcome.TIMEOUT, DnsOutcome.ERROR)
    assert "evil" not in repr(resolution)


async def test_truncated_forever_and_tcp_resets() -> None:
    """UDP always says TC, TCP always resets: bounded by the lifetime, few retries."""

    def reply(request: dns.message.Message, _: bytes) -> list[bytes]:
        response = dns.message.make_response(request)
        response.flags |= dns.flags.TC
        return [response.to_wire()]

    async with hostile_dns(reply, tcp_reset=True) as server:
        before = asyncio.all_tasks()
        start = time.monotonic()
        resolution = await resolve_domain("tc.test", _config(server.nameserver, 0.8))
        elapsed = time.monotonic() - start
        await asyncio.sleep(0)
        assert asyncio.all_tasks() == before
        udp_queries, tcp_connections = server.counts()
    assert elapsed < 0.8 + SLACK
    assert resolution.kind is ResolutionKind.FAILED
    assert resolution.mx_query.outcome in (DnsOutcome.TIMEOUT, DnsOutcome.ERROR)
    assert resolution.mx_query.detail
    assert tcp_connections >= 1
    assert udp_queries < 200 and tcp_connections < 200  # back-off, not a busy loop


# ------------------------------------------- answers that are answers (issue 8)


async def test_cname_loop_in_the_mx_answer_is_an_answer() -> None:
    """The MX answer loops (domain -> a -> domain): an error from that nameserver, and
    the probe did run (no "no nameserver answered", no exit 5)."""

    def reply(request: dns.message.Message, _: bytes) -> list[bytes]:
        return [
            _answer(
                request,
                "loop.test. 60 IN CNAME a.loop.test.",
                "a.loop.test. 60 IN CNAME loop.test.",
            ).to_wire()
        ]

    async with hostile_dns(reply) as server:
        report = await probe("loop.test", _config(server.nameserver), diagnose=False)
    query = report.resolution.mx_query
    assert query.outcome is DnsOutcome.ERROR and query.detail
    assert query.nameserver == str(server.nameserver)
    assert report.could_not_run is False


async def test_malformed_reply_is_an_answer() -> None:
    """Bytes that are not a DNS message (same ID, then junk): that server answered."""

    def reply(request: dns.message.Message, wire: bytes) -> list[bytes]:
        return [wire[:2] + b"\x81\x80junk"]

    async with hostile_dns(reply) as server:
        start = time.monotonic()
        report = await probe("junk.test", _config(server.nameserver), diagnose=False)
        elapsed = time.monotonic() - start
    query = report.resolution.mx_query
    assert query.outcome is DnsOutcome.ERROR
    assert query.nameserver == str(server.nameserver)
    assert query.detail and "malformed" in query.detail
    assert report.could_not_run is False
    assert elapsed < 1.0  # not a wait for the lifetime


async def test_silence_is_still_could_not_run() -> None:
    def reply(request: dns.message.Message, wire: bytes) -> list[bytes]:
        return []

    async with hostile_dns(reply) as server:
        report = await probe("quiet.test", _config(server.nameserver, 0.3), diagnose=False)
    assert report.resolution.mx_query.nameserver is None
    assert report.could_not_run is True


async def test_per_attempt_timeout_follows_dns_timeout(dns_server: Any) -> None:
    """A nameserver answering in 3 s with --dns-timeout 5 is heard (it used to be cut
    at a fixed 2 s per attempt, then "never answered")."""
    server = await dns_server(
        {"slow.test": {"@": "MX 10 mx", "mx": "A 127.0.0.1"}}, {"slow.test/MX": "delay:3"}
    )
    resolution = await resolve_domain("slow.test", _config(server.nameserver, 5.0, 8.0))
    assert resolution.mx_query.outcome is DnsOutcome.OK
    assert 2900 <= resolution.mx_query.duration_ms < 4500


async def test_caps_are_counted(dns_server: Any) -> None:
    mx = [f"MX {i} mx{i}" for i in range(MAX_MX_HOSTS + 5)]
    zone: dict[str, Any] = {"@": mx}
    zone.update({f"mx{i}": "A 127.0.0.1" for i in range(MAX_MX_HOSTS + 5)})
    zone["mx0"] = [f"A 127.0.1.{i}" for i in range(1, MAX_ADDRESSES_PER_FAMILY + 5)]
    server = await dns_server({"capped.test": zone})
    resolution = await resolve_domain("capped.test", _config(server.nameserver, 2.0))
    assert len(resolution.hosts) == MAX_MX_HOSTS and resolution.hosts_omitted == 5
    first = resolution.hosts[0]
    assert len(first.addresses) == MAX_ADDRESSES_PER_FAMILY and first.addresses_omitted == 4
    assert all(h.addresses_omitted == 0 for h in resolution.hosts[1:])
