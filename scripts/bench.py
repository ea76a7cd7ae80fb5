"""Benchmarks: concurrency, per-phase overhead and memory, as ratios to baselines.

Run: ``make bench`` (or ``.venv/bin/python scripts/bench.py``). Everything runs on
loopback (127.78.0.x) against the test kit's scripted servers and local DNS server.
Figures are ratios against a baseline measured in the same process, because the
machine is shared and absolute times are noisy.

1. Concurrency: a 2-MX x 2-address x 3-port domain (12 routes). Wall time of
   ``smtpdiag.probe`` against the sum of its per-route times (what a sequential
   prober would take), with the default per-address limit of 1 and with 3.
2. Overhead: smtpdiag's full route probe (connect, greeting, EHLO, STARTTLS, TLS,
   EHLO, QUIT, with timing and certificate facts) against a bare asyncio client doing
   the same SMTP exchange without any bookkeeping.
3. Memory: tracemalloc peak of one probe against healthy servers, and against servers
   that send a 64 KiB greeting (hostile input must stay bounded).
"""

from __future__ import annotations

import asyncio
import random
import ssl
import statistics
import time
import tracemalloc
from dataclasses import replace

from smtpdiag import api
from smtpdiag.config import ProbeConfig, ResolverConfig, Timeouts, TlsConfig
from smtpdiag.demo import pick_shared_ports
from smtpdiag.model import AddressFamily
from smtpdiag.testing.certs import TestPki
from smtpdiag.testing.dnsserver import ThreadedDnsServer
from smtpdiag.testing.smtpserver import Behaviour, ServerSet, ServerSpec

ADDRS = {"mx1": ["127.78.0.1", "127.78.0.2"], "mx2": ["127.78.0.3", "127.78.0.4"]}
HOSTILE = "127.78.0.9"
ROUNDS = 5


def _zones() -> dict[str, dict[str, list[str]]]:
    return {
        "bench.test": {
            "@": ["MX 10 mx1", "MX 20 mx2"],
            "mx1": [f"A {a}" for a in ADDRS["mx1"]],
            "mx2": [f"A {a}" for a in ADDRS["mx2"]],
        },
        "hostile.test": {"@": ["MX 10 mx"], "mx": [f"A {HOSTILE}"]},
    }


async def _bare_route(host: str, port: int, implicit: bool, ctx: ssl.SSLContext) -> None:
    """The baseline: the same SMTP exchange with no timing, parsing or cert facts."""

    async def reply(reader: asyncio.StreamReader) -> None:
        while True:
            line = await reader.readline()
            if len(line) < 4 or line[3:4] != b"-":
                return

    reader, writer = await asyncio.open_connection(
        host,
        port,
        ssl=ctx if implicit else None,
        server_hostname="mx1.bench.test" if implicit else None,
    )
    await reply(reader)
    writer.write(b"EHLO bench.invalid\r\n")
    await reply(reader)
    if not implicit:
        writer.write(b"STARTTLS\r\n")
        await reply(reader)
        await writer.start_tls(ctx, server_hostname="mx1.bench.test")
        writer.write(b"EHLO bench.invalid\r\n")
        await reply(reader)
    writer.write(b"QUIT\r\n")
    await reply(reader)
    writer.close()


