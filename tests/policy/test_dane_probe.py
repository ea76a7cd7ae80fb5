"""The probe matches the chain a route presented against its MX host's TLSA records.

Scripted SMTP servers on loopback present certificates of the test PKI; TLSA records
come from :func:`lookup_tlsa` against the test kit's DNS server, which stands in for a
validating resolver (it sets AD for the ``secure`` zone; the lab tier validates for
real). Only routes on the delivery port whose host has a usable lookup are checked.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterator

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from smtpdiag.config import LOOPBACK_NETWORKS, ProbeConfig, ResolverConfig, Timeouts, TlsConfig
from smtpdiag.model import (
    AddressFamily,
    DaneState,
    Outcome,
    Phase,
    Route,
    TlsaLookup,
    TlsMode,
    TlsRptResult,
)
from smtpdiag.policy.dane import lookup_tlsa
from smtpdiag.probing import probe_routes
from smtpdiag.testing.dnsserver import LocalDnsServer
from smtpdiag.testing.smtpserver import ServerSet, ServerSpec

MX = "mx.dane.test"


@pytest.fixture(scope="module")
def servers() -> Iterator[ServerSet]:
    specs = [
        ServerSpec("good", hostname=MX),
        ServerSpec("good-465", hostname=MX, implicit_tls=True),
        ServerSpec("wrong-name", hostname=MX, cert="wrong-name"),
    ]
    with ServerSet(specs) as running:
        yield running


def leaf_spki_sha256(servers: ServerSet, kind: str = "good") -> str:
    cert = x509.load_pem_x509_certificate(servers.pki.leaf_pem(kind))
    spki = cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(spki).hexdigest()


def route(servers: ServerSet, name: str, mx: str = MX) -> Route:
    spec = servers.spec(name)
    return Route(
        mx=mx,
        preference=10,
        rank=1,
        address=spec.host,
        family=AddressFamily.IPV4,
        port=servers.port(name),
        tls_mode=TlsMode.IMPLICIT if spec.implicit_tls else TlsMode.STARTTLS,
    )


def config(servers: ServerSet, *ports: int, dns: LocalDnsServer | None = None) -> ProbeConfig:
    return ProbeConfig(
        ports=ports,
        implicit_tls_ports=(servers.port("good-465"),),
        timeouts=Timeouts(connect=1.0, greeting=1.0, command=1.0, tls=1.0, total=5.0),
        tls=TlsConfig(ca_file=servers.ca_file),
        allow_targets=LOOPBACK_NETWORKS,
        resolver=ResolverConfig(nameservers=(dns.nameserver,)) if dns else ResolverConfig(),
    )


async def tlsa_for(
    servers: ServerSet, port: int, records: list[str], *, secure: bool = True, mx: str = MX
) -> TlsaLookup:
    """Serve ``records`` at ``_<port>._tcp.<mx>`` and look them up as the policy stage does."""
    host = mx.removesuffix(".test")
    zone = {host: "A 127.0.0.1", f"_{port}._tcp.{host}": [f"TLSA {r}" for r in records]}
    async with LocalDnsServer(zones={"test": zone}, secure=["test"] if secure else []) as dns:
        cfg = config(servers, port, dns=dns)
        deadline = asyncio.get_running_loop().time() + 3.0
        (found,) = await lookup_tlsa([mx], port, cfg, deadline=deadline)
    return found


async def test_matching_tlsa_record(servers: ServerSet) -> None:
    port = servers.port("good")
    found = await tlsa_for(servers, port, [f"3 1 1 {leaf_spki_sha256(servers)}"])
    assert found.state is DaneState.USABLE
    (result,) = await probe_routes(
        [route(servers, "good")], config(servers, port), tlsa={MX: found}
    )
    assert result.tls is not None and result.tls.dane is not None
    assert result.tls.dane.matched and result.tls.dane.usage == 3


async def test_record_that_does_not_match(servers: ServerSet) -> None:
    port = servers.port("good")
    found = await tlsa_for(servers, port, [f"3 1 1 {'00' * 32}"])
    (result,) = await probe_routes(
        [route(servers, "good")], config(servers, port), tlsa={MX.upper() + ".": found}
    )
    assert result.tls is not None and result.tls.dane is not None
    assert not result.tls.dane.matched
    assert result.tls.dane.failure is TlsRptResult.TLSA_INVALID
    # The certificate is fine otherwise: DANE is judged on its own.
    assert result.tls.verified


async def test_dane_ta_anchor_and_names(servers: ServerSet) -> None:
    # 2 0 0: the record carries the test CA itself (the server sends only its leaf).
    port = servers.port("good")
    ca = x509.load_pem_x509_certificate(servers.pki.ca_file.read_bytes())
    anchor = f"2 0 0 {ca.public_bytes(Encoding.DER).hex()}"
    named = await tlsa_for(servers, port, [anchor], mx="mx.test")  # the leaf names mx.test
    (result,) = await probe_routes(
        [route(servers, "good", "mx.test")], config(servers, port), tlsa={"mx.test": named}
    )
    assert result.tls is not None and result.tls.dane is not None
    assert result.tls.dane.matched and result.tls.dane.usage == 2
    other = await tlsa_for(servers, port, [anchor])  # MX is mx.dane.test: not on the leaf
    (result,) = await probe_routes(
        [route(servers, "good")], config(servers, port), tlsa={MX: other}
    )
    assert result.tls is not None and result.tls.dane is not None
    assert result.tls.dane.failure is TlsRptResult.CERTIFICATE_HOST_MISMATCH


async def test_dane_ee_pins_the_key_whatever_the_name(servers: ServerSet) -> None:
    port = servers.port("wrong-name")
    found = await tlsa_for(servers, port, [f"3 1 1 {leaf_spki_sha256(servers, 'wrong-name')}"])
    (result,) = await probe_routes(
        [route(servers, "wrong-name")], config(servers, port), tlsa={MX: found}
    )
    assert result.tls is not None and result.tls.hostname_match is False
    assert result.tls.dane is not None and result.tls.dane.matched


async def test_implicit_tls_route_on_the_delivery_port(servers: ServerSet) -> None:
    port = servers.port("good-465")
    found = await tlsa_for(servers, port, [f"3 1 1 {leaf_spki_sha256(servers)}"])
    (result,) = await probe_routes(
        [route(servers, "good-465")], config(servers, port), tlsa={MX: found}
    )
    assert result.tls is not None and result.tls.dane is not None and result.tls.dane.matched


async def test_unsigned_tlsa_is_not_checked(servers: ServerSet) -> None:
    # RFC 7672 2.2: TLSA records a sender cannot trust are ignored, never a pass.
    port = servers.port("good")
    found = await tlsa_for(servers, port, [f"3 1 1 {leaf_spki_sha256(servers)}"], secure=False)
    assert found.state is DaneState.NOT_USABLE
    (result,) = await probe_routes(
        [route(servers, "good")], config(servers, port), tlsa={MX: found}
    )
    assert result.tls is not None and result.tls.verified and result.tls.dane is None


async def test_only_the_delivery_port_and_its_host(servers: ServerSet) -> None:
    good, other = servers.port("good"), servers.port("good-465")
    found = await tlsa_for(servers, good, [f"3 1 1 {leaf_spki_sha256(servers)}"])
    # The delivery port is the first probed one here: "good-465", not "good".
    cfg = config(servers, other, good)
    results = await probe_routes(
        [route(servers, "good"), route(servers, "good-465"), route(servers, "good", "x.test")],
        cfg,
        tlsa={MX: found},
    )
    for result in results:
        assert result.tls is not None and result.tls.verified
        assert result.tls.dane is None, result.route


async def test_no_lookups_no_check(servers: ServerSet) -> None:
    port = servers.port("good")
    (result,) = await probe_routes([route(servers, "good")], config(servers, port))
    assert result.tls is not None and result.tls.dane is None
    assert [p.phase for p in result.phases if p.outcome is Outcome.OK][-1] is Phase.QUIT
