"""Batch reading: format detection, each reader, each log parser, the record stream, the
count invariant, hostile inputs and the committed JSON Schema."""

from __future__ import annotations

import io
import json
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped,unused-ignore]
import pytest

from smtpdiag.bounces import (
    BatchError,
    BatchRecord,
    ErrorKind,
    InputFormat,
    SummaryBuilder,
    detect,
    explain_batch,
)
from smtpdiag.bounces.bounce import MAX_INPUT
from smtpdiag.bounces.logs import LogEntry, LogError, parse_exim, parse_postfix, parse_postqueue
from smtpdiag.bounces.readers import LINE_LIMIT
from smtpdiag.bounces.reasons import _DECISIONS, Decision, Reason, classify, decide, infer
from smtpdiag.report.explain import item_to_dict, summary_to_dict

ROOT = Path(__file__).resolve().parents[3]
CASES = ROOT / "fixtures" / "bounces" / "cases"
BATCH = ROOT / "fixtures" / "bounces" / "batch"
MANIFEST: list[dict[str, Any]] = json.loads((ROOT / "fixtures/bounces/cases.json").read_text())
SCHEMA = json.loads((ROOT / "smtpdiag" / "report" / "explain_schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def eml_cases() -> list[dict[str, Any]]:
    return [c for c in MANIFEST if c["file"].endswith(".eml")]


def make_mbox(path: Path, cases: list[dict[str, Any]]) -> None:
    with path.open("wb") as fh:
        for c in cases:
            data = (CASES / c["file"]).read_bytes()
            fh.write(b"From MAILER-DAEMON Mon Nov 23 10:00:00 2026\n")
            fh.write(data.rstrip(b"\n") + b"\n\n")


def run(*paths: str | Path, **kw: Any) -> list[BatchRecord | BatchError]:
    return list(explain_batch([str(p) for p in paths], now=NOW, **kw))


def check_schema(items: list[BatchRecord | BatchError]) -> None:
    for item in items:
        VALIDATOR.validate(item_to_dict(item))


# --------------------------------------------------------------------- detection


@pytest.mark.parametrize(
    ("head", "fmt"),
    [
        (b"From MAILER-DAEMON Mon Nov 23 10:00:00 2026\nReturn-Path: <>\n", InputFormat.MBOX),
        (b'{"queue_name": "deferred", "recipients": []}\n', InputFormat.POSTQUEUE),
        ((BATCH / "postfix.log").read_bytes()[:4000], InputFormat.POSTFIX_LOG),
        ((BATCH / "exim.log").read_bytes()[:4000], InputFormat.EXIM_LOG),
        ((CASES / "postfix_dsn_542.eml").read_bytes(), InputFormat.EML),
        (b"550 5.1.1 <a@example.org> User unknown\n", InputFormat.EML),
    ],
    ids=["mbox", "postqueue", "postfix", "exim", "eml", "line"],
)
def test_detect(head: bytes, fmt: InputFormat) -> None:
    assert detect(head) is fmt


def test_detect_directories(tmp_path: Path) -> None:
    (tmp_path / "md" / "cur").mkdir(parents=True)
    (tmp_path / "eml").mkdir()
    assert detect(b"", is_dir=True, path=str(tmp_path / "md")) is InputFormat.MAILDIR
    assert detect(b"", is_dir=True, path=str(tmp_path / "eml")) is InputFormat.EML_DIR


# --------------------------------------------------------------------- log parsers


def test_parse_postfix_lines() -> None:
    lines = (BATCH / "postfix.log").read_text().splitlines()
    bounced = parse_postfix(lines[1])
    assert isinstance(bounced, LogEntry)
    assert (bounced.recipient, bounced.status, bounced.action, bounced.queue_id) == (
        "bob@example.org",
        "5.1.1",
        "failed",
        "4BcD1234",
    )
    assert bounced.relay == "mx.example.org" and "550 5.1.1" in bounced.reply
    deferred = parse_postfix(lines[3])
    assert isinstance(deferred, LogEntry) and deferred.action == "delayed"
    assert deferred.relay is None
    assert parse_postfix(lines[0]) is None  # qmgr
    assert parse_postfix(lines[2]) is None  # status=sent
    expired = parse_postfix(lines[8])
    assert isinstance(expired, LogEntry) and expired.action == "failed"
    assert (expired.status, expired.reply) == ("4.4.7", "")
    broken = parse_postfix(lines[10])
    assert isinstance(broken, LogError) and broken.kind is ErrorKind.MALFORMED


def test_parse_exim_lines() -> None:
    lines = (BATCH / "exim.log").read_text().splitlines()
    failed = parse_exim(lines[1])
    assert isinstance(failed, LogEntry)
    assert (failed.recipient, failed.action, failed.relay) == (
        "bob@example.org",
        "failed",
        "mx.example.org",
    )
    assert failed.reply.startswith("SMTP error from remote mail server")
    deferred = parse_exim(lines[2])
    assert isinstance(deferred, LogEntry) and deferred.action == "delayed"
    retry = parse_exim(lines[3])
    assert isinstance(retry, LogEntry) and retry.reply == "retry timeout exceeded"
    assert parse_exim(lines[0]) is None  # arrival
    assert parse_exim(lines[6]) is None  # delivered
    assert isinstance(parse_exim(lines[7]), LogError)  # "**" without a recipient


def test_parse_postqueue_lines() -> None:
    lines = (BATCH / "postqueue.jsonl").read_text().splitlines()
    two = parse_postqueue(lines[0])
    assert isinstance(two, list) and [e.recipient for e in two] == [
        "carol@example.net",
        "dave@example.net",
    ]
    assert all(e.action == "delayed" and e.queue_id == "4BcD1234" for e in two)
    assert parse_postqueue(lines[2]) == []  # active, not deferred
    bad = parse_postqueue(lines[4])
    assert isinstance(bad, LogError) and bad.kind is ErrorKind.MALFORMED
    none = parse_postqueue(lines[5])
    assert isinstance(none, LogError) and none.kind is ErrorKind.NO_RECIPIENT
    assert isinstance(parse_postqueue("[1, 2]"), LogError)
    assert isinstance(parse_postqueue('{"recipients": ["x"]}'), LogError)
    assert isinstance(parse_postqueue("[" * 100_000), LogError)


# --------------------------------------------------------------------- batches


def assert_counts(items: list[BatchRecord | BatchError]) -> SummaryBuilder:
    builder = SummaryBuilder()
    for item in items:
        builder.add(item)
    s = builder.summary()
    assert s.inputs == s.inputs_with_records + s.errors
    assert s.records == sum(1 for i in items if isinstance(i, BatchRecord))
    assert s.errors == sum(1 for i in items if isinstance(i, BatchError))
    VALIDATOR.validate(summary_to_dict(s))
    return builder


def test_mbox_batch_one_record_per_recipient(tmp_path: Path) -> None:
    cases = eml_cases()
    make_mbox(tmp_path / "bounces.mbox", cases)
    items = run(tmp_path / "bounces.mbox")
    check_schema(items)
    assert all(isinstance(i, BatchRecord) for i in items)
    # one record per failed or delayed recipient (a "delivered" group gives none)
    assert len(items) == sum(c.get("records", 1) for c in cases)
    s = assert_counts(items).summary()
    assert s.inputs == len(cases)
    by_input: dict[str, list[BatchRecord]] = {}
    for item in items:
        assert isinstance(item, BatchRecord)
        by_input.setdefault(item.input, []).append(item)
    for n, case in enumerate(cases, 1):
        first = by_input[f"{tmp_path / 'bounces.mbox'}#{n}"][0]
        assert first.decision.value == case["decision"], case["file"]
        assert first.reason.value == case["reason"], case["file"]
        assert first.code_source.value == case["code_source"], case["file"]


def test_two_recipient_dsn_gives_two_records() -> None:
    items = run(CASES / "exim_dsn_two_recipients.eml")
    assert [(i.recipient, i.decision) for i in items if isinstance(i, BatchRecord)] == [
        ("uma@example.org", Decision.SUPPRESS),
        ("vic@example.org", Decision.RETRY),
    ]
    retry = items[1]
    assert isinstance(retry, BatchRecord) and retry.retry_at[0] == "2026-01-01T12:30:00Z"


def test_maildir_and_eml_dir(tmp_path: Path) -> None:
    md = tmp_path / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (md / sub).mkdir(parents=True)
    cases = eml_cases()[:6]
    for i, c in enumerate(cases):
        sub = "cur" if i % 2 else "new"
        (md / sub / f"1700000{i}.M1P1.host:2,S").write_bytes((CASES / c["file"]).read_bytes())
    (md / "cur" / "empty:2,S").write_bytes(b"")
    items = run(md)
    check_schema(items)
    errors = [i for i in items if isinstance(i, BatchError)]
    assert [e.error for e in errors] == [ErrorKind.MALFORMED]
    assert assert_counts(items).summary().inputs == len(cases) + 1
    eml = tmp_path / "emls"
    eml.mkdir()
    for c in cases:
        (eml / c["file"]).write_bytes((CASES / c["file"]).read_bytes())
    (eml / "notes.txt").write_text("not a bounce")
    items2 = run(eml)
    assert {i.format for i in items2} == {InputFormat.EML_DIR}
    assert assert_counts(items2).summary().inputs == len(cases)  # only *.eml


def test_log_and_queue_batches() -> None:
    for name, fmt, records, errors in (
        ("postfix.log", InputFormat.POSTFIX_LOG, 8, 1),
        ("exim.log", InputFormat.EXIM_LOG, 5, 1),
        ("postqueue.jsonl", InputFormat.POSTQUEUE, 5, 2),
    ):
        items = run(BATCH / name)
        check_schema(items)
        assert {i.format for i in items} == {fmt}, name
        assert sum(isinstance(i, BatchRecord) for i in items) == records, name
        assert sum(isinstance(i, BatchError) for i in items) == errors, name
        assert_counts(items)
    pf = {i.recipient: i for i in run(BATCH / "postfix.log") if isinstance(i, BatchRecord)}
    assert pf["dan@example.com"].enhanced == "5.7.1"  # the reply over dsn=5.1.1
    assert pf["dan@example.com"].decision is Decision.FIX
    assert pf["erin@example.org"].decision is Decision.FIX  # 5.3.4 too big
    assert pf["fred@loop.example"].reason is Reason.LOOP
    assert pf["hugo@example.net"].decision is Decision.FIX  # 4.4.7, returned to sender
    assert pf["carol@example.net"].retry_at and pf["carol@example.net"].queue_id == "4BcD1234"


def test_forced_format_and_stdin() -> None:
    data = (BATCH / "postfix.log").read_bytes()
    items = run("-", stdin=io.BytesIO(data))
    assert {i.format for i in items} == {InputFormat.POSTFIX_LOG}
    forced = run("-", stdin=io.BytesIO(data), input_format="eml")
    assert len(forced) == 1 and forced[0].format is InputFormat.EML
    assert run("-") == [
        BatchError("-", InputFormat.AUTO, ErrorKind.UNREADABLE, "no standard input")
    ]


def test_unreadable_paths_are_error_records(tmp_path: Path) -> None:
    items = run(tmp_path / "missing.mbox", BATCH / "exim.log")
    assert isinstance(items[0], BatchError) and items[0].error is ErrorKind.UNREADABLE
    assert any(isinstance(i, BatchRecord) for i in items[1:])


# --------------------------------------------------------------------- hostile input


def test_over_long_log_line_is_an_error_and_the_run_goes_on() -> None:
    line = b"Nov 23 mail postfix/smtp[1]: ABCDE1: to=<a@example.org>, " + b"x" * (LINE_LIMIT * 3)
    good = (BATCH / "postfix.log").read_bytes().splitlines()[1]
    items = run("-", stdin=io.BytesIO(good + b"\n" + line + b"\n" + good + b"\n"))
    assert [type(i).__name__ for i in items] == ["BatchRecord", "BatchError", "BatchRecord"]
    err = items[1]
    assert isinstance(err, BatchError) and err.error is ErrorKind.TOO_LONG
    assert err.input == "-:2" and items[2].input == "-:3"


def test_huge_mbox_message_is_cut_and_memory_stays_bounded(tmp_path: Path) -> None:
    big = tmp_path / "big.mbox"
    with big.open("wb") as fh:
        fh.write(b"From x Mon Nov 23 10:00:00 2026\n")
        fh.write((CASES / "postfix_dsn_542.eml").read_bytes())
        fh.write(b"\n")
        chunk = b"y" * 1000 + b"\n"
        for _ in range(8 * MAX_INPUT // len(chunk)):  # an 8 MiB message
            fh.write(chunk)
        fh.write(b"\nFrom x Mon Nov 23 10:00:01 2026\n")
        fh.write((CASES / "gmail_ndr_address_not_found.txt").read_bytes())
    tracemalloc.start()
    items = run(big)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert len(items) == 2 and all(isinstance(i, BatchRecord) for i in items)
    assert peak < 12 * MAX_INPUT, peak
    assert [i.enhanced for i in items if isinstance(i, BatchRecord)] == ["5.4.2", "5.1.1"]


def test_escape_sequences_never_reach_the_records() -> None:
    hostile = (
        b"Nov 23 10:00:01 mail postfix/smtp[1]: ABCDE1: to=<a@example.org>, relay=none, "
        b"dsn=5.1.1, status=bounced (host mx[198.51.100.1] said: 550 5.1.1 \x1b[2J\x1b]0;pwn\x07"
        b"gone \xe2\x80\xae)\n"
    )
    items = run("-", stdin=io.BytesIO(hostile))
    line = json.dumps(item_to_dict(items[0]), ensure_ascii=False)
    assert "\x1b" not in line and "\u202e" not in line and "\x07" not in line


def test_file_names_are_sanitized(tmp_path: Path) -> None:
    d = tmp_path / "d"
    d.mkdir()
    (d / "a\x1b[31m.eml").write_bytes((CASES / "seed_442_example.txt").read_bytes())
    (item,) = run(d)
    assert "\x1b" not in item.input


# --------------------------------------------------------------------- decisions


def test_every_reason_has_a_decision_and_is_reachable() -> None:
    assert set(_DECISIONS) == set(Reason)
    seen = {Reason(c["reason"]) for c in MANIFEST}
    samples = {
        Reason.ROUTING: ("5.4.3", None, ""),
        Reason.TLS: ("5.7.10", None, ""),
        Reason.CONTENT: ("5.6.1", None, ""),
        Reason.PROTOCOL: ("5.5.2", None, "syntax"),
        Reason.SYSTEM: ("5.3.0", None, ""),
        Reason.OTHER: ("5.1.0", None, ""),
        Reason.AUTH: ("5.7.23", None, ""),
        Reason.RATE_LIMITED: ("4.7.28", None, ""),
        Reason.DNS: ("4.4.3", None, ""),
    }
    for reason, args in samples.items():
        assert classify(*args) is reason
        seen.add(reason)
    assert seen == set(Reason)


@pytest.mark.parametrize(
    "reason",
    [Reason.TOO_BIG, Reason.LOOP, Reason.EXPIRED, Reason.BLOCKED, Reason.SPAM, Reason.AUTH],
)
def test_address_neutral_reasons_never_suppress(reason: Reason) -> None:
    assert decide(5, reason, "failed") is not Decision.SUPPRESS
    assert decide(4, reason, "failed") is Decision.FIX  # gave up: not retry either


@pytest.mark.parametrize(
    ("text", "code", "lang"),
    [
        ("retry timeout exceeded", "5.4.7", "en"),
        ("Host not found, try again", "4.4.3", "en"),
        ("Unknown Recipient", "5.1.1", "en"),
        ("mailbox is full", "5.2.2", "en"),
        ("Empfänger unbekannt", "5.1.1", "de"),
        ("Das Postfach des Empfängers ist voll", "5.2.2", "de"),
        ("utilisateur inconnu", "5.1.1", "fr"),
        ("délai de remise dépassé", "5.4.7", "fr"),
        ("usuario desconocido", "5.1.1", "es"),
        ("caixa postal cheia", "5.2.2", "pt"),
        ("destinatario sconosciuto", "5.1.1", "it"),
        ("mailbox is vol", "5.2.2", "nl"),
        ("Nachricht ist zu groß", "5.3.4", "de"),
    ],
)
def test_infer_phrases(text: str, code: str, lang: str) -> None:
    got = infer(text)
    assert got is not None and (got.code, got.language) == (code, lang)
    assert got.phrase.lower() in text.lower()


def test_infer_delay_words_make_class_4_but_not_for_permanent_only_codes() -> None:
    got = infer("mailbox is full; will retry for 5 days")
    assert got is not None and got.code == "4.2.2"
    unknown = infer("user unknown; will retry")
    assert unknown is not None and unknown.code == "5.1.1"
    assert infer("nothing to see here") is None
    # qmail says "Giving up on <ip>" for every permanent error: not an expiry
    full = infer("Giving up on 198.51.100.41.\nmailbox is full")
    assert full is not None and full.reason is Reason.MAILBOX_FULL


# --------------------------------------------------------------------- schema and imports


def test_schema_enums_follow_the_code() -> None:
    from smtpdiag.bounces.reasons import CodeSource, Confidence

    rec = SCHEMA["$defs"]["record"]["properties"]
    assert rec["reason"]["enum"] == [r.value for r in Reason]
    assert rec["decision"]["enum"] == [d.value for d in Decision]
    assert rec["code_source"]["enum"] == [c.value for c in CodeSource]
    assert rec["confidence"]["enum"] == [c.value for c in Confidence] + [None]
    assert set(rec) | {"kind", "schema_version"} == set(SCHEMA["$defs"]["record"]["required"])
    assert set(BatchRecord.__dataclass_fields__) | {"kind", "schema_version"} == set(rec)
    assert SCHEMA["$defs"]["error"]["properties"]["error"]["enum"] == [e.value for e in ErrorKind]


def test_bounce_reading_imports_no_network_stack() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from smtpdiag.bounces import explain_batch; "
        "from smtpdiag.report.explain import dumps_item, dumps_explanation; "
        "from smtpdiag.bounces.bounce import explain; "
        f"[dumps_item(i) for i in explain_batch([{str(BATCH / 'postfix.log')!r}])]; "
        "dumps_explanation(explain('550 5.1.1 <a@example.org> User unknown')); "
        "print(','.join(m for m in ('asyncio', 'ssl', 'dns', 'rich', 'aiosmtplib') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_exchange_541_access_denied_headline() -> None:
    from smtpdiag.bounces.bounce import explain

    e = explain((CASES / "m365_5_4_1_access_denied.txt").read_bytes(), now=NOW)
    assert "No answer from host" not in e.summary
    assert "Recipient address rejected: access denied" in e.summary
    assert e.decision is Decision.SUPPRESS and e.reason is Reason.USER_UNKNOWN
    plain = explain("451 4.4.1 No answer from host", now=NOW)
    assert "No answer from host" in plain.summary and plain.decision is Decision.RETRY


def test_transient_code_with_action_failed_is_not_retry() -> None:
    from smtpdiag.bounces.bounce import explain

    e = explain((CASES / "act_dsn_447_action_failed.eml").read_bytes(), now=NOW)
    assert e.decision is Decision.FIX
    assert e.action is not None and e.action.kind.value == "fix" and not e.action.schedule
    assert "gave up" in e.summary


def test_summary_memory_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    from smtpdiag.bounces import batch

    monkeypatch.setattr(batch, "MAX_KEYS", 3)
    builder = SummaryBuilder()
    (record,) = [i for i in run(CASES / "seed_442_example.txt") if isinstance(i, BatchRecord)]
    from dataclasses import replace

    for n in range(10):
        builder.add(replace(record, input=f"x#{n}", domain=f"d{n}.example"))
    s = builder.summary()
    assert s.by_domain == {"d0.example": 1, "d1.example": 1, "d2.example": 1, "(other)": 7}
    assert s.inputs == 10 == s.records


@pytest.mark.parametrize("case", MANIFEST, ids=[c["file"] for c in MANIFEST])
def test_batch_assessment_equals_the_full_explanation(case: dict[str, Any]) -> None:
    from smtpdiag.bounces.bounce import assess, explain_parsed, parse_recipients

    for parsed in parse_recipients((CASES / case["file"]).read_bytes()):
        a = assess(parsed, now=NOW)
        e = explain_parsed(parsed, now=NOW)
        assert (a.reason, a.decision, a.severity) == (e.reason, e.decision, e.severity)
        assert a.code == e.code
        schedule = tuple(r.at for r in e.action.schedule) if e.action else ()
        assert a.retry_at == schedule


# ------------------------------------------------ a bounce that is only a sentence


def test_sentence_only_bounce_gives_recipient_reason_and_text(tmp_path: Path) -> None:
    path = tmp_path / "one.mbox"
    path.write_bytes(
        b"From MAILER-DAEMON Mon Nov 23 10:00:00 2026\n"
        b"From: MAILER-DAEMON@mx.sender.example\nTo: alice@sender.example\n"
        b"Subject: Undelivered Mail\n\n"
        b"Delivery to dave@example.org failed: TLS handshake failed, connection lost.\n\n"
    )
    [item] = run(path)
    check_schema([item])
    assert isinstance(item, BatchRecord)
    assert (item.recipient, item.domain) == ("dave@example.org", "example.org")
    assert (item.enhanced, item.reason, item.decision) == ("4.4.2", Reason.TLS, Decision.RETRY)
    assert item.text and "TLS handshake failed" in item.text
    assert item.matched_phrase == "TLS handshake failed"


def test_bounce_without_a_recipient_is_a_no_recipient_error(tmp_path: Path) -> None:
    path = tmp_path / "one.mbox"
    path.write_bytes(
        b"From MAILER-DAEMON Mon Nov 23 10:00:00 2026\nSubject: failure\n\n"
        b"Delivery failed: TLS handshake failed, connection lost.\n\n"
    )
    [item] = run(path)
    check_schema([item])
    assert isinstance(item, BatchError) and item.error is ErrorKind.NO_RECIPIENT
    assert "4.4.2" in item.detail and "TLS handshake failed" in item.detail


def test_postfix_tls_line_has_reason_tls(tmp_path: Path) -> None:
    path = tmp_path / "mail.log"
    path.write_text(
        "Nov 23 10:00:01 mail postfix/smtp[11]: ABCDE1: to=<erin@example.org>, "
        "relay=mx.example.org[198.51.100.7]:25, delay=1, delays=0/0/1/0, dsn=4.7.5, "
        "status=deferred (TLS is required, but certificate verification failed)\n"
    )
    [item] = run(path)
    assert isinstance(item, BatchRecord)
    assert (item.reason, item.decision) == (Reason.TLS, Decision.RETRY)


def test_tls_bounces_are_probed_with_probe(tmp_path: Path) -> None:
    from smtpdiag.bounces.confirm import DomainCollector

    path = tmp_path / "mail.log"
    path.write_text(
        "Nov 23 10:00:01 mail postfix/smtp[11]: ABCDE1: to=<erin@example.org>, relay=none, "
        "delay=1, delays=0/0/1/0, dsn=5.4.2, status=bounced (Permanent TLS configuration "
        "mismatch)\n"
    )
    [item] = run(path)
    assert isinstance(item, BatchRecord) and item.reason is Reason.TLS
    collector = DomainCollector()
    collector.add(item)
    assert collector.domains == ["example.org"]
