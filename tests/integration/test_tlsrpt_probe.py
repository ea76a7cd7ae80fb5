"""``tlsrpt --probe``: reported failures checked against real loopback servers.

A local DNS server names three MX hosts of ``tlsrpt.test``: one presents a certificate
for another name (certificate-host-mismatch), one offers no STARTTLS
(starttls-not-supported), one is healthy (a reported certificate-expired there is not
reproduced). Reports name them, plus routes that cannot be tested from here.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped,unused-ignore]
import pytest
from factories.tlsrpt_cases import google_report, gz, report_message, write_mbox

from smtpdiag import check_tls_reports, read_tls_reports
from smtpdiag.config import (
    Nameserver,
    PolicyConfig,
    ProbeConfig,
    ResolverConfig,
    Timeouts,
    TlsConfig,
)
from smtpdiag.model import AddressFamily
from smtpdiag.testing.certs import TestPki
from smtpdiag.testing.dnsserver import ThreadedDnsServer
from smtpdiag.testing.ports import pick_shared_ports
from smtpdiag.testing.smtpserver import Behaviour, ServerSet, ServerSpec
from smtpdiag.tlsreports import SummaryBuilder

ROOT = Path(__file__).resolve().parents[2]
VALIDATOR = jsonschema.Draft202012Validator(
    json.loads((ROOT / "smtpdiag" / "report" / "tlsrpt_schema.json").read_text())
)
HOSTS = {
    "mx1.tlsrpt.test": ("127.78.0.1", Behaviour.HEALTHY, "wrong-name"),
    "mx2.tlsrpt.test": ("127.78.0.2", Behaviour.NO_STARTTLS, "good"),
    "mx3.tlsrpt.test": ("127.78.0.3", Behaviour.HEALTHY, "good"),
}


@dataclass(frozen=True)
class Lab:
    nameserver: Nameserver
    ca_file: str
    port: int

    def config(self) -> ProbeConfig:
        return ProbeConfig(
            ports=(self.port,),
            families=(AddressFamily.IPV4,),
            timeouts=Timeouts(connect=1.0, total=10.0),
            resolver=ResolverConfig(nameservers=(self.nameserver,)),
            tls=TlsConfig(ca_file=self.ca_file),
            allow_targets=("127.78.0.0/16",),
            policy=PolicyConfig(https_port=1, fetch_timeout=1.0),
        )

    def argv(self) -> list[str]:
        return [
            "--nameserver",
            f"{self.nameserver.address}:{self.nameserver.port}",
            "--ports",
            str(self.port),
            "-4",
            "--allow-targets",
            "127.78.0.0/16",
            "--ca-file",
            self.ca_file,
            "--timeout",
            "10",
            "--connect-timeout",
            "1",
        ]


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    pki = TestPki(names=tuple(HOSTS))
    port = pick_shared_ports([a for a, _, _ in HOSTS.values()], random.Random())[0]
    specs = [
        ServerSpec(host, behaviour, False, cert, address, host, port)
        for host, (address, behaviour, cert) in HOSTS.items()
    ]
    zones: dict[str, Any] = {
        "tlsrpt.test": {
            "@": ["MX 10 mx1", "MX 20 mx2", "MX 30 mx3"],
            **{h.split(".")[0]: [f"A {a}"] for h, (a, _, _) in HOSTS.items()},
        },
        "private.test": {"@": ["MX 10 mx"], "mx": ["A 10.255.0.1"]},
        # An MTA-STS record whose policy host serves nothing (https_port 1: refused).
        "sts.test": {
            "@": ["MX 10 mx3.tlsrpt.test."],
            "_mta-sts": ['TXT "v=STSv1; id=20261201"'],
            "mta-sts": ["A 127.78.0.9"],
        },
        # An MX address with no server on it.
        "dead.test": {"@": ["MX 10 mx"], "mx": ["A 127.78.0.4"]},
    }
    servers = ServerSet(specs, pki=pki)
    servers.start()
    try:
        with ThreadedDnsServer(zones=zones) as dns:
            yield Lab(dns.nameserver, str(pki.ca_file), port)
    finally:
        servers.stop()
        pki.cleanup()


def _detail(result: str, host: str | None, ip: str | None, n: int) -> dict[str, Any]:
    d: dict[str, Any] = {"result-type": result, "failed-session-count": n}
    if host:
        d["receiving-mx-hostname"] = host
    if ip:
        d["receiving-ip"] = ip
    return d


@pytest.fixture
def mbox(tmp_path: Path) -> Path:
    failures = [
        _detail("certificate-host-mismatch", "mx1.tlsrpt.test", "127.78.0.1", 1204),
        _detail("starttls-not-supported", "mx2.tlsrpt.test", None, 40),
        _detail("certificate-expired", "mx3.tlsrpt.test", "127.78.0.3", 7),
        _detail("certificate-expired", "mx9.tlsrpt.test", None, 2),
        _detail("validation-failure", "mx1.tlsrpt.test", "2001:db8::1", 3),
        _detail("made-up-result", "mx1.tlsrpt.test", None, 1),
    ]
    messages = [
        report_message(google_report("tlsrpt.test", day, failures=failures))
        for day in ("2026-12-01", "2026-12-02")
    ]
    private = [_detail("certificate-not-trusted", "mx.private.test", "10.255.0.1", 5)]
    messages.append(report_message(google_report("private.test", failures=private)))
    return write_mbox(tmp_path / "reports.mbox", messages)


def _by_route(checks: list[Any]) -> dict[tuple[Any, ...], Any]:
    return {(c.receiving_mx_hostname, c.receiving_ip, c.result_type): c for c in checks}


async def test_checks_against_the_servers(lab: Lab, mbox: Path) -> None:
    builder = SummaryBuilder()
    for item in read_tls_reports([mbox]):
        builder.add(item)
    checks = await check_tls_reports(builder.summary().failures, lab.config())
    by = _by_route(checks)
    mismatch = by[("mx1.tlsrpt.test", "127.78.0.1", "certificate-host-mismatch")]
    assert mismatch.status == "reproduced", mismatch
    # Another MX host delivers, so no sender logs a code for this one (issue 18 policy);
    # the finding that reproduces the result type is named all the same.
    assert mismatch.failed_sessions == 2408 and mismatch.finding is not None
    assert mismatch.routes == (f"mx1.tlsrpt.test[127.78.0.1]:{lab.port}",)
    starttls = by[("mx2.tlsrpt.test", None, "starttls-not-supported")]
    assert starttls.status == "reproduced" and starttls.finding is not None, starttls
    healthy = by[("mx3.tlsrpt.test", "127.78.0.3", "certificate-expired")]
    assert healthy.status == "not-reproduced" and healthy.seen == (), healthy
    assert "passes now" in healthy.summary
    gone = by[("mx9.tlsrpt.test", None, "certificate-expired")]
    assert (gone.status, gone.why) == ("not-testable", "route-not-found")
    v6 = by[("mx1.tlsrpt.test", "2001:db8::1", "validation-failure")]
    assert (v6.status, v6.why) == ("not-testable", "family")
    odd = by[("mx1.tlsrpt.test", None, "made-up-result")]
    assert (odd.status, odd.why) == ("not-testable", "unknown-result-type")
    private = by[("mx.private.test", "10.255.0.1", "certificate-not-trusted")]
    assert (private.status, private.why) == ("not-testable", "address-policy")


def test_cli_probe_subprocess(lab: Lab, mbox: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "smtpdiag", "tlsrpt", str(mbox), "--probe", "--json", *lab.argv()],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 3, proc.stderr  # a reported failure is reproduced now
    docs = [json.loads(line) for line in proc.stdout.splitlines()]
    for doc in docs:
        VALIDATOR.validate(doc)
    kinds = [d["kind"] for d in docs]
    assert kinds == ["report"] * 3 + ["check"] * 7 + ["summary"]
    statuses = {(d["receiving_mx_hostname"], d["result_type"]): d["status"] for d in docs[3:-1]}
    assert statuses[("mx1.tlsrpt.test", "certificate-host-mismatch")] == "reproduced"
    assert statuses[("mx2.tlsrpt.test", "starttls-not-supported")] == "reproduced"
    assert statuses[("mx3.tlsrpt.test", "certificate-expired")] == "not-reproduced"
    text = subprocess.run(
        [
            sys.executable,
            "-m",
            "smtpdiag",
            "tlsrpt",
            str(mbox),
            "--probe",
            "--width",
            "120",
            *lab.argv(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "checked now" in text.stderr and "Reproduced: mx1.tlsrpt.test" in text.stderr


def test_unreadable_reports_do_not_stop_the_probe(lab: Lab, tmp_path: Path) -> None:
    (tmp_path / "bad.json.gz").write_bytes(gz(b"{not json"))
    good = google_report(
        "tlsrpt.test", failures=[_detail("starttls-not-supported", "mx2.tlsrpt.test", None, 1)]
    )
    (tmp_path / "good.json.gz").write_bytes(gz(good))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "smtpdiag",
            "tlsrpt",
            str(tmp_path),
            "--probe",
            "--json",
            *lab.argv(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    docs = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [d["kind"] for d in docs] == ["error", "report", "check", "summary"], proc.stderr
    assert docs[2]["status"] == "reproduced" and proc.returncode == 3


def test_probe_options_from_the_environment(lab: Lab, mbox: Path) -> None:
    """The probe options come from SMTPDIAG_* variables as for every probing command."""
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("SMTPDIAG_")}
    env.update(
        SMTPDIAG_NAMESERVER=f"{lab.nameserver.address}:{lab.nameserver.port}",
        SMTPDIAG_PORTS=str(lab.port),
        SMTPDIAG_FAMILY="4",
        SMTPDIAG_ALLOW_TARGETS="127.78.0.0/16",
        SMTPDIAG_CA_FILE=lab.ca_file,
        SMTPDIAG_CONNECT_TIMEOUT="1",
        SMTPDIAG_CONFIG="/nonexistent/no-config.toml",
    )
    env.pop("SMTPDIAG_CONFIG")
    proc = subprocess.run(
        [sys.executable, "-m", "smtpdiag", "tlsrpt", str(mbox), "--probe", "--json", "--no-config"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert proc.returncode == 3, proc.stderr
    checks = [json.loads(line) for line in proc.stdout.splitlines()]
    mismatch = next(c for c in checks if c.get("result_type") == "certificate-host-mismatch")
    assert mismatch["status"] == "reproduced"


async def test_policy_failure_and_unreachable_route(lab: Lab, tmp_path: Path) -> None:
    """sts-policy-fetch-error is about the domain, not a route: reproduced when the
    policy cannot be fetched now; a route nothing answers on is not testable."""
    sts = google_report("sts.test", failures=[_detail("sts-policy-fetch-error", None, None, 17)])
    dead = google_report(
        "dead.test", failures=[_detail("certificate-expired", "mx.dead.test", None, 5)]
    )
    (tmp_path / "sts.json.gz").write_bytes(gz(sts))
    (tmp_path / "dead.json.gz").write_bytes(gz(dead))
    builder = SummaryBuilder()
    for item in read_tls_reports([tmp_path]):
        builder.add(item)
    checks = await check_tls_reports(builder.summary().failures, lab.config())
    by = {c.policy_domain: c for c in checks}
    assert by["sts.test"].status == "reproduced", by["sts.test"]
    assert by["sts.test"].finding is not None
    assert (by["dead.test"].status, by["dead.test"].why) == ("not-testable", "no-connection")


def test_blocking_twin_from_plain_code(lab: Lab, mbox: Path) -> None:
    from smtpdiag import check_tls_reports_sync

    builder = SummaryBuilder()
    for item in read_tls_reports([mbox]):
        builder.add(item)
    checks = check_tls_reports_sync(builder.summary().failures, lab.config())
    by = _by_route(checks)
    assert by[("mx2.tlsrpt.test", None, "starttls-not-supported")].status == "reproduced"
