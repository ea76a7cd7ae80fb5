"""``smtpdiag bulk --engine celery`` on real parts: a real ``redis-server`` on loopback
(started here, with a password), real Celery workers (``smtpdiag worker`` processes),
the test kit's DNS server and scripted SMTP servers that record every session.

- each route is connected to once per run, however many workers ask for it;
- the per-address limit holds over all workers at every instant (the servers'
  session spans, merged per address);
- a rate-limit reply (421) pauses the address for every worker;
- the records are those of the local engine for the same input;
- a worker SIGKILLed mid-batch loses nothing and the run is still exact;
- ``--resume`` with the run id reuses what the workers finished; only JSON messages
  are run; the broker's password is never printed.

Without ``redis-server`` (Debian package ``redis-server``) these tests skip; with
``SMTPDIAG_LAB_REQUIRED=1`` (CI) they fail instead.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from smtpdiag.testing.bulklab import BulkLab, bulk_lab
from smtpdiag.testing.smtpserver import Behaviour
from smtpdiag.triage import BulkSettings, DomainRecord, ErrorRecord, RunStats, bulk_sync
from smtpdiag.triage.work import to_plain

celery = pytest.importorskip("celery", reason="the smtpdiag[celery] extra is not installed")
redis = pytest.importorskip("redis", reason="the smtpdiag[celery] extra is not installed")

from smtpdiag.triage.cluster import ClusterOptions  # noqa: E402

_REQUIRED = os.environ.get("SMTPDIAG_LAB_REQUIRED") == "1"
PASSWORD = "pw-never-printed-7f3a"
# A batch unacknowledged this long (its worker killed) goes to another worker.
VISIBILITY = "3"

HOSTS = {
    "mx.p1.test": "127.88.22.1",
    "mx.p2.test": "127.88.22.2",
    "mail.own.test": "127.88.22.2",  # p2's address under a name the certificate lacks
    "mx.busy.test": "127.88.22.3",  # answers 421: too many connections
}
CERT_NAMES = ("mx.p1.test", "mx.p2.test", "mx.busy.test")
BUSY = "127.88.22.3"
MANY = 240
# Retry schedules count from here, in both engines' runs.
NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def _domains(n: int) -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    for i in range(n):
        if i % 10 == 9:
            out[f"own{i}.test"] = ("mail.own.test",)
        elif i % 25 == 24:
            out[f"none{i}.test"] = ()
        elif i % 40 == 7:
            out[f"busy{i}.test"] = ("mx.busy.test",)
        else:
            out[f"d{i}.test"] = ("mx.p1.test",) if i % 2 else ("mx.p2.test", "mx.p1.test")
    return out


NAMES = list(_domains(MANY))
# One connection at a time to an address; the rate window out of the way (the limit is
# what is tested; the local engine's tests cover the rate).
SETTINGS = BulkSettings(per_address_limit=1, per_address_rate=6000, domain_deadline=30)


def _unavailable(reason: str) -> None:
    if _REQUIRED:
        pytest.fail(f"SMTPDIAG_LAB_REQUIRED=1 but {reason}")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _redis_server(directory: Path, port: int, *extra: str) -> subprocess.Popen[bytes]:
    """A redis-server on ``127.0.0.1:port`` in ``directory``, answering when returned."""
    binary = shutil.which("redis-server") or (
        "/usr/bin/redis-server" if os.path.exists("/usr/bin/redis-server") else None
    )
    if binary is None:
        _unavailable("redis-server is not installed (Debian package redis-server)")
        raise AssertionError("unreachable")
    proc = subprocess.Popen(
        [
            binary,
            "--bind", "127.0.0.1",
            "--port", str(port),
            "--dir", str(directory),
            "--save", "",
            "--requirepass", PASSWORD,
            "--maxmemory-policy", "noeviction",
            *extra,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    client = redis.Redis.from_url(f"redis://:{PASSWORD}@127.0.0.1:{port}/0", socket_timeout=1)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.RedisError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail("redis-server did not start")
            time.sleep(0.05)
    client.close()
    return proc


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh redis-server on a free loopback port, in a temporary directory."""
    port = _free_port()
    proc = _redis_server(tmp_path_factory.mktemp("redis"), port, "--appendonly", "no")
    try:
        yield f"redis://:{PASSWORD}@127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


