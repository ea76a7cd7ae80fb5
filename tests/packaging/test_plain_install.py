"""A fresh venv with only ``pip install <wheel>`` (no extras) runs every documented command.

The test kit's local DNS and SMTP servers (the demo lab) run in this process; the
installed CLI in the venv probes them with an explicit ``--nameserver``. No test-only
package (trustme, aiosmtpd, pytest, jsonschema) is installed there, so a runtime path
that imports one fails here.
"""

from __future__ import annotations

import json
import shlex
import subprocess
from collections.abc import Iterator

import pytest
from dist_kit import PlainVenv

from smtpdiag.demo import DemoLab, demo_lab

TEST_ONLY = ("trustme", "aiosmtpd", "pytest", "jsonschema", "_pytest", "build")


@pytest.fixture(scope="module")
def lab() -> Iterator[DemoLab]:
    with demo_lab(seed=41) as running:
        yield running


def _cli(venv: PlainVenv, *argv: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(venv.smtpdiag), *argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=venv.env(),
        cwd=venv.path,
        check=False,
    )


def _probe_argv(lab: DemoLab, domain: str) -> list[str]:
    """The demo's own "probe by hand" command, minus the program name."""
    argv = shlex.split(lab.command(domain))
    return argv[argv.index("probe") + 1 :]


def test_no_test_only_package_is_installed(plain_venv: PlainVenv) -> None:
    code = (
        "import importlib.util, json; "
        f"print(json.dumps([m for m in {TEST_ONLY!r} if importlib.util.find_spec(m)]))"
    )
    proc = subprocess.run(
        [str(plain_venv.python), "-c", code], capture_output=True, text=True, timeout=60
    )
    assert json.loads(proc.stdout) == [], proc.stderr


def test_every_runtime_module_imports_without_test_packages(plain_venv: PlainVenv) -> None:
    # smtpdiag.testing.plugin is the pytest plugin: pytest loads it, so it may import pytest.
    # smtpdiag.__main__ runs the CLI when imported (the CLI tests cover it).
    # smtpdiag.triage.cluster.app is the Celery application of the smtpdiag[celery]
    # extra (`celery -A` loads it): without the extra it may fail for want of celery,
    # and for nothing else.
    code = """
import importlib, json, pkgutil, sys
import smtpdiag
TEST_ONLY = sys.argv[1:]
NEEDS_EXTRA = {"smtpdiag.triage.cluster.app": "celery"}
failed = {}
for info in pkgutil.walk_packages(smtpdiag.__path__, "smtpdiag."):
    if info.name in ("smtpdiag.testing.plugin", "smtpdiag.__main__"):
        continue
    try:
        importlib.import_module(info.name)
    except ModuleNotFoundError as exc:
        if NEEDS_EXTRA.get(info.name) != exc.name:
            failed[info.name] = repr(exc)
    except Exception as exc:
        failed[info.name] = repr(exc)
test_only = sorted(m for m in sys.modules if m.split(".")[0] in TEST_ONLY)
print(json.dumps({"failed": failed, "test_only": test_only}))
"""
    proc = subprocess.run(
        [str(plain_venv.python), "-c", code, *TEST_ONLY],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result == {"failed": {}, "test_only": []}


def test_version_and_help(plain_venv: PlainVenv) -> None:
    assert _cli(plain_venv, "--version").stdout.startswith("smtpdiag ")
    assert _cli(plain_venv, "--help").returncode == 0


def test_demo(plain_venv: PlainVenv) -> None:
    proc = _cli(plain_venv, "demo", "--color", "never")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    assert "Traceback" not in proc.stderr
    # The closing summary: one block per domain, its head line "  VERDICT code domain".
    lines = proc.stdout.rstrip("\n").splitlines()
    summary = lines[max(i for i, line in enumerate(lines) if line.startswith("Summary:")) :]
    heads = [line for line in summary if line.startswith("  ") and not line.startswith("    ")]
    assert [line.split()[-1] for line in heads] == [
        "healthy.demo.test",
        "deadprimary.demo.test",
        "busy.demo.test",
        "badcert.demo.test",
    ]


def test_probe_text_and_json(plain_venv: PlainVenv, lab: DemoLab) -> None:
    text = _cli(plain_venv, "probe", *_probe_argv(lab, "healthy.demo.test"), "--color", "never")
    assert text.returncode == 0, text.stdout + text.stderr
    assert "healthy.demo.test" in text.stdout
    busy = _cli(plain_venv, "probe", *_probe_argv(lab, "busy.demo.test"), "--json")
    assert busy.returncode == 3, busy.stderr
    doc = json.loads(busy.stdout)
    assert doc["diagnosis"]["primary"] == "4.3.2"


def test_check_plugin(plain_venv: PlainVenv, lab: DemoLab) -> None:
    proc = _cli(plain_venv, "check", *_probe_argv(lab, "healthy.demo.test"), "--plugin")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith("SMTPDIAG OK"), proc.stdout
    busy = _cli(plain_venv, "check", *_probe_argv(lab, "busy.demo.test"), "--plugin")
    assert busy.returncode == 2 and busy.stdout.startswith("SMTPDIAG CRITICAL"), busy.stdout


def test_explain(plain_venv: PlainVenv) -> None:
    proc = _cli(
        plain_venv,
        "explain",
        "451 4.4.2 <user@example.org>: Connection failure - connection dropped",
        "--color",
        "never",
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "4.4.2" in proc.stdout
