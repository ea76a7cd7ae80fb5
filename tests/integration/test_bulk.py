"""``smtpdiag.bulk`` on real servers: route sharing, politeness, input handling, memory.

Every lab runs on loopback (127.88.x.y) with the test kit's DNS server and scripted
SMTP servers with real TLS; the servers count the sessions they receive.
"""

from __future__ import annotations

import asyncio
import itertools
import resource
import time
from collections.abc import Iterator

import pytest

from smtpdiag.bounces.reasons import Decision
from smtpdiag.config import ProbeConfig, ResolverConfig, Timeouts
from smtpdiag.model import Verdict
from smtpdiag.testing.bulklab import BulkLab, bulk_lab
from smtpdiag.triage import (
    BulkSettings,
    DomainRecord,
    ErrorRecord,
    RecipientRecord,
    RunStats,
    WorkUnit,
    bulk,
    bulk_sync,
    run_batch,
)

HOSTS = {
    "mx.p1.test": "127.88.0.1",
    "mx.p2.test": "127.88.0.2",
    # A second name for p2's address: its domains share p2's routes, but the
    # certificate (naming mx.p1.test and mx.p2.test only) does not name it.
    "mail.own.test": "127.88.0.2",
}
CERT_NAMES = ("mx.p1.test", "mx.p2.test")


def _domains(n: int) -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    for i in range(n):
        if i % 10 == 9:
            out[f"own{i}.test"] = ("mail.own.test",)
        else:
            out[f"d{i}.test"] = ("mx.p1.test",) if i % 2 else ("mx.p2.test", "mx.p1.test")
    out["nomail.test"] = ()
    return out


@pytest.fixture(scope="module")
def lab() -> Iterator[BulkLab]:
    with bulk_lab(HOSTS, _domains(60), cert_names=CERT_NAMES) as running:
        yield running


def _collect(source: object, config: ProbeConfig, **kwargs: object) -> list[object]:
    return list(bulk_sync(source, config, **kwargs))


def test_each_distinct_route_is_probed_once(lab: BulkLab) -> None:
    domains = list(_domains(60))
    # Duplicates (a domain twice, addresses at the same domain) and case variants.
    lines = [*domains, *domains[:10], "User@D1.TEST", "x@d3.test", "D5.Test."]
    before = lab.connections()
    stats = RunStats()
    items = _collect(lines, lab.config(), recipients=True, stats=stats)
    after = lab.connections()
    received = {k: after[k] - before[k] for k in after}
    # Two addresses x three ports: six distinct routes, each connected to exactly once,
    # however many of the 61 domains share them.
    assert sorted(received.values()) == [1] * 6, received
    assert stats.routes_probed == 6
    records = [i for i in items if isinstance(i, DomainRecord)]
    assert sorted(r.domain for r in records) == sorted(domains)
    recipients = [i for i in items if isinstance(i, RecipientRecord)]
    assert len(recipients) == len(lines)  # one per input item, duplicates included
    # Every session ended with QUIT and never reached MAIL/RCPT/DATA.
    for spec in lab.servers.specs:
        for verbs in list(lab.servers.server(spec.name).sessions)[-1:]:
            assert verbs[-1] == "QUIT", (spec.name, verbs)
            assert not {"MAIL", "RCPT", "DATA"} & set(verbs)


def test_certificate_name_is_checked_per_domain(lab: BulkLab) -> None:
    items = _collect(["d0.test", "d1.test", "own9.test"], lab.config())
    by_name = {r.domain: r for r in items if isinstance(r, DomainRecord)}
    assert by_name["d0.test"].verdict is Verdict.HEALTHY
    assert by_name["d1.test"].verdict is Verdict.HEALTHY
    own = by_name["own9.test"]
    # Same address and ports as d0's MX (one probe), but its own MX name is not on the
    # certificate: its diagnosis says so, d0's does not.
    assert own.verdict is Verdict.DEGRADED
    assert any(f.rule.startswith("tls-cert") for f in own.findings), own.findings
    assert {u.mx for u in own.routes} == {"mail.own.test"}


