"""Monitoring-plugin format: status line, perfdata syntax, U for failed phases, exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest
from factories import health_cases as f
from plugin_output import parse_plugin_output

from smtpdiag.health import HealthStatus, Thresholds, evaluate, unknown_result
from smtpdiag.model import Phase
from smtpdiag.report.nagios import (
    PHASE_LABELS,
    PerfdataDetail,
    perfdata_label,
    plugin_exit_code,
    render_nagios,
    render_plugin_error,
)

GOLDEN = Path(__file__).resolve().parents[2] / "fixtures" / "golden" / "health"

STATUS_CASES = {
    "OK": ("healthy", 0),
    "WARNING": ("one_route_down", 1),
    "CRITICAL": ("all_down", 2),
    "UNKNOWN": ("dns_unanswered", 3),
}


@pytest.mark.parametrize("status", sorted(STATUS_CASES))
def test_one_test_per_status(status: str) -> None:
    scenario, code = STATUS_CASES[status]
    result = evaluate(f.SCENARIOS[scenario]())
    out = render_nagios(result)
    parsed = parse_plugin_output(out)
    assert (parsed.service, parsed.status) == ("SMTPDIAG", status)
    assert plugin_exit_code(result.status) == code
    assert parsed.text.startswith("example.org")


@pytest.mark.parametrize("name", sorted(f.SCENARIOS))
def test_every_scenario_parses(name: str) -> None:
    result = evaluate(f.SCENARIOS[name]())
    parsed = parse_plugin_output(render_nagios(result))
    assert parsed.status == result.status.value.upper()
    # One long-output line per problem and per route.
    assert len(parsed.long_text) == len(result.problems) + len(result.routes)


def test_perfdata_values_units_and_thresholds() -> None:
    parsed = parse_plugin_output(render_nagios(evaluate(f.healthy())))
    g = parsed.perf("r1_greet")
    assert (g.value, g.uom, g.warn, g.crit, g.minimum) == (48.25, "ms", "2000", "5000", "0")
    c = parsed.perf("r2_cert_days")
    assert (c.value, c.uom, c.warn, c.crit) == (80, "", "21:", "7:")
    h = parsed.perf("routes_healthy")
    assert (h.value, h.warn, h.crit, h.minimum, h.maximum) == (4, "4:", "1:", "0", "4")
    assert parsed.perf("probe_duration").uom == "ms"
    # Every latency item uses ms, value and thresholds alike.
    for item in parsed.perfdata:
        if not item.label.endswith(("cert_days", "routes_healthy")):
            assert item.uom in ("ms", "")
    # 2 MX x (25: 6 phases + cert, 465: 4 phases + cert) + 2 domain items
    assert len(parsed.perfdata) == 2 * (7 + 5) + 2


def test_failed_phases_are_U_not_zero() -> None:
    parsed = parse_plugin_output(render_nagios(evaluate(f.one_route_down())))
    for phase in ("conn", "greet", "ehlo", "stls", "tls", "ehlo2", "cert_days"):
        item = parsed.perf(f"r2_{phase}")
        assert item.value is None, phase
    # the failed route still carries its thresholds
    assert parsed.perf("r2_greet").crit == "5000"
    timeout = parse_plugin_output(render_nagios(evaluate(f.all_down())))
    assert timeout.perf("r1_conn").value == 12.5
    assert timeout.perf("r1_greet").value is None


def test_require_all_mx_moves_routes_healthy_threshold() -> None:
    out = render_nagios(evaluate(f.one_route_down(), Thresholds(require_all_mx=True)))
    parsed = parse_plugin_output(out)
    assert parsed.status == "CRITICAL"
    item = parsed.perf("routes_healthy")
    assert (item.warn, item.crit) == ("", "2:")


def test_hostile_text_cannot_break_the_format() -> None:
    out = render_nagios(evaluate(f.hostile()))
    parsed = parse_plugin_output(out)
    assert all("|" not in line for line in parsed.long_text)
    assert all("'" not in p.label and "=" not in p.label for p in parsed.perfdata)
    assert perfdata_label("a'b", "c=d", "e|f") == "'a_b_c_d_e_f'"


def test_unknown_without_report_and_usage_error() -> None:
    out = render_nagios(unknown_result("example.org", "overran | deadline"))
    parsed = parse_plugin_output(out)
    assert parsed.status == "UNKNOWN" and parsed.perfdata == []
    assert "overran / deadline" in parsed.text
    err = parse_plugin_output(render_plugin_error("bad --warn-greeting"))
    assert err.status == "UNKNOWN"


def test_exit_codes_cover_every_status() -> None:
    assert {s: plugin_exit_code(s) for s in HealthStatus} == {
        HealthStatus.OK: 0,
        HealthStatus.WARNING: 1,
        HealthStatus.CRITICAL: 2,
        HealthStatus.UNKNOWN: 3,
    }


@pytest.mark.parametrize("name", ["healthy", "one_route_down", "all_down", "dns_unanswered"])
def test_golden(name: str, update_golden: bool) -> None:
    out = render_nagios(evaluate(f.SCENARIOS[name]()))
    path = GOLDEN / f"nagios-{name}.txt"
    if update_golden:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(out)
    assert out == path.read_text()


@pytest.mark.parametrize("name", sorted(f.SCENARIOS))
def test_labels_unique_in_first_19_characters(name: str) -> None:
    # RRD-based graphers (PNP4Nagios, ...) keep 19 characters of a data-source name.
    parsed = parse_plugin_output(render_nagios(evaluate(f.SCENARIOS[name]())))
    heads = [item.label[:19] for item in parsed.perfdata]
    assert len(heads) == len(set(heads)), heads


def test_labels_stay_short_for_many_routes() -> None:
    assert set(PHASE_LABELS) == set(Phase)
    longest = max(len(p) for p in (*PHASE_LABELS.values(), "cert_days"))
    assert len(f"r999_{'x' * longest}") <= 19


def test_route_lines_name_their_label_prefix() -> None:
    parsed = parse_plugin_output(render_nagios(evaluate(f.one_route_down())))
    route_lines = [line for line in parsed.long_text if line.startswith("[r")]
    assert route_lines[0].startswith("[r1] mx1.example.org[198.51.100.10]:25: healthy")
    assert route_lines[1].startswith("[r2] mx2.example.org[198.51.100.20]:25: DOWN")


def test_perfdata_detail_levels() -> None:
    result = evaluate(f.one_route_down())
    routes = parse_plugin_output(render_nagios(result, PerfdataDetail.ROUTES))
    summary = parse_plugin_output(render_nagios(result, PerfdataDetail.SUMMARY))
    none = parse_plugin_output(render_nagios(result, PerfdataDetail.NONE))
    assert [p.label for p in summary.perfdata] == ["probe_duration", "routes_healthy"]
    assert len(routes.perfdata) == 2 + 2 * 7
    assert none.perfdata == []
    # The text is the same whatever the perfdata.
    assert routes.long_text == summary.long_text == none.long_text
    assert routes.text == summary.text == none.text
