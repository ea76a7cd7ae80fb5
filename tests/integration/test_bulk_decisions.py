"""What ``smtpdiag bulk`` decides per recipient when the domain's state and the bounce
disagree, and what it does with domains it could not probe, on real servers.

- A bounce about the mailbox (5.1.1 user unknown, 4.2.2 mailbox full) stands whatever
  the domain does now; only a domain that takes no mail at all overrides it.
- A bounce about reaching the domain stands when the probe learned nothing (no
  nameserver answered): the probe does not turn it into "keep".
- Domains with verdict ``unknown`` are schema-valid records, are not "done" for
  ``--resume``, and a run where no nameserver answered exits 5 and says so.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped,unused-ignore]
import pytest

from smtpdiag.bounces.reasons import Decision
from smtpdiag.config import Nameserver, ResolverConfig
from smtpdiag.testing.bulklab import BulkLab, bulk_lab
from smtpdiag.testing.smtpserver import Behaviour
from smtpdiag.triage import RecipientRecord, bulk_sync

HOSTS = {
    "mx.ok.test": "127.88.7.1",
    "mx.busy.test": "127.88.7.2",
    "mail.alias.test": "127.88.7.1",  # ok's server, a name its certificate lacks
}
DOMAINS: dict[str, tuple[str, ...]] = {
    "ok.test": ("mx.ok.test",),
    "busy.test": ("mx.busy.test",),  # 421 4.3.2 at the greeting: failing now
    "nomail.test": (),  # no MX, no address: takes no mail
    "alias.test": ("mail.alias.test",),
}
SCHEMA = json.loads(
    (Path(__file__).parents[2] / "smtpdiag" / "triage" / "bulk_schema.json").read_text()
)
# A port on loopback where nothing answers DNS (the discard port, not listened on here).
DEAD_NAMESERVER = Nameserver("127.88.7.250", 9)


@pytest.fixture(scope="module")
def lab() -> Iterator[BulkLab]:
    with bulk_lab(
        HOSTS,
        DOMAINS,
        behaviours={HOSTS["mx.busy.test"]: Behaviour.GREETING_421},
        cert_names=("mx.ok.test", "mx.busy.test"),
    ) as running:
        yield running


def _log(tmp_path: Path, *entries: tuple[str, str, str, str]) -> str:
    """A Postfix log with one line per (recipient, dsn, status, text)."""
    lines = [
        f"Nov 23 10:00:0{n} mail postfix/smtp[1{n}]: ABCD{n}: to=<{rcpt}>, relay=none, "
        f"delay=30, delays=0/0/30/0, dsn={dsn}, status={status} ({text})\n"
        for n, (rcpt, dsn, status, text) in enumerate(entries, 1)
    ]
    path = tmp_path / "mail.log"
    path.write_text("".join(lines))
    return str(path)


def _decisions(source: str, lab: BulkLab, **overrides: object) -> dict[str, RecipientRecord]:
    items = bulk_sync(source, lab.config(**overrides), recipients=True)
    return {r.recipient or "": r for r in items if isinstance(r, RecipientRecord)}


def test_a_mailbox_bounce_stands_while_the_domain_is_failing(lab: BulkLab, tmp_path: Path) -> None:
    got = _decisions(
        _log(
            tmp_path,
            ("gone@busy.test", "5.1.1", "bounced", "550 5.1.1 user unknown"),
            ("full@busy.test", "4.2.2", "deferred", "452 4.2.2 mailbox full"),
            ("late@busy.test", "4.4.1", "deferred", "connect to mx.busy.test: timed out"),
            ("full@nomail.test", "4.2.2", "deferred", "452 4.2.2 mailbox full"),
        ),
        lab,
    )
    # The domain answers 421 now, which says nothing about these mailboxes.
    assert (got["gone@busy.test"].decision, got["gone@busy.test"].source) == (
        Decision.SUPPRESS,
        "bounce",
    )
    assert got["gone@busy.test"].code == "5.1.1"
    assert (got["full@busy.test"].decision, got["full@busy.test"].source) == (
        Decision.RETRY,
        "bounce",
    )
    # A bounce about reaching it: the domain's state now decides (it is failing: retry).
    assert (got["late@busy.test"].decision, got["late@busy.test"].source) == (
        Decision.RETRY,
        "probe",
    )
    # A domain that takes no mail at all overrides the mailbox answer.
    assert (got["full@nomail.test"].decision, got["full@nomail.test"].source) == (
        Decision.SUPPRESS,
        "probe",
    )


def test_a_reach_bounce_stands_when_the_probe_learned_nothing(lab: BulkLab, tmp_path: Path) -> None:
    source = _log(
        tmp_path,
        ("late@ok.test", "4.4.1", "deferred", "connect to mx.ok.test: Connection timed out"),
    )
    dead = ResolverConfig((DEAD_NAMESERVER,))
    got = _decisions(source, lab, resolver=dead)["late@ok.test"]
    assert got.source == "bounce" and got.code == "4.4.1"
    assert got.decision is not Decision.KEEP  # was "keep, source probe": nothing was probed
    # With DNS working, the domain answers: the timeout no longer holds.
    now = _decisions(source, lab)["late@ok.test"]
    assert (now.decision, now.source) == (Decision.KEEP, "probe")


def _cli(
    argv: list[str], *extra: str, nameserver: str | None = None
) -> subprocess.CompletedProcess[str]:
    args = list(argv)
    if nameserver is not None:
        at = args.index("--nameserver")
        args[at + 1] = nameserver
    return subprocess.run(
        [sys.executable, "-m", "smtpdiag", "bulk", *extra, *args, "--dns-timeout", "0.5"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_no_nameserver_exits_5_and_resume_probes_those_domains_again(
    lab: BulkLab, bulk_argv: Callable[[BulkLab], list[str]], tmp_path: Path
) -> None:
    source = tmp_path / "domains.txt"
    source.write_text("ok.test\nbusy.test\n")
    out = tmp_path / "out.ndjson"
    dead = f"{DEAD_NAMESERVER.address}:{DEAD_NAMESERVER.port}"
    first = _cli(bulk_argv(lab), str(source), "-o", str(out), nameserver=dead)
    assert first.returncode == 5, first.stderr
    assert "2 of 2 domains could not be probed (no nameserver answered)" in first.stderr
    assert "Traceback" not in first.stderr
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert {r["verdict"] for r in records} == {"unknown"}
    for record in records:
        jsonschema.validate(record, SCHEMA)
    # DNS works again: --resume probes both domains (not "done"), appending their records.
    second = _cli(bulk_argv(lab), str(source), "-o", str(out), "--resume", "--json")
    assert second.returncode == 0, second.stderr
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    latest = {r["domain"]: r["verdict"] for r in lines if r["type"] == "domain"}
    assert latest == {"ok.test": "healthy", "busy.test": "failed"}
    summary = lines[-1]
    assert summary["type"] == "summary" and summary["skipped"] == 0 and summary["domains"] == 2


def test_a_stop_after_the_input_was_read_still_says_interrupted(
    lab: BulkLab,
    bulk_argv: Callable[[BulkLab], list[str]],
    bulk_process: Any,
    tmp_path: Path,
) -> None:
    """Three routes to one address at one new connection a minute: the whole input is
    read at once, the third domain's route is still queued when SIGINT comes, so the
    run is not complete and its summary must say so."""
    import signal
    import time

    source = tmp_path / "domains.txt"
    source.write_text("ok.test\n")
    out = tmp_path / "out.ndjson"
    argv = [str(source), "-o", str(out), "--json", *bulk_argv(lab)]
    argv += ["--per-address-limit", "1", "--per-address-rate", "1"]
    with bulk_process(*argv) as proc:
        time.sleep(3.0)  # the first route is done, the others wait for their minute
        assert proc.poll() is None, proc.communicate()
        proc.send_signal(signal.SIGINT)
        _stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130, stderr
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert lines[-1]["type"] == "summary"
    assert lines[-1]["interrupted"] is True


def test_a_tls_finding_gives_the_reason_tls(lab: BulkLab) -> None:
    """The certificate does not name the MX host: the code (5.4.2) alone reads as
    "connection"; the rule says TLS."""
    from smtpdiag.triage import DomainRecord

    records = [r for r in bulk_sync(["alias.test"], lab.config()) if isinstance(r, DomainRecord)]
    assert [f.rule for f in records[0].findings][:1] == ["tls-cert-unverified"]
    assert records[0].reason == "tls"


def test_log_lines_that_are_not_delivery_results_are_counted(lab: BulkLab, tmp_path: Path) -> None:
    """They gave no target and no error record; the summary says how many there were."""
    from smtpdiag.triage import RunStats

    path = Path(_log(tmp_path, ("gone@ok.test", "5.1.1", "bounced", "550 5.1.1 user unknown")))
    with path.open("a") as fh:
        fh.write("Nov 23 10:00:05 mail postfix/qmgr[12]: ABCD1: removed\n")
        fh.write("Nov 23 10:00:06 mail postfix/smtpd[13]: connect from c.test[127.0.0.1]\n")
    stats = RunStats()
    items = list(bulk_sync(str(path), lab.config(), stats=stats))
    assert [getattr(i, "domain", None) for i in items] == ["ok.test"]
    assert stats.not_understood == 2
    from smtpdiag.triage.output import SummaryBuilder

    assert SummaryBuilder().summary(stats, 1.0).not_understood == 2
