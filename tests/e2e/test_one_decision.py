"""Issue 18 on loopback: one decision per domain, and every front end agrees.

Scripted SMTP servers with real TLS (the test kit's PKI) on their own loopback
addresses, the test kit's DNS server for the zone. Each domain is one wrong answer of
issue 18; the demo's domains run too. ``probe`` (the diagnosis) and ``check`` (health
over the same report) must give the same verdict, primary code and action, and the
health level must be the verdict's.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from smtpdiag.api import probe
from smtpdiag.bounces.reasons import Decision
from smtpdiag.config import (
    LOOPBACK_NETWORKS,
    Nameserver,
    PolicyConfig,
    ProbeConfig,
    ResolverConfig,
    Timeouts,
    TlsConfig,
)
from smtpdiag.demo import DEMO_DOMAINS, demo_lab
from smtpdiag.diagnosis.decision import SERVER_OWN_CODE, policy_row
from smtpdiag.health import evaluate
from smtpdiag.health.result import HealthStatus
from smtpdiag.model import (
    ActionKind,
    AddressFamily,
    MxTargetKind,
    Persistence,
    ProbeReport,
    SenderKind,
    Severity,
    StepStatus,
    Verdict,
)
from smtpdiag.narrate.policy_table import POLICY_DOC
from smtpdiag.report.junit import render_junit
from smtpdiag.report.openmetrics import render_openmetrics
from smtpdiag.report.text import render_text
from smtpdiag.testing.certs import TestPki
from smtpdiag.testing.dnsserver import LocalDnsServer
from smtpdiag.testing.ports import pick_shared_ports
from smtpdiag.testing.smtpserver import Behaviour, ServerSet, ServerSpec
from smtpdiag.triage import DomainRecord, bulk

ZONE = "decide.test"
DANE_ZONE = "dane.test"

#: host label -> (address, behaviour, certificate kind)
HOSTS: dict[str, tuple[str, Behaviour, str]] = {
    "good": ("127.83.0.1", Behaviour.HEALTHY, "good"),
    "expired": ("127.83.0.2", Behaviour.HEALTHY, "expired"),
    "tls454": ("127.83.0.3", Behaviour.STARTTLS_454, "good"),
    "plain": ("127.83.0.4", Behaviour.NO_STARTTLS, "good"),
    "reject": ("127.83.0.5", Behaviour.GREETING_554, "good"),
    # Its MX name is an alias (CNAME) of another name with the address; the certificate
    # names the MX name, as senders match it (RFC 7672 3.2.2 without DNSSEC).
    "aliased": ("127.83.0.6", Behaviour.HEALTHY, "good"),
}

#: domain label -> zone records relative to the domain
DOMAINS: dict[str, list[tuple[str, str]]] = {
    "badcert": [("@", "MX 10 mx.expired")],
    "backupbad": [("@", "MX 10 mx.good"), ("@", "MX 20 mx.expired")],
    "tls454": [("@", "MX 10 mx.tls454")],
    "plain": [("@", "MX 10 mx.plain")],
    "reject": [("@", "MX 10 mx.reject")],
    # 10.0.0.0/8 is not global unicast: the route is never attempted (no packet).
    "privatebackup": [("@", "MX 10 mx.good"), ("@", "MX 20 mx.private")],
    "privateonly": [("@", "MX 10 mx.private")],
    "aliased": [("@", "MX 10 mx.aliased")],
    "unsignedtlsa": [
        ("@", "MX 10 mx.good"),
        ("_PORT._tcp.mx.good", "TLSA 3 1 1 " + "ab" * 32),
    ],
}


@pytest.fixture(scope="module")
def pki() -> Iterator[TestPki]:
    made = TestPki(names=tuple(f"mx.{h}.{ZONE}" for h in HOSTS))
    yield made
    made.cleanup()


@pytest.fixture(scope="module")
def servers(pki: TestPki) -> Iterator[tuple[ServerSet, int]]:
    port = pick_shared_ports([a for a, _, _ in HOSTS.values()], random.Random())[0]
    specs = [
        ServerSpec(
            name, behaviour, cert=cert, host=address, hostname=f"mx.{name}.{ZONE}", port=port
        )
        for name, (address, behaviour, cert) in HOSTS.items()
    ]
    with ServerSet(specs, pki=pki) as running:
        yield running, port


def config_for(port: int, nameserver: Nameserver, ca_file: str, total: float = 8.0) -> ProbeConfig:
    """The lab's probe configuration: its one port, nameserver and CA; policy lookups on
    (no MTA-STS policy host: nothing here publishes one)."""
    return ProbeConfig(
        ports=(port,),
        families=(AddressFamily.IPV4,),
        timeouts=Timeouts(
            dns=min(1.0, total), connect=1.0, greeting=1.0, command=1.0, tls=1.0, total=total
        ),
        resolver=ResolverConfig((nameserver,)),
        tls=TlsConfig(ca_file=ca_file),
        allow_targets=LOOPBACK_NETWORKS,
        policy=PolicyConfig(enabled=True, https_port=1, fetch_timeout=0.5),
    )


@pytest.fixture
async def run(servers: tuple[ServerSet, int]) -> AsyncIterator[Any]:
    running, port = servers
    records: dict[str, list[str]] = {f"mx.{h}": [f"A {a}"] for h, (a, _, _) in HOSTS.items()}
    records["mx.private"] = ["A 10.0.0.25"]
    records["mx.aliased"] = ["CNAME host.aliased"]
    records["host.aliased"] = [f"A {HOSTS['aliased'][0]}"]
    for name, rows in DOMAINS.items():
        for label, data in rows:
            rel = name if label == "@" else f"{label}.{name}"
            if label.startswith("_PORT._tcp."):
                # TLSA records live under the MX host's name and the delivery port, in
                # this unsigned zone.
                rel = label.replace("PORT", str(port))
            records.setdefault(rel, []).append(data)
    faults = {f"refused.{ZONE}": "refused", f"drop.{ZONE}": "drop"}
    # A DNSSEC-secure zone (the test kit's resolver sets AD) whose MX host, the same
    # server as mx.good, publishes a TLSA record its certificate does not match.
    dane = {
        "mismatch": ["MX 10 mx.mismatch"],
        "mx.mismatch": [f"A {HOSTS['good'][0]}"],
        f"_{port}._tcp.mx.mismatch": ["TLSA 3 1 1 " + "cd" * 32],
    }
    async with LocalDnsServer(
        {ZONE: records, DANE_ZONE: dane}, faults=faults, secure=[DANE_ZONE]
    ) as dns:

        async def go(name: str, total: float = 8.0) -> ProbeReport:
            config = config_for(port, dns.nameserver, running.ca_file, total)
            return await probe(name if "." in name else f"{name}.{ZONE}", config)

        go.config = config_for(port, dns.nameserver, running.ca_file)  # type: ignore[attr-defined]
        yield go


def _agree(report: ProbeReport) -> None:
    """probe and check give one verdict, primary code and action; the level is the
    verdict's."""
    d = report.diagnosis
    assert d is not None
    h = evaluate(report)
    assert (h.verdict, h.primary) == (d.verdict, d.primary)
    expected = {
        Verdict.HEALTHY: HealthStatus.OK,
        Verdict.DEGRADED: HealthStatus.WARNING,
        Verdict.FAILED: HealthStatus.CRITICAL,
    }[d.verdict]
    assert h.status is expected, (h.status, d.verdict, [p.reason for p in h.problems])


