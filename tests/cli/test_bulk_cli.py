"""``smtpdiag bulk`` as a command: NDJSON out, resume, Ctrl-C, usage errors."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from smtpdiag.cli import main
from smtpdiag.testing.bulklab import BulkLab, bulk_lab
from smtpdiag.testing.smtpserver import Behaviour

FAST = [f"f{i}.test" for i in range(30)]
SLOW = [f"s{i}.test" for i in range(20)]
# Each slow domain has its own MX on its own address: no route to share.
HOSTS = {"mx.fast.test": "127.88.2.1"} | {
    f"mx.{d}": f"127.88.3.{i + 1}" for i, d in enumerate(SLOW)
}


@pytest.fixture(scope="module")
def lab() -> Iterator[BulkLab]:
    domains = {d: ("mx.fast.test",) for d in FAST}
    domains.update({d: (f"mx.{d}",) for d in SLOW})
    # The slow servers accept and never greet: each probe lasts until the greeting timeout.
    slow = {address: Behaviour.SILENT for address in list(HOSTS.values())[1:]}
    with bulk_lab(HOSTS, domains, behaviours=slow) as running:
        yield running


@pytest.fixture
def args(lab: BulkLab, bulk_argv: Callable[[BulkLab], list[str]]) -> list[str]:
    return [*bulk_argv(lab), "--greeting-timeout", "2", "--timeout", "6"]


def _records(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_ndjson_records_and_summary(
    args: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "in.txt"
    source.write_text("\n".join([*FAST[:5], "a@f1.test", "not a domain"]) + "\n")
    rcpt = tmp_path / "rcpt.ndjson"
    code = main(["bulk", str(source), "--recipients", str(rcpt), "--json", *args])
    assert code == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    kinds = [x["type"] for x in lines]
    assert kinds.count("domain") == 5
    assert kinds.count("error") == 1
    assert kinds[-1] == "summary"
    summary = lines[-1]
    assert summary["by_provider"]["mx.fast.test"]["domains"] == 5
    assert summary["inputs"] == 7
    recipients = _records(rcpt)
    assert len(recipients) == 6  # one per usable input item
    assert {r["decision"] for r in recipients} == {"keep"}
    # Every line of both files matches the committed schema.
    import jsonschema

    schema = json.loads(
        (Path(__file__).parents[2] / "smtpdiag/triage/bulk_schema.json").read_text()
    )
    validator = jsonschema.Draft202012Validator(schema)
    for line in [*lines, *recipients]:
        validator.validate(line)
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(dict(lines[0], verdict="fine"))


def test_resume_skips_domains_already_written(
    lab: BulkLab, args: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "in.txt"
    domains = FAST[10:30]
    source.write_text("\n".join(domains) + "\n")
    out = tmp_path / "out.ndjson"
    assert main(["bulk", str(source), "-o", str(out), *args]) == 0
    first = _records(out)
    assert len(first) == 20
    # As if the run had been killed: 8 records kept, the 9th cut in the middle.
    text = out.read_text().splitlines(keepends=True)
    out.write_text("".join(text[:8]) + text[8][:25])
    kept = {r["domain"] for r in first[:8]}
    asked_before = {d: _mx_asked(lab, d) for d in domains}
    assert main(["bulk", str(source), "-o", str(out), "--resume", *args]) == 0
    records = [r for r in _records_tolerant(out) if r.get("type") == "domain"]
    assert sorted(r["domain"] for r in records) == sorted(domains)  # each exactly once
    for d in domains:
        again = _mx_asked(lab, d) - asked_before[d]
        # Once by resolve, once with DO by the TLS policy stage (its DNSSEC status).
        assert again == (0 if d in kept else 2), d
    capsys.readouterr()


def _records_tolerant(path: Path) -> list[dict[str, object]]:
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def _mx_asked(lab: BulkLab, domain: str) -> int:
    return sum(1 for q in lab.dns.server.received if q.name == domain and q.rdtype == "MX")


def test_usage_errors_are_one_line(
    args: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["bulk", str(tmp_path / "missing.txt"), *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "missing.txt" in err
    source = tmp_path / "in.txt"
    source.write_text("f1.test\n")
    assert main(["bulk", str(source), "--resume", *args]) == 2
    assert "--resume needs --output" in capsys.readouterr().err
    assert main(["bulk", str(source), "--input-format", "nonsense", *args]) == 2
    assert "unknown input format" in capsys.readouterr().err
    assert main(["bulk", str(source), "--per-address-limit", "0", *args]) == 2


@pytest.mark.timeout(90)
def test_ctrl_c_flushes_what_is_done_and_exits_cleanly(
    lab: BulkLab, args: list[str], bulk_process: Any, tmp_path: Path
) -> None:
    source = tmp_path / "in.txt"
    # Fast domains first, then slow ones probed one at a time (one port, one connection
    # overall, 2 s each): without Ctrl-C this run would take 40 s more.
    source.write_text("\n".join(FAST + SLOW) + "\n")
    out = tmp_path / "out.ndjson"
    argv = [str(source), "-o", str(out), "--concurrency", "1", "--in-flight", "8", *args]
    with bulk_process(*argv, "--ports", str(lab.ports[0])) as proc:
        deadline = time.monotonic() + 45
        while time.monotonic() < deadline:  # wait for the first finished domains
            if out.exists() and out.read_text().count("\n") >= 3:
                break
            time.sleep(0.1)
        else:
            pytest.fail("no record written in time")
        time.sleep(1.0)  # a slow domain is in flight now
        proc.send_signal(signal.SIGINT)
        _stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130, stderr
    assert b"Traceback" not in stderr
    records = _records(out)  # every line complete JSON: flushed, nothing cut
    domains = [r["domain"] for r in records if r["type"] == "domain"]
    assert 3 <= len(domains) < len(FAST) + len(SLOW)
    assert len(domains) == len(set(domains))
