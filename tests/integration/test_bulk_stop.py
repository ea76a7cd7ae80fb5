"""``smtpdiag bulk`` stopped by a real Ctrl-C or SIGTERM, as a real process against real
servers: the first signal stops reading, the domains in flight finish within the grace
(``--domain-deadline`` capped at 8 s) and are written, and stderr says so; a second
signal stops at once.

The servers are healthy; what makes a domain slow is the politeness gate: one
connection at a time per address and a rate that spaces the three routes of a domain
by seconds (``--per-address-rate``), so a domain is in flight, with routes still
queued, when the signal comes.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from smtpdiag.testing.bulklab import BulkLab, bulk_lab

HOSTS = {f"mx{i}.stop.test": f"127.88.11.{i}" for i in range(1, 7)}
DOMAINS: dict[str, tuple[str, ...]] = {f"s{i}.test": (f"mx{i}.stop.test",) for i in range(1, 7)}


@pytest.fixture(scope="module")
def lab() -> Iterator[BulkLab]:
    with bulk_lab(HOSTS, DOMAINS) as running:
        yield running


def _sessions(lab: BulkLab) -> int:
    return sum(lab.connections().values())


def _when_connected(lab: BulkLab, proc: subprocess.Popen[bytes], count: int) -> None:
    """Return once the servers saw ``count`` sessions of this run (the run is under way)."""
    start = _sessions(lab)
    deadline = time.monotonic() + 30
    while _sessions(lab) - start < count:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the run made no connection"
        time.sleep(0.05)


def _records(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.read_text().splitlines() if line.strip()]


def _argv(lab: BulkLab, bulk_argv: Callable[[BulkLab], list[str]], *extra: str) -> list[str]:
    return [*extra, *bulk_argv(lab), "--workers", "0", "--no-progress", "--in-flight", "2"]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_first_signal_finishes_and_writes_the_domains_in_flight(
    lab: BulkLab,
    bulk_argv: Callable[[BulkLab], list[str]],
    bulk_process: Any,
    tmp_path: Path,
    signum: int,
) -> None:
    """Two domains in flight, each with two routes still queued (one new connection
    every 2 s per address): both finish after the signal and are written whole; the
    four domains not yet started are not read."""
    source = tmp_path / "domains.txt"
    source.write_text("".join(f"{d}\n" for d in DOMAINS))
    out = tmp_path / "out.ndjson"
    argv = _argv(lab, bulk_argv, str(source), "-o", str(out), "--json")
    argv += ["--per-address-limit", "1", "--per-address-rate", "30"]
    with bulk_process(*argv) as proc:
        _when_connected(lab, proc, 2)  # the first route of each domain in flight
        proc.send_signal(signum)
        _stdout, stderr_bytes = proc.communicate(timeout=30)
    stderr = stderr_bytes.decode()
    assert proc.returncode == 128 + signum, stderr
    assert "Traceback" not in stderr
    records = _records(out)
    domains = [r for r in records if r["type"] == "domain"]
    assert sorted(r["domain"] for r in domains) == ["s1.test", "s2.test"], stderr
    for record in domains:
        assert record["verdict"] == "healthy", record
        assert len(record["routes"]) == 3
    assert records[-1]["type"] == "summary" and records[-1]["interrupted"] is True
    assert "finishing the 2 domains in flight (at most 8 s)" in stderr
    assert "the 2 domains in flight finished and were written" in stderr


def test_domains_that_cannot_finish_within_the_grace_are_given_up_and_said(
    lab: BulkLab,
    bulk_argv: Callable[[BulkLab], list[str]],
    bulk_process: Any,
    tmp_path: Path,
) -> None:
    """One new connection a minute per address: the queued routes cannot start within
    the grace (``--domain-deadline 90`` capped at 8 s), so the run ends about 8 s after
    the signal, writes nothing it did not finish, and says how many it gave up."""
    source = tmp_path / "domains.txt"
    source.write_text("s1.test\ns2.test\n")
    out = tmp_path / "out.ndjson"
    argv = _argv(lab, bulk_argv, str(source), "-o", str(out))
    argv += ["--per-address-limit", "1", "--per-address-rate", "1"]
    with bulk_process(*argv) as proc:
        _when_connected(lab, proc, 2)
        signalled = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _stdout, stderr_bytes = proc.communicate(timeout=30)
        took = time.monotonic() - signalled
    stderr = stderr_bytes.decode()
    assert proc.returncode == 130, stderr
    assert 7.0 < took < 14.0, (took, stderr)
    assert not [r for r in _records(out) if r["type"] == "domain"]
    assert (
        "0 of the 2 domains in flight finished and were written; 2 did not finish within "
        "8 s and were not written (--resume does them again)"
    ) in stderr, stderr


def test_a_second_signal_stops_at_once(
    lab: BulkLab,
    bulk_argv: Callable[[BulkLab], list[str]],
    bulk_process: Any,
    tmp_path: Path,
) -> None:
    source = tmp_path / "domains.txt"
    source.write_text("s1.test\ns2.test\n")
    out = tmp_path / "out.ndjson"
    argv = _argv(lab, bulk_argv, str(source), "-o", str(out))
    argv += ["--per-address-limit", "1", "--per-address-rate", "1"]
    with bulk_process(*argv) as proc:
        _when_connected(lab, proc, 2)
        proc.send_signal(signal.SIGINT)
        assert proc.stderr is not None
        first = proc.stderr.readline().decode()  # the run heard the first one
        assert "stopping" in first, first
        again = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _stdout, rest = proc.communicate(timeout=30)
        took = time.monotonic() - again
    stderr = first + rest.decode()
    assert proc.returncode == 130, stderr  # the first signal names the exit code
    assert took < 3.0, (took, stderr)
    assert "Traceback" not in stderr
    assert "stopped at once" in stderr, stderr


def test_a_stop_while_waiting_for_input_ends_the_run(
    lab: BulkLab,
    bulk_argv: Callable[[BulkLab], list[str]],
    tmp_path: Path,
) -> None:
    """Input from a pipe that stays open: the run waits for more lines; a Ctrl-C ends
    the wait (reading stops) instead of waiting for the writer to close the pipe."""
    import os
    import sys

    out = tmp_path / "out.ndjson"
    argv = _argv(lab, bulk_argv, "-", "-o", str(out))
    with subprocess.Popen(
        [sys.executable, "-m", "smtpdiag", "bulk", *argv],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    ) as proc:
        try:
            assert proc.stdin is not None and proc.stderr is not None
            proc.stdin.write(b"s3.test\n")
            proc.stdin.flush()
            deadline = time.monotonic() + 30
            while not out.exists():  # opened just before the signal handlers are set
                assert proc.poll() is None, proc.communicate()
                assert time.monotonic() < deadline, "the run did not start"
                time.sleep(0.05)
            time.sleep(1.0)
            proc.send_signal(signal.SIGINT)  # stdin still open: the reader is waiting
            proc.wait(timeout=10)  # not communicate(): it would close stdin, ending the input
            stderr = proc.stderr.read().decode()
        finally:
            if proc.poll() is None:  # ours: stop it by its PID
                proc.kill()
                proc.wait(timeout=10)
    assert proc.returncode == 130, stderr
    assert "stopping: no more input is read" in stderr, stderr
    assert "Traceback" not in stderr
