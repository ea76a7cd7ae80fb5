"""DANE against real parts: NSD serving DNSSEC-signed zones, unbound validating them with
the test keys as trust anchors, Postfix presenting a leaf and its intermediate.

The zones and the resolver are made at bring-up (``tests/lab/dane_zones.py``). Every
question goes to unbound (``LabInfo.resolver``), as a DANE sender's would go to its
validating resolver; the AD bit it sets is its verdict, not the test kit's.
"""

from __future__ import annotations

import asyncio

import pytest

from smtpdiag.api import probe
from smtpdiag.config import Nameserver, ProbeConfig, ResolverConfig, Timeouts, TlsConfig
from smtpdiag.model import DaneState, DnsOutcome, DnssecStatus, TlsaLookup, TlsRptResult
from smtpdiag.policy.dane import lookup_dnssec_mx, lookup_tlsa
from smtpdiag.probing import plan_routes, probe_routes
from smtpdiag.resolve import resolve_domain
from smtpdiag.resolve.resolver import build_resolver, query_raw

from . import labctl

pytestmark = pytest.mark.lab

HOSTS = {
    "mx-ee.dane.test": DaneState.USABLE,
    "mx-ta.dane.test": DaneState.USABLE,
    "mx-taname.dane.test": DaneState.USABLE,
    "mx-wrong.dane.test": DaneState.USABLE,
    "mx-none.dane.test": DaneState.NONE,
    "mx.unsigned.test": DaneState.NOT_USABLE,
    "mx.bogus.test": DaneState.BOGUS,
}


def config(lab: labctl.LabInfo) -> ProbeConfig:
    address, _, port = lab.resolver.rpartition(":")
    return ProbeConfig(
        ports=(25,),
        resolver=ResolverConfig(nameservers=(Nameserver(address, int(port)),)),
        tls=TlsConfig(ca_file=lab.ca_file),
        timeouts=Timeouts(dns=2.0, connect=1.0, greeting=2.0, command=2.0, tls=2.0, total=8.0),
        allow_targets=(str(labctl.NET4), str(labctl.NET6)),
    )


def deadline(seconds: float = 6.0) -> float:
    return asyncio.get_running_loop().time() + seconds


async def lookups(lab: labctl.LabInfo) -> dict[str, TlsaLookup]:
    found = await lookup_tlsa(list(HOSTS), 25, config(lab), deadline=deadline())
    return {lookup.mx: lookup for lookup in found}


async def test_validating_resolver_states(lab: labctl.LabInfo) -> None:
    found = await lookups(lab)
    assert {mx: lookup.state for mx, lookup in found.items()} == HOSTS
    ee = found["mx-ee.dane.test"]
    assert ee.dnssec is DnssecStatus.SECURE and ee.address_dnssec is DnssecStatus.SECURE
    assert [(r.usage, r.selector, r.matching_type) for r in ee.records] == [(3, 1, 1)]
    assert found["mx-none.dane.test"].dnssec is DnssecStatus.SECURE  # signed denial
    # The TLSA record would match, but nothing vouches for it: never a pass.
    unsigned = found["mx.unsigned.test"]
    assert unsigned.dnssec is DnssecStatus.INSECURE and unsigned.records[0].usable
    bogus = found["mx.bogus.test"]
    assert bogus.dnssec is DnssecStatus.BOGUS and bogus.query.outcome is DnsOutcome.SERVFAIL


async def test_mx_rrset_status(lab: labctl.LabInfo) -> None:
    cfg = config(lab)
    assert await lookup_dnssec_mx("ee.dane.test", cfg, deadline=deadline()) is (DnssecStatus.SECURE)
    assert await lookup_dnssec_mx("unsigned.test", cfg, deadline=deadline()) is (
        DnssecStatus.INSECURE
    )
    assert await lookup_dnssec_mx("healthy.lab.test", cfg, deadline=deadline()) is (
        DnssecStatus.INSECURE
    )
    assert await lookup_dnssec_mx("bogus.test", cfg, deadline=deadline()) is DnssecStatus.BOGUS