async def main() -> None:
    rng = random.Random(7)
    all_addrs = [a for addrs in ADDRS.values() for a in addrs] + [HOSTILE]
    ports = pick_shared_ports(all_addrs, rng)
    pki = TestPki(names=("mx1.bench.test", "mx2.bench.test", "mx.hostile.test"))
    specs = []
    for mx, addrs in ADDRS.items():
        for addr in addrs:
            for port in ports:
                specs.append(
                    ServerSpec(
                        f"{addr}:{port}",
                        Behaviour.HEALTHY,
                        port == ports[2],
                        "good",
                        addr,
                        f"{mx}.bench.test",
                        port,
                    )
                )
    for port in ports:
        specs.append(
            ServerSpec(
                f"h:{port}",
                Behaviour.HUGE_REPLY,
                port == ports[2],
                "good",
                HOSTILE,
                "mx.hostile.test",
                port,
            )
        )
    with ServerSet(specs, pki=pki), ThreadedDnsServer(zones=_zones()) as dns:
        base = ProbeConfig(
            ports=ports,
            families=(AddressFamily.IPV4,),
            implicit_tls_ports=(ports[2],),
            resolver=ResolverConfig((dns.nameserver,)),
            tls=TlsConfig(ca_file=str(pki.ca_file)),
            timeouts=Timeouts(total=20),
            allow_targets=("127.0.0.0/8",),  # the bench servers' loopback addresses
        )
        await api.probe("bench.test", base)  # warm-up: imports, first TLS contexts

        print("1. concurrency: 2 MX x 2 addresses x 3 ports = 12 routes")
        for limit in (1, 3):
            cfg = replace(base, per_address_limit=limit)
            ratios, walls, sums = [], [], []
            for _ in range(ROUNDS):
                report = await api.probe("bench.test", cfg, diagnose=False)
                assert len(report.routes) == 12 and all(r.ok for r in report.routes), (
                    "bench routes must be healthy"
                )
                route_sum = sum(r.total_ms for r in report.routes)
                walls.append(report.duration_ms)
                sums.append(route_sum)
                ratios.append(report.duration_ms / route_sum)
            print(
                f"   per-address limit {limit}: wall {statistics.median(walls):.1f} ms, "
                f"sum of routes {statistics.median(sums):.1f} ms, "
                f"wall/sum = {statistics.median(ratios):.2f} (median of {ROUNDS})"
            )

        print("2. per-route overhead against a bare asyncio SMTP client (same exchange)")
        ctx = ssl.create_default_context(cafile=str(pki.ca_file))
        from smtpdiag.probe import plan_routes, probe_routes
        from smtpdiag.resolve import resolve_domain

        resolution = await resolve_domain("bench.test", base)
        routes = plan_routes(resolution, base)
        bare, ours = [], []
        for _ in range(ROUNDS):
            for route in routes:
                t0 = time.perf_counter()
                await _bare_route(route.address, route.port, route.port == ports[2], ctx)
                bare.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                (result,) = await probe_routes([route], base)
                ours.append(time.perf_counter() - t0)
                assert result.ok
        b, o = statistics.median(bare) * 1000, statistics.median(ours) * 1000
        print(f"   bare client {b:.2f} ms/route, smtpdiag {o:.2f} ms/route, ratio {o / b:.2f}")

        print("3. memory (tracemalloc peak of one probe)")
        peaks = {}
        for domain in ("bench.test", "hostile.test"):
            tracemalloc.start()
            await api.probe(domain, base)
            peaks[domain] = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        print(
            f"   12 healthy routes: {peaks['bench.test'] / 1024:.0f} KiB; "
            f"3 routes with 64 KiB greetings: {peaks['hostile.test'] / 1024:.0f} KiB "
            f"(ratio {peaks['hostile.test'] / peaks['bench.test']:.2f})"
        )
    pki.cleanup()


STALL = "127.78.0.20"


async def time_to_verdict() -> None:
    """4. Time to a verdict for a domain whose server stalls every TLS handshake.

    Default timeouts (TLS 10 s, overall 30 s), one MX address, three ports. "Before"
    is the schedule the probe used to have, reproduced here: the address's routes one
    after another, each waiting its full TLS limit (each route probed alone, so no
    route learns from another), plus the DNS time. "After" is ``smtpdiag.probe``
    itself: port 25 waits the full limit, 587 and 465 only confirm the stall.
    """
    from smtpdiag.probe import plan_routes, probe_route
    from smtpdiag.resolve import resolve_domain

    ports = pick_shared_ports([STALL], random.Random(11))
    pki = TestPki(names=("mx.stall.test",))
    specs = [
        ServerSpec(f"s:{p}", Behaviour.STALL_TLS, p == ports[2], "good", STALL, "mx.stall.test", p)
        for p in ports
    ]
    zones = {"stall.test": {"@": ["MX 10 mx"], "mx": [f"A {STALL}"]}}
    with ServerSet(specs, pki=pki), ThreadedDnsServer(zones=zones) as dns:
        config = ProbeConfig(
            ports=ports,
            families=(AddressFamily.IPV4,),
            implicit_tls_ports=(ports[2],),
            resolver=ResolverConfig((dns.nameserver,)),
            tls=TlsConfig(ca_file=str(pki.ca_file)),
            allow_targets=("127.0.0.0/8",),
        )
        print("4. time to verdict: every TLS handshake stalls (defaults: TLS 10 s, total 30 s)")
        t0 = time.perf_counter()
        resolution = await resolve_domain("stall.test", config)
        for route in plan_routes(resolution, config):
            await probe_route(route, config)
        before = time.perf_counter() - t0
        t0 = time.perf_counter()
        report = await api.probe("stall.test", config)
        after = time.perf_counter() - t0
        assert report.diagnosis is not None
        print(
            f"   before (routes of the address in turn, full limit each): {before:.1f} s; "
            f"after: {after:.1f} s (verdict {report.diagnosis.verdict.value}); "
            f"after/before = {after / before:.2f}; after/TLS timeout = "
            f"{after / config.timeouts.tls:.2f}"
        )
    pki.cleanup()


if __name__ == "__main__":
    asyncio.run(main())
    asyncio.run(time_to_verdict())
