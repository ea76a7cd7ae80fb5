"""``smtpdiag explain --batch``: real subprocess runs over an mbox, a maildir, MTA logs,
``postqueue -j`` output and stdin; every line checked against the explain schema."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped,unused-ignore]
import pytest

from smtpdiag.cli import main

ROOT = Path(__file__).resolve().parents[2]
CASES = ROOT / "fixtures" / "bounces" / "cases"
BATCH = ROOT / "fixtures" / "bounces" / "batch"
MANIFEST: list[dict[str, Any]] = json.loads((ROOT / "fixtures/bounces/cases.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(
    json.loads((ROOT / "smtpdiag" / "report" / "explain_schema.json").read_text())
)


def smtpdiag(*argv: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "smtpdiag", "explain", *argv],
        input=stdin.decode() if stdin is not None else None,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )


def lines(out: str) -> list[dict[str, Any]]:
    docs = [json.loads(line) for line in out.splitlines()]
    for doc in docs:
        VALIDATOR.validate(doc)
    return docs


@pytest.fixture
def mbox(tmp_path: Path) -> Path:
    path = tmp_path / "bounces.mbox"
    with path.open("wb") as fh:
        for c in MANIFEST:
            fh.write(b"From MAILER-DAEMON Mon Nov 23 10:00:00 2026\n")
            fh.write((CASES / c["file"]).read_bytes().rstrip(b"\r\n") + b"\n\n")
    return path


# Fixtures that name no recipient: in a batch each is an ``error: no-recipient`` line.
NAMED = [c for c in MANIFEST if c.get("recipient") is not None]
UNNAMED = len(MANIFEST) - len(NAMED)


def test_mbox_ndjson_and_json_summary(mbox: Path) -> None:
    proc = smtpdiag("--batch", str(mbox), "--json")
    assert proc.returncode == 1, proc.stderr  # some inputs gave error records
    docs = lines(proc.stdout)
    summary = docs[-1]
    assert summary["kind"] == "summary"
    assert summary["inputs"] == len(MANIFEST)
    assert summary["inputs_with_records"] == len(NAMED)
    errors = [d for d in docs if d["kind"] == "error"]
    assert summary["errors"] == len(errors) == UNNAMED > 0
    assert {d["error"] for d in errors} == {"no-recipient"}
    records = [d for d in docs if d["kind"] == "record"]
    assert summary["records"] == len(records) == sum(c.get("records", 1) for c in NAMED)
    assert all(d["recipient"] for d in records)
    # every line is compact JSON, the summary too
    assert all(", " not in line[:40] and '": ' not in line for line in proc.stdout.splitlines())
    assert sum(summary["by_decision"].values()) == len(records)
    assert {"user-unknown", "mailbox-full", "expired", "mail-loop"} <= set(summary["by_reason"])
    assert proc.stderr == ""


def test_text_summary_goes_to_stderr(mbox: Path) -> None:
    proc = smtpdiag("--batch", str(mbox), "--width", "80")
    assert proc.returncode == 1
    assert {d["kind"] for d in lines(proc.stdout)} == {"record", "error"}
    assert "by reason" in proc.stderr and "by recipient domain" in proc.stderr
    assert "user-unknown" in proc.stderr and "suppress the address" in proc.stderr
    assert all(len(line) <= 80 for line in proc.stderr.splitlines())


def test_maildir_and_logs_in_one_run(tmp_path: Path) -> None:
    md = tmp_path / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (md / sub).mkdir(parents=True)
    for i, c in enumerate(MANIFEST[:10]):
        (md / "cur" / f"17000{i}.M1P1.host:2,S").write_bytes((CASES / c["file"]).read_bytes())
    proc = smtpdiag(
        "--batch",
        str(md),
        str(BATCH / "postfix.log"),
        str(BATCH / "exim.log"),
        str(BATCH / "postqueue.jsonl"),
        "--json",
    )
    assert proc.returncode == 1, proc.stderr  # the logs hold malformed lines
    docs = lines(proc.stdout)
    summary = docs[-1]
    errors = [d for d in docs if d["kind"] == "error"]
    assert summary["errors"] == len(errors) == 4
    assert summary["inputs"] == summary["inputs_with_records"] + summary["errors"]
    formats = {d["format"] for d in docs[:-1]}
    assert formats == {"maildir", "postfix-log", "exim-log", "postqueue"}
    queue = [d for d in docs if d.get("format") == "postqueue" and d["kind"] == "record"]
    assert [d["recipient"] for d in queue] == [
        "carol@example.net",
        "dave@example.net",
        "ida@example.com",
        "gina@example.org",
        "hugo@example.de",
    ]
    assert all(d["decision"] == "retry" and d["retry_at"] for d in queue)


def test_stdin_with_forced_format() -> None:
    data = (BATCH / "exim.log").read_bytes()
    proc = smtpdiag("--batch", "-", "--input-format", "exim-log", "--json", stdin=data)
    docs = lines(proc.stdout)
    assert {d["format"] for d in docs[:-1]} == {"exim-log"}
    assert docs[-1]["records"] == 5
    inferred = [d for d in docs if d.get("code_source") == "inferred"]
    assert {d["matched_phrase"] for d in inferred} >= {"retry timeout exceeded"}
    assert all(d["confidence"] == "low" for d in inferred)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--batch", "/nonexistent/bounces.mbox"], "no such file"),
        (["TEXT", "--batch", "fixtures/bounces/batch/exim.log"], "give no TEXT"),
        (["--input-format", "mbox", "550 5.1.1 x"], "only makes sense with --batch"),
        (["--batch", "fixtures/bounces/batch/exim.log", "--domain", "x.test"], "--domain works"),
        (["--batch", "x", "--input-format", "pdf"], "invalid choice"),
    ],
)
def test_usage_errors_are_one_line(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code = main(["explain", *argv])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert message in err and "Traceback" not in err


@pytest.mark.parametrize("case", MANIFEST, ids=[c["file"] for c in MANIFEST])
def test_explain_json_matches_schema(
    capsys: pytest.CaptureFixture[str], case: dict[str, Any]
) -> None:
    code = main(["explain", "--json", "--file", str(CASES / case["file"])])
    out, _ = capsys.readouterr()
    doc = json.loads(out)
    VALIDATOR.validate(doc)
    assert code == (0 if case["found"] else 1)
    assert doc["decision"] == case["decision"] and doc["reason"] == case["reason"]


# --------------------------------------------------------------------- --batch --probe


@pytest.fixture(scope="module")
def lab() -> Any:
    from smtpdiag.demo import demo_lab

    with demo_lab(seed=29) as running:
        yield running


def test_batch_probe_checks_each_network_domain_once(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, lab: Any
) -> None:
    log = tmp_path / "mail.log"
    line = (
        "Nov 23 10:00:0{n} mail postfix/smtp[1{n}]: ABCDE{n}: to=<{rcpt}>, relay=none, delay=30, "
        "delays=0/0/30/0, dsn={dsn}, status={status} ({reason})\n"
    )
    log.write_text(
        line.format(
            n=1,
            rcpt="a@healthy.demo.test",
            dsn="4.4.1",
            status="deferred",
            reason="connect to mx1.healthy.demo.test[127.77.0.1]:25: Connection timed out",
        )
        + line.format(
            n=2,
            rcpt="b@healthy.demo.test",
            dsn="4.4.1",
            status="deferred",
            reason="connect to mx1.healthy.demo.test[127.77.0.1]:25: Connection timed out",
        )
        + line.format(
            n=3,
            rcpt="c@busy.demo.test",
            dsn="5.1.1",
            status="bounced",
            reason="host mx.busy.demo.test[127.77.0.4] said: 550 5.1.1 User unknown",
        )
        + line.format(
            n=4,
            rcpt="d@deadprimary.demo.test",
            dsn="4.4.1",
            status="deferred",
            reason="connect to mx1.deadprimary.demo.test[127.77.0.2]:25: Connection refused",
        )
    )
    argv = [
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
        "--timeout",
        "8",
        "--connect-timeout",
        "1",
        "--allow-targets",
        "127.0.0.0/8",
        "--mta-sts-port",
        str(lab.mta_sts_port),
    ]
    code = main(["explain", "--batch", str(log), "--probe", "--json", *argv])
    out, err = capsys.readouterr()
    assert code == 0, err
    docs = lines(out)
    confirmations = {d["domain"]: d for d in docs if d["kind"] == "confirmation"}
    assert list(confirmations) == ["healthy.demo.test", "deadprimary.demo.test"]
    healthy = confirmations["healthy.demo.test"]
    assert healthy["records"] == 2 and healthy["status"] == "not-reproduced"
    assert healthy["verdict"] == "healthy"
    dead = confirmations["deadprimary.demo.test"]
    assert dead["verdict"] == "degraded" and dead["status"] in ("confirmed", "different")
    assert docs[-1]["kind"] == "summary" and docs[-1]["records"] == 4
    # the text form: a paragraph per probed domain on stderr
    code = main(["explain", "--batch", str(log), "--probe", "--width", "80", *argv])
    _, err = capsys.readouterr()
    assert "probed now (2 domains" in err and "healthy.demo.test (2 records" in err


# ------------------------------------------------- nothing read is lost, even silently

_POSTFIX = (
    "Nov 23 10:00:00 mail postfix/smtpd[10]: connect from client.test[127.0.0.1]\n"
    "Nov 23 10:00:01 mail postfix/smtp[11]: ABCD1: to=<ann@x.test>, relay=none, delay=30, "
    "delays=0/0/30/0, dsn=5.1.1, status=bounced (user unknown)\n"
    "Nov 23 10:00:02 mail postfix/qmgr[12]: ABCD1: removed\n"
    "\n"
    "Nov 23 10:00:03 mail postfix/smtpd[10]: disconnect from client.test[127.0.0.1]\n"
)


def test_a_forced_format_that_matches_nothing_is_a_usage_error(tmp_path: Path) -> None:
    """A Postfix log read as an Exim log gave "0 inputs ... 0 errors" and exit 0."""
    log = tmp_path / "mail.log"
    log.write_text(_POSTFIX)
    proc = smtpdiag("--batch", str(log), "--input-format", "exim-log", "--json")
    assert proc.returncode == 2, proc.stderr
    err = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(err) == 1, proc.stderr
    assert err[0].startswith("smtpdiag: error: --input-format exim-log matched nothing in ")
    assert "4 lines read" in err[0] and "detected format postfix-log" in err[0]
    summary = lines(proc.stdout)[-1]
    assert summary["kind"] == "summary" and summary["not_understood"] == 4


def test_the_right_forced_format_still_works(tmp_path: Path) -> None:
    log = tmp_path / "mail.log"
    log.write_text(_POSTFIX)
    proc = smtpdiag("--batch", str(log), "--input-format", "postfix-log", "--json")
    assert proc.returncode == 0, proc.stderr
    assert lines(proc.stdout)[-1]["records"] == 1


def test_the_summary_counts_what_was_not_understood(tmp_path: Path) -> None:
    log = tmp_path / "mail.log"
    log.write_text(_POSTFIX)
    proc = smtpdiag("--batch", str(log), "--json")
    summary = lines(proc.stdout)[-1]
    assert (summary["records"], summary["errors"], summary["not_understood"]) == (1, 0, 3)
    text = smtpdiag("--batch", str(log))
    first = text.stderr.splitlines()[0]
    assert first == "1 input: 1 with records (1 record), 0 errors, 3 not understood", first
