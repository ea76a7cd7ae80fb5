"""The MTA-STS lookup end to end on loopback: the TXT record from a real DNS server, the
policy from a real HTTPS server with a certificate from the test CA, the parse and the
mx match. Each test pins the status and the fetch error a sender would meet.
"""

from __future__ import annotations

import asyncio

import pytest
from sts_kit import PolicyServerFactory, make_config, zones

from smtpdiag.model import (
    DnsOutcome,
    StsFetchError,
    StsMode,
    StsMxMatch,
    StsProblem,
    StsStatus,
)
from smtpdiag.policy.mtasts import lookup_mta_sts
from smtpdiag.testing.certs import TestPki
from smtpdiag.testing.httpsserver import POLICY_PATH, PolicyResponse, policy_text

DOMAIN = "example.test"
MX = ("mx1.example.test", "mx2.example.test")


async def lookup(config: object, mx: tuple[str, ...] = MX, budget: float = 10.0) -> object:
    loop = asyncio.get_running_loop()
    return await lookup_mta_sts(DOMAIN, mx, config, deadline=loop.time() + budget)  # type: ignore[arg-type]


@pytest.mark.parametrize("mode", list(StsMode))
async def test_valid_policy_each_mode(
    mode: StsMode, dns_server, policy_server: PolicyServerFactory, pki: TestPki
) -> None:
    dns = await dns_server(zones())
    web = await policy_server(PolicyResponse(policy_text(mode.value, ["*.example.test"])))
    result = await lookup(make_config(dns, pki, web))
    assert result.status is StsStatus.VALID
    assert result.mode is mode
    assert result.record is not None and result.record.id == "20240101"
    assert result.record_query is not None and result.record_query.outcome is DnsOutcome.OK
    assert result.matches == (
        StsMxMatch("mx1.example.test", "*.example.test"),
        StsMxMatch("mx2.example.test", "*.example.test"),
    )
    fetch = result.fetch
    assert fetch is not None and fetch.error is None
    assert fetch.status == 200 and fetch.content_type == "text/plain"
    assert fetch.address == "127.0.0.1"
    assert fetch.url == f"https://mta-sts.example.test:{web.port}{POLICY_PATH}"
    assert fetch.size == len(policy_text(mode.value, ["*.example.test"]))
    # What the sender asked: SNI and Host name the policy host, the well-known path.
    (request,) = web.requests
    assert request.method == "GET" and request.target == POLICY_PATH
    assert request.host == f"mta-sts.example.test:{web.port}"
    assert request.sni == "mta-sts.example.test"


async def test_mx_patterns_miss_an_mx(dns_server, policy_server, pki: TestPki) -> None:
    dns = await dns_server(zones())
    web = await policy_server(PolicyResponse(policy_text("enforce", ["mx1.example.test"])))
    result = await lookup(make_config(dns, pki, web), mx=("MX1.example.test.", "mx2.example.test"))
    assert result.status is StsStatus.VALID
    assert result.matches == (
        StsMxMatch("mx1.example.test", "mx1.example.test"),
        StsMxMatch("mx2.example.test", None),
    )


async def test_wildcard_covers_one_label_only(dns_server, policy_server, pki: TestPki) -> None:
    dns = await dns_server(zones())
    web = await policy_server(PolicyResponse(policy_text("testing", ["*.example.test"])))
    result = await lookup(make_config(dns, pki, web), mx=("a.mx.example.test", "example.test"))
    assert [m.pattern for m in result.matches] == [None, None]


async def test_policy_invalid(dns_server, policy_server, pki: TestPki) -> None:
    dns = await dns_server(zones())
    body = b"version: STSv1\nmode: enforce\nmax_age: forever\n"
    web = await policy_server(PolicyResponse(body))
    result = await lookup(make_config(dns, pki, web))
    assert result.status is StsStatus.POLICY_INVALID
    assert result.policy is not None
    assert result.policy.problems == (StsProblem.POLICY_BAD_MAX_AGE, StsProblem.POLICY_NO_MX)
    assert result.mode is None  # an invalid policy is no mode at all for senders
    assert result.matches == ()


@pytest.mark.parametrize(
    ("kind", "error"),
    [
        ("untrusted", StsFetchError.CERT_UNTRUSTED),
        ("expired", StsFetchError.CERT_EXPIRED),
        ("wrong-name", StsFetchError.CERT_NAME),
    ],
)
async def test_policy_host_bad_certificate(
    kind: str, error: StsFetchError, dns_server, policy_server, pki: TestPki
) -> None:
    dns = await dns_server(zones())
    web = await policy_server(PolicyResponse(policy_text()), cert=kind)
    result = await lookup(make_config(dns, pki, web))
    assert result.status is StsStatus.WEBPKI_INVALID
    assert result.fetch is not None and result.fetch.error is error
    assert result.fetch.detail
    assert result.policy is None
    assert web.requests == []  # no request over a bad certificate


