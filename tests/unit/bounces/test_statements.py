"""Issue 24: which statement about a recipient wins, replies in any body, notices that
are not failures, and the agreement corpus (fixtures/bounces/corpus)."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import jsonschema  # type: ignore[import-untyped,unused-ignore]

from smtpdiag.bounces import SummaryBuilder, explain_batch
from smtpdiag.bounces.bounce import explain, parse_recipients
from smtpdiag.bounces.model import BatchRecord
from smtpdiag.bounces.reasons import CodeSource, Decision
from smtpdiag.model.bounce import Notice
from smtpdiag.report.explain import explanation_to_dict, item_to_dict, summary_to_dict

ROOT = Path(__file__).resolve().parents[3]
SCHEMA = json.loads((ROOT / "smtpdiag" / "report" / "explain_schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def dsn(human: str, *groups: str, subject: str = "Undelivered Mail Returned to Sender") -> str:
    """A multipart/report with ``human`` as its text part and one field group per recipient."""
    fields = "\n\n".join(groups)
    return (
        "From: MAILER-DAEMON@mail.example.com\nTo: news@example.com\n"
        f"Subject: {subject}\nMIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\n\n'
        f"--B\nContent-Type: text/plain; charset=us-ascii\n\n{human}\n\n"
        "--B\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mail.example.com\n\n"
        f"{fields}\n\n"
        "--B\nContent-Type: text/rfc822-headers\n\nTo: <bob@example.net>\n"
        "Subject: Release 5.1.1 notes\n\n--B--\n"
    )


def group(rcpt: str, action: str, status: str, diag: str | None = None) -> str:
    out = f"Final-Recipient: rfc822; {rcpt}\nAction: {action}\nStatus: {status}"
    return out + (f"\nDiagnostic-Code: smtp; {diag}" if diag else "")


# ------------------------------------------------------------ the most specific statement


def test_the_servers_reply_in_the_text_wins_over_diagnostic_code_and_status() -> None:
    human = (
        "<bob@example.net>: host mx.example.net[198.51.100.5] said: 550 5.2.2 "
        "<bob@example.net>: Mailbox full (in reply to RCPT TO command)"
    )
    raw = dsn(human, group("bob@example.net", "failed", "5.2.1", "550 Requested action not taken"))
    e = explain(raw, now=NOW)
    assert e.bounce.enhanced == "5.2.2" and e.bounce.basic == 550
    assert e.bounce.code_source is CodeSource.TEXT
    assert any("most specific statement" in n for n in e.notes)


def test_diagnostic_code_wins_over_status_and_status_is_last() -> None:
    human = "<bob@example.net>: the remote server refused the message"
    raw = dsn(human, group("bob@example.net", "failed", "5.1.1", "550 5.7.1 Blocked by policy"))
    assert explain(raw, now=NOW).bounce.enhanced == "5.7.1"
    raw = dsn(human, group("bob@example.net", "failed", "5.1.1"))
    b = explain(raw, now=NOW).bounce
    assert b.enhanced == "5.1.1" and b.code_source is CodeSource.STATUS


def test_a_generic_reply_does_not_override_a_detailed_status() -> None:
    human = "<bob@example.net>: host mx.example.net[198.51.100.5] said: 550 5.0.0 rejected"
    raw = dsn(human, group("bob@example.net", "failed", "5.1.1"))
    assert explain(raw, now=NOW).bounce.enhanced == "5.1.1"


def test_a_transcripts_last_reply_for_the_recipient_wins() -> None:
    human = (
        "   ----- The following addresses had permanent fatal errors -----\n"
        "<bob@example.net>\n    (reason: 550 5.2.1 bob@example.net... Mailbox disabled)\n\n"
        "   ----- Transcript of session follows -----\n"
        "... while talking to mx.example.net.:\n>>> RCPT To:<bob@example.net>\n"
        "<<< 550 5.2.1 bob@example.net... Mailbox disabled\n>>> DATA\n"
        "<<< 550 5.1.1 bob@example.net... User Unknown\n"
        "<<< 503 5.0.0 Need RCPT (recipient)\n"
    )
    raw = dsn(human, group("bob@example.net", "failed", "5.2.1"))
    e = explain(raw, now=NOW)
    assert e.bounce.enhanced == "5.1.1"
    assert "User Unknown" in e.bounce.text


def test_each_recipient_gets_its_own_reply() -> None:
    human = (
        "<bob@example.net>: host mx.example.net[198.51.100.5] said: 550 5.1.1 User unknown\n\n"
        "<carol@example.org>: host mx.example.org[198.51.100.6] said: 552 5.2.2 Mailbox full\n"
    )
    raw = dsn(
        human,
        group("bob@example.net", "failed", "5.0.0"),
        group("carol@example.org", "failed", "5.0.0"),
    )
    got = {p.recipient: p.enhanced for p in parse_recipients(raw)}
    assert got == {"bob@example.net": "5.1.1", "carol@example.org": "5.2.2"}


# ------------------------------------------------------------ replies in any body


def test_a_reply_in_a_second_text_part_and_in_html_only_is_read() -> None:
    two_parts = (
        "From: MAILER-DAEMON@mail.example.test\nTo: news@example.com\nSubject: Unzustellbar\n"
        'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="B"\n\n'
        "--B\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n"
        "Ihre Nachricht konnte nicht zugestellt werden.\n\n"
        "--B\nContent-Type: text/plain\n\nRecipient: bob@example.net\n"
        "Remote server reply: 554 5.7.1 Rejected for policy reasons\n\n--B--\n"
    )
    assert explain(two_parts, now=NOW).bounce.enhanced == "5.7.1"
    html = (
        "From: MAILER-DAEMON@mail.example.test\nTo: news@example.com\nSubject: Undelivered\n"
        "MIME-Version: 1.0\nContent-Type: text/html; charset=utf-8\n\n"
        "<p>Your message to <b>bob@example.net</b> could not be delivered.</p>"
        "<pre>552 5.2.2 Mailbox quota exceeded</pre>\n"
    )
    b = explain(html, now=NOW).bounce
    assert b.enhanced == "5.2.2" and b.recipient == "bob@example.net"


def test_versions_dates_and_headers_are_still_not_codes() -> None:
    text = (
        "From: postmaster@mail.example.com\nTo: news@example.com\nSubject: Release 4.4.7\n\n"
        "Mail server: mxl_mta-5.5.0-3 (build 4.2.1-GA)\nDate: 2026.12.04 05:50:21\n"
        "X-Spam-Score: 5.3.1\n\nYour message to bob@example.net was not delivered.\n"
        "The remote server answered: 552 5.2.2 over quota\n"
    )
    b = explain(text, now=NOW).bounce
    assert b.enhanced == "5.2.2" and b.codes == ("5.2.2",)


def test_the_recipient_from_x_failed_recipients_or_the_returned_message() -> None:
    text = (
        "From: Mailer-Daemon@mail.example.org\nTo: news@example.com\n"
        "X-Failed-Recipients: bob@example.net\nSubject: Mail delivery failed\n\n"
        "Reason: 552 5.2.2 Mailbox full\n"
    )
    assert explain(text, now=NOW).bounce.recipient == "bob@example.net"
    mime = (
        "From: postmaster@gateway.example\nTo: news@example.com\nSubject: Delivery failure\n"
        'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="B"\n\n'
        "--B\nContent-Type: text/plain\n\nFinal answer of the remote host was 550 5.2.1 "
        "Account disabled\n\n--B\nContent-Type: message/rfc822\n\nFrom: news@example.com\n"
        "To: Carol <carol@example.org>\nSubject: hello\n\nhi\n--B--\n"
    )
    assert explain(mime, now=NOW).bounce.recipient == "carol@example.org"


def test_an_8bit_text_part_is_read_as_sent() -> None:
    text = (
        "From: MAILER-DAEMON@mail.example.test\nTo: news@example.com\nSubject: Unzustellbar\n"
        'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="B"\n\n'
        "--B\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n"
        "  bob@example.net\n\nDie Nachricht ist zu groß und wurde nicht zugestellt.\n\n--B--\n"
    )
    b = explain(text.encode("utf-8"), now=NOW).bounce
    assert b.enhanced == "5.3.4" and b.matched_phrase == "Nachricht ist zu groß"
    assert b.notice is Notice.FAILED


# ------------------------------------------------------------ notices that are not failures


def test_a_success_dsn_gives_one_keep_record_per_recipient_counted_by_notice(
    tmp_path: Path,
) -> None:
    human = "<bob@example.net>: delivered to mailbox\n\n<list@example.org>: alias expanded"
    raw = dsn(
        human,
        group("bob@example.net", "delivered", "2.0.0"),
        group("list@example.org", "expanded", "2.0.0"),
        group("carol@example.com", "relayed", "2.0.0", "250 2.0.0 Ok: queued as 4QzX1"),
        subject="Successful Mail Delivery Report",
    )
    path = tmp_path / "ok.eml"
    path.write_text(raw)
    items = list(explain_batch([path], input_format="eml", now=NOW))
    assert all(isinstance(i, BatchRecord) for i in items)
    records = [i for i in items if isinstance(i, BatchRecord)]
    assert [r.notice for r in records] == [Notice.DELIVERED, Notice.EXPANDED, Notice.RELAYED]
    assert {r.decision for r in records} == {Decision.KEEP}
    builder = SummaryBuilder()
    for r in records:
        VALIDATOR.validate(item_to_dict(r))
        builder.add(r)
    summary = summary_to_dict(builder.summary())
    VALIDATOR.validate(summary)
    assert summary["by_notice"] == {"delivered": 1, "expanded": 1, "relayed": 1}
    assert "suppress" not in summary["by_decision"]


def test_delay_warnings_are_delays_never_suppressed() -> None:
    exim = (
        "From: Mail Delivery System <Mailer-Daemon@mail.example.org>\nTo: news@example.com\n"
        "X-Failed-Recipients: bob@example.net\n"
        "Subject: Warning: message 1qAbCd-000Ab-Ef delayed 24 hours\n\n"
        "This message was created automatically by mail delivery software.\n"
        "A message that you sent has not yet been delivered to one or more of its\n"
        "recipients after more than 24 hours on the queue on mail.example.org.\n\n"
        "  bob@example.net\n    host mx.example.net [198.51.100.5]: Connection timed out\n"
    )
    e = explain(exim, now=NOW)
    assert e.bounce.notice is Notice.DELAYED and e.bounce.recipient == "bob@example.net"
    assert e.bounce.enhanced == "4.4.1" and e.decision is Decision.RETRY
    # A delayed DSN whose Status is class 5 is still not "suppress".
    raw = dsn("<bob@example.net>: still trying", group("bob@example.net", "delayed", "5.1.1"))
    e = explain(raw, now=NOW)
    assert e.bounce.notice is Notice.DELAYED and e.decision is not Decision.SUPPRESS
    assert e.action is not None and "delay warning" in e.action.summary
    VALIDATOR.validate(explanation_to_dict(e))


def test_a_delivery_receipt_without_dsn_fields_is_a_delivery() -> None:
    text = (
        "From: Microsoft Outlook <postmaster@corp.example>\nTo: news@example.com\n"
        "Subject: Delivered: Release notes\n\n"
        "Your message has been delivered to the following recipients:\n\nbob@example.net\n"
    )
    e = explain(text, now=NOW)
    assert e.bounce.notice is Notice.DELIVERED and e.bounce.recipient == "bob@example.net"
    assert e.decision is Decision.KEEP


# ------------------------------------------------------------ the corpus


def test_the_corpus_agrees() -> None:
    """The modeled corpus (scripts/make_corpus.py) stays in agreement; the figures before
    and after are in the README's explain section."""
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import corpus_score  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    per_group, misses, _ = corpus_score.score(ROOT / "fixtures" / "bounces" / "corpus")
    total = sum(c["total"] for c in per_group.values())
    assert total >= 200
    assert len(misses) <= total // 50, misses[:5]


