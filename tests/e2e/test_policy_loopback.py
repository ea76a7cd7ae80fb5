"""End to end on loopback, TLS policy: ``smtpdiag.api.probe`` with the policy stage on,
against real parts - the test kit's DNS server (which sets the AD bit for the zones it is
told are secure, standing in for a validating resolver; the lab tier validates for
real), scripted SMTP servers with certificates of a test PKI, and the loopback HTTPS
server for ``mta-sts.<domain>``. One test per policy rule: the rule fires with its code,
its payload names who fails and the RFC 8460 result type, and the JSON document
validates against schema 3.1 and loads back.

Each scenario probes one port (a scripted server's ephemeral port): that port is the
delivery port, so TLSA records live at ``_<port>._tcp.<mx>``.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import jsonschema  # type: ignore[import-untyped,unused-ignore]
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from factories.policy_cases import finding, who

from smtpdiag.api import probe
from smtpdiag.config import (
    LOOPBACK_NETWORKS,
    PolicyConfig,
    ProbeConfig,
    ResolverConfig,
    Timeouts,
    TlsConfig,
)
from smtpdiag.model import AddressFamily, ProbeReport
from smtpdiag.report.jsonout import dumps, load_schema, loads, report_to_dict
from smtpdiag.testing.certs import TestPki
from smtpdiag.testing.dnsserver import LocalDnsServer
from smtpdiag.testing.httpsserver import PolicyHttpsServer, PolicyResponse, policy_text
from smtpdiag.testing.smtpserver import Behaviour, ServerSet, ServerSpec, closed_port

ZONE = "pol.test"
VALIDATOR = jsonschema.Draft202012Validator(load_schema())

#: Scripted servers: name -> (behaviour, certificate). Each MX host mx.<name>.pol.test.
SERVERS: dict[str, tuple[Behaviour, str]] = {
    "good": (Behaviour.HEALTHY, "good"),
    "expired": (Behaviour.HEALTHY, "expired"),
    "wrongname": (Behaviour.HEALTHY, "wrong-name"),
    "untrusted": (Behaviour.HEALTHY, "untrusted"),
    "plain": (Behaviour.NO_STARTTLS, "good"),
}
#: Domains a test uses (their policy hosts are on the test certificates).
DOMAINS = (
    "healthy",
    "enforce-expired",
    "testing-expired",
    "enforce-wrongname",
    "enforce-untrusted",
    "uncovered",
    "fetch",
    "webpki",
    "invalid",
    "starttls",
    "dane-ok",
    "dane-miss",
    "dane-unsigned",
    "dane-bogus",
    "rpt",
    "off",
)


def mx(name: str) -> str:
    return f"mx.{name}.{ZONE}"


@pytest.fixture(scope="module")
def pki() -> Iterator[TestPki]:
    names = (*(mx(n) for n in SERVERS), *(f"mta-sts.{d}.{ZONE}" for d in DOMAINS))
    made = TestPki(names=names)
    yield made
    made.cleanup()


@pytest.fixture(scope="module")
def servers(pki: TestPki) -> Iterator[ServerSet]:
    specs = [
        ServerSpec(name, behaviour, cert=cert, hostname=mx(name))
        for name, (behaviour, cert) in SERVERS.items()
    ]
    with ServerSet(specs, pki=pki) as running:
        yield running


@dataclass
class Scenario:
    """A domain ``<name>.pol.test`` whose single MX is one scripted server."""

    name: str
    server: str = "good"
    sts: str | None = None  #: policy file served, or None: no _mta-sts record
    sts_cert: str = "good"
    patterns: Sequence[str] | None = None  #: default: the MX host
    sts_response: PolicyResponse | None = None
    no_https: bool = False  #: the policy host's port has no listener
    tlsa: Sequence[str] = ()  #: TLSA records of the MX host ("3 1 1 <hex>")
    secure: bool = True  #: the zone is "signed" (AD set)
    faults: Mapping[str, str] = field(default_factory=dict)
    rpt: str | None = "v=TLSRPTv1; rua=mailto:tlsrpt@example.net"
    policy_on: bool = True
    zone: str = ZONE  #: the domain's zone, where its MX RRset lives
    #: that zone is "signed" when it is not pol.test (default: as ``secure``)
    mx_secure: bool | None = None

    @property
    def domain(self) -> str:
        return f"{self.name}.{self.zone}"


def spki_sha256(pki: TestPki, kind: str = "good") -> str:
    cert = x509.load_pem_x509_certificate(pki.leaf_pem(kind))
    spki = cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(spki).hexdigest()


@pytest.fixture
async def run(pki: TestPki, servers: ServerSet) -> AsyncIterator[Any]:
    started: list[Any] = []

    async def go(s: Scenario) -> tuple[ProbeReport, dict[str, Any]]:
        port = servers.port(s.server)
        hosts: dict[str, Any] = {f"mx.{s.server}": ["A 127.0.0.1"]}
        records: dict[str, Any] = {
            s.name: [f"MX 10 mx.{s.server}.{ZONE}."],
            f"mta-sts.{s.name}": ["A 127.0.0.1"],
        }
        if s.sts is not None:
            records[f"_mta-sts.{s.name}"] = ['TXT "v=STSv1; id=20261202T0100"']
        if s.rpt is not None:
            records[f"_smtp._tls.{s.name}"] = [f'TXT "{s.rpt}"']
        if s.tlsa:
            hosts[f"_{port}._tcp.mx.{s.server}"] = [f"TLSA {r}" for r in s.tlsa]
        zones = {ZONE: {**hosts, **records}}
        secure = [ZONE] if s.secure else []
        if s.zone != ZONE:
            zones = {ZONE: hosts, s.zone: records}
            if s.secure if s.mx_secure is None else s.mx_secure:
                secure.append(s.zone)
        https_port = closed_port() if s.no_https else 443
        if s.sts is not None and not s.no_https:
            response = s.sts_response or PolicyResponse(
                policy_text(s.sts, s.patterns if s.patterns is not None else [mx(s.server)])
            )
            web = PolicyHttpsServer(pki, response, cert=s.sts_cert)
            await web.start()
            started.append(web)
            https_port = web.port
        dns = LocalDnsServer(zones, s.faults, secure=secure)
        await dns.start()
        started.append(dns)
        config = ProbeConfig(
            ports=(port,),
            families=(AddressFamily.IPV4,),
            timeouts=Timeouts(dns=1.0, connect=1.0, greeting=1.0, command=1.0, tls=1.0, total=8.0),
            resolver=ResolverConfig((dns.nameserver,)),
            tls=TlsConfig(ca_file=servers.ca_file),
            allow_targets=LOOPBACK_NETWORKS,
            policy=PolicyConfig(enabled=s.policy_on, https_port=https_port, fetch_timeout=3.0),
        )
        report = await probe(s.domain, config)
        doc = report_to_dict(report)
        assert [e.message for e in VALIDATOR.iter_errors(doc)] == []
        assert loads(dumps(report)) == report
        return report, doc

    yield go
    for thing in reversed(started):
        await thing.stop()


# ------------------------------------------------------------------------ MTA-STS


async def test_enforced_policy_good_chain_and_dane_is_healthy(run: Any, pki: TestPki) -> None:
    _, doc = await run(Scenario("healthy", sts="enforce", tlsa=[f"3 1 1 {spki_sha256(pki)}"]))
    assert doc["diagnosis"]["verdict"] == "healthy", doc["diagnosis"]["findings"]
    policy = doc["policy"]
    assert policy["mta_sts"]["status"] == "valid"
    assert policy["mta_sts"]["policy"]["mode"] == "enforce"
    assert policy["mta_sts"]["matches"] == [{"mx": mx("good"), "pattern": mx("good")}]
    assert policy["dane"][0]["state"] == "usable"
    assert policy["tls_rpt"]["status"] == "valid"
    assert doc["routes"][0]["tls"]["dane"]["matched"] is True


@pytest.mark.parametrize(
    ("mode", "code", "outcome"), [("enforce", "4.7.5", "defer"), ("testing", None, "report")]
)
async def test_mta_sts_cert_invalid(run: Any, mode: str, code: str | None, outcome: str) -> None:
    _, doc = await run(Scenario(f"{mode}-expired", server="expired", sts=mode))
    f = finding(doc, "mta-sts-cert-invalid")
    assert f["code"] == code
    assert who(f)["mta-sts"] == (outcome, mode)
    assert who(f)["opportunistic"] == ("deliver", None)
    assert f["payload"]["tls_rpt_results"] == ["certificate-expired"]
    assert doc["diagnosis"]["verdict"] == ("failed" if mode == "enforce" else "degraded")


@pytest.mark.parametrize(
    ("server", "result"),
    [("wrongname", "certificate-host-mismatch"), ("untrusted", "certificate-not-trusted")],
)
async def test_mta_sts_cert_result_types(run: Any, server: str, result: str) -> None:
    _, doc = await run(Scenario(f"enforce-{server}", server=server, sts="enforce"))
    f = finding(doc, "mta-sts-cert-invalid")
    assert f["code"] == "4.7.5"
    assert f["payload"]["tls_rpt_results"] == [result]


async def test_mx_not_covered(run: Any) -> None:
    _, doc = await run(Scenario("uncovered", sts="enforce", patterns=["*.elsewhere.test"]))
    f = finding(doc, "mta-sts-mx-not-covered")
    assert f["code"] == "4.7.5"
    assert f["payload"]["hosts"] == [mx("good")]
    assert f["payload"]["tls_rpt_results"] == ["validation-failure"]
    assert doc["policy"]["mta_sts"]["matches"][0]["pattern"] is None


async def test_policy_fetch_error(run: Any) -> None:
    _, doc = await run(Scenario("fetch", sts="enforce", no_https=True))
    f = finding(doc, "mta-sts-fetch-failed")
    assert f["code"] is None
    assert f["payload"]["tls_rpt_results"] == ["sts-policy-fetch-error"]
    assert who(f)["mta-sts"] == ("deliver", None)
    assert doc["policy"]["mta_sts"]["fetch"]["error"] == "connect"


async def test_policy_host_certificate_invalid(run: Any) -> None:
    _, doc = await run(Scenario("webpki", sts="enforce", sts_cert="untrusted"))
    f = finding(doc, "mta-sts-webpki-invalid")
    assert f["payload"]["tls_rpt_results"] == ["sts-webpki-invalid"]
    assert doc["policy"]["mta_sts"]["status"] == "webpki-invalid"


async def test_policy_invalid(run: Any) -> None:
    body = b"version: STSv1\r\nmode: sometimes\r\nmax_age: 86400\r\n"
    _, doc = await run(Scenario("invalid", sts="enforce", sts_response=PolicyResponse(body)))
    f = finding(doc, "mta-sts-invalid")
    assert f["payload"]["tls_rpt_results"] == ["sts-policy-invalid"]
    assert "policy-bad-mode" in doc["policy"]["mta_sts"]["policy"]["problems"]


async def test_starttls_required_by_mta_sts(run: Any) -> None:
    _, doc = await run(Scenario("starttls", server="plain", sts="enforce"))
    f = finding(doc, "starttls-required")
    assert f["code"] == "4.7.4"
    assert who(f)["mta-sts"] == ("defer", "enforce")
    assert f["payload"]["tls_rpt_results"] == ["starttls-not-supported"]
    assert all(x["rule"] != "starttls-not-offered" for x in doc["diagnosis"]["findings"])


# --------------------------------------------------------------------------- DANE


async def test_dane_mismatch(run: Any) -> None:
    _, doc = await run(Scenario("dane-miss", tlsa=[f"3 1 1 {'ab' * 32}"]))
    f = finding(doc, "dane-mismatch")
    assert f["code"] == "4.7.5" and f["severity"] == "soft"
    assert who(f)["dane"] == ("defer", None)
    assert f["payload"]["tls_rpt_results"] == ["tlsa-invalid"]
    assert doc["diagnosis"]["primary"] == "4.7.5"
    # The chain verifies (WebPKI): the evidence says so instead of "unknown reason".
    notes = [e["note"] or "" for e in f["evidence"]]
    assert not any("unknown reason" in n for n in notes), notes
    assert any("certificate verified (WebPKI)" in n for n in notes), notes
    tlsa = [e for e in f["evidence"] if e["query"]]
    assert tlsa and tlsa[0]["note"].startswith("usable, DNSSEC secure; 3 1 1"), tlsa


async def test_dane_match_makes_an_untrusted_chain_acceptable_to_dane(
    run: Any, pki: TestPki
) -> None:
    _, doc = await run(
        Scenario("dane-ok", server="expired", tlsa=[f"3 1 1 {spki_sha256(pki, 'expired')}"])
    )
    f = finding(doc, "tls-cert-unverified")
    assert who(f)["dane"] == ("deliver", None)
    assert who(f)["mta-sts"] == ("not-applicable", None)


async def test_tlsa_in_unsigned_zone_is_not_usable(run: Any, pki: TestPki) -> None:
    _, doc = await run(Scenario("dane-unsigned", tlsa=[f"3 1 1 {spki_sha256(pki)}"], secure=False))
    f = finding(doc, "dane-not-usable")
    # Records in an unsigned zone affect no sender: informational (issue 18).
    assert doc["diagnosis"]["verdict"] == "healthy"
    assert f["severity"] == "info" and f["code"] is None
    assert f["payload"]["tls_rpt_results"] == []
    assert doc["policy"]["dane"][0]["state"] == "not-usable"
    assert doc["routes"][0]["tls"]["dane"] is None
    # No TLSA match was checked: DANE senders deliver because they ignore the records.
    assert "TLSA match decides" not in f["summary"]
    assert "DANE senders deliver as without DANE (the TLSA records are ignored)" in f["summary"]


async def test_dane_bogus(run: Any, servers: ServerSet) -> None:
    name = f"_{servers.port('good')}._tcp.mx.good.{ZONE}"
    _, doc = await run(Scenario("dane-bogus", faults={name: "servfail"}))
    f = finding(doc, "dane-bogus")
    assert f["code"] == "4.4.3"
    assert f["payload"]["tls_rpt_results"] == ["dnssec-invalid"]
    assert who(f)["dane"] == ("defer", None)


def ca_anchor(pki: TestPki) -> str:
    """A ``2 0 0`` TLSA record carrying the test CA (the servers send only their leaf)."""
    ca = x509.load_pem_x509_certificate(pki.ca_file.read_bytes())
    return f"2 0 0 {ca.public_bytes(Encoding.DER).hex()}"


async def test_dane_ta_certificate_may_name_the_recipient_domain(run: Any, pki: TestPki) -> None:
    # RFC 7672 3.2.2: with a secure MX RRset the next-hop domain is a reference
    # identifier besides the MX host. The wrongname server's leaf names only
    # wrong.invalid: here the recipient domain, whose MX is mx.wrongname.pol.test.
    _, doc = await run(Scenario("wrong", server="wrongname", zone="invalid", tlsa=[ca_anchor(pki)]))
    assert doc["policy"]["mx_dnssec"] == "secure"
    check = doc["routes"][0]["tls"]["dane"]
    assert check["matched"] is True and check["usage"] == 2 and check["failure"] is None
    rules = [f["rule"] for f in doc["diagnosis"]["findings"]]
    assert "dane-mismatch" not in rules, rules
    # WebPKI still wants the MX host's name; DANE senders deliver all the same.
    assert who(finding(doc, "tls-cert-unverified"))["dane"] == ("deliver", None)


@pytest.mark.parametrize(
    ("name", "zone", "mx_secure"),
    [
        ("dane-ta-other", ZONE, None),  # the leaf names neither the MX nor the domain
        ("wrong", "invalid", False),  # names the domain, but its MX RRset is insecure
    ],
)
async def test_dane_ta_certificate_naming_another_host_mismatches(
    run: Any, pki: TestPki, name: str, zone: str, mx_secure: bool | None
) -> None:
    scenario = Scenario(
        name, server="wrongname", zone=zone, mx_secure=mx_secure, tlsa=[ca_anchor(pki)]
    )
    _, doc = await run(scenario)
    check = doc["routes"][0]["tls"]["dane"]
    assert check["matched"] is False and check["failure"] == "certificate-host-mismatch"
    f = finding(doc, "dane-mismatch")
    assert who(f)["dane"] == ("defer", None)
    assert f["payload"]["tls_rpt_results"] == ["certificate-host-mismatch"]


# ------------------------------------------------------------------------ TLS-RPT


async def test_tls_rpt_invalid(run: Any) -> None:
    _, doc = await run(Scenario("rpt", rpt="v=TLSRPTv1; rua=ftp://example.net/x"))
    finding(doc, "tls-rpt-invalid")
    assert doc["policy"]["tls_rpt"]["problems"] == ["bad-uri"]


async def test_policy_off_looks_nothing_up(run: Any) -> None:
    report, doc = await run(Scenario("off", sts="enforce", policy_on=False))
    assert doc["policy"] is None
    assert report.routes[0].tls is not None and report.routes[0].tls.dane is None
