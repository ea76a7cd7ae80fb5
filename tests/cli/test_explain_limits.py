"""Limits are said, never silent (issue 25): real ``smtpdiag explain`` processes over
hostile inputs built on disk, each ending quickly with its limit in the output, and
every JSON line valid against the explain schema."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped,unused-ignore]
import pytest

ROOT = Path(__file__).resolve().parents[2]
VALIDATOR = jsonschema.Draft202012Validator(
    json.loads((ROOT / "smtpdiag" / "report" / "explain_schema.json").read_text())
)
HEAD = "From: MAILER-DAEMON@mx.example\nTo: a@b.example\nSubject: failed\nMIME-Version: 1.0\n"
MESSAGE = HEAD + "\n550 5.1.1 <{}@b.example>: no such user\n"


def smtpdiag(*argv: str, cwd: Path = ROOT, **kw: Any) -> subprocess.CompletedProcess[str]:
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.PIPE)
    return subprocess.run(
        [sys.executable, "-m", "smtpdiag", "explain", *argv], text=True, timeout=60, cwd=cwd, **kw
    )


def lines(out: str) -> list[dict[str, Any]]:
    docs = [json.loads(line) for line in out.splitlines()]
    for doc in docs:
        VALIDATOR.validate(doc)
    return docs


def many_recipients(n: int) -> str:
    groups = "".join(
        f"Final-Recipient: rfc822; u{i}@b.example\nAction: failed\nStatus: 5.1.1\n\n"
        for i in range(n)
    )
    return (
        HEAD + 'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\n\n'
        "--B\nContent-Type: text/plain\n\nfailed\n"
        "--B\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example\n\n"
        + groups
        + "--B--\n"
    )


def test_dropped_recipients_are_counted(tmp_path: Path) -> None:
    path = tmp_path / "big.eml"
    path.write_text(many_recipients(5000))
    done = smtpdiag("--batch", str(path), "--json")
    *records, summary = lines(done.stdout)
    assert len(records) == 64 - 1  # the first group is the message's, not a recipient's
    assert {r["limits"]["recipients_dropped"] for r in records} == {5000 - 63}
    assert summary["inputs_cut"] == 1
    # The text summary says it too.
    text = smtpdiag("--batch", str(path))
    assert "1 input cut by a reading limit" in text.stderr
    one = smtpdiag("--file", str(path), "--json")
    doc = json.loads(one.stdout)
    VALIDATOR.validate(doc)
    assert doc["bounce"]["limits"]["recipients_dropped"] == 5000 - 63
    text = smtpdiag("--file", str(path)).stdout
    assert "Limits applied: 4937 more recipients not read (at most 64 are)." in text


def test_nothing_cut_says_zero(tmp_path: Path) -> None:
    path = tmp_path / "one.eml"
    path.write_text(MESSAGE.format("u1"))
    (record, summary) = lines(smtpdiag("--batch", str(path), "--json").stdout)
    assert record["limits"] == {
        "recipients_dropped": 0,
        "parts_dropped": 0,
        "lines_dropped": 0,
        "charsets_replaced": 0,
    }
    assert record["truncated"] is False and summary["inputs_cut"] == 0


def test_exotic_charset_is_replacement_text_and_counted(tmp_path: Path) -> None:
    path = tmp_path / "puny.eml"
    body = ("\u00e9" * 300_000).encode("punycode")
    path.write_bytes(
        HEAD.encode() + b"Content-Type: text/plain; charset=punycode\n\n"
        b"550 5.1.1 <a@b.example> unknown\n-" + body + b"\n"
    )
    start = time.monotonic()
    doc = json.loads(smtpdiag("--file", str(path), "--json").stdout)
    assert time.monotonic() - start < 10  # the quadratic decoder took minutes
    VALIDATOR.validate(doc)
    assert doc["bounce"]["enhanced"] == "5.1.1"
    assert doc["bounce"]["limits"]["charsets_replaced"] == 1


def test_deep_nesting_is_cut_and_counted(tmp_path: Path) -> None:
    path = tmp_path / "deep.eml"
    parts = [HEAD]
    parts += [f'Content-Type: multipart/mixed; boundary="b{i}"\n\n--b{i}\n' for i in range(900)]
    path.write_text("".join(parts) + "Content-Type: text/plain\n\n" + "x\n" * 400_000)
    start = time.monotonic()
    doc = json.loads(smtpdiag("--file", str(path), "--json").stdout)
    assert time.monotonic() - start < 15  # 35 s before, on a quiet machine
    assert doc["bounce"]["limits"]["parts_dropped"] == 900 - 8
    # Said in the text too, also when no code was found.
    assert "892 MIME parts not read" in smtpdiag("--file", str(path)).stdout


def test_long_recipient_is_no_address(tmp_path: Path) -> None:
    # Cut to 254 characters, the address lost its "..." marker with the trailing dot
    # and named a domain the bounce never named, which then got "suppress".
    long = "a@" + ".".join(["b" * 60] * 5) + ".example.org"
    path = tmp_path / "long.txt"
    path.write_text(f"Final-Recipient: rfc822; {long}\nAction: failed\nStatus: 5.1.1\n")
    doc = json.loads(smtpdiag("--file", str(path), "--json").stdout)
    VALIDATOR.validate(doc)
    assert doc["bounce"]["recipient"] is None and doc["bounce"]["domain"] is None
    (error, _summary) = lines(smtpdiag("--batch", str(path), "--json").stdout)
    assert error["kind"] == "error" and error["error"] == "no-recipient"


def test_endless_input_stops_at_the_documented_limit() -> None:
    start = time.monotonic()
    done = smtpdiag("--batch", "/dev/zero", "--input-format", "mbox", "--json")
    assert time.monotonic() - start < 20
    (error, summary) = lines(done.stdout)
    assert error["error"] == "too-long" and "16 MiB" in error["detail"]
    assert summary["errors"] == 1 and done.returncode == 1


def test_maildir_reads_what_it_can_and_reports_each_entry(tmp_path: Path) -> None:
    folder = tmp_path / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (folder / sub).mkdir(parents=True)
    for i in range(3):
        (folder / "cur" / f"m{i}:2,S").write_text(MESSAGE.format(f"u{i}"))
    (folder / "cur" / "loop1").symlink_to("loop2")
    (folder / "cur" / "loop2").symlink_to("loop1")
    secret = tmp_path / "secret.eml"
    secret.write_text(MESSAGE.format("secret"))
    secret.chmod(0o600)
    (folder / "cur" / "out").symlink_to(secret)
    (folder / "cur" / "inside").symlink_to(folder / "new" / "kept")
    (folder / "new" / "kept").write_text(MESSAGE.format("kept"))
    os.mkfifo(folder / "new" / "fifo")
    done = smtpdiag("--batch", str(folder), "--json")
    *items, summary = lines(done.stdout)
    recipients = sorted(i["recipient"] for i in items if i["kind"] == "record")
    assert recipients == [
        "kept@b.example",
        "kept@b.example",
        "u0@b.example",
        "u1@b.example",
        "u2@b.example",
    ]
    errors = {Path(i["input"]).name: i["detail"] for i in items if i["kind"] == "error"}
    assert errors == {
        "loop1": "a symbolic link loop",
        "loop2": "a symbolic link loop",
        "out": "a symbolic link out of the folder: not followed",
        "fifo": "a FIFO",
    }
    assert "secret@b.example" not in done.stdout
    assert summary["inputs"] == 9 and summary["errors"] == 4 and done.returncode == 1


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_maildir_unreadable_file_is_its_own_error(tmp_path: Path) -> None:
    folder = tmp_path / "Maildir"
    (folder / "cur").mkdir(parents=True)
    (folder / "cur" / "a").write_text(MESSAGE.format("a"))
    (folder / "cur" / "b").write_text(MESSAGE.format("b"))
    (folder / "cur" / "b").chmod(0)
    *items, _summary = lines(smtpdiag("--batch", str(folder), "--json").stdout)
    assert [i["kind"] for i in items] == ["record", "error"]
    assert items[1]["detail"] == "Permission denied"


def test_names_differing_in_control_characters_stay_apart(tmp_path: Path) -> None:
    for i, name in enumerate(("a\x07b.eml", "a\x1bb.eml")):
        (tmp_path / name).write_text(MESSAGE.format(f"u{i}"))
    *records, summary = lines(smtpdiag("--batch", str(tmp_path), "--json").stdout)
    names = [Path(r["input"]).name for r in records]
    assert names == ["a\\x07b.eml", "a\\x1bb.eml"]
    assert summary["inputs"] == 2


def test_invisible_name_gets_a_visible_label(tmp_path: Path) -> None:
    (tmp_path / "\u200b").write_text(MESSAGE.format("u1"))
    (record, _summary) = lines(smtpdiag("--batch", "\u200b", "--json", cwd=tmp_path).stdout)
    assert record["input"] == "\\u200b"


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full")
@pytest.mark.parametrize(
    "argv",
    [["550 5.1.1 <a@b.example>"], ["550 5.1.1 <a@b.example>", "--json"]],
    ids=["text", "json"],
)
def test_full_disk_is_one_line_and_its_own_code(argv: list[str]) -> None:
    with open("/dev/full", "w") as full:
        done = smtpdiag(*argv, stdout=full)
    assert done.returncode == 74
    assert done.stderr == "smtpdiag: error: cannot write the output: No space left on device\n"


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full")
def test_full_disk_in_batch(tmp_path: Path) -> None:
    path = tmp_path / "one.eml"
    path.write_text(MESSAGE.format("u1"))
    with open("/dev/full", "w") as full:
        done = smtpdiag("--batch", str(path), "--json", stdout=full)
    assert done.returncode == 74
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


def test_exit_code_is_documented() -> None:
    help_text = smtpdiag("--help").stdout
    assert "74" in help_text and "output could not be written" in " ".join(help_text.split())
    assert "| 74 |" in (ROOT / "README.md").read_text()
