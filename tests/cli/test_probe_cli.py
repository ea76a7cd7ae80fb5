"""``smtpdiag probe`` and ``smtpdiag demo`` end to end: a real subprocess, a real local
DNS server, real scripted SMTP servers with TLS, the JSON validated against the schema
and the exit codes checked."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest

from smtpdiag.demo import DemoLab, demo_lab
from smtpdiag.report.jsonout import load_schema
from smtpdiag.testing.dnsserver import ThreadedDnsServer


@pytest.fixture(scope="module")
def lab() -> Iterator[DemoLab]:
    with demo_lab(seed=11) as running:
        yield running


def smtpdiag(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "smtpdiag", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def probe_json(lab: DemoLab, domain: str, *extra: str) -> tuple[int, dict[str, Any]]:
    ns = f"{lab.nameserver.address}:{lab.nameserver.port}"
    ports = ",".join(str(p) for p in lab.ports)
    proc = smtpdiag(
        "probe",
        domain,
        "--json",
        "--nameserver",
        ns,
        "--ports",
        ports,
        "--implicit-tls-ports",
        str(lab.implicit_tls_port),
        "-4",
        "--allow-targets",
        "127.0.0.0/8",
        "--ca-file",
        lab.ca_file,
        "--mta-sts-port",
        str(lab.mta_sts_port),
        "--timeout",
        "10",
        "--connect-timeout",
        "2",
        "--greeting-timeout",
        "3",
        *extra,
    )
    assert proc.stderr == "", proc.stderr
    doc = json.loads(proc.stdout)  # --json prints only JSON
    jsonschema.validate(doc, load_schema())
    return proc.returncode, doc


def test_healthy_exit_0_json_valid(lab: DemoLab) -> None:
    code, doc = probe_json(lab, "healthy.demo.test")
    assert code == 0
    assert doc["diagnosis"]["verdict"] == "healthy"
    assert doc["diagnosis"]["primary"] is None
    assert len(doc["routes"]) == 3
    for route in doc["routes"]:
        assert route["ok"] is True
        assert route["tls"]["verified"] is True
        assert route["tls"]["hostname_match"] is True
        phases = [p["phase"] for p in route["phases"]]
        assert phases[0] == "connect" and phases[-1] == "quit"
        for p in route["phases"]:
            assert p["outcome"] == "ok"
            assert 0 <= p["duration_ms"] < 5000


def test_dead_primary_degraded_exit_1(lab: DemoLab) -> None:
    code, doc = probe_json(lab, "deadprimary.demo.test")
    assert code == 1
    assert doc["diagnosis"]["verdict"] == "degraded"
    by_mx: dict[str, list[dict[str, Any]]] = {}
    for r in doc["routes"]:
        by_mx.setdefault(r["route"]["mx"], []).append(r)
    assert all(
        not r["ok"] and r["phases"][0]["outcome"] == "refused"
        for r in by_mx["mx1.deadprimary.demo.test"]
    )
    assert all(r["ok"] for r in by_mx["mx2.deadprimary.demo.test"])


def test_421_greeting_is_432_exit_3(lab: DemoLab) -> None:
    code, doc = probe_json(lab, "busy.demo.test")
    assert code == 3
    diag = doc["diagnosis"]
    assert diag["verdict"] == "failed"
    assert diag["primary"] == "4.3.2"
    finding = diag["findings"][0]
    assert finding["action"]["kind"] == "retry"
    assert any(e["reply"] and e["reply"].startswith("421") for e in finding["evidence"])
    for r in doc["routes"]:
        greeting = next(p for p in r["phases"] if p["phase"] == "greeting")
        assert greeting["outcome"] == "reply"
        assert greeting["reply"]["code"] == 421


def test_expired_certificate_recorded_and_diagnosed(lab: DemoLab) -> None:
    code, doc = probe_json(lab, "badcert.demo.test")
    codes = [f["code"] for f in doc["diagnosis"]["findings"]]
    # What a sender verifying by local policy logs (Postfix), issue 18.
    assert "4.7.5" in codes
    for r in doc["routes"]:
        tls = r["tls"]
        assert tls["verified"] is False
        assert tls["verify_error"]
        assert tls["certificate"]["days_left"] < 0  # the certificate is still recorded
    assert code in (1, 3)


def test_text_report_leads_with_verdict(lab: DemoLab) -> None:
    ns = f"{lab.nameserver.address}:{lab.nameserver.port}"
    proc = smtpdiag(
        "probe",
        "busy.demo.test",
        "--nameserver",
        ns,
        "--ports",
        ",".join(map(str, lab.ports)),
        "--implicit-tls-ports",
        str(lab.implicit_tls_port),
        "-4",
        "--allow-targets",
        "127.0.0.0/8",
        "--ca-file",
        lab.ca_file,
        "--width",
        "100",
        "--color",
        "never",
    )
    assert proc.returncode == 3
    head = proc.stdout[:600].lower()
    assert "failed" in head and "4.3.2" in head
    assert "\x1b[" not in proc.stdout


def test_null_mx_exit_4_and_servfail_and_no_dns() -> None:
    zones = {
        "nomail.test": {"@": ["MX 0 ."]},
        "broken.test": {"@": ["MX 10 mx"], "mx": ["A 127.0.0.9"]},
    }
    with ThreadedDnsServer(zones=zones, faults={"broken.test": "servfail"}) as dns:
        ns = f"{dns.address}:{dns.port}"
        proc = smtpdiag("probe", "nomail.test", "--json", "--nameserver", ns)
        assert proc.returncode == 4, proc.stderr
        doc = json.loads(proc.stdout)
        assert doc["resolution"]["kind"] == "null-mx"
        assert doc["diagnosis"]["verdict"] == "no-mail"
        assert doc["diagnosis"]["primary"] == "5.1.10"
        assert doc["routes"] == []

        proc = smtpdiag("probe", "broken.test", "--json", "--nameserver", ns)
        doc = json.loads(proc.stdout)
        assert doc["resolution"]["mx_query"]["outcome"] == "servfail"
        assert doc["diagnosis"]["primary"] == "4.4.3"
        assert doc["diagnosis"]["persistence"] == "unknown"  # one probe cannot tell
        assert proc.returncode == 3

    with ThreadedDnsServer(
        zones={"silent.test": {"@": ["A 127.0.0.9"]}}, faults={"*.silent.test": "drop"}
    ) as dns:
        proc = smtpdiag(
            "probe",
            "silent.test",
            "--json",
            "--nameserver",
            f"{dns.address}:{dns.port}",
            "--dns-timeout",
            "0.5",
            "--timeout",
            "3",
        )
        assert proc.returncode == 5, proc.stdout + proc.stderr
        doc = json.loads(proc.stdout)
        assert doc["resolution"]["mx_query"]["outcome"] == "timeout"


def test_demo_command_succeeds() -> None:
    proc = smtpdiag("demo", "--width", "100", "--color", "never", timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    for domain in (
        "healthy.demo.test",
        "deadprimary.demo.test",
        "busy.demo.test",
        "badcert.demo.test",
    ):
        assert domain in proc.stdout
    assert "Traceback" not in proc.stderr


def test_trace_goes_to_stderr_json_stays_clean(lab: DemoLab) -> None:
    ns = f"{lab.nameserver.address}:{lab.nameserver.port}"
    proc = smtpdiag(
        "probe",
        "busy.demo.test",
        "--json",
        "--trace",
        "--nameserver",
        ns,
        "--ports",
        ",".join(map(str, lab.ports)),
        "--implicit-tls-ports",
        str(lab.implicit_tls_port),
        "-4",
        "--allow-targets",
        "127.0.0.0/8",
        "--ca-file",
        lab.ca_file,
    )
    json.loads(proc.stdout)  # stdout is still only the JSON document
    lines = proc.stderr.splitlines()
    assert lines and all(line.startswith("smtpdiag: trace: ") for line in lines)
    # every route's connect and its 421 greeting, as they happened
    for port in lab.ports:
        label = f"mx.busy.demo.test[127.77.0.4]:{port}"
        assert any(f"{label} connect ok" in line for line in lines), proc.stderr
        assert any(f"{label} greeting reply" in line and "421 4.3.2" in line for line in lines), (
            proc.stderr
        )
