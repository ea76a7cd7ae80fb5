"""``smtpdiag tlsrpt``: real subprocess runs over report files, an mbox, a maildir and
standard input; every line checked against ``tlsrpt_schema.json``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped,unused-ignore]
from factories.tlsrpt_cases import (
    google_report,
    gz,
    microsoft_report,
    report_message,
    rfc_example,
    write_maildir,
    write_mbox,
)

ROOT = Path(__file__).resolve().parents[2]
VALIDATOR = jsonschema.Draft202012Validator(
    json.loads((ROOT / "smtpdiag" / "report" / "tlsrpt_schema.json").read_text())
)


def smtpdiag(*argv: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "smtpdiag", "tlsrpt", *argv],
        input=stdin,
        capture_output=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )


def lines(out: bytes) -> list[dict[str, Any]]:
    docs = [json.loads(line) for line in out.decode().splitlines()]
    for doc in docs:
        VALIDATOR.validate(doc)
    return docs


def test_mbox_maildir_and_files_json_summary(tmp_path: Path) -> None:
    box = write_mbox(
        tmp_path / "reports.mbox",
        [report_message(rfc_example()), report_message(microsoft_report("r.example"))],
    )
    maildir = write_maildir(tmp_path / "Maildir", [report_message(rfc_example())])
    (tmp_path / "g.json.gz").write_bytes(gz(google_report("r.example")))
    proc = smtpdiag(str(box), str(maildir), str(tmp_path / "g.json.gz"), "--json")
    assert proc.returncode == 0, proc.stderr
    docs = lines(proc.stdout)
    assert [d["kind"] for d in docs] == ["report"] * 4 + ["summary"]
    assert [d["duplicate"] for d in docs[:4]] == [False, False, True, False]
    summary = docs[-1]
    assert (summary["inputs"], summary["reports"], summary["duplicates"]) == (4, 3, 1)
    assert summary["failed_sessions"] == 303 + 2
    assert proc.stderr == b""


def test_text_summary_on_stderr_and_errors_exit_1(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text(json.dumps(rfc_example()))
    (tmp_path / "b.json").write_text('{"organization-name": 1}')
    proc = smtpdiag(str(tmp_path), "--width", "120")
    assert proc.returncode == 1
    docs = lines(proc.stdout)
    assert [d["kind"] for d in docs] == ["report", "error"]
    assert docs[1]["error"] == "wrong-type" and docs[1]["field"] == "organization-name"
    err = proc.stderr.decode()
    assert "2 inputs: 1 reports, 0 duplicates, 1 errors" in err
    assert "company-y.example" in err and "starttls-not-supported" in err and "5.38%" in err


def test_stdin(tmp_path: Path) -> None:
    proc = smtpdiag("-", "--json", stdin=gz(rfc_example()))
    assert proc.returncode == 0, proc.stderr
    docs = lines(proc.stdout)
    assert docs[0]["input"] == "-" and docs[-1]["reports"] == 1


def test_usage_errors_are_one_line() -> None:
    proc = smtpdiag("/nonexistent/reports")
    assert proc.returncode == 2
    assert proc.stderr.decode().count("\n") == 1 and b"Traceback" not in proc.stderr
    proc = smtpdiag("-", "--width", "10", stdin=b"")
    assert proc.returncode == 2 and b"Traceback" not in proc.stderr
