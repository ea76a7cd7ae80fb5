"""Every subcommand runs with warnings as errors, so users on the newest releases see none.

The test environment pins its dependencies (requirements-dev.lock); `make test-latest` runs
this same file against the newest releases, which is where a dependency's new warning
shows up first. Each command runs as the installed console script with
``PYTHONWARNINGS=error`` (inherited by bulk's worker processes), against the test kit: a
local DNS server and scripted SMTP servers with real TLS on loopback ports 25/587/465
(root only; elsewhere the test skips with the reason).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from smtpdiag.testing.certs import TestPki
from smtpdiag.testing.dnsserver import ThreadedDnsServer
from smtpdiag.testing.smtpserver import Behaviour, ServerSet, ServerSpec

ROOT = Path(__file__).resolve().parents[2]
MX_ADDRESS = "127.77.9.31"
SMTPDIAG = str(Path(sys.executable).parent / "smtpdiag")


@dataclass(frozen=True)
class Kit:
    nameserver: str
    ca_file: str
    workdir: Path

    def probe_options(self) -> list[str]:
        return [
            "--nameserver",
            self.nameserver,
            "--allow-targets",
            "127.0.0.0/8",
            "--ca-file",
            self.ca_file,
            "--timeout",
            "15",
        ]


@pytest.fixture(scope="module")
def kit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kit]:
    workdir = tmp_path_factory.mktemp("nowarn")
    pki = TestPki(names=("mx.example.org",))
    specs = [
        ServerSpec(
            f"mx:{port}", Behaviour.HEALTHY, port == 465, "good", MX_ADDRESS, "mx.example.org", port
        )
        for port in (25, 587, 465)
    ]
    zones = {"example.org": {"@": ["MX 10 mx"], "mx": [f"A {MX_ADDRESS}"]}}
    servers = ServerSet(specs, pki=pki)
    try:
        servers.start()
    except (RuntimeError, OSError) as exc:
        pki.cleanup()
        pytest.skip(f"cannot serve ports 25/587/465 on {MX_ADDRESS} (needs root): {exc}")
    try:
        with ThreadedDnsServer(zones=zones) as dns:
            ns = dns.nameserver
            yield Kit(f"{ns.address}:{ns.port}", str(pki.ca_file), workdir)
    finally:
        servers.stop()
        pki.cleanup()


def _bounce() -> str:
    return str(sorted((ROOT / "fixtures" / "bounces" / "cases").glob("*.eml"))[0])


def _tls_report(kit: Kit) -> str:
    """A TLS report (RFC 8460) that names the kit's MX, gzipped."""
    import gzip
    import json

    path = kit.workdir / "report.json.gz"
    report = {
        "organization-name": "Sender",
        "date-range": {
            "start-datetime": "2026-12-01T00:00:00Z",
            "end-datetime": "2026-12-01T23:59:59Z",
        },
        "contact-info": "tlsrpt@sender.example",
        "report-id": "warnings-1",
        "policies": [
            {
                "policy": {"policy-type": "no-policy-found", "policy-domain": "example.org"},
                "summary": {"total-successful-session-count": 9, "total-failure-session-count": 1},
                "failure-details": [
                    {
                        "result-type": "starttls-not-supported",
                        "receiving-mx-hostname": "mx.example.org",
                        "failed-session-count": 1,
                    }
                ],
            }
        ],
    }
    path.write_bytes(gzip.compress(json.dumps(report).encode()))
    return str(path)


