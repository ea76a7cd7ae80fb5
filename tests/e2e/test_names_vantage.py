"""Names, vantage and defences end to end on loopback: a real local DNS server (PTR
records, a blocklist zone, a root zone standing in for a resolver that does or does not
validate), real scripted SMTP servers (a held-back greeting, a greylisting 450, a 550
naming a listing, a server announcing another host name), ``smtpdiag.api.probe`` ->
diagnosis -> JSON.

Each scenario probes one port (its server's ephemeral port), so that port is the
delivery port. The probe connects from 127.0.0.1: that is its egress address.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import replace
from typing import Any

import jsonschema  # type: ignore[import-untyped,unused-ignore]
import pytest

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
from smtpdiag.report.html import render_html
from smtpdiag.report.jsonout import load_schema, report_to_dict
from smtpdiag.report.text import render_text
from smtpdiag.testing.certs import TestPki
from smtpdiag.testing.smtpserver import Behaviour, ServerSet, ServerSpec

DnsFactory = Callable[..., Awaitable[Any]]
VALIDATOR = jsonschema.Draft202012Validator(load_schema())
#: The full text report of each scenario's last run.
TEXTS: dict[str, str] = {}
#: ... and its HTML page.
PAGES: dict[str, str] = {}

# name -> spec fields
SPECS: dict[str, dict[str, Any]] = {
    "healthy": {"host": "127.0.0.1", "hostname": "mx.healthy.nv.test"},
    "noptr": {"host": "127.0.0.3", "hostname": "mx.noptr.nv.test"},
    "elsewhere": {"host": "127.0.0.4", "hostname": "mx.elsewhere.nv.test"},
    "tarpit": {"hostname": "mx.tarpit.nv.test", "greeting_delay": 2.3},
    "greylist": {"behaviour": Behaviour.GREYLIST, "hostname": "mx.greylist.nv.test"},
    "listed": {"behaviour": Behaviour.LISTED_550, "hostname": "mx.listed.nv.test"},
    "greeting554": {"behaviour": Behaviour.GREETING_554, "hostname": "mx.greeting554.nv.test"},
    # Announces another name, and its certificate names only that one.
    "othername": {"hostname": "mail.other.test", "cert": "good"},
}

# The reverse zone of 127.0.0.0/8: 127.0.0.1 points at the healthy MX (which points
# back), 127.0.0.4 at a name whose address is another one, 127.0.0.3 has no PTR.
REVERSE = {
    "1.0.0": ["PTR mx.healthy.nv.test."],
    "4.0.0": ["PTR elsewhere.other.test."],
}
BLOCKLISTS = {
    "bl.test": {"1.0.0.127": ["A 127.0.0.2", 'TXT "listed: test entry for the loopback"']},
    "refusing.test": {"1.0.0.127": ["A 127.255.255.254"]},
    "clean.test": {"@": ["NS ns.clean.test."]},
    "other.test": {"elsewhere": ["A 127.0.0.9"]},
}


@pytest.fixture(scope="module")
def servers() -> Iterator[ServerSet]:
    pki = TestPki(names=tuple(s["hostname"] for n, s in SPECS.items() if n != "othername"))
    other = TestPki(names=("mail.other.test",))
    specs = [
        ServerSpec(name, **{k: v for k, v in s.items() if k != "cert"})
        for name, s in SPECS.items()
        if name != "othername"
    ]
    try:
        with (
            ServerSet(specs, pki=pki) as running,
            ServerSet([ServerSpec("othername", hostname="mail.other.test")], pki=other) as renamed,
        ):
            yield _Both(running, renamed, pki.ca_file)
    finally:
        pki.cleanup()
        other.cleanup()


class _Both:
    """Two server sets (two PKIs) looked up as one."""

    def __init__(self, a: ServerSet, b: ServerSet, ca_file: str) -> None:
        self.a, self.b, self.ca_file = a, b, ca_file

    def port(self, name: str) -> int:
        return self.b.port(name) if name == "othername" else self.a.port(name)


async def run(
    dns_server: DnsFactory,
    servers: Any,
    name: str,
    *,
    address: str = "127.0.0.1",
    secure_root: bool | None = None,
    **overrides: Any,
) -> tuple[dict[str, Any], Any]:
    domain = f"{name}.nv.test"
    zones: dict[str, Mapping[str, Any]] = {
        domain: {"@": ["MX 10 mx"], "mx": [f"A {address}"]},
        "127.in-addr.arpa": REVERSE,
        "healthy.nv.test": {"@": ["MX 10 mx"], "mx": ["A 127.0.0.1"]},
        **BLOCKLISTS,
    }
    if secure_root is not None:
        zones["."] = {"@": ["SOA ns.root.test. hostmaster.root.test. 1 3600 600 86400 60"]}
    dns = await dns_server(zones)
    if secure_root:
        dns.set_secure(".")
    config = ProbeConfig(
        ports=(servers.port(name),),
        families=(AddressFamily.IPV4,),
        timeouts=Timeouts(dns=1.0, connect=1.0, greeting=5.0, command=1.0, tls=2.0, total=8.0),
        resolver=ResolverConfig((dns.nameserver,)),
        tls=TlsConfig(ca_file=servers.ca_file),
        allow_targets=LOOPBACK_NETWORKS,
        policy=PolicyConfig(enabled=secure_root is not None),
    )
    report = await probe(domain, replace(config, **overrides))
    doc = report_to_dict(report)
    VALIDATOR.validate(doc)
    TEXTS[name] = render_text(report, width=200, full=True)
    PAGES[name] = render_html(report)
    return doc, dns


def finding(doc: dict[str, Any], rule: str) -> dict[str, Any]:
    for f in doc["diagnosis"]["findings"]:
        if f["rule"] == rule:
            # The default text report shows a summary up to 400 characters: fit in it.
            assert len(f["summary"]) <= 400, f["summary"]
            return f  # type: ignore[no-any-return]
    raise AssertionError(f"no {rule} finding in {rules(doc)}")


def rules(doc: dict[str, Any]) -> list[str]:
    return [f["rule"] for f in doc["diagnosis"]["findings"]]


# ----------------------------------------------------------------------- names


async def test_ptr_that_resolves_back_is_forward_confirmed(
    dns_server: DnsFactory, servers: Any
) -> None:
    doc, dns = await run(dns_server, servers, "healthy")
    (names,) = doc["names"]
    assert names["address"] == "127.0.0.1"
    assert names["ptr_query"]["name"] == "1.0.0.127.in-addr.arpa"
    assert names["ptr"] == ["mx.healthy.nv.test"]
    assert names["fcrdns"] == "match"
    assert dns.asked("1.0.0.127.in-addr.arpa", "PTR")
    assert "mx.healthy.nv.test[127.0.0.1] mx.healthy.nv.test: forward-confirmed" in TEXTS["healthy"]
    assert "fcrdns-missing" not in rules(doc)
    route = doc["routes"][0]
    assert route["greeting_name"] == route["ehlo_name"] == "mx.healthy.nv.test"
    assert route["local_address"] == "127.0.0.1"
    assert "host-name-differs" not in rules(doc)
    assert doc["diagnosis"]["verdict"] == "healthy"


async def test_missing_ptr_is_information_never_a_failure(
    dns_server: DnsFactory, servers: Any
) -> None:
    doc, _ = await run(dns_server, servers, "noptr", address="127.0.0.3")
    assert doc["names"][0]["fcrdns"] == "no-ptr"
    f = finding(doc, "fcrdns-missing")
    assert f["severity"] == "info" and f["code"] is None
    assert "no PTR record" in f["summary"]
    assert doc["diagnosis"]["verdict"] == "healthy"
    assert doc["diagnosis"]["primary"] is None


async def test_ptr_pointing_elsewhere_is_a_mismatch(dns_server: DnsFactory, servers: Any) -> None:
    doc, _ = await run(dns_server, servers, "elsewhere", address="127.0.0.4")
    names = doc["names"][0]
    assert names["ptr"] == ["elsewhere.other.test"]
    assert [q["answers"] for q in names["forward"]] == [["127.0.0.9"]]
    assert names["fcrdns"] == "mismatch"
    f = finding(doc, "fcrdns-missing")
    assert "does not resolve back" in f["summary"]
    assert doc["diagnosis"]["verdict"] == "healthy"


async def test_greeting_name_explains_the_certificate_name_mismatch(
    dns_server: DnsFactory, servers: Any
) -> None:
    doc, _ = await run(dns_server, servers, "othername", tls=TlsConfig(ca_file=servers.b.ca_file))
    route = doc["routes"][0]
    assert route["greeting_name"] == "mail.other.test"
    assert route["ehlo_name"] == "mail.other.test"
    assert route["tls"]["hostname_match"] is False
    f = finding(doc, "host-name-differs")
    assert f["severity"] == "info" and f["code"] is None
    assert "explains the certificate name mismatch" in f["summary"]
    # The verdict is the certificate finding's alone: the names finding changes nothing.
    assert doc["diagnosis"]["verdict"] == "degraded"
    assert rules(doc)[0] == "tls-cert-unverified"


# ------------------------------------------------------------------- defences


async def test_greylisting_is_a_normal_defence(dns_server: DnsFactory, servers: Any) -> None:
    doc, _ = await run(dns_server, servers, "greylist")
    failure = doc["routes"][0]["failure"]
    assert failure["phase"] == "ehlo"
    assert failure["reply"]["code"] == 450
    assert failure["reply"]["hint"] == "greylist"
    f = finding(doc, "greylisted")
    assert f["severity"] == "info"
    assert "retrying MTA" in f["summary"] and "greylist delay" in f["summary"]
    assert "greeting-deferred" not in rules(doc)
    d = doc["diagnosis"]
    assert d["verdict"] == "degraded"  # never failed on its own
    assert d["primary"] is None
    assert d["who_fails"] == []
    assert d["fault_side"] == "none"


async def test_held_back_greeting_is_a_tarpit(dns_server: DnsFactory, servers: Any) -> None:
    doc, _ = await run(dns_server, servers, "tarpit")
    greeting = next(p for p in doc["routes"][0]["phases"] if p["phase"] == "greeting")
    assert greeting["duration_ms"] >= 2000.0
    f = finding(doc, "greeting-delayed")
    assert f["severity"] == "info"
    assert "not a fault" in f["summary"]
    assert doc["diagnosis"]["verdict"] == "healthy"


# --------------------------------------------------------------------- vantage


async def test_rejection_for_our_own_listing_is_about_the_sender(
    dns_server: DnsFactory, servers: Any
) -> None:
    doc, dns = await run(
        dns_server, servers, "listed", blocklists=("bl.test", "refusing.test", "clean.test")
    )
    vantage = doc["vantage"]
    assert vantage["egress"] == ["127.0.0.1"]
    by_zone = {b["zone"]: b for b in vantage["blocklists"]}
    assert by_zone["bl.test"]["status"] == "listed"
    assert by_zone["bl.test"]["codes"] == ["127.0.0.2"]
    assert by_zone["bl.test"]["reason"] == "listed: test entry for the loopback"
    assert by_zone["bl.test"]["query"]["name"] == "1.0.0.127.bl.test"
    assert by_zone["refusing.test"]["status"] == "refused"
    assert by_zone["clean.test"]["status"] == "not-listed"
    assert doc["routes"][0]["failure"]["reply"]["hint"] == "listed"
    f = finding(doc, "egress-listed")
    assert f["payload"]["routes"] == [doc["routes"][0]["label"]]
    assert "about the sender" in f["summary"]
    d = doc["diagnosis"]
    assert d["fault_side"] == "vantage"
    assert d["action"] == f["action"]  # the decision's action is the vantage finding's
    assert d["primary"] == "5.7.1"  # the code the server stated stays the primary code
    assert not dns.asked("1.0.0.127.zen.spamhaus.org")
    text = TEXTS["listed"]
    assert "Fault side: this vantage point" in text
    assert "VANTAGE POINT AND NAMES" in text
    assert "bl.test: 127.0.0.1 listed (127.0.0.2)" in text
    assert "refusing.test: 127.0.0.1 query refused by the zone" in text
    assert '<p id="fault-side"><strong>Fault side: this vantage point' in PAGES["listed"]


async def test_554_greeting_while_listed_is_about_the_sender(
    dns_server: DnsFactory, servers: Any
) -> None:
    doc, _ = await run(dns_server, servers, "greeting554", blocklists=("bl.test",))
    assert doc["diagnosis"]["fault_side"] == "vantage"
    assert finding(doc, "egress-listed")["payload"]["routes"]


async def test_554_greeting_without_listing_is_the_recipients(
    dns_server: DnsFactory, servers: Any
) -> None:
    doc, dns = await run(dns_server, servers, "greeting554")
    assert doc["vantage"]["blocklists"] == []
    assert doc["diagnosis"]["fault_side"] == "recipient"
    assert "egress-listed" not in rules(doc)
    assert 'id="fault-side"' not in PAGES["greeting554"]
    # No list is asked unless configured.
    assert not any(q.name.endswith("bl.test") for q in dns.received)


async def test_listed_but_accepted_changes_nothing(dns_server: DnsFactory, servers: Any) -> None:
    doc, _ = await run(dns_server, servers, "healthy", blocklists=("bl.test",))
    f = finding(doc, "egress-listed")
    assert f["payload"]["routes"] == [] and f["severity"] == "info"
    assert doc["diagnosis"]["verdict"] == "healthy"
    assert doc["diagnosis"]["fault_side"] == "none"


async def test_resolver_that_does_not_validate_makes_dane_unknown(
    dns_server: DnsFactory, servers: Any
) -> None:
    doc, _ = await run(dns_server, servers, "healthy", secure_root=False)
    check = doc["vantage"]["resolver"]
    assert check["query"]["name"] == "." and check["query"]["rdtype"] == "SOA"
    assert check["authenticated"] is False
    f = finding(doc, "resolver-not-validating")
    assert "DANE results are therefore unknown" in f["summary"]
    assert doc["diagnosis"]["verdict"] == "healthy"


async def test_validating_resolver_says_nothing(dns_server: DnsFactory, servers: Any) -> None:
    doc, _ = await run(dns_server, servers, "healthy", secure_root=True)
    assert doc["vantage"]["resolver"]["authenticated"] is True
    assert "resolver-not-validating" not in rules(doc)


async def test_silent_nameserver_costs_one_dns_timeout(servers: Any) -> None:
    # The resolver check asks nothing about the domain, so it runs alongside the MX
    # question: a nameserver that answers nothing costs one --dns-timeout, not two.
    import socket

    from smtpdiag.config import Nameserver

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))  # bound, never read: every question goes unanswered
        config = ProbeConfig(
            ports=(servers.port("healthy"),),
            families=(AddressFamily.IPV4,),
            timeouts=Timeouts(dns=1.0, total=8.0),
            resolver=ResolverConfig((Nameserver("127.0.0.1", silent.getsockname()[1]),)),
            allow_targets=LOOPBACK_NETWORKS,
        )
        report = await probe("silent.nv.test", config)
    assert report.diagnosis is not None and report.diagnosis.verdict.value == "unknown"
    assert report.vantage is not None and report.vantage.resolver is not None
    assert report.vantage.resolver.query.outcome.value == "timeout"
    assert report.duration_ms < 1700.0, report.duration_ms