def test_malformed_lines_become_error_records(lab: BulkLab) -> None:
    lines = [
        "d2.test",
        "not a domain",
        "@d2.test",
        "user@",
        "x" * 2000,
        "127.0.0.1",
        "# a comment",
        "",
        "ok@d4.test",
        "bad..dots.test",
    ]
    stats = RunStats()
    items = _collect(lines, lab.config(), recipients=True, stats=stats)
    errors = [i for i in items if isinstance(i, ErrorRecord)]
    recipients = [i for i in items if isinstance(i, RecipientRecord)]
    # Inputs counted: every line but the comment and the blank one.
    assert stats.inputs == 8
    assert len(errors) == 6
    assert len(recipients) + len(errors) == stats.inputs
    assert {e.error for e in errors} <= {"malformed", "too-long"}


def test_no_mail_domain_is_suppressed_and_bounces_are_weighed(lab: BulkLab, tmp_path) -> None:  # type: ignore[no-untyped-def]
    log = tmp_path / "mail.log"
    line = (
        "Nov 23 10:00:0{n} mail postfix/smtp[1{n}]: ABCDE{n}: to=<{rcpt}>, relay=none, "
        "delay=30, delays=0/0/30/0, dsn={dsn}, status={status} ({text})\n"
    )
    log.write_text(
        line.format(
            n=1,
            rcpt="gone@d2.test",
            dsn="5.1.1",
            status="bounced",
            text="host mx.p2.test[127.88.0.2] said: 550 5.1.1 user unknown",
        )
        + line.format(
            n=2,
            rcpt="late@d4.test",
            dsn="4.4.1",
            status="deferred",
            text="connect to mx.p2.test[127.88.0.2]:25: Connection timed out",
        )
        + line.format(
            n=3,
            rcpt="who@nomail.test",
            dsn="5.1.2",
            status="bounced",
            text="Host or domain name not found",
        )
    )
    items = _collect(str(log), lab.config(), recipients=True)
    decisions = {r.recipient: r for r in items if isinstance(r, RecipientRecord)}
    assert decisions["gone@d2.test"].decision is Decision.SUPPRESS
    assert decisions["gone@d2.test"].source == "bounce"
    # The domain answers now: the connection timeout of the bounce no longer holds.
    assert decisions["late@d4.test"].decision is Decision.KEEP
    assert decisions["who@nomail.test"].decision is Decision.SUPPRESS
    assert decisions["who@nomail.test"].source == "probe"


def test_work_unit_is_plain_data_and_reuses_its_route_cache(lab: BulkLab) -> None:
    import json

    unit = WorkUnit(("d10.test", "d11.test"), lab.config())
    first = run_batch(json.loads(json.dumps(unit.to_dict())))
    assert {r["domain"] for r in first["records"]} == {"d10.test", "d11.test"}
    assert sum(first["connections"].values()) >= 1
    # The next batch gets the routes the first one probed: no connection at all.
    seeded = dict(unit.to_dict(), domains=["d12.test", "d13.test"], routes=first["routes"])
    second = run_batch(json.loads(json.dumps(seeded)))
    assert {r["domain"] for r in second["records"]} == {"d12.test", "d13.test"}
    assert second["connections"] == {}
    assert WorkUnit.from_dict(unit.to_dict()) == unit


# ----------------------------------------------------------------------- politeness


class _CountingServer:
    """Plain TCP listeners on several ports of one address that count how many
    connections are open at once over all of them, and when each started; each
    connection is held a while (silent), so that overlapping ones really overlap."""

    def __init__(self, address: str, ports: list[int], hold: float) -> None:
        self.address = address
        self.ports = ports
        self.hold = hold
        self.active = 0
        self.peak = 0
        self.starts: list[float] = []
        self._servers: list[asyncio.Server] = []

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.active += 1
        self.peak = max(self.peak, self.active)
        self.starts.append(time.monotonic())
        try:
            await asyncio.sleep(self.hold)
        finally:
            self.active -= 1
            writer.close()

    async def start(self) -> None:
        for port in self.ports:
            self._servers.append(await asyncio.start_server(self._serve, self.address, port))

    async def stop(self) -> None:
        for server in self._servers:
            server.close()


