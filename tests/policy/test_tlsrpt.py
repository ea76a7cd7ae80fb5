"""TLS-RPT (RFC 8460 3): the record parser, and the lookup against a loopback DNS server."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from smtpdiag.config import ProbeConfig, ResolverConfig, Timeouts
from smtpdiag.model import DnsOutcome, TlsRptProblem, TlsRptStatus
from smtpdiag.policy.tlsrpt import MAX_RUA, lookup_tls_rpt, parse_tls_rpt, record_texts

P = TlsRptProblem


@pytest.mark.parametrize(
    ("texts", "rua"),
    [
        (["v=TLSRPTv1; rua=mailto:tlsrpt@example.org"], ("mailto:tlsrpt@example.org",)),
        (["v=TLSRPTv1;rua=https://reports.example.org/v1"], ("https://reports.example.org/v1",)),
        (
            ["v=TLSRPTv1; rua=mailto:a@example.org, https://r.example.org/x;"],
            ("mailto:a@example.org", "https://r.example.org/x"),
        ),
        # Extensions are ignored; other TXT records at the name are not TLS-RPT records.
        (
            ["v=spf1 -all", "v=TLSRPTv1 ; rua=mailto:a@example.org ; ext_1=yes"],
            ("mailto:a@example.org",),
        ),
    ],
)
def test_valid_records(texts: list[str], rua: tuple[str, ...]) -> None:
    got = parse_tls_rpt(texts)
    assert got.status is TlsRptStatus.VALID, got.problems
    assert got.rua == rua
    assert got.problems == ()


@pytest.mark.parametrize(
    ("texts", "problems"),
    [
        (["v=TLSRPTv1"], (P.NO_RUA,)),
        (["v=TLSRPTv1; ext=1"], (P.NO_RUA,)),
        (["v=TLSRPTv1; rua=ftp://example.org/x"], (P.BAD_URI,)),
        (["v=TLSRPTv1; rua=mailto:nobody"], (P.BAD_URI,)),
        (["v=TLSRPTv1; rua=https://"], (P.BAD_URI,)),
        (["v=TLSRPTv1; rua=mailto:a@example.org; rua=mailto:b@example.org"], (P.DUPLICATE_RUA,)),
        (["v=TLSRPTv1; rua mailto:a@example.org"], (P.SYNTAX, P.NO_RUA)),
        (["v=TLSRPTv1; ; rua=mailto:a@example.org"], (P.SYNTAX,)),
        (
            ["v=TLSRPTv1; rua=mailto:a@example.org", "v=TLSRPTv1; rua=mailto:b@example.org"],
            (P.MULTIPLE,),
        ),
        (["v=TLSRPTv1; rua=mailto:a@example.org\x00"], (P.NOT_TEXT, P.BAD_URI)),
    ],
)
def test_invalid_records_name_every_problem(
    texts: list[str], problems: tuple[TlsRptProblem, ...]
) -> None:
    got = parse_tls_rpt(texts)
    assert got.status is TlsRptStatus.INVALID
    assert got.problems == problems


@pytest.mark.parametrize("texts", [[], ["v=spf1 -all"], ["v=TLSRPTv10; rua=mailto:a@b.c"]])
def test_no_tls_rpt_record(texts: list[str]) -> None:
    assert parse_tls_rpt(texts).status is TlsRptStatus.NOT_PUBLISHED


def test_hostile_record_is_bounded_and_sanitized() -> None:
    uris = ",".join(f"mailto:r{i}@example.org" for i in range(200))
    got = parse_tls_rpt([f"v=TLSRPTv1; rua={uris}" + "x" * 10_000])
    assert len(got.rua) <= MAX_RUA
    assert got.text is not None and len(got.text) <= 2048
    control = parse_tls_rpt(["v=TLSRPTv1; rua=mailto:a@example.org; x=\x1b[31m"])
    assert control.text is not None and "\x1b" not in control.text


def test_record_texts_join_character_strings() -> None:
    assert record_texts([(b"v=TLSRPTv1; ", b"rua=mailto:a@example.org")]) == (
        "v=TLSRPTv1; rua=mailto:a@example.org",
    )
    assert "\ufffd" in record_texts([(b"v=TLSRPTv1; rua=\xff",)])[0]


# ----------------------------------------------------------------------- loopback

DnsFactory = Callable[..., Awaitable[Any]]


def _config(server: Any, **timeouts: float) -> ProbeConfig:
    return ProbeConfig(
        resolver=ResolverConfig(nameservers=(server.nameserver,)),
        timeouts=Timeouts(**timeouts) if timeouts else Timeouts(),
    )


async def _lookup(config: ProbeConfig, domain: str = "example.test", within: float = 10.0) -> Any:
    deadline = asyncio.get_running_loop().time() + within
    return await lookup_tls_rpt(domain, config, deadline=deadline)


async def test_lookup_valid_record_split_over_strings(dns_server: DnsFactory) -> None:
    dns = await dns_server(
        {
            "example.test": {
                "@": "MX 10 mx1",
                "_smtp._tls": 'TXT "v=TLSRPTv1; " "rua=mailto:tlsrpt@example.test"',
            }
        }
    )
    got = await _lookup(_config(dns))
    assert got.status is TlsRptStatus.VALID
    assert got.rua == ("mailto:tlsrpt@example.test",)
    assert got.query is not None and got.query.rdtype == "TXT"
    assert got.query.name == "_smtp._tls.example.test"


async def test_lookup_not_published(dns_server: DnsFactory) -> None:
    dns = await dns_server({"example.test": {"@": "MX 10 mx1"}})
    got = await _lookup(_config(dns))
    assert got.status is TlsRptStatus.NOT_PUBLISHED
    assert got.query is not None and got.query.outcome is DnsOutcome.NXDOMAIN


async def test_lookup_invalid(dns_server: DnsFactory) -> None:
    dns = await dns_server({"example.test": {"_smtp._tls": 'TXT "v=TLSRPTv1; rua=gopher://x"'}})
    got = await _lookup(_config(dns))
    assert got.status is TlsRptStatus.INVALID
    assert got.problems == (P.BAD_URI,)


async def test_lookup_servfail_is_a_dns_error(dns_server: DnsFactory) -> None:
    dns = await dns_server(
        {"example.test": {"@": "MX 10 mx1"}}, faults={"_smtp._tls.example.test": "servfail"}
    )
    got = await _lookup(_config(dns))
    assert got.status is TlsRptStatus.DNS_ERROR
    assert got.query is not None and got.query.outcome is DnsOutcome.SERVFAIL


async def test_lookup_ends_by_the_deadline(dns_server: DnsFactory) -> None:
    dns = await dns_server(
        {"example.test": {"@": "MX 10 mx1"}}, faults={"_smtp._tls.example.test": "drop"}
    )
    loop = asyncio.get_running_loop()
    start = loop.time()
    got = await _lookup(_config(dns, dns=5.0), within=0.5)
    assert loop.time() - start < 1.5
    assert got.status is TlsRptStatus.DNS_ERROR
    assert got.query is not None and got.query.outcome is DnsOutcome.TIMEOUT