def _commands(kit: Kit) -> dict[str, tuple[list[str], set[int]]]:
    """name -> (argv after `smtpdiag`, the exit codes the command may give)."""
    opts = kit.probe_options()
    domains = kit.workdir / "domains.txt"
    domains.write_text("example.org\n")
    batch = str(ROOT / "fixtures" / "bounces" / "batch" / "postfix.log")
    return {
        "version": (["--version"], {0}),
        "help": (["--help"], {0}),
        "probe": (["probe", "example.org", *opts], {0, 1}),
        "probe --json": (["probe", "example.org", "--json", *opts], {0, 1}),
        "probe --format html": (["probe", "example.org", "--format", "html", *opts], {0, 1}),
        "check": (["check", "example.org", *opts], {0, 1}),
        "check --plugin": (["check", "example.org", "--plugin", *opts], {0, 1}),
        "check openmetrics": (["check", "example.org", "--format", "openmetrics", *opts], {0, 1}),
        "check junit": (["check", "example.org", "--format", "junit", *opts], {0, 1}),
        "check markdown": (["check", "example.org", "--format", "markdown", *opts], {0, 1}),
        "check html": (["check", "example.org", "--format", "html", *opts], {0, 1}),
        "render": (["render", _saved_report(kit), "--format", "html"], {0}),
        "watch": (
            ["watch", "example.org", "--count", "2", "--interval", "0.2", *opts],
            {0, 1},
        ),
        "bulk": (
            ["bulk", str(domains), "-o", str(kit.workdir / "bulk.ndjson"), "--no-progress", *opts],
            {0},
        ),
        "bulk --workers 0": (
            [
                "bulk",
                str(domains),
                "-o",
                str(kit.workdir / "bulk0.ndjson"),
                "--workers",
                "0",
                *opts,
            ],
            {0},
        ),
        "explain": (["explain", "550 5.1.1 <user@example.org>: user unknown"], {0, 1, 3}),
        "explain --file": (["explain", "--file", _bounce()], {0, 1, 3}),
        "explain --batch": (["explain", "--batch", batch], {0, 1}),
        "explain --probe": (
            [
                "explain",
                "421 4.4.2 connection dropped",
                "--domain",
                "example.org",
                "--probe",
                *opts,
            ],
            {0, 1, 3},
        ),
        "tlsrpt": (["tlsrpt", _tls_report(kit)], {0}),
        "tlsrpt --probe": (["tlsrpt", _tls_report(kit), "--probe", *opts], {0, 3}),
        "demo": (["demo"], {0}),
        # bounded by _run_serve: start, one scrape, SIGTERM
        # bounded by _run_worker: a redis-server, the worker, one bulk run, SIGTERM
        "worker": ([], {0}),
        "serve": (
            ["serve", "--listen", "127.0.0.1:0", "--state-dir", str(kit.workdir / "state"), *opts],
            {0},
        ),
    }


def _saved_report(kit: Kit) -> str:
    """A saved ``--json`` report for ``render``."""
    from dataclasses import replace

    from factories import report_cases

    from smtpdiag import diagnose
    from smtpdiag.report import dumps

    rep = report_cases.greeting_421()
    path = kit.workdir / "saved-report.json"
    path.write_text(dumps(replace(rep, diagnosis=diagnose(rep))), encoding="utf-8")
    return str(path)


COMMANDS = [
    "version",
    "help",
    "probe",
    "probe --json",
    "probe --format html",
    "check",
    "check --plugin",
    "check openmetrics",
    "check junit",
    "check markdown",
    "check html",
    "render",
    "watch",
    "bulk",
    "bulk --workers 0",
    "explain",
    "explain --file",
    "explain --batch",
    "explain --probe",
    "tlsrpt",
    "tlsrpt --probe",
    "demo",
    "serve",
    "worker",
]

# Celery warns when a worker runs as root (CI does): right, and not ours to silence for
# users; the test lets that one through and nothing else.
_ROOT_WORKER = "ignore:You're running the worker with superuser:UserWarning"


