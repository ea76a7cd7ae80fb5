"""The reading limits of bounces and logs: what they cut is counted, and the linear
rewrites read what the old patterns read."""

from __future__ import annotations

import base64
import io
import json

import pytest

from smtpdiag.bounces import BatchRecord, InputFormat, explain_batch
from smtpdiag.bounces.bounce import parse_bounce, parse_recipients
from smtpdiag.bounces.dsn import MAX_LINES, MAX_PARTS, address, read
from smtpdiag.bounces.logs import MAX_QUEUE_RECIPIENTS, LogEntry, parse_postfix
from smtpdiag.narrate.bounce import note_limits
from smtpdiag.textsafe import label

HEAD = "From: MAILER-DAEMON@mx.example\nTo: a@b.example\nSubject: failed\nMIME-Version: 1.0\n"


def pasted_groups(n: int) -> str:
    return "".join(
        f"Final-Recipient: rfc822; u{i}@b.example\nAction: failed\nStatus: 5.1.1\n\n"
        for i in range(n)
    )


def test_pasted_groups_beyond_the_limit_are_counted() -> None:
    doc = read(pasted_groups(MAX_PARTS + 100))
    assert len(doc.groups) == MAX_PARTS
    assert doc.limits.recipients_dropped == 100
    assert len(parse_recipients(pasted_groups(MAX_PARTS + 100))) == MAX_PARTS


def test_nothing_cut_is_no_limit() -> None:
    doc = read(pasted_groups(3))
    assert not doc.limits.any and doc.limits.recipients_dropped == 0


def test_lines_beyond_the_limit_are_counted() -> None:
    text = "Final-Recipient: rfc822; a@b.example\nStatus: 5.1.1\n" + "x\n" * (MAX_LINES + 10)
    assert read(text).limits.lines_dropped == 12


def test_continuation_lines_are_joined_once() -> None:
    text = (
        "Final-Recipient: rfc822; a@b.example\nAction: failed\nStatus: 5.1.1\n"
        "Diagnostic-Code: smtp; 550 5.1.1 <a@b.example>:\n  no such\n\tuser here\n"
    )
    (group,) = read(text).groups
    assert group.diagnostic == "550 5.1.1 <a@b.example>: no such user here"
    long = read(text + " \u00e9\n" * 5000).groups[0].diagnostic
    assert long is not None and len(long) <= 1000 and long.endswith("...")


@pytest.mark.parametrize(
    ("charset", "body", "text"),
    [
        ("iso-8859-1", "550 5.1.1 Empf\u00e4nger unbekannt".encode("latin-1"), "Empf\u00e4nger"),
        ("windows-1252", "550 5.1.1 \u201cno\u201d".encode("cp1252"), "\u201cno\u201d"),
        ("UTF-8", "550 5.1.1 ni\u00f1o".encode(), "ni\u00f1o"),
    ],
)
def test_mail_charsets_are_decoded(charset: str, body: bytes, text: str) -> None:
    raw = (
        HEAD + f"Content-Type: text/plain; charset={charset}\n"
        "Content-Transfer-Encoding: base64\n\n" + base64.encodebytes(body).decode()
    )
    doc = read(raw)
    assert text in doc.human and doc.limits.charsets_replaced == 0


@pytest.mark.parametrize("charset", ["punycode", "idna", "rot13", "no-such-charset"])
def test_other_charsets_are_replacement_text(charset: str) -> None:
    raw = HEAD + f"Content-Type: text/plain; charset={charset}\n\n550 5.1.1 <a@b.example> gone\n"
    parsed = parse_bounce(raw)
    assert parsed.enhanced == "5.1.1" and parsed.recipient == "a@b.example"
    assert parsed.limits.charsets_replaced == 1
    assert "charset mail does not use" in note_limits(parsed.limits)


def test_the_codec_names_are_the_allowlist_resolved() -> None:
    # The codec names are written out (resolving them imports every codec module); they
    # must be what Python's codecs make of the allowlist.
    import codecs

    from smtpdiag.bounces.dsn import _MAIL_CODECS, MAIL_CHARSETS

    assert {codecs.lookup(name).name for name in MAIL_CHARSETS} == _MAIL_CODECS