class Workers:
    """``smtpdiag worker`` processes (each its own session: killed as a group)."""

    def __init__(self, url: str, directory: Path) -> None:
        self.url = url
        self.directory = directory
        self.procs: list[subprocess.Popen[bytes]] = []
        self.logs: list[Path] = []

    def start(self, *pool: str) -> int:
        """One more worker; ``pool``: its pool options (one process by default)."""
        index = len(self.procs)
        log = self.directory / f"worker{index}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [
                    sys.executable, "-m", "smtpdiag", "worker",
                    *(pool or ("--processes", "1")),
                    "--visibility-timeout", VISIBILITY,
                    "--name", f"w{index}@%h",
                    "--log-level", "info",
                ],
                env=dict(os.environ, SMTPDIAG_BROKER=self.url, PYTHONUNBUFFERED="1"),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        self.procs.append(proc)
        self.logs.append(log)
        deadline = time.monotonic() + 30
        while b" ready." not in log.read_bytes():
            if time.monotonic() > deadline or proc.poll() is not None:
                pytest.fail(f"worker {index} did not start: {log.read_text()[-2000:]}")
            time.sleep(0.05)
        return index

    def alive(self) -> list[int]:
        return [i for i, p in enumerate(self.procs) if p.poll() is None]

    def kill(self, index: int) -> None:
        os.killpg(self.procs[index].pid, signal.SIGKILL)  # the worker and its pool
        self.procs[index].wait(timeout=10)

    def log(self, index: int) -> str:
        return self.logs[index].read_text(errors="replace")

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


@pytest.fixture(scope="module")
def workers(broker: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workers]:
    pool = Workers(broker, tmp_path_factory.mktemp("workers"))
    try:
        pool.start()  # a process, one batch at a time
        pool.start("--threads", "3")  # one process, three batches at a time
        yield pool
    finally:
        pool.stop()


@pytest.fixture(scope="module")
def lab() -> Iterator[BulkLab]:
    with bulk_lab(
        HOSTS,
        _domains(MANY),
        behaviours={BUSY: Behaviour.GREETING_421},
        cert_names=CERT_NAMES,
        greeting_delay=0.1,  # sessions long enough to overlap if the limit let them
    ) as running:
        yield running


def _reset(lab: BulkLab) -> None:
    for spec in lab.servers.specs:
        lab.servers.server(spec.name).reset_stats()


def _received(lab: BulkLab, before: dict[str, int]) -> dict[str, int]:
    after = lab.connections()
    return {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}


def _comparable(record: DomainRecord) -> dict[str, Any]:
    body = to_plain(record)
    del body["duration_ms"]  # timing
    for use in body["routes"]:
        del use["shared"]  # which domain came first
    return dict(body)


def _cluster(broker: str, run_id: str, batch_size: int = 8) -> ClusterOptions:
    return ClusterOptions(broker, run_id, batch_size=batch_size, throttle_backoff=1.0)


def _run(lab: BulkLab, names: list[str], cluster: ClusterOptions | None) -> list[Any]:
    return list(bulk_sync(names, lab.config(), SETTINGS, cluster=cluster, now=NOW))


def _by_domain(items: list[Any]) -> dict[str, DomainRecord]:
    records = [i for i in items if isinstance(i, DomainRecord)]
    assert not [i for i in items if isinstance(i, ErrorRecord)]
    by_domain = {r.domain: r for r in records}
    assert len(by_domain) == len(records), "a domain written twice"
    return by_domain


@pytest.mark.timeout(120)
def test_two_workers_probe_each_route_once_politely_and_match_the_local_engine(
    lab: BulkLab, workers: Workers, broker: str
) -> None:
    _reset(lab)
    before = lab.connections()
    stats = RunStats()
    items = list(
        bulk_sync(
            NAMES, lab.config(), SETTINGS, cluster=_cluster(broker, "same"), stats=stats, now=NOW
        )
    )
    received = _received(lab, before)
    clustered = _by_domain(items)
    assert sorted(clustered) == sorted(NAMES)  # one record per input domain
    # Three addresses x three ports: each route connected to once over both workers.
    assert sorted(received.values()) == [1] * 9, received
    assert stats.routes_probed == 9
    # Both workers took batches (the run was really spread).
    for index in workers.alive():
        assert "succeeded" in workers.log(index), workers.log(index)[-2000:]
    # One connection at a time per address, over both workers and all ports.
    peaks = lab.address_peaks()
    assert max(peaks.values()) == 1, peaks
    # The busy address answered 421 to every route: each next connection waited for
    # the pause (1 s) that the reply set for every worker.
    starts = lab.session_starts(BUSY)
    assert len(starts) == 3
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert min(gaps) >= 0.9, gaps

    local = _by_domain(_run(lab, NAMES, None))
    assert {d: _comparable(r) for d, r in clustered.items()} == {
        d: _comparable(r) for d, r in local.items()
    }
    verdicts = {r.verdict.value for r in clustered.values()}
    assert {"healthy", "degraded", "failed"} <= verdicts


