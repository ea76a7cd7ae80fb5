"""The plain reply to a question, read without building a whole dnspython message.

A bulk run asks one MX question per domain, and A and AAAA for every MX host it has
not seen yet; nearly every reply is *plain*: it answers exactly the question asked
(same id, QR set, opcode QUERY, one question equal to ours), TC is clear, and it is
either NOERROR with only records of the asked name, class and type in its answer
section (no CNAME), NOERROR with an empty answer section (NODATA), or NXDOMAIN with an
empty answer section. Reading such a reply into a :class:`dns.message.Message`
(rdatasets, hashing every record to dedupe it, finding rrsets) and a
:class:`dns.resolver.Answer` cost about three times what the records alone cost.

Names and rdata are still parsed by dnspython's wire parser (compression pointers,
bounds, every record type's own checks), in every section; this module only walks
the sections and keeps the answer records and the TTL. A reply that is not plain, or
that dnspython would not parse, is ``None``: the caller then asks through dnspython's
full resolution, which reports it in detail. ``tests/unit/resolve/test_plainreply.py``
checks against dnspython's message parser that every reply read here is one it reads
the same way.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import dns.exception
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.wire
from dns.rdtypes.ANY.SOA import SOA

__all__ = ["PlainReply", "answers_question", "read_plain"]

_HEADER = struct.Struct("!HHHHHH")
_QR = 0x8000
_TC = 0x0200
_AD = 0x0020
_OPCODE = 0x7800
_RCODE = 0x000F
_NOERROR = 0
_NXDOMAIN = 3
_MAX_TTL = 0x7FFFFFFF


@dataclass(frozen=True, slots=True)
class PlainReply:
    """A plain reply.

    Attributes:
        exists: ``False`` for NXDOMAIN.
        records: The answer records, duplicates dropped, in wire order (empty for
            NODATA and NXDOMAIN).
        authenticated: The AD bit was set.
        ttl: Seconds the answer may be kept: the smallest TTL of the answer records;
            for NODATA and NXDOMAIN the SOA's negative TTL from the authority section
            (RFC 2308 5), 0 without one.
    """

    exists: bool
    records: tuple[dns.rdata.Rdata, ...]
    authenticated: bool
    ttl: int


def answers_question(data: bytes, qid: int, question: bytes) -> bool:
    """Whether ``data`` is a reply to our query: our id, QR set, opcode QUERY, and our
    question (``question``: the query's question section as sent) echoed alone."""
    if len(data) < _HEADER.size + len(question):
        return False
    rid, flags, qdcount, _, _, _ = _HEADER.unpack_from(data)
    if rid != qid or not flags & _QR or flags & _OPCODE or qdcount != 1:
        return False
    echoed = data[_HEADER.size : _HEADER.size + len(question)]
    # Names compare case-insensitively; the length bytes (< 64) and the type and class
    # (compared apart) are not letters to fold.
    return echoed[:-4].lower() == question[:-4].lower() and echoed[-4:] == question[-4:]


_ANSWER, _AUTHORITY, _ADDITIONAL = 0, 1, 2


@dataclass(slots=True)
class _Collected:
    """What the records read so far hold: the answer's records and least TTL, the
    negative TTL (from the first SOA in the authority section), whether an OPT came."""

    records: list[dns.rdata.Rdata]
    ttl: int | None = None
    negative: int | None = None
    opt: bool = False

    def add(self, section: int, rdata: dns.rdata.Rdata, rr_ttl: int) -> None:
        if section == _ANSWER:
            self.ttl = rr_ttl if self.ttl is None else min(self.ttl, rr_ttl)
            if rdata not in self.records:
                self.records.append(rdata)
        elif section == _AUTHORITY and self.negative is None and isinstance(rdata, SOA):
            self.negative = min(rr_ttl, rdata.minimum)


def _section(index: int, ancount: int, nscount: int) -> int:
    if index < ancount:
        return _ANSWER
    return _AUTHORITY if index < ancount + nscount else _ADDITIONAL


def _unreadable(
    section: int,
    owner: dns.name.Name,
    head: tuple[int, int, int],
    asked: tuple[dns.name.Name, int],
    opt_seen: bool,
) -> bool:
    """Whether a record (its owner, and type, class and TTL in ``head``) leaves the reply
    to the full resolution."""
    rtype, rclass, rr_ttl = head
    qname, rdtype = asked
    if section == _ANSWER and (rtype != rdtype or rclass != dns.rdataclass.IN or owner != qname):
        return True  # a CNAME, another name or class: the full resolution's case
    if rtype == dns.rdatatype.TSIG:
        return True  # signed: dnspython's parser needs the keyring
    if rtype == dns.rdatatype.OPT:
        # a second or misplaced OPT, or an extended rcode
        return opt_seen or section != _ADDITIONAL or owner != dns.name.root or bool(rr_ttl >> 24)
    return False


def _read_records(
    parser: dns.wire.Parser, counts: tuple[int, int, int], asked: tuple[dns.name.Name, int]
) -> _Collected | None:
    """Every record of the reply's three sections, ``None`` at the first unreadable one."""
    ancount, nscount, arcount = counts
    got = _Collected([])
    for index in range(ancount + nscount + arcount):
        section = _section(index, ancount, nscount)
        owner = parser.get_name(decompress=True)
        rtype, rclass, rr_ttl, rdlen = parser.get_struct("!HHIH")
        if _unreadable(section, owner, (rtype, rclass, rr_ttl), asked, got.opt):
            return None
        got.opt = got.opt or rtype == dns.rdatatype.OPT
        with parser.restrict_to(rdlen):
            rdata = dns.rdata.from_wire_parser(rclass, rtype, parser)
        got.add(section, rdata, 0 if rr_ttl > _MAX_TTL else rr_ttl)  # as dnspython reads it
    return got


def read_plain(
    data: bytes, qname: dns.name.Name, rdtype: int, question: bytes
) -> PlainReply | None:
    """The records of ``data`` if it is a plain reply, else ``None``.

    Args:
        data: A datagram for which :func:`answers_question` holds.
        qname: The name asked.
        rdtype: The type asked (class IN).
        question: Our query's question section as sent (name, type, class).
    """
    _, flags, _, ancount, nscount, arcount = _HEADER.unpack_from(data)
    rcode = flags & _RCODE
    if flags & _TC or rcode not in (_NOERROR, _NXDOMAIN) or (rcode and ancount):
        return None  # an error, truncated, or a CNAME chain that ends nowhere
    parser = dns.wire.Parser(data, _HEADER.size + len(question))
    try:
        got = _read_records(parser, (ancount, nscount, arcount), (qname, rdtype))
    except (dns.exception.DNSException, ValueError, struct.error):
        return None
    if got is None or parser.remaining():
        return None  # trailing bytes: dnspython's parser rejects them too
    kept = got.ttl if got.ttl is not None else (got.negative or 0)
    return PlainReply(rcode == _NOERROR, tuple(got.records), bool(flags & _AD), kept)
