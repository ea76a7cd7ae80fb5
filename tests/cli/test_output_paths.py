"""Output paths are checked before anything is probed: a mistyped ``--output`` costs one
usage line, not a whole probe (the local DNS server is never asked)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from smtpdiag.cli import main

ZONE = {"out.test": {"@": ["MX 10 mx.out.test."], "mx": ["A 127.0.0.1"]}}


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("/proc/x", "cannot write --output /proc/x"),
        ("{tmp}", "it is a directory"),
        ("{tmp}/missing/dir/out.prom", "No such file or directory"),
    ],
)
@pytest.mark.parametrize("mode", [[], ["--plugin"]])
def test_check_output_is_checked_before_the_probe(
    dns_server_thread: Callable[..., Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    path: str,
    why: str,
    mode: list[str],
) -> None:
    dns = dns_server_thread(ZONE)
    ns = f"{dns.address}:{dns.port}"
    target = path.format(tmp=tmp_path)
    code = main(["check", "out.test", "--nameserver", ns, "--output", target, *mode])
    out, err = capsys.readouterr()
    assert dns.server.received == [], "the probe ran before the output path was checked"
    if mode:  # a monitoring plugin: one status line, UNKNOWN
        assert code == 3 and why in out and out.count("\n") == 1, out
    else:
        assert code == 2, err
        assert err.count("\n") == 1 and why in err, err
    assert "Traceback" not in err


def test_a_writable_output_path_is_left_as_it_was_until_written(tmp_path: Path) -> None:
    """The check writes nothing at the path (the report replaces it at the end)."""
    from smtpdiag.cli.common import check_output_path

    target = tmp_path / "report.prom"
    target.write_text("previous\n")
    check_output_path(str(target), "--output")
    assert target.read_text() == "previous\n"
    assert [p.name for p in tmp_path.iterdir()] == ["report.prom"]


@pytest.mark.parametrize("flag", ["-o", "--recipients"])
def test_bulk_outputs_are_checked_before_the_first_domain(
    dns_server_thread: Callable[..., Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    flag: str,
) -> None:
    dns = dns_server_thread(ZONE)
    source = tmp_path / "list.txt"
    source.write_text("out.test\n")
    ns = f"{dns.address}:{dns.port}"
    code = main(["bulk", str(source), "--nameserver", ns, "--workers", "0", flag, "/proc/x"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "/proc/x" in err, err
    assert dns.server.received == []
