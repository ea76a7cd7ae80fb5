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
4. Process cost (``process_cost``): whole ``smtpdiag`` processes, as a monitoring system
   or a CI job runs them, side by side in one run with the baselines a user would
   otherwise reach for: ``--version``/``--help`` against ``swaks --version``; ``probe
   --json`` and ``check --plugin`` of a healthy 6-route domain (1 MX x 2 addresses x 3
   ports) against an ``openssl s_client`` loop and a ``swaks`` loop over the same 6
   routes; ``explain`` against ``python -c pass``. Wall and CPU (user + system of the
   child, from ``getrusage``), median of interleaved runs. Needs ``openssl`` and
   ``swaks`` (``bash scripts/system-deps.sh --bench``); a missing baseline is reported, not
   faked. ``python scripts/bench.py process`` runs only this section; with
   ``BENCH_AGAINST=DIR`` (a tree holding another version's ``smtpdiag/``) it also runs
   that version's ``probe``/``check`` and this tree's, both as ``python -m smtpdiag``,
   so that before and after are ratios of the same run. ``BENCH_INSTRUCTIONS=1`` adds
   each command's instruction count (valgrind), which a shared machine's load does not
   move.
5. Bounce batches (``bounce_batch``): ``explain --batch`` over a generated 10,000-message
   mbox (the fixture bounces, cycled). Messages per second in one process, against the
   standard library's MIME parser alone over the same messages (the floor for any
   MIME-aware reader); peak RSS of a whole ``explain --batch --json`` process against
   ``python -c "import smtpdiag.bounces"``; which heavy modules the ``explain --json``
   path loads (none wanted: asyncio, ssl, dns, rich). ``python scripts/bench.py batch``
   runs only this section.
7. TLS reports (``tls_reports``): ``smtpdiag tlsrpt`` over a generated 10,000-report
   maildir (RFC 8460 reports in a large sender's layout, gzipped, attached to MIME
   messages). Reports per second in one process, against the standard library alone
   over the same messages: gzip + JSON of the attachments (bytes already extracted),
   and MIME + gzip + JSON (the floor for any reader of report mail); peak RSS of a whole
   ``tlsrpt --json`` process over 1,000 and 10,000 reports (flat in the input size).
   ``python scripts/bench.py tlsrpt`` runs only this section.
6. Bulk triage (``bulk_triage``): ``smtpdiag bulk`` over 10,000 generated domains on
   five providers (scripted servers with real TLS on 127.89.0.x, DNS from nsd when
   installed, else the test kit's server): domains per second, the connections each
   server received (each distinct route once), peak RSS; in the same run a loop of
   ``smtpdiag probe`` per domain over a sample and sslyze's mass scan over MX:25
   targets (from its own venv at /tmp/sslyze-venv), both extrapolated.
   ``python scripts/bench.py bulk [COUNT]`` runs only this section. ``smtpdiag bulk``
   runs with ``--workers 0`` (one process) and with the default workers, and, with
   ``SMTPDIAG_BENCH_BASELINE=DIR`` (a checkout, e.g. ``git archive main | tar -x -C DIR``),
   that checkout's ``smtpdiag bulk`` too, all in the same run.
8. One bounce per process (``explain_vs_sisimai``): ``smtpdiag explain --file M``, one
   process per message, against Sisimai (Perl, ``libsisimai-perl`` from
   ``scripts/system-deps.sh --bench``) reading the same message and printing reason,
   status, reply code and recipient; the fixture ``.eml`` bounces both read, sides
   alternating message by message. Wall and CPU (``os.wait4``) medians and their ratio;
   ``BENCH_INSTRUCTIONS=1`` adds both sides' instruction counts (valgrind) on four of
   the messages. ``python scripts/bench.py explain`` runs only this section.
9. Bounce corpus (``bounce_corpus``): agreement with the labels of
   ``fixtures/bounces/corpus`` and messages per second (wall, CPU) over a mbox of it and
   over section 5's; ``SMTPDIAG_BENCH_BASELINE=DIR`` adds another tree in the same run.
   ``python scripts/bench.py corpus`` runs only this section.
10. Names and vantage (``names_vantage``): what the reverse DNS (PTR + forward), the
   resolver's DNSSEC check and a configured blocklist add to one probe of a healthy
   1-MX x 2-address domain (one port, policy lookups on): ``smtpdiag.probe`` as it is,
   and with one ``--blocklist`` zone (both without the diagnosis), against the same
   stages without them (resolve, plan, policy stage with the probe inside), medians of
   interleaved runs, each nameserver answer delayed 5 ms so that DNS costs something
   as on a real network. The DNS server runs in the same process (a thread), so its
   extra answers cost the probe's own CPU too.
   ``python scripts/bench.py names`` runs only this section.
11. Path MTU black hole (``mtu_black_hole``): time to a verdict for ``mtu.lab.test``, whose
   MX sits behind the lab's router with a 1280-byte link and the ICMP "fragmentation
   needed" / "packet too big" dropped (``tests/lab``; needs root, builds the lab under its
   lock and takes it down). ``smtpdiag probe --json`` with the default timeouts (TLS 10 s,
   total 30 s), median of interleaved runs: this tree, and with ``BENCH_AGAINST=DIR`` (a
   tree holding another version's ``smtpdiag/``, e.g. ``git archive main | tar -x -C
   DIR``) that version too, in the same run. Target: the small-MSS proof costs less than
   one TLS timeout more. ``python scripts/bench.py mtu`` runs only this section.
12. The exporter (``serve_cost``): ``smtpdiag serve`` as a subprocess, the six-route
   domain of section 4 scraped over HTTP again and again (each scrape probes:
   ``--min-interval`` tiny, ``--per-address-rate`` high enough not to wait): the
   service's CPU per probe (user + system from ``/proc/PID/stat``, over blocks of
   probes) against the CPU of one ``openssl s_client`` loop over the same six routes,
   interleaved, medians (target <= 1.5x). Then 1,000 domains (one MX each, on 250
   addresses, port 25 with STARTTLS, policy lookups on, default politeness,
   ``--max-concurrent 64`` so that a simulated minute passes in seconds) scraped
   every simulated minute for a simulated hour, on kept-alive HTTP connections as
   Prometheus scrapes, DNS from NSD when installed (PTRs for every MX address, a root
   SOA; negative answers live 60 s): the service runs with its clock
   advanced 60 s per round (``SIGUSR1`` to a child that patches the exporter's and the
   state's clock; probes, timeouts and HTTP run in real time), with its state file;
   CPU share of one core = the service's CPU seconds over 3,600 simulated seconds
   (target < 10%), also the median round after the first (the cost the service
   settles at), RSS after the hour (target < 200 MB). ``python scripts/bench.py
   serve [ROUNDS]`` runs only this section (ROUNDS simulated minutes, default 60). A
   second, shorter fleet run with ``--no-policy`` shows the share of the policy
   lookups (MTA-STS, TLS-RPT, DNSSEC MX and TLSA: 7 of the 9 DNS questions of a probe).
13. Bulk on Celery (``bulk_cluster``): the same input through the local engine and through
   ``bulk --engine celery`` with one and two ``smtpdiag worker`` on a local Redis (needs
   ``redis-server``): domains per second, connections per route, Redis commands per
   domain, peak RSS per worker. ``python scripts/bench.py cluster [COUNT]``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import resource
import shutil
import ssl
import statistics
import subprocess
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import replace

from smtpdiag import api
from smtpdiag.config import ProbeConfig, ResolverConfig, Timeouts, TlsConfig
from smtpdiag.demo import pick_shared_ports
from smtpdiag.model import AddressFamily
from smtpdiag.testing.certs import TestPki
from smtpdiag.testing.dnsserver import ThreadedDnsServer, zone_text
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
        from smtpdiag.probing import plan_routes, probe_routes
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
    itself: port 25 waits the full limit, its stall is repeated once with a small MSS
    (issue 23: at most 3 s, it stalls too here), 587 and 465 only confirm the stall.
    """
    from smtpdiag.probing import plan_routes, probe_route
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
        retries_s = 0.0
        for route in plan_routes(resolution, config):
            result = await probe_route(route, config)
            if result.mss_retry is not None:  # not part of the old schedule
                retries_s += result.mss_retry.duration_ms / 1000
        before = time.perf_counter() - t0 - retries_s
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


# ---- 4. process cost --------------------------------------------------------------

PROC_ADDRS = ("127.78.0.11", "127.78.0.12")  # 1 MX x 2 addresses x 3 ports = 6 routes
PROC_RUNS = 15  # per command, interleaved; median


def _cli() -> list[str]:
    """How a user runs smtpdiag: the console script next to this interpreter."""
    script = os.path.join(os.path.dirname(sys.executable), "smtpdiag")
    return [script] if os.access(script, os.X_OK) else [sys.executable, "-m", "smtpdiag"]


def _run_once(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, float, int]:
    """(wall s, child CPU s, exit code) of one process; bounded by a timeout."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=60,
        env=env,
        check=False,
    )
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc.returncode


def _measure(
    commands: dict[str, list[str]], runs: int, env: dict[str, str]
) -> dict[str, tuple[float, float]]:
    """Median (wall, CPU) per command; runs interleaved so load spikes hit every side."""
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
    for argv in commands.values():  # warm-up: page cache, .pyc files
        _run_once(argv, env)
    for _ in range(runs):
        for name, argv in commands.items():
            wall, cpu, _code = _run_once(argv, env)
            samples[name].append((wall, cpu))
    return {
        name: (statistics.median(w for w, _ in s), statistics.median(c for _, c in s))
        for name, s in samples.items()
    }


def _shell_loop(lines: list[str]) -> list[str]:
    return ["sh", "-c", "\n".join(lines)]