def _finding(report: ProbeReport, rule: str) -> Any:
    assert report.diagnosis is not None
    return next(f for f in report.diagnosis.findings if f.rule == rule)


async def test_badcert_route_is_not_healthy_in_any_format(run: Any) -> None:
    rep = await run("badcert")
    d = rep.diagnosis
    assert d.verdict is Verdict.DEGRADED
    _agree(rep)
    h = evaluate(rep)
    assert h.status is HealthStatus.WARNING
    assert not any(r.healthy for r in h.routes)
    metrics = render_openmetrics(h)
    assert "smtpdiag_route_healthy{" in metrics
    assert not [
        line
        for line in metrics.splitlines()
        if line.startswith("smtpdiag_route_healthy{") and line.endswith(" 1")
    ]
    assert "<failure" in render_junit(h)


async def test_badcert_finding_names_who_fails_and_no_firewall(run: Any) -> None:
    rep = await run("badcert")
    f = _finding(rep, "tls-cert-unverified")
    # A sender verifying by local policy defers with what Postfix logs: 4.7.5.
    assert f.code == "4.7.5" and f.severity is Severity.SOFT
    assert rep.diagnosis.primary == "4.7.5"
    assert rep.diagnosis.who_fails == (SenderKind.VERIFYING,)
    text = render_text(rep, width=100, color=False)
    assert "[info]" not in text.split("Who fails")[0].splitlines()[-3]
    assert "Who fails: nobody" not in text
    assert "firewall" not in text.lower()
    assert "prevent secure connections" not in text
    assert f.action.kind is ActionKind.FIX


