"""The pytest plugin: import-light, loaded through the pytest11 entry point, and used by
a user's project (tests/health/plugin_project) against loopback servers in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from health_lab import HealthLab

PROJECT = Path(__file__).resolve().parent / "plugin_project"
HEAVY = ("aiosmtplib", "dns", "rich", "cryptography", "trustme", "aiosmtpd")


def _modules_after_import(module: str) -> list[str]:
    code = (
        f"import sys, json; import {module}; "
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    return list(json.loads(proc.stdout))


def test_plugin_and_assertions_are_import_light() -> None:
    for module in (
        "smtpdiag.testing.plugin",
        "smtpdiag.testing.assertions",
        "smtpdiag.health",
        "smtpdiag.report.nagios",
        "smtpdiag.report.openmetrics",
        "smtpdiag.report.junit",
        "smtpdiag.report.markdown",
        "smtpdiag.watch",
    ):
        assert _modules_after_import(module) == [], module


def test_plugin_is_registered_via_entry_point() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=PROJECT,
    )
    assert proc.returncode == 0, proc.stderr
    assert "--smtpdiag-nameserver" in proc.stdout and "--smtpdiag-offline" in proc.stdout
    off = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:smtpdiag", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=PROJECT,
    )
    assert off.returncode == 0 and "--smtpdiag-" not in off.stdout


def _run_project(lab: HealthLab, *extra: str) -> subprocess.CompletedProcess[str]:
    ns = lab.nameserver
    env = {
        **os.environ,
        "SMTPDIAG_PROJECT_PORT": str(lab.port),
        "SMTPDIAG_PROJECT_TLS_PORT": str(lab.tls_port),
        "SMTPDIAG_PROJECT_CA_FILE": lab.ca_file,
        "SMTPDIAG_PROJECT_NAMESERVER": f"{ns.address}:{ns.port}",
    }
    env.pop("PYTEST_ADDOPTS", None)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-rN",
            "--rootdir",
            str(PROJECT),
            "-c",
            str(PROJECT / "pytest.ini"),
            str(PROJECT),
            "--smtpdiag-nameserver",
            f"{ns.address}:{ns.port}",
            "--smtpdiag-ca-file",
            lab.ca_file,
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=PROJECT,
        env=env,
    )


def test_project_passes_and_fails_with_clear_messages(lab: HealthLab) -> None:
    proc = _run_project(lab)
    out = proc.stdout
    assert proc.returncode == 1, out + proc.stderr
    assert "2 failed, 3 passed" in out, out
    # The failing assertion names the domain, the requirement, the problems and routes.
    assert "AssertionError: busy.health.test is not deliverable with TLS on ports" in out
    assert f"mx.busy.health.test[127.78.0.3]:{lab.port}: greeting reply (421 4.3.2" in out
    assert "routes:" in out and "diagnosis: failed (4.3.2)" in out
    assert "nostarttls.health.test is not deliverable with TLS" in out
    assert "STARTTLS not offered" in out


def test_project_offline_skips(lab: HealthLab) -> None:
    proc = _run_project(
        lab, "--smtpdiag-offline", "-k", "smtp_check or deliverable or backup or fields"
    )
    assert "skipped" in proc.stdout
    assert "4 skipped" in proc.stdout, proc.stdout