async def test_nsd_alone_never_sets_ad(lab: labctl.LabInfo) -> None:
    # The authoritative server answers the same zone without AD: only the validating
    # resolver's verdict makes a TLSA record usable.
    address, _, port = lab.nameserver.rpartition(":")
    cfg = config(lab)
    direct = ProbeConfig(resolver=ResolverConfig(nameservers=(Nameserver(address, int(port)),)))
    (found,) = await lookup_tlsa(["mx-ee.dane.test"], 25, direct, deadline=deadline())
    assert found.state is DaneState.NOT_USABLE and found.records
    assert cfg.resolver != direct.resolver


async def test_resolver_refuses_names_outside_the_lab(lab: labctl.LabInfo) -> None:
    # unbound answers only for the lab's zones; it never recurses to a root server.
    # (A made-up top-level label: not one of unbound's built-in local zones.)
    resolver = build_resolver(config(lab).resolver, 2.0, dnssec=True)
    raw = await query_raw(resolver, "nowhere.sdlab-outside", "A", lifetime=2.0)
    assert raw.query.outcome is DnsOutcome.REFUSED


@pytest.mark.parametrize(
    ("domain", "matched", "usage", "failure"),
    [
        ("ee.dane.test", True, 3, None),
        ("ta.dane.test", True, 2, None),
        ("wrong.dane.test", False, None, TlsRptResult.TLSA_INVALID),
        ("taname.dane.test", False, None, TlsRptResult.CERTIFICATE_HOST_MISMATCH),
    ],
)
async def test_probe_matches_the_presented_chain(
    lab: labctl.LabInfo,
    domain: str,
    matched: bool,
    usage: int | None,
    failure: TlsRptResult | None,
) -> None:
    cfg = config(lab)
    resolution = await resolve_domain(domain, cfg, deadline=deadline())
    hosts = [host.name for host in resolution.hosts]
    found = await lookup_tlsa(hosts, 25, cfg, deadline=deadline())
    routes = plan_routes(resolution, cfg)
    results = await probe_routes(routes, cfg, tlsa={lookup.mx: lookup for lookup in found})
    assert results
    for result in results:
        assert result.ok, result
        assert result.tls is not None and result.tls.dane is not None, result.route
        check = result.tls.dane
        assert (check.matched, check.usage, check.failure) == (matched, usage, failure)
        # WebPKI (the lab CA) is judged on its own: the chain verifies everywhere, the
        # name only where the certificate carries it.
        assert result.tls.verified
        assert result.tls.hostname_match is (domain != "taname.dane.test")
        if usage == 2:
            # The intermediate Postfix sends after the leaf is the trust anchor.
            assert check.chain_index == 1 and result.tls.chain_length == 2


@pytest.mark.parametrize(
    ("domain", "matched", "failure"),
    [
        ("tadomain.dane.test", True, None),
        ("taname.dane.test", False, TlsRptResult.CERTIFICATE_HOST_MISMATCH),
    ],
)
async def test_dane_ta_certificate_may_name_the_recipient_domain(
    lab: labctl.LabInfo, domain: str, matched: bool, failure: TlsRptResult | None
) -> None:
    # RFC 7672 3.2.2: both domains' MX is mx-taname, which the certificate does not
    # name; it names tadomain.dane.test, whose MX RRset the resolver validated: that
    # domain is a reference identifier. The whole pipeline, policy stage included.
    report = await probe(domain, config(lab), diagnose=False)
    assert report.policy is not None and report.policy.mx_dnssec is DnssecStatus.SECURE
    assert report.routes
    for result in report.routes:
        assert result.ok, result
        assert result.tls is not None and result.tls.dane is not None, result.route
        check = result.tls.dane
        assert (check.matched, check.failure) == (matched, failure), result.route
        assert result.tls.hostname_match is False  # WebPKI wants the MX host's name
        if matched:
            assert check.usage == 2 and check.chain_index == 1


async def test_unsigned_tlsa_is_never_a_pass(lab: labctl.LabInfo) -> None:
    cfg = config(lab)
    resolution = await resolve_domain("unsigned.test", cfg, deadline=deadline())
    found = await lookup_tlsa(["mx.unsigned.test"], 25, cfg, deadline=deadline())
    results = await probe_routes(
        plan_routes(resolution, cfg), cfg, tlsa={lookup.mx: lookup for lookup in found}
    )
    assert results and all(r.ok and r.tls is not None for r in results)
    assert all(r.tls is not None and r.tls.dane is None for r in results)
