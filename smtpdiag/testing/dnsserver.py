"""A small authoritative DNS server on loopback, for tests and ``smtpdiag demo``.

It answers from zone data (zone text or a dict of records), over UDP and TCP on the
same port, on 127.0.0.1 and optionally ::1, and can misbehave on purpose per name::

    async with LocalDnsServer(
        zones={"example.test": {"@": ["MX 10 mx1"], "mx1": ["A 127.0.0.2"]}},
        faults={"broken.test": "servfail"},
    ) as dns:
        config = ProbeConfig(resolver=ResolverConfig(nameservers=(dns.nameserver,)))

From synchronous code (a CLI run in a subprocess, the demo) run it in a thread::

    with ThreadedDnsServer(zones=...) as dns:
        subprocess.run(["smtpdiag", "probe", "--nameserver", str(dns.nameserver), ...])

What it does: exact answers with the AA bit; NXDOMAIN and NODATA with the zone's SOA
in the authority section (RFC 2308 3); CNAME chains followed within its own zones
(RFC 1034 4.3.2); answers too large for the client's UDP size are sent with TC set
and no records, so the client retries over TCP (RFC 1035 4.2.1, RFC 6891 6.2.5);
REFUSED for names outside its zones. What it does not: recursion, wildcards,
delegations, DNSSEC signing or validation, zone transfers.

A stand-in for a validating resolver: zones listed in ``secure`` are answered with
the AD bit set when the question asks for DNSSEC (DO or AD set, RFC 6840 5.7), as a
validating resolver does for data it validated; a ``servfail`` fault stands in for
its answer to data that fails validation (bogus). Nothing is signed or validated
here: that is the lab tier's job (NSD serving a signed zone, unbound validating).
TLSA records are zone data like any other (``"_25._tcp.mx1": "TLSA 3 1 1 ab12..."``).

Faults, keyed by ``name`` (exactly that name), ``*.name`` (the name and everything
below it) or ``name/TYPE`` (one record type of one name):

- ``servfail``: answer SERVFAIL.
- ``refused``: answer REFUSED.
- ``formerr``: answer FORMERR (the server claims the question was malformed).
- ``drop``: never answer (the client times out).
- ``garbage``: answer with bytes that are not a DNS message (same ID, then junk).
- ``truncate``: over UDP, answer with TC set and no records (TCP answers normally).
- ``delay:SECONDS``: answer correctly after a delay (at most 30 s).

Everything is bounded: datagram and message sizes, TCP connections, queries per
connection, idle time, pending delayed answers and the query log.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import socket
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import cast

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.rrset
import dns.zone

from ..config import Nameserver
from .threaded import AsyncServerContext, ThreadedServer

__all__ = [
    "FAULTS",
    "LocalDnsServer",
    "ReceivedQuery",
    "ThreadedDnsServer",
    "ZoneData",
    "ipv6_loopback_available",
    "zone_text",
]

#: A zone as text (master file format, ``$ORIGIN`` optional), a path to a zone file, or
#: a mapping of owner names (relative, ``@`` for the apex) to records ``"TYPE RDATA"`` or
#: ``"TTL TYPE RDATA"`` (one or a list).
ZoneData = str | os.PathLike[str] | Mapping[str, str | Sequence[str]]

#: The fault names understood (besides ``delay:SECONDS``).
FAULTS = frozenset({"servfail", "refused", "formerr", "drop", "truncate", "garbage"})

_MAX_UDP_QUERY = 4096  # a query is a few dozen bytes; anything bigger is junk
_MAX_TCP_MESSAGE = 65535  # the two-byte length prefix allows no more (RFC 1035 4.2.2)
_MAX_TCP_CONNECTIONS = 64
_MAX_QUERIES_PER_CONNECTION = 200
_TCP_IDLE_TIMEOUT = 10.0
_MAX_PENDING_DELAYED = 256
_MAX_DELAY = 30.0
_MAX_CNAME_CHAIN = 8
_QUERY_LOG_SIZE = 10_000
_BIND_ATTEMPTS = 20
_DEFAULT_TTL = 300
_CLASSIC_UDP_SIZE = 512  # RFC 1035 4.2.1, without EDNS


@dataclass(frozen=True, slots=True)
class ReceivedQuery:
    """A question the server received, for tests to assert on.

    Attributes:
        name: The queried name, lower case, without the trailing dot.
        rdtype: Record type as text ("A", "MX", ...).
        transport: ``"udp"`` or ``"tcp"``.
    """

    name: str
    rdtype: str
    transport: str


def zone_text(origin: str, records: Mapping[str, str | Sequence[str]], ttl: int = 300) -> str:
    """Master-file text for ``origin`` built from a mapping of owner to records.

    ``{"@": ["MX 10 mx1", "A 127.0.0.1"], "mx1": "A 127.0.0.2"}`` becomes
    ``$ORIGIN``/``$TTL`` lines and one line per record. A SOA is added when absent.
    """
    origin = origin.rstrip(".") + "."
    lines = [f"$ORIGIN {origin}", f"$TTL {int(ttl)}"]
    has_soa = False
    for owner, value in records.items():
        items = [value] if isinstance(value, str) else list(value)
        for item in items:
            if item.split(None, 1)[0].upper() == "SOA":
                has_soa = True
            lines.append(f"{owner} {item}")
    if not has_soa:
        lines.insert(2, f"@ SOA {_default_soa(origin)}")
    return "\n".join(lines) + "\n"


def _default_soa(origin: str) -> str:
    """SOA rdata for a zone given without one (the root zone's names have no extra dot)."""
    suffix = "" if origin == "." else origin
    return f"ns.{suffix} hostmaster.{suffix} 1 3600 600 86400 60"


def _load_zone(origin: str, data: ZoneData) -> dns.zone.Zone:
    if isinstance(data, os.PathLike):
        with open(data, encoding="utf-8") as fh:
            text = fh.read(4 << 20)  # zone files for tests are small; bound it anyway
    elif isinstance(data, str):
        text = data
    else:
        text = zone_text(origin, data)
    zone = dns.zone.from_text(
        text, origin=origin.rstrip(".") + ".", relativize=False, check_origin=False
    )
    apex = zone.origin
    assert apex is not None
    if zone.get_rdataset(apex, dns.rdatatype.SOA) is None:
        # Negative answers carry the SOA (RFC 2308 3); give text without one a default.
        soa = dns.rdata.from_text(
            dns.rdataclass.IN,
            dns.rdatatype.SOA,
            _default_soa(apex.to_text()),
        )
        rds = zone.find_rdataset(apex, dns.rdatatype.SOA, create=True)
        rds.add(soa, _DEFAULT_TTL)
    return zone


def _fault_key(key: str) -> tuple[str, str | None]:
    name, _, rdtype = key.partition("/")
    return name.strip().rstrip(".").lower(), (rdtype.strip().upper() or None)


def _check_fault(fault: str) -> str:
    fault = fault.strip().lower()
    if fault in FAULTS:
        return fault
    if fault.startswith("delay:"):
        try:
            seconds = float(fault[6:])
        except ValueError:
            seconds = -1.0
        if 0 <= seconds <= _MAX_DELAY:
            return fault
    raise ValueError(f"unknown DNS fault {fault!r}; use one of {sorted(FAULTS)} or delay:SECONDS")


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, server: LocalDnsServer) -> None:
        self._server = server
        self.transport: asyncio.DatagramTransport | None = None
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        if len(data) > _MAX_UDP_QUERY or self.transport is None:
            return
        self._server._handle_datagram(self.transport, data, addr)

    def error_received(self, exc: Exception) -> None:  # ICMP errors from clients gone away
        pass