async def test_certificate_for_another_domain(dns_server, policy_server, pki: TestPki) -> None:
    # The good leaf names mta-sts.example.test and mta-sts.other.test, not mta-sts.third.test.
    dns = await dns_server(
        {"third.test": {"_mta-sts": 'TXT "v=STSv1; id=1"', "mta-sts": "A 127.0.0.1"}}
    )
    web = await policy_server(PolicyResponse(policy_text()))
    loop = asyncio.get_running_loop()
    result = await lookup_mta_sts(
        "third.test", MX, make_config(dns, pki, web), deadline=loop.time() + 10
    )
    assert result.status is StsStatus.WEBPKI_INVALID
    assert result.fetch is not None and result.fetch.error is StsFetchError.CERT_NAME


@pytest.mark.parametrize(
    "record",
    [None, '"v=spf1 -all"', '"V=STSv1; id=1"'],
    ids=["no-txt", "other-txt", "wrong-case"],
)
async def test_not_published(record: str | None, dns_server, policy_server, pki: TestPki) -> None:
    data = zones(record=record)
    if record is None:
        data["example.test"]["_mta-sts"] = "A 127.0.0.9"  # the name exists: NODATA for TXT
    dns = await dns_server(data)
    web = await policy_server()
    result = await lookup(make_config(dns, pki, web))
    assert result.status is StsStatus.NOT_PUBLISHED
    assert result.fetch is None and web.connections == 0


async def test_not_published_nxdomain(dns_server, policy_server, pki: TestPki) -> None:
    dns = await dns_server(zones(record=None))
    web = await policy_server()
    result = await lookup(make_config(dns, pki, web))
    assert result.status is StsStatus.NOT_PUBLISHED
    assert result.record_query is not None
    assert result.record_query.outcome is DnsOutcome.NXDOMAIN
    assert web.connections == 0


@pytest.mark.parametrize("fault", ["servfail", "refused"])
async def test_dns_error(fault: str, dns_server, policy_server, pki: TestPki) -> None:
    dns = await dns_server(zones(), faults={"_mta-sts.example.test/TXT": fault})
    web = await policy_server()
    result = await lookup(make_config(dns, pki, web))
    assert result.status is StsStatus.DNS_ERROR
    assert result.record_query is not None and result.record_query.outcome.value == fault
    assert web.connections == 0


async def test_dns_timeout_within_budget(dns_server, policy_server, pki: TestPki) -> None:
    dns = await dns_server(zones(), faults={"_mta-sts.example.test": "drop"})
    web = await policy_server()
    loop = asyncio.get_running_loop()
    start = loop.time()
    result = await lookup(make_config(dns, pki, web), budget=1.0)
    elapsed = loop.time() - start
    assert result.status is StsStatus.DNS_ERROR
    assert result.record_query is not None
    assert result.record_query.outcome is DnsOutcome.TIMEOUT
    assert elapsed < 1.0 + 0.5


async def test_several_records_invalid_no_fetch(dns_server, policy_server, pki: TestPki) -> None:
    dns = await dns_server(zones(record=['"v=STSv1; id=1"', '"v=STSv1; id=2"']))
    web = await policy_server()
    result = await lookup(make_config(dns, pki, web))
    assert result.status is StsStatus.RECORD_INVALID
    assert result.record is not None
    assert result.record.problems == (StsProblem.RECORD_MULTIPLE,)
    assert result.fetch is None and web.connections == 0


async def test_record_split_into_strings(dns_server, policy_server, pki: TestPki) -> None:
    # RFC 8461 3.1: the strings of one TXT record are concatenated.
    dns = await dns_server(zones(record='"v=STSv1; " "id=split1"'))
    web = await policy_server()
    result = await lookup(make_config(dns, pki, web))
    assert result.record is not None and result.record.id == "split1"
    assert result.status is StsStatus.VALID


async def test_deadline_passed(dns_server, pki: TestPki) -> None:
    dns = await dns_server(zones())
    loop = asyncio.get_running_loop()
    result = await lookup_mta_sts(DOMAIN, MX, make_config(dns, pki), deadline=loop.time() - 1)
    assert result.status is StsStatus.NOT_CHECKED
    assert dns.received == []


async def test_fetch_error_status(dns_server, policy_server, pki: TestPki) -> None:
    dns = await dns_server(zones())
    web = await policy_server(PolicyResponse(b"gone\n", status=404))
    result = await lookup(make_config(dns, pki, web))
    assert result.status is StsStatus.FETCH_ERROR
    assert result.fetch is not None
    assert result.fetch.error is StsFetchError.HTTP_STATUS and result.fetch.status == 404
