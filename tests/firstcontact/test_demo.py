"""``smtpdiag demo``: the summary is the last thing printed; ``--serve`` stops cleanly on
Ctrl-C (SIGINT) and SIGTERM and leaves no CA or keys behind; its hints use absolute
paths. Real subprocesses and real signals, every wait bounded."""

from __future__ import annotations

import os
import queue
import shlex
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from smtpdiag.demo import DEMO_DOMAINS, program_name

DOMAINS = [d.name for d in DEMO_DOMAINS]


def _env(tmp: Path) -> dict[str, str]:
    # TMPDIR: the demo's throwaway PKI goes there, so the test can see it removed.
    env = {**os.environ, "TMPDIR": str(tmp), "NO_COLOR": "1", "COLUMNS": "120"}
    env.pop("PYTHONWARNINGS", None)
    return env


def _pki_dirs(tmp: Path) -> list[Path]:
    return sorted(tmp.glob("smtpdiag-pki-*"))


def test_demo_ends_with_one_line_per_domain(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "smtpdiag", "demo", "--color", "never", "--width", "100"],
        capture_output=True,
        text=True,
        timeout=120,
        env=_env(tmp_path),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.rstrip("\n").splitlines()
    assert len(lines) <= 20, proc.stdout  # one screen, not hundreds of lines
    last = lines[-len(DOMAINS) :]
    for domain, line in zip(DOMAINS, last, strict=True):
        assert line.split()[0] == domain, line
    healthy, dead, busy, badcert = last
    assert healthy.split()[1] == "healthy" and "Action:" in healthy
    assert dead.split()[1] == "degraded"
    assert busy.split()[1:3] == ["failed", "4.3.2"] and "421 4.3.2" in busy
    assert "retry" in busy.lower()
    assert badcert.split()[1:3] == ["degraded", "5.4.2"] and "certificate" in badcert
    assert "demo --full" in proc.stdout  # how to see each full report
    assert _pki_dirs(tmp_path) == []


def test_demo_full_prints_the_reports_then_the_summary(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "smtpdiag", "demo", "--full", "--color", "never"],
        capture_output=True,
        text=True,
        timeout=120,
        env=_env(tmp_path),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.rstrip("\n").splitlines()
    assert len(lines) > 100  # the full reports
    assert [line.split()[0] for line in lines[-len(DOMAINS) :]] == DOMAINS
    for domain in DOMAINS:
        assert f"=== {domain}:" in proc.stdout


def _start_serving(tmp: Path) -> tuple[subprocess.Popen[str], list[str]]:
    """Start ``demo --serve`` and read until its last hint line (the servers are up)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "smtpdiag", "demo", "--serve", "120", "--color", "never"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(tmp),
    )
    assert proc.stdout is not None
    stdout = proc.stdout
    # A reader thread: select() on a buffered pipe misses lines already read ahead.
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(
        target=lambda: [lines.put(line) for line in iter(stdout.readline, "")], daemon=True
    ).start()
    seen: list[str] = []
    deadline = time.monotonic() + 60
    while (left := deadline - time.monotonic()) > 0:
        try:
            line = lines.get(timeout=left)
        except queue.Empty:
            break
        seen.append(line)
        if "badcert.demo.test --nameserver" in line:
            return proc, seen
    _stop(proc)
    pytest.fail("demo --serve did not get ready: " + "".join(seen))


def _stop(proc: subprocess.Popen[str], timeout: float = 30) -> tuple[str, str]:
    """Wait for the process (bounded), kill it if it hangs; return (stdout, stderr) that
    no reader thread took, and close the pipes."""
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)
    assert proc.stderr is not None and proc.stdout is not None
    err = proc.stderr.read()
    proc.stderr.close()
    proc.stdout.close()
    return "", err


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_serve_stops_cleanly_on_signal(tmp_path: Path, sig: signal.Signals) -> None:
    proc, seen = _start_serving(tmp_path)
    pki_while_serving = _pki_dirs(tmp_path)
    proc.send_signal(sig)
    _out, err = _stop(proc)
    assert len(pki_while_serving) == 1  # the CA and keys existed while serving
    assert proc.returncode == 0, err
    assert err == "", err  # no error line, no traceback
    assert _pki_dirs(tmp_path) == []
    hints = [line for line in seen if "demo.test --nameserver" in line]
    assert len(hints) == len(DOMAINS)
    for line in hints:
        argv = shlex.split(line.strip())
        assert argv[0] == "smtpdiag" or os.path.isabs(argv[0]), line
        ca = argv[argv.index("--ca-file") + 1]
        assert os.path.isabs(ca)


def test_sigterm_while_probing_also_removes_the_pki(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "smtpdiag", "demo", "--serve", "120", "--color", "never"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(tmp_path),
    )
    deadline = time.monotonic() + 30
    while not _pki_dirs(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.02)
    created = bool(_pki_dirs(tmp_path))
    time.sleep(0.3)  # the signal handlers are installed once the event loop runs
    proc.send_signal(signal.SIGTERM)
    _out, err = _stop(proc)
    assert created, "the demo never created its PKI"
    # Probing (143, "interrupted") or already serving (0): either way, nothing left behind.
    assert proc.returncode in (0, 143), err
    assert "Traceback" not in err
    assert _pki_dirs(tmp_path) == []


def test_hint_path_is_absolute(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    bindir = tmp_path / "venv" / "bin"
    bindir.mkdir(parents=True)
    script = bindir / "smtpdiag"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["venv/bin/smtpdiag", "demo"])
    assert program_name() == str(script)
