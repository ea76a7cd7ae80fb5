"""``smtpdiag explain``: in-process runs of ``smtpdiag.cli.main``, one subprocess run, and
``--probe`` against the demo lab (real local DNS and scripted SMTP servers on loopback)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from smtpdiag.cli import main

ROOT = Path(__file__).resolve().parents[2]
CASES = ROOT / "fixtures" / "bounces" / "cases"
LINE = "451 4.4.2 <user@example.com>: Connection failure - connection dropped"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["explain", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def set_stdin(monkeypatch: pytest.MonkeyPatch, data: bytes, tty: bool = False) -> None:
    stream = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8")
    monkeypatch.setattr(stream, "isatty", lambda: tty)
    monkeypatch.setattr(sys, "stdin", stream)


def test_text_argument(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--width", "80", LINE)
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0].startswith("451 4.4.2 Connection failure: soft bounce")
    assert "Action: retry" in out
    assert out.count("  retry ") == 5 and "(last try)" in out
    assert "  - Connection dropped: the connection was established" in out
    assert all(len(line) <= 80 for line in lines)


def test_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--json", LINE)
    assert code == 0
    doc: dict[str, Any] = json.loads(out)
    assert doc["kind"] == "explanation" and doc["found"] is True
    assert doc["code"]["code"] == "4.4.2" and doc["severity"] == "soft"
    assert doc["bounce"]["recipient"] == "user@example.com"
    assert doc["knowledge"]["code"] == "4.4.2"
    assert [a["after_previous_s"] for a in doc["action"]["schedule"]] == [
        1800,
        3600,
        7200,
        14400,
        86400,
    ]
    assert doc["probe"] is None and doc["confirmation"] is None


@pytest.mark.parametrize("argv", [[], ["-"]])
def test_stdin(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, argv: list[str]
) -> None:
    set_stdin(monkeypatch, (CASES / "sendmail_dsn_441_delayed.eml").read_bytes())
    code, out, _ = run(capsys, "--json", *argv)
    assert code == 0
    doc = json.loads(out)
    assert doc["bounce"]["source"] == "dsn" and doc["code"]["code"] == "4.4.1"


def test_file(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--file", str(CASES / "postfix_dsn_542.eml"))
    assert code == 0
    assert out.startswith("550 5.4.2 Bad connection (permanent): hard bounce")
    assert "Action: suppress" in out
    assert "remote MTA: mx.example.net" in out


def test_no_code_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    words = "Delivery to the following recipient failed permanently: mallory@example.com"
    code, out, _ = run(capsys, words)
    assert code == 1
    assert out.startswith("No status code found")
    code, out, _ = run(capsys, "--json", "just words")
    assert code == 1 and json.loads(out)["found"] is False


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["x", "--file", "y"], "either TEXT or --file"),
        (["--file", "/nonexistent/bounce.eml"], "cannot read"),
        (["--width", "10", LINE], "--width"),
        (["--domain", "example.com", LINE], "--domain only"),
        (["--probe", "550 5.4.2 Bad connection"], "no recipient domain"),
        (["--probe", "--ports", "0", LINE], "bad port"),
        (["--bogus"], "unrecognized"),
    ],
)
def test_usage_errors_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert message in err


def test_terminal_stdin_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    set_stdin(monkeypatch, b"", tty=True)
    code, _, err = run(capsys)
    assert code == 2 and "nothing to explain" in err


def test_subprocess_json() -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "smtpdiag",
            "explain",
            "--json",
            "--file",
            str(CASES / "gmail_421_rate.txt"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    doc = json.loads(proc.stdout)
    assert doc["code"]["code"] == "4.7.28"
    assert doc["action"]["kind"] == "retry"


# --------------------------------------------------------------------- --probe


@pytest.fixture(scope="module")
def lab() -> Iterator[Any]:
    from smtpdiag.demo import demo_lab

    with demo_lab(seed=23) as running:
        yield running


def probe_args(lab: Any) -> list[str]:
    return [
        "--probe",
        "--nameserver",
        f"{lab.nameserver.address}:{lab.nameserver.port}",
        "--ports",
        ",".join(str(p) for p in lab.ports),
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
        "8",
        "--connect-timeout",
        "1",
        "--greeting-timeout",
        "2",
        "--command-timeout",
        "2",
        "--tls-timeout",
        "2",
    ]


def test_probe_confirms_432(capsys: pytest.CaptureFixture[str], lab: Any) -> None:
    code, out, err = run(
        capsys,
        "--json",
        *probe_args(lab),
        "421 4.3.2 <user@busy.demo.test>: Service currently unavailable",
    )
    assert err == ""
    doc = json.loads(out)
    assert doc["confirmation"]["status"] == "confirmed"
    assert doc["probe"]["diagnosis"]["primary"] == "4.3.2"
    assert code == 3  # the probe's verdict: failed


def test_probe_not_reproduced_on_healthy(capsys: pytest.CaptureFixture[str], lab: Any) -> None:
    code, out, _ = run(
        capsys, *probe_args(lab), "550 5.4.3 <user@healthy.demo.test>: Routing server failure"
    )
    assert code == 0
    assert "Probe now: not-reproduced" in out
    assert "re-check before suppressing" in out


def test_probe_domain_override_and_neighbour(capsys: pytest.CaptureFixture[str], lab: Any) -> None:
    code, out, _ = run(
        capsys,
        "--json",
        *probe_args(lab),
        "--domain",
        "deadprimary.demo.test",
        "451 4.4.1 connect to mx1 refused",
    )
    doc = json.loads(out)
    assert doc["confirmation"]["status"] == "confirmed"
    assert doc["probe"]["domain"] == "deadprimary.demo.test"
    assert code == 1  # degraded: the backup MX works


def test_dead_primary_confirms_543_by_condition(
    capsys: pytest.CaptureFixture[str], lab: Any
) -> None:
    # The report names the dead primary once (the fallback finding, no code); the
    # condition a 5.4.3 names (an MX host that accepts nothing) still holds.
    code, out, _ = run(
        capsys,
        "--json",
        *probe_args(lab),
        "--domain",
        "deadprimary.demo.test",
        "550 5.4.3 Routing server failure",
    )
    doc = json.loads(out)
    rules = [f["rule"] for f in doc["probe"]["diagnosis"]["findings"]]
    assert rules == ["primary-down-secondary-ok"]
    assert doc["confirmation"]["status"] == "confirmed"
    assert code == 1