def _report(
    title: str, results: dict[str, tuple[float, float]], ours: str, base: str, target: str
) -> None:
    (ow, oc), (bw, bc) = results[ours], results[base]
    print(
        f"   {title}: {ours} {ow * 1000:.1f} ms wall / {oc * 1000:.1f} ms CPU; "
        f"{base} {bw * 1000:.1f} ms / {bc * 1000:.1f} ms; "
        f"ratio wall {ow / bw:.2f}x, CPU {oc / bc:.2f}x" + (f" (target {target})" if target else "")
    )


def _instructions(commands: dict[str, list[str]], env: dict[str, str]) -> dict[str, int]:
    """Instructions executed by one run of each command (and its children), counted by
    valgrind's cachegrind without cache simulation; empty without valgrind."""
    import tempfile

    if not shutil.which("valgrind"):
        print("   (BENCH_INSTRUCTIONS: valgrind not installed)")
        return {}
    out: dict[str, int] = {}
    for name, argv in commands.items():
        with tempfile.TemporaryDirectory(prefix="smtpdiag-bench-") as tmp:
            subprocess.run(
                [
                    "valgrind", "--tool=cachegrind", "--cache-sim=no", "--trace-children=yes",
                    f"--cachegrind-out-file={tmp}/cg.%p", *argv,
                ],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                timeout=600, env=env, check=False,
            )  # fmt: skip
            total = 0
            for fname in os.listdir(tmp):
                with open(os.path.join(tmp, fname)) as fh:
                    for line in fh:
                        if line.startswith("summary:"):
                            total += int(line.split()[1])
            out[name] = total
    return out


def _compile_package() -> None:
    """Write smtpdiag's .pyc files, as ``pip install`` of the wheel does.

    An editable install under PYTHONDONTWRITEBYTECODE=1 would otherwise recompile every
    module in every process and measure the compiler, not the tool.
    """
    import compileall

    import smtpdiag

    for path in smtpdiag.__path__:
        compileall.compile_dir(path, quiet=1)


def _six_route_domain(  # type: ignore[no-untyped-def]
    seed: int,
):
    """six.test (sections 4 and 12): one MX on the two PROC_ADDRS, ports 25, 587 and 465
    (implicit TLS) on free ports picked with ``seed``: (ports, PKI, server specs, zones,
    the environment of the measured commands)."""
    ports = pick_shared_ports(list(PROC_ADDRS), random.Random(seed))
    p465 = ports[2]
    pki = TestPki(names=("mx.six.test",))
    specs = [
        ServerSpec(f"{a}:{p}", Behaviour.HEALTHY, p == p465, "good", a, "mx.six.test", p)
        for a in PROC_ADDRS
        for p in ports
    ]
    zones = {"six.test": {"@": ["MX 10 mx"], "mx": [f"A {a}" for a in PROC_ADDRS]}}
    env = dict(os.environ, NO_COLOR="1")
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return ports, pki, specs, zones, env


def process_cost(runs: int = PROC_RUNS) -> None:
    print(f"4. process cost: whole processes, median of {runs} interleaved runs")
    # The baseline clients closing TLS without close_notify make the servers' loop log
    # warnings; they are expected here.
    logging.getLogger("asyncio").setLevel(logging.ERROR)
    _compile_package()
    have_openssl, have_swaks = bool(shutil.which("openssl")), bool(shutil.which("swaks"))
    if not (have_openssl and have_swaks):
        print("   (missing baseline tools: run scripts/system-deps.sh --bench)")
    cli = _cli()
    ports, pki, specs, zones, env = _six_route_domain(11)
    p25, p587, p465 = ports
    with ServerSet(specs, pki=pki), ThreadedDnsServer(zones=zones) as dns:
        ca = str(pki.ca_file)
        ns = f"{dns.address}:{dns.port}"
        probe_opts = [
            "--nameserver", ns,
            "--ports", f"{p25},{p587},{p465}",
            "--implicit-tls-ports", str(p465),
            "-4",
            "--ca-file", ca,
        ]  # fmt: skip
        help_text = subprocess.run(
            [*cli, "probe", "--help"], capture_output=True, text=True, timeout=60, check=False
        ).stdout
        if "--allow-targets" in help_text:
            probe_opts += ["--allow-targets", "127.0.0.0/8"]
        probe = [*cli, "probe", "six.test", "--json", *probe_opts]
        check = [*cli, "check", "six.test", "--plugin", *probe_opts]
        for argv, want in ((probe, 0), (check, 0)):
            code = subprocess.run(argv, capture_output=True, timeout=60, check=False, env=env)
            assert code.returncode == want, (argv, code.returncode, code.stdout[-400:])
        openssl_loop, swaks_loop = [], []
        for a in PROC_ADDRS:
            for p in ports:
                starttls = "" if p == p465 else "-starttls smtp -name bench.invalid"
                openssl_loop.append(
                    f"openssl s_client -connect {a}:{p} {starttls} -servername mx.six.test "
                    f"-CAfile {ca} -verify_return_error -brief </dev/null >/dev/null 2>&1"
                )
                tls = "--tls-on-connect" if p == p465 else "--tls"
                swaks_loop.append(
                    f"swaks --server {a} --port {p} {tls} --quit-after HELO "
                    f"--to probe@six.test --helo bench.invalid --hide-all >/dev/null 2>&1"
                )
        commands: dict[str, list[str]] = {
            "smtpdiag --version": [*cli, "--version"],
            "smtpdiag --help": [*cli, "--help"],
            "smtpdiag probe --json": probe,
            "smtpdiag check --plugin": check,
            "smtpdiag explain": [*cli, "explain", "550 5.7.1 relaying denied for <a@b.test>"],
            "python -c pass": [sys.executable, "-c", "pass"],
        }
        if have_swaks:
            commands["swaks --version"] = ["swaks", "--version"]
            commands["swaks loop (6 routes)"] = _shell_loop(swaks_loop)
        if have_openssl:
            commands["openssl s_client loop (6 routes)"] = _shell_loop(openssl_loop)
        against = os.environ.get("BENCH_AGAINST")
        if against:
            # Before/after in one run: the same commands from another source tree (e.g.
            # `git archive <commit> smtpdiag | tar -x -C DIR`), both as `python -P -m` (-P:
            # the working directory must not shadow PYTHONPATH).
            import compileall

            here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
            compileall.compile_dir(os.path.join(against, "smtpdiag"), quiet=1)
            for tag, tree in (("before", against), ("after", here)):
                run = ["env", f"PYTHONPATH={tree}", sys.executable, "-P", "-m", "smtpdiag"]
                commands[f"{tag}: probe --json"] = [*run, *probe[len(cli) :]]
                commands[f"{tag}: check --plugin"] = [*run, *check[len(cli) :]]
        results = _measure(commands, runs, env)
        instructions = _instructions(commands, env) if os.environ.get("BENCH_INSTRUCTIONS") else {}
    pki.cleanup()
    for name, (wall, cpu) in results.items():
        print(f"   {name:<36} {wall * 1000:7.1f} ms wall {cpu * 1000:7.1f} ms CPU")
    print("   ratios:")
    if have_swaks:
        _report("--version", results, "smtpdiag --version", "swaks --version", "<= 1.5x")
        _report("--help", results, "smtpdiag --help", "swaks --version", "<= 1.5x")
    if have_openssl:
        for ours in ("smtpdiag probe --json", "smtpdiag check --plugin"):
            _report("6 routes", results, ours, "openssl s_client loop (6 routes)", "<= 2x")
    if have_swaks:
        for ours in ("smtpdiag probe --json", "smtpdiag check --plugin"):
            _report("6 routes", results, ours, "swaks loop (6 routes)", "< 1x")
    _report("explain", results, "smtpdiag explain", "python -c pass", "<= 2x")
    if instructions:
        # Instruction counts do not move with the load of a shared machine.
        base = instructions.get("openssl s_client loop (6 routes)")
        print("   instructions (valgrind, whole process with children):")
        for name, count in instructions.items():
            ratio = f"  {count / base:.2f}x the openssl loop" if base else ""
            print(f"   {name:<36} {count / 1e6:8.1f} M{ratio}")
    if have_openssl and "before: probe --json" in results:
        for tag in ("before", "after"):
            for what in ("probe --json", "check --plugin"):
                _report(tag, results, f"{tag}: {what}", "openssl s_client loop (6 routes)", "")


# ---- 5. bounce batches --------------------------------------------------------------

BATCH_MESSAGES = 10_000


def _write_mbox(path: str, count: int) -> int:
    """``count`` bounces cycled from fixtures/bounces/cases into an mbox; returns bytes."""
    import json
    import pathlib

    root = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "bounces"
    cases = json.loads((root / "cases.json").read_text(encoding="utf-8"))
    bodies = [(root / "cases" / c["file"]).read_bytes().rstrip(b"\r\n") for c in cases]
    size = 0
    with open(path, "wb") as fh:
        for i in range(count):
            chunk = b"From MAILER-DAEMON Mon Nov 23 10:00:00 2026\n" + bodies[i % len(bodies)]
            fh.write(chunk + b"\n\n")
            size += len(chunk) + 2
    return size


def _child_usage(
    argv: list[str], env: dict[str, str] | None = None, cwd: str | None = None
) -> tuple[int, float]:
    """Peak RSS (KiB) of the largest process of one child's process tree, and the CPU
    seconds (user + system) of the whole tree, measured by a fresh parent so that only
    that child counts (Linux ``ru_maxrss`` is in KiB)."""
    import subprocess
    import sys

    code = (
        "import resource, subprocess, sys; "
        "subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, check=False, timeout=600); "
        "u = resource.getrusage(resource.RUSAGE_CHILDREN); "
        "print(u.ru_maxrss, u.ru_utime + u.ru_stime)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, *argv],
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
        cwd=cwd,
    )
    rss, cpu = [*out.stdout.split(), "0", "0"][:2]
    return int(rss), float(cpu)


