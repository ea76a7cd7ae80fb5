"""Local mistakes are usage errors (exit 2), not a diagnosis that blames the recipient.

Found by the acceptance audit: a source address this machine does not own, a source
address of the family excluded by -4/-6, and a CA file whose PEM blocks hold no
certificate used to run the probe and report a 5.4.2 "bad connection" or "certificate
not verified" hard bounce against the destination.
"""

from __future__ import annotations

import contextlib
import socket
from pathlib import Path

import pytest

from smtpdiag.cli import main

# Never asked: every case fails before DNS. Still a local address, per the team rules.
NS = ["--nameserver", "127.0.0.1:1"]

# Documentation/benchmark ranges (RFC 5737, RFC 2544, RFC 3849): binding only, no traffic.
CANDIDATES = ["198.51.100.254", "198.18.0.254", "2001:db8:ffff::254"]


def _foreign_address() -> str:
    """A documentation address this machine does not own (bind fails)."""
    for address in CANDIDATES:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        try:
            with contextlib.closing(socket.socket(family, socket.SOCK_STREAM)) as sock:
                sock.bind((address, 0))
        except OSError:
            return address
    pytest.skip("every candidate documentation address is local here (lab up?)")


def _assert_usage_error(argv: list[str], capsys: pytest.CaptureFixture[str], needle: str) -> None:
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 2, (code, out[:300], err)
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("smtpdiag: error:")
    assert needle in lines[0]
    assert out == ""


@pytest.mark.parametrize("command", ["probe", "check", "watch"])
def test_source_address_not_on_this_machine(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    address = _foreign_address()
    argv = [command, "example.org", *NS, "--source-address", address, "--timeout", "1"]
    if command == "watch":
        argv += ["--count", "1", "--interval", "1"]
    _assert_usage_error(argv, capsys, f"source address {address}")


@pytest.mark.parametrize(
    ("flag", "address"), [("-4", "::1"), ("-6", "127.0.0.1")], ids=["v6-source-with-4", "v4-with-6"]
)
def test_source_address_of_an_excluded_family(
    flag: str, address: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["probe", "example.org", *NS, flag, "--source-address", address, "--timeout", "1"]
    _assert_usage_error(argv, capsys, f"source address {address}")


@pytest.mark.parametrize(
    "content",
    [
        b"-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----\n",
        b"-----BEGIN CERTIFICATE-----\n",
    ],
    ids=["garbage-block", "unterminated-block"],
)
def test_ca_file_without_a_usable_certificate(
    content: bytes, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_bytes(content)
    argv = ["probe", "example.org", *NS, "--ca-file", str(ca), "--timeout", "1"]
    _assert_usage_error(argv, capsys, "CA file")


def test_ca_file_that_is_a_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Root reads a chmod-000 file anyway; a directory is unreadable for everyone.
    argv = ["probe", "example.org", *NS, "--ca-file", str(tmp_path), "--timeout", "1"]
    _assert_usage_error(argv, capsys, "cannot read CA file")


@pytest.mark.parametrize(
    ("argv", "families"),
    [
        (["--source-address", "::1"], ("ipv6",)),
        (["--source-address", "127.0.0.1"], ("ipv4",)),
        ([], ("ipv4", "ipv6")),
        (["-4"], ("ipv4",)),
    ],
    ids=["v6-source", "v4-source", "no-source", "dash-4"],
)
def test_source_address_picks_its_family(argv: list[str], families: tuple[str, ...]) -> None:
    """One source address can only reach its own family: without -4/-6 only that one is
    probed, instead of failing every route of the other family as if the MX refused."""
    from smtpdiag.cli import build_parser
    from smtpdiag.cli.common import config_from_args

    args = build_parser().parse_args(["probe", "example.org", *NS, *argv])
    assert tuple(f.value for f in config_from_args(args).families) == families
