"""Golden renderings: text (width 100, no colour) and JSON, per scenario.

Regenerate after an intended change with::

    SMTPDIAG_UPDATE_GOLDEN=1 .venv/bin/pytest tests/unit/report

then review ``git diff fixtures/golden``. In update mode each golden test rewrites its
file and then fails (so an update run can never pass by accident in CI).

Two families of files:

* ``<scenario>.probe.txt``: the probe-only view (``diagnosis=None``);
* ``<scenario>.txt`` and ``<scenario>.json``: the full report, diagnosed by the real
  ``smtpdiag.diagnose`` with a fixed ``now`` (skipped until that exists).

Everything is deterministic: the reports come from fixed factories, the diagnosis time
is fixed, the width is pinned and colour is off.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from factories.report_cases import SCENARIOS
from golden_files import UPDATE, check_goldens

from smtpdiag.model import ProbeReport
from smtpdiag.report.jsonout import dumps
from smtpdiag.report.text import render_text

GOLDEN = Path(__file__).resolve().parents[3] / "fixtures" / "golden"
WIDTH = 100
#: The diagnosis instant: retry times in the goldens count from it.
NOW = datetime(2026, 11, 23, 6, 0, 2, tzinfo=UTC)

#: Scenarios with a diagnosed golden (the six the issue names, the DNS failures, and a
#: domain with a TLS policy: MTA-STS, DANE, TLS-RPT).
DIAGNOSED = (
    "healthy",
    "dead_primary",
    "greeting_421",
    "tls_mismatch",
    "mx_no_address",
    "null_mx",
    "nxdomain",
    "servfail",
    "tls_policy",
)


def _diagnoser() -> Callable[[ProbeReport], ProbeReport] | None:
    try:
        from smtpdiag import diagnose  # type: ignore[attr-defined,unused-ignore]
    except ImportError:
        return None

    def run(report: ProbeReport) -> ProbeReport:
        return replace(report, diagnosis=diagnose(report, now=NOW))

    return run


def _check(*pairs: tuple[Path, str]) -> None:
    """Compare each (golden file, actual text); update mode rewrites only changed ones."""
    check_goldens(*pairs, update=UPDATE, hint="tests/unit/report")


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_probe_only_text(name: str) -> None:
    report = SCENARIOS[name]()
    _check((GOLDEN / f"{name}.probe.txt", render_text(report, width=WIDTH, color=False)))


@pytest.mark.parametrize("name", DIAGNOSED)
def test_diagnosed_text_and_json(name: str) -> None:
    diagnose = _diagnoser()
    if diagnose is None:
        pytest.skip("smtpdiag.diagnose does not exist yet")
    report = diagnose(SCENARIOS[name]())
    assert report.diagnosis is not None
    _check(
        (GOLDEN / f"{name}.txt", render_text(report, width=WIDTH, color=False)),
        (GOLDEN / f"{name}.json", dumps(report) + "\n"),
    )


def test_goldens_are_plain_and_fit_the_width() -> None:
    files = sorted(GOLDEN.glob("*.txt"))
    assert files, "no golden files"
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert "\x1b" not in text, path.name
        for line in text.splitlines():
            assert len(line) <= WIDTH, (path.name, line)
            assert line == line.rstrip(), (path.name, line)
