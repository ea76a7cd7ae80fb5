"""``smtpdiag bulk`` for a new user: output paths that would clobber the input, the
summary table's escaping, plurals and the ``--workers`` range."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from smtpdiag.cli import main
from smtpdiag.testing.bulklab import BulkLab, bulk_lab
from smtpdiag.triage.model import BulkSummary
from smtpdiag.triage.output import render_table

DOMAINS = [f"h{i}.test" for i in range(1, 4)]


@pytest.fixture(scope="module")
def lab() -> Iterator[BulkLab]:
    with bulk_lab({"mx.h.test": "127.88.9.1"}, {d: ("mx.h.test",) for d in DOMAINS}) as running:
        yield running


@pytest.fixture
def args(lab: BulkLab, bulk_argv: Callable[[BulkLab], list[str]]) -> list[str]:
    return [*bulk_argv(lab), "--greeting-timeout", "2", "--timeout", "6", "--workers", "0"]


# ------------------------------------------------------------- 1. output = input


@pytest.mark.parametrize(
    "flags",
    [
        ["-o", "{src}"],
        ["--recipients", "{src}"],
        ["-o", "{src}", "--resume"],
        ["-o", "{dot}"],  # ./ form of the same path
        ["-o", "{link}"],  # a symlink to the input
        ["-o", "{out}", "--recipients", "{out}"],
        ["-o", "{out}", "--recipients", "{outlink}"],
    ],
)
def test_output_that_is_the_input_or_the_other_output_is_refused(
    flags: list[str],
    args: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    source = tmp_path / "list.txt"
    text = "\n".join(DOMAINS) + "\n"
    source.write_text(text)
    (tmp_path / "link.txt").symlink_to(source)
    out = tmp_path / "same.ndjson"
    out.write_text("")
    (tmp_path / "outlink.ndjson").symlink_to(out)
    names = {
        "src": str(source),
        "dot": "./list.txt",
        "link": str(tmp_path / "link.txt"),
        "out": str(out),
        "outlink": "outlink.ndjson",
    }
    argv = ["bulk", str(source), *(f.format(**names) for f in flags), *args]
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1, captured.err
    assert "same file" in captured.err
    assert captured.out == ""
    assert source.read_text() == text  # the input is untouched
    assert out.read_text() == ""  # nothing opened, nothing written


def test_distinct_outputs_and_stdin_still_run(
    args: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "list.txt"
    source.write_text("\n".join(DOMAINS) + "\n")
    out, rcpt = tmp_path / "out.ndjson", tmp_path / "rcpt.ndjson"
    assert main(["bulk", str(source), "-o", str(out), "--recipients", str(rcpt), *args]) == 0
    assert sorted(json.loads(x)["domain"] for x in out.read_text().splitlines()) == DOMAINS
    capsys.readouterr()


# ------------------------------------------------------------- 2. table escaping


def _summary(**kwargs: object) -> BulkSummary:
    fields: dict[str, object] = dict(
        inputs=3, errors=0, domains=3, recipients=0, skipped=0, routes_probed=1, elapsed_s=1.0
    )
    fields.update(kwargs)
    return BulkSummary(**fields)  # type: ignore[arg-type]


def test_table_prints_bracketed_and_hostile_names_literally() -> None:
    hostile = "[bold]evil.test[/bold] [link=https://x.test]click[/link]"
    summary = _summary(
        by_provider={
            "[none]": {"domains": 1, "failed": 1},
            "[failed]": {"domains": 1, "failed": 1},
            hostile: {"domains": 1, "healthy": 1},
        },
        by_code={"[4.4.2]": 2, "none": 1},
        recipient_decisions={"[keep]": 1},
    )
    table = render_table(summary, width=200)
    for text in ("[none]", "[failed]", "[4.4.2]", "[keep]", hostile):
        assert text in table, text


# ------------------------------------------------------------- 4. small ones


def test_one_domain_is_singular() -> None:
    from smtpdiag.cli.bulk import _progress_text
    from smtpdiag.triage.run import RunStats

    table = render_table(_summary(domains=1, recipients=1, errors=1, routes_probed=1))
    first = table.splitlines()[0]
    assert first.startswith("1 domain (1/s), 1 recipient, 1 error, 0 skipped, 1 route probed")
    stats = RunStats(domains=1, routes_probed=1, errors=1)
    assert _progress_text(stats, 0.5).startswith("1 domain (2/s), 1 route, 1 error,")
    stats = RunStats(domains=2, routes_probed=3, errors=0)
    assert _progress_text(stats, 1.0).startswith("2 domains (2/s), 3 routes, 0 errors,")


@pytest.mark.parametrize("value", ["-1", "65", "many", "-1.5"])
def test_workers_out_of_range_is_one_clear_line(
    value: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "list.txt"
    source.write_text("h1.test\n")
    assert main(["bulk", str(source), "--workers", value]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert "--workers" in err and "0-64 or auto" in err, err
    assert "expected one argument" not in err


def test_negative_workers_via_subprocess(tmp_path: Path) -> None:
    import subprocess
    import sys

    source = tmp_path / "list.txt"
    source.write_text("h1.test\n")
    proc = subprocess.run(
        [sys.executable, "-m", "smtpdiag", "bulk", str(source), "--workers", "-1"],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ),
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "0-64 or auto" in proc.stderr


def test_a_forced_format_that_matches_nothing_is_a_usage_error(
    tmp_path: Path, args: list[str]
) -> None:
    """A Postfix log read as an Exim log: no target, no error record, exit 0 before."""
    import subprocess
    import sys

    log = tmp_path / "mail.log"
    log.write_text(
        "Nov 23 10:00:01 mail postfix/smtp[11]: ABCD1: to=<ann@h1.test>, relay=none, "
        "delay=30, delays=0/0/30/0, dsn=5.1.1, status=bounced (user unknown)\n"
        "Nov 23 10:00:02 mail postfix/qmgr[12]: ABCD1: removed\n"
    )
    proc = subprocess.run(
        [sys.executable, "-m", "smtpdiag", "bulk", str(log), "--input-format", "exim-log", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert "--input-format exim-log matched nothing" in proc.stderr
    assert "detected format postfix-log" in proc.stderr
    assert '"type":"domain"' not in proc.stdout.replace(" ", "")