class LocalDnsServer(AsyncServerContext):
    """An authoritative DNS server on loopback; an async context manager.

    Args:
        zones: Zone origin -> zone text or record mapping (see :data:`ZoneData`).
        faults: Fault key -> fault (see the module docstring).
        host: IPv4 address to listen on.
        port: Port for UDP and TCP; 0 picks a free one.
        ipv6: Also listen on ::1 (same port).
        secure: Zone origins whose answers (records, NODATA, NXDOMAIN) carry the AD
            bit when the question has DO or AD set: the server then stands in for a
            validating resolver that found them secure. Other zones read as insecure.

    Attributes:
        received: The questions received so far, oldest first (at most 10,000).
    """

    def __init__(
        self,
        zones: Mapping[str, ZoneData] | None = None,
        faults: Mapping[str, str] | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        ipv6: bool = False,
        secure: Iterable[str] = (),
    ) -> None:
        self._zones: dict[dns.name.Name, dns.zone.Zone] = {}
        self._secure: frozenset[dns.name.Name] = frozenset()
        for origin in secure:
            self.set_secure(origin, True)
        for origin, data in (zones or {}).items():
            self.add_zone(origin, data)
        self._faults: dict[tuple[str, str | None], str] = {}
        for key, fault in (faults or {}).items():
            self.set_fault(key, fault)
        self._host = host
        self._requested_port = port
        self._ipv6 = ipv6
        self._port = 0
        self._udp: list[tuple[asyncio.DatagramTransport, _Udp]] = []
        self._tcp: list[asyncio.Server] = []
        self._tcp_connections: set[asyncio.Task[None]] = set()
        self._pending: set[asyncio.Task[None]] = set()
        self._log: deque[ReceivedQuery] = deque(maxlen=_QUERY_LOG_SIZE)

    # ------------------------------------------------------------------ data

    def add_zone(self, origin: str, data: ZoneData) -> None:
        """Serve ``origin`` from ``data`` (replacing a zone of the same origin)."""
        zone = _load_zone(origin, data)
        updated = dict(self._zones)
        updated[zone.origin] = zone  # type: ignore[index]
        self._zones = updated  # swapped whole: the server thread never sees half a dict

    def set_secure(self, origin: str, secure: bool = True) -> None:
        """Answer for the zone ``origin`` with (or without) the AD bit; see ``secure``."""
        name = dns.name.from_text(origin.rstrip(".") + ".")
        self._secure = self._secure | {name} if secure else self._secure - {name}

    def set_fault(self, key: str, fault: str | None) -> None:
        """Inject ``fault`` for ``name``, ``*.name`` or ``name/TYPE``; ``None`` clears it."""
        parsed = _fault_key(key)
        updated = dict(self._faults)
        if fault is None:
            updated.pop(parsed, None)
        else:
            updated[parsed] = _check_fault(fault)
        self._faults = updated

    def clear_faults(self) -> None:
        """Remove every injected fault."""
        self._faults = {}

    @property
    def received(self) -> list[ReceivedQuery]:
        return list(self._log)

    def asked(self, name: str, rdtype: str | None = None) -> bool:
        """Whether a question for ``name`` (and ``rdtype``, if given) was received."""
        name = name.rstrip(".").lower()
        return any(
            q.name == name and (rdtype is None or q.rdtype == rdtype.upper()) for q in self._log
        )

    # -------------------------------------------------------------- endpoints

    @property
    def address(self) -> str:
        """The IPv4 address listened on."""
        return self._host

    @property
    def port(self) -> int:
        """The port (UDP and TCP); 0 before :meth:`start`."""
        return self._port

    @property
    def nameserver(self) -> Nameserver:
        """This server as a :class:`~smtpdiag.config.Nameserver` (IPv4)."""
        return Nameserver(self._host, self._port)

    @property
    def nameservers(self) -> tuple[Nameserver, ...]:
        """Every address listened on, IPv4 first."""
        servers = [Nameserver(self._host, self._port)]
        if self._ipv6:
            servers.append(Nameserver("::1", self._port))
        return tuple(servers)

    async def start(self) -> None:
        """Bind UDP and TCP on one port (retrying another free port if needed)."""
        if self._udp:
            raise RuntimeError("LocalDnsServer already started")
        loop = asyncio.get_running_loop()
        hosts = [self._host] + (["::1"] if self._ipv6 else [])
        last_error: OSError | None = None
        for _ in range(_BIND_ATTEMPTS if self._requested_port == 0 else 1):
            port = self._requested_port
            try:
                for host in hosts:
                    transport, protocol = await loop.create_datagram_endpoint(
                        lambda: _Udp(self), local_addr=(host, port)
                    )
                    self._udp.append((transport, protocol))
                    if port == 0:
                        port = int(transport.get_extra_info("sockname")[1])
                    tcp = await asyncio.start_server(
                        self._serve_tcp, host, port, reuse_address=True, backlog=64
                    )
                    self._tcp.append(tcp)
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE:
                    await self.stop()
                    raise
                last_error = exc
                await self.stop()
                continue
            self._port = port
            return
        assert last_error is not None
        raise last_error

    async def stop(self) -> None:
        """Close every socket and cancel pending work. Safe to call twice."""
        udp, self._udp = self._udp, []
        for transport, _ in udp:
            transport.close()
        for _, protocol in udp:
            # The socket is released only when the loop runs connection_lost.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(5):
                    await protocol.closed
        for server in self._tcp:
            server.close()
        tasks = [*self._tcp_connections, *self._pending]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for server in self._tcp:
            with contextlib.suppress(Exception):
                await server.wait_closed()
        self._tcp = []

    def run_in_thread(self) -> ThreadedDnsServer:
        """This (not yet started) server, to be run in a background thread."""
        return ThreadedDnsServer(server=self)

    # ------------------------------------------------------------- transport

    def _handle_datagram(
        self, transport: asyncio.DatagramTransport, data: bytes, addr: tuple[str | int, ...]
    ) -> None:
        result = self._respond(data, "udp")
        if result is None:
            return
        wire, delay = result
        if delay <= 0:
            transport.sendto(wire, addr)
            return
        if len(self._pending) >= _MAX_PENDING_DELAYED:
            return

        async def later() -> None:
            await asyncio.sleep(delay)
            if not transport.is_closing():
                transport.sendto(wire, addr)

        task = asyncio.get_running_loop().create_task(later())
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is None or len(self._tcp_connections) >= _MAX_TCP_CONNECTIONS:
            writer.close()
            return
        self._tcp_connections.add(task)
        try:
            for _ in range(_MAX_QUERIES_PER_CONNECTION):
                async with asyncio.timeout(_TCP_IDLE_TIMEOUT):
                    head = await reader.readexactly(2)
                    size = int.from_bytes(head, "big")
                    data = await reader.readexactly(size)
                result = self._respond(data, "tcp")
                if result is None:
                    continue  # "drop": say nothing, keep the connection until idle
                wire, delay = result
                if delay > 0:
                    await asyncio.sleep(delay)
                writer.write(len(wire).to_bytes(2, "big") + wire)
                await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self._tcp_connections.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    # --------------------------------------------------------------- answers

    def _fault_for(self, qname: dns.name.Name, rdtype: str) -> str | None:
        faults = self._faults
        if not faults:
            return None
        text = qname.to_text(omit_final_dot=True).lower()
        for key in ((text, rdtype), (text, None), (f"*.{text}", None)):
            if key in faults:
                return faults[key]
        labels = text.split(".")
        for i in range(1, len(labels)):
            parent = "*." + ".".join(labels[i:])
            if (parent, None) in faults:
                return faults[(parent, None)]
        return None

    def _zone_for(self, name: dns.name.Name) -> dns.zone.Zone | None:
        best: dns.zone.Zone | None = None
        best_len = -1
        for origin, zone in self._zones.items():
            if name.is_subdomain(origin) and len(origin) > best_len:
                best, best_len = zone, len(origin)
        return best

    def _respond(self, data: bytes, transport: str) -> tuple[bytes, float] | None:
        """The wire answer to ``data`` and how long to wait before sending it."""
        request = _question_message(data)
        if request is None:
            return None
        response = dns.message.make_response(request)
        if request.opcode() != dns.opcode.QUERY or len(request.question) != 1:
            response.set_rcode(
                dns.rcode.NOTIMP if len(request.question) == 1 else dns.rcode.FORMERR
            )
            return response.to_wire(), 0.0
        question = request.question[0]
        rdtype_text = dns.rdatatype.to_text(question.rdtype)
        self._log.append(
            ReceivedQuery(
                question.name.to_text(omit_final_dot=True).lower(), rdtype_text, transport
            )
        )
        fault = self._fault_for(question.name, rdtype_text)
        if fault == "drop":
            return None
        if fault is not None:
            reply = _fault_reply(fault, data, response, transport)
            if reply is not None:
                return reply
        delay = _fault_delay(fault)
        return self._answer(request, response, transport), delay

    def _answer(
        self, request: dns.message.Message, response: dns.message.Message, transport: str
    ) -> bytes:
        """The answer from the zones to the one question of ``request``, on the wire."""
        question = request.question[0]
        if question.rdclass != dns.rdataclass.IN:
            response.set_rcode(dns.rcode.REFUSED)
            return response.to_wire()
        try:
            self._fill(response, question.name, question.rdtype)
        except Exception:  # a bug or odd zone data must not kill the server: SERVFAIL
            response = dns.message.make_response(request)
            response.set_rcode(dns.rcode.SERVFAIL)
            return response.to_wire()
        if self._authenticated(request, response, question.name):
            response.flags |= dns.flags.AD
        try:
            # Records go out in zone order, not shuffled: tests assert on answer order.
            return response.to_wire(max_size=_size_limit(request, transport), want_shuffle=False)
        except dns.exception.TooBig:
            # RFC 1035 4.2.1 / RFC 6891 6.2.5: too big for UDP: say so with TC and let
            # the client ask again over TCP.
            short = dns.message.make_response(request)
            short.flags |= dns.flags.TC | dns.flags.AA
            return short.to_wire()

    def _authenticated(
        self, request: dns.message.Message, response: dns.message.Message, qname: dns.name.Name
    ) -> bool:
        """Whether a validating resolver would set AD: DNSSEC asked for, a NOERROR or
        NXDOMAIN answer, and every name in it (CNAME chains too) in a secure zone."""
        secure = self._secure
        if not secure or response.rcode() not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
            return False
        if not (request.flags & dns.flags.AD or request.ednsflags & dns.flags.DO):
            return False
        names = [qname, *(rrset.name for rrset in response.answer)]
        return all(any(name.is_subdomain(origin) for origin in secure) for name in names)

    def _fill(
        self, response: dns.message.Message, qname: dns.name.Name, rdtype: dns.rdatatype.RdataType
    ) -> None:
        zone = self._zone_for(qname)
        if zone is None:
            # Not authoritative and not recursive (RFC 1035 4.3.1 leaves this to policy).
            response.set_rcode(dns.rcode.REFUSED)
            return
        response.flags |= dns.flags.AA
        name = qname
        for _ in range(_MAX_CNAME_CHAIN + 1):
            node = zone.get_node(name)
            if node is None:
                if not self._has_descendants(zone, name):
                    # RFC 6604 2.1: the rcode describes the last name in the chain.
                    response.set_rcode(dns.rcode.NXDOMAIN)
                self._add_soa(response, zone)
                return
            if rdtype not in (dns.rdatatype.CNAME, dns.rdatatype.ANY):
                alias = node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.CNAME)
                if alias is not None and len(alias) > 0:
                    response.answer.append(_rrset(name, alias))
                    target = alias[0].target
                    next_zone = self._zone_for(target)
                    if next_zone is None:
                        return  # outside our data: the client follows on its own
                    zone, name = next_zone, target
                    continue
            if rdtype == dns.rdatatype.ANY:
                found: Iterable[dns.rdataset.Rdataset] = list(node.rdatasets)
            else:
                one = node.get_rdataset(dns.rdataclass.IN, rdtype)
                found = [one] if one is not None else []
            added = False
            for rds in found:
                response.answer.append(_rrset(name, rds))
                added = True
            if not added:
                self._add_soa(response, zone)  # NODATA (RFC 2308 2.2)
            return
        response.set_rcode(dns.rcode.SERVFAIL)  # a CNAME loop or an over-long chain

    @staticmethod
    def _has_descendants(zone: dns.zone.Zone, name: dns.name.Name) -> bool:
        # An empty non-terminal exists (NODATA, not NXDOMAIN; RFC 8020).
        origin = zone.origin
        assert origin is not None
        for rel in zone.nodes:
            absolute = rel.derelativize(origin)
            if absolute != name and absolute.is_subdomain(name):
                return True
        return False

    @staticmethod
    def _add_soa(response: dns.message.Message, zone: dns.zone.Zone) -> None:
        origin = zone.origin
        soa = zone.get_rdataset(origin, dns.rdatatype.SOA) if origin is not None else None
        if soa is None or origin is None:
            return
        rrset = _rrset(origin, soa)
        # RFC 2308 3: the negative TTL is the smaller of the SOA's TTL and MINIMUM.
        rrset.ttl = min(soa.ttl, soa[0].minimum)
        response.authority.append(rrset)


