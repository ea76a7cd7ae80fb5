"""The TLS policy on the command line, against the demo's servers (its healthy domain
publishes MTA-STS in mode enforce, served over HTTPS on loopback, and TLS-RPT):
``--no-policy``, ``--mta-sts-port``, ``check --require-mta-sts`` / ``--require-dane``."""

from __future__ import annotations

import json
from collections.abc import Iterator

import jsonschema  # type: ignore[import-untyped,unused-ignore]
import pytest

from smtpdiag.cli import main
from smtpdiag.demo import DemoLab, demo_lab
from smtpdiag.report.jsonout import load_schema


@pytest.fixture(scope="module")
def lab() -> Iterator[DemoLab]:
    with demo_lab(seed=31) as running:
        yield running


def args(lab: DemoLab, *, port: bool = True) -> list[str]:
    ns = lab.nameserver
    out = [
        "--nameserver",
        f"{ns.address}:{ns.port}",
        "--ports",
        str(lab.ports[0]),
        "-4",
        "--ca-file",
        lab.ca_file,
        "--allow-targets",
        "127.0.0.0/8",
        "--timeout",
        "8",
    ]
    return [*out, "--mta-sts-port", str(lab.mta_sts_port)] if port else out


def test_probe_reports_the_policy(lab: DemoLab, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["probe", "healthy.demo.test", "--json", *args(lab)])
    doc = json.loads(capsys.readouterr().out)
    jsonschema.Draft202012Validator(load_schema()).validate(doc)
    assert code == 0
    assert doc["policy"]["mta_sts"]["status"] == "valid"
    assert doc["policy"]["mta_sts"]["policy"]["mode"] == "enforce"
    assert doc["policy"]["tls_rpt"]["rua"] == ["mailto:tlsrpt@healthy.demo.test"]


def test_no_policy(lab: DemoLab, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["probe", "healthy.demo.test", "--json", "--no-policy", *args(lab)])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0 and doc["policy"] is None


def test_policy_host_on_the_wrong_port_is_a_fetch_error(
    lab: DemoLab, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["probe", "healthy.demo.test", "--json", *args(lab, port=False)])
    doc = json.loads(capsys.readouterr().out)
    assert code == 1  # degraded: a broken feature, mail flows
    assert doc["policy"]["mta_sts"]["status"] == "fetch-error"
    assert "mta-sts-fetch-failed" in [f["rule"] for f in doc["diagnosis"]["findings"]]


@pytest.mark.parametrize(
    ("domain", "flags", "code", "words"),
    [
        ("healthy.demo.test", ["--require-mta-sts", "enforce"], 0, "SMTPDIAG OK"),
        ("badcert.demo.test", ["--require-mta-sts", "testing"], 2, "publishes no MTA-STS"),
        ("healthy.demo.test", ["--require-dane"], 2, "DANE required: mx1.healthy.demo.test"),
    ],
)
def test_check_requirements(
    lab: DemoLab,
    capsys: pytest.CaptureFixture[str],
    domain: str,
    flags: list[str],
    code: int,
    words: str,
) -> None:
    got = main(["check", domain, "--plugin", *flags, *args(lab)])
    out = capsys.readouterr().out
    assert got == code, out
    assert words in out
    if code == 0:
        assert "'mta_sts_mode'=2" in out


def test_bad_requirement_is_a_usage_error(lab: DemoLab, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["check", "healthy.demo.test", "--require-mta-sts", "none", *args(lab)])
    err = capsys.readouterr().err
    assert code == 2
    assert "--require-mta-sts" in err and len(err.strip().splitlines()) <= 2
