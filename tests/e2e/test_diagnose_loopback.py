"""End to end on loopback: a real local DNS server, real scripted SMTP servers (with TLS),
``smtpdiag.api.probe`` -> diagnosis -> JSON. One test per failure class of issue 3,
asserting the code, the cause and the evidence in the JSON document.

Each scenario probes one port (its scripted server's ephemeral port), so that port is
the delivery port. Addresses in 127.0.0.0/8 other than 127.0.0.1 have no listener, so
connects to them are refused.
"""

from __future__ import annotations

import asyncio
import json
import socket
import sys
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import pytest

from smtpdiag.api import probe
from smtpdiag.config import LOOPBACK_NETWORKS, ProbeConfig, ResolverConfig, Timeouts, TlsConfig
from smtpdiag.diagnosis.knowledge import KNOWLEDGE
from smtpdiag.model import AddressFamily
from smtpdiag.report.jsonout import report_to_dict
from smtpdiag.testing.certs import TestPki
from smtpdiag.testing.dnsserver import ipv6_loopback_available
from smtpdiag.testing.smtpserver import Behaviour, ServerSet, ServerSpec, closed_port

# name -> (behaviour, implicit TLS, certificate)
SERVERS: dict[str, tuple[Behaviour, bool, str]] = {
    "healthy": (Behaviour.HEALTHY, False, "good"),
    "busy": (Behaviour.GREETING_421, False, "good"),
    "closing": (Behaviour.CLOSE_AFTER_GREETING, False, "good"),
    "silent": (Behaviour.SILENT, False, "good"),
    "tlsreset": (Behaviour.RESET_IN_TLS, False, "good"),
    "oldtls": (Behaviour.TLS_VERSION_MISMATCH, True, "good"),
    "expired": (Behaviour.HEALTHY, False, "expired"),
    "policy": (Behaviour.GREETING_554, False, "good"),
    "plain": (Behaviour.NO_STARTTLS, False, "good"),
}


def mx_name(name: str) -> str:
    return f"mx.{name}.e2e.test"


@pytest.fixture(scope="module")
def servers() -> Iterator[ServerSet]:
    extra = ("mx2.deadprimary.e2e.test", "mx2.noaddr.e2e.test", "mx.ownblock.e2e.test")
    names = (*(mx_name(n) for n in SERVERS), *extra)
    pki = TestPki(names=names)
    specs = [
        ServerSpec(name, behaviour, implicit_tls=implicit, cert=cert, hostname=mx_name(name))
        for name, (behaviour, implicit, cert) in SERVERS.items()
    ]
    try:
        with ServerSet(specs, pki=pki) as running:
            yield running
    finally:
        pki.cleanup()


DnsFactory = Callable[..., Awaitable[Any]]