def _child_rss_kib(argv: list[str]) -> int:
    """Peak RSS (KiB) of one child process (see :func:`_child_usage`)."""
    return _child_usage(argv)[0]


def bounce_batch(count: int = BATCH_MESSAGES) -> None:
    import email
    import subprocess
    import sys
    import tempfile

    from smtpdiag.bounces import InputFormat, SummaryBuilder, explain_batch
    from smtpdiag.bounces.readers import read_inputs

    print(f"5. bounce batches: explain --batch over a generated {count}-message mbox")
    with tempfile.TemporaryDirectory() as tmp:
        mbox = f"{tmp}/bounces.mbox"
        size = _write_mbox(mbox, count)
        # Baseline: the stdlib MIME parser alone over the same messages, measured in the
        # same rounds (interleaved), so that load on the shared machine hits both sides.
        bases, runs, cpus, ratios = [], [], [], []
        for _ in range(3):
            t0 = time.perf_counter()
            n = 0
            for item in read_inputs(mbox, InputFormat.MBOX):
                email.message_from_bytes(item.data)
                n += 1
            base = time.perf_counter() - t0
            builder = SummaryBuilder()
            t0, c0 = time.perf_counter(), time.process_time()
            for rec in explain_batch([mbox]):
                builder.add(rec)
            ours = time.perf_counter() - t0
            cpus.append(time.process_time() - c0)
            bases.append(base)
            runs.append(ours)
            ratios.append(ours / base)
        ours, cpu, base = statistics.median(runs), statistics.median(cpus), statistics.median(bases)
        s = builder.summary()
        # Nothing read is lost: every message gives records or error records (the
        # fixtures that name no recipient give a no-recipient error each).
        assert s.inputs == n == count, s
        print(
            f"   {count} messages ({size / 1e6:.1f} MB) -> {s.records} records, "
            f"{s.errors} error records: "
            f"{count / ours:,.0f} messages/s wall, {count / cpu:,.0f} per CPU second "
            f"(median of 3; target >= 2,000; wall depends on the machine's load, "
            f"load average now {os.getloadavg()[0]:.1f}); stdlib MIME parse alone "
            f"{count / base:,.0f}/s; ratio {statistics.median(ratios):.2f}x its time "
            "(median of per-round ratios)"
        )
        cli = [sys.executable, "-m", "smtpdiag", "explain", "--batch", mbox, "--json"]
        rss = _child_rss_kib(cli)
        rss_base = _child_rss_kib([sys.executable, "-c", "import smtpdiag.bounces"])
        print(
            f"   peak RSS: explain --batch {rss / 1024:.1f} MiB, import alone "
            f"{rss_base / 1024:.1f} MiB (ratio {rss / max(rss_base, 1):.2f}; one message "
            "at a time, so flat in the input size)"
        )
        probe = (
            "import sys; from smtpdiag.cli import main; "
            "sys.stdout = open('/dev/null', 'w'); "
            "main(['explain', '--json', '550 5.1.1 <a@example.org> User unknown']); "
            "sys.stderr.write(','.join(m for m in ('asyncio', 'ssl', 'dns', 'rich', "
            "'aiosmtplib') if m in sys.modules))"
        )
        heavy = subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60
        ).stderr.strip()
        print(f"   explain --json loads: {heavy or 'none of asyncio, ssl, dns, rich'}")


# ------------------------------------------------------------------ 7. TLS reports

TLS_REPORTS = 10_000


def _write_report_maildir(path: str, count: int) -> list[bytes]:
    """``count`` report messages in a maildir; returns the gzipped attachments."""
    import base64
    import gzip
    import json

    os.makedirs(f"{path}/cur")
    os.makedirs(f"{path}/new")
    os.makedirs(f"{path}/tmp")
    attachments = []
    for i in range(count):
        domain = f"d{i % 500}.example"
        day = f"2026-11-{1 + i % 28:02d}"
        report = {
            "organization-name": ("Google Inc.", "Microsoft Corporation", "Yahoo")[i % 3],
            "date-range": {
                "start-datetime": f"{day}T00:00:00Z",
                "end-datetime": f"{day}T23:59:59Z",
            },
            "contact-info": "smtp-tls-reporting@sender.example",
            "report-id": f"{day}T00:00:00Z_{domain}_{i}",
            "policies": [
                {
                    "policy": {
                        "policy-type": "sts",
                        "policy-string": ["version: STSv1", "mode: enforce", f"mx: *.{domain}"],
                        "policy-domain": domain,
                        "mx-host": [f"*.{domain}"],
                    },
                    "summary": {
                        "total-successful-session-count": 1000 + i,
                        "total-failure-session-count": 12,
                    },
                    "failure-details": [
                        {
                            "result-type": "certificate-host-mismatch",
                            "sending-mta-ip": "209.85.220.41",
                            "receiving-mx-hostname": f"mx2.{domain}",
                            "receiving-ip": "2001:db8::25",
                            "failed-session-count": 10,
                        },
                        {
                            "result-type": "starttls-not-supported",
                            "sending-mta-ip": "209.85.220.42",
                            "receiving-mx-hostname": f"mx3.{domain}",
                            "failed-session-count": 2,
                        },
                    ],
                }
            ],
        }
        data = gzip.compress(json.dumps(report).encode(), mtime=0)
        attachments.append(data)
        body = base64.encodebytes(data).decode()
        message = (
            "From: tlsrpt@sender.example\nTo: tlsrpt@receiver.example\n"
            f"Subject: Report Domain: {domain} Report-ID: <{i}>\nMIME-Version: 1.0\n"
            'Content-Type: multipart/report; report-type="tlsrpt"; boundary="b"\n\n'
            "--b\nContent-Type: text/plain\n\nAn aggregate TLS report.\n\n"
            "--b\nContent-Type: application/tlsrpt+gzip\n"
            'Content-Disposition: attachment; filename="report.json.gz"\n'
            f"Content-Transfer-Encoding: base64\n\n{body}\n--b--\n"
        )
        with open(f"{path}/cur/{i:06d}.bench:2,S", "w") as fh:
            fh.write(message)
    return attachments


