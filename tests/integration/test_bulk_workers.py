"""``smtpdiag bulk`` with worker processes, on real servers: the same records as one
process, each route still probed once, no process left behind on SIGTERM, and a
worker that dies becomes error records instead of a hang.

(The per-address limits over several workers: ``test_bulk.py``,
``test_per_address_limit_and_rate_hold[2]``.)
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from smtpdiag.config import Timeouts
from smtpdiag.testing.bulklab import BulkLab, bulk_lab
from smtpdiag.triage import DomainRecord, ErrorRecord, RunStats, bulk_sync
from smtpdiag.triage.wire import record_from_plain, record_to_plain
from smtpdiag.triage.work import to_plain

HOSTS = {
    "mx.p1.test": "127.88.4.1",
    "mx.p2.test": "127.88.4.2",
    "mail.own.test": "127.88.4.2",  # p2's address under a name the certificate lacks
}
CERT_NAMES = ("mx.p1.test", "mx.p2.test")
MANY = 2000


def _domains(n: int) -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    for i in range(n):
        if i % 10 == 9:
            out[f"own{i}.test"] = ("mail.own.test",)
        elif i % 25 == 24:
            out[f"none{i}.test"] = ()
        else:
            out[f"d{i}.test"] = ("mx.p1.test",) if i % 2 else ("mx.p2.test", "mx.p1.test")
    return out


@pytest.fixture(scope="module")
def lab() -> Iterator[BulkLab]:
    with bulk_lab(HOSTS, _domains(MANY), cert_names=CERT_NAMES) as running:
        yield running


def _comparable(record: DomainRecord) -> dict[str, Any]:
    body = to_plain(record)
    del body["duration_ms"]  # timing
    for use in body["routes"]:
        del use["shared"]  # which domain of a worker came first
    return dict(body)


def _children(pid: int) -> list[int]:
    """The direct children of ``pid`` (Linux /proc)."""
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text()
        out += [int(p) for p in text.split()]
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_one_and_several_workers_give_the_same_records(lab: BulkLab) -> None:
    names = list(_domains(200))
    lines = [*names, "User@D1.TEST", "not a domain", "x@own9.test"]
    results: dict[int, tuple[list[DomainRecord], list[ErrorRecord], dict[str, int]]] = {}
    # The records are compared whole, so a DNS answer that comes late on a loaded
    # machine (the test kit's server answers every worker's questions) must not turn a
    # domain into a timeout in one run only: generous limits, which a healthy run never
    # reaches, keep the comparison about the engine, not about the machine's load.
    patient = Timeouts(dns=6.0, connect=4.0, greeting=6.0, command=6.0, tls=6.0, total=30.0)
    for workers in (0, 1, 3):
        before = lab.connections()
        stats = RunStats()
        config = lab.config(timeouts=patient)
        items = list(bulk_sync(lines, config, workers=workers, stats=stats))
        after = lab.connections()
        received = {k: after[k] - before[k] for k in after if after[k] != before[k]}
        records = [i for i in items if isinstance(i, DomainRecord)]
        errors = [i for i in items if isinstance(i, ErrorRecord)]
        results[workers] = (records, errors, received)
        # Two addresses x three ports: each route once, however many workers asked.
        assert sorted(received.values()) == [1] * 6, (workers, received)
        assert stats.routes_probed == 6
    one = results[0]
    by_domain = {r.domain: _comparable(r) for r in one[0]}
    assert len(by_domain) == len(names)
    for many in (results[1], results[3]):
        other = {r.domain: _comparable(r) for r in many[0]}
        differ = sorted(
            d for d in by_domain.keys() | other.keys() if by_domain.get(d) != other.get(d)
        )
        # Name what differs (a whole-dict diff of 200 records is unreadable in a CI log).
        assert not differ, [(d, by_domain.get(d), other.get(d)) for d in differ[:3]]
        assert [e.input for e in many[1]] == [e.input for e in one[1]]
    # The written-out codec of the records the workers send is the generic one's twin.
    for record in one[0]:
        assert record_to_plain(record) == to_plain(record)
        assert record_from_plain(record_to_plain(record)) == record
    verdicts = {r["verdict"] for r in by_domain.values()}
    assert {"healthy", "degraded"} <= verdicts  # own*: the certificate lacks its MX name


def _wait_for_lines(out: Path, count: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if out.exists() and out.read_text().count("\n") >= count:
            return
        time.sleep(0.05)
    pytest.fail(f"fewer than {count} records in time (exit {proc.poll()})")


def _lines(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.read_text().splitlines() if line.strip()]


@pytest.mark.timeout(120)
def test_sigterm_flushes_and_leaves_no_worker_behind(
    lab: BulkLab,
    bulk_argv: Callable[[BulkLab], list[str]],
    bulk_process: Any,
    tmp_path: Path,
) -> None:
    source = tmp_path / "in.txt"
    source.write_text("\n".join(_domains(MANY)) + "\n")
    out = tmp_path / "out.ndjson"
    argv = [str(source), "-o", str(out), *bulk_argv(lab), "--workers", "2"]
    with bulk_process(*argv) as proc:
        _wait_for_lines(out, 20, proc)
        workers = _children(proc.pid)
        assert len(workers) == 2, workers
        proc.send_signal(signal.SIGTERM)
        _stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 143, stderr
    assert b"Traceback" not in stderr
    for pid in workers:
        assert not _alive(pid), f"worker {pid} outlived the run"
    records = _lines(out)  # every line whole
    domains = [r["domain"] for r in records if r["type"] == "domain"]
    assert 20 <= len(domains) < MANY
    assert len(domains) == len(set(domains))
    assert not [r for r in records if r["type"] == "error"]  # finished, not failed


@pytest.mark.timeout(120)
def test_a_killed_run_takes_its_workers_with_it(
    lab: BulkLab,
    bulk_argv: Callable[[BulkLab], list[str]],
    bulk_process: Any,
    tmp_path: Path,
) -> None:
    source = tmp_path / "in.txt"
    source.write_text("\n".join(_domains(MANY)) + "\n")
    out = tmp_path / "out.ndjson"
    argv = [str(source), "-o", str(out), *bulk_argv(lab), "--workers", "2"]
    with bulk_process(*argv) as proc:
        _wait_for_lines(out, 20, proc)
        workers = _children(proc.pid)
        assert len(workers) == 2, workers
        proc.kill()  # no chance to clean up: the workers must still go
        proc.communicate(timeout=10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(_alive(p) for p in workers):
            time.sleep(0.05)
        assert not [p for p in workers if _alive(p)]


@pytest.mark.timeout(120)
def test_a_worker_that_dies_becomes_error_records_not_a_hang(
    lab: BulkLab,
    bulk_argv: Callable[[BulkLab], list[str]],
    bulk_process: Any,
    tmp_path: Path,
) -> None:
    names = list(_domains(MANY))
    source = tmp_path / "in.txt"
    source.write_text("\n".join(names) + "\n")
    out = tmp_path / "out.ndjson"
    argv = [str(source), "-o", str(out), *bulk_argv(lab), "--workers", "2", "--json"]
    with bulk_process(*argv) as proc:
        _wait_for_lines(out, 20, proc)
        victim = _children(proc.pid)[0]
        os.kill(victim, signal.SIGKILL)  # mid-run, with domains in flight
        _stdout, stderr = proc.communicate(timeout=90)
    assert proc.returncode == 0, stderr
    records = _lines(out)
    domains = [r for r in records if r["type"] == "domain"]
    errors = [r for r in records if r["type"] == "error"]
    # Every input accounted for: a record, or an error record for the killed worker's.
    assert len(domains) + len(errors) == len(names)
    assert {r["domain"] for r in domains} | {r["input"] for r in errors} == set(names)
    assert errors, "the killed worker had domains in flight"
    for error in errors:
        assert error["error"] == "internal"
        assert f"worker process {victim}" in error["detail"]
        assert "signal 9" in error["detail"]
    # The run went on with a replacement: most domains still got their record.
    assert len(domains) > len(names) // 2
    summary = records[-1]
    assert summary["type"] == "summary" and summary["errors"] == len(errors)