@pytest.mark.timeout(120)
def test_the_per_address_limit_holds_over_runs_at_the_same_time(
    lab: BulkLab, workers: Workers, broker: str
) -> None:
    # Two runs (two submitters) at once: each probes every route once for itself, so
    # the same addresses are wanted by both runs' tasks on both workers at the same
    # time; the one gate per address still lets one connection through at a time.
    _reset(lab)
    names = NAMES[:80]
    outcome: dict[str, list[Any]] = {}

    def run(run_id: str) -> None:
        outcome[run_id] = _run(lab, names, _cluster(broker, run_id, batch_size=2))

    threads = [threading.Thread(target=run, args=(r,)) for r in ("twin-a", "twin-b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
    assert sorted(outcome) == ["twin-a", "twin-b"]
    for items in outcome.values():
        assert sorted(_by_domain(items)) == sorted(names)
    assert sorted(lab.connections().values()) == [2] * 9  # once per run
    peaks = lab.address_peaks()
    assert max(peaks.values()) == 1, peaks
    # Each 421 paused the busy address for the other run's tasks as well.
    starts = lab.session_starts(BUSY)
    assert len(starts) == 6
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert min(gaps) >= 0.9, gaps


@pytest.mark.timeout(120)
def test_resume_with_the_run_id_reuses_what_the_workers_finished(
    lab: BulkLab, workers: Workers, broker: str, tmp_path: Path, bulk_argv: Any
) -> None:
    half = NAMES[: MANY // 2]
    first = _by_domain(_run(lab, half, _cluster(broker, "resumed")))
    out = tmp_path / "out.ndjson"
    with out.open("w") as fh:
        for record in list(first.values())[:50]:  # the run was cut after 50 records
            fh.write(json.dumps({"type": "domain", **to_plain(record)}) + "\n")
    source = tmp_path / "in.txt"
    source.write_text("\n".join(NAMES) + "\n")
    before = lab.connections()
    argv = [
        sys.executable, "-m", "smtpdiag", "bulk", str(source), "-o", str(out),
        *bulk_argv(lab),
        "--engine", "celery", "--run-id", "resumed", "--resume",
        "--per-address-limit", "1", "--per-address-rate", "6000",
        "--throttle-backoff", "1", "--batch-size", "8",
    ]  # fmt: skip
    done = subprocess.run(
        argv,
        env=dict(os.environ, SMTPDIAG_BROKER=broker),
        capture_output=True,
        timeout=90,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    assert PASSWORD.encode() not in done.stdout + done.stderr
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    domains = [line["domain"] for line in lines if line["type"] == "domain"]
    assert sorted(domains) == sorted(NAMES)  # each exactly once, old and new
    # The first run's routes were reused: nothing connected to again.
    assert _received(lab, before) == {}


@pytest.mark.timeout(60)
def test_the_broker_password_is_never_printed(tmp_path: Path, broker: str) -> None:
    source = tmp_path / "in.txt"
    source.write_text("a.test\n")
    port = _free_port()  # nothing listens there
    for url in (
        f"redis://:{PASSWORD}@127.0.0.1:{port}/0",
        broker.replace(PASSWORD, PASSWORD + "-wrong"),
    ):
        done = subprocess.run(
            [sys.executable, "-m", "smtpdiag", "bulk", str(source), "--engine", "celery",
             "--broker", url, "--nameserver", "127.0.0.1:9"],
            capture_output=True,
            timeout=30,
            check=False,
        )  # fmt: skip
        assert done.returncode == 5, done.stderr
        assert PASSWORD.encode() not in done.stdout + done.stderr
        lines = done.stderr.decode().splitlines()
        assert lines[-1].startswith("smtpdiag: error: cannot reach the broker redis://:****@")
        assert b"Traceback" not in done.stderr


@pytest.mark.timeout(60)
def test_only_json_messages_are_run(workers: Workers, broker: str) -> None:
    from smtpdiag.triage.cluster.app import TASK, app, configure

    configure(app, broker)
    unit = {"work_version": "1", "domains": ["pickled.test"]}
    app.send_task(TASK, args=["pickled", unit, 1.0], serializer="pickle", queue="smtpdiag")
    deadline = time.monotonic() + 10
    while not any(_refused(workers.log(i)) for i in workers.alive()):
        assert time.monotonic() < deadline, "no worker refused the pickle message"
        time.sleep(0.1)
    client = redis.Redis.from_url(broker)
    assert client.keys("smtpdiag:run:pickled:*") == []
    client.close()
    for index in workers.alive():
        assert PASSWORD not in workers.log(index)


@pytest.mark.timeout(120)
def test_a_worker_killed_mid_batch_loses_nothing(
    lab: BulkLab, workers: Workers, broker: str
) -> None:
    victim = workers.alive()[0]
    seen = len(workers.log(victim))
    result: dict[str, Any] = {}

    def run() -> None:
        try:
            result["items"] = _run(lab, NAMES, _cluster(broker, "killed"))
        except BaseException as exc:
            result["error"] = exc

    before = lab.connections()
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while "received" not in workers.log(victim)[seen:]:
            assert time.monotonic() < deadline, "the victim took no batch"
            time.sleep(0.01)
        time.sleep(0.05)  # into the batch: resolving, claiming routes, connecting
        workers.kill(victim)
        thread.join(timeout=90)
        assert not thread.is_alive(), "the run did not end"
    finally:
        with contextlib.suppress(Exception):
            workers.start()  # the next test finds two workers again
    assert "error" not in result, result.get("error")
    killed = _by_domain(result["items"])
    assert sorted(killed) == sorted(NAMES)
    assert "succeeded" not in workers.log(victim)[seen:]  # it really died mid-batch
    # A route the victim was probing may be probed once more by the worker taking it
    # over; no route more often.
    received = _received(lab, before)
    assert received and max(received.values()) <= 2, received
    local = _by_domain(_run(lab, NAMES, None))
    assert {d: _comparable(r) for d, r in killed.items()} == {
        d: _comparable(r) for d, r in local.items()
    }


def _refused(log: str) -> bool:
    text = log.lower()
    return "disallowed" in text or "untrusted content" in text


@pytest.mark.timeout(120)
def test_a_broker_restart_mid_run_is_survived(lab: BulkLab, tmp_path: Path) -> None:
    # A Redis of its own, with persistence (as the README advises), and a worker on it.
    port = _free_port()
    server = _redis_server(tmp_path, port, "--appendonly", "yes", "--appendfsync", "always")
    url = f"redis://:{PASSWORD}@127.0.0.1:{port}/0"
    pool = Workers(url, tmp_path)
    result: dict[str, Any] = {}

    def run() -> None:
        try:
            result["items"] = _run(lab, NAMES, _cluster(url, "restarted", batch_size=4))
        except BaseException as exc:
            result["error"] = exc

    try:
        pool.start("--threads", "2")
        seen = len(pool.log(0))
        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while pool.log(0)[seen:].count("succeeded") < 3:
            assert time.monotonic() < deadline, "no batch finished"
            time.sleep(0.01)
        server.terminate()  # mid-run: batches queued, in hand, results unread
        server.wait(timeout=10)
        time.sleep(1)
        server = _redis_server(tmp_path, port, "--appendonly", "yes", "--appendfsync", "always")
        thread.join(timeout=90)
        assert not thread.is_alive(), "the run did not end"
    finally:
        pool.stop()
        server.terminate()
        server.wait(timeout=10)
    assert "error" not in result, result.get("error")
    assert sorted(_by_domain(result["items"])) == sorted(NAMES)


async def test_a_failed_batch_is_sent_again_then_reported(tmp_path: Path) -> None:
    """A task that ends in FAILURE (a worker's Redis went away mid-batch) is published
    again, twice at most, on a real broker; after that its domains are errors. A broker
    of its own and no worker: nothing takes the batches, and the test settles the
    submitter's tasks with FAILURE results itself."""
    import asyncio

    from smtpdiag.config import ProbeConfig
    from smtpdiag.triage.cluster.submit import _RESENDS, _Submitter, _Task

    port = _free_port()
    server = _redis_server(tmp_path, port, "--appendonly", "no")
    broker = f"redis://:{PASSWORD}@127.0.0.1:{port}/0"
    sub = _Submitter(
        ClusterOptions(broker, "resend-test", 2), ProbeConfig(), BulkSettings(), None, RunStats()
    )
    loop = asyncio.get_running_loop()
    futures = [loop.create_future(), loop.create_future()]
    try:
        sub._publish(["a.test", "b.test"], futures)
        for attempt in range(1, _RESENDS + 1):
            ((task_id, task),) = sub._outstanding.items()
            assert task.sends == attempt
            sub._settle(sub._outstanding.pop(task_id), {"status": "FAILURE", "result": None})
            assert len(sub._outstanding) == 1 and next(iter(sub._outstanding)) != task_id
            await asyncio.sleep(0)
            assert not any(f.done() for f in futures)  # sent again, not failed
        last: _Task = sub._outstanding.pop(next(iter(sub._outstanding)))
        assert last.sends == _RESENDS + 1
        sub._settle(last, {"status": "FAILURE", "result": {"exc_type": "ConnectionError"}})
        await asyncio.sleep(0.05)  # the futures settle on the loop
        assert not sub._outstanding
        for future in futures:
            assert future.done()
            assert "ConnectionError" in str(future.exception())
        queued = redis.Redis.from_url(broker).llen("smtpdiag")
        assert queued == _RESENDS + 1  # every send reached the broker
    finally:
        await asyncio.to_thread(sub._app.close)
        server.terminate()
        server.wait(timeout=10)