def tls_reports(count: int = TLS_REPORTS) -> None:
    import email
    import gzip
    import json
    import sys
    import tempfile

    from smtpdiag.tlsreports import SummaryBuilder, read_tls_reports

    print(f"7. TLS reports: tlsrpt over a generated {count}-report maildir")
    with tempfile.TemporaryDirectory() as tmp:
        maildir = f"{tmp}/Maildir"
        attachments = _write_report_maildir(maildir, count)
        files = sorted(os.listdir(f"{maildir}/cur"))
        jsons, mimes, runs, ratios = [], [], [], []
        for _ in range(3):  # interleaved rounds: load on the shared machine hits every side
            t0 = time.perf_counter()
            for data in attachments:
                json.loads(gzip.decompress(data))
            jsons.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            for name in files:
                with open(f"{maildir}/cur/{name}", "rb") as fh:
                    msg = email.message_from_bytes(fh.read())
                for part in msg.walk():
                    if part.get_content_type() == "application/tlsrpt+gzip":
                        json.loads(gzip.decompress(part.get_payload(decode=True)))
            mimes.append(time.perf_counter() - t0)
            builder = SummaryBuilder()
            t0 = time.perf_counter()
            for item in read_tls_reports([maildir]):
                builder.add(item)
            runs.append(time.perf_counter() - t0)
            ratios.append(runs[-1] / mimes[-1])
        s = builder.summary()
        assert s.inputs == s.reports == count and s.errors == 0, s
        ours, js, mime = (statistics.median(v) for v in (runs, jsons, mimes))
        print(
            f"   {count} reports -> {len(s.policies)} policy groups, {len(s.failures)} failure "
            f"groups: {count / ours:,.0f} reports/s (median of 3; load average "
            f"{os.getloadavg()[0]:.1f}); stdlib gzip+JSON alone {count / js:,.0f}/s "
            f"({ours / js:.1f}x its time), stdlib MIME+gzip+JSON {count / mime:,.0f}/s "
            f"({statistics.median(ratios):.2f}x its time)"
        )
        small = f"{tmp}/Small"
        _write_report_maildir(small, count // 10)
        cli = [sys.executable, "-m", "smtpdiag", "tlsrpt", "--json"]
        rss_small = _child_rss_kib([*cli, small])
        rss = _child_rss_kib([*cli, maildir])
        print(
            f"   peak RSS: tlsrpt --json over {count // 10} reports {rss_small / 1024:.1f} MiB, "
            f"over {count} {rss / 1024:.1f} MiB (ratio {rss / max(rss_small, 1):.2f})"
        )


# ------------------------------------------------------------------ 6. bulk triage

BULK_DOMAINS = 10_000
BULK_PROVIDERS = 5
SSLYZE = "/tmp/sslyze-venv/bin/python"  # a separate venv: `pip install sslyze` there


def _bulk_domains(count: int) -> dict[str, tuple[str, ...]]:
    """``count`` domains over the providers; every 10th with its own MX name (same
    servers, a name the certificate lacks), every 50th without MX or address."""
    out: dict[str, tuple[str, ...]] = {}
    for i in range(count):
        k = 1 + i % BULK_PROVIDERS
        if i % 50 == 49:
            out[f"n{i}.test"] = ()
        elif i % 10 == 9:
            out[f"o{i}.test"] = (f"mail.o{i}.test",)
        else:
            out[f"d{i}.test"] = (f"mx.p{k}.test",)
    return out


def _bulk_hosts(domains: dict[str, tuple[str, ...]]) -> dict[str, str]:
    hosts = {f"mx.p{k}.test": f"127.89.0.{k}" for k in range(1, BULK_PROVIDERS + 1)}
    for i, (_domain, mx) in enumerate(domains.items()):
        if mx and mx[0].startswith("mail."):
            hosts[mx[0]] = f"127.89.0.{1 + i % BULK_PROVIDERS}"
    return hosts


def _bulk_lab_server(count: int) -> None:
    """Child process: the scripted SMTP servers (and the test kit's DNS server) of the
    bulk benchmark; prints the lab as JSON, then per-server session counts on each
    line read from stdin, until stdin closes."""
    import json
    import sys

    from smtpdiag.testing.bulklab import bulk_lab

    domains = _bulk_domains(count)
    hosts = _bulk_hosts(domains)
    names = tuple(f"mx.p{k}.test" for k in range(1, BULK_PROVIDERS + 1))
    with bulk_lab(hosts, domains, cert_names=names, seed=11) as lab:
        ns = lab.nameserver
        print(json.dumps({"ns": f"{ns.address}:{ns.port}", "ports": lab.ports, "ca": lab.ca_file}))
        sys.stdout.flush()
        for _line in sys.stdin:
            print(json.dumps(lab.connections()))
            sys.stdout.flush()


def _nsd(domains: dict[str, tuple[str, ...]], hosts: dict[str, str], tmp: str):  # type: ignore[no-untyped-def]
    """NSD serving the zone on 127.0.0.1 (a C server: the test kit's Python server would
    measure itself); ``None`` when nsd is not installed."""
    lines = [
        "$ORIGIN test.",
        "$TTL 3600",
        "@ SOA ns.test. admin.test. 1 3600 600 86400 300",
        "@ NS ns.test.",
        "ns A 127.0.0.1",
    ]
    lines += [f"{name[:-5]} A {addr}" for name, addr in hosts.items()]
    for domain, mx in domains.items():
        lines += [f"{domain[:-5]} MX {10 * r} {h}." for r, h in enumerate(mx, 1)] or [
            f'{domain[:-5]} TXT "no mail"'
        ]
    return _nsd_zones({"test": "\n".join(lines) + "\n"}, tmp, ("d0.test", "MX"))


def _nsd_zones(zones: dict[str, str], tmp: str, check: tuple[str, str]):  # type: ignore[no-untyped-def]
    """NSD serving ``zones`` (origin -> master-file text) on 127.0.0.1, once it answers
    ``check`` (name, type); ``(None, None)`` when nsd is not installed."""
    import shutil
    import socket
    import subprocess

    nsd = shutil.which("nsd") or (
        "/usr/sbin/nsd" if shutil.os.path.exists("/usr/sbin/nsd") else None
    )
    if nsd is None:
        return None, None
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    stanzas = ""
    for i, (origin, text) in enumerate(zones.items()):
        with open(f"{tmp}/zone{i}.zone", "w") as fh:
            fh.write(text)
        stanzas += f'zone:\n  name: "{origin}"\n  zonefile: zone{i}.zone\n'
    with open(f"{tmp}/nsd.conf", "w") as fh:
        fh.write(
            f'server:\n  ip-address: 127.0.0.1@{port}\n  port: {port}\n  username: ""\n'
            f'  zonesdir: "{tmp}"\n  database: ""\n  pidfile: "{tmp}/nsd.pid"\n'
            f'  xfrdfile: "{tmp}/xfrd.state"\n  zonelistfile: "{tmp}/zone.list"\n'
            f'  logfile: "{tmp}/nsd.log"\n  server-count: 1\n  minimal-responses: yes\n'
            "remote-control:\n  control-enable: no\n" + stanzas
        )
    proc = subprocess.Popen(
        [nsd, "-d", "-c", f"{tmp}/nsd.conf"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    import dns.message
    import dns.query
    import dns.rcode

    for _ in range(100):  # bounded wait for it to answer
        try:
            reply = dns.query.udp(
                dns.message.make_query(*check), "127.0.0.1", port=port, timeout=0.2
            )
            if reply.rcode() == dns.rcode.NOERROR:
                return proc, f"127.0.0.1:{port}"
        except Exception:
            pass
        time.sleep(0.1)
    proc.terminate()
    return None, None


def _stop_nsd(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def bulk_triage(
    count: int = BULK_DOMAINS, probe_sample: int = 20, sslyze_sample: int = 300
) -> None:
    """``smtpdiag bulk`` over ``count`` generated domains on a few loopback servers with
    real TLS, against a per-domain ``smtpdiag probe`` loop and sslyze's mass scan
    (``--certinfo --mozilla_config disable`` over the MX:25 targets), same run."""
    import json
    import os
    import subprocess
    import sys
    import tempfile

    print(f"6. bulk triage: {count} domains over {BULK_PROVIDERS} providers (loopback, real TLS)")
    domains = _bulk_domains(count)
    hosts = _bulk_hosts(domains)
    lab = subprocess.Popen(
        [sys.executable, __file__, "_bulk_lab", str(count)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert lab.stdin is not None and lab.stdout is not None

    def sessions() -> dict[str, int]:
        lab.stdin.write("\n")
        lab.stdin.flush()
        return json.loads(lab.stdout.readline())

    def delta(before: dict[str, int]) -> dict[str, int]:
        after = sessions()
        return {k: after[k] - before[k] for k in after if after[k] - before[k]}

    try:
        info = json.loads(lab.stdout.readline())
        p25, p587, p465 = info["ports"]
        with tempfile.TemporaryDirectory() as tmp:
            nsd, nsd_addr = _nsd(domains, hosts, tmp)
            nameserver = nsd_addr or info["ns"]
            print(f"   DNS: {'nsd' if nsd else 'the test kit DNS server'} at {nameserver}")
            common = [
                "--nameserver",
                nameserver,
                "--ports",
                f"{p25},{p587},{p465}",
                "--implicit-tls-ports",
                str(p465),
                "--ca-file",
                info["ca"],
                "--allow-targets",
                "127.0.0.0/8",
            ]
            source = f"{tmp}/domains.txt"
            with open(source, "w") as fh:
                fh.write("\n".join(domains) + "\n")
            out = f"{tmp}/out.ndjson"
            # smtpdiag bulk, the whole set: this checkout with --workers 0 and with the
            # default workers, and a baseline checkout if given
            # (SMTPDIAG_BENCH_BASELINE=DIR, e.g. `git archive main | tar -x -C DIR`), all
            # against the same servers in this run. Peak RSS is the largest process's.
            runs: list[tuple[str, list[str], dict[str, str] | None]] = []
            baseline = os.environ.get("SMTPDIAG_BENCH_BASELINE")
            if baseline:
                env = dict(os.environ, PYTHONPATH=baseline)  # run from there: first on the path
                runs.append(("baseline", [], env))
            runs += [("--workers 0", ["--workers", "0"], None), ("default workers", [], None)]
            # Other load on the machine moves wall-clock rates: SMTPDIAG_BENCH_REPEAT=N
            # runs the set N times, alternating the order, and keeps each one's best.
            repeat = int(os.environ.get("SMTPDIAG_BENCH_REPEAT", "1"))
            order = [r for i in range(repeat) for r in (runs if i % 2 == 0 else runs[::-1])]
            rates: dict[str, float] = {}
            for label, extra, env in order:
                before = sessions()
                t0 = time.perf_counter()
                rss, cpu = _child_usage(
                    [
                        sys.executable,
                        "-m",
                        "smtpdiag",
                        "bulk",
                        source,
                        "-o",
                        out,
                        "--no-progress",
                        *common,
                        *extra,
                    ],
                    env=env,
                    cwd=baseline if label == "baseline" else None,
                )
                bulk_s = time.perf_counter() - t0
                got = delta(before)
                with open(out) as fh:
                    records = [json.loads(line) for line in fh]
                verdicts: dict[str, int] = {}
                for r in records:
                    verdicts[r.get("verdict", r["type"])] = (
                        verdicts.get(r.get("verdict", r["type"]), 0) + 1
                    )
                assert len(records) == count, len(records)
                rate = count / bulk_s
                rates[label] = max(rate, rates.get(label, 0.0))
                procs = 1
                if not extra and label != "baseline":
                    from smtpdiag.triage.pool import default_workers

                    procs += default_workers()
                print(
                    f"   smtpdiag bulk ({label}): {count} domains in {bulk_s:.1f} s = "
                    f"{rate:,.0f} domains/s, CPU {cpu * 1000 / count:.2f} ms per domain, "
                    f"peak RSS {rss / 1024:.0f} MiB per process, "
                    f"{procs} process(es): at most {procs * rss / 1024:.0f} MiB in all "
                    f"(target <= 200); verdicts {verdicts}"
                )
                print(
                    f"   connections per server: {sum(got.values())} over {len(got)} servers "
                    f"({', '.join(f'{k}={v}' for k, v in sorted(got.items()))})"
                )
            # The per-domain loop: `smtpdiag probe` per domain over a sample, extrapolated.
            sample = list(domains)[:probe_sample]
            before = sessions()
            t0 = time.perf_counter()
            for domain in sample:
                subprocess.run(
                    [sys.executable, "-m", "smtpdiag", "probe", domain, "--json", *common],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    timeout=120,
                    check=False,
                )
            loop_s = time.perf_counter() - t0
            loop_conn = sum(delta(before).values())
            loop_rate = probe_sample / loop_s
            print(
                f"   smtpdiag probe loop: {probe_sample} domains in {loop_s:.1f} s = {loop_rate:.1f} "
                f"domains/s -> {count / loop_rate / 60:.0f} min and ~{loop_conn * count // probe_sample:,} "
                f"connections for {count} (bulk: {rates['default workers'] / loop_rate:.0f}x faster)"
            )
            # sslyze's mass scan over the same targets (each domain's MX:25 at its address).
            if os.path.exists(SSLYZE):
                targets = f"{tmp}/targets.txt"
                picked = [d for d in domains if domains[d]][:sslyze_sample]
                with open(targets, "w") as fh:
                    for d in picked:
                        mx = domains[d][0]
                        fh.write(f"{mx}:{p25}{{{hosts[mx]}}}\n")
                before = sessions()
                t0 = time.perf_counter()
                done = subprocess.run(
                    [
                        SSLYZE,
                        "-m",
                        "sslyze",
                        "--targets_in",
                        targets,
                        "--starttls",
                        "smtp",
                        "--certinfo",
                        "--certinfo_ca_file",
                        info["ca"],
                        "--mozilla_config",
                        "disable",
                        "--json_out",
                        f"{tmp}/sslyze.json",
                        "--quiet",
                    ],
                    capture_output=True,
                    timeout=1800,
                    check=False,
                )
                ssl_s = time.perf_counter() - t0
                ssl_conn = sum(delta(before).values())
                with open(f"{tmp}/sslyze.json") as fh:
                    scanned = json.load(fh)["server_scan_results"]
                ok = sum(1 for r in scanned if r["scan_status"] == "COMPLETED")
                ssl_rate = len(picked) / ssl_s
                print(
                    f"   sslyze --certinfo: {len(picked)} targets in {ssl_s:.1f} s = {ssl_rate:.1f} "
                    f"domains/s ({ok} completed, exit {done.returncode}), {ssl_conn} connections "
                    f"(~{ssl_conn * count // len(picked):,} for {count})"
                )
                for label, value in rates.items():
                    print(f"   bulk ({label}) is {value / ssl_rate:.1f}x sslyze (target >= 20x)")
            else:
                print(
                    f"   sslyze: not installed at {SSLYZE} (python3 -m venv /tmp/sslyze-venv && "
                    "/tmp/sslyze-venv/bin/pip install sslyze)"
                )
            if nsd is not None:
                _stop_nsd(nsd)
    finally:
        lab.stdin.close()
        lab.wait(timeout=30)


# ----------------------------------------- 13. bulk on Celery workers against local

CLUSTER_DOMAINS = 10_000


def _vm_hwm_kib(pid: int) -> int:
    """Peak RSS (VmHWM) of a process and its children, the largest one (Linux /proc)."""
    from pathlib import Path

    pids = [pid]
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            pids += [int(p) for p in (task / "children").read_text().split()]
    except OSError:
        pass
    peak = 0
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]))
        except OSError:
            continue
    return peak


def bulk_cluster(count: int = CLUSTER_DOMAINS) -> None:
    """The same input through ``smtpdiag bulk`` on this machine and through
    ``--engine celery`` with one and with two ``smtpdiag worker --threads 4`` on a local
    redis-server, same servers, same run: domains per second, connections per route,
    peak RSS per worker, Redis commands per domain; then a 1,000,000-domain run sized
    on paper from those figures."""
    import json
    import os
    import shutil
    import signal
    import socket
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    binary = shutil.which("redis-server")
    if binary is None:
        print("13. bulk on Celery: redis-server not installed (bash scripts/system-deps.sh)")
        return
    print(f"13. bulk on Celery workers: {count} domains over {BULK_PROVIDERS} providers")
    domains = _bulk_domains(count)
    hosts = _bulk_hosts(domains)
    lab = subprocess.Popen(
        [sys.executable, __file__, "_bulk_lab", str(count)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert lab.stdin is not None and lab.stdout is not None

    def sessions() -> dict[str, int]:
        lab.stdin.write("\n")
        lab.stdin.flush()
        return json.loads(lab.stdout.readline())

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    import redis

    try:
        info = json.loads(lab.stdout.readline())
        p25, p587, p465 = info["ports"]
        with tempfile.TemporaryDirectory() as tmp:
            server = subprocess.Popen(
                [binary, "--bind", "127.0.0.1", "--port", str(port), "--dir", tmp,
                 "--save", "", "--appendonly", "no", "--maxmemory-policy", "noeviction"],
                stdout=subprocess.DEVNULL,
            )  # fmt: skip
            broker = f"redis://127.0.0.1:{port}/0"
            client = redis.Redis.from_url(broker)
            for _ in range(100):
                try:
                    client.ping()
                    break
                except redis.RedisError:
                    time.sleep(0.05)
            nsd, nsd_addr = _nsd(domains, hosts, tmp)
            nameserver = nsd_addr or info["ns"]
            print(f"   DNS: {'nsd' if nsd else 'the test kit DNS server'}; broker redis-server")
            common = [
                "--nameserver", nameserver,
                "--ports", f"{p25},{p587},{p465}",
                "--implicit-tls-ports", str(p465),
                "--ca-file", info["ca"],
                "--allow-targets", "127.0.0.0/8",
                "--no-progress",
            ]  # fmt: skip
            source = f"{tmp}/domains.txt"
            with open(source, "w") as fh:
                fh.write("\n".join(domains) + "\n")
            workers: list[subprocess.Popen[bytes]] = []

            def start_worker(index: int) -> None:
                log = open(f"{tmp}/worker{index}.log", "wb")  # noqa: SIM115 (the worker's)
                workers.append(
                    subprocess.Popen(
                        [
                            sys.executable,
                            "-m",
                            "smtpdiag",
                            "worker",
                            "--broker",
                            broker,
                            "--threads",
                            "4",
                            "--name",
                            f"bench{index}@%h",
                            "--log-level",
                            "info",
                        ],
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
                for _ in range(300):
                    if b" ready." in Path(f"{tmp}/worker{index}.log").read_bytes():
                        return
                    time.sleep(0.1)

            results: dict[str, float] = {}
            for label, n_workers in (
                ("local", 0),
                ("celery, 1 worker", 1),
                ("celery, 2 workers", 2),
            ):
                while len(workers) < n_workers:
                    start_worker(len(workers))
                out = f"{tmp}/{n_workers}.ndjson"
                extra = ["--engine", "celery", "--broker", broker] if n_workers else []
                before = sessions()
                cmds0 = client.info("stats")["total_commands_processed"]
                t0 = time.perf_counter()
                done = subprocess.run(
                    [sys.executable, "-m", "smtpdiag", "bulk", source, "-o", out, *common, *extra],
                    capture_output=True,
                    timeout=3600,
                    check=False,
                )
                wall = time.perf_counter() - t0
                cmds = client.info("stats")["total_commands_processed"] - cmds0
                after = sessions()
                got = {k: after[k] - before[k] for k in after if after[k] - before[k]}
                with open(out) as fh:
                    records = [json.loads(line) for line in fh]
                assert len(records) == count, (len(records), done.stderr[-500:])
                rate = count / wall
                results[label] = rate
                per_route = sorted(set(got.values()))
                line = (
                    f"   {label}: {rate:,.0f} domains/s ({wall:.1f} s), connections per route "
                    f"{per_route} over {len(got)} routes"
                )
                if n_workers:
                    rss = [_vm_hwm_kib(w.pid) for w in workers]
                    line += (
                        f", Redis commands per domain {cmds / count:.2f} (all: {cmds:,}), "
                        f"peak RSS per worker {max(rss) / 1024:.0f} MiB"
                    )
                print(line)
            base = results["local"]
            for label, rate in results.items():
                if label != "local":
                    print(f"   {label} / local: {rate / base:.2f}")
            # Sized on paper: a million domains, the same figures.
            per_domain = cmds / count
            million = 1_000_000
            print(
                f"   1,000,000 domains (paper): ~{per_domain * million / 1e6:.1f} M Redis "
                f"commands; at 2 workers' {results['celery, 2 workers']:,.0f} domains/s, "
                f"{million / results['celery, 2 workers'] / 3600:.1f} h; politeness alone "
                "(each route once, 30 new connections per minute per address, 3 ports per "
                "address): 6 s per address, whatever the number of domains on it"
            )
            for w in workers:
                os.killpg(w.pid, signal.SIGTERM)
            for w in workers:
                try:
                    w.wait(30)
                except subprocess.TimeoutExpired:
                    os.killpg(w.pid, signal.SIGKILL)
                    w.wait(10)
            client.close()
            server.terminate()
            server.wait(10)
            if nsd is not None:
                _stop_nsd(nsd)
    finally:
        lab.stdin.close()
        lab.wait(timeout=30)


# ------------------------------------------- 8. one bounce per process against Sisimai

EXPLAIN_ROUNDS = 5  # rounds over the messages, each message once per side per round

# Sisimai (Perl, libsisimai-perl) reads one message and prints what smtpdiag's first line
# says: reason, status code, reply code, recipient. Version 4 has make(); 5 has rise().
SISIMAI = r"""
use strict; use warnings; use Sisimai;
my $read = Sisimai->can('rise') || Sisimai->can('make');
my $data = $read->('Sisimai', $ARGV[0], 'input' => 'email') // [];
for my $r (@$data) {
    printf "%s %s %s %s\n", $r->reason, $r->deliverystatus, $r->replycode // '',
        $r->recipient->address;
}
exit(@$data ? 0 : 1);
"""


def _wait4_run(argv: list[str], env: dict[str, str]) -> tuple[float, float, int, bytes]:
    """(wall s, CPU s of that child alone from os.wait4, exit code, stdout)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, env=env)  # fmt: skip
    assert proc.stdout is not None
    out = proc.stdout.read()
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    proc.stdout.close()
    return wall, usage.ru_utime + usage.ru_stime, proc.returncode, out


def explain_vs_sisimai(rounds: int = EXPLAIN_ROUNDS) -> None:
    """``smtpdiag explain --file M`` against Sisimai on M, one process per message.

    A mail filter or a pipe transport runs one process per bounce. The messages are the
    fixture bounces (``.eml``) that both tools read a bounce from; the two sides
    alternate message by message, so load on the shared machine hits both. Wall is
    the parent's clock from spawn to exit, CPU is user + system of the child alone
    (``os.wait4``); medians over every run of a side.
    """
    import pathlib

    print(f"8. one bounce per process: smtpdiag explain --file against Sisimai, {rounds} rounds")
    if subprocess.run(["perl", "-MSisimai", "-e", "1"], capture_output=True,
                      check=False).returncode != 0:  # fmt: skip
        print("   Sisimai not installed (bash scripts/system-deps.sh --bench: libsisimai-perl)")
        return
    _compile_package()
    env = dict(os.environ, NO_COLOR="1")
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    version = subprocess.run(["perl", "-MSisimai", "-e", "print Sisimai->version"],
                             capture_output=True, text=True, check=False).stdout  # fmt: skip
    root = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "bounces" / "cases"
    cli = _cli()
    sides = {
        "smtpdiag": lambda m: [*cli, "explain", "--file", m],
        f"Sisimai {version}": lambda m: ["perl", "-e", SISIMAI, m],
    }
    messages = []
    for path in sorted(root.glob("*.eml")):
        codes = [_wait4_run(argv(str(path)), env)[2] for argv in sides.values()]
        if codes == [0, 0]:  # both read a bounce (also the warm-up run)
            messages.append(str(path))
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in sides}
    for i in range(rounds):
        order = list(sides.items())
        for message in messages:
            for name, argv in order if i % 2 == 0 else order[::-1]:
                wall, cpu, _code, _out = _wait4_run(argv(message), env)
                samples[name].append((wall, cpu))
    medians = {
        name: (statistics.median(w for w, _ in s), statistics.median(c for _, c in s))
        for name, s in samples.items()
    }
    print(f"   {len(messages)} messages both read, {rounds} rounds, load average "
          f"{os.getloadavg()[0]:.1f}")  # fmt: skip
    for name, (wall, cpu) in medians.items():
        print(f"   {name:<16} {wall * 1000:7.1f} ms wall {cpu * 1000:7.1f} ms CPU (median)")
    (ow, oc), (bw, bc) = medians.values()
    print(f"   ratio smtpdiag/Sisimai: wall {ow / bw:.2f}x, CPU {oc / bc:.2f}x (target <= 1.0x)")
    if os.environ.get("BENCH_INSTRUCTIONS"):
        _explain_instructions(sides, messages, env)


def _explain_instructions(
    sides: dict[str, Callable[[str], list[str]]], messages: list[str], env: dict[str, str]
) -> None:
    """Instructions of one process per side (and ``--json``) on four of the messages,
    spread over the set: counts that the shared machine's load does not move."""
    picked = messages[:: max(1, len(messages) // 4)][:4]
    (_, ours), (sisimai, theirs) = sides.items()
    runs = {"smtpdiag": ours, "smtpdiag --json": lambda m: [*ours(m), "--json"], sisimai: theirs}
    counts: dict[str, list[int]] = {name: [] for name in runs}
    for message in picked:
        got = _instructions({name: argv(message) for name, argv in runs.items()}, env)
        for name, count in got.items():
            counts[name].append(count)
    if not all(counts.values()):
        return
    medians = {name: statistics.median(c) for name, c in counts.items()}
    base = list(medians.values())[-1]
    print(f"   instructions (valgrind, median of {len(picked)} messages, one process each):")
    for name, count in medians.items():
        print(f"   {name:<16} {count / 1e6:7.1f} M  {count / base:.2f}x Sisimai")


# ------------------------------------------------------------------ 9. bounce corpus

CORPUS_MESSAGES = 5_000
_CORPUS_RATE = (
    "import sys, time; sys.path.insert(0, sys.argv[1]); "
    "from smtpdiag.bounces import explain_batch; "
    "t0, c0 = time.perf_counter(), time.process_time(); "
    "n = sum(1 for _ in explain_batch([sys.argv[2]])); "
    "print(time.perf_counter() - t0, time.process_time() - c0, n)"
)


def _rates(trees: dict[str, str], mbox: str, count: int) -> str:
    """Messages per second (wall and CPU) of each tree over ``mbox``, rounds alternating."""
    wall: dict[str, list[float]] = {name: [] for name in trees}
    cpu: dict[str, list[float]] = {name: [] for name in trees}
    for _ in range(3):
        for name, tree in trees.items():
            got = subprocess.run(
                [sys.executable, "-c", _CORPUS_RATE, tree, mbox],
                capture_output=True, text=True, timeout=600, check=True,
            ).stdout.split()  # fmt: skip
            wall[name].append(count / float(got[0]))
            cpu[name].append(count / float(got[1]))
    out = []
    for name in trees:
        w, c = statistics.median(wall[name]), statistics.median(cpu[name])
        out.append(f"{name} {w:,.0f}/s wall, {c:,.0f} per CPU second")
    if "baseline" in trees:
        ratio = statistics.median(cpu["this tree"]) / statistics.median(cpu["baseline"])
        out.append(f"CPU rate ratio {ratio:.2f}x the baseline's")
    return "; ".join(out)


def bounce_corpus(count: int = CORPUS_MESSAGES) -> None:
    import json
    import pathlib
    import tempfile

    root = pathlib.Path(__file__).resolve().parent.parent
    corpus = root / "fixtures" / "bounces" / "corpus"
    manifest = json.loads((corpus / "manifest.json").read_text())
    files = [corpus / m["file"] for m in manifest["messages"]]
    trees = {"this tree": str(root)}
    if os.environ.get("SMTPDIAG_BENCH_BASELINE"):
        trees["baseline"] = os.environ["SMTPDIAG_BENCH_BASELINE"]
    print(f"9. bounce corpus: {len(files)} modeled notifications, agreement and throughput")
    for name, tree in trees.items():
        out = subprocess.run(
            [sys.executable, str(root / "scripts" / "corpus_score.py"), str(corpus)],
            env={**os.environ, "SMTPDIAG_TREE": tree},
            capture_output=True, text=True, timeout=600, check=True,
        ).stdout.splitlines()  # fmt: skip
        print(f"   {name}: {out[0]}")
        for line in out[1:]:
            print(f"     {line.strip()}")
    with tempfile.TemporaryDirectory() as tmp:
        mbox = f"{tmp}/corpus.mbox"
        with open(mbox, "wb") as f:
            for i in range(count):
                data = files[i % len(files)].read_bytes().replace(b"\nFrom ", b"\n>From ")
                f.write(b"From MAILER-DAEMON Mon Dec  7 10:00:00 2026\n" + data.rstrip(b"\n"))
                f.write(b"\n\n")
        fixtures = f"{tmp}/fixtures.mbox"
        _write_mbox(fixtures, BATCH_MESSAGES)
        load = os.getloadavg()[0]
        print(f"   corpus mbox, {count} messages, one process, median of 3: "
              f"{_rates(trees, mbox, count)}")  # fmt: skip
        print(f"   fixture mbox (section 5's), {BATCH_MESSAGES} messages: "
              f"{_rates(trees, fixtures, BATCH_MESSAGES)}")  # fmt: skip
        print(f"   target >= 2,000 messages/s; load average {load:.1f} -> {os.getloadavg()[0]:.1f}")


# ------------------------------------------------------------------ 10. names and vantage
NAMES_ADDRS = ("127.78.0.31", "127.78.0.32")
NAMES_ROUNDS = 41


async def names_vantage(rounds: int = NAMES_ROUNDS) -> None:
    """10. The cost of the names and vantage lookups, side by side with the probe without."""
    from smtpdiag.policy import lookup_policy
    from smtpdiag.probing import plan_routes, probe_routes
    from smtpdiag.resolve import resolve_domain

    pki = TestPki(names=("mx.names.test",))
    port = pick_shared_ports(list(NAMES_ADDRS), random.Random(13))[0]
    specs = [
        ServerSpec(f"n:{a}", Behaviour.HEALTHY, False, "good", a, "mx.names.test", port)
        for a in NAMES_ADDRS
    ]
    zones = {
        "names.test": {"@": ["MX 10 mx"], "mx": [f"A {a}" for a in NAMES_ADDRS]},
        "127.in-addr.arpa": {
            f"{a.split('.')[3]}.0.78": ["PTR mx.names.test."] for a in NAMES_ADDRS
        },
        "bl.names.test": {"@": ["NS ns.bl.names.test."]},
    }
    delay = {
        "names.test": "delay:0.005",
        "*.names.test": "delay:0.005",
        "*.127.in-addr.arpa": "delay:0.005",
    }
    with ServerSet(specs, pki=pki), ThreadedDnsServer(zones=zones, faults=delay) as dns:
        config = ProbeConfig(
            ports=(port,),
            families=(AddressFamily.IPV4,),
            resolver=ResolverConfig((dns.nameserver,)),
            tls=TlsConfig(ca_file=str(pki.ca_file)),
            allow_targets=("127.0.0.0/8",),
        )
        listed = replace(config, blocklists=("bl.names.test",))

        async def stages() -> None:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + config.timeouts.total
            resolution = await resolve_domain("names.test", config, deadline=deadline)
            routes = plan_routes(resolution, config)

            async def run(dane):  # type: ignore[no-untyped-def]
                return await probe_routes(routes, config, deadline=deadline, tlsa=dane.tlsa)

            await lookup_policy("names.test", resolution, config, deadline=deadline, during=run)

        async def timed(fn: Callable[[], object]) -> float:
            t0 = time.perf_counter()
            await fn()  # type: ignore[misc]
            return (time.perf_counter() - t0) * 1000.0

        warm = await api.probe("names.test", listed)  # warm-up
        assert len(warm.routes) == 2 and all(r.ok for r in warm.routes), "routes must work"
        assert all(n.fcrdns.value == "match" for n in warm.names), warm.names
        sides: dict[str, list[float]] = {"without": [], "with": [], "with --blocklist": []}
        for _ in range(rounds):
            sides["without"].append(await timed(stages))
            sides["with"].append(
                await timed(lambda: api.probe("names.test", config, diagnose=False))
            )
            sides["with --blocklist"].append(
                await timed(lambda: api.probe("names.test", listed, diagnose=False))
            )
        med = {k: statistics.median(v) for k, v in sides.items()}
        print("10. names and vantage lookups: 1 MX x 2 addresses, one port, policy on")
        print(
            f"   stages without them {med['without']:.1f} ms; with PTR/FCrDNS and the "
            f"resolver check {med['with']:.1f} ms (ratio {med['with'] / med['without']:.2f}); "
            f"plus one blocklist zone {med['with --blocklist']:.1f} ms (ratio "
            f"{med['with --blocklist'] / med['without']:.2f}); medians of {rounds}"
        )
    pki.cleanup()


# ---- 11. path MTU black hole ------------------------------------------------------

MTU_RUNS = 3  # per side, interleaved; median


def mtu_black_hole(runs: int = MTU_RUNS) -> None:
    """9. Time to a verdict for a domain behind a path MTU black hole (the lab's)."""
    import json

    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    sys.path.insert(0, here)
    from tests.lab import labctl

    print("11. time to verdict behind a path MTU black hole (lab; TLS 10 s, total 30 s)")
    reason = labctl.lab_unavailable_reason()
    if reason is not None:
        print(f"   skipped: {reason}")
        return
    trees = {"after": here}
    against = os.environ.get("BENCH_AGAINST")
    if against:
        trees = {"before": against, **trees}
    samples: dict[str, list[tuple[float, float, str]]] = {tag: [] for tag in trees}
    with labctl.running() as lab:
        args = [
            "probe",
            "mtu.lab.test",
            "--json",
            "--nameserver",
            lab.nameserver,
            "--ca-file",
            lab.ca_file,
            *(f"--allow-targets={net}" for net in (labctl.NET4, labctl.NET6)),
            *(f"--allow-targets={net}" for net in (labctl.FAR4, labctl.FAR6)),
        ]
        for _ in range(runs):
            for tag, tree in trees.items():
                env = dict(os.environ, PYTHONPATH=tree)
                t0 = time.perf_counter()
                proc = subprocess.run(
                    [sys.executable, "-P", "-m", "smtpdiag", *args],
                    capture_output=True,
                    text=True,
                    timeout=60,
                    env=env,
                    check=False,
                )
                wall = time.perf_counter() - t0
                doc = json.loads(proc.stdout)
                rules = ",".join(f["rule"] for f in doc["diagnosis"]["findings"])
                samples[tag].append((doc["duration_ms"] / 1000, wall, rules))
    medians = {}
    for tag, rows in samples.items():
        verdict = statistics.median(v for v, _, _ in rows)
        wall = statistics.median(w for _, w, _ in rows)
        medians[tag] = verdict
        print(
            f"   {tag:<6} verdict after {verdict:.2f} s (process {wall:.2f} s); "
            f"findings: {rows[-1][2]}"
        )
    if "before" in medians:
        extra = medians["after"] - medians["before"]
        print(
            f"   after/before = {medians['after'] / medians['before']:.3f}; the proof adds "
            f"{extra * 1000:.0f} ms = {extra / 10.0:.3f} TLS timeouts (target < 1)"
        )


# ---- 12. the exporter -----------------------------------------------------------------

SERVE_BLOCK = 10  # probes per CPU reading (the kernel counts CPU in 10 ms ticks)
SERVE_BLOCKS = 9  # blocks, each followed by one openssl loop; medians
FLEET = 1000  # domains of the simulated hour
FLEET_ADDRS = [f"127.79.{i // 250}.{i % 250 + 1}" for i in range(250)]
FLEET_ROUNDS = 60  # simulated minutes


def _proc_cpu(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (all its threads)."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _proc_rss_mib(pid: int, key: str = "VmRSS") -> float:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def _start_serve(
    argv: list[str], env: dict[str, str], cpu: int | None = None
) -> tuple[subprocess.Popen[str], int]:
    """A ``serve`` child (on CPU ``cpu`` alone, if given) and its port (bounded wait for
    its "listening on" line)."""
    import re
    import selectors

    pin = None if cpu is None else (lambda: os.sched_setaffinity(0, {cpu}))
    proc = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True, env=env, preexec_fn=pin,
    )  # fmt: skip
    assert proc.stderr is not None
    deadline = time.monotonic() + 30
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stderr, selectors.EVENT_READ)
        while time.monotonic() < deadline and sel.select(deadline - time.monotonic()):
            line = proc.stderr.readline()
            match = re.search(r"listening on \S+:(\d+)", line)
            if match:
                return proc, int(match.group(1))
            if not line:
                break
    proc.kill()
    raise RuntimeError("smtpdiag serve did not start")


def _stop_serve(proc: subprocess.Popen[str]) -> None:
    import signal

    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
    if proc.stderr is not None:
        proc.stderr.close()


_scrapers = threading.local()


def _scrape(port: int, target: str) -> str:
    """One scrape as Prometheus makes it: on a kept-alive connection (one per scraping
    thread), opened again when the service closed it."""
    import http.client

    for attempt in range(2):
        conn = getattr(_scrapers, "conn", None)
        if conn is None or conn.port != port:
            conn = _scrapers.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            conn.request("GET", f"/probe?target={target}")
            resp = conn.getresponse()
            body = resp.read().decode()
        except (http.client.RemoteDisconnected, ConnectionError, http.client.BadStatusLine):
            conn.close()
            _scrapers.conn = None
            if attempt:
                raise
            continue
        if resp.will_close:
            conn.close()
            _scrapers.conn = None
        return str(body)
    raise AssertionError("unreachable")


def serve_cost(rounds: int = FLEET_ROUNDS) -> None:
    print("12. the exporter: CPU per probe inside `smtpdiag serve`; 1,000 domains for an hour")
    logging.getLogger("asyncio").setLevel(logging.ERROR)
    _compile_package()
    if not shutil.which("openssl"):
        print("   (openssl not installed: run scripts/system-deps.sh --bench)")
    _serve_per_probe()
    _serve_fleet(rounds)
    # Where the CPU goes: the policy lookups are 7 of a probe's 9 DNS questions.
    _serve_fleet(min(rounds, 5), ("--no-policy",), "with --no-policy")


def _serve_per_probe() -> None:
    import tempfile

    ports, pki, specs, zones, env = _six_route_domain(13)
    p25, p587, p465 = ports
    ours: list[float] = []
    theirs: list[float] = []
    with (
        ServerSet(specs, pki=pki),
        ThreadedDnsServer(zones=zones) as dns,
        tempfile.TemporaryDirectory(prefix="smtpdiag-bench-") as state,
    ):
        ca = str(pki.ca_file)
        argv = [
            *_cli(), "serve", "--listen", "127.0.0.1:0", "--state-dir", state,
            "--min-interval", "0.001", "--per-address-rate", "6000",
            "--nameserver", f"{dns.address}:{dns.port}",
            "--ports", f"{p25},{p587},{p465}", "--implicit-tls-ports", str(p465),
            "-4", "--ca-file", ca, "--allow-targets", "127.0.0.0/8",
        ]  # fmt: skip
        loop = []
        for a in PROC_ADDRS:
            for p in ports:
                starttls = "" if p == p465 else "-starttls smtp -name bench.invalid"
                loop.append(
                    f"openssl s_client -connect {a}:{p} {starttls} -servername mx.six.test "
                    f"-CAfile {ca} -verify_return_error -brief </dev/null >/dev/null 2>&1"
                )
        proc, port = _start_serve(argv, env)
        try:
            for _ in range(5):  # warm-up: the first probe loads the DNS, SMTP, TLS code
                body = _scrape(port, "six.test")
            assert 'state="ok"} 1' in body, body[:2000]
            assert body.count("smtpdiag_route_up{") == 6, "not six routes"
            _run_once(_shell_loop(loop), env)
            for _ in range(SERVE_BLOCKS):
                before = _proc_cpu(proc.pid)
                for _ in range(SERVE_BLOCK):
                    _scrape(port, "six.test")
                ours.append((_proc_cpu(proc.pid) - before) / SERVE_BLOCK)
                if shutil.which("openssl"):
                    theirs.append(_run_once(_shell_loop(loop), env)[1])
            rss = _proc_rss_mib(proc.pid)
        finally:
            _stop_serve(proc)
    pki.cleanup()
    mine = statistics.median(ours)
    print(
        f"   CPU per probe of the six-route domain inside serve: {mine * 1000:.1f} ms "
        f"(median of {SERVE_BLOCKS} blocks of {SERVE_BLOCK} scrapes; RSS {rss:.0f} MiB)"
    )
    if theirs:
        base = statistics.median(theirs)
        print(
            f"   openssl s_client loop over the same 6 routes: {base * 1000:.1f} ms CPU "
            f"(median of {len(theirs)} runs); ratio {mine / base:.2f}x (target <= 1.5x)"
        )


def _fleet_zones() -> dict[str, dict[str, list[str]]]:
    """The fleet's zone as a recursive resolver would answer it: every MX address has a
    PTR naming its MX host (as mail servers' addresses do), and the root SOA that the
    resolver check asks is answered (a resolver that refuses it would be asked again
    every round). Negative answers live 60 s (the SOA's minimum, as some large zones
    set it), so the policy records' NXDOMAIN are asked again every simulated minute."""
    zone: dict[str, list[str]] = {}
    reverse: dict[str, list[str]] = {}
    for i, address in enumerate(FLEET_ADDRS):
        zone[f"mx{i}"] = [f"A {address}"]
        octets = address.split(".")
        reverse[f"{octets[3]}.{octets[2]}"] = [f"PTR mx{i}.fleet.test."]
    for n in range(FLEET):
        zone[f"t{n}"] = [f"MX 10 mx{n % len(FLEET_ADDRS)}"]
    root = {"@": ["SOA a.root-servers.net. nstld.verisign-grs.com. 1 1800 900 604800 86400"]}
    return {"fleet.test": zone, "79.127.in-addr.arpa": reverse, ".": root}


def _serve_fleet(rounds: int, extra: tuple[str, ...] = (), label: str = "") -> None:
    import signal
    import tempfile
    from concurrent.futures import ThreadPoolExecutor

    rng = random.Random(17)
    p25 = pick_shared_ports(FLEET_ADDRS, rng)[0]
    pki = TestPki(names=("mx.fleet.test",))
    specs = [
        ServerSpec(a, Behaviour.HEALTHY, False, "good", a, "mx.fleet.test", p25)
        for a in FLEET_ADDRS
    ]
    env = dict(os.environ, NO_COLOR="1")
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    targets = [f"t{n}.fleet.test" for n in range(FLEET)]
    # The service on one CPU, everything else (servers, NSD, scrapers) on the others, as
    # in production, where the servers are not on the exporter's machine: sharing one
    # CPU's time slices and caches with the load generator would bill the service for it.
    cpus = sorted(os.sched_getaffinity(0))
    service_cpu = cpus[0] if len(cpus) > 1 else None
    if service_cpu is not None:
        os.sched_setaffinity(0, set(cpus[1:]))  # before any thread or child starts
    with (
        ServerSet(specs, pki=pki),
        tempfile.TemporaryDirectory(prefix="smtpdiag-bench-") as state,
        tempfile.TemporaryDirectory(prefix="smtpdiag-bench-dns-") as dns_dir,
        contextlib.ExitStack() as stack,
    ):
        # NSD answers in microseconds of C; the test kit's Python server spends up to
        # 20 ms of CPU on an NXDOMAIN, on the other core: a hyperthread sibling, which
        # slows the service measured here.
        zones = _fleet_zones()
        nsd, nameserver = _nsd_zones(
            {o: zone_text(o, r) for o, r in zones.items()}, dns_dir, ("t0.fleet.test", "MX")
        )
        if nsd is not None:
            stack.callback(_stop_nsd, nsd)
        else:
            kit = stack.enter_context(ThreadedDnsServer(zones=zones))
            nameserver = f"{kit.address}:{kit.port}"
        if not label:
            print(
                f"   DNS: {'nsd' if nsd is not None else 'the test kit DNS server'}; "
                + (
                    f"the service alone on CPU {service_cpu}, the rest on {cpus[1:]}"
                    if service_cpu is not None
                    else "one CPU shared by the service and the rest"
                )
            )
        argv = [
            sys.executable, os.path.abspath(__file__), "_serve_child",
            "--listen", "127.0.0.1:0", "--state-dir", state, "--min-interval", "60",
            "--max-concurrent", "64",
            "--nameserver", nameserver, "--ports", str(p25), "-4",
            "--ca-file", str(pki.ca_file), "--allow-targets", "127.0.0.0/8", *extra,
        ]  # fmt: skip
        proc, port = _start_serve(argv, env, service_cpu)
        cpu_rounds: list[float] = []
        walls: list[float] = []
        try:
            with ThreadPoolExecutor(int(os.environ.get("BENCH_SCRAPERS", "16"))) as pool:
                started = time.monotonic()
                for n in range(rounds):
                    if n:
                        proc.send_signal(signal.SIGUSR1)  # the next simulated minute
                        time.sleep(0.1)
                    before, t0 = _proc_cpu(proc.pid), time.monotonic()
                    bodies = list(pool.map(lambda t: _scrape(port, t), targets))
                    cpu_rounds.append(_proc_cpu(proc.pid) - before)
                    walls.append(time.monotonic() - t0)
                    if n == 0:
                        rss_first = _proc_rss_mib(proc.pid)
                        ok = sum('state="ok"} 1' in b or 'state="warning"} 1' in b for b in bodies)
                        assert ok == FLEET, f"only {ok} of {FLEET} domains were probed fine"
                    probed = sum(
                        f'smtpdiag_result_cached{{domain="{t}"}} 0' in b
                        for t, b in zip(targets, bodies, strict=True)
                    )
                    assert probed == FLEET, f"round {n}: {probed} of {FLEET} domains probed"
                elapsed = time.monotonic() - started
            cpu_total = _proc_cpu(proc.pid)
            rss, hwm = _proc_rss_mib(proc.pid), _proc_rss_mib(proc.pid, "VmHWM")
        finally:
            _stop_serve(proc)
    pki.cleanup()
    os.sched_setaffinity(0, set(cpus))
    simulated = rounds * 60.0
    used = sum(cpu_rounds)
    # After the first round (every answer, chain and state row new), the cost a service
    # settles at: each minute asks again only what the answers' TTLs let expire.
    steady = statistics.median(cpu_rounds[1:]) if rounds > 1 else cpu_rounds[0]
    print(
        f"   {FLEET} domains{' ' + label if label else ''}, {rounds} simulated minutes "
        f"({rounds * FLEET} probes, "
        f"{elapsed:.0f} s real): service CPU {used:.1f} s over {simulated:.0f} simulated s "
        f"= {100 * used / simulated:.1f}% of one core (target < 10%); "
        f"{1000 * used / (rounds * FLEET):.1f} ms CPU per probe; median round "
        f"{statistics.median(walls):.1f} s real"
    )
    print(
        f"   first round {cpu_rounds[0]:.1f} s CPU; median later round {steady:.1f} s "
        f"= {100 * steady / 60:.1f}% of one core, {steady:.2f} ms per probe"
    )
    print(
        f"   RSS after round 1 {rss_first:.0f} MiB, after {rounds} simulated minutes "
        f"{rss:.0f} MiB "
        f"(peak {hwm:.0f} MiB; target < 200 MB = {200e6 / 2**20:.0f} MiB); "
        f"process CPU incl. start-up {cpu_total:.1f} s"
    )


def _serve_child(args: list[str]) -> int:
    """``smtpdiag serve ARGS`` with a simulated clock: each SIGUSR1 moves the exporter's,
    the state's and the DNS answer cache's clock 60 s on (probes, their timeouts and HTTP
    stay in real time), so cached DNS answers expire after their TTL in simulated time."""
    import signal
    import types

    import dns.resolver

    import smtpdiag.resolve.cache as cache_module
    import smtpdiag.serve.exporter as exporter_module
    import smtpdiag.serve.state as state_module
    from smtpdiag.cli import main as cli_main

    offset = [0.0]

    def advance(_signum: int, _frame: object) -> None:
        offset[0] += 60.0

    clock = types.SimpleNamespace(
        monotonic=lambda: time.monotonic() + offset[0],
        time=lambda: time.time() + offset[0],
        sleep=time.sleep,
    )
    exporter_module.time = clock  # type: ignore[assignment]
    state_module.time = clock  # type: ignore[assignment]
    # Answers' expiry (dnspython's cache and ours). The clock moves only between rounds,
    # with no question on its way, so no question's lifetime sees the jump.
    cache_module.time = clock  # type: ignore[assignment]
    dns.resolver.time = clock  # type: ignore[attr-defined]
    signal.signal(signal.SIGUSR1, advance)
    profile = os.environ.get("BENCH_SERVE_PROFILE")  # a cProfile output file
    if not profile:
        return cli_main(["serve", *args])
    import cProfile

    with cProfile.Profile(time.process_time) as prof:
        try:
            return cli_main(["serve", *args])
        finally:
            prof.dump_stats(profile)


if __name__ == "__main__":
    # Sections: "in-process" (1-3), "verdict", "process" (4), "batch" (5), "bulk" (6),
    # "tlsrpt" (7), "explain" (8), "corpus" (9), "names" (10), "serve" (12), "cluster"
    # (13); "mtu" (11) needs root (the lab), so it runs only when named; none = all the others.
    if sys.argv[1:2] == ["_bulk_lab"]:  # the bulk section's server process
        _bulk_lab_server(int(sys.argv[2]))
        sys.exit(0)
    if sys.argv[1:2] == ["_serve_child"]:  # the serve section's simulated-clock service
        sys.exit(_serve_child(sys.argv[2:]))
    if sys.argv[1:2] == ["serve"] and sys.argv[2:3]:  # "serve ROUNDS"
        serve_cost(int(sys.argv[2]))
        sys.exit(0)
    if sys.argv[1:2] == ["cluster"] and sys.argv[2:3]:  # "cluster COUNT"
        bulk_cluster(int(sys.argv[2]))
        sys.exit(0)
    if sys.argv[1:2] == ["bulk"] and sys.argv[2:3]:  # "bulk COUNT"
        bulk_triage(int(sys.argv[2]))
        sys.exit(0)
    sections = set(sys.argv[1:]) or {
        "in-process",
        "verdict",
        "process",
        "batch",
        "tlsrpt",
        "bulk",
        "explain",
        "corpus",
        "names",
        "serve",
        "cluster",
    }
    if "names" in sections:
        asyncio.run(names_vantage())
    if "in-process" in sections:
        asyncio.run(main())
    if "verdict" in sections:
        asyncio.run(time_to_verdict())
    if "process" in sections:
        process_cost()
    if "batch" in sections:
        bounce_batch()
    if "tlsrpt" in sections:
        tls_reports()
    if "bulk" in sections:
        bulk_triage()
    if "explain" in sections:
        explain_vs_sisimai()
    if "corpus" in sections:
        bounce_corpus()
    if "mtu" in sections:
        mtu_black_hole()
    if "serve" in sections:
        serve_cost()
    if "cluster" in sections:
        bulk_cluster()
