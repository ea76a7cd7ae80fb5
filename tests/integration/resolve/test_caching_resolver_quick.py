"""The bulk resolver's quick path (plain UDP replies read without dnspython's resolution
loop and message objects) gives what the plain resolver gives, for every outcome a
server can produce: whatever is not a plain reply goes through the full resolution and
is reported the same way."""

from __future__ import annotations

import asyncio
import re
import time

import pytest

from smtpdiag.config import ResolverConfig
from smtpdiag.model import DnsOutcome
from smtpdiag.resolve import caching_resolver
from smtpdiag.resolve.resolver import build_resolver, query_raw

ZONE = {
    "@": ["MX 10 mx1"],
    "mx1": ["A 127.0.0.2", "A 127.0.0.3"],
    "alias": ["CNAME mx1"],
    "nomx": ["A 127.0.0.4"],
    "big": [f"A 127.0.1.{i}" for i in range(1, 120)],  # more than 1232 bytes: TC, then TCP
    "fail": ["MX 10 mx1"],
    "refuse": ["MX 10 mx1"],
    "form": ["MX 10 mx1"],
    "junk": ["MX 10 mx1"],
    "slow": ["MX 10 mx1"],
    "trunc": ["MX 10 mx1"],
}
FAULTS = {
    "fail.d.test": "servfail",
    "refuse.d.test": "refused",
    "form.d.test": "formerr",
    "junk.d.test": "garbage",
    "slow.d.test": "delay:0.3",
    "trunc.d.test": "truncate",
}
CASES = [
    ("d.test", "MX", DnsOutcome.OK),
    ("mx1.d.test", "A", DnsOutcome.OK),
    ("alias.d.test", "A", DnsOutcome.OK),
    ("nomx.d.test", "MX", DnsOutcome.NODATA),
    ("mx1.d.test", "AAAA", DnsOutcome.NODATA),
    ("missing.d.test", "MX", DnsOutcome.NXDOMAIN),
    ("missing.d.test", "A", DnsOutcome.NXDOMAIN),
    ("big.d.test", "A", DnsOutcome.OK),
    ("fail.d.test", "MX", DnsOutcome.SERVFAIL),
    ("refuse.d.test", "MX", DnsOutcome.REFUSED),
    ("form.d.test", "MX", DnsOutcome.ERROR),
    ("junk.d.test", "MX", DnsOutcome.ERROR),
    ("slow.d.test", "MX", DnsOutcome.OK),
    ("trunc.d.test", "MX", DnsOutcome.OK),
]


@pytest.mark.parametrize(("name", "rdtype", "outcome"), CASES)
async def test_quick_path_answers_as_the_full_resolution(  # type: ignore[no-untyped-def]
    dns_server, name: str, rdtype: str, outcome: DnsOutcome
) -> None:
    dns = await dns_server({"d.test": ZONE}, FAULTS)
    config = ResolverConfig((dns.nameserver,))
    plain = await query_raw(build_resolver(config, 2.0), name, rdtype, lifetime=2.0)
    shared = await query_raw(caching_resolver(config, 2.0), name, rdtype, lifetime=2.0)
    assert plain.query.outcome is outcome, plain.query
    for field in ("outcome", "answers", "nameserver", "cname", "detail", "name", "rdtype"):
        assert getattr(shared.query, field) == getattr(plain.query, field), field
    assert [r.to_text() for r in shared.records] == [r.to_text() for r in plain.records]
    assert shared.authenticated == plain.authenticated


async def test_the_same_question_asked_at_once_is_sent_once(dns_server) -> None:  # type: ignore[no-untyped-def]
    """A burst of domains of one provider asks for its MX host's addresses together:
    one question goes out, every asker gets its answer; NODATA is kept as well."""
    dns = await dns_server({"d.test": ZONE}, {})
    resolver = caching_resolver(ResolverConfig((dns.nameserver,)), 2.0)
    for rdtype, outcome in (("A", DnsOutcome.OK), ("AAAA", DnsOutcome.NODATA)):
        before = len(dns.received)
        got = await asyncio.gather(
            *(query_raw(resolver, "mx1.d.test", rdtype, lifetime=2.0) for _ in range(20))
        )
        assert {g.query.outcome for g in got} == {outcome}
        assert len({g.query.answers for g in got}) == 1
        assert len(dns.received) == before + 1, rdtype
        again = await query_raw(resolver, "mx1.d.test", rdtype, lifetime=2.0)
        assert again.query.outcome is outcome and len(dns.received) == before + 1


async def test_a_silent_server_is_reported_with_the_whole_wait(dns_server) -> None:  # type: ignore[no-untyped-def]
    dns = await dns_server({"d.test": ZONE}, {"d.test": "drop"})
    resolver = caching_resolver(ResolverConfig((dns.nameserver,)), 1.0)
    started = time.monotonic()
    raw = await query_raw(resolver, "d.test", "MX", lifetime=1.0)
    took = time.monotonic() - started
    assert raw.query.outcome is DnsOutcome.TIMEOUT
    assert 0.9 <= took <= 1.6, took  # the quick try and the full path share one lifetime
    said = re.search(r"after ([0-9.]+) s", raw.query.detail or "")
    assert said is not None and float(said.group(1)) >= 0.95, raw.query.detail  # not 0.5
    assert str(dns.nameserver) in (raw.query.detail or ""), raw.query.detail


