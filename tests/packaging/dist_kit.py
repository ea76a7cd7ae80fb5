"""Shared pieces of the packaging tests: the built distributions and a plain venv."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements-dev.lock"


def locked_pip_env(tmp: Path) -> dict[str, str]:
    """pip settings that hold the build backend and the wheel's dependencies to the lock.

    pip refuses hashes in a constraints file, so the pins are copied without them. Under
    ``make test-latest`` (SMTPDIAG_TEST_LATEST=1) nothing is pinned: the newest releases.
    """
    if os.environ.get("SMTPDIAG_TEST_LATEST") == "1":
        return {}
    pins = [
        line.rstrip(" \\")
        for line in LOCK.read_text().splitlines()
        if line and line[0].isalnum() and "==" in line
    ]
    constraints = tmp / "constraints.txt"
    constraints.write_text("\n".join(pins) + "\n")
    return {"PIP_CONSTRAINT": str(constraints)}


@dataclass(frozen=True)
class Dist:
    sdist: Path
    wheel: Path


@dataclass(frozen=True)
class PlainVenv:
    """A venv holding only the wheel and its runtime dependencies."""

    path: Path

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"

    @property
    def smtpdiag(self) -> Path:
        return self.path / "bin" / "smtpdiag"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
        env["PATH"] = f"{self.path / 'bin'}:/usr/bin:/bin"
        env["NO_COLOR"] = "1"
        return env


def run_ok(argv: list[str], timeout: float, **kwargs: object) -> subprocess.CompletedProcess[str]:
    """Run ``argv``; fail the test with its output unless it exits 0."""
    proc = subprocess.run(
        argv, capture_output=True, text=True, timeout=timeout, check=False, **kwargs
    )  # type: ignore[call-overload]
    assert proc.returncode == 0, f"{argv} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc
