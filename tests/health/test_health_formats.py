"""JUnit, Markdown, OpenMetrics, text and JSON renderings of health results (pure).

Each format: a golden file, a structural validation, hostile input, and the check that
every value it prints is in the JSON document (the JSON is the source of every format).
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from factories import health_cases as f
from golden_files import check_goldens
from om_validate import validate_openmetrics
from plugin_output import parse_plugin_output

from smtpdiag.health import HealthResult, evaluate, unknown_result
from smtpdiag.report.health_json import health_document, load_check_schema
from smtpdiag.report.health_text import render_health_text
from smtpdiag.report.jsonout import load_schema
from smtpdiag.report.junit import render_junit
from smtpdiag.report.markdown import escape_markdown, render_markdown
from smtpdiag.report.nagios import render_nagios
from smtpdiag.report.openmetrics import escape_label_value, render_openmetrics

GOLDEN = Path(__file__).resolve().parents[2] / "fixtures" / "golden" / "health"
SCENARIOS = sorted(f.SCENARIOS)


def result_of(name: str) -> HealthResult:
    return evaluate(f.SCENARIOS[name]())


def golden(name: str, text: str, update: bool) -> None:
    check_goldens((GOLDEN / name, text), update=update, hint="tests/health")


# ----------------------------------------------------------------------------- JUnit


@pytest.mark.parametrize("name", SCENARIOS)
def test_junit_parses_and_counts_match(name: str) -> None:
    result = result_of(name)
    xml = render_junit(result)
    assert xml.startswith('<?xml version="1.0" encoding="UTF-8"?>\n')
    root = ET.fromstring(xml.encode("utf-8"))
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    cases = suite.findall("testcase")
    failures = [c for c in cases if c.find("failure") is not None]
    errors = [c for c in cases if c.find("error") is not None]
    assert int(suite.get("tests", "-1")) == len(cases) == int(root.get("tests", "-1"))
    assert int(suite.get("failures", "-1")) == len(failures)
    assert int(suite.get("errors", "-1")) == len(errors)
    routes = [c for c in cases if c.get("classname", "").endswith(".routes")]
    problems = [c for c in cases if c.get("classname", "").endswith(".problems")]
    if result.status.value == "unknown":
        assert len(errors) == 1 and errors[0].get("name") == "probe"
        return
    # one testcase per route and per problem; failing routes are exactly the unhealthy ones
    assert [c.get("name") for c in routes] == [r.label for r in result.routes]
    assert len(problems) == len(result.problems)
    for case, route in zip(routes, result.routes, strict=True):
        assert (case.find("failure") is None) is route.healthy
        assert float(case.get("time", "x")) == pytest.approx(
            round(route.total_ms, 3) / 1000, abs=1e-3
        )


def test_junit_failure_carries_evidence() -> None:
    root = ET.fromstring(render_junit(result_of("all_down")))
    route = root.find(".//testcase[@name='mx2.example.org[198.51.100.20]:25']")
    assert route is not None
    failure = route.find("failure")
    assert failure is not None and failure.text is not None
    assert "greeting: reply in" in failure.text
    assert "reply 421 4.3.2 Service not available" in failure.text
    assert "421 4.3.2" in failure.get("message", "")
    diag = root.findall(".//testcase[@classname='smtpdiag.example_org.diagnosis']")
    # One test case per finding of the real diagnosis (dropped greeting, 421 deferral).
    assert len(diag) == 2 and all(d.find("failure") is not None for d in diag)


def test_junit_hostile_text_round_trips() -> None:
    root = ET.fromstring(render_junit(result_of("hostile")))
    names = [c.get("name") for c in root.iter("testcase")]
    assert "mx'=|\"<&>.example.org[198.51.100.66]:25" in names
    texts = "".join(root.itertext())
    assert 'no | "way" <b>&</b> ]]> *x* `y`' in texts


def test_junit_unknown_without_report() -> None:
    root = ET.fromstring(render_junit(unknown_result("example.org", "deadline overrun")))
    (case,) = root.iter("testcase")
    err = case.find("error")
    assert err is not None and "deadline overrun" in (err.text or "")


# ------------------------------------------------------------------------- Markdown

_UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")


@pytest.mark.parametrize("name", SCENARIOS)
def test_markdown_structure(name: str) -> None:
    result = result_of(name)
    md = render_markdown(result)
    lines = md.splitlines()
    assert lines[0] == f"## smtpdiag check example.org: {result.status.value.upper()}"
    table = [ln for ln in lines if ln.startswith("|")]
    if result.routes:
        widths = {len(_UNESCAPED_PIPE.findall(row)) for row in table}
        assert widths == {11}, "every table row has the same 10 cells"
        assert len(table) == 2 + len(result.routes)
    for p in result.problems:
        assert f"- **{p.level.value}** ({p.kind.value}): " in md


def test_markdown_escapes_hostile_text() -> None:
    md = render_markdown(result_of("hostile"))
    assert "<b>" not in md and "&lt;b&gt;" in md
    assert r"\*x\*" in md and r"\`y\`" in md and r"no \| " in md
    assert escape_markdown("1. done", line_start=True) == r"1\. done"
    assert escape_markdown("# x", line_start=True) == r"\# x"


# ---------------------------------------------------------------------- OpenMetrics


@pytest.mark.parametrize("name", SCENARIOS)
def test_openmetrics_is_valid(name: str) -> None:
    text = render_openmetrics(result_of(name))
    validate_openmetrics(text)


@pytest.mark.parametrize("name", SCENARIOS)
def test_openmetrics_parses_with_prometheus_client(name: str) -> None:
    om = pytest.importorskip("prometheus_client.openmetrics.parser")
    prom = pytest.importorskip("prometheus_client.parser")
    text = render_openmetrics(result_of(name))
    families = {fam.name: fam for fam in om.text_string_to_metric_families(text)}
    assert "smtpdiag_health" in families
    # node_exporter's textfile collector parses the Prometheus text format: same file.
    names = {fam.name for fam in prom.text_string_to_metric_families(text)}
    assert "smtpdiag_health" in names


def test_openmetrics_values() -> None:
    text = render_openmetrics(result_of("one_route_down"))
    assert text.endswith("# EOF\n")
    r1 = 'domain="example.org",mx="mx1.example.org",address="198.51.100.10",port="25"'
    r2 = 'domain="example.org",mx="mx2.example.org",address="198.51.100.20",port="25"'
    assert f"smtpdiag_route_up{{{r1}}} 1\n" in text
    assert f"smtpdiag_route_up{{{r2}}} 0\n" in text
    assert f'smtpdiag_phase_duration_seconds{{{r1},phase="greeting"}} 0.04825\n' in text
    assert f'smtpdiag_route_failed{{{r2},phase="connect",outcome="refused"}} 1\n' in text
    # notAfter 2027-02-11T00:00Z - probe start 2026-11-23T06:00Z, in seconds (base unit)
    assert f"smtpdiag_cert_expires_in_seconds{{{r1}}} 6890400.0\n" in text
    assert "# UNIT smtpdiag_cert_expires_in_seconds seconds\n" in text
    assert "days" not in text.replace("days left", "")
    assert 'smtpdiag_health{domain="example.org",state="warning"} 1\n' in text
    assert 'smtpdiag_verdict{domain="example.org",verdict="degraded"} 1\n' in text
    # the failed route has no duration sample at all (no fake zero)
    assert f"smtpdiag_phase_duration_seconds{{{r2}" not in text


def test_openmetrics_values_carry_no_float_noise() -> None:
    # 13.746 / 1000 is 0.013746000000000001 in binary floating point.
    report = f.slow_greeting(13.746)
    report = replace(report, duration_ms=13.746)
    text = render_openmetrics(evaluate(report))
    assert 'phase="greeting"} 0.013746\n' in text
    assert 'smtpdiag_probe_duration_seconds{domain="example.org"} 0.013746\n' in text
    for line in text.splitlines():
        if not line.startswith("#"):
            value = line.rsplit(" ", 1)[1]
            assert len(value.partition(".")[2]) <= 6, line


def test_openmetrics_label_escaping() -> None:
    assert escape_label_value('a\\b"c\nd') == 'a\\\\b\\"c\\nd'
    text = render_openmetrics(result_of("hostile"))
    assert 'mx="mx\'=|\\"<&>.example.org"' in text


# ------------------------------------------------------------------------ text/JSON


def test_text_rendering() -> None:
    text = render_health_text(result_of("all_down"))
    assert text.startswith(
        "CRITICAL: example.org: mx1.example.org[198.51.100.10]:25: greeting timeout"
    )
    assert "0/2 routes up" in text.splitlines()[0]
    assert "greeting timeout after 2000 ms" in text
    assert "diagnosis: failed (4.3.2)" in text


def test_json_document_is_the_source() -> None:
    doc = health_document(result_of("healthy"))
    assert set(doc) == {"check_version", "health", "thresholds", "report"}
    assert doc["health"]["status"] == "ok"
    assert doc["thresholds"]["greeting"] == {"warn_s": 2.0, "crit_s": 5.0}
    assert doc["report"]["domain"] == "example.org"
    json.dumps(doc)


@pytest.mark.parametrize("name", SCENARIOS)
def test_json_document_matches_its_schema(name: str) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    doc = json.loads(json.dumps(health_document(result_of(name))))
    jsonschema.validate(doc, load_check_schema())
    jsonschema.validate(doc["report"], load_schema())
    jsonschema.validate(health_document(unknown_result("example.org", "x")), load_check_schema())


def _json_numbers(obj: Any) -> set[float]:
    out: set[float] = set()
    if isinstance(obj, dict):
        for v in obj.values():
            out |= _json_numbers(v)
    elif isinstance(obj, list):
        for v in obj:
            out |= _json_numbers(v)
    elif isinstance(obj, (int, float)) and not isinstance(obj, bool):
        out.add(round(float(obj), 6))
    return out


@pytest.mark.parametrize("name", SCENARIOS)
def test_every_formatted_value_is_in_the_json(name: str) -> None:
    result = result_of(name)
    numbers = _json_numbers(health_document(result))
    numbers |= {round(n / 1000.0, 6) for n in numbers}  # seconds <-> milliseconds
    parsed = parse_plugin_output(render_nagios(result))
    for item in parsed.perfdata:
        if item.value is None:
            continue
        if item.label == "routes_healthy":
            assert item.value == sum(
                r["healthy"] for r in health_document(result)["health"]["routes"]
            )
            continue
        assert round(item.value, 6) in numbers, item
    for line in render_openmetrics(result).splitlines():
        if line.startswith("#"):
            continue
        value = float(line.rsplit(" ", 1)[1])
        if line.startswith(
            ("smtpdiag_health", "smtpdiag_verdict", "smtpdiag_route_", "smtpdiag_problems")
        ):
            assert value in (0, 1) or line.startswith("smtpdiag_problems")
            continue
        if "timestamp" in line or "expires_in" in line:
            continue  # instants (and notAfter - start): ISO 8601 strings in the JSON
        assert round(value, 6) in numbers, line


# --------------------------------------------------------------------------- goldens

FORMATS = {
    "junit": (render_junit, "xml"),
    "markdown": (render_markdown, "md"),
    "openmetrics": (render_openmetrics, "prom"),
    "text": (render_health_text, "txt"),
}


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@pytest.mark.parametrize("name", ["healthy", "one_route_down", "hostile"])
def test_golden(fmt: str, name: str, update_golden: bool) -> None:
    render, ext = FORMATS[fmt]
    golden(f"{fmt}-{name}.{ext}", render(result_of(name)), update_golden)


def test_golden_health_json(update_golden: bool) -> None:
    doc = health_document(result_of("one_route_down"))
    del doc["report"]  # the report part is report.jsonout's contract, with its own goldens
    golden("json-one_route_down.json", json.dumps(doc, indent=2) + "\n", update_golden)