async def test_repeated_address_questions_are_answered_from_the_run(dns_server) -> None:  # type: ignore[no-untyped-def]
    dns = await dns_server({"d.test": ZONE}, FAULTS)
    resolver = caching_resolver(ResolverConfig((dns.nameserver,)), 2.0)
    first = await query_raw(resolver, "mx1.d.test", "A", lifetime=2.0)
    asked = len(dns.received)
    again = await query_raw(resolver, "MX1.d.test.", "A", lifetime=2.0)
    assert len(dns.received) == asked  # not asked again
    for field in ("outcome", "answers", "nameserver", "cname", "detail"):
        assert getattr(again.query, field) == getattr(first.query, field), field
    assert [r.to_text() for r in again.records] == [r.to_text() for r in first.records]
    assert again.query.duration_ms == 0.0  # it took no time, and says so
    # A domain's MX answer (asked once per run) and failures are asked each time.
    for name, rdtype in (("d.test", "MX"), ("fail.d.test", "A")):
        before = len(dns.received)
        await query_raw(resolver, name, rdtype, lifetime=2.0)
        await query_raw(resolver, name, rdtype, lifetime=2.0)
        assert len(dns.received) > before + 1, (name, rdtype)
    # A question whose deadline has passed is not answered from memory either.
    late = await query_raw(resolver, "mx1.d.test", "A", lifetime=0.0)
    assert late.query.outcome is DnsOutcome.TIMEOUT


@pytest.mark.parametrize("dnssec", [False, True])
async def test_keep_all_keeps_every_answer_up_to_max_ttl(  # type: ignore[no-untyped-def]
    dns_server, dnssec: bool
) -> None:
    """A service's resolver (``keep_all``) keeps MX, TXT, NODATA and NXDOMAIN answers
    too, through the quick path (plain) and dnspython's resolution (DNSSEC), each no
    longer than ``max_ttl`` whatever the zone's TTL (300 s here)."""
    dns = await dns_server({"d.test": ZONE}, {})
    resolver = caching_resolver(
        ResolverConfig((dns.nameserver,)), 2.0, dnssec=dnssec, keep_all=True, max_ttl=0.5
    )
    questions = [
        ("d.test", "MX", DnsOutcome.OK),
        ("nomx.d.test", "MX", DnsOutcome.NODATA),
        ("_mta-sts.d.test", "TXT", DnsOutcome.NXDOMAIN),
    ]
    for _ in range(2):
        before = len(dns.received)
        for name, rdtype, outcome in questions:
            first = await query_raw(resolver, name, rdtype, lifetime=2.0)
            again = await query_raw(resolver, name, rdtype, lifetime=2.0)
            assert first.query.outcome is again.query.outcome is outcome
            assert again.query.answers == first.query.answers
        assert len(dns.received) - before == len(questions)  # each asked once
        await asyncio.sleep(0.6)  # past max_ttl: asked again


@pytest.mark.parametrize(
    ("name", "rdtype", "outcome"),
    [
        ("d.test", "MX", DnsOutcome.OK),
        ("_25._tcp.mx1.d.test", "TLSA", DnsOutcome.NXDOMAIN),
        ("nomx.d.test", "MX", DnsOutcome.NODATA),
    ],
)
async def test_dnssec_questions_take_the_quick_path_with_do_and_ad(  # type: ignore[no-untyped-def]
    dns_server, name: str, rdtype: str, outcome: DnsOutcome
) -> None:
    """The service's DNSSEC resolver (TLSA, the MX's DNSSEC, the resolver check) asks
    every round: its quick query carries AD and DO as dnspython's would, so a validating
    resolver's AD bit reads the same either way."""
    dns = await dns_server({"d.test": ZONE}, {})
    dns.set_secure("d.test")
    config = ResolverConfig((dns.nameserver,))
    plain = await query_raw(build_resolver(config, 2.0, dnssec=True), name, rdtype, lifetime=2.0)
    resolver = caching_resolver(config, 2.0, dnssec=True, keep_all=True)
    quick = await resolver.quick(name, rdtype, 2.0)
    assert quick is not None  # a plain reply: no dnspython resolution needed
    assert plain.query.outcome is outcome and quick.query.outcome is outcome
    assert plain.authenticated and quick.authenticated
    assert quick.query.answers == plain.query.answers
    dns.set_secure("d.test", False)
    insecure = await caching_resolver(config, 2.0, dnssec=True).quick(name, rdtype, 2.0)
    assert insecure is not None and not insecure.authenticated


async def test_the_root_soa_is_kept_like_any_answer(dns_server) -> None:  # type: ignore[no-untyped-def]
    """The resolver check asks the root's SOA every probe; a service keeps the answer
    for its TTL like any other (the root's name is "." when kept and when looked up)."""
    dns = await dns_server({".": {}, "d.test": ZONE}, {})
    resolver = caching_resolver(ResolverConfig((dns.nameserver,)), 2.0, keep_all=True)
    first = await query_raw(resolver, ".", "SOA", lifetime=2.0)
    asked = len(dns.received)
    again = await query_raw(resolver, ".", "SOA", lifetime=2.0)
    assert first.query.outcome is again.query.outcome is DnsOutcome.OK
    assert len(dns.received) == asked
