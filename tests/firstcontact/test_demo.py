"""``smtpdiag demo``: the summary is the last thing printed, one block per domain that
fits the width; ``--serve`` stops cleanly on
Ctrl-C (SIGINT) and SIGTERM and leaves no CA or keys behind; its hints use absolute
paths. Real subprocesses and real signals, every wait bounded."""

from __future__ import annotations

import os
import queue
import re
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


def _run_demo(tmp: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "smtpdiag", "demo", "--color", "never", *extra],
        capture_output=True,
        text=True,
        timeout=120,
        env=_env(tmp),
    )


def _blocks(stdout: str) -> dict[str, list[str]]:
    """The closing summary, domain -> its block: ``VERDICT code domain`` then the
    indented why and action lines (each label's continuation lines joined)."""
    lines = stdout.rstrip("\n").splitlines()
    start = max(i for i, line in enumerate(lines) if line.startswith("Summary:"))
    blocks: dict[str, list[str]] = {}
    current: list[str] = []
    for line in lines[start + 1 :]:
        if not line.startswith("    "):  # a head line: "  VERDICT  code  domain"
            current = [line]
            blocks[line.split()[-1]] = current
        elif line.lstrip().startswith(("why:", "action:")):
            current.append(" ".join(line.split()))
        else:
            current[-1] += " " + " ".join(line.split())
    return blocks


@pytest.mark.parametrize("width", [60, 80, 100])
def test_demo_summary_fits_the_width(tmp_path: Path, width: int) -> None:
    proc = _run_demo(tmp_path, "--width", str(width))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.rstrip("\n").splitlines()
    assert len(lines) <= 50, proc.stdout  # one screen or so, not hundreds of lines
    for line in lines:
        # A command is printed whole on its own line so that it can be copied.
        if " -m smtpdiag " in line or line.strip().startswith(("smtpdiag ", "/")):
            continue
        assert len(line) <= width, f"{len(line)} > {width}: {line!r}"
    blocks = _blocks(proc.stdout)
    assert list(blocks) == DOMAINS, proc.stdout
    for block in blocks.values():
        assert len(block) == 3, block  # head, why, action
        assert block[1].startswith("why: ") and len(block[1]) > len("why: ") + 10, block
        assert block[2].startswith("action: ") and len(block[2]) > len("action: "), block
        assert not block[1].endswith(": ."), block
    healthy, dead, busy, badcert = blocks.values()
    assert healthy[0].split()[:2] == ["HEALTHY", "-"] and healthy[2] == "action: none"
    assert dead[0].split()[:2] == ["DEGRADED", "-"]
    # The why is the narration's plain sentence, not an evidence note.
    assert dead[1].startswith("why: The primary MX (mx1.deadprimary.demo.test) fails"), dead
    assert "rank" not in dead[1] and "preference" not in dead[1], dead
    assert "below" not in dead[2], dead  # nothing follows the summary
    assert busy[0].split()[:2] == ["FAILED", "4.3.2"] and "421 4.3.2" in busy[1]
    assert "retry" in busy[2].lower()
    # What senders verifying certificates by local policy log (issue 18).
    assert badcert[0].split()[:2] == ["DEGRADED", "4.7.5"] and "certificate" in badcert[1]
    assert "demo --full" in proc.stdout  # how to see each full report
    assert _pki_dirs(tmp_path) == []


def test_demo_full_prints_the_reports_then_the_summary(tmp_path: Path) -> None:
    proc = _run_demo(tmp_path, "--full")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.rstrip("\n").splitlines()
    assert len(lines) > 100  # the full reports
    assert list(_blocks(proc.stdout)) == DOMAINS
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
        if " bulk -" in line:  # the last hint
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
    hints = [line for line in seen if re.search(r" probe \S+\.demo\.test$", line.rstrip())]
    assert len(hints) == len(DOMAINS)
    for line in hints:
        argv = shlex.split(line.strip())
        assert argv[0] == "smtpdiag" or os.path.isabs(argv[0]), line
    # The one line that points the short commands at the servers: an absolute path.
    (export,) = [line.split() for line in seen if line.strip().startswith("export ")]
    assert os.path.isabs(export[1].split("=", 1)[1])


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
