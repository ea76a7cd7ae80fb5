"""Real reports: probe the demo domains on loopback, then check JSON and text on them.

The factories in ``factories.report_cases`` are what the probe *should* produce; this module
checks the renderers against what it *does* produce (real DNS server, real scripted
SMTP servers with real TLS), so schema drift or an unexpected value shows up here.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime

import jsonschema  # type: ignore[import-untyped,unused-ignore]
import pytest

from smtpdiag.demo import DEMO_DOMAINS, DemoLab, demo_lab
from smtpdiag.model import ProbeReport
from smtpdiag.probing import plan_routes, probe_routes
from smtpdiag.report.jsonout import dumps, load_schema, loads, report_to_dict
from smtpdiag.report.text import render_text
from smtpdiag.resolve import resolve_domain

NOW = datetime(2026, 11, 23, 6, 0, 2, tzinfo=UTC)


@pytest.fixture(scope="module")
def lab() -> Iterator[DemoLab]:
    with demo_lab(seed=7) as running:
        yield running


async def _probe(domain: str, lab: DemoLab) -> ProbeReport:
    config = lab.config(total=8.0)
    deadline = asyncio.get_running_loop().time() + config.timeouts.total
    resolution = await resolve_domain(domain, config, deadline=deadline)
    results = await probe_routes(plan_routes(resolution, config), config, deadline=deadline)
    report = ProbeReport(
        domain=domain,
        resolution=resolution,
        routes=results,
        started_at="2026-11-23T06:00:00.000Z",
        duration_ms=123.4,
        ports=config.ports,
        families=config.families,
        tool_version="test",
    )
    try:
        from smtpdiag import diagnose  # type: ignore[attr-defined,unused-ignore]
    except ImportError:  # the diagnose stage is not there yet: probe-only reports
        return report
    return replace(report, diagnosis=diagnose(report, now=NOW))


@pytest.fixture(scope="module")
def reports(lab: DemoLab) -> dict[str, ProbeReport]:
    async def all_domains() -> list[ProbeReport]:
        return await asyncio.gather(*(_probe(d.name, lab) for d in DEMO_DOMAINS))

    return {r.domain: r for r in asyncio.run(all_domains())}


DOMAINS = [d.name for d in DEMO_DOMAINS]


@pytest.mark.parametrize("domain", DOMAINS)
def test_real_report_matches_the_schema_and_reloads(
    domain: str, reports: dict[str, ProbeReport]
) -> None:
    report = reports[domain]
    assert report.routes, "the demo domains all have routes"
    doc = report_to_dict(report)
    validator = jsonschema.Draft202012Validator(load_schema())
    assert [e.message for e in validator.iter_errors(doc)] == []
    text = dumps(report)
    back = loads(text)
    assert report_to_dict(back) == json.loads(text)
    assert dumps(back) == text


@pytest.mark.parametrize("domain", DOMAINS)
@pytest.mark.parametrize("width", [80, 100])
def test_real_report_renders(domain: str, width: int, reports: dict[str, ProbeReport]) -> None:
    out = render_text(reports[domain], width=width)
    assert "\x1b" not in out
    assert all(len(line) <= width for line in out.splitlines())
    assert domain in out.splitlines()[0]
    assert "ROUTES" in out and "MX mx" in out


def test_real_failures_show_up_in_text(reports: dict[str, ProbeReport]) -> None:
    busy = render_text(reports["busy.demo.test"], width=100)
    assert "421 4.3.2" in busy
    dead = render_text(reports["deadprimary.demo.test"], width=100)
    assert "connect refused" in dead and "0/3 ok" in dead and "3/3 ok" in dead
    bad = render_text(reports["badcert.demo.test"], width=100)
    assert "NOT verified" in bad and "EXPIRED" in bad
    healthy = render_text(reports["healthy.demo.test"], width=100)
    assert "Failures" not in healthy and "3/3 ok" in healthy
