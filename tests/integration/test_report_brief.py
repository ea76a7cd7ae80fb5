"""The operator's report: each demo domain's default text report fits 40 lines at 100
columns; ``full`` (``--full``) keeps every finding's evidence and steps; the 5.4.3
checklist names each step once."""

from __future__ import annotations

import asyncio

import pytest

from smtpdiag.api import probe
from smtpdiag.demo import DEMO_DOMAINS, demo_lab
from smtpdiag.model import ProbeReport
from smtpdiag.narrate.actions import make_steps
from smtpdiag.report.text import render_text

#: Every demo domain's default report fits in this many lines at 100 columns.
LIMIT: dict[str, int] = {}


@pytest.fixture(scope="module")
def demo_reports() -> dict[str, ProbeReport]:
    async def run() -> dict[str, ProbeReport]:
        with demo_lab(seed=7) as lab:
            return {d.name: await probe(d.name, lab.config()) for d in DEMO_DOMAINS}

    return asyncio.run(run())


@pytest.mark.parametrize("name", [d.name for d in DEMO_DOMAINS])
def test_default_report_is_short_and_full_has_the_evidence(
    demo_reports: dict[str, ProbeReport], name: str
) -> None:
    report = demo_reports[name]
    brief = render_text(report, width=100, color=False, full=False)
    lines = brief.rstrip("\n").split("\n")
    assert len(lines) <= LIMIT.get(name, 40), brief
    assert all(len(line) <= 100 for line in lines)
    assert "--full" in brief
    full = render_text(report, width=100, color=False, full=True)
    assert len(full.split("\n")) > len(lines)
    assert report.diagnosis is not None
    for finding in report.diagnosis.findings:
        if finding.evidence:
            assert "Evidence:" in full and "Evidence:" not in brief
        for step in finding.steps:
            assert step.text.split(":")[0] in full


def test_the_5_4_3_checklist_names_each_step_once() -> None:
    texts = [s.text for s in make_steps("5.4.3", {})]
    for repeat in (
        "Check that all MX records are valid",
        "Check whether alternative routes exist",
        "Determine which server on the path failed",
    ):
        assert repeat not in texts
    assert any(t.startswith("Check MX records") for t in texts)
    assert any(t.startswith("Check alternative routes") for t in texts)
    assert "Identify which routing servers failed" in texts


def test_a_repeated_step_done_marks_the_first_wording_done() -> None:
    steps = {s.id: s for s in make_steps("5.4.3", {"path-alternatives": "via mx2"})}
    kept = steps["5.4.3/alternative-routes"]
    assert kept.result == "via mx2"
