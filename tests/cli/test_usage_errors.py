"""Bad user input: one clear line on stderr, exit code 2, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from smtpdiag.cli import main

BAD_ARGS = [
    pytest.param(["probe", "exa mple.org"], id="space-in-domain"),
    pytest.param(["probe", "-"], id="dash-domain"),
    pytest.param(["probe", "a" * 300 + ".org"], id="too-long-domain"),
    pytest.param(["probe", "x\x1b[31m.org"], id="escape-in-domain"),
    pytest.param(["probe", "example.org", "--ports", "25,abc"], id="bad-port"),
    pytest.param(["probe", "example.org", "--ports", "0"], id="port-zero"),
    pytest.param(["probe", "example.org", "--ports", "25,25"], id="port-twice"),
    pytest.param(["probe", "example.org", "--ports", ""], id="empty-ports"),
    pytest.param(["probe", "example.org", "--nameserver", "dns.example"], id="ns-name"),
    pytest.param(["probe", "example.org", "--nameserver", "127.0.0.1:99999"], id="ns-port"),
    pytest.param(["probe", "example.org", "--ca-file", "/nonexistent/ca.pem"], id="ca-missing"),
    pytest.param(["probe", "example.org", "--timeout", "-1"], id="neg-timeout"),
    pytest.param(["probe", "example.org", "--timeout", "abc"], id="nan-timeout"),
    pytest.param(["probe", "example.org", "--source-address", "nowhere"], id="bad-source"),
    pytest.param(["probe", "example.org", "--ehlo-name", "bad name"], id="bad-ehlo"),
    pytest.param(["probe"], id="missing-domain"),
    pytest.param(["frobnicate"], id="unknown-command"),
    pytest.param([], id="no-command"),
]


@pytest.mark.parametrize("argv", BAD_ARGS)
def test_bad_input_exit_2_one_line(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("smtpdiag: error:")
    assert "Traceback" not in err
    assert "\x1b" not in err
    assert out == ""


def test_missing_ca_file_is_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # (A chmod-0 file proves nothing here: tests run as root in CI, and root reads it.)
    code = main(["probe", "example.org", "--ca-file", str(tmp_path / "dir-does-not-exist" / "x")])
    assert code == 2
    assert "cannot read CA file" in capsys.readouterr().err


def test_subprocess_no_traceback() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "smtpdiag", "probe", "bad..domain", "--nameserver", "127.0.0.1"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1
    assert "Traceback" not in proc.stderr


NS = ["--nameserver", "127.0.0.1:9"]  # never asked: every case fails before resolving


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["probe", "x.test", "--timeout", "-1"], "seconds must be > 0"),
        (["probe", "x.test", "--timeout", "-4"], "seconds must be > 0"),  # also an option
        (["probe", "x.test", "--dns-timeout", "-0.5"], "seconds must be > 0"),
        (["probe", "x.test", "--connect-timeout", "-1e3"], "seconds must be > 0"),
        (["probe", "x.test", "--width", "-1"], "--width must be 40-400"),
        (["probe", "x.test", "--mta-sts-port", "-1"], "port must be 1-65535"),
        (["check", "x.test", "--warn-connect", "-1"], "seconds must be > 0"),
        (["check", "x.test", "--cert-warn-days", "-1"], "days must be 0-3650"),
        (["check", "x.test", "--timeout", "-6"], "seconds must be > 0"),
        (["watch", "x.test", "--interval", "-1"], "must be > 0"),
        (["watch", "x.test", "--count", "-1"], "count must be a positive integer"),
        (["explain", "--width", "-1", "550 5.1.1 x"], "--width must be 40-400"),
        (["bulk", "-", "--concurrency", "-1"], "must be 1-4096"),
        (["bulk", "-", "--domain-deadline", "-1"], "seconds must be > 0"),
        (["bulk", "-", "--timeout", "-1"], "seconds must be > 0"),
    ],
)
def test_a_negative_value_is_checked_not_taken_for_an_option(
    argv: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--timeout -1`` said "expected one argument": the parsers have -4 and -6, so
    argparse took every negative number for an option."""
    code = main([*argv, *NS])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err.count("\n") == 1, err
    assert says in err, err
    assert "expected one argument" not in err


def test_an_option_after_a_value_option_is_still_an_option(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Only a negative number is joined to the option before it: ``-4`` after a flag
    that takes no value stays the IPv4-only option."""
    from smtpdiag.cli import build_parser

    args = build_parser(["probe"]).parse_args(["probe", "x.test", "--json", "-4", *NS])
    assert args.family == "4" and args.json