def _rrset(name: dns.name.Name, rds: dns.rdataset.Rdataset) -> dns.rrset.RRset:
    return dns.rrset.from_rdata_list(name, rds.ttl, list(rds))


class ThreadedDnsServer(ThreadedServer[LocalDnsServer]):
    """A :class:`LocalDnsServer` running on its own event loop in a daemon thread.

    For synchronous code: ``with ThreadedDnsServer(zones=...) as dns: ...`` or
    :meth:`start`/:meth:`stop`. Takes the same arguments as :class:`LocalDnsServer`,
    or an existing (not started) ``server``. Fault and zone changes through
    :attr:`server` take effect for the next question.
    """

    thread_name = "smtpdiag-dns"
    what = "local DNS server"

    def __init__(
        self,
        zones: Mapping[str, ZoneData] | None = None,
        faults: Mapping[str, str] | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        ipv6: bool = False,
        secure: Iterable[str] = (),
        server: LocalDnsServer | None = None,
    ) -> None:
        super().__init__(
            server or LocalDnsServer(zones, faults, host=host, port=port, ipv6=ipv6, secure=secure)
        )

    @property
    def address(self) -> str:
        return self.server.address

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def nameserver(self) -> Nameserver:
        return self.server.nameserver

    @property
    def nameservers(self) -> tuple[Nameserver, ...]:
        return self.server.nameservers


