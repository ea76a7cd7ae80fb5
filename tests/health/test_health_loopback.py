"""check() and `smtpdiag check` against real loopback servers and a local DNS server."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest
from health_lab import DOMAINS, HealthLab
from om_validate import validate_openmetrics
from plugin_output import parse_plugin_output

from smtpdiag.cli import main
from smtpdiag.health import HealthStatus, Limit, ProblemKind, Thresholds, check, check_sync
from smtpdiag.model import Phase
from smtpdiag.report.health_json import load_check_schema
from smtpdiag.report.jsonout import load_schema


@pytest.mark.parametrize("domain", sorted(DOMAINS))
async def test_check_status_per_domain(lab: HealthLab, domain: str) -> None:
    result = await check(domain, lab.config())
    assert result.status.value == DOMAINS[domain], result.summary
    assert result.report is not None and result.report.domain == domain


async def test_check_ok_has_real_timings(lab: HealthLab) -> None:
    result = await check("ok.health.test", lab.config(with_tls_port=True))
    assert result.status is HealthStatus.OK
    assert len(result.routes) == 2
    for route in result.routes:
        assert route.healthy and route.tls_version in ("TLSv1.2", "TLSv1.3")
        greeting = route.timing(Phase.GREETING)
        assert greeting is not None and greeting.seconds is not None and greeting.seconds < 1
        assert route.cert_days_left is not None and route.cert_days_left > 0


async def test_latency_threshold_crossed_on_a_real_server(lab: HealthLab) -> None:
    # Every real greeting takes longer than a microsecond: a deterministic warning.
    th = Thresholds(greeting=Limit(0.000001, None))
    result = await check("ok.health.test", lab.config(), th)
    assert result.status is HealthStatus.WARNING
    assert [p.kind for p in result.problems] == [ProblemKind.LATENCY]


async def test_require_tls465_adds_the_port(lab: HealthLab) -> None:
    # The implicit-TLS stand-in is the config's implicit_tls_ports[0]: check() adds it.
    result = await check("ok.health.test", lab.config(), Thresholds(require_implicit_tls=True))
    assert result.status is HealthStatus.OK
    assert {r.port for r in result.routes} == {lab.port, lab.tls_port}


def test_check_sync_inside_and_outside_a_loop(lab: HealthLab) -> None:
    assert check_sync("ok.health.test", lab.config()).status is HealthStatus.OK


async def test_check_sync_from_async_code(lab: HealthLab) -> None:
    # A running loop in this thread: check_sync runs its own loop on a worker thread.
    assert check_sync("degraded.health.test", lab.config()).status is HealthStatus.WARNING


# ------------------------------------------------------------------------------ CLI

PLUGIN_CASES = {
    "ok.health.test": ("OK", 0),
    "degraded.health.test": ("WARNING", 1),
    "busy.health.test": ("CRITICAL", 2),
    "unanswered.health.test": ("UNKNOWN", 3),
}


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "smtpdiag", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("domain", sorted(PLUGIN_CASES))
def test_plugin_mode_per_status_subprocess(lab: HealthLab, domain: str) -> None:
    status, code = PLUGIN_CASES[domain]
    proc = run_cli("check", domain, "--plugin", *lab.cli_args())
    assert proc.returncode == code, proc.stdout + proc.stderr
    assert proc.stderr == ""
    parsed = parse_plugin_output(proc.stdout)
    assert parsed.status == status
    if domain != "unanswered.health.test":
        labels = [p.label for p in parsed.perfdata]
        assert "routes_healthy" in labels and "r1_greet" in labels


def test_plugin_status_line_says_why_an_expired_certificate_is_a_warning(lab: HealthLab) -> None:
    # The route works while its certificate expired: the domain is degraded (only senders
    # verifying by local policy defer), so WARNING, and the route is not "healthy".
    proc = run_cli("check", "expired.health.test", "--plugin", *lab.cli_args())
    assert proc.returncode == 1, proc.stdout + proc.stderr
    parsed = parse_plugin_output(proc.stdout)
    assert parsed.status == "WARNING"
    head = f"expired.health.test: mx.expired.health.test[127.78.0.5]:{lab.port}: certificate"
    assert parsed.text.startswith(head), parsed.text
    assert "expired 1 day ago" in parsed.text and "1/1 routes up" in parsed.text
    assert "healthy" not in parsed.text


def test_plugin_failed_phases_are_unknown_values(
    lab: HealthLab, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["check", "busy.health.test", "--format", "nagios", *lab.cli_args()])
    assert code == 2
    parsed = parse_plugin_output(capsys.readouterr().out)
    assert any(f"[r1] mx.busy.health.test[127.78.0.3]:{lab.port}" in t for t in parsed.long_text)
    assert parsed.perf("r1_conn").value is not None
    assert parsed.perf("r1_greet").value is None  # 421: no fake latency
    assert parsed.perf("r1_ehlo").value is None


@pytest.mark.parametrize(
    "bad",
    [
        ["--warn-greeting", "abc"],
        ["--warn-greeting", "6", "--crit-greeting", "5"],
        ["--bogus-option"],
        ["--nameserver", "not-an-ip"],
    ],
)
def test_usage_errors_plugin_unknown_3_else_2(
    lab: HealthLab, bad: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["check", "ok.health.test", "--plugin", *lab.cli_args(), *bad])
    out, err = capsys.readouterr()
    assert code == 3
    assert parse_plugin_output(out).status == "UNKNOWN" and "usage error" in out
    code = main(["check", "ok.health.test", *lab.cli_args(), *bad])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err.startswith("smtpdiag: error: ") and err.count("\n") == 1


EXIT = {"ok": 0, "warning": 1, "critical": 3, "unknown": 5}


@pytest.mark.parametrize("domain", ["ok.health.test", "degraded.health.test", "busy.health.test"])
def test_json_format_and_exit_codes(
    lab: HealthLab, domain: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["check", domain, "--format", "json", *lab.cli_args()])
    doc = json.loads(capsys.readouterr().out)
    jsonschema.validate(doc, load_check_schema())
    jsonschema.validate(doc["report"], load_schema())
    assert code == EXIT[doc["health"]["status"]] == EXIT[DOMAINS[domain]]
    assert doc["report"]["domain"] == domain
    # every route's timings in the health part come from the report part
    for route, rr in zip(doc["health"]["routes"], doc["report"]["routes"], strict=True):
        assert route["label"] == rr["label"]
        assert [p["duration_ms"] for p in route["phases"]] == [
            p["duration_ms"] for p in rr["phases"]
        ]


def test_unknown_exit_code_in_normal_mode(
    lab: HealthLab, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", "unanswered.health.test", *lab.cli_args()]) == 5
    assert capsys.readouterr().out.startswith("UNKNOWN: unanswered.health.test")


def test_formats_against_loopback(
    lab: HealthLab, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["check", "degraded.health.test", *lab.cli_args(with_tls_port=True)]
    assert main([*args, "--format", "junit"]) == 1
    root = ET.fromstring(capsys.readouterr().out)
    cases = list(root.iter("testcase"))
    assert int(root.get("tests", "0")) == len(cases) >= 4
    prom = tmp_path / "smtpdiag.prom"
    assert main([*args, "--format", "openmetrics", "--output", str(prom)]) == 1
    assert capsys.readouterr().out == ""
    text = prom.read_text()
    validate_openmetrics(text)
    assert 'smtpdiag_health{domain="degraded.health.test",state="warning"} 1' in text
    assert main([*args, "--format", "markdown"]) == 1
    md = capsys.readouterr().out
    assert md.startswith("## smtpdiag check degraded.health.test: WARNING")
    assert main([*args, "--format", "text"]) == 1
    assert "route-down" in capsys.readouterr().out


def test_output_to_unwritable_path(
    lab: HealthLab, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "missing-dir" / "out.prom"
    assert main(["check", "ok.health.test", *lab.cli_args(), "--output", str(target)]) == 2
    assert "cannot write" in capsys.readouterr().err
