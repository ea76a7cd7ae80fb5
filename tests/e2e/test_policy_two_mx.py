"""End to end on loopback, TLS policy with two MX hosts: a sender that enforces MTA-STS
skips an MX host that fails its checks and delivers through another MX host that passes
(RFC 8461 5), so nothing is deferred and the finding has no code; when no MX host
passes, it defers (4.7.5, what Postfix logs).

Each MX host is its own scripted SMTP server on its own loopback address; all of them
listen on one shared port, the single probed (and so delivery) port. The test kit's DNS
server holds the zone, the loopback HTTPS server the policies (one per domain, chosen by
the ``Host`` name). ``smtpdiag.api.probe`` runs for real; the checks read the JSON
document, which validates against the schema.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

import jsonschema  # type: ignore[import-untyped,unused-ignore]
import pytest
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
from smtpdiag.model import AddressFamily
from smtpdiag.report.jsonout import load_schema, report_to_dict
from smtpdiag.testing.certs import TestPki
from smtpdiag.testing.dnsserver import LocalDnsServer
from smtpdiag.testing.httpsserver import PolicyHttpsServer, PolicyResponse, policy_text
from smtpdiag.testing.ports import pick_shared_ports
from smtpdiag.testing.smtpserver import Behaviour, ServerSet, ServerSpec

ZONE = "twomx.test"
VALIDATOR = jsonschema.Draft202012Validator(load_schema())

#: MX hosts mx.<name>.twomx.test: (address, behaviour, certificate). One server each.
HOSTS: dict[str, tuple[str, Behaviour, str]] = {
    "wrongname": ("127.79.0.1", Behaviour.HEALTHY, "wrong-name"),
    "good": ("127.79.0.2", Behaviour.HEALTHY, "good"),
    "expired": ("127.79.0.3", Behaviour.HEALTHY, "expired"),
    "plain": ("127.79.0.4", Behaviour.NO_STARTTLS, "good"),
    "good2": ("127.79.0.5", Behaviour.HEALTHY, "good"),
}

#: Domain <name>.twomx.test -> (its MX hosts, preference order; the hosts the enforce
#: policy's mx patterns name).
DOMAINS: dict[str, tuple[Sequence[str], Sequence[str]]] = {
    "primary-bad": (("wrongname", "good"), ("wrongname", "good")),
    "both-bad": (("wrongname", "expired"), ("wrongname", "expired")),
    "bad-and-plain": (("wrongname", "plain"), ("wrongname", "plain")),
    "uncovered": (("good2", "good"), ("good",)),
    "uncovered-bad": (("good2", "expired"), ("expired",)),
}


def mx(name: str) -> str:
    return f"mx.{name}.{ZONE}"


@pytest.fixture(scope="module")
def pki() -> Iterator[TestPki]:
    made = TestPki(names=(*(mx(n) for n in HOSTS), *(f"mta-sts.{d}.{ZONE}" for d in DOMAINS)))
    yield made
    made.cleanup()


@pytest.fixture(scope="module")
def servers(pki: TestPki) -> Iterator[ServerSet]:
    port = pick_shared_ports([a for a, _, _ in HOSTS.values()], random.Random())[0]
    specs = [
        ServerSpec(name, behaviour, cert=cert, host=address, hostname=mx(name), port=port)
        for name, (address, behaviour, cert) in HOSTS.items()
    ]
    with ServerSet(specs, pki=pki) as running:
        yield running


@pytest.fixture
async def run(pki: TestPki, servers: ServerSet) -> AsyncIterator[Any]:
    records: dict[str, list[str]] = {f"mx.{n}": [f"A {a}"] for n, (a, _, _) in HOSTS.items()}
    responses: dict[str, PolicyResponse] = {}
    for name, (hosts, covered) in DOMAINS.items():
        records[name] = [f"MX {10 * i} {mx(h)}." for i, h in enumerate(hosts, 1)]
        records[f"_mta-sts.{name}"] = ['TXT "v=STSv1; id=20261202T0400"']
        records[f"mta-sts.{name}"] = ["A 127.0.0.1"]
        responses[f"mta-sts.{name}.{ZONE}"] = PolicyResponse(
            policy_text("enforce", [mx(h) for h in covered])
        )
    port = servers.port("good")
    assert all(servers.port(n) == port for n in HOSTS)

    async with (
        LocalDnsServer({ZONE: records}) as dns,
        PolicyHttpsServer(pki, responses) as web,
    ):

        async def go(name: str) -> dict[str, Any]:
            config = ProbeConfig(
                ports=(port,),
                families=(AddressFamily.IPV4,),
                timeouts=Timeouts(
                    dns=1.0, connect=1.0, greeting=1.0, command=1.0, tls=1.0, total=8.0
                ),
                resolver=ResolverConfig((dns.nameserver,)),
                tls=TlsConfig(ca_file=servers.ca_file),
                allow_targets=LOOPBACK_NETWORKS,
                policy=PolicyConfig(enabled=True, https_port=web.port, fetch_timeout=3.0),
            )
            doc = report_to_dict(await probe(f"{name}.{ZONE}", config))
            assert [e.message for e in VALIDATOR.iter_errors(doc)] == []
            assert doc["policy"]["mta_sts"]["status"] == "valid"
            # Both MX hosts were probed: the outcome rests on what each one showed.
            probed = {r["route"]["mx"] for r in doc["routes"] if r["tls"] is not None}
            assert probed == {mx(h) for h in DOMAINS[name][0]} - {mx("plain")}, doc["routes"]
            return doc

        yield go


async def test_cert_invalid_on_primary_while_secondary_passes_defers_nothing(run: Any) -> None:
    doc = await run("primary-bad")
    f = finding(doc, "mta-sts-cert-invalid")
    assert f["code"] is None
    assert who(f)["mta-sts"] == ("other-mx", "enforce")
    assert who(f)["opportunistic"] == ("deliver", None)
    assert f["payload"]["tls_rpt_results"] == ["certificate-host-mismatch"]
    assert [r.split("[")[0] for r in f["payload"]["routes"]] == [mx("wrongname")]
    assert doc["diagnosis"]["verdict"] == "degraded"
    assert doc["diagnosis"]["primary"] is None


@pytest.mark.parametrize(
    ("name", "rules"),
    [
        # One finding about both MX hosts' certificates.
        ("both-bad", ("mta-sts-cert-invalid",)),
        # The other MX host fails differently: each finding sees the other host fail.
        ("bad-and-plain", ("mta-sts-cert-invalid", "starttls-required")),
    ],
)
async def test_no_mx_passes_defers(run: Any, name: str, rules: tuple[str, ...]) -> None:
    doc = await run(name)
    for rule in rules:
        f = finding(doc, rule)
        assert f["code"] == ("4.7.4" if rule == "starttls-required" else "4.7.5"), rule
        assert who(f)["mta-sts"] == ("defer", "enforce"), rule
    # The first finding in table order leads: starttls-required before the certificate.
    assert doc["diagnosis"]["primary"] == ("4.7.4" if "starttls-required" in rules else "4.7.5")
    # Opportunistic senders still deliver, but senders applying the domain's own
    # enforced policy cannot: failed (issue 18).
    assert doc["diagnosis"]["verdict"] == "failed"
    assert doc["diagnosis"]["who_fails"][0] == "mta-sts"


async def test_mx_not_covered_while_the_covered_mx_passes(run: Any) -> None:
    doc = await run("uncovered")
    f = finding(doc, "mta-sts-mx-not-covered")
    assert f["code"] is None
    assert f["payload"]["hosts"] == [mx("good2")]
    assert who(f)["mta-sts"] == ("other-mx", "enforce")
    assert f["payload"]["tls_rpt_results"] == ["validation-failure"]
    matches = {m["mx"]: m["pattern"] for m in doc["policy"]["mta_sts"]["matches"]}
    assert matches == {mx("good2"): None, mx("good"): mx("good")}
    assert doc["diagnosis"]["verdict"] == "degraded"
    assert doc["diagnosis"]["primary"] is None


async def test_mx_not_covered_and_the_covered_mx_fails_defers(run: Any) -> None:
    doc = await run("uncovered-bad")
    f = finding(doc, "mta-sts-mx-not-covered")
    assert f["code"] == "4.7.5"
    assert who(f)["mta-sts"] == ("defer", "enforce")
    assert finding(doc, "mta-sts-cert-invalid")["code"] == "4.7.5"
    assert doc["diagnosis"]["primary"] == "4.7.5"