@pytest.mark.parametrize("name", COMMANDS)
def test_subcommand_runs_with_warnings_as_errors(kit: Kit, name: str) -> None:
    argv, codes = _commands(kit)[name]
    env = {k: v for k, v in os.environ.items() if k not in {"PYTEST_ADDOPTS", "PYTHONWARNINGS"}}
    env.update(PYTHONWARNINGS="error", SSL_CERT_FILE=kit.ca_file, NO_COLOR="1", COLUMNS="100")
    if name == "worker":
        env["PYTHONWARNINGS"] = f"error,{_ROOT_WORKER}"
        for stderr in _run_worker(env, kit):
            assert "Traceback" not in stderr, stderr[-3000:]
            assert "Warning" not in stderr, stderr[-3000:]
        return
    if name == "serve":
        code, stderr = _run_serve(argv, env, kit.workdir)
        assert "Traceback" not in stderr, stderr[-3000:]
        assert "Warning" not in stderr, stderr[-3000:]
        assert code in codes, (code, stderr[-2000:])
        return
    proc = subprocess.run(
        [SMTPDIAG, *argv],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=kit.workdir,
        check=False,
    )
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert "Warning" not in proc.stderr, proc.stderr[-3000:]
    assert proc.returncode in codes, (proc.returncode, proc.stdout[-2000:], proc.stderr[-2000:])


def _run_serve(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[int, str]:
    """Start ``smtpdiag serve``, scrape one probe and /metrics, SIGTERM; (code, stderr)."""
    import re
    import signal
    import urllib.request

    err = cwd / "serve.stderr"
    with err.open("w") as sink:
        proc = subprocess.Popen([SMTPDIAG, *argv], stderr=sink, env=env, cwd=cwd)
        try:
            port = None
            for _ in range(200):  # 20 s at most
                match = re.search(r"listening on \S+:(\d+)", err.read_text())
                if match or proc.poll() is not None:
                    port = match and int(match.group(1))
                    break
                time.sleep(0.1)
            assert port, err.read_text()
            base = f"http://127.0.0.1:{port}"
            with urllib.request.urlopen(f"{base}/probe?target=example.org", timeout=30) as r:
                assert b'smtpdiag_health{domain="example.org"' in r.read()
            with urllib.request.urlopen(f"{base}/metrics", timeout=10) as r:
                assert b"smtpdiag_exporter_probes_total 1" in r.read()
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
    return code, err.read_text()


def _run_worker(env: dict[str, str], kit: Kit) -> list[str]:
    """A redis-server, ``smtpdiag worker`` on it, one ``bulk --engine celery`` run, then
    SIGTERM to the worker; the stderr of both."""
    import shutil
    import signal
    import socket

    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("SMTPDIAG_LAB_REQUIRED") == "1":
            pytest.fail("SMTPDIAG_LAB_REQUIRED=1 but redis-server is not installed")
        pytest.skip("redis-server is not installed (Debian package redis-server)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    workdir = kit.workdir / "worker"
    workdir.mkdir(exist_ok=True)
    redis = subprocess.Popen(
        [binary, "--bind", "127.0.0.1", "--port", str(port), "--dir", str(workdir),
         "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    broker = f"redis://127.0.0.1:{port}/0"
    log = workdir / "worker.stderr"
    domains = kit.workdir / "domains.txt"
    try:
        time.sleep(0.3)
        with log.open("w") as sink:
            worker = subprocess.Popen(
                [SMTPDIAG, "worker", "--broker", broker, "--processes", "1", "--log-level",
                 "info"],
                stderr=sink, stdout=sink, env=env, cwd=workdir, start_new_session=True,
            )  # fmt: skip
        try:
            for _ in range(300):  # 30 s at most
                if " ready." in log.read_text() or worker.poll() is not None:
                    break
                time.sleep(0.1)
            bulk = subprocess.run(
                [SMTPDIAG, "bulk", str(domains), "--engine", "celery", "--broker", broker,
                 "-o", str(workdir / "out.ndjson"), *kit.probe_options()],
                capture_output=True, text=True, timeout=120, env=env, cwd=workdir, check=False,
            )  # fmt: skip
            assert bulk.returncode == 0, bulk.stderr[-2000:]
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(60)
        finally:
            if worker.poll() is None:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait(10)
    finally:
        redis.terminate()
        redis.wait(10)
    return [log.read_text(), bulk.stderr]


def test_every_subcommand_is_covered() -> None:
    from smtpdiag.cli import build_parser

    parser = build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    subs = set(action.choices)  # type: ignore[arg-type]
    covered = {name.split()[0] for name in COMMANDS}
    assert subs <= covered, f"subcommands without a warnings test: {subs - covered}"