async def run(
    dns_server: DnsFactory,
    servers: ServerSet,
    domain: str,
    zone: Mapping[str, list[str]],
    ports: tuple[int, ...],
    *,
    implicit: tuple[int, ...] = (),
    faults: Mapping[str, str] | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    dns = await dns_server({domain: dict(zone)}, faults)
    config = ProbeConfig(
        ports=ports,
        families=(AddressFamily.IPV4,),
        timeouts=Timeouts(dns=1.0, connect=1.0, greeting=1.0, command=1.0, tls=1.0, total=6.0),
        resolver=ResolverConfig((dns.nameserver,)),
        tls=TlsConfig(ca_file=servers.ca_file),
        implicit_tls_ports=implicit,
        allow_targets=LOOPBACK_NETWORKS,
    )
    report = await probe(domain, replace(config, **overrides))
    doc = report_to_dict(report)
    return doc["diagnosis"]  # type: ignore[no-any-return]


async def one_server(dns_server: DnsFactory, servers: ServerSet, name: str) -> dict[str, Any]:
    domain = f"{name}.e2e.test"
    port = servers.port(name)
    implicit = (port,) if SERVERS[name][1] else ()
    zone = {"@": ["MX 10 mx"], "mx": ["A 127.0.0.1"]}
    return await run(dns_server, servers, domain, zone, (port,), implicit=implicit)


@contextmanager
def blackhole_port() -> Iterator[int]:
    """A loopback port whose SYNs are silently dropped, like an outbound firewall DROP.

    A listener with backlog 0 whose accept queue is already full (one connection,
    never accepted): Linux drops further SYNs (net.ipv4.tcp_abort_on_overflow=0), so
    connects time out instead of being refused.
    """
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        filler.settimeout(2.0)
        filler.connect(listener.getsockname())
        yield listener.getsockname()[1]
    finally:
        filler.close()
        listener.close()


def finding(diag: dict[str, Any], rule: str) -> dict[str, Any]:
    for f in diag["findings"]:
        if f["rule"] == rule:
            return f  # type: ignore[no-any-return]
    raise AssertionError(f"no {rule} finding in {[f['rule'] for f in diag['findings']]}")


def cause(code: str, slug: str) -> str:
    return KNOWLEDGE[code].cause(slug).text


async def test_healthy(dns_server: DnsFactory, servers: ServerSet) -> None:
    diag = await one_server(dns_server, servers, "healthy")
    assert diag["verdict"] == "healthy" and diag["primary"] is None
    assert diag["findings"][0]["rule"] == "healthy"


async def test_greeting_421_is_432(dns_server: DnsFactory, servers: ServerSet) -> None:
    diag = await one_server(dns_server, servers, "busy")
    assert diag["verdict"] == "failed" and diag["primary"] == "4.3.2"
    f = finding(diag, "greeting-deferred")
    ev = f["evidence"][0]
    assert ev["phase"] == "greeting" and ev["outcome"] == "reply"
    assert ev["reply"].startswith("421 4.3.2")
    assert ev["mx"] == mx_name("busy") and ev["address"] == "127.0.0.1"
    assert f["action"]["kind"] == "retry" and len(f["action"]["schedule"]) == 4


async def test_closed_after_greeting_is_442(dns_server: DnsFactory, servers: ServerSet) -> None:
    diag = await one_server(dns_server, servers, "closing")
    assert diag["primary"] == "4.4.2"
    f = finding(diag, "connection-dropped")
    assert cause("4.4.2", "connection-dropped") in f["causes"]
    assert f["evidence"][0]["outcome"] in ("closed", "reset")
    assert f["evidence"][0]["phase"] in ("greeting", "ehlo")
    assert [a["offset_s"] for a in f["action"]["schedule"]] == [1800, 5400, 12600, 27000, 113400]


async def test_silent_greeting_timeout_is_442(dns_server: DnsFactory, servers: ServerSet) -> None:
    diag = await one_server(dns_server, servers, "silent")
    f = finding(diag, "connection-dropped")
    assert diag["primary"] == "4.4.2"
    assert cause("4.4.2", "handshake-timeout") in f["causes"]
    ev = f["evidence"][0]
    assert (ev["phase"], ev["outcome"]) == ("greeting", "timeout")
    assert ev["duration_ms"] >= 900


async def test_reset_in_tls_is_442_tls(dns_server: DnsFactory, servers: ServerSet) -> None:
    diag = await one_server(dns_server, servers, "tlsreset")
    f = finding(diag, "connection-dropped")
    assert cause("4.4.2", "tls-problems") in f["causes"]
    assert f["evidence"][0]["phase"] == "tls-handshake"


async def test_tls_version_mismatch_is_542(dns_server: DnsFactory, servers: ServerSet) -> None:
    diag = await one_server(dns_server, servers, "oldtls")
    assert diag["primary"] == "5.4.2"
    f = finding(diag, "tls-mismatch")
    assert cause("5.4.2", "tls-mismatch") in f["causes"]
    assert f["evidence"][0]["error"]
    assert "in common" in f["summary"]


async def test_expired_certificate_is_475_with_cert_facts(
    dns_server: DnsFactory, servers: ServerSet
) -> None:
    diag = await one_server(dns_server, servers, "expired")
    # What a sender verifying by local policy logs (Postfix 4.7.5), issue 18.
    assert diag["primary"] == "4.7.5"
    f = next(f for f in diag["findings"] if f["code"] == "4.7.5")
    assert f["rule"] in ("tls-cert-unverified", "tls-mismatch")
    note = " ".join(e["note"] or "" for e in f["evidence"])
    # The leaf expired a day ago (TestPki): said so, not as "-1 days left".
    assert "expired 1 day ago" in note and "subject" in note, note


async def test_greeting_554_uses_the_servers_own_code(
    dns_server: DnsFactory, servers: ServerSet
) -> None:
    # "554 5.3.2 No SMTP service here": the server states a well-formed code of its
    # reply's class, so 5.3.2 is the primary code (it was 5.4.2, the tool's own).
    diag = await one_server(dns_server, servers, "policy")
    f = finding(diag, "server-rejected")
    assert diag["primary"] == "5.3.2" and f["code"] == "5.3.2"
    assert f["payload"]["server_code"] == "5.3.2"
    assert cause("5.4.2", "connection-policy") in f["causes"]
    assert f["evidence"][0]["reply"].startswith("554 5.3.2")
    assert "5.4.2" in f["neighbours"]


async def test_no_starttls_is_degraded(dns_server: DnsFactory, servers: ServerSet) -> None:
    diag = await one_server(dns_server, servers, "plain")
    assert diag["verdict"] == "degraded"
    finding(diag, "starttls-not-offered")


async def test_everything_refused_is_a_dead_mail_host(
    dns_server: DnsFactory, servers: ServerSet
) -> None:
    # Every port of every MX answers the SYN with RST: the hosts are up, nothing listens.
    # That is a dead or decommissioned mail host (5.4.3, 4.4.1 as the neighbour a
    # sending MTA logs), not a firewall (it was 5.4.2 all-routes-refused).
    port, other = closed_port(), closed_port()
    zone = {"@": ["MX 10 mx1", "MX 20 mx2"], "mx1": ["A 127.0.0.1"], "mx2": ["A 127.78.0.2"]}
    diag = await run(dns_server, servers, "refused.e2e.test", zone, (port, other))
    assert diag["verdict"] == "failed" and diag["primary"] == "5.4.3"
    assert [f["rule"] for f in diag["findings"]] == ["mx-not-listening"]
    f = finding(diag, "mx-not-listening")
    assert cause("5.4.3", "server-shut-down") in f["causes"]
    assert "4.4.1" in f["neighbours"]
    assert {e["outcome"] for e in f["evidence"] if e["outcome"]} == {"refused"}
    steps = {s["id"]: s for s in f["steps"]}
    assert steps["5.4.3/mx-connectivity"]["status"] == "done"
    assert f["persistence"] == "unknown"


async def test_some_ports_refused_stays_port_blocked(
    dns_server: DnsFactory, servers: ServerSet
) -> None:
    # The delivery port refused while another port of the same host answers: the
    # port-blocked 5.4.2, not a dead host.
    port = closed_port()
    zone = {"@": ["MX 10 mx"], "mx": ["A 127.0.0.1"]}
    diag = await run(
        dns_server, servers, "halfopen.e2e.test", zone, (port, servers.port("healthy"))
    )
    assert diag["primary"] == "5.4.2"
    assert "port-blocked" in [f["rule"] for f in diag["findings"]]
    assert "mx-not-listening" not in [f["rule"] for f in diag["findings"]]


async def test_dead_primary_working_secondary(dns_server: DnsFactory, servers: ServerSet) -> None:
    port = servers.port("healthy")
    zone = {"@": ["MX 10 mx1", "MX 20 mx2"], "mx1": ["A 127.78.0.1"], "mx2": ["A 127.0.0.1"]}
    diag = await run(dns_server, servers, "deadprimary.e2e.test", zone, (port,))
    # Mail is deliverable via the secondary: that leads, and there is no bounce code.
    assert diag["verdict"] == "degraded" and diag["primary"] is None
    # One finding per cause: the fallback finding says the primary accepts nothing. (The
    # healthy server stands in for mx2 and announces its own name: host-name-differs.)
    rules = [f["rule"] for f in diag["findings"]]
    assert [r for r in rules if r != "host-name-differs"] == ["primary-down-secondary-ok"]
    lead = diag["findings"][0]
    # The primary accepts nothing: its administrators have something to fix.
    assert lead["action"]["kind"] == "fix" and "still deliverable" in lead["summary"]
    assert "mx1.deadprimary.e2e.test" in lead["summary"]


async def test_mx_without_address_is_543(dns_server: DnsFactory, servers: ServerSet) -> None:
    port = servers.port("healthy")
    zone = {"@": ["MX 10 gone", "MX 20 mx2"], "mx2": ["A 127.0.0.1"]}
    diag = await run(dns_server, servers, "noaddr.e2e.test", zone, (port,))
    f = finding(diag, "mx-no-address")
    # The secondary delivers: no bounce code leads; the broken MX is a 5.4.3-class finding.
    assert diag["verdict"] == "degraded" and diag["primary"] is None
    assert diag["findings"][0]["rule"] == "primary-down-secondary-ok"
    assert f["code"] == "5.4.3" and f["severity"] == "info"
    assert "gone.noaddr.e2e.test" in f["summary"]
    assert "5.4.4" in f["neighbours"]
    assert cause("5.4.3", "dns-invalid") in f["causes"]
    # Without a working secondary it is the leading, hard 5.4.3.
    only = await run(dns_server, servers, "noaddr1.e2e.test", {"@": ["MX 10 gone"]}, (port,))
    assert only["verdict"] == "failed" and only["primary"] == "5.4.3"
    assert only["findings"][0]["severity"] == "hard"


async def test_null_mx(dns_server: DnsFactory, servers: ServerSet) -> None:
    diag = await run(
        dns_server, servers, "nullmx.e2e.test", {"@": ["MX 0 ."]}, (servers.port("healthy"),)
    )
    assert diag["verdict"] == "no-mail" and diag["primary"] == "5.1.10"
    assert diag["findings"][0]["action"]["kind"] == "suppress"


async def test_servfail_is_transient_443(dns_server: DnsFactory, servers: ServerSet) -> None:
    diag = await run(
        dns_server,
        servers,
        "broken.e2e.test",
        {"@": ["MX 10 mx"], "mx": ["A 127.0.0.1"]},
        (servers.port("healthy"),),
        faults={"broken.e2e.test": "servfail"},
    )
    # One probe cannot tell, whatever the failure (issue 18).
    assert diag["primary"] == "4.4.3" and diag["persistence"] == "unknown"
    assert diag["findings"][0]["severity"] == "soft"


async def test_own_port_block_suspected(dns_server: DnsFactory, servers: ServerSet) -> None:
    # The delivery port's SYNs vanish (as behind an ISP's outbound block) while another
    # port of the same address works: the prober's own network is the likelier cause.
    zone = {"@": ["MX 10 mx"], "mx": ["A 127.0.0.1"]}
    with blackhole_port() as blocked:
        diag = await run(
            dns_server, servers, "ownblock.e2e.test", zone, (blocked, servers.port("healthy"))
        )
    assert diag["verdict"] == "degraded" and diag["primary"] is None
    assert diag["fault_side"] == "vantage"  # a fact about this vantage point
    f = diag["findings"][0]
    assert f["rule"] == "own-port-blocked" and f["action"]["kind"] == "fix"
    assert all(x["code"] is None for x in diag["findings"])  # the destination is not blamed
    assert f"most likely your own network blocks outbound port {blocked}" in f["summary"]
    assert {(e["port"], e["outcome"]) for e in f["evidence"]} == {
        (blocked, "timeout"),
        (servers.port("healthy"), "ok"),
    }


async def test_delivery_port_refused_other_port_works(
    dns_server: DnsFactory, servers: ServerSet
) -> None:
    # The destination itself refuses the delivery port (RST): it is blamed, not us.
    refused = closed_port()
    zone = {"@": ["MX 10 mx"], "mx": ["A 127.0.0.1"]}
    diag = await run(
        dns_server, servers, "ownblock.e2e.test", zone, (refused, servers.port("healthy"))
    )
    # No delivery-port route works: failed (exit 3), even though the other port answers;
    # the finding names it as the alternative.
    assert diag["verdict"] == "failed" and diag["primary"] == "5.4.2"
    assert diag["fault_side"] == "recipient"
    f = diag["findings"][0]
    assert f["rule"] == "port-blocked" and f["action"]["kind"] == "fix"
    assert f"refuses port {refused}" in f["summary"]
    assert "own network blocks" not in f["summary"]
    steps = {s["id"]: s for s in f["steps"]}
    assert steps["5.4.2/alternative-ports"]["result"] == (
        f"{refused}: refused; {servers.port('healthy')}: works"
    )


# ---------------------------------------------------------------- -4 / -6 filter

needs_ipv6 = pytest.mark.skipif(not ipv6_loopback_available(), reason="::1 is not available")


async def cli_probe(dns_port: int, domain: str, *args: str) -> tuple[int, dict[str, Any]]:
    """``smtpdiag probe --json`` in a subprocess (the DNS server runs on this loop)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "smtpdiag",
        "probe",
        domain,
        "--json",
        "--nameserver",
        f"127.0.0.1:{dns_port}",
        "--allow-targets",
        "127.0.0.0/8",
        "--allow-targets",
        "::1",
        "--timeout",
        "6",
        "--connect-timeout",
        "1",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode is not None
    assert out, err.decode()
    return proc.returncode, json.loads(out)


@needs_ipv6
async def test_ipv4_only_against_ipv6_only_mx_is_not_a_hard_bounce(
    dns_server: DnsFactory,
) -> None:
    # The MX has only an AAAA record (::1, where a healthy server listens) and the user
    # asked for -4. Before the fix the resolve stage asked only A, the MX looked
    # address-less and the report said 5.4.3 "MX points at a server that does not exist".
    spec = ServerSpec("v6", host="::1", hostname="mx.v6only.e2e.test")
    pki = TestPki(names=("mx.v6only.e2e.test",))
    try:
        with ServerSet([spec], pki=pki) as v6:
            port = v6.port("v6")
            zone = {"@": ["MX 10 mx"], "mx": ["AAAA ::1"]}
            dns = await dns_server({"v6only.e2e.test": zone})
            code, doc = await cli_probe(dns.port, "v6only.e2e.test", "-4", "--ports", str(port))
            # Without the filter the same MX works: the DNS is fine.
            code6, doc6 = await cli_probe(
                dns.port, "v6only.e2e.test", "--ports", str(port), "--ca-file", v6.ca_file
            )
    finally:
        pki.cleanup()
    hosts = doc["resolution"]["hosts"]
    assert [(h["name"], h["kind"], h["addresses"]) for h in hosts] == [
        ("mx.v6only.e2e.test", "hostname", ["::1"])
    ], hosts
    assert doc["routes"] == []
    diag = doc["diagnosis"]
    assert [f["rule"] for f in diag["findings"]] == ["nothing-probed"], diag["findings"]
    assert diag["primary"] is None and all(f["code"] is None for f in diag["findings"])
    f = diag["findings"][0]
    assert "the MX has only IPv6 addresses, and -4 was given" in f["summary"], f["summary"]
    assert "5.4.3" not in json.dumps(diag) and "does not exist" not in json.dumps(diag)
    # Nothing was tested: neither a pass nor "failed" (it was exit 3, failed): verdict
    # unknown, exit 5, no code and a FIX action: probe again without -4.
    assert (diag["verdict"], code) == ("unknown", 5)
    assert f["action"]["kind"] == "fix"
    assert (doc6["diagnosis"]["verdict"], code6) == ("healthy", 0), doc6["diagnosis"]


@needs_ipv6
async def test_ipv4_only_with_ipv6_only_primary_and_working_secondary_is_healthy(
    dns_server: DnsFactory, servers: ServerSet
) -> None:
    # A primary MX with only an AAAA record is not "down" under -4: it was not probed.
    # The secondary is the healthy server under the name its certificate carries.
    zone = {"@": ["MX 10 mx1", f"MX 20 {mx_name('healthy')}."], "mx1": ["AAAA ::1"]}
    dns = await dns_server(
        {"v6primary.e2e.test": zone, "healthy.e2e.test": {"mx": ["A 127.0.0.1"]}}
    )
    code, doc = await cli_probe(
        dns.port,
        "v6primary.e2e.test",
        "-4",
        "--ports",
        str(servers.port("healthy")),
        "--ca-file",
        servers.ca_file,
    )
    diag = doc["diagnosis"]
    assert [f["rule"] for f in diag["findings"]] == ["healthy", "family-filtered"], diag
    assert (diag["verdict"], code) == ("healthy", 0)
    assert (
        "mx1.v6primary.e2e.test: not probed: only IPv6 addresses, and -4 was given"
        in (diag["findings"][1]["summary"])
    )


# ---- issue 8: decision-side wrong answers, with the real probe on loopback


async def test_plaintext_on_implicit_tls_port_is_server_configuration(
    dns_server: DnsFactory, servers: ServerSet
) -> None:
    # A plain STARTTLS server probed as implicit TLS (what a 465 serving plaintext is).
    port = servers.port("healthy")
    zone = {"@": ["MX 10 mx"], "mx": ["A 127.0.0.1"]}
    diag = await run(dns_server, servers, "plain465.e2e.test", zone, (port,), implicit=(port,))
    f = finding(diag, "tls-mismatch")
    assert diag["primary"] == "5.4.2"
    assert f["causes"] == [cause("5.4.2", "server-configuration")]
    assert "plaintext on an implicit-TLS port" in f["summary"]
    assert "no TLS protocol version in common" not in f["summary"]
    assert f["payload"]["tls_reasons"] == ["not-tls"]


async def test_route_not_attempted_is_reported_and_never_blamed(
    dns_server: DnsFactory, servers: ServerSet
) -> None:
    # One connection per address: the healthy delivery port goes first, the silent
    # server holds the slot until the deadline, the last route never gets its turn.
    ports = (servers.port("healthy"), servers.port("silent"), servers.port("plain"))
    zone = {"@": ["MX 10 mx"], "mx": ["A 127.0.0.1"]}
    diag = await run(
        dns_server,
        servers,
        "healthy.e2e.test",  # the name the healthy server's certificate carries
        zone,
        ports,
        per_address_limit=1,
        timeouts=Timeouts(dns=1.0, connect=1.0, greeting=5.0, command=1.0, tls=1.0, total=2.0),
    )
    rules = [f["rule"] for f in diag["findings"]]
    assert diag["verdict"] == "healthy", rules
    f = finding(diag, "routes-not-attempted")
    assert f["payload"]["skip_reasons"] == ["deadline"]
    assert f["payload"]["routes"] == [f"mx.healthy.e2e.test[127.0.0.1]:{ports[2]}"]
    text = json.dumps(diag)
    assert "0.00 ms" not in text and f":{ports[2]} timed out" not in text
    blamed = [x for x in diag["findings"] if x["rule"] == "alt-ports-failing"]
    assert all(str(ports[2]) not in json.dumps(x["evidence"]) for x in blamed)


async def test_mx_on_loopback_is_not_connected_to_and_not_deliverable(
    dns_server: DnsFactory, servers: ServerSet
) -> None:
    # Without --allow-targets the MX's loopback address is never connected to, though a
    # healthy server listens there: the domain is not deliverable from the Internet.
    port = servers.port("healthy")
    zone = {"@": ["MX 10 mx"], "mx": ["A 127.0.0.1"]}
    diag = await run(dns_server, servers, "lo.e2e.test", zone, (port,), allow_targets=())
    assert diag["verdict"] == "failed" and diag["primary"] == "5.4.3"
    f = diag["findings"][0]
    assert f["rule"] == "mx-not-global" and f["neighbours"] == ["5.4.4"]
    assert "MX points at loopback address" in f["summary"]
    assert "mail from the Internet cannot arrive there" in f["summary"]
