"""Small first-contact defects: each test failed before its fix.

- an invalid value in an error keeps its control characters, escaped;
- "1 round", not "1 rounds";
- ``probe_sync`` works inside a running event loop, like ``check_sync``;
- a report survives ``loads(dumps(report))`` unchanged;
- the golden-update mode reports only files that changed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from smtpdiag.api import probe_sync
from smtpdiag.cli import main
from smtpdiag.config import Nameserver, ProbeConfig, ResolverConfig, Timeouts
from smtpdiag.demo import DemoLab, demo_lab
from smtpdiag.health.checking import check_sync
from smtpdiag.report.jsonout import dumps, loads
from smtpdiag.testing.smtpserver import closed_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def lab() -> Iterator[DemoLab]:
    with demo_lab(seed=9) as running:
        yield running


def _dead_dns_config() -> ProbeConfig:
    # A nameserver port where nothing listens: the probe ends quickly, without a network.
    return ProbeConfig(
        ports=(25,),
        resolver=ResolverConfig((Nameserver("127.0.0.1", closed_port()),)),
        timeouts=Timeouts(dns=0.5, total=2),
    )


# ------------------------------------------------------------------ escaped values


def test_shown_escapes_instead_of_dropping() -> None:
    from smtpdiag.textsafe import shown

    assert shown("x\x07y.test") == "'x\\x07y.test'"
    assert shown("a\u202eb") == "'a\\u202eb'"  # a bidi override stays visible
    assert shown("z" * 200, 20).endswith("...") and len(shown("z" * 200, 20)) <= 25


def test_cli_error_shows_control_character_escaped(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["probe", "x\x07y.test", "--nameserver", "127.0.0.1:53"])
    err = capsys.readouterr().err
    assert code == 2
    assert "'x\\x07y.test'" in err  # the backslash form, as typed in Python
    assert "\x07" not in err and "'xy.test'" not in err


# ------------------------------------------------------------------ "1 round"


def test_watch_summary_says_one_round(capsys: pytest.CaptureFixture[str]) -> None:
    port = closed_port()
    code = main(
        [
            *("watch", "nowhere.test", "--count", "1", "--interval", "1", "--timeout", "2"),
            *("--dns-timeout", "0.5", "--nameserver", f"127.0.0.1:{port}", "--ports", "25"),
        ]
    )
    out = capsys.readouterr().out
    assert code == 5, out  # no nameserver answered: could not run
    assert "watch nowhere.test: 1 round\n" in out or "watch nowhere.test: 1 round " in out
    assert "1 rounds" not in out


# ------------------------------------------------------------------ sync twins


async def test_probe_sync_inside_a_running_loop_like_check_sync() -> None:
    config = _dead_dns_config()
    report = probe_sync("nowhere.test", config)  # used to raise RuntimeError
    assert report.could_not_run
    health = check_sync("nowhere.test", config)
    assert health.report is not None and health.report.could_not_run


# ------------------------------------------------------------------ JSON round trip


@pytest.mark.parametrize(
    "domain", ["healthy.demo.test", "deadprimary.demo.test", "busy.demo.test", "badcert.demo.test"]
)
def test_loads_dumps_round_trip_is_equal(lab: DemoLab, domain: str) -> None:
    report = probe_sync(domain, lab.config())
    again = loads(dumps(report))
    assert again == report
    assert dumps(again) == dumps(report)


# ------------------------------------------------------------------ golden update mode


def test_golden_update_mode_reports_only_changed_files(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "tests"))
    try:
        from golden_files import check_goldens, update_goldens
    finally:
        sys.path.remove(str(ROOT / "tests"))
    same, other, new = tmp_path / "same.txt", tmp_path / "other.txt", tmp_path / "new.txt"
    same.write_text("a\n")
    other.write_text("b\n")
    changed = update_goldens([(same, "a\n"), (other, "c\n"), (new, "d\n")])
    assert changed == [other, new]
    assert same.read_text() == "a\n" and other.read_text() == "c\n"
    check_goldens((same, "a\n"), (other, "c\n"), update=True)  # nothing changed: passes


def test_golden_update_run_over_unchanged_goldens_passes(tmp_path: Path) -> None:
    """The real golden tests in update mode, with nothing to update: green, no 'updated'.

    Run on a copy of tests/ and fixtures/, so that update mode never rewrites the
    checkout's goldens from inside the test suite.
    """
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "tests", tmp_path / "tests", ignore=ignore)
    shutil.copytree(ROOT / "fixtures", tmp_path / "fixtures", ignore=ignore)
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    env = {**os.environ, "SMTPDIAG_UPDATE_GOLDEN": "1"}
    env.pop("PYTEST_ADDOPTS", None)
    proc = subprocess.run(
        [
            *(sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"),
            *("tests/unit/report/test_report_golden.py", "tests/health/test_health_formats.py"),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "updated" not in proc.stdout