def _free_ports(address: str, count: int) -> list[int]:
    import socket

    socks = []
    for _ in range(count):
        s = socket.socket()
        s.bind((address, 0))
        socks.append(s)
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


@pytest.mark.parametrize("workers", [0, 2])
async def test_per_address_limit_and_rate_hold(dns_server, workers: int) -> None:  # type: ignore[no-untyped-def]
    address = "127.88.1.1"
    ports = _free_ports(address, 6)
    server = _CountingServer(address, ports, hold=0.4)
    await server.start()
    records = {f"p{i}": "MX 10 mx.big.test." for i in range(20)}
    records["mx.big"] = f"A {address}"
    dns = await dns_server({"test": records})
    config = ProbeConfig(
        ports=tuple(ports),
        resolver=ResolverConfig((dns.nameserver,)),
        allow_targets=("127.0.0.0/8",),
        timeouts=Timeouts(greeting=2.0, total=5.0),
    )
    # 20 domains on one provider, six routes to one address: at most 2 at a time and
    # at most 2 starts in any 1 s (120 per minute).
    settings = BulkSettings(per_address_limit=2, per_address_rate=120)
    try:
        # With worker processes the limits hold over all of them: only this process
        # connects (each worker asks it for the routes), so nothing doubles.
        names = [f"p{i}.test" for i in range(20)]
        out = [i async for i in bulk(names, config, settings, workers=workers)]
    finally:
        await server.stop()
    assert len([i for i in out if isinstance(i, DomainRecord)]) == 20
    assert len(server.starts) == 6  # each route once
    assert server.peak <= 2, server.peak
    starts = sorted(server.starts)
    for i in range(len(starts) - 2):
        assert starts[i + 2] - starts[i] >= 0.95, starts  # a third start waits for the window


# ------------------------------------------------------------------------ big input


def test_input_far_larger_than_a_list_streams_in_bounded_memory(lab: BulkLab) -> None:
    total = 200_000
    read = 0
    lead = 0
    seen = 0

    def lines() -> Iterator[str]:
        nonlocal read, lead
        for i in itertools.count():
            if i >= total:
                return
            read += 1
            lead = max(lead, read - seen)
            yield f"user{i}@d{i % 40}.test"

    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    settings = BulkSettings(in_flight=16)
    for item in bulk_sync(lines(), lab.config(), settings, recipients=True):
        if isinstance(item, RecipientRecord):
            seen += 1
    elapsed = time.monotonic() - started
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
    assert seen == total
    # The input is read just ahead of the output (chunks, in-flight work, queues), never
    # slurped: the reading stays within a few thousand items of what came out.
    assert lead < 5_000, lead
    assert grown_mib < 60, grown_mib
    assert elapsed < 90, elapsed


def test_dns_cache_asks_each_mx_host_once(lab: BulkLab) -> None:
    before = len([q for q in lab.dns.server.received if q.name == "mx.p1.test"])
    _collect([f"d{i}.test" for i in range(1, 40, 2)], lab.config())
    asked = [q for q in lab.dns.server.received if q.name == "mx.p1.test"]
    # A and AAAA, once each per stage (resolve, and the TLS policy stage's DNSSEC view of
    # the MX host), in this module's earlier tests perhaps; never per domain.
    assert len(asked) - before <= 4


def test_unusable_nameserver_is_a_clear_error() -> None:
    from smtpdiag.errors import ProbeError

    config = ProbeConfig(resolver=ResolverConfig(resolv_conf="/nonexistent/resolv.conf"))
    with pytest.raises(ProbeError):
        list(bulk_sync(["d1.test"], config))