async def test_backup_mx_bad_cert_gives_no_primary_code(run: Any) -> None:
    rep = await run("backupbad")
    d = rep.diagnosis
    assert d.verdict is Verdict.DEGRADED
    assert d.primary is None
    f = _finding(rep, "tls-cert-unverified")
    assert f.code is None
    _agree(rep)


async def test_alias_mx_target_delivers_and_gives_no_543(run: Any) -> None:
    # MTAs deliver to an MX name that is a CNAME (RFC 5321 5.1 follows it): a
    # misconfiguration (RFC 2181 10.3) that affects no sender, so degraded with no code.
    rep = await run("aliased")
    d = rep.diagnosis
    (mx,) = rep.resolution.hosts
    assert mx.kind is MxTargetKind.CNAME and mx.addresses == (HOSTS["aliased"][0],)
    assert d.verdict is Verdict.DEGRADED and d.primary is None
    assert [f.rule for f in d.findings] == ["mx-cname"]
    assert all(f.code != "5.4.3" for f in d.findings)
    assert d.who_fails == ()
    assert all(r.ok for r in rep.routes)
    _agree(rep)


async def test_starttls_454_is_the_servers_own_code(run: Any) -> None:
    rep = await run("tls454")
    d = rep.diagnosis
    assert d.verdict is Verdict.FAILED
    assert d.primary == "4.7.0"
    f = _finding(rep, "connection-dropped")
    assert "not a dropped connection" in f.summary
    assert d.action.kind is ActionKind.RETRY
    _agree(rep)


async def test_no_starttls_is_degraded_everywhere(run: Any) -> None:
    rep = await run("plain")
    d = rep.diagnosis
    assert d.verdict is Verdict.DEGRADED
    assert d.primary == "4.7.4"  # Postfix: "TLS is required, but was not offered"
    _agree(rep)


async def test_one_5xx_greeting_never_suppresses(run: Any) -> None:
    rep = await run("reject")
    d = rep.diagnosis
    assert d.verdict is Verdict.FAILED
    assert d.action.kind is ActionKind.FIX
    assert all(f.action.kind is not ActionKind.SUPPRESS for f in d.findings)
    _agree(rep)


async def test_tlsa_in_unsigned_zone_does_not_degrade(run: Any) -> None:
    rep = await run("unsignedtlsa")
    d = rep.diagnosis
    assert d.verdict is Verdict.HEALTHY, [(f.rule, f.severity) for f in d.findings]
    f = _finding(rep, "dane-not-usable")
    assert f.severity is Severity.INFO and f.code is None
    _agree(rep)


async def test_routes_never_attempted_are_no_failure_and_never_suppress(run: Any) -> None:
    rep = await run("privatebackup")
    d = rep.diagnosis
    assert d.verdict is Verdict.DEGRADED and d.primary is None
    text = render_text(rep, width=100, color=False)
    assert "1 of 1 route works; 1 not attempted" in text
    assert "0 of" not in text
    only = await run("privateonly")
    assert only.diagnosis.action.kind is not ActionKind.SUPPRESS
    assert all(f.action.kind is not ActionKind.SUPPRESS for f in only.diagnosis.findings)
    for f in only.diagnosis.findings:
        for step in f.steps:
            if step.status is StepStatus.DONE:
                assert "not probed" not in (step.result or ""), step


async def test_one_probe_of_a_refused_answer_has_unknown_persistence(run: Any) -> None:
    rep = await run("refused")
    d = rep.diagnosis
    assert d.primary == "4.4.3"
    assert d.persistence is Persistence.UNKNOWN
    assert all(f.persistence is Persistence.UNKNOWN for f in d.findings)
    text = render_text(rep, width=100, color=False)
    assert "persistence transient" not in text and "transient by nature" not in text


async def test_the_users_deadline_is_named_not_the_nameserver(run: Any) -> None:
    rep = await run("drop", total=0.05)
    d = rep.diagnosis
    assert d.verdict is Verdict.UNKNOWN
    assert rep.resolution.mx_query.deadline
    text = render_text(rep, width=100, color=False)
    assert "deadline (--timeout)" in text
    assert "no nameserver answered" not in text
    h = evaluate(rep)
    assert "deadline" in h.summary and "no nameserver answered" not in h.summary


#: The bulk decision a diagnosis' verdict and action give (bulk acts on failed domains).
_BULK = {
    ActionKind.RETRY: Decision.RETRY,
    ActionKind.SUPPRESS: Decision.SUPPRESS,
    ActionKind.FIX: Decision.FIX,
    ActionKind.NONE: Decision.KEEP,
}


async def _bulk(names: list[str], config: ProbeConfig) -> dict[str, DomainRecord]:
    out: dict[str, DomainRecord] = {}
    async for item in bulk(names, config):
        if isinstance(item, DomainRecord):
            out[item.domain] = item
    return out


def _same_in_bulk(report: ProbeReport, record: DomainRecord) -> None:
    d = report.diagnosis
    assert d is not None
    assert (record.verdict, record.primary) == (d.verdict, d.primary), report.domain
    want = _BULK[d.action.kind] if d.verdict is Verdict.FAILED else Decision.KEEP
    assert record.decision is want, (report.domain, record.decision, d.action.kind)


async def test_dane_mismatch_fails_the_domain_that_published_it(run: Any) -> None:
    rep = await run(f"mismatch.{DANE_ZONE}")
    d = rep.diagnosis
    assert d.verdict is Verdict.FAILED
    assert d.primary == "4.7.5"
    # DANE senders cannot deliver (and verifying ones: the certificate names another
    # host); opportunistic senders do.
    assert SenderKind.DANE in d.who_fails and SenderKind.OPPORTUNISTIC not in d.who_fails
    _agree(rep)


#: Each scenario and the row of the README's verdict and code policy it falls under.
SCENARIO_ROWS = {
    f"badcert.{ZONE}": "stricter-sender",
    f"plain.{ZONE}": "stricter-sender",
    f"backupbad.{ZONE}": "fallback",
    f"tls454.{ZONE}": "server-reply",
    f"reject.{ZONE}": "server-reply",
    f"unsignedtlsa.{ZONE}": "healthy",
    f"privatebackup.{ZONE}": "fallback",
    f"privateonly.{ZONE}": "no-reply",
    f"aliased.{ZONE}": "fallback",
    f"mismatch.{DANE_ZONE}": "published-policy",
    f"refused.{ZONE}": "dns-failed",
    "healthy.demo.test": "healthy",
    "deadprimary.demo.test": "fallback",
    "busy.demo.test": "server-reply",
    "badcert.demo.test": "stricter-sender",
}


def _follows_policy(report: ProbeReport) -> None:
    d = report.diagnosis
    assert d is not None
    row = policy_row(SCENARIO_ROWS[report.domain])
    assert d.verdict is row.verdict, (report.domain, row.id)
    assert d.action.kind in row.actions, (report.domain, row.id, d.action.kind)
    if not row.codes:
        assert d.primary is None, (report.domain, row.id)
    elif row.codes == (SERVER_OWN_CODE,):
        server_codes = {
            f.payload.server_code for f in d.findings if f.payload.server_code is not None
        }
        assert d.primary in server_codes, (report.domain, server_codes)
    else:
        assert d.primary in row.codes, (report.domain, row.id, d.primary)


def test_readme_carries_the_policy_table() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    assert POLICY_DOC in readme, "regenerate the README policy table from POLICY_DOC"


async def test_probe_check_and_bulk_agree_on_every_scenario(run: Any) -> None:
    # mismatch.dane.test shares its MX address and port with the decide.test domains:
    # its DANE policy must stay its own in bulk.
    names = [f"{n}.{ZONE}" for n in DOMAINS] + [f"mismatch.{DANE_ZONE}", f"refused.{ZONE}"]
    reports = {n: await run(n) for n in names}
    records = await _bulk(names, run.config)
    for name, rep in reports.items():
        _agree(rep)
        _same_in_bulk(rep, records[name])
        _follows_policy(rep)


async def test_demo_domains_agree_across_probe_check_and_bulk() -> None:
    with demo_lab() as lab:
        reports = {d.name: await probe(d.name, lab.config()) for d in DEMO_DOMAINS}
        records = await _bulk([d.name for d in DEMO_DOMAINS], lab.config())
    for demo in DEMO_DOMAINS:
        rep = reports[demo.name]
        assert rep.diagnosis is not None
        assert rep.diagnosis.verdict is demo.expect, demo.name
        _agree(rep)
        _same_in_bulk(rep, records[demo.name])
        _follows_policy(rep)
        for f in rep.diagnosis.findings:
            for step in f.steps:
                assert step.status is not StepStatus.DONE or step.result, (demo.name, step)
