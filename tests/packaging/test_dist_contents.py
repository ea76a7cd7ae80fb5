"""What the wheel and the sdist hold.

- The wheel: every module of the package, ``py.typed``, the JSON schemas, the LICENSE
  (in ``.dist-info``); no tests, no fixtures.
- The sdist: a working source tree. Every file tracked in git is in it (docs/, the
  Makefile, scripts/, fixtures, LICENSE, README, CI script), and its own test suite
  collects the same tests as the checkout and runs from it unpacked.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from dist_kit import ROOT, Dist

# Tracked files that have no business in a source release.
NOT_IN_SDIST: frozenset[str] = frozenset()


def _wheel_names(dist: Dist) -> set[str]:
    with zipfile.ZipFile(dist.wheel) as whl:
        return set(whl.namelist())


def _sdist_names(dist: Dist) -> set[str]:
    with tarfile.open(dist.sdist) as tar:
        return {name.split("/", 1)[1] for name in tar.getnames() if "/" in name}


def test_wheel_holds_the_package_and_nothing_else(dist: Dist) -> None:
    names = _wheel_names(dist)
    sources = {
        p.relative_to(ROOT).as_posix()
        for p in (ROOT / "smtpdiag").rglob("*")
        if p.is_file()
        and p.suffix in {".py", ".json", ".typed", ".css", ".j2"}
        and "__pycache__" not in p.parts
    }
    assert sources - names == set()
    assert "smtpdiag/py.typed" in names
    assert {"smtpdiag/report/schema.json", "smtpdiag/report/check_schema.json"} <= names
    # The HTML report's template and stylesheet (report/html.py loads them as data).
    assert {
        "smtpdiag/report/templates/report.html.j2",
        "smtpdiag/report/templates/report.css",
    } <= names
    info = {n for n in names if ".dist-info/" in n}
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in info)
    tops = {n.split("/", 1)[0] for n in names if ".dist-info/" not in n}
    assert tops == {"smtpdiag"}, tops  # no tests/, fixtures/, scripts/ in site-packages
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
    with zipfile.ZipFile(dist.wheel) as whl:
        meta = whl.read(next(n for n in info if n.endswith("METADATA"))).decode()
    assert "License-Expression: MIT" in meta
    # Test-only packages are extras, never requirements of a plain install.
    plain = [line for line in meta.splitlines() if line.startswith("Requires-Dist:")]
    for name in ("trustme", "aiosmtpd", "pytest", "jsonschema", "build", "jinja2"):
        assert all(name not in line or "extra ==" in line for line in plain), plain


def test_license_file_is_mit() -> None:
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License") and "smtpdiag developers" in text


def test_sdist_holds_every_tracked_file(dist: Dist) -> None:
    names = _sdist_names(dist)
    for required in (
        "LICENSE",
        "README.md",
        "Makefile",
        "pyproject.toml",
        ".ci/run",
        "requirements-dev.lock",
    ):
        assert required in names, required
    assert any(n.startswith("docs/") for n in names)
    assert any(n.startswith("scripts/") for n in names)
    assert not any("__pycache__" in n or n.startswith(".venv/") for n in names)
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: cannot list the tracked files")
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    ).stdout.split()
    missing = sorted(set(tracked) - names - NOT_IN_SDIST)
    assert missing == [], f"tracked files missing from the sdist: {missing[:20]}"


def _collected(cwd: Path) -> int:
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    last = [line for line in proc.stdout.splitlines() if " collected" in line or "tests" in line]
    return int(last[-1].split()[0])


def test_sdist_tests_collect_like_the_checkout(unpacked_sdist: Path) -> None:
    assert _collected(unpacked_sdist) == _collected(ROOT)


def _pytest_failures(cwd: Path, *args: str) -> list[str]:
    """Node ids that fail (or error) in ``pytest args`` run from ``cwd``."""
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rfE", "-p", "no:cacheprovider", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
    )
    failed = [
        line.split()[1]
        for line in proc.stdout.splitlines()
        if line.startswith(("FAILED ", "ERROR "))
    ]
    assert proc.returncode == 0 or failed, proc.stdout[-3000:] + proc.stderr[-2000:]
    return failed


def test_sdist_quickstart_and_unit_tests_run(unpacked_sdist: Path) -> None:
    # `make demo` / `make test` exist as the README says (dry run: no venv built here).
    for target in ("demo", "test"):
        proc = subprocess.run(
            ["make", "-n", target], cwd=unpacked_sdist, capture_output=True, text=True, timeout=60
        )
        assert proc.returncode == 0, proc.stderr
    # The demo and the unit tests run from the unpacked tree itself (its smtpdiag first
    # on sys.path), so no test depends on a file the sdist lacks.
    demo = subprocess.run(
        [sys.executable, "-m", "smtpdiag", "demo", "--color", "never"],
        cwd=unpacked_sdist,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert demo.returncode == 0, demo.stdout[-2000:] + demo.stderr
    unit = _pytest_failures(unpacked_sdist, "tests/unit")
    if unit:
        # A failure the checkout shares is not the sdist's: only missing files count.
        in_checkout = _pytest_failures(ROOT, *unit)
        assert set(unit) <= set(in_checkout), (
            f"fail only from the sdist: {sorted(set(unit) - set(in_checkout))}"
        )
    assert (
        str(unpacked_sdist)
        in subprocess.run(
            [sys.executable, "-c", "import smtpdiag; print(smtpdiag.__file__)"],
            cwd=unpacked_sdist,
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout
    )
