"""The demo's "by hand" commands run as printed, also when smtpdiag is not on PATH.

Found by the acceptance audit: after `make demo` smtpdiag lives in .venv/bin, which is
not on PATH, so the printed `smtpdiag probe ...` commands failed with "command not found".
"""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

import pytest

from smtpdiag.demo import program_name


def test_without_smtpdiag_on_path_the_command_still_runs(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no smtpdiag there
    argv = shlex.split(program_name())
    assert argv[0] != "smtpdiag"
    proc = subprocess.run([*argv, "--version"], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert "smtpdiag" in proc.stdout


def test_on_path_it_is_just_smtpdiag(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = tmp_path / "smtpdiag"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert program_name() == "smtpdiag"
