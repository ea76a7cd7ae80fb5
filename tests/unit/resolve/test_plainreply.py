"""The plain-reply reader against dnspython's message parser.

Whatever it accepts, dnspython parses the same way (same rcode, records, TTL and AD
bit, not truncated, at most one answer rrset, of the asked name and type); every plain
reply dnspython builds (records, NODATA, NXDOMAIN), it accepts. Replies are built with dnspython and then broken on purpose or
mutated at random (a fixed seed, so a failure repeats).
"""

from __future__ import annotations

import random
import struct

import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.tsigkeyring
import pytest

from smtpdiag.resolve.plainreply import answers_question, read_plain

QNAME = dns.name.from_text("d12.test")


def _question(name: dns.name.Name = QNAME, rdtype: int = dns.rdatatype.MX) -> bytes:
    return (name.to_wire() or b"") + struct.pack("!HH", rdtype, dns.rdataclass.IN)


def _reply(
    *answers: str,
    rdtype: str = "MX",
    owner: str = "d12.test.",
    edns: bool = True,
    ad: bool = False,
    extra: bool = False,
    rcode: dns.rcode.Rcode = dns.rcode.NOERROR,
    soa: bool = False,
) -> dns.message.Message:
    query = dns.message.make_query(QNAME, rdtype, use_edns=0 if edns else False)
    query.id = 4242
    reply = dns.message.make_response(query)
    reply.set_rcode(rcode)
    if ad:
        reply.flags |= dns.flags.AD
    if answers:
        reply.answer.append(dns.rrset.from_text(owner, 300, "IN", rdtype, *answers))
    if extra:  # a resolver that is not minimal: authority and glue
        reply.authority.append(dns.rrset.from_text("test.", 300, "IN", "NS", "ns.test."))
        reply.additional.append(dns.rrset.from_text("mx.p3.test.", 300, "IN", "A", "127.89.0.3"))
    if soa:  # a negative answer's TTL (RFC 2308): min(the SOA's TTL, its minimum)
        reply.authority.append(
            dns.rrset.from_text(
                "test.", 900, "IN", "SOA", "ns.test. admin.test. 1 3600 600 86400 120"
            )
        )
    return reply


def _read(data: bytes, rdtype: int = dns.rdatatype.MX):  # type: ignore[no-untyped-def]
    question = _question(rdtype=rdtype)
    if not answers_question(data, 4242, question):
        return None
    return read_plain(data, QNAME, rdtype, question)


PLAIN = [
    _reply("10 mx.p3.test."),
    _reply("10 mx.p3.test.", "20 mx2.p3.test.", "20 backup.example.test."),
    _reply("0 ."),  # a null MX is plain too (the resolution stage judges it)
    _reply("10 mx.p3.test.", edns=False),
    _reply("10 mx.p3.test.", ad=True),
    _reply("10 mx.p3.test.", extra=True),
    _reply("10 mx.p3.test.", owner="D12.Test."),
    _reply(soa=True),  # NODATA
    _reply(),  # NODATA without SOA: not kept
    _reply(rcode=dns.rcode.NXDOMAIN, soa=True),
]


@pytest.mark.parametrize("message", PLAIN, ids=range(len(PLAIN)))
def test_every_plain_reply_is_read_as_dnspython_reads_it(message: dns.message.Message) -> None:
    data = message.to_wire()
    assert _read(data) is not None
    _agrees(data)


def test_negative_answers_carry_the_soa_ttl() -> None:
    nodata = _read(_reply(soa=True).to_wire())
    assert nodata is not None and nodata.exists and nodata.records == () and nodata.ttl == 120
    gone = _read(_reply(rcode=dns.rcode.NXDOMAIN, soa=True).to_wire())
    assert gone is not None and not gone.exists and gone.ttl == 120
    bare = _read(_reply().to_wire())
    assert bare is not None and bare.ttl == 0
    answer = _read(_reply("10 mx.p3.test.").to_wire())
    assert answer is not None and answer.ttl == 300


def test_the_question_may_come_back_in_another_case() -> None:
    query = dns.message.make_query("D12.TEST", "MX")
    query.id = 4242
    reply = dns.message.make_response(query)
    reply.answer.append(dns.rrset.from_text("d12.test.", 300, "IN", "MX", "10 mx.p3.test."))
    assert _read(reply.to_wire()) is not None


def _with_opt_ttl(message: dns.message.Message, ttl: int) -> bytes:
    """The reply with its OPT record's TTL field (extended rcode, version, flags) set."""
    data = bytearray(message.to_wire())
    # The OPT record ends the message: root name, type, payload, then the 4-byte TTL.
    at = len(data) - 2 - 4
    assert data[at - 5 : at - 2] == b"\x00\x00\x29"
    data[at : at + 4] = struct.pack("!I", ttl)
    return bytes(data)


NOT_PLAIN = {
    "nxdomain after a cname": _reply(
        "mx.p3.test.", rdtype="CNAME", rcode=dns.rcode.NXDOMAIN
    ).to_wire(),
    "servfail": _reply("10 mx.p3.test.", rcode=dns.rcode.SERVFAIL).to_wire(),
    "refused": _reply(rcode=dns.rcode.REFUSED).to_wire(),
    "cname": _reply("mx.p3.test.", rdtype="CNAME").to_wire(),
    "other owner": _reply("10 mx.p3.test.", owner="d13.test.").to_wire(),
    "trailing byte": _reply("10 mx.p3.test.").to_wire() + b"\x00",
    "cut short": _reply("10 mx.p3.test.").to_wire()[:-3],
    "extended rcode": _with_opt_ttl(_reply("10 mx.p3.test."), 1 << 24),
}


@pytest.mark.parametrize("data", NOT_PLAIN.values(), ids=NOT_PLAIN.keys())
def test_what_is_not_plain_goes_to_the_full_resolution(data: bytes) -> None:
    assert _read(data) is None


def test_truncated_and_other_ids_are_not_read() -> None:
    message = _reply("10 mx.p3.test.")
    message.flags |= dns.flags.TC
    assert _read(message.to_wire()) is None
    other = _reply("10 mx.p3.test.")
    other.id = 4243
    assert not answers_question(other.to_wire(), 4242, _question())
    asked_a = _question(rdtype=dns.rdatatype.A)
    assert not answers_question(_reply("10 mx.p3.test.").to_wire(), 4242, asked_a)


def test_a_signed_reply_is_left_to_dnspython() -> None:
    message = _reply("10 mx.p3.test.")
    keyring = dns.tsigkeyring.from_text({"k.test.": "c2VjcmV0c2VjcmV0c2VjcmV0"})
    message.use_tsig(keyring, keyname="k.test.")
    assert _read(message.to_wire()) is None


def test_two_opt_records_or_one_in_the_answer_are_not_plain() -> None:
    data = bytearray(_reply("10 mx.p3.test.").to_wire())
    opt = bytes(data[-11:])
    twice = bytearray(data + opt)
    twice[10:12] = struct.pack("!H", 2)  # ARCOUNT
    assert _read(bytes(twice)) is None
    with pytest.raises(dns.message.BadEDNS):
        dns.message.from_wire(bytes(twice))


def _agrees(data: bytes) -> None:
    got = _read(data)
    if got is None:
        return
    parsed = dns.message.from_wire(data)  # raises if the reader accepted what dnspython refuses
    assert not parsed.flags & dns.flags.TC
    assert got.authenticated == bool(parsed.flags & dns.flags.AD)
    assert parsed.rcode() == (dns.rcode.NOERROR if got.exists else dns.rcode.NXDOMAIN)
    if not got.records:
        assert parsed.answer == []
        soa = [r for r in parsed.authority if r.rdtype == dns.rdatatype.SOA]
        assert got.ttl == (min(soa[0].ttl, soa[0][0].minimum) if soa else 0)
        return
    assert got.exists and len(parsed.answer) == 1
    rrset = parsed.answer[0]
    assert (rrset.name, rrset.rdclass, rrset.rdtype) == (QNAME, dns.rdataclass.IN, dns.rdatatype.MX)
    assert set(got.records) == set(rrset) and len(got.records) == len(rrset)
    assert got.ttl == rrset.ttl


def test_random_damage_never_makes_it_read_what_dnspython_would_not() -> None:
    rng = random.Random(8461)
    seeds = [m.to_wire() for m in PLAIN] + list(NOT_PLAIN.values())
    accepted = 0
    for _ in range(6000):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 3)):
            what = rng.random()
            at = rng.randrange(len(data))
            if what < 0.6:
                data[at] = rng.randrange(256)
            elif what < 0.8:
                del data[at:]
            else:
                data[at:at] = bytes([rng.randrange(256)])
            if not data:
                break
        accepted += _read(bytes(data)) is not None
        _agrees(bytes(data))
    assert accepted > 100  # the damage left many replies plain: the check had work to do


def test_a_record_sent_twice_is_kept_once_as_dnspython_keeps_it() -> None:
    data = bytearray(_reply("10 mx.p3.test.", edns=False).to_wire())
    start = 12 + len(_question())
    record = bytes(data[start:])  # the one answer record (no other section)
    twice = bytearray(data + record)
    twice[6:8] = struct.pack("!H", 2)  # ANCOUNT
    got = _read(bytes(twice))
    assert got is not None and len(got.records) == 1
    _agrees(bytes(twice))