@pytest.mark.parametrize("param", ["charset", "boundary"])
def test_rfc2231_parameter_charsets_follow_the_allowlist(param: str) -> None:
    kind = "multipart/mixed" if param == "boundary" else "text/plain"
    raw = HEAD + f"Content-Type: {kind}; {param}*=punycode''x-abc\n\n550 5.1.1 <a@b.example>\n"
    assert read(raw).limits.charsets_replaced >= 1
    fine = HEAD + "Content-Type: text/plain; charset*=utf-8''utf-8\n\n550 5.1.1 <a@b.example>\n"
    assert read(fine).limits.charsets_replaced == 0


def test_few_boundaries_keep_the_report() -> None:
    # A DSN whose returned message is deeply nested: the report before it is read.
    nested = "".join(
        f'Content-Type: multipart/mixed; boundary="n{i}"\n\n--n{i}\n' for i in range(20)
    )
    raw = (
        HEAD + 'Content-Type: multipart/report; boundary="R"\n\n'
        "--R\nContent-Type: text/plain\n\nDelivery failed.\n"
        "--R\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example\n\n"
        "Final-Recipient: rfc822; a@b.example\nAction: failed\nStatus: 5.1.1\n\n"
        "--R\nContent-Type: message/rfc822\n\n" + HEAD + nested + "Content-Type: text/plain\n\nx\n"
    )
    parsed = parse_bounce(raw)
    assert parsed.enhanced == "5.1.1" and parsed.recipient == "a@b.example"
    assert parsed.limits.parts_dropped == 21 - 8


def test_address_longer_than_a_path_is_none() -> None:
    ok = "a@" + "b" * 60 + ".example"
    assert address(f"rfc822; {ok}") == ok
    assert address("rfc822; a@" + ".".join(["b" * 60] * 5) + ".example") is None


@pytest.mark.parametrize(
    ("tail", "reason"),
    [
        (
            " (host mx[1.2.3.4] said: 550 5.1.1 no (user))",
            "host mx[1.2.3.4] said: 550 5.1.1 no (user)",
        ),
        (" (gone)   ", "gone"),
        (", returned to sender (gone)", "gone"),
        ("", ""),
    ],
)
def test_postfix_reason(tail: str, reason: str) -> None:
    line = (
        "Dec  7 10:00:00 host postfix/smtp[123]: ABC12: to=<a@b.example>, relay=mx.b.example"
        f"[1.2.3.4]:25, delay=1, dsn=5.1.1, status=bounced{tail}"
    )
    entry = parse_postfix(line)
    assert isinstance(entry, LogEntry)
    assert entry.reply == reason and entry.relay == "mx.b.example"
    assert entry.action == "failed" and entry.status == "5.1.1" and entry.queue_id == "ABC12"


@pytest.mark.parametrize(
    "line",
    [
        "postfix/smtp[1]: ABC12: to=<a@b.example>, relay=x (y), dsn=5.1.1, status=bounced (z)",
        "postfix/smtp[1]: ABC12: to=<a@b.example>, dsn=5.1.1, status=bounced (z) trailing",
        "postfix/smtp[1]: ABC12: to=<a@b.example>, relay=x, status=bounced (no dsn)",
    ],
)
def test_postfix_failure_lines_that_do_not_parse(line: str) -> None:
    entry = parse_postfix(line)
    assert entry is not None and not isinstance(entry, LogEntry)


def test_postfix_failure_check_keeps_its_window() -> None:
    near = "to=<" + "x" * 390 + "status=deferred"
    far = "to=<" + "x" * 410 + "status=deferred"
    assert parse_postfix(near) is not None
    assert parse_postfix(far) is None


def test_postqueue_recipients_beyond_the_limit_are_counted() -> None:
    recipients = [
        {"address": f"u{i}@b.example", "delay_reason": "timed out"}
        for i in range(MAX_QUEUE_RECIPIENTS + 5)
    ]
    line = json.dumps({"queue_id": "ABC", "recipients": recipients}).encode() + b"\n"
    items = list(explain_batch(["-"], input_format=InputFormat.POSTQUEUE, stdin=io.BytesIO(line)))
    assert len(items) == MAX_QUEUE_RECIPIENTS
    assert all(isinstance(i, BatchRecord) and i.limits.recipients_dropped == 5 for i in items)


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("a\x07b", "a\\x07b"),
        ("a\x1bb", "a\\x1bb"),
        ("\u200b", "\\u200b"),
        ("a\u00a0b", "a\\xa0b"),
        ("caf\u00e9.eml", "caf\u00e9.eml"),
        ("plain/path.eml", "plain/path.eml"),
        ("\udcff", "\\udcff"),
        ("", "''"),
    ],
)
def test_label_escapes_what_cannot_be_seen(name: str, shown: str) -> None:
    assert label(name) == shown
