"""The policy stage (``smtpdiag.policy.lookup_policy``): order, concurrency and the one
deadline, against the loopback DNS server and HTTPS policy server."""

from __future__ import annotations

import asyncio
from typing import Any

from sts_kit import PolicyServerFactory, make_config, zones

import smtpdiag.api  # noqa: F401  # the probe stage is loaded, as in a real probe
from smtpdiag.config import PolicyConfig, Timeouts
from smtpdiag.model import (
    DaneState,
    MxTargetKind,
    Resolution,
    ResolutionKind,
    StsStatus,
    TlsRptStatus,
)
from smtpdiag.policy import NOT_CHECKED, DaneInputs, lookup_policy
from smtpdiag.resolve import resolve_domain
from smtpdiag.testing.certs import TestPki
from smtpdiag.testing.dnsserver import LocalDnsServer
from smtpdiag.testing.httpsserver import PolicyResponse, policy_text


async def _resolve(config: Any) -> Resolution:
    deadline = asyncio.get_running_loop().time() + 5
    return await resolve_domain("example.test", config, deadline=deadline)


async def test_probe_runs_alongside_a_slow_policy_fetch(
    pki: TestPki, policy_server: PolicyServerFactory
) -> None:
    """The routes are probed while the policy host takes a second to answer."""
    web = await policy_server(
        PolicyResponse(policy_text("enforce", ["mx1.example.test", "mx2.example.test"]), delay=2.0)
    )
    zone = zones()
    zone["example.test"]["_smtp._tls"] = 'TXT "v=TLSRPTv1; rua=mailto:r@example.test"'
    async with LocalDnsServer(zone) as dns:
        config = make_config(dns, pki, web)
        resolution = await _resolve(config)
        loop = asyncio.get_running_loop()
        seen: list[DaneInputs] = []
        start = loop.time()

        async def probe(dane: DaneInputs) -> float:
            seen.append(dane)
            began = loop.time() - start
            await asyncio.sleep(2.0)  # the routes take as long as the fetch
            return began

        policy, began = await lookup_policy(
            "example.test", resolution, config, deadline=start + 8, during=probe
        )
        took = loop.time() - start
    assert policy is not None
    assert policy.mta_sts.status is StsStatus.VALID
    assert policy.tls_rpt.status is TlsRptStatus.VALID
    # TLSA first (the probe got them), then the probe and the fetch together.
    assert set(seen[0].tlsa) == {"mx1.example.test", "mx2.example.test"}
    assert all(t.state is DaneState.NONE for t in seen[0].tlsa.values())
    assert seen[0].nexthop is None  # the MX RRset is not secure
    # Neither waited for the other (one after the other would take 4 s more than DANE).
    assert began < 2.0, began
    assert took < began + 3.0, (began, took)
    assert policy.duration_ms >= 2000


async def test_dropped_tlsa_questions_leave_the_probe_time(pki: TestPki) -> None:
    faults = {f"_25._tcp.mx{i}.example.test/TLSA": "drop" for i in (1, 2)}
    async with LocalDnsServer(zones(record=None), faults) as dns:
        config = make_config(dns, pki)
        resolution = await _resolve(config)
        config = type(config)(
            resolver=config.resolver,
            tls=config.tls,
            allow_targets=config.allow_targets,
            timeouts=Timeouts(dns=5.0, total=3.0),
            policy=config.policy,
        )
        loop = asyncio.get_running_loop()
        start = loop.time()

        async def probe(dane: DaneInputs) -> float:
            return loop.time() - start

        policy, began = await lookup_policy(
            "example.test", resolution, config, deadline=start + 3.0, during=probe
        )
    assert began < 1.3, began  # a third of the 3 s, not the 5 s DNS timeout
    assert policy is not None
    assert {t.state for t in policy.dane} == {DaneState.UNKNOWN}


async def test_disabled_looks_nothing_up(pki: TestPki) -> None:
    async with LocalDnsServer(zones()) as dns:
        config = make_config(dns, pki)
        resolution = await _resolve(config)
        before = len(dns.received)
        off = type(config)(resolver=config.resolver, policy=PolicyConfig(enabled=False))

        async def probe(dane: DaneInputs) -> int:
            return len(dane.tlsa)

        deadline = asyncio.get_running_loop().time() + 3
        policy, n = await lookup_policy(
            "example.test", resolution, off, deadline=deadline, during=probe
        )
        assert policy is None and n == 0
        assert len(dns.received) == before


async def test_a_domain_without_mail_servers_is_not_checked(pki: TestPki) -> None:
    async with LocalDnsServer(zones()) as dns:
        config = make_config(dns, pki)
        resolution = await _resolve(config)
        nxdomain = Resolution(
            "gone.test", ResolutionKind.NONE, resolution.mx_query, (), (resolution.mx_query,), 1.0
        )

        async def probe(dane: DaneInputs) -> None:
            return None

        deadline = asyncio.get_running_loop().time() + 3
        policy, _ = await lookup_policy(
            "gone.test", nxdomain, config, deadline=deadline, during=probe
        )
    assert policy is NOT_CHECKED
    assert resolution.hosts[0].kind is MxTargetKind.HOSTNAME


async def test_a_secure_mx_rrset_hands_the_domain_to_the_probe(pki: TestPki) -> None:
    # RFC 7672 3.2.2: with a secure MX RRset, a DANE-TA certificate may name the
    # domain instead of the MX host; the probe gets the domain only then.
    for secure, expected in ((["example.test"], "example.test"), ([], None)):
        async with LocalDnsServer(zones(record=None), secure=secure) as dns:
            config = make_config(dns, pki)
            resolution = await _resolve(config)

            async def probe(dane: DaneInputs) -> str | None:
                return dane.nexthop

            deadline = asyncio.get_running_loop().time() + 3
            policy, nexthop = await lookup_policy(
                "example.test", resolution, config, deadline=deadline, during=probe
            )
        assert policy is not None and nexthop == expected, secure
