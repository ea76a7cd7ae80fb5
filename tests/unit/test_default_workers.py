"""``bulk --workers auto``: one worker per core the process may run on, at most three
(four interpreters stay within 200 MB), none on one core. Each case runs in a child
process pinned to that many cores, since the answer is read from the affinity mask."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

CORES = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []


def _auto_with(cores: set[int]) -> int:
    code = (
        "import os, sys\n"
        f"os.sched_setaffinity(0, {cores!r})\n"
        "from smtpdiag.triage.pool import default_workers\n"
        "print(default_workers())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    return int(done.stdout)


@pytest.mark.skipif(not CORES, reason="no CPU affinity on this platform")
def test_one_core_runs_everything_in_one_process() -> None:
    assert _auto_with({CORES[0]}) == 0


@pytest.mark.parametrize("count", range(2, min(len(CORES), 5) + 1))
def test_one_worker_per_core_up_to_three(count: int) -> None:
    assert _auto_with(set(CORES[:count])) == min(count, 3)
