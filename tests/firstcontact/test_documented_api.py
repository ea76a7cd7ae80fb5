"""The library calls the docs show work as written (each failed before its fix)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from smtpdiag.health import evaluate
from smtpdiag.model import Outcome, Phase

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1]))
from factories import health_cases as f

sys.path.pop(0)


@pytest.mark.parametrize(
    "expression", ["smtpdiag.health.check", "smtpdiag.watch.watch", "smtpdiag.report.loads"]
)
def test_subpackage_reachable_after_plain_import(expression: str) -> None:
    # A fresh interpreter: in this one, other tests have imported the subpackages already.
    code = f"import smtpdiag; print(callable({expression}))"
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "True"


def test_timing_of_a_phase_that_never_ran_has_no_seconds() -> None:
    result = evaluate(f.one_route_down())
    down = next(r for r in result.routes if not r.up)
    # Connect was refused: the greeting never ran. The documented line works as written.
    assert down.timing(Phase.GREETING).seconds is None
    assert down.timing(Phase.GREETING).outcome is Outcome.NOT_ATTEMPTED
    assert down.timing(Phase.CONNECT).seconds is None  # failed phase: no latency
    up = next(r for r in result.routes if r.up)
    seconds = up.timing(Phase.GREETING).seconds
    assert seconds is not None and seconds > 0
