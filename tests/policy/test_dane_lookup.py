"""TLSA and MX DNSSEC lookups against a DNS server on loopback.

The test kit's :class:`LocalDnsServer` stands in for a validating resolver here: for
the zones listed in ``secure`` it sets the AD bit when the question asks for DNSSEC
(DO/AD), and a ``servfail`` fault stands in for its answer to bogus data. It signs and
validates nothing; real validation (NSD serving a signed zone, unbound validating
with the test key) is tested in the lab tier (tests/lab/test_dane_lab.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from smtpdiag.config import Nameserver, ProbeConfig, ResolverConfig, Timeouts
from smtpdiag.model import DaneState, DnsOutcome, DnssecStatus
from smtpdiag.policy.dane import MAX_TLSA_HOSTS, lookup_dnssec_mx, lookup_tlsa
from smtpdiag.resolve.resolver import build_resolver, query_raw
from smtpdiag.testing.dnsserver import LocalDnsServer

HASH = "ab" * 32
SIGNED = {
    "@": ["MX 10 mx1", "MX 20 mx2"],
    "mx1": "A 127.0.0.1",
    "_25._tcp.mx1": [f"TLSA 3 1 1 {HASH}", f"TLSA 2 0 1 {'cd' * 32}"],
    "mx2": ["A 127.0.0.2", "AAAA ::1"],  # no TLSA: DANE does not apply
    "mx3": "A 127.0.0.3",
    "_25._tcp.mx3": f"TLSA 1 1 1 {HASH}",  # PKIX-EE only: not usable for SMTP
    "mx4": "A 127.0.0.4",
    "_25._tcp.mx4": f"TLSA 3 1 1 {HASH}",  # answered SERVFAIL: bogus
    "mx5": "A 127.0.0.5",
    "_25._tcp.mx5": "CNAME _25._tcp.mx1",  # TLSA base domain found through a CNAME
    "mx6": "CNAME host.plain.test.",  # address records in an insecure zone
    "_25._tcp.mx6": f"TLSA 3 1 1 {HASH}",
    "_587._tcp.mx1": f"TLSA 3 1 1 {'ef' * 32}",
    "mx7": "CNAME host7",  # a secure alias: TLSA at the expanded name first
    "host7": "A 127.0.0.7",
    "_25._tcp.host7": f"TLSA 3 1 1 {'77' * 32}",
    "_25._tcp.mx7": f"TLSA 3 1 1 {HASH}",
    "mx8": "CNAME host8",  # expanded name without TLSA: the original name's
    "host8": "A 127.0.0.8",
    "_25._tcp.mx8": f"TLSA 3 1 1 {HASH}",
}
PLAIN = {
    "@": "MX 10 mx",
    "mx": "A 127.0.0.9",
    "_25._tcp.mx": f"TLSA 3 1 1 {HASH}",  # TLSA in an unsigned zone: never a pass
    "host": "A 127.0.0.10",
}


@pytest.fixture
async def dns() -> AsyncIterator[LocalDnsServer]:
    async with LocalDnsServer(
        zones={"signed.test": SIGNED, "plain.test": PLAIN},
        faults={"_25._tcp.mx4.signed.test": "servfail", "broken.test": "servfail"},
        secure=["signed.test"],
    ) as server:
        yield server


def config(server: LocalDnsServer, dns_timeout: float = 2.0) -> ProbeConfig:
    return ProbeConfig(
        resolver=ResolverConfig(nameservers=(server.nameserver,)),
        timeouts=Timeouts(dns=dns_timeout),
    )


def deadline(seconds: float = 5.0) -> float:
    return asyncio.get_running_loop().time() + seconds


async def test_resolver_reports_the_ad_bit_only_when_asked(dns: LocalDnsServer) -> None:
    cfg = config(dns).resolver
    asking = build_resolver(cfg, 2.0, dnssec=True)
    plain = build_resolver(cfg, 2.0)
    answer = await query_raw(asking, "mx1.signed.test", "A", lifetime=2.0)
    assert answer.query.outcome is DnsOutcome.OK and answer.authenticated
    missing = await query_raw(asking, "nothing.signed.test", "A", lifetime=2.0)
    assert missing.query.outcome is DnsOutcome.NXDOMAIN and missing.authenticated
    nodata = await query_raw(asking, "mx1.signed.test", "TXT", lifetime=2.0)
    assert nodata.query.outcome is DnsOutcome.NODATA and nodata.authenticated
    assert not (await query_raw(plain, "mx1.signed.test", "A", lifetime=2.0)).authenticated
    assert not (await query_raw(asking, "mx.plain.test", "A", lifetime=2.0)).authenticated


async def test_lookup_tlsa_states(dns: LocalDnsServer) -> None:
    hosts = [f"mx{i}.signed.test" for i in range(1, 7)] + ["MX.plain.test."]
    found = await lookup_tlsa(hosts, 25, config(dns), deadline=deadline())
    by_host = {lookup.mx: lookup for lookup in found}
    assert [lookup.mx for lookup in found] == [h.rstrip(".").lower() for h in hosts]

    mx1 = by_host["mx1.signed.test"]
    assert mx1.state is DaneState.USABLE
    assert mx1.dnssec is DnssecStatus.SECURE and mx1.address_dnssec is DnssecStatus.SECURE
    assert [(r.usage, r.selector, r.matching_type) for r in mx1.records] == [(3, 1, 1), (2, 0, 1)]
    assert mx1.records[0].data == HASH and mx1.port == 25
    assert mx1.query.name == "_25._tcp.mx1.signed.test" and mx1.query.rdtype == "TLSA"

    assert by_host["mx2.signed.test"].state is DaneState.NONE
    assert by_host["mx2.signed.test"].dnssec is DnssecStatus.SECURE  # authenticated denial
    assert by_host["mx3.signed.test"].state is DaneState.NOT_USABLE
    assert by_host["mx3.signed.test"].records[0].usable is False
    assert by_host["mx4.signed.test"].state is DaneState.BOGUS
    assert by_host["mx4.signed.test"].dnssec is DnssecStatus.BOGUS
    mx5 = by_host["mx5.signed.test"]
    assert mx5.state is DaneState.USABLE and mx5.query.cname == "_25._tcp.mx1.signed.test"
    # RFC 7672 2.2.2: secure TLSA, but the host's addresses come from an unsigned zone.
    mx6 = by_host["mx6.signed.test"]
    assert mx6.address_dnssec is DnssecStatus.INSECURE and mx6.state is DaneState.NOT_USABLE
    # RFC 7672 2.2: TLSA records in an unsigned zone are "not usable", never a pass.
    plain = by_host["mx.plain.test"]
    assert plain.dnssec is DnssecStatus.INSECURE and plain.state is DaneState.NOT_USABLE
    assert plain.records and plain.records[0].usable


async def test_lookup_tlsa_at_the_expanded_name(dns: LocalDnsServer) -> None:
    # RFC 7672 2.2.2: the TLSA base domain is the CNAME-expanded host name when the
    # expansion is secure, with the original name as the fallback.
    hosts = ["mx7.signed.test", "mx8.signed.test", "mx6.signed.test"]
    mx7, mx8, mx6 = await lookup_tlsa(hosts, 25, config(dns), deadline=deadline())
    assert mx7.mx == "mx7.signed.test" and mx7.state is DaneState.USABLE
    assert mx7.query.name == "_25._tcp.host7.signed.test"
    assert mx7.records[0].data == "77" * 32
    assert mx8.query.name == "_25._tcp.mx8.signed.test" and mx8.records[0].data == HASH
    # An insecure alias is not followed: its TLSA records are the original name's.
    assert mx6.query.name == "_25._tcp.mx6.signed.test"


async def test_lookup_tlsa_by_port(dns: LocalDnsServer) -> None:
    (found,) = await lookup_tlsa(["mx1.signed.test"], 587, config(dns), deadline=deadline())
    assert found.query.name == "_587._tcp.mx1.signed.test" and found.port == 587
    assert found.records[0].data == "ef" * 32


async def test_a_resolver_that_does_not_validate_makes_nothing_usable(
    dns: LocalDnsServer,
) -> None:
    dns.set_secure("signed.test", False)
    (found,) = await lookup_tlsa(["mx1.signed.test"], 25, config(dns), deadline=deadline())
    assert found.dnssec is DnssecStatus.INSECURE and found.state is DaneState.NOT_USABLE


async def test_lookup_tlsa_is_bounded(dns: LocalDnsServer) -> None:
    hosts = ["mx1.signed.test", "MX1.signed.test", "127.0.0.1", "[::1]"]
    hosts += [f"h{i}.signed.test" for i in range(MAX_TLSA_HOSTS + 10)]
    found = await lookup_tlsa(hosts, 25, config(dns), deadline=deadline())
    assert len(found) == MAX_TLSA_HOSTS
    assert [lookup.mx for lookup in found].count("mx1.signed.test") == 1
    assert all(lookup.state is DaneState.NONE for lookup in found[1:])
    assert await lookup_tlsa([], 25, config(dns), deadline=deadline()) == ()


async def test_lookup_tlsa_ends_by_the_deadline(dns: LocalDnsServer) -> None:
    dns.set_fault("*.signed.test", "drop")
    loop = asyncio.get_running_loop()
    start = loop.time()
    found = await lookup_tlsa(
        ["mx1.signed.test", "mx2.signed.test"], 25, config(dns, 5.0), deadline=start + 0.5
    )
    assert loop.time() - start < 1.5
    assert all(lookup.state is DaneState.UNKNOWN for lookup in found)
    assert all(lookup.query.outcome is DnsOutcome.TIMEOUT for lookup in found)


async def test_lookup_tlsa_without_an_answer_is_unknown() -> None:
    # Nobody listens on this port: the question times out.
    cfg = ProbeConfig(
        resolver=ResolverConfig(nameservers=(Nameserver("127.0.0.1", 9),)),
        timeouts=Timeouts(dns=0.3),
    )
    (found,) = await lookup_tlsa(["mx.signed.test"], 25, cfg, deadline=deadline())
    assert found.state is DaneState.UNKNOWN and found.dnssec is DnssecStatus.UNKNOWN


@pytest.mark.parametrize(
    ("domain", "status"),
    [
        ("signed.test", DnssecStatus.SECURE),
        ("plain.test", DnssecStatus.INSECURE),
        ("nothing.signed.test", DnssecStatus.SECURE),  # authenticated NXDOMAIN
        ("broken.test", DnssecStatus.BOGUS),
        ("elsewhere.example", DnssecStatus.UNKNOWN),  # REFUSED: not an answer
    ],
)
async def test_lookup_dnssec_mx(dns: LocalDnsServer, domain: str, status: DnssecStatus) -> None:
    assert await lookup_dnssec_mx(domain, config(dns), deadline=deadline()) is status
