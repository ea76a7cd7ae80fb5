"""The DNS stage against a real DNS server on loopback: every outcome of issue 2.

Each test serves zone data from :class:`smtpdiag.testing.dnsserver.LocalDnsServer`
(real UDP/TCP sockets) and checks the :class:`Resolution` that ``resolve_domain``
builds: kinds, outcomes, the answering nameserver, ranks, and that durations are
present and plausible.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from smtpdiag.config import Nameserver, ProbeConfig, ResolverConfig, Timeouts
from smtpdiag.errors import ConfigError
from smtpdiag.model import (
    AddressFamily,
    DnsOutcome,
    DnsQuery,
    MxHost,
    MxTargetKind,
    Resolution,
    ResolutionKind,
)
from smtpdiag.probing.plan import address_family, plan_routes
from smtpdiag.resolve import resolve_domain
from smtpdiag.resolve.mx import MAX_ADDRESSES_PER_FAMILY, MAX_MX_HOSTS
from smtpdiag.resolve.resolver import MAX_ANSWERS
from smtpdiag.testing.dnsserver import LocalDnsServer, ipv6_loopback_available

ZONES = Path(__file__).resolve().parents[3] / "fixtures" / "zones"

# One zone holding most scenarios as subdomains, so one server serves them all.
MAIN: dict[str, Any] = {
    "@": ["A 127.0.0.1"],
    "ns": "A 127.0.0.1",
    # implicit MX: no MX, but addresses (RFC 5321 5.1)
    "implicit": ["A 127.0.0.7", "AAAA ::1", 'TXT "no mx here"'],
    # no MX and no address: exists (TXT) but nowhere to deliver
    "nothing": ['TXT "v=spf1 -all"'],
    # null MX (RFC 7505)
    "nullmx": ["MX 0 .", "A 127.0.0.8"],
    "nullmx-mixed": ["MX 0 .", "MX 10 mx1.main.test."],
    "nullmx-odd": ["MX 10 ."],
    # exchangers of every kind
    "kinds": [
        "MX 10 mx1",
        "MX 20 alias",
        "MX 30 127.0.0.99.",
        "MX 40 gone",
        "MX 50 txtonly",
        "MX 60 broken",
    ],
    "mx1": ["A 127.0.0.11", "AAAA ::1"],
    "alias": "CNAME mx1",
    "txtonly": 'TXT "no address"',
    "broken": "A 127.0.0.12",
    # a repeated exchanger
    "dupes": ["MX 10 mx1", "MX 20 mx1", "MX 30 mx2"],
    "mx2": "A 127.0.0.13",
    # exchangers with addresses in one family only (probed with -4 / -6)
    "v6only": "MX 10 v6host",
    "v6host": "AAAA ::1",
    "v4only": "MX 10 v4host",
    "v4host": "A 127.0.0.15",
    "implicit6": "AAAA ::1",
    # the domain itself is an alias (RFC 5321 5.1 follows it)
    "aliased-domain": "CNAME kinds",
    # A works, AAAA fails
    "half": "MX 10 halfhost",
    "halfhost": ["A 127.0.0.14", "AAAA ::1"],
    # an exchanger with too many addresses
    "many-addresses": "MX 10 crowded",
    "crowded": [f"A 127.0.1.{i}" for i in range(1, 21)],
    # failures of the MX question itself
    "servfail": "MX 10 mx1",
    "refused": "MX 10 mx1",
    "drop": "MX 10 mx1",
    "slow": "MX 10 mx1",
    "truncated": "MX 10 mx1",
    "formerr": "MX 10 mx1",
    "garbage": "MX 10 mx1",
}
FAULTS = {
    "servfail.main.test": "servfail",
    "refused.main.test": "refused",
    "drop.main.test": "drop",
    "slow.main.test": "delay:0.3",
    "truncated.main.test": "truncate",
    "formerr.main.test": "formerr",
    "garbage.main.test": "garbage",
    "broken.main.test": "servfail",
    "halfhost.main.test/AAAA": "servfail",
}


def config_for(
    *servers: Nameserver,
    dns: float = 1.0,
    families: tuple[AddressFamily, ...] = (AddressFamily.IPV4, AddressFamily.IPV6),
) -> ProbeConfig:
    return ProbeConfig(
        resolver=ResolverConfig(nameservers=servers),
        timeouts=Timeouts(dns=dns),
        families=families,
    )


@pytest.fixture
async def main_dns(dns_server: Any) -> LocalDnsServer:
    server: LocalDnsServer = await dns_server({"main.test": MAIN}, FAULTS)
    return server


async def resolve(server: LocalDnsServer, domain: str, **kwargs: Any) -> Resolution:
    return await resolve_domain(domain, config_for(server.nameserver, **kwargs))


def host(resolution: Resolution, name: str) -> MxHost:
    matches = [h for h in resolution.hosts if h.name == name]
    assert len(matches) == 1, [h.name for h in resolution.hosts]
    return matches[0]


def by_type(queries: tuple[DnsQuery, ...]) -> dict[str, DnsQuery]:
    return {q.rdtype: q for q in queries}


def assert_plausible(resolution: Resolution, at_most_ms: float = 2000.0) -> None:
    assert 0 < resolution.duration_ms < at_most_ms
    for q in resolution.queries:
        assert 0 < q.duration_ms <= resolution.duration_ms + 1
    assert resolution.queries[0] == resolution.mx_query


# ----------------------------------------------------------------------- MX order


async def test_mx_sorted_by_preference_with_ties_in_answer_order(dns_server: Any) -> None:
    server = await dns_server({"example.test": ZONES / "example.test.zone"})
    result = await resolve(server, "example.test")

    assert result.kind is ResolutionKind.MX
    assert result.domain == "example.test"
    assert result.mx_query.outcome is DnsOutcome.OK
    assert result.mx_query.nameserver == f"127.0.0.1@{server.port}"
    # Answer order as served (zone order), trailing dots dropped.
    assert result.mx_query.answers == (
        "20 backup.example.test",
        "10 mx-b.example.test",
        "10 mx-a.example.test",
        "5 primary.example.test",
    )
    assert [(h.name, h.preference, h.rank) for h in result.hosts] == [
        ("primary.example.test", 5, 1),
        ("mx-b.example.test", 10, 2),
        ("mx-a.example.test", 10, 2),
        ("backup.example.test", 20, 3),
    ]
    assert all(h.kind is MxTargetKind.HOSTNAME for h in result.hosts)
    assert host(result, "primary.example.test").addresses == ("127.0.0.2", "::1")
    assert host(result, "mx-a.example.test").addresses == ("127.0.0.4", "127.0.0.5")
    # One MX query, then A and AAAA for each of the four hosts.
    assert len(result.queries) == 1 + 4 * 2
    assert_plausible(result)


async def test_repeated_exchanger_is_looked_up_once_at_its_best_preference(
    main_dns: LocalDnsServer,
) -> None:
    result = await resolve(main_dns, "dupes.main.test")
    assert [(h.name, h.preference, h.rank) for h in result.hosts] == [
        ("mx1.main.test", 10, 1),
        ("mx2.main.test", 30, 2),
    ]
    assert result.mx_query.detail is not None
    assert "repeated" in result.mx_query.detail
    asked = [q for q in main_dns.received if q.name == "mx1.main.test" and q.rdtype == "A"]
    assert len(asked) == 1


async def test_input_domain_is_normalized(main_dns: LocalDnsServer) -> None:
    result = await resolve(main_dns, "  KINDS.Main.Test. ")
    assert result.domain == "kinds.main.test"
    assert result.kind is ResolutionKind.MX


async def test_invalid_domain_raises_config_error(main_dns: LocalDnsServer) -> None:
    with pytest.raises(ConfigError):
        await resolve(main_dns, "bad domain.test")
    assert main_dns.received == []


# ------------------------------------------------------------- implicit and null MX


async def test_implicit_mx_uses_the_domains_own_addresses(main_dns: LocalDnsServer) -> None:
    result = await resolve(main_dns, "implicit.main.test")
    assert result.kind is ResolutionKind.IMPLICIT
    assert result.mx_query.outcome is DnsOutcome.NODATA
    assert result.mx_query.nameserver == str(main_dns.nameserver)
    assert result.mx_query.answers == ()
    (only,) = result.hosts
    assert only.name == "implicit.main.test"
    assert only.preference == 0
    assert only.rank == 1
    assert only.kind is MxTargetKind.HOSTNAME
    assert only.addresses == ("127.0.0.7", "::1")
    assert [q.rdtype for q in result.queries] == ["MX", "A", "AAAA"]
    assert_plausible(result)


async def test_no_mx_and_no_address_is_none(main_dns: LocalDnsServer) -> None:
    result = await resolve(main_dns, "nothing.main.test")
    assert result.kind is ResolutionKind.NONE
    assert result.hosts == ()
    assert result.mx_query.outcome is DnsOutcome.NODATA
    queries = by_type(result.queries)
    assert queries["A"].outcome is DnsOutcome.NODATA
    assert queries["AAAA"].outcome is DnsOutcome.NODATA
    assert queries["A"].nameserver == str(main_dns.nameserver)


async def test_null_mx(main_dns: LocalDnsServer) -> None:
    result = await resolve(main_dns, "nullmx.main.test")
    assert result.kind is ResolutionKind.NULL_MX
    assert result.hosts == ()
    assert result.mx_query.answers == ("0 .",)
    assert result.mx_query.detail is None
    assert result.queries == (result.mx_query,)
    # RFC 7505: nothing further is looked up, although the domain has an A record.
    assert not main_dns.asked("nullmx.main.test", "A")


async def test_null_mx_with_other_preference_is_still_null_but_noted(
    main_dns: LocalDnsServer,
) -> None:
    result = await resolve(main_dns, "nullmx-odd.main.test")
    assert result.kind is ResolutionKind.NULL_MX
    assert result.mx_query.detail is not None
    assert "RFC 7505" in result.mx_query.detail


async def test_null_mx_mixed_with_other_mx_is_ignored_and_noted(
    main_dns: LocalDnsServer,
) -> None:
    result = await resolve(main_dns, "nullmx-mixed.main.test")
    assert result.kind is ResolutionKind.MX
    assert [h.name for h in result.hosts] == ["mx1.main.test"]
    assert result.hosts[0].rank == 1
    assert result.mx_query.outcome is DnsOutcome.OK
    assert result.mx_query.detail is not None
    assert "RFC 7505" in result.mx_query.detail


# ------------------------------------------------------------------ target kinds


async def test_every_mx_target_kind(main_dns: LocalDnsServer) -> None:
    result = await resolve(main_dns, "kinds.main.test")
    assert result.kind is ResolutionKind.MX
    kinds = {h.name: h.kind for h in result.hosts}
    assert kinds == {
        "mx1.main.test": MxTargetKind.HOSTNAME,
        "alias.main.test": MxTargetKind.CNAME,
        "127.0.0.99": MxTargetKind.IP_LITERAL,
        "gone.main.test": MxTargetKind.NO_ADDRESS,
        "txtonly.main.test": MxTargetKind.NO_ADDRESS,
        "broken.main.test": MxTargetKind.LOOKUP_FAILED,
    }
    assert [h.rank for h in result.hosts] == [1, 2, 3, 4, 5, 6]

    alias = host(result, "alias.main.test")
    assert alias.addresses == ("127.0.0.11", "::1")
    assert {q.cname for q in alias.queries} == {"mx1.main.test"}

    literal = host(result, "127.0.0.99")
    assert literal.addresses == ()
    assert literal.queries == ()
    assert not any("127.0.0.99" in q.name for q in main_dns.received)

    gone = by_type(host(result, "gone.main.test").queries)
    assert gone["A"].outcome is DnsOutcome.NXDOMAIN
    assert gone["AAAA"].outcome is DnsOutcome.NXDOMAIN
    assert gone["A"].nameserver == str(main_dns.nameserver)

    txtonly = by_type(host(result, "txtonly.main.test").queries)
    assert txtonly["A"].outcome is DnsOutcome.NODATA
    assert txtonly["AAAA"].outcome is DnsOutcome.NODATA

    broken = host(result, "broken.main.test")
    assert broken.addresses == ()
    assert {q.outcome for q in broken.queries} == {DnsOutcome.SERVFAIL}
    assert all(q.nameserver == str(main_dns.nameserver) for q in broken.queries)
    assert_plausible(result)


async def test_one_family_failing_keeps_the_other(main_dns: LocalDnsServer) -> None:
    result = await resolve(main_dns, "half.main.test")
    (only,) = result.hosts
    assert only.kind is MxTargetKind.HOSTNAME
    assert only.addresses == ("127.0.0.14",)
    queries = by_type(only.queries)
    assert queries["A"].outcome is DnsOutcome.OK
    assert queries["AAAA"].outcome is DnsOutcome.SERVFAIL


async def test_domain_that_is_an_alias(main_dns: LocalDnsServer) -> None:
    result = await resolve(main_dns, "aliased-domain.main.test")
    assert result.kind is ResolutionKind.MX
    assert result.mx_query.cname == "kinds.main.test"
    assert len(result.hosts) == 6


async def test_addresses_per_host_are_capped(main_dns: LocalDnsServer) -> None:
    result = await resolve(main_dns, "many-addresses.main.test")
    (only,) = result.hosts
    a_query = by_type(only.queries)["A"]
    assert len(a_query.answers) == 20
    assert only.addresses == tuple(f"127.0.1.{i}" for i in range(1, MAX_ADDRESSES_PER_FAMILY + 1))


# ------------------------------------------------------- MX question failures


async def test_nxdomain_domain(main_dns: LocalDnsServer) -> None:
    result = await resolve(main_dns, "no-such-domain.main.test")
    assert result.kind is ResolutionKind.NONE
    assert result.hosts == ()
    assert result.mx_query.outcome is DnsOutcome.NXDOMAIN
    assert result.mx_query.nameserver == str(main_dns.nameserver)
    assert result.mx_query.detail is not None
    assert "NXDOMAIN" in result.mx_query.detail
    assert result.queries == (result.mx_query,)
    assert_plausible(result, at_most_ms=800)


@pytest.mark.parametrize(
    ("domain", "outcome"),
    [("servfail.main.test", DnsOutcome.SERVFAIL), ("refused.main.test", DnsOutcome.REFUSED)],
)
async def test_servfail_and_refused_are_failed(
    main_dns: LocalDnsServer, domain: str, outcome: DnsOutcome
) -> None:
    result = await resolve(main_dns, domain)
    assert result.kind is ResolutionKind.FAILED
    assert result.hosts == ()
    assert result.mx_query.outcome is outcome
    assert result.mx_query.nameserver == str(main_dns.nameserver)
    assert result.mx_query.detail is not None
    assert outcome.value.upper() in result.mx_query.detail
    # An answer, even a negative one, comes quickly: no retry until the lifetime ends.
    assert_plausible(result, at_most_ms=800)


async def test_other_failures_are_error(main_dns: LocalDnsServer) -> None:
    result = await resolve(main_dns, "formerr.main.test")
    assert result.kind is ResolutionKind.FAILED
    assert result.mx_query.outcome is DnsOutcome.ERROR
    assert result.mx_query.detail is not None
    assert str(main_dns.nameserver) in result.mx_query.detail
    assert_plausible(result, at_most_ms=800)


async def test_garbage_over_udp_is_a_malformed_answer(main_dns: LocalDnsServer) -> None:
    # dnspython alone drops UDP datagrams that do not parse and waits for the lifetime:
    # the server then looked silent ("no nameserver answered", exit 5). It did answer,
    # badly: an error from that nameserver, at once (issue 8).
    result = await resolve(main_dns, "garbage.main.test", dns=2.0)
    query = result.mx_query
    assert query.outcome is DnsOutcome.ERROR
    assert query.nameserver == str(main_dns.nameserver)
    assert query.detail and "malformed" in query.detail
    assert query.duration_ms < 1000
    assert main_dns.asked("garbage.main.test", "MX")


async def test_servfail_wins_over_refused_from_another_server(dns_server: Any) -> None:
    refusing = await dns_server({}, {"*.main.test": "refused"})
    failing = await dns_server({}, {"*.main.test": "servfail"})
    for order in ((refusing, failing), (failing, refusing)):
        config = config_for(*(server.nameserver for server in order))
        result = await resolve_domain("x.main.test", config)
        assert result.mx_query.outcome is DnsOutcome.SERVFAIL
        assert result.mx_query.nameserver == str(failing.nameserver)


async def test_timeout_after_a_servfail_mentions_both(dns_server: Any) -> None:
    failing = await dns_server({}, {"*.main.test": "servfail"})
    silent = await dns_server({}, {"*.main.test": "drop"})
    config = config_for(failing.nameserver, silent.nameserver, dns=0.4)
    result = await resolve_domain("x.main.test", config)
    assert result.mx_query.outcome is DnsOutcome.TIMEOUT
    assert result.mx_query.detail is not None
    assert f"{failing.nameserver} said SERVFAIL" in result.mx_query.detail
    assert str(silent.nameserver) in result.mx_query.detail


async def test_name_outside_the_servers_zones_is_refused(main_dns: LocalDnsServer) -> None:
    result = await resolve(main_dns, "elsewhere.test")
    assert result.kind is ResolutionKind.FAILED
    assert result.mx_query.outcome is DnsOutcome.REFUSED


async def test_timeout_when_the_server_never_answers(main_dns: LocalDnsServer) -> None:
    started = time.monotonic()
    result = await resolve(main_dns, "drop.main.test", dns=0.4)
    elapsed = time.monotonic() - started
    assert result.kind is ResolutionKind.FAILED
    assert result.mx_query.outcome is DnsOutcome.TIMEOUT
    assert result.mx_query.nameserver is None
    assert result.mx_query.detail is not None
    assert str(main_dns.nameserver) in result.mx_query.detail
    assert 350 <= result.mx_query.duration_ms <= 1500
    assert elapsed < 1.6
    assert main_dns.asked("drop.main.test", "MX")


async def test_slow_answer_within_the_lifetime_is_ok(main_dns: LocalDnsServer) -> None:
    result = await resolve(main_dns, "slow.main.test", dns=2.0)
    assert result.kind is ResolutionKind.MX
    assert result.mx_query.duration_ms >= 280


async def test_slow_answer_beyond_the_lifetime_is_a_timeout(main_dns: LocalDnsServer) -> None:
    result = await resolve(main_dns, "slow.main.test", dns=0.15)
    assert result.mx_query.outcome is DnsOutcome.TIMEOUT


async def test_truncated_udp_answer_is_retried_over_tcp(main_dns: LocalDnsServer) -> None:
    result = await resolve(main_dns, "truncated.main.test")
    assert result.kind is ResolutionKind.MX
    transports = [q.transport for q in main_dns.received if q.name == "truncated.main.test"]
    assert transports == ["udp", "tcp"]


# ----------------------------------------------------------- nameservers, families


async def test_answer_records_the_nameserver_that_gave_it(dns_server: Any) -> None:
    empty = await dns_server({})  # REFUSED for everything: not authoritative
    good = await dns_server({"main.test": MAIN})
    config = config_for(empty.nameserver, good.nameserver)
    result = await resolve_domain("kinds.main.test", config)
    assert result.kind is ResolutionKind.MX
    assert result.mx_query.nameserver == f"127.0.0.1@{good.port}"
    assert empty.asked("kinds.main.test", "MX")


async def test_failure_from_several_nameservers_names_them(dns_server: Any) -> None:
    first = await dns_server({}, {"*.main.test": "refused"})
    second = await dns_server({}, {"*.main.test": "refused"})
    result = await resolve_domain("x.main.test", config_for(first.nameserver, second.nameserver))
    assert result.mx_query.outcome is DnsOutcome.REFUSED
    assert result.mx_query.detail is not None
    assert str(first.nameserver) in result.mx_query.detail
    assert str(second.nameserver) in result.mx_query.detail


@pytest.mark.skipif(not ipv6_loopback_available(), reason="no IPv6 loopback here")
async def test_ipv6_nameserver_and_aaaa_on_loopback(dns_server: Any) -> None:
    server = await dns_server({"main.test": MAIN}, FAULTS, ipv6=True)
    v6 = server.nameservers[1]
    assert v6.address == "::1"
    result = await resolve_domain("implicit.main.test", config_for(v6))
    assert result.kind is ResolutionKind.IMPLICIT
    assert result.mx_query.nameserver == f"::1@{server.port}"
    assert result.hosts[0].addresses == ("127.0.0.7", "::1")
    aaaa = by_type(result.hosts[0].queries)["AAAA"]
    assert aaaa.answers == ("::1",)
    assert aaaa.nameserver == f"::1@{server.port}"


FAMILY_SETS = [
    (AddressFamily.IPV4,),
    (AddressFamily.IPV6,),
    (AddressFamily.IPV4, AddressFamily.IPV6),
]


@pytest.mark.parametrize("families", FAMILY_SETS, ids=["-4", "-6", "both"])
async def test_both_families_are_asked_whatever_the_filter(
    main_dns: LocalDnsServer, families: tuple[AddressFamily, ...]
) -> None:
    # -4/-6 filter the routes, not the DNS: asking only A (or AAAA) made an MX with
    # addresses in the other family look like one without any (a false 5.4.3).
    result = await resolve(main_dns, "dupes.main.test", families=families)
    mx1 = host(result, "mx1.main.test")
    assert mx1.addresses == ("127.0.0.11", "::1")
    assert [q.rdtype for q in mx1.queries] == ["A", "AAAA"]
    asked = {q.rdtype for q in main_dns.received if q.name == "mx1.main.test"}
    assert asked == {"A", "AAAA"}
    # The plan applies the filter.
    planned = {
        r.address for r in plan_routes(result, config_for(main_dns.nameserver, families=families))
    }
    want = {"127.0.0.11", "127.0.0.13", "::1"}
    assert planned == {a for a in want if address_family(a) in families}


@pytest.mark.parametrize(
    ("domain", "mx", "families", "addresses"),
    [
        ("v6only.main.test", "v6host.main.test", (AddressFamily.IPV4,), ("::1",)),
        ("v4only.main.test", "v4host.main.test", (AddressFamily.IPV6,), ("127.0.0.15",)),
    ],
    ids=["-4-against-ipv6-only-mx", "-6-against-ipv4-only-mx"],
)
async def test_mx_with_addresses_only_in_the_excluded_family_has_an_address(
    main_dns: LocalDnsServer,
    domain: str,
    mx: str,
    families: tuple[AddressFamily, ...],
    addresses: tuple[str, ...],
) -> None:
    result = await resolve(main_dns, domain, families=families)
    assert result.kind is ResolutionKind.MX
    target = host(result, mx)
    # Not no-address: the DNS has an address, only in a family -4/-6 excludes.
    assert (target.kind, target.addresses) == (MxTargetKind.HOSTNAME, addresses)
    outcomes = {q.rdtype: q.outcome for q in target.queries}
    assert set(outcomes.values()) == {DnsOutcome.OK, DnsOutcome.NODATA}, outcomes
    assert plan_routes(result, config_for(main_dns.nameserver, families=families)) == ()


async def test_implicit_mx_with_only_ipv6_under_ipv4_filter_is_implicit(
    main_dns: LocalDnsServer,
) -> None:
    result = await resolve(main_dns, "implicit6.main.test", families=(AddressFamily.IPV4,))
    assert result.kind is ResolutionKind.IMPLICIT
    assert [(h.kind, h.addresses) for h in result.hosts] == [(MxTargetKind.HOSTNAME, ("::1",))]


# ------------------------------------------------------------------ hostile zones


async def test_hostile_zone_with_hundreds_of_mx_is_capped(dns_server: Any) -> None:
    records = [f"MX {i % 7} mx{i}" for i in range(300)]
    zone = {"@": records, **{f"mx{i}": f"A 127.0.2.{i % 250 + 1}" for i in range(300)}}
    server = await dns_server({"hostile.test": zone})
    started = time.monotonic()
    result = await resolve(server, "hostile.test")
    elapsed = time.monotonic() - started

    assert result.kind is ResolutionKind.MX
    assert len(result.mx_query.answers) == MAX_ANSWERS
    assert len(result.hosts) == MAX_MX_HOSTS
    assert result.mx_query.detail is not None
    assert f"{300 - MAX_MX_HOSTS} MX hosts beyond" in result.mx_query.detail
    # The kept hosts are the most preferred ones (all preference 0 here: 43 of them).
    assert {h.preference for h in result.hosts} == {0}
    assert all(h.rank == 1 for h in result.hosts)
    # The answer is larger than UDP allows: it came over TCP.
    mx_transports = [q.transport for q in server.received if q.rdtype == "MX"]
    assert mx_transports == ["udp", "tcp"]
    # Only the capped hosts were looked up.
    address_questions = [q for q in server.received if q.rdtype in ("A", "AAAA")]
    assert len(address_questions) == 2 * MAX_MX_HOSTS
    assert elapsed < 5


# ---------------------------------------------------------------------- deadlines


async def test_deadline_bounds_the_whole_stage(main_dns: LocalDnsServer) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 0.3
    started = time.monotonic()
    result = await resolve_domain(
        "drop.main.test", config_for(main_dns.nameserver, dns=5.0), deadline=deadline
    )
    elapsed = time.monotonic() - started
    assert result.mx_query.outcome is DnsOutcome.TIMEOUT
    assert elapsed < 0.3 + 0.8
    assert result.duration_ms < 1100


async def test_deadline_cuts_address_lookups_too(main_dns: LocalDnsServer) -> None:
    main_dns.set_fault("mx1.main.test", "drop")
    loop = asyncio.get_running_loop()
    started = time.monotonic()
    result = await resolve_domain(
        "dupes.main.test",
        config_for(main_dns.nameserver, dns=5.0),
        deadline=loop.time() + 0.4,
    )
    elapsed = time.monotonic() - started
    assert elapsed < 0.4 + 0.8
    mx1 = host(result, "mx1.main.test")
    assert mx1.kind is MxTargetKind.LOOKUP_FAILED
    assert {q.outcome for q in mx1.queries} == {DnsOutcome.TIMEOUT}
    assert host(result, "mx2.main.test").kind is MxTargetKind.HOSTNAME


async def test_passed_deadline_asks_nothing(main_dns: LocalDnsServer) -> None:
    loop = asyncio.get_running_loop()
    result = await resolve_domain(
        "kinds.main.test", config_for(main_dns.nameserver), deadline=loop.time() - 1
    )
    assert result.kind is ResolutionKind.FAILED
    assert result.mx_query.outcome is DnsOutcome.TIMEOUT
    assert result.mx_query.nameserver is None
    assert main_dns.received == []


# ------------------------------------------------------------------ sync callers


def test_resolution_from_sync_code_with_a_threaded_server(dns_server_thread: Any) -> None:
    server = dns_server_thread({"main.test": MAIN}, FAULTS)
    result = asyncio.run(resolve_domain("implicit.main.test", config_for(server.nameserver)))
    assert result.kind is ResolutionKind.IMPLICIT
    assert result.hosts[0].addresses == ("127.0.0.7", "::1")


async def test_each_question_is_logged_at_debug(
    main_dns: LocalDnsServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG", logger="smtpdiag.resolve")
    await resolve(main_dns, "no-such-domain.main.test")
    (record,) = [r for r in caplog.records if r.name.startswith("smtpdiag.resolve")]
    assert "no-such-domain.main.test MX -> nxdomain" in record.getMessage()
    assert str(main_dns.nameserver) in record.getMessage()