def ipv6_loopback_available() -> bool:
    """Whether ::1 can be bound here (containers sometimes lack IPv6)."""
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


# --------------------------------------------------------------- answer helpers

#: Faults answered at once with just an error code.
_RCODE_FAULTS: dict[str, dns.rcode.Rcode] = {
    "servfail": dns.rcode.SERVFAIL,
    "refused": dns.rcode.REFUSED,
    "formerr": dns.rcode.FORMERR,
}


def _question_message(data: bytes) -> dns.message.Message | None:
    """The query in ``data``; ``None`` for junk or a response (not worth a FORMERR:
    junk gets silence)."""
    try:
        request = dns.message.from_wire(data)
    except dns.exception.DNSException:
        return None
    if request.flags & dns.flags.QR:
        return None  # a response, not a question
    return request


def _fault_reply(
    fault: str, data: bytes, response: dns.message.Message, transport: str
) -> tuple[bytes, float] | None:
    """The immediate reply ``fault`` stands for; ``None`` when the question is still
    answered from the zones (perhaps late)."""
    rcode = _RCODE_FAULTS.get(fault)
    if rcode is not None:
        response.set_rcode(rcode)
        return response.to_wire(), 0.0
    if fault == "garbage":
        # The right ID (so the client takes it as the reply), then no valid header.
        return data[:2] + b"\x81\x80junk", 0.0
    if fault == "truncate" and transport == "udp":
        response.flags |= dns.flags.TC
        return response.to_wire(), 0.0
    return None


def _fault_delay(fault: str | None) -> float:
    if fault is not None and fault.startswith("delay:"):
        return float(fault[6:])
    return 0.0


def _size_limit(request: dns.message.Message, transport: str) -> int:
    """The largest answer the client takes: TCP's limit, else its EDNS size (bounded)
    or the classic 512 bytes."""
    if transport == "tcp":
        return _MAX_TCP_MESSAGE
    if request.edns >= 0:
        return max(_CLASSIC_UDP_SIZE, min(request.payload, _MAX_UDP_QUERY))
    return _CLASSIC_UDP_SIZE
