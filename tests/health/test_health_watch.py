"""Watch mode: the pure Watcher (transitions, percentiles), the loop against a loopback
server that goes down and comes back, and the CLI (JSON lines, Ctrl-C summary)."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time

import pytest
from factories import health_cases as f
from health_lab import HealthLab

from smtpdiag.api import probe as api_probe
from smtpdiag.cli import main
from smtpdiag.errors import ConfigError
from smtpdiag.model import Persistence, Phase, ProbeReport, Verdict
from smtpdiag.testing.smtpserver import ScriptedSmtpServer, ServerSpec
from smtpdiag.watch import TransitionKind, Watcher, percentile, watch

# --------------------------------------------------------------------- pure Watcher


def test_percentile_nearest_rank() -> None:
    values = [float(v) for v in range(1, 11)]
    assert percentile(values, 0.5) == 5.0
    assert percentile(values, 0.9) == 9.0
    assert percentile(values, 1.0) == 10.0
    assert percentile([7.0], 0.9) == 7.0
    # Nearest rank rounds the rank up (ceil): truncation would pick 1.0 and 2.0 here.
    assert percentile([1.0, 2.0, 3.0], 0.5) == 2.0
    assert percentile([1.0, 2.0, 3.0], 0.9) == 3.0
    with pytest.raises(ValueError):
        percentile([], 0.5)


def test_watcher_transitions_and_stats() -> None:
    w = Watcher("example.org")
    up = f.one_route_down()  # mx1 up, mx2 down
    r1 = w.add(up)
    assert r1.number == 1 and r1.transitions == ()
    both_up = f.report(
        "example.org",
        [f.MX1, f.MX2],
        [
            f.route_result(f.route(f.MX1, "198.51.100.10", 25), durations={Phase.GREETING: 100.0}),
            f.route_result(f.route(f.MX2, "198.51.100.20", 25)),
        ],
    )
    r2 = w.add(both_up)
    kinds = [t.kind for t in r2.transitions]
    assert kinds == [TransitionKind.ROUTE_UP, TransitionKind.STATUS_CHANGED]
    assert r2.transitions[0].route == "mx2.example.org[198.51.100.20]:25"
    assert "status warning -> ok" in r2.transitions[1].detail
    r3 = w.add(f.all_down())
    assert [t.kind for t in r3.transitions].count(TransitionKind.ROUTE_DOWN) == 2
    assert "went down: greeting timeout" in r3.transitions[0].detail
    assert len(w.history) == 3  # what the next probe's diagnosis gets

    summary = w.summary()
    assert summary.rounds == 3 and not summary.interrupted
    mx1 = next(r for r in summary.routes if r.label.startswith("mx1"))
    assert (mx1.rounds, mx1.up, mx1.last_up) == (3, 2, False)
    assert mx1.success_rate == pytest.approx(2 / 3)
    greet = next(p for p in mx1.phases if p.phase is Phase.GREETING)
    assert (greet.samples, greet.p50_ms, greet.max_ms) == (2, 48.25, 100.0)
    connect = next(p for p in mx1.phases if p.phase is Phase.CONNECT)
    assert connect.samples == 3  # the connect of the greeting-timeout round succeeded
    assert dict(summary.verdicts) == {Verdict.DEGRADED: 1, Verdict.HEALTHY: 1, Verdict.FAILED: 1}
    assert len(summary.transitions) == 5


def test_watcher_mx_change_and_route_set_change() -> None:
    w = Watcher("example.org")
    w.add(f.one_route_down())
    only_mx1 = f.report(
        "example.org", [f.MX1], [f.route_result(f.route(f.MX1, "198.51.100.10", 25))]
    )
    rnd = w.add(only_mx1)
    kinds = {t.kind for t in rnd.transitions}
    assert TransitionKind.MX_CHANGED in kinds and TransitionKind.ROUTE_REMOVED in kinds
    mx = next(t for t in rnd.transitions if t.kind is TransitionKind.MX_CHANGED)
    assert "10 mx1.example.org, 20 mx2.example.org -> 10 mx1.example.org" in mx.detail
    rnd = w.add(f.null_mx())
    assert any("-> null-mx" in t.detail for t in rnd.transitions)
    rnd = w.add(f.one_route_down())
    assert {t.kind for t in rnd.transitions} >= {
        TransitionKind.ROUTE_ADDED,
        TransitionKind.MX_CHANGED,
    }


def test_history_is_bounded() -> None:
    w = Watcher("example.org", history_limit=2)
    for _ in range(5):
        w.add(f.healthy())
    assert len(w.history) == 2
    with pytest.raises(ConfigError):
        Watcher("example.org", history_limit=0)


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"count": 0}, {"count": 1, "interval": 0}, {"duration": -1.0}, {"count": True}],
)
async def test_watch_needs_valid_bounds(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        async for _ in watch("example.org", **kwargs):  # type: ignore[arg-type]
            pass


async def test_watch_loop_bounds_and_stop_with_a_fake_probe() -> None:
    calls: list[int] = []

    async def fake_probe(
        domain: str, config: object, *, history: tuple[ProbeReport, ...]
    ) -> ProbeReport:
        calls.append(len(history))
        return f.healthy()

    rounds = [r async for r in watch("example.org", interval=0.01, count=3, probe=fake_probe)]
    assert [r.number for r in rounds] == [1, 2, 3] and calls == [0, 1, 2]

    start = time.monotonic()
    rounds = [r async for r in watch("example.org", interval=0.05, duration=0.2, probe=fake_probe)]
    # 4 rounds at 0, 0.05, 0.1, 0.15 s; fewer on a loaded machine (the schedule slips).
    assert 1 <= len(rounds) <= 4 and time.monotonic() - start < 2

    stop = asyncio.Event()

    async def slow_probe(
        domain: str, config: object, *, history: tuple[ProbeReport, ...]
    ) -> ProbeReport:
        if history:
            stop.set()
            await asyncio.sleep(30)  # cancelled by the stop event
        return f.healthy()

    start = time.monotonic()
    rounds = [
        r async for r in watch("example.org", interval=0.01, count=5, stop=stop, probe=slow_probe)
    ]
    assert len(rounds) == 1 and time.monotonic() - start < 2


# ----------------------------------------------------------- loopback: down and back up


async def test_watch_server_goes_down_and_comes_back(lab: HealthLab) -> None:
    lab.dns.server.add_zone("watch.health.test", {"@": ["MX 10 mx"], "mx": ["A 127.78.0.9"]})
    spec = ServerSpec("watch", host="127.78.0.9", hostname="mx.watch.health.test", port=lab.port)
    server = ScriptedSmtpServer(spec, lab.servers.pki)
    await server.start()
    seen_history: list[int] = []

    async def recording_probe(
        domain: str, config: object, *, history: tuple[ProbeReport, ...]
    ) -> ProbeReport:
        seen_history.append(len(history))
        return await api_probe(domain, config, history=history)  # type: ignore[arg-type]

    watcher = Watcher("watch.health.test")
    rounds = []
    try:
        async for rnd in watch(
            "watch.health.test",
            lab.config(),
            interval=0.2,
            count=6,
            watcher=watcher,
            probe=recording_probe,
        ):
            rounds.append(rnd)
            if rnd.number == 2:
                await server.close()  # down for rounds 3 and 4
            elif rnd.number == 4:
                server = ScriptedSmtpServer(spec, lab.servers.pki)
                await server.start()  # back up from round 5
            elif rnd.number == 5:
                lab.dns.server.add_zone(
                    "watch.health.test",
                    {
                        "@": ["MX 10 mx", "MX 20 mx2"],
                        "mx": ["A 127.78.0.9"],
                        "mx2": ["A 127.78.0.9"],
                    },
                )
    finally:
        await server.close()
        lab.dns.server.add_zone("watch.health.test", {"@": ["MX 10 mx"], "mx": ["A 127.78.0.9"]})

    assert [r.report.routes[0].ok for r in rounds] == [True, True, False, False, True, True]
    assert seen_history == [0, 1, 2, 3, 4, 5]  # every round's diagnosis saw the earlier ones
    label = f"mx.watch.health.test[127.78.0.9]:{lab.port}"
    assert next((t.kind, t.route) for t in rounds[2].transitions) == (
        TransitionKind.ROUTE_DOWN,
        label,
    )
    assert "went down: connect refused" in rounds[2].transitions[0].detail
    assert rounds[3].transitions == ()
    assert (TransitionKind.ROUTE_UP, label) in [(t.kind, t.route) for t in rounds[4].transitions]
    assert TransitionKind.MX_CHANGED in {t.kind for t in rounds[5].transitions}
    # Diagnosis with history: failed while down; after recovery healthy *and* transient.
    down = rounds[3].report.diagnosis
    back = rounds[4].report.diagnosis
    assert down is not None and down.verdict is Verdict.FAILED
    assert back is not None and back.verdict is Verdict.HEALTHY
    assert back.persistence is Persistence.TRANSIENT
    summary = watcher.summary()
    stats = next(r for r in summary.routes if r.label == label)
    assert (stats.rounds, stats.up) == (6, 4)
    assert stats.success_rate == pytest.approx(4 / 6)
    connect = next(p for p in stats.phases if p.phase is Phase.CONNECT)
    assert connect.samples == 4 and connect.p50_ms <= connect.p90_ms <= connect.max_ms


# -------------------------------------------------------------------------------- CLI


def test_cli_watch_json_lines(lab: HealthLab, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "watch",
            "degraded.health.test",
            "--interval",
            "0.1",
            "--count",
            "2",
            "--json",
            *lab.cli_args(),
        ]
    )
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 1  # degraded
    assert [d["type"] for d in lines] == ["round", "round", "summary"]
    assert lines[1]["report"]["domain"] == "degraded.health.test"
    summary = lines[-1]
    assert summary["rounds"] == 2 and summary["last_verdict"] == "degraded"
    rates = {r["label"]: r["success_rate"] for r in summary["routes"]}
    assert sorted(rates.values()) == [0.0, 1.0]


def test_cli_watch_usage(lab: HealthLab, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["watch", "ok.health.test", "--count", "0", *lab.cli_args()]) == 2
    assert main(["watch", "ok.health.test", "--interval", "-1", *lab.cli_args()]) == 2
    capsys.readouterr()


def test_cli_watch_ctrl_c_prints_summary(lab: HealthLab) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "smtpdiag",
            "watch",
            "ok.health.test",
            "--interval",
            "0.2",
            "--count",
            "500",
            *lab.cli_args(),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        rounds = 0
        deadline = time.monotonic() + 30
        while rounds < 2 and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            rounds += line.startswith("round ")
        assert rounds == 2
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err  # the last verdict: healthy
    assert "watch ok.health.test:" in out and "(interrupted)" in out
    assert "up " in out and "p50" in out and "p90" in out and "max" in out
    assert "last verdict: healthy" in out
    assert "Traceback" not in err