def test_the_mtas_own_summary_next_to_a_transcript_is_not_the_servers_reply() -> None:
    """Sendmail writes its own "550 5.1.1 <a>... User unknown" under the server's
    "<<< 551 not our user": only the "<<<" lines are the server's words, and a reply
    without an enhanced code leaves the DSN's code alone."""
    human = (
        "   ----- Transcript of session follows -----\n"
        "... while talking to mx.example.net.:\n>>> DATA\n<<< 551 not our user\n"
        "550 5.1.1 <bob@example.net>... User unknown\n<<< 503 need RCPT command [data]\n"
    )
    raw = dsn(human, group("bob@example.net", "failed", "5.1.6", "551 not our user"))
    assert explain(raw, now=NOW).bounce.enhanced == "5.1.6"


def test_a_generic_summary_line_does_not_override_a_generic_status() -> None:
    human = (
        "   ----- Transcript of session follows -----\n>>> DATA\n"
        "<<< 550 Unknown user bob@example.net\n554 5.0.0 Service unavailable\n"
    )
    raw = dsn(human, group("bob@example.net", "failed", "5.2.0", "550 Unknown user"))
    assert explain(raw, now=NOW).bounce.enhanced == "5.2.0"


def test_an_iso_2022_jp_text_part_is_decoded() -> None:
    """Japanese carriers send 7bit ISO-2022-JP: its escapes are decoded, then the
    Japanese phrase rows apply."""
    body = "宛先のメールアドレスが見つかりません。".encode("iso-2022-jp").decode("ascii")
    text = (
        "From: MAILER-DAEMON@mail.example.test\nTo: news@example.com\nSubject: Returned\n"
        'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="B"\n\n'
        "--B\nContent-Type: text/plain; charset=iso-2022-jp\nContent-Transfer-Encoding: 7bit\n\n"
        f"<bob@example.net>\n{body}\n\n--B--\n"
    )
    b = explain(text, now=NOW).bounce
    assert b.enhanced == "5.1.1" and b.code_source is CodeSource.INFERRED
