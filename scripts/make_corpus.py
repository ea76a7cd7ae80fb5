# ruff: noqa: RUF001  (Cyrillic text in the Russian notices is meant)
"""Write the bounce agreement corpus: fixtures/bounces/corpus/*.eml and manifest.json.

Each message is modeled on the published shape of one MTA's or provider's
notifications (the layout of its template, its wording, its DSN fields), as
documented in the MTA's source or manual or as commonly seen from the provider; no
message is a copy of a third-party test message. The ``source`` of each manifest
entry says what it is modeled on and in which language. The expected labels
(``expect``) were written with the message, from what the message states, and not
from smtpdiag's rules:

- ``enhanced``: the status the message gives for the recipient (the receiving
  server's own reply first, then Diagnostic-Code, then Status; the last reply of a
  transcript); a list means any of these is right.
- ``kind``: ``failed``, ``delayed``, ``delivered``, ``relayed`` or ``expanded``.
- ``reason``: for a message that states no code, the reason its words give (a list
  means any of these is right).

Run: ``python scripts/make_corpus.py`` (deterministic; rewrites the folder).
"""

from __future__ import annotations

import base64
import json
import random
import shutil
from email.header import Header
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "fixtures" / "bounces" / "corpus"
RNG = random.Random(24)

USERS = [
    "alice",
    "bob",
    "carol",
    "dave",
    "erin",
    "frank",
    "grace",
    "heidi",
    "ivan",
    "judy",
    "mallory",
    "nina",
    "oscar",
    "peggy",
    "quinn",
    "rupert",
    "sybil",
    "trent",
    "ursula",
    "victor",
    "wendy",
    "xavier",
    "yusuf",
    "zoe",
    "m.tanaka",
    "k.ivanova",
    "j.muller",
    "l.dubois",
    "p.rossi",
    "a.silva",
    "r.garcia",
    "d.jansen",
]
DOMAINS = [
    "example.com",
    "example.net",
    "example.org",
    "mail.example",
    "corp.example",
    "shop.test",
    "provider.test",
    "isp.example",
    "lists.example.org",
    "example.de.test",
    "example.fr.test",
    "example.jp.test",
    "example.ru.test",
    "example.br.test",
]
DATES = [
    "Mon, 30 Nov 2026 08:14:03 +0000",
    "Tue, 01 Dec 2026 17:42:51 +0100",
    "Wed, 02 Dec 2026 03:05:19 -0500",
    "Thu, 03 Dec 2026 22:30:00 +0900",
    "Fri, 04 Dec 2026 11:11:11 +0300",
]


class Corpus:
    def __init__(self) -> None:
        self.entries: list[dict[str, object]] = []
        self.n = 0
        self.group = ""

    def add(self, name: str, raw: str | bytes, source: str, **expect: object) -> None:
        self.n += 1
        fname = f"{self.n:03d}_{name}.eml"
        data = raw.encode("utf-8") if isinstance(raw, str) else raw
        (ROOT / fname).write_bytes(data)
        self.entries.append(
            {"file": fname, "group": self.group, "source": source, "expect": expect}
        )


C = Corpus()


def rcpt(domain: str | None = None) -> str:
    return f"{RNG.choice(USERS)}@{domain or RNG.choice(DOMAINS)}"


def ip() -> str:
    return f"198.51.100.{RNG.randint(2, 250)}"


def date() -> str:
    return RNG.choice(DATES)


def qid() -> str:
    return "".join(RNG.choice("0123456789ABCDEF") for _ in range(10))


def returned_headers(sender: str, to: str) -> str:
    return (
        f"Return-Path: <{sender}>\n"
        f"Received: from client.example.com (client.example.com [{ip()}])\n"
        f"\tby mail.example.com (Postfix 3.7.{RNG.randint(1, 9)}) with ESMTPSA id {qid()};\n"
        f"\t{date()}\n"
        f"X-Mailer: Thunderbird 115.{RNG.randint(1, 9)}.0\n"
        f"Message-ID: <{qid()}.{RNG.randint(1000, 9999)}@example.com>\n"
        f"Date: {date()}\n"
        f"From: Sender <{sender}>\n"
        f"To: <{to}>\n"
        "Subject: Release 5.1.1 notes and invoice 4.4.7\n"
    )


def b64(text: str) -> str:
    enc = base64.b64encode(text.encode("utf-8")).decode("ascii")
    return "\n".join(enc[i : i + 76] for i in range(0, len(enc), 76))


def subject(text: str) -> str:
    if text.isascii():
        return text
    return Header(text, "utf-8").encode()


def dsn_message(
    *,
    from_: str,
    subj: str,
    text: str,
    reporting: str,
    recipients: list[dict[str, str]],
    sender: str = "news@example.com",
    charset: str = "us-ascii",
    encode_text: bool = False,
    returned: str = "headers",
    extra_head: str = "",
) -> str:
    """A multipart/report (RFC 3464) with a human part, the DSN part and the returned headers."""
    b = f"{qid()}.{RNG.randint(100000, 999999)}/{reporting}"
    first = recipients[0]["rcpt"]
    fields = [
        f"Reporting-MTA: dns; {reporting}",
        f"X-Postfix-Queue-ID: {qid()}",
        f"Arrival-Date: {date()}",
        "",
    ]
    for r in recipients:
        fields.append(f"Final-Recipient: rfc822; {r['rcpt']}")
        if r.get("orig", "yes") == "yes":
            fields.append(f"Original-Recipient: rfc822;{r['rcpt']}")
        fields.append(f"Action: {r['action']}")
        fields.append(f"Status: {r['status']}")
        if r.get("remote"):
            fields.append(f"Remote-MTA: dns; {r['remote']}")
        if r.get("diag") is not None:
            fields.append(f"Diagnostic-Code: {r['diag']}")
        if r.get("last"):
            fields.append(f"Last-Attempt-Date: {date()}")
        fields.append("")
    if encode_text:
        textpart = f"Content-Type: text/plain; charset={charset}\nContent-Transfer-Encoding: base64\n\n{b64(text)}\n"
    else:
        textpart = f"Content-Type: text/plain; charset={charset}\nContent-Transfer-Encoding: 8bit\n\n{text}\n"
    retpart = (
        "Content-Type: text/rfc822-headers\n\n" + returned_headers(sender, first)
        if returned == "headers"
        else "Content-Type: message/rfc822\n\n"
        + returned_headers(sender, first)
        + "\nHello,\nsee the figures for 2026.\n"
    )
    return (
        f"Return-Path: <>\nReceived: by {reporting} (Postfix)\n\tid {qid()}; {date()}\n"
        f"Date: {date()}\nFrom: {from_}\nSubject: {subject(subj)}\nTo: {sender}\n{extra_head}"
        "Auto-Submitted: auto-replied\nMIME-Version: 1.0\n"
        f'Content-Type: multipart/report; report-type=delivery-status;\n\tboundary="{b}"\n'
        f"Message-Id: <{qid()}@{reporting}>\n\nThis is a MIME-encapsulated message.\n\n"
        f"--{b}\nContent-Description: Notification\n{textpart}\n"
        f"--{b}\nContent-Description: Delivery report\nContent-Type: message/delivery-status\n\n"
        + "\n".join(fields)
        + f"\n--{b}\nContent-Description: Undelivered Message Headers\n{retpart}\n--{b}--\n"
    )


def plain_message(
    *,
    from_: str,
    subj: str,
    body: str,
    sender: str = "news@example.com",
    rcpt_: str = "",
    charset: str = "us-ascii",
    encoding: str = "8bit",
    attach: bool = True,
    extra_head: str = "",
) -> str:
    """A bounce that is not RFC 3464: one text part (optionally the returned message after it)."""
    payload = b64(body) if encoding == "base64" else body
    head = (
        f"Return-Path: <>\nReceived: from mx.example.com ([{ip()}]) by mail.example.com with ESMTP id {qid()};\n"
        f"\t{date()}\nDate: {date()}\nFrom: {from_}\nTo: {sender}\nSubject: {subject(subj)}\n{extra_head}"
        f"Message-ID: <{qid()}@mail.example.com>\nMIME-Version: 1.0\n"
    )
    if not attach:
        return (
            head
            + f"Content-Type: text/plain; charset={charset}\nContent-Transfer-Encoding: {encoding}\n\n{payload}\n"
        )
    b = f"----=_Part_{RNG.randint(100000, 999999)}"
    return (
        head
        + f'Content-Type: multipart/mixed; boundary="{b}"\n\n'
        + f"--{b}\nContent-Type: text/plain; charset={charset}\nContent-Transfer-Encoding: {encoding}\n\n{payload}\n"
        + f"--{b}\nContent-Type: message/rfc822\n\n{returned_headers(sender, rcpt_ or 'someone@example.com')}\n"
        + "Hello, the meeting moved to 4.30pm (room 5.2).\n"
        + f"--{b}--\n"
    )


# ---------------------------------------------------------------------------
# Templates of the notifying MTAs (the human-readable parts)
# ---------------------------------------------------------------------------


def postfix_text(host: str, lines: str) -> str:
    return (
        f"This is the mail system at host {host}.\n\n"
        "I'm sorry to have to inform you that your message could not\n"
        "be delivered to one or more recipients. It's attached below.\n\n"
        "For further assistance, please send mail to postmaster.\n\n"
        "If you do so, please include this problem report. You can\n"
        "delete your own text from the attached returned message.\n\n"
        "                   The mail system\n\n" + lines + "\n"
    )


def postfix_delay_text(host: str, lines: str) -> str:
    return (
        f"This is the mail system at host {host}.\n\n"
        "####################################################################\n"
        "# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #\n"
        "####################################################################\n\n"
        "Your message could not be delivered for more than 4 hour(s).\n"
        "It will be retried until it is 5 day(s) old.\n\n"
        "For further assistance, please send mail to postmaster.\n\n"
        "                   The mail system\n\n" + lines + "\n"
    )


def postfix_success_text(host: str, lines: str) -> str:
    return (
        f"This is the mail system at host {host}.\n\n"
        "Your message was successfully delivered to the destination(s)\n"
        "listed below. If the message was delivered to mailbox you will\n"
        "receive no further notifications. Otherwise you may still receive\n"
        "notifications of mail delivery errors from other systems.\n\n"
        "                   The mail system\n\n" + lines + "\n"
    )


def exim_text(host: str, addr: str, detail: str, permanent: bool = True) -> str:
    head = "This message was created automatically by mail delivery software.\n\n"
    if permanent:
        head += (
            "A message that you sent could not be delivered to one or more of its\n"
            "recipients. This is a permanent error. The following address(es) failed:\n\n"
        )
    else:
        head += (
            "A message that you sent could not be delivered to one or more of its\n"
            "recipients. The following address(es) failed:\n\n"
        )
    return head + f"  {addr}\n" + "\n".join("    " + x for x in detail.splitlines()) + "\n"


def exim_delay_text(host: str, addr: str, detail: str) -> str:
    return (
        "This message was created automatically by mail delivery software.\n"
        "A message that you sent has not yet been delivered to one or more of its\n"
        f"recipients after more than 24 hours on the queue on {host}.\n\n"
        f"The message identifier is:     1q{qid()}-00{RNG.randint(1000, 9999)}-Ab\n"
        "The subject of the message is: Release 5.1.1 notes\n"
        f"The date of the message is:    {date()}\n\n"
        "The address to which the message has not yet been delivered is:\n\n"
        f"  {addr}\n    {detail}\n\n"
        "No action is required on your part. Delivery attempts will continue for\n"
        "some time, and this warning may be repeated at intervals if the message\n"
        "remains undelivered. Eventually the mail delivery software will give up,\n"
        "and when that happens, the message will be returned to you.\n"
    )


def exim_message(
    addr: str,
    detail: str,
    *,
    subj: str = "Mail delivery failed: returning message to sender",
    host: str = "mail.example.org",
    permanent: bool = True,
) -> str:
    body = exim_text(host, addr, detail, permanent)
    body += "\n------ This is a copy of the message, including all the headers. ------\n\n"
    body += returned_headers("news@example.com", addr) + "\nHello, the numbers for 2026.\n"
    return (
        f"Return-path: <>\nEnvelope-to: news@example.com\nDelivery-date: {date()}\n"
        f"Received: from Debian-exim by {host} with local (Exim 4.96)\n\tid 1q{qid()}-000Ab; {date()}\n"
        f"X-Failed-Recipients: {addr}\nAuto-Submitted: auto-replied\n"
        f"From: Mail Delivery System <Mailer-Daemon@{host}>\nTo: news@example.com\n"
        f"Subject: {subj}\nMessage-Id: <E1q{qid()}@{host}>\nDate: {date()}\n\n{body}"
    )


def sendmail_dsn(
    addr: str,
    reason_line: str,
    transcript: str,
    status: str,
    diag: str | None,
    *,
    action: str = "failed",
    remote: str = "mx.example.net",
    host: str = "mail.example.com",
    warning: bool = False,
) -> str:
    if warning:
        lines = (
            f"The original message was received at {date()}\nfrom client.example.com [{ip()}]\n\n"
            "   ----- Transcript of session follows -----\n" + transcript + "\n"
            "Warning: message still undelivered after 4 hours\n"
            "Will keep trying until message is 5 days old\n"
        )
        subj = "Warning: could not send message for past 4 hours"
    else:
        lines = (
            f"The original message was received at {date()}\nfrom client.example.com [{ip()}]\n\n"
            "   ----- The following addresses had permanent fatal errors -----\n"
            f"<{addr}>\n{reason_line}\n\n"
            "   ----- Transcript of session follows -----\n" + transcript + "\n"
        )
        subj = "Returned mail: see transcript for details"
    return dsn_message(
        from_=f"Mail Delivery Subsystem <MAILER-DAEMON@{host}>",
        subj=subj,
        text=lines,
        reporting=host,
        recipients=[
            {
                "rcpt": addr,
                "action": action,
                "status": status,
                "remote": remote,
                "diag": diag,
                "last": "y",
            }
        ],
    )


def qmail_message(
    addr: str, detail: str, *, temporary: bool = False, host: str = "mail.example.org"
) -> str:
    if temporary:
        intro = (
            f"Hi. This is the qmail-send program at {host}.\n"
            "I'm not going to try again; this message has been in the queue too long.\n\n"
        )
    else:
        intro = (
            f"Hi. This is the qmail-send program at {host}.\n"
            "I'm afraid I wasn't able to deliver your message to the following addresses.\n"
            "This is a permanent error; I've given up. Sorry it didn't work out.\n\n"
        )
    body = intro + f"<{addr}>:\n{detail}\n\n--- Below this line is a copy of the message.\n\n"
    body += returned_headers("news@example.com", addr) + "\nHello.\n"
    return (
        f"Return-Path: <>\nReceived: (qmail {RNG.randint(1000, 99999)} invoked for bounce); {date()}\n"
        f"Date: {date()}\nFrom: MAILER-DAEMON@{host}\nTo: news@example.com\nSubject: failure notice\n\n{body}"
    )


# ---------------------------------------------------------------------------
# 1. Several statements about one recipient
# ---------------------------------------------------------------------------


def several_statements() -> None:
    C.group = "several-statements"
    # Postfix: Status disagrees with the remote reply quoted in the human part and Diagnostic-Code.
    cases = [
        (
            "5.2.1",
            "550 5.2.2 <{a}>: Mailbox full",
            "5.2.2",
            "mailbox full, DSN Status says disabled",
        ),
        (
            "5.1.1",
            "550 5.7.1 Service unavailable; client [{ip}] blocked using zen.spamhaus.org",
            "5.7.1",
            "blocklist",
        ),
        ("5.0.0", "552 5.2.2 Quota exceeded (mailbox for user is full)", "5.2.2", "generic Status"),
        (
            "5.1.1",
            "550 5.2.1 The email account that you tried to reach is disabled.",
            "5.2.1",
            "disabled",
        ),
        (
            "5.0.0",
            "550 5.1.1 <{a}>: Recipient address rejected: User unknown in virtual mailbox table",
            "5.1.1",
            "generic Status",
        ),
        ("5.7.1", "554 5.7.9 Message not accepted for policy reasons", "5.7.9", "policy subcode"),
        ("4.0.0", "452 4.2.2 Mailbox full, try again later", "4.2.2", "temporary quota"),
        ("5.1.0", "550 5.1.1 No such user", "5.1.1", "5.1.0 vs 5.1.1"),
    ]
    for st, reply, want, note in cases:
        a = rcpt()
        host = "mail.example.com"
        mx = f"mx{RNG.randint(1, 3)}.{a.split('@')[1]}"
        r = reply.format(a=a, ip=ip())
        human = f"<{a}>: host {mx}[{ip()}] said: {r} (in reply to RCPT TO command)"
        C.add(
            f"postfix_status_vs_reply_{want.replace('.', '')}",
            dsn_message(
                from_=f"MAILER-DAEMON@{host} (Mail Delivery System)",
                subj="Undelivered Mail Returned to Sender",
                text=postfix_text(host, human),
                reporting=host,
                recipients=[
                    {
                        "rcpt": a,
                        "action": "failed",
                        "status": st,
                        "remote": mx,
                        "diag": f"smtp; {r}",
                    }
                ],
            ),
            f"Postfix bounce(8) template (English), {note}: Status {st} vs the remote reply",
            enhanced=want,
            kind="failed",
        )
    # Status vs a Diagnostic-Code that is less specific but the human part quotes the reply.
    for st, diag, reply, want in [
        ("5.1.1", "smtp; 550 Requested action not taken", "550 5.2.2 mailbox over quota", "5.2.2"),
        ("5.0.0", "X-Unix; host said 554", "554 5.7.1 Relay access denied", "5.7.1"),
        (
            "5.2.0",
            "smtp; 552 message rejected",
            "552 5.3.4 Message size exceeds fixed limit",
            "5.3.4",
        ),
    ]:
        a = rcpt()
        host = "relay.example.com"
        mx = f"mx.{a.split('@')[1]}"
        human = f"<{a}>: host {mx}[{ip()}] said: {reply} (in reply to end of DATA command)"
        C.add(
            f"postfix_reply_in_body_{want.replace('.', '')}",
            dsn_message(
                from_=f"MAILER-DAEMON@{host} (Mail Delivery System)",
                subj="Undelivered Mail Returned to Sender",
                text=postfix_text(host, human),
                reporting=host,
                recipients=[
                    {"rcpt": a, "action": "failed", "status": st, "remote": mx, "diag": diag}
                ],
            ),
            "Postfix bounce(8) template: the reply quoted in the text is more specific than the DSN fields",
            enhanced=want,
        )
    # Sendmail transcripts: several replies, the last one for the recipient wins.
    seqs = [
        (
            [
                "550 5.2.1 {a}... Mailbox disabled for this recipient",
                "550 5.1.1 {a}... User Unknown",
            ],
            "5.2.1",
            "5.1.1",
        ),
        (
            ["452 4.2.2 {a}... Over quota, try later", "552 5.2.2 {a}... Mailbox full"],
            "4.2.2",
            "5.2.2",
        ),
        (
            [
                "451 4.7.1 {a}... Please try again later (greylisted)",
                "550 5.7.1 {a}... Rejected by policy",
            ],
            "5.7.1",
            "5.7.1",
        ),
        (
            [
                "421 4.4.2 mx closing connection",
                "554 5.7.1 {a}... Message refused: listed at bl.example",
            ],
            "5.0.0",
            "5.7.1",
        ),
        (["550 5.1.1 {a}... User unknown", "550 5.2.2 {a}... Mailbox full"], "5.1.1", "5.2.2"),
    ]
    for replies, st, want in seqs:
        a = rcpt()
        mx = f"mx.{a.split('@')[1]}"
        tr = f"... while talking to {mx}.:\n>>> RCPT To:<{a}>\n"
        tr += "\n".join(f"<<< {x.format(a=a)}" for x in replies[:-1])
        tr += f"\n... Deferred\n>>> DATA\n<<< {replies[-1].format(a=a)}\n{replies[-1].format(a=a)[4:]}\n<<< 503 5.0.0 Need RCPT (recipient)"
        C.add(
            f"sendmail_transcript_last_{want.replace('.', '')}",
            sendmail_dsn(a, f"    (reason: {replies[0].format(a=a)})", tr, st, None),
            "Sendmail DSN (deliver.c/savemail.c layout, English): a transcript with several replies; the last one for the recipient",
            enhanced=want,
        )
    # Exim: the remote reply inside the failure text; DSN Status generic.
    for reply, want in [
        ("550 5.2.2 <{a}>: mailbox is full", "5.2.2"),
        (
            "550-5.1.1 The email account that you tried to reach does not exist. Please try\n550 5.1.1 double-checking the recipient's email address for typos",
            "5.1.1",
        ),
        ("554 5.7.1 <{a}>: Relay access denied", "5.7.1"),
        ("552 5.3.4 Message size exceeds maximum permitted", "5.3.4"),
    ]:
        a = rcpt()
        r = reply.format(a=a)
        detail = (
            f"host mx.{a.split('@')[1]} [{ip()}]\nSMTP error from remote mail server after RCPT TO:<{a}>:\n"
            + r
        )
        host = "mail.example.org"
        C.add(
            f"exim_dsn_reply_{want.replace('.', '')}",
            dsn_message(
                from_=f"Mail Delivery System <Mailer-Daemon@{host}>",
                subj="Mail delivery failed: returning message to sender",
                text=exim_text(host, a, detail),
                reporting=host,
                recipients=[
                    {
                        "rcpt": a,
                        "action": "failed",
                        "status": "5.0.0",
                        "remote": f"mx.{a.split('@')[1]}",
                        "diag": "smtp; " + r.replace("\n", "\n "),
                    }
                ],
            ),
            "Exim 4 bounce_message_text with a DSN (English): Status 5.0.0, the remote reply carries the code",
            enhanced=want,
        )
    # Multi-recipient Postfix: each recipient its own reply.
    for _ in range(3):
        a1, a2 = rcpt("example.net"), rcpt("example.org")
        while a2.split("@")[0] == a1.split("@")[0]:
            a2 = rcpt("example.org")
        r1 = f"550 5.1.1 <{a1}>: Recipient address rejected: User unknown"
        r2 = f"552 5.2.2 <{a2}>: Mailbox full"
        human = (
            f"<{a1}>: host mx.example.net[{ip()}] said: {r1} (in reply to RCPT TO command)\n\n"
            f"<{a2}>: host mx.example.org[{ip()}] said: {r2} (in reply to RCPT TO command)"
        )
        host = "mail.example.com"
        C.add(
            "postfix_two_recipients",
            dsn_message(
                from_=f"MAILER-DAEMON@{host} (Mail Delivery System)",
                subj="Undelivered Mail Returned to Sender",
                text=postfix_text(host, human),
                reporting=host,
                recipients=[
                    {
                        "rcpt": a1,
                        "action": "failed",
                        "status": "5.0.0",
                        "remote": "mx.example.net",
                        "diag": f"smtp; {r1}",
                    },
                    {
                        "rcpt": a2,
                        "action": "failed",
                        "status": "5.0.0",
                        "remote": "mx.example.org",
                        "diag": f"smtp; {r2}",
                    },
                ],
            ),
            "Postfix bounce(8), two recipients, generic Status and per-recipient replies",
            recipients={a1: "5.1.1", a2: "5.2.2"},
        )


# ---------------------------------------------------------------------------
# 2. Bare replies in bodies that are not RFC 3464
# ---------------------------------------------------------------------------


def bare_replies() -> None:
    C.group = "bare-replies"
    # Yahoo-style (Sisimai's Yahoo shape: "Remote host said:" then the reply).
    for reply, want in [
        ("550 5.1.1 <{a}>... User unknown [RCPT_TO]", "5.1.1"),
        ("552 5.2.2 <{a}>: Mailbox full [RCPT_TO]", "5.2.2"),
        ("554 5.7.9 Message not accepted for policy reasons. [BODY]", "5.7.9"),
        (
            "421 4.7.0 [TSS04] Messages from {ip} temporarily deferred due to unexpected volume or user complaints",
            "4.7.0",
        ),
        (
            "553 5.7.1 [BL21] Connections will not be accepted from {ip}, because the ip is in Spamhaus's list",
            "5.7.1",
        ),
    ]:
        a = rcpt()
        body = (
            "Sorry, we were unable to deliver your message to the following address.\n\n"
            f"<{a}>:\nRemote host said: {reply.format(a=a, ip=ip())}\n\n"
            "--- Below this line is a copy of the message.\n"
        )
        C.add(
            f"yahoo_remote_said_{want.replace('.', '')}",
            plain_message(
                from_="MAILER-DAEMON@yahoo.example", subj="Failure Notice", body=body, rcpt_=a
            ),
            "Yahoo Mail failure notice (English), 'Remote host said:' layout",
            enhanced=want,
        )
    # Gmail-style: "The response from the remote server was:" + reply line.
    for reply, want, head in [
        (
            "550 5.1.1 <{a}>: Recipient address rejected: User unknown in relay recipient table",
            "5.1.1",
            "Address not found",
        ),
        (
            "552 5.2.2 The recipient's inbox is out of storage space.",
            "5.2.2",
            "Message not delivered",
        ),
        (
            "554 5.7.1 Service unavailable; Client host [{ip}] blocked using b.barracudacentral.org",
            "5.7.1",
            "Message blocked",
        ),
        (
            "550 5.7.26 Unauthenticated email from example.com is not accepted due to domain's DMARC policy",
            "5.7.26",
            "Message blocked",
        ),
        (
            "452 4.2.2 The email account that you tried to reach is over quota.",
            "4.2.2",
            "Message not delivered",
        ),
        (
            "550 5.4.1 Recipient address rejected: Access denied. AS(201806281)",
            "5.4.1",
            "Message not delivered",
        ),
    ]:
        a = rcpt()
        text = (
            f"** {head} **\n\nThere was a problem delivering your message to {a}. "
            "See the technical details below.\n\nThe response from the remote server was:\n"
            f"{reply.format(a=a, ip=ip())}\n"
        )
        html = f"<html><body><h2>{head}</h2><p>There was a problem delivering your message to <b>{a}</b>.</p></body></html>"
        b = f"000000000000{qid()}"
        raw = (
            f"Return-Path: <>\nReceived: by mail-sor-f41.google.example with SMTP id {qid()};\n\t{date()}\n"
            f"Date: {date()}\nFrom: Mail Delivery Subsystem <mailer-daemon@googlemail.example>\n"
            f"To: news@example.com\nX-Failed-Recipients: {a}\nSubject: Delivery Status Notification (Failure)\n"
            f'MIME-Version: 1.0\nContent-Type: multipart/alternative; boundary="{b}"\n\n'
            f'--{b}\nContent-Type: text/plain; charset="UTF-8"\n\n{text}\n'
            f'--{b}\nContent-Type: text/html; charset="UTF-8"\n\n{html}\n--{b}--\n'
        )
        C.add(
            f"gmail_text_reply_{want.replace('.', '')}",
            raw,
            "Gmail non-RFC3464 notification (English): the remote server's reply under 'The response from the remote server was:'",
            enhanced=want,
        )
    # qmail: "Remote host said:" + "Giving up on".
    for reply, want in [
        (
            "550 5.1.1 <{a}>: Recipient address rejected: User unknown in local recipient table",
            "5.1.1",
        ),
        ("552 5.2.2 {a} Mailbox is full", "5.2.2"),
        ("554 5.7.1 Relay access denied", "5.7.1"),
        ("550 5.7.23 SPF validation failed for sender", "5.7.23"),
    ]:
        a = rcpt()
        i = ip()
        detail = f"{i} does not like recipient.\nRemote host said: {reply.format(a=a)}\nGiving up on {i}."
        C.add(
            f"qmail_remote_said_{want.replace('.', '')}",
            qmail_message(a, detail),
            "qmail-send bounce (qmail-remote.c wording, English)",
            enhanced=want,
        )
    # Exim without DSN.
    for reply, want in [
        ("550 5.1.1 <{a}>: Recipient address rejected: User unknown", "5.1.1"),
        ("452 4.2.2 <{a}>: Mailbox is full", "4.2.2"),
        ("550 5.7.1 Message rejected due to SPF policy", "5.7.1"),
        ("554 5.7.1 Your IP {ip} is listed on bl.spamcop.net", "5.7.1"),
        ("552 5.3.4 Message too big", "5.3.4"),
        ("550 5.2.1 Mailbox disabled, not accepting messages", "5.2.1"),
    ]:
        a = rcpt()
        detail = f"host mx.{a.split('@')[1]} [{ip()}]\nSMTP error from remote mail server after RCPT TO:<{a}>:\n{reply.format(a=a, ip=ip())}"
        C.add(
            f"exim_plain_{want.replace('.', '')}",
            exim_message(a, detail),
            "Exim 4 bounce (English, no DSN part): 'SMTP error from remote mail server after ...'",
            enhanced=want,
        )
    # Microsoft 365 / Exchange text-only NDRs.
    for reply, want, user_text in [
        (
            "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient {a} not found by SMTP address lookup",
            "5.1.10",
            "The email address you entered couldn't be found.",
        ),
        (
            "550 5.4.1 Recipient address rejected: Access denied. AS(201806281) [AM0PR01MB1234.eurprd01.prod.outlook.example]",
            "5.4.1",
            "Your message couldn't be delivered to the recipient because the address wasn't found.",
        ),
        (
            "552 5.2.2 STOREDRV.Deliver; mailbox full",
            "5.2.2",
            "The recipient's mailbox is full and can't accept messages now.",
        ),
        (
            "550 5.7.1 RESOLVER.RST.NotAuthorized; not authorized",
            "5.7.1",
            "Your message wasn't delivered because the recipient's email provider rejected it.",
        ),
        (
            "554 5.4.14 Hop count exceeded - possible mail loop ATTR34",
            "5.4.14",
            "Your message couldn't be delivered because of a routing loop.",
        ),
        (
            "550 5.7.708 Service unavailable. Access denied, traffic not accepted from this IP.",
            "5.7.708",
            "Your message wasn't delivered because of security policies.",
        ),
        (
            "550 5.7.509 Access denied, sending domain example.com does not pass DMARC verification and has a DMARC policy of reject.",
            "5.7.509",
            "Your message wasn't delivered because the sending domain failed DMARC.",
        ),
    ]:
        a = rcpt()
        body = (
            f"Delivery has failed to these recipients or groups:\n\n{a}\n{user_text}\n\n\n\n\n\n"
            "Diagnostic information for administrators:\n\n"
            f"Generating server: AM6PR0{RNG.randint(1, 9)}MB{RNG.randint(1000, 9999)}.eurprd0{RNG.randint(1, 9)}.prod.outlook.example\n\n"
            f"{a}\nRemote Server returned '{reply.format(a=a)}'\n\n"
            "Original message headers:\n\n" + returned_headers("news@example.com", a)
        )
        C.add(
            f"exchange_text_{want.replace('.', '')}",
            plain_message(
                from_="postmaster@outlook.example",
                subj="Undeliverable: Release notes",
                body=body,
                attach=False,
                extra_head="Content-Language: en-US\nX-MS-Exchange-Message-Is-Ndr:\n",
            ),
            "Exchange / Microsoft 365 NDR (English), text-only: \"Remote Server returned '...'\"",
            enhanced=want,
        )
    # Zoho-style and other "ERROR CODE" lines.
    for reply, want in [
        ("{a}, ERROR CODE :550 - 5.1.1 Requested action not taken: mailbox unavailable", "5.1.1"),
        ("{a}, ERROR CODE :552 - 5.2.2 Mailbox size limit exceeded", "5.2.2"),
        ("{a}, ERROR CODE :554 - 5.7.1 Sender IP address is listed", "5.7.1"),
    ]:
        a = rcpt()
        body = (
            "This message was created automatically by mail delivery software.\n"
            "A message that you sent could not be delivered to one or more of its recipients. This is a permanent error.\n\n"
            f"{reply.format(a=a)}\n\n"
            "Received: from mail.zoho.example by mx.zoho.example with SMTP id 16907012345671002.0\n"
        )
        C.add(
            f"zoho_error_code_{want.replace('.', '')}",
            plain_message(
                from_="mailer-daemon@mail.zoho.example",
                subj="Undelivered Mail Returned to Sender",
                body=body,
                rcpt_=a,
            ),
            "Zoho Mail notification (English), 'ERROR CODE :' layout",
            enhanced=want,
        )
    # Amazon SES: non-DSN text, reply line; and a DSN with the reply in Diagnostic-Code.
    for reply, want in [
        ("550 5.1.1 user unknown", "5.1.1"),
        ("552 5.2.2 Mailbox full", "5.2.2"),
        ("554 5.7.1 Message rejected: Email address is on the suppression list", "5.7.1"),
    ]:
        a = rcpt()
        body = (
            "An error occurred while trying to deliver the mail to the following recipients:\n"
            f"{a}\n\nReporting-MTA: dns; a27-{RNG.randint(10, 99)}.smtp-out.us-west-2.amazonses.example\n"
            f"Action: failed\nFinal-Recipient: rfc822; {a}\nDiagnostic-Code: smtp; {reply}\nStatus: 5.0.0\n"
        )
        C.add(
            f"ses_text_{want.replace('.', '')}",
            plain_message(
                from_="MAILER-DAEMON@amazonses.example",
                subj="Delivery Status Notification (Failure)",
                body=body,
                rcpt_=a,
            ),
            "Amazon SES bounce notice (English): DSN fields pasted into a text body",
            enhanced=want,
        )
    # Courier / Domino / mail.ru / Yandex / GMX bodies with a reply line inside provider wording.
    for sender_name, tpl, reply, want in [
        (
            "Courier mail server",
            "This is a delivery status notification from mail.example.org,\nrunning the Courier mail server, version 1.1.8.\n\n"
            "The original message was received on {d}\nfrom client.example.com [{ip}]\n\n"
            "---------------------------------------------------------------------------\n\n"
            "                           UNDELIVERABLE MAIL\n\n"
            "Your message to the following recipients cannot be delivered:\n\n<{a}>:\n    mx.example.net [{ip}]:\n>>> RCPT TO:<{a}>\n<<< {r}\n",
            "550 5.1.1 <{a}>: No such user",
            "5.1.1",
        ),
        (
            "Domino",
            "Your message\n\n  Subject: Release notes\n\nwas not delivered to:\n\n  {a}\n\nbecause:\n\n  {r}\n",
            "554 5.7.1 Recipient address rejected: Access denied",
            "5.7.1",
        ),
        (
            "Mail.ru",
            "This message was created automatically by mail delivery software.\n\n"
            "A message that you sent could not be delivered to one or more of its\nrecipients. This is a permanent error. The following address(es) failed:\n\n"
            "  {a}\n    SMTP error from remote mail server after RCPT TO:<{a}>:\n    host mx.example.net [{ip}]: {r}\n",
            "550 5.2.2 Message rejected under suspicion of SPAM; mailbox is full",
            "5.2.2",
        ),
        (
            "Yandex",
            "This is the mail system at host mail.yandex.example.\n\n"
            "I'm sorry to have to inform you that your message could not\nbe delivered to one or more recipients.\n\n"
            "<{a}>: host mx.example.net[{ip}] said: {r} (in reply to end of DATA command)\n",
            "554 5.7.1 [2] Message rejected under suspicion of SPAM",
            "5.7.1",
        ),
        (
            "GMX",
            "This message was created automatically by mail delivery software.\n\nA message that you sent could not be delivered to one or more of\nits recipients. This is a permanent error. The following address failed:\n\n"
            '"{a}":\nSMTP error from remote server for RCPT TO command, host: mx.example.net ({ip}) reason: {r}\n',
            "550 5.1.1 <{a}>... User unknown",
            "5.1.1",
        ),
        (
            "1&1",
            "This message was created automatically by mail delivery software.\n\nA message that you sent could not be delivered to one or more of\nits recipients. This is a permanent error. The following address failed:\n\n"
            "{a}:\nSMTP error from remote server for TEXT command, host: mx.example.net ({ip}) reason: {r}\n",
            "552 5.3.4 Message size exceeds fixed limit",
            "5.3.4",
        ),
        (
            "Verizon",
            "Message could not be delivered to mailbox\n\nThis Message was undeliverable due to the following reason:\n\n"
            "The user(s) account is temporarily over quota.\n\n{a}\n  Remote host said: {r}\n",
            "552 5.2.2 Quota exceeded",
            "5.2.2",
        ),
        (
            "Biglobe (English part)",
            "   ----- The following addresses had delivery problems -----\n{a}\n\n   ----- Non-delivered information -----\n"
            "{r}\n",
            "550 5.1.1 Mail Delivery Failed... User unknown",
            "5.1.1",
        ),
    ]:
        a = rcpt()
        r = reply.format(a=a)
        body = tpl.format(a=a, ip=ip(), r=r, d=date())
        C.add(
            f"bare_{sender_name.split()[0].lower().replace('&', 'and').replace('.', '')}_{want.replace('.', '')}",
            plain_message(
                from_=f"MAILER-DAEMON@{sender_name.split()[0].lower().replace('&', 'and').replace('.', '')}.example",
                subj="Mail delivery failed",
                body=body,
                rcpt_=a,
            ),
            f"{sender_name} notification layout (English), a remote reply inside the provider's text",
            enhanced=want,
        )
    # Postfix bodies with DSN part missing (forwarded/converted), reply after "said:".
    for reply, want in [
        (
            "550 5.1.1 <{a}>: Recipient address rejected: User unknown in virtual alias table",
            "5.1.1",
        ),
        ("554 5.7.1 <{a}>: Relay access denied", "5.7.1"),
        (
            "450 4.7.1 <{a}>: Recipient address rejected: Greylisted, see https://postgrey.example/help/{d}",
            "4.7.1",
        ),
        ("552 5.2.2 <{a}>: Recipient address rejected: Mailbox is full", "5.2.2"),
        ("550 5.7.1 Message rejected because SPF check failed", "5.7.1"),
    ]:
        a = rcpt()
        dom = a.split("@")[1]
        human = f"<{a}>: host mx.{dom}[{ip()}] said: {reply.format(a=a, d=dom)} (in reply to RCPT TO command)"
        C.add(
            f"postfix_text_only_{want.replace('.', '')}",
            plain_message(
                from_="MAILER-DAEMON@mail.example.com (Mail Delivery System)",
                subj="Undelivered Mail Returned to Sender",
                body=postfix_text("mail.example.com", human),
                rcpt_=a,
            ),
            "Postfix bounce(8) text part only (the DSN part removed by a forwarding list manager)",
            enhanced=want,
        )
    # Guards: codes in a version string, a date and headers only; the real reply is elsewhere.
    for want in ["5.1.1", "5.2.2", "4.4.1"]:
        a = rcpt()
        reply = {
            "5.1.1": "550 5.1.1 <{a}>: user unknown",
            "5.2.2": "552 5.2.2 over quota",
            "4.4.1": "421 4.4.1 Connection timed out",
        }[want].format(a=a)
        body = (
            "Mail server: mxl_mta-5.5.0-3 (build 4.2.1-GA) on mail.example.com\n"
            f"Date: 2026.12.04 05:50:21\nX-Spam-Score: 5.3.1\n\n"
            f"Your message to {a} was not delivered.\nThe remote server answered: {reply}\n"
        )
        C.add(
            f"guard_versions_{want.replace('.', '')}",
            plain_message(
                from_="postmaster@mail.example.com", subj="Undeliverable mail", body=body, rcpt_=a
            ),
            "Generic MTA notification with version strings and dates carrying dotted numbers",
            enhanced=want,
        )


def bare_replies_more() -> None:
    """Replies inside provider wording with no marker the MTA templates above share."""
    C.group = "bare-replies"
    # New-style Microsoft 365 NDR: "Reported error:" in an HTML+text message, no DSN.
    for reply, want in [
        (
            "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup",
            "5.1.10",
        ),
        (
            "550 5.7.520 Access denied, Your organization does not allow external forwarding.",
            "5.7.520",
        ),
        ("554 5.2.252 SendAsDenied; not allowed to send as this sender", "5.2.252"),
    ]:
        a = rcpt()
        text = (
            f"Your message to {a} couldn't be delivered.\n\n{a.split('@')[0]} wasn't found at {a.split('@')[1]}.\n\n"
            "news   Office 365   {0}\nAction Required   Recipient\n\nUnknown To address\n\n"
            "How to Fix It\nThe address may be misspelled or may not exist.\n\n"
            "More Info for Email Admins\nStatus code: " + want + "\n\n"
            "Error Details\nReported error:\n"
            + reply
            + "\nDSN generated by:\nAM0PR01MB1234.eurprd01.prod.outlook.example\n"
        ).replace("{0}", a.split("@")[1])
        C.add(
            f"m365_new_ndr_{want.replace('.', '')}",
            plain_message(
                from_="Microsoft Outlook <MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e@example.com>",
                subj="Undeliverable: Release notes",
                body=text,
                rcpt_=a,
                charset="utf-8",
            ),
            "Microsoft 365 NDR, newer layout (English): 'Reported error:' then the reply on its own line",
            enhanced=want,
        )
    # Replies in running text, one line, no "said:".
    for sentence, want in [
        (
            "Your message to <{a}> was rejected by the receiving server: 550 5.1.1 User unknown",
            "5.1.1",
        ),
        (
            "Delivery to {a} failed permanently with 554 5.7.1 Service unavailable; Client host blocked",
            "5.7.1",
        ),
        (
            "The recipient's email server rejected the message: 550 5.7.1 Rejected by header based Anti-Spoofing policy",
            "5.7.1",
        ),
        ("Reason: 552 5.2.2 Mailbox full", "5.2.2"),
        ("Final answer of the remote host was 550 5.2.1 Account disabled", "5.2.1"),
    ]:
        a = rcpt()
        body = (
            "We could not deliver your message.\n\n"
            + sentence.format(a=a)
            + "\n\nThis is an automatically generated message.\n"
        )
        C.add(
            f"inline_reply_{want.replace('.', '')}",
            plain_message(
                from_="postmaster@gateway.example", subj="Delivery failure", body=body, rcpt_=a
            ),
            "Mail gateway notification (Mimecast / Barracuda / provider style, English): the reply inside a sentence",
            enhanced=want,
        )
    # HTML-only notification.
    for reply, want in [
        ("550 5.1.1 &lt;{a}&gt;: Recipient address rejected: User unknown", "5.1.1"),
        ("552 5.2.2 Mailbox quota exceeded", "5.2.2"),
    ]:
        a = rcpt()
        html = (
            f"<html><body><p>Your message to <b>{a}</b> could not be delivered.</p>"
            f"<p>The remote server replied:</p><pre>{reply.format(a=a)}</pre></body></html>"
        )
        raw = (
            f"Return-Path: <>\nDate: {date()}\nFrom: MAILER-DAEMON@mail.example.net\nTo: news@example.com\n"
            "Subject: Undelivered Mail\nMIME-Version: 1.0\nContent-Type: text/html; charset=utf-8\n\n"
            + html
            + "\n"
        )
        C.add(
            f"html_only_{want.replace('.', '')}",
            raw,
            "Provider notification with only an HTML part (English)",
            enhanced=want,
        )
    # The reply in a second text part (the first is a localized greeting).
    for reply, want in [
        ("550 5.1.1 No such user ({a})", "5.1.1"),
        ("554 5.7.1 Rejected for policy reasons", "5.7.1"),
    ]:
        a = rcpt()
        b = f"b{qid()}"
        raw = (
            f"Return-Path: <>\nDate: {date()}\nFrom: MAILER-DAEMON@mail.example.de.test\nTo: news@example.com\n"
            f'Subject: Unzustellbar\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="{b}"\n\n'
            f"--{b}\nContent-Type: text/plain; charset=utf-8\n\nIhre Nachricht konnte nicht zugestellt werden.\n"
            f"Details finden Sie unten.\n\n--{b}\nContent-Type: text/plain; charset=us-ascii\n\n"
            f"Recipient: {a}\nRemote server reply: {reply.format(a=a)}\n\n--{b}--\n"
        )
        C.add(
            f"second_part_{want.replace('.', '')}",
            raw,
            "German provider notification: greeting part, then the technical part (English)",
            enhanced=want,
        )
    # A bounce forwarded inline by a user to a helpdesk.
    for reply, want in [
        ("550 5.1.1 <{a}>... User unknown", "5.1.1"),
        ("552 5.3.4 Message size exceeds fixed maximum message size", "5.3.4"),
    ]:
        a = rcpt()
        body = (
            "Hi support, I got this back, what does it mean?\n\n---------- Forwarded message ---------\n"
            f"From: Mail Delivery Subsystem <MAILER-DAEMON@mail.example.com>\nDate: {date()}\n"
            "Subject: Undelivered Mail Returned to Sender\nTo: <news@example.com>\n\n"
            f"<{a}>: host mx.{a.split('@')[1]}[{ip()}] said: {reply.format(a=a)} (in reply to RCPT TO command)\n"
        )
        C.add(
            f"forwarded_inline_{want.replace('.', '')}",
            plain_message(
                from_="Sender <news@example.com>",
                subj="Fwd: Undelivered Mail Returned to Sender",
                body=body,
                attach=False,
            ),
            "A Postfix bounce forwarded inline by a person (English)",
            enhanced=want,
        )
    # Basic-only replies (no enhanced code in the message at all).
    for reply, basic in [
        ("550 Requested action not taken: mailbox unavailable", 550),
        ("554 Service unavailable", 554),
        ("553 sorry, that domain isn't in my list of allowed rcpthosts", 553),
    ]:
        a = rcpt()
        body = (
            "This is an automatically generated Delivery Status Notification.\n\n"
            f"Delivery to the following recipients failed.\n\n       {a}\n\n{reply}\n"
        )
        C.add(
            f"basic_only_{basic}",
            plain_message(
                from_="postmaster@mail.example.net",
                subj="Delivery Status Notification (Failure)",
                body=body,
                rcpt_=a,
            ),
            "Windows SMTP / generic notification (English) with a basic reply code only",
            basic=basic,
        )


# ---------------------------------------------------------------------------
# 3. Notifications that are not failures
# ---------------------------------------------------------------------------


def not_failures() -> None:
    C.group = "not-failures"
    host = "mail.example.com"
    # Postfix success notices (DSN NOTIFY=SUCCESS): delivered, relayed, expanded.
    for action, line in [
        ("delivered", "<{a}>: delivered to mailbox"),
        ("delivered", "<{a}>: delivered via dovecot service"),
        ("relayed", "<{a}>: delivery via mx.{d}[{ip}]:25: 250 2.0.0 Ok: queued as {q}"),
        (
            "relayed",
            "<{a}>: delivery via mx.{d}[{ip}]:25: 250 2.6.0 <{q}@example.com> [InternalId=123] Queued mail for delivery",
        ),
        ("expanded", "<{a}>: alias expanded"),
        ("relayed", "<{a}>: delivery via relay.{d}[{ip}]:587: 250 OK id=1q{q}"),
    ]:
        a = rcpt()
        d = a.split("@")[1]
        text = line.format(a=a, d=d, ip=ip(), q=qid())
        status = "2.0.0"
        if "2.6.0" in text:
            status = "2.6.0"
        diag = None
        if "250" in text:
            diag = "smtp; " + text.split(": ", 2)[-1] if action == "relayed" else None
        C.add(
            f"postfix_success_{action}",
            dsn_message(
                from_=f"MAILER-DAEMON@{host} (Mail Delivery System)",
                subj="Successful Mail Delivery Report",
                text=postfix_success_text(host, text),
                reporting=host,
                recipients=[
                    {
                        "rcpt": a,
                        "action": action,
                        "status": status,
                        "remote": f"mx.{d}" if action == "relayed" else "",
                        "diag": diag,
                    }
                ],
            ),
            f"Postfix bounce(8) success template (English), Action: {action}",
            kind=action,
        )
    # Postfix delay warnings.
    for reason in [
        "connect to mx.{d}[{ip}]:25: Connection timed out",
        "host mx.{d}[{ip}] said: 451 4.7.1 Greylisted, please try again later (in reply to RCPT TO command)",
        "host mx.{d}[{ip}] said: 452 4.2.2 Mailbox full (in reply to RCPT TO command)",
        "Host or domain name not found. Name service error for name=mx.{d} type=A: Host not found, try again",
        "connect to mx.{d}[{ip}]:25: Connection refused",
    ]:
        a = rcpt()
        d = a.split("@")[1]
        r = reason.format(d=d, ip=ip())
        code = "4.4.1"
        if "4.7.1" in r:
            code = "4.7.1"
        elif "4.2.2" in r:
            code = "4.2.2"
        elif "not found" in r:
            code = "4.4.3"
        C.add(
            "postfix_delay_warning",
            dsn_message(
                from_=f"MAILER-DAEMON@{host} (Mail Delivery System)",
                subj="Delayed Mail (still being retried)",
                text=postfix_delay_text(host, f"<{a}>: {r}"),
                reporting=host,
                recipients=[
                    {
                        "rcpt": a,
                        "action": "delayed",
                        "status": code,
                        "remote": f"mx.{d}",
                        "diag": f"X-Postfix; {r}",
                        "last": "y",
                    }
                ],
            ),
            "Postfix bounce(8) delay template (English), Action: delayed",
            kind="delayed",
        )
    # Exim delay warnings (no DSN part).
    for detail in [
        "host mx.{d} [{ip}]: Connection timed out",
        "retry time not reached for any host after a long failure period",
        "SMTP error from remote mail server after RCPT TO:<{a}>:\n    451 4.7.1 Greylisting in action, please come back later",
        "host mx.{d} [{ip}]: Connection refused",
    ]:
        a = rcpt()
        d = a.split("@")[1]
        body = exim_delay_text("mail.example.org", a, detail.format(a=a, d=d, ip=ip()))
        raw = (
            f"Return-path: <>\nReceived: from Debian-exim by mail.example.org with local (Exim 4.96)\n\tid 1q{qid()}; {date()}\n"
            f"X-Failed-Recipients: {a}\nAuto-Submitted: auto-replied\nFrom: Mail Delivery System <Mailer-Daemon@mail.example.org>\n"
            f"To: news@example.com\nSubject: Warning: message 1q{qid()}-00AbCd-Ef delayed 24 hours\nDate: {date()}\n\n{body}"
        )
        C.add(
            "exim_delay_warning",
            raw,
            "Exim 4 warn_message_file default text (English)",
            kind="delayed",
        )
    # Sendmail warnings and return receipts.
    for _ in range(3):
        a = rcpt()
        d = a.split("@")[1]
        tr = f"<{a}>... Deferred: Connection timed out with mx.{d}."
        C.add(
            "sendmail_warning",
            sendmail_dsn(
                a,
                "",
                tr,
                "4.4.1",
                "SMTP; 451 4.4.1 reply: read error from mx.",
                action="delayed",
                warning=True,
            ),
            "Sendmail DSN warning (English): 'Warning: could not send message for past 4 hours'",
            kind="delayed",
        )
    for action in ["relayed", "delivered"]:
        a = rcpt()
        d = a.split("@")[1]
        text = (
            f"The original message was received at {date()}\nfrom client.example.com [{ip()}]\n\n"
            "   ----- The following addresses had successful delivery notifications -----\n"
            f"<{a}>  (successfully {'relayed to non-DSN-aware mailer' if action == 'relayed' else 'delivered to mailbox'})\n\n"
            "   ----- Transcript of session follows -----\n"
            f"<{a}>... Successfully {'relayed' if action == 'relayed' else 'delivered'}\n"
        )
        C.add(
            f"sendmail_return_receipt_{action}",
            dsn_message(
                from_="Mail Delivery Subsystem <MAILER-DAEMON@mail.example.com>",
                subj="Return receipt",
                text=text,
                reporting="mail.example.com",
                recipients=[
                    {
                        "rcpt": a,
                        "action": action,
                        "status": "2.0.0",
                        "remote": f"mx.{d}" if action == "relayed" else "",
                        "diag": "smtp; 250 2.0.0 Message accepted for delivery"
                        if action == "relayed"
                        else None,
                    }
                ],
            ),
            f"Sendmail return receipt (English), Action: {action}",
            kind=action,
        )
    # Exchange delivery / relay receipts and delay notices (text only).
    for subj, intro, kind, status in [
        (
            "Delivered: Release notes",
            "Your message has been delivered to the following recipients:",
            "delivered",
            "250 2.1.5",
        ),
        (
            "Relayed: Release notes",
            "Delivery to these recipients or groups is complete, but no delivery notification was sent by the destination server:",
            "relayed",
            "250 2.6.0",
        ),
        (
            "Delivery delayed: Release notes",
            "Delivery is delayed to these recipients or groups:",
            "delayed",
            "400 4.4.7",
        ),
        (
            "Zugestellt: Versionshinweise",
            "Ihre Nachricht wurde an die folgenden Empfänger übermittelt:",
            "delivered",
            "250 2.1.5",
        ),
        (
            "Remis : Notes de version",
            "Votre message a été remis aux destinataires suivants :",
            "delivered",
            "250 2.1.5",
        ),
        (
            "Zustellung verzögert: Versionshinweise",
            "Die Zustellung an diese Empfänger oder Gruppen ist verzögert:",
            "delayed",
            "400 4.4.7",
        ),
    ]:
        a = rcpt()
        body = f"{intro}\n\n{a}\n\nSubject: Release notes\n\n"
        if kind == "delayed":
            body += "This message hasn't been delivered yet. Delivery will continue to be attempted.\n\n"
            body += "The server will keep trying to deliver this message for the next 1 days, 19 hours and 52 minutes.\n\n"
        body += f"Diagnostic information for administrators:\n\nGenerating server: EX01.corp.example\n\n{a}\n"
        if kind == "delayed":
            body += f"Remote Server at mx.example.net ({ip()}) returned '{status} Temporary server error. Please try again later. ATTR18 [internal]'\n"
        C.add(
            f"exchange_{kind}",
            plain_message(
                from_="Microsoft Outlook <postmaster@corp.example>",
                subj=subj,
                body=body,
                charset="utf-8",
                attach=False,
                extra_head="Content-Language: en-US\n",
            ),
            "Exchange Server delivery/relay receipt or delay notice (English, German or French subject/text)",
            kind=kind,
        )
    # Exchange DSN-style success (multipart/report with Action: delivered / relayed / expanded).
    for action in ["delivered", "relayed", "expanded"]:
        a = rcpt()
        diag = {
            "delivered": None,
            "relayed": "smtp;250 2.6.0 <1@example.com> Queued mail for delivery",
            "expanded": None,
        }[action]
        text = {
            "delivered": f"Your message has been delivered to the following recipients:\n\n{a}\n",
            "relayed": f"Delivery to these recipients or groups is complete, but no delivery notification was sent by the destination server:\n\n{a}\n",
            "expanded": f"Your message was delivered to the distribution list {a} and expanded to its members.\n",
        }[action]
        C.add(
            f"exchange_dsn_{action}",
            dsn_message(
                from_="postmaster@corp.example",
                subj=f"{action.capitalize()}: Release notes",
                text=text,
                reporting="EX02.corp.example",
                recipients=[
                    {
                        "rcpt": a,
                        "action": action,
                        "status": "2.0.0" if action != "relayed" else "2.6.0",
                        "remote": "",
                        "diag": diag,
                    }
                ],
            ),
            f"Exchange delivery status notification (English), Action: {action}",
            kind=action,
        )
    # Gmail delay (delivery incomplete), no DSN.
    for reason in [
        "The recipient server did not accept our requests to connect. Learn more at https://support.google.example/mail/answer/7720\n[mx.{d}. {ip}: timed out]",
        "The response from the remote server was:\n451 4.3.0 Mail server temporarily rejected message.",
        "The response from the remote server was:\n421 4.7.0 Try again later, closing connection. (EHLO)",
    ]:
        a = rcpt()
        d = a.split("@")[1]
        body = (
            "** Delivery incomplete **\n\n"
            f"There was a temporary problem delivering your message to {a}. Gmail will retry for 46 more hours. "
            "You'll be notified if the delivery fails permanently.\n\n"
            + reason.format(d=d, ip=ip())
            + "\n"
        )
        C.add(
            "gmail_delivery_incomplete",
            plain_message(
                from_="Mail Delivery Subsystem <mailer-daemon@googlemail.example>",
                subj="Delivery Status Notification (Delay)",
                body=body,
                rcpt_=a,
                charset="utf-8",
            ),
            "Gmail delay notification (English): 'Delivery incomplete'",
            kind="delayed",
        )
    # Gmail / SES / generic DSNs with Action: delayed and a success DSN from SES.
    for _ in range(2):
        a = rcpt()
        C.add(
            "ses_delivery_dsn",
            dsn_message(
                from_="MAILER-DAEMON@amazonses.example",
                subj="Delivery Status Notification (Success)",
                text=f"This is a notification that your message was delivered to {a}.\n",
                reporting="a8-31.smtp-out.amazonses.example",
                recipients=[
                    {
                        "rcpt": a,
                        "action": "delivered",
                        "status": "2.0.0",
                        "remote": f"mx.{a.split('@')[1]}",
                        "diag": "smtp; 250 2.0.0 OK 1701234567 x12si123456qkd.45 - gsmtp",
                    }
                ],
            ),
            "Amazon SES success notification (English), Action: delivered with the 250 reply",
            kind="delivered",
        )
    for _ in range(2):
        a = rcpt()
        C.add(
            "generic_dsn_delayed",
            dsn_message(
                from_="MAILER-DAEMON@mta.example.net",
                subj="Delivery Status Notification (Delay)",
                text=f"This is an automatically generated Delivery Status Notification.\n\nTHIS IS A WARNING MESSAGE ONLY.\n\n"
                f"YOU DO NOT NEED TO RESEND YOUR MESSAGE.\n\nDelivery to the following recipients has been delayed.\n\n       {a}\n",
                reporting="mta.example.net",
                recipients=[
                    {
                        "rcpt": a,
                        "action": "delayed",
                        "status": "4.4.7",
                        "remote": "",
                        "diag": None,
                        "orig": "no",
                    }
                ],
            ),
            "Windows SMTP service / IIS delay DSN (English)",
            kind="delayed",
        )
    # German and Japanese success/delay wordings in provider templates.
    for body, kind, src in [
        (
            "Dies ist eine automatisch erstellte Benachrichtigung über den Zustellstatus.\n\nDie Zustellung an folgende Empfänger wurde verzögert.\n\n     {a}\n",
            "delayed",
            "German delay notice (Windows SMTP / provider template)",
        ),
        (
            "この電子メールは自動送信されています。\n\n次の受信者への配信が遅れています。\n\n     {a}\n",
            "delayed",
            "Japanese delay notice (provider template)",
        ),
        (
            "Это автоматическое уведомление о состоянии доставки.\n\nДоставка следующим получателям задерживается.\n\n     {a}\n",
            "delayed",
            "Russian delay notice (provider template)",
        ),
    ]:
        a = rcpt()
        C.add(
            "dsn_delayed_localized",
            dsn_message(
                from_="postmaster@mta.example.net",
                subj="Delivery Status Notification (Delay)",
                text=body.format(a=a),
                reporting="mta.example.net",
                charset="utf-8",
                encode_text=True,
                recipients=[
                    {"rcpt": a, "action": "delayed", "status": "4.4.1", "remote": "", "diag": None}
                ],
            ),
            src,
            kind=kind,
        )


# ---------------------------------------------------------------------------
# 4. Failures that state no code, in several languages
# ---------------------------------------------------------------------------

# (family, expected reason(s), language, provider/MTA style, sentence)
NO_CODE: list[tuple[str, object, str, str, str]] = [
    # English
    ("unknown-user", "user-unknown", "en", "Postfix local(8)", 'unknown user: "{u}"'),
    ("unknown-user", "user-unknown", "en", "qmail-local", "Sorry, no mailbox here by that name."),
    (
        "unknown-user",
        "user-unknown",
        "en",
        "Exchange",
        "The email address you entered couldn't be found. Please check the recipient's email address and try to resend the message.",
    ),
    (
        "mailbox-full",
        "mailbox-full",
        "en",
        "Exim appendfile",
        "mailbox is full: retry timeout exceeded",
    ),
    (
        "mailbox-full",
        "mailbox-full",
        "en",
        "vpopmail/qmail",
        "The users mailfolder is over the allowed quota (size).",
    ),
    ("mailbox-disabled", "mailbox-disabled", "en", "au/EZweb", "The user(s) account is disabled."),
    (
        "mailbox-disabled",
        "mailbox-disabled",
        "en",
        "provider template",
        "This account has been disabled or discontinued.",
    ),
    (
        "relay-denied",
        "blocked-policy",
        "en",
        "Sendmail",
        "Relaying denied. Proper authentication required.",
    ),
    ("relay-denied", "blocked-policy", "en", "Exim", "relay not permitted"),
    (
        "policy",
        ["blocked-policy", "spam"],
        "en",
        "Exim",
        "rejected because {ip} is in a black list at zen.spamhaus.org",
    ),
    (
        "policy",
        ["blocked-policy", "spam"],
        "en",
        "generic",
        "Your message was rejected by the recipient's mail server due to local policy.",
    ),
    (
        "spf",
        "authentication",
        "en",
        "provider template",
        "The message was rejected because SPF check failed for the sending domain.",
    ),
    (
        "dmarc",
        "authentication",
        "en",
        "provider template",
        "Unauthenticated email is not accepted due to the sender domain's DMARC policy.",
    ),
    (
        "dkim",
        "authentication",
        "en",
        "provider template",
        "DKIM signature verification failed; the message was rejected.",
    ),
    (
        "too-big",
        "message-too-big",
        "en",
        "1&1 / Exim",
        "Mail size limit exceeded. For explanation visit the provider's help pages.",
    ),
    ("too-big", "message-too-big", "en", "Exim", "message too big: read 31457280 max 26214400"),
    (
        "greylisting",
        ["rate-limited", "blocked-policy"],
        "en",
        "postgrey",
        "Greylisted, please try again in 300 seconds",
    ),
    (
        "host-not-found",
        ["bad-domain", "dns"],
        "en",
        "Sendmail",
        "Host unknown (Name server: {d}: host not found)",
    ),
    (
        "host-not-found",
        ["bad-domain", "dns"],
        "en",
        "qmail",
        "Sorry, I couldn't find any host named {d}.",
    ),
    (
        "host-not-found",
        ["bad-domain", "dns"],
        "en",
        "Exim",
        "all relevant MX records point to non-existent hosts",
    ),
    (
        "conn-refused",
        "connection",
        "en",
        "Postfix",
        "connect to mx.{d}[{ip}]:25: Connection refused",
    ),
    (
        "conn-timeout",
        "connection",
        "en",
        "qmail",
        "Sorry, I wasn't able to establish an SMTP connection.",
    ),
    (
        "conn-timeout",
        "connection",
        "en",
        "Exim",
        "all hosts for '{d}' have been failing for a long time (and retry time not reached)\nConnection timed out",
    ),
    (
        "tls-required",
        "tls",
        "en",
        "Postfix",
        "TLS is required, but was not offered by host mx.{d}[{ip}]",
    ),
    (
        "tls-required",
        "tls",
        "en",
        "Exim",
        "a TLS session is required, but the server did not offer TLS support",
    ),
    # German
    (
        "unknown-user",
        "user-unknown",
        "de",
        "GMX/Web.de",
        "Der Empfänger ist unbekannt. Die E-Mail-Adresse existiert nicht.",
    ),
    (
        "unknown-user",
        "user-unknown",
        "de",
        "Exchange (de-DE)",
        "Die eingegebene E-Mail-Adresse wurde nicht gefunden. Überprüfen Sie die E-Mail-Adresse des Empfängers.",
    ),
    ("mailbox-full", "mailbox-full", "de", "T-Online", "Das Postfach des Empfängers ist voll."),
    (
        "mailbox-full",
        "mailbox-full",
        "de",
        "1&1",
        "Speicherplatz des Postfachs überschritten (Postfach voll).",
    ),
    (
        "mailbox-disabled",
        "mailbox-disabled",
        "de",
        "GMX",
        "Das Postfach des Empfängers ist deaktiviert.",
    ),
    (
        "relay-denied",
        "blocked-policy",
        "de",
        "Postfix (de template)",
        "Weiterleitung verweigert: Relaying ist nicht erlaubt.",
    ),
    (
        "policy",
        ["blocked-policy", "spam"],
        "de",
        "T-Online",
        "Ihre IP-Adresse steht auf einer Sperrliste; die Nachricht wurde blockiert.",
    ),
    (
        "spf",
        "authentication",
        "de",
        "GMX",
        "Die SPF-Prüfung ist fehlgeschlagen; die Nachricht wurde abgewiesen.",
    ),
    (
        "too-big",
        "message-too-big",
        "de",
        "Web.de",
        "Die Nachricht ist zu groß und wurde nicht zugestellt.",
    ),
    (
        "greylisting",
        ["rate-limited", "blocked-policy"],
        "de",
        "Postfix (de template)",
        "Greylisting aktiv, bitte später erneut versuchen.",
    ),
    (
        "host-not-found",
        ["bad-domain", "dns"],
        "de",
        "Postfix (de template)",
        "Host oder Domainname nicht gefunden: {d}",
    ),
    (
        "conn-refused",
        "connection",
        "de",
        "Postfix (de template)",
        "Verbindung zu mx.{d} abgelehnt.",
    ),
    (
        "conn-timeout",
        "connection",
        "de",
        "Postfix (de template)",
        "Zeitüberschreitung der Verbindung zu mx.{d}.",
    ),
    (
        "tls-required",
        "tls",
        "de",
        "Postfix (de template)",
        "TLS erforderlich, aber vom Server nicht angeboten.",
    ),
    # French
    ("unknown-user", "user-unknown", "fr", "Orange", "Adresse destinataire inconnue : {a}"),
    (
        "unknown-user",
        "user-unknown",
        "fr",
        "Exchange (fr-FR)",
        "L'adresse de messagerie que vous avez entrée est introuvable. Utilisateur inconnu.",
    ),
    (
        "mailbox-full",
        "mailbox-full",
        "fr",
        "Free",
        "La boîte aux lettres du destinataire est pleine.",
    ),
    ("mailbox-full", "mailbox-full", "fr", "La Poste", "Quota dépassé pour ce destinataire."),
    (
        "mailbox-disabled",
        "mailbox-disabled",
        "fr",
        "Orange",
        "Le compte du destinataire est désactivé.",
    ),
    (
        "relay-denied",
        "blocked-policy",
        "fr",
        "provider template",
        "Relais refusé pour ce destinataire.",
    ),
    (
        "policy",
        ["blocked-policy", "spam"],
        "fr",
        "Orange",
        "Votre adresse IP est listée comme source de spam ; message bloqué.",
    ),
    (
        "dmarc",
        "authentication",
        "fr",
        "provider template",
        "Message rejeté : échec de la politique DMARC du domaine expéditeur.",
    ),
    (
        "too-big",
        "message-too-big",
        "fr",
        "provider template",
        "Message trop volumineux pour ce destinataire.",
    ),
    (
        "greylisting",
        ["rate-limited", "blocked-policy"],
        "fr",
        "provider template",
        "Liste grise : veuillez réessayer plus tard.",
    ),
    (
        "host-not-found",
        ["bad-domain", "dns"],
        "fr",
        "provider template",
        "Domaine introuvable : {d}",
    ),
    ("conn-refused", "connection", "fr", "provider template", "Connexion refusée par mx.{d}."),
    (
        "conn-timeout",
        "connection",
        "fr",
        "provider template",
        "Délai de connexion dépassé avec mx.{d}.",
    ),
    (
        "tls-required",
        "tls",
        "fr",
        "provider template",
        "TLS requis mais non proposé par le serveur distant.",
    ),
    # Spanish
    (
        "unknown-user",
        "user-unknown",
        "es",
        "Exchange (es-ES)",
        "No se encontró la dirección de correo electrónico que especificó. Usuario desconocido.",
    ),
    ("unknown-user", "user-unknown", "es", "Telefónica", "El destinatario no existe: {a}"),
    (
        "mailbox-full",
        "mailbox-full",
        "es",
        "provider template",
        "El buzón del destinatario está lleno.",
    ),
    (
        "mailbox-disabled",
        "mailbox-disabled",
        "es",
        "provider template",
        "La cuenta del destinatario está desactivada.",
    ),
    (
        "relay-denied",
        "blocked-policy",
        "es",
        "provider template",
        "Retransmisión denegada para este destinatario.",
    ),
    (
        "policy",
        ["blocked-policy", "spam"],
        "es",
        "provider template",
        "Su dirección IP está en una lista negra; mensaje bloqueado.",
    ),
    (
        "spf",
        "authentication",
        "es",
        "provider template",
        "Mensaje rechazado: fallo en la verificación SPF.",
    ),
    ("too-big", "message-too-big", "es", "provider template", "El mensaje es demasiado grande."),
    (
        "greylisting",
        ["rate-limited", "blocked-policy"],
        "es",
        "provider template",
        "Lista gris: inténtelo de nuevo más tarde.",
    ),
    (
        "host-not-found",
        ["bad-domain", "dns"],
        "es",
        "provider template",
        "No se encontró el host {d}.",
    ),
    ("conn-refused", "connection", "es", "provider template", "Conexión rechazada por mx.{d}."),
    (
        "conn-timeout",
        "connection",
        "es",
        "provider template",
        "Tiempo de espera de la conexión agotado con mx.{d}.",
    ),
    (
        "tls-required",
        "tls",
        "es",
        "provider template",
        "Se requiere TLS y el servidor no lo ofrece.",
    ),
    # Italian
    ("unknown-user", "user-unknown", "it", "Libero", "Utente sconosciuto: l'indirizzo non esiste."),
    (
        "unknown-user",
        "user-unknown",
        "it",
        "Exchange (it-IT)",
        "Impossibile trovare l'indirizzo di posta elettronica immesso. Destinatario sconosciuto.",
    ),
    ("mailbox-full", "mailbox-full", "it", "Libero", "La casella del destinatario è piena."),
    (
        "mailbox-disabled",
        "mailbox-disabled",
        "it",
        "Virgilio",
        "La casella di posta del destinatario è disabilitata.",
    ),
    (
        "relay-denied",
        "blocked-policy",
        "it",
        "provider template",
        "Inoltro negato: relay non consentito.",
    ),
    (
        "policy",
        ["blocked-policy", "spam"],
        "it",
        "provider template",
        "Il tuo indirizzo IP è in una lista nera: messaggio bloccato.",
    ),
    (
        "spf",
        "authentication",
        "it",
        "provider template",
        "Messaggio rifiutato: verifica SPF fallita.",
    ),
    ("too-big", "message-too-big", "it", "provider template", "Il messaggio è troppo grande."),
    (
        "greylisting",
        ["rate-limited", "blocked-policy"],
        "it",
        "provider template",
        "Greylisting attivo: riprovare più tardi.",
    ),
    ("host-not-found", ["bad-domain", "dns"], "it", "provider template", "Host non trovato: {d}"),
    ("conn-refused", "connection", "it", "provider template", "Connessione rifiutata da mx.{d}."),
    (
        "conn-timeout",
        "connection",
        "it",
        "provider template",
        "Timeout della connessione verso mx.{d}.",
    ),
    (
        "tls-required",
        "tls",
        "it",
        "provider template",
        "TLS richiesto ma non offerto dal server remoto.",
    ),
    # Portuguese
    ("unknown-user", "user-unknown", "pt", "UOL", "Usuário desconhecido: {a}"),
    (
        "unknown-user",
        "user-unknown",
        "pt",
        "Sapo",
        "Utilizador desconhecido. O endereço não existe.",
    ),
    ("mailbox-full", "mailbox-full", "pt", "Terra", "A caixa postal do destinatário está cheia."),
    (
        "mailbox-disabled",
        "mailbox-disabled",
        "pt",
        "UOL",
        "A conta do destinatário está desativada.",
    ),
    (
        "relay-denied",
        "blocked-policy",
        "pt",
        "provider template",
        "Retransmissão negada para este destinatário.",
    ),
    (
        "policy",
        ["blocked-policy", "spam"],
        "pt",
        "provider template",
        "Seu endereço IP está em uma lista negra; mensagem bloqueada.",
    ),
    (
        "dkim",
        "authentication",
        "pt",
        "provider template",
        "Mensagem rejeitada: falha na verificação DKIM.",
    ),
    ("too-big", "message-too-big", "pt", "provider template", "A mensagem é muito grande."),
    (
        "greylisting",
        ["rate-limited", "blocked-policy"],
        "pt",
        "provider template",
        "Greylisting: tente novamente mais tarde.",
    ),
    (
        "host-not-found",
        ["bad-domain", "dns"],
        "pt",
        "provider template",
        "Domínio não encontrado: {d}",
    ),
    ("conn-refused", "connection", "pt", "provider template", "Conexão recusada por mx.{d}."),
    (
        "conn-timeout",
        "connection",
        "pt",
        "provider template",
        "Tempo limite de conexão esgotado com mx.{d}.",
    ),
    (
        "tls-required",
        "tls",
        "pt",
        "provider template",
        "TLS obrigatório, mas o servidor não oferece.",
    ),
    # Dutch
    ("unknown-user", "user-unknown", "nl", "KPN", "Onbekende gebruiker: {a}"),
    ("unknown-user", "user-unknown", "nl", "Ziggo", "Dit e-mailadres bestaat niet."),
    ("mailbox-full", "mailbox-full", "nl", "KPN", "De mailbox van de ontvanger is vol."),
    (
        "mailbox-disabled",
        "mailbox-disabled",
        "nl",
        "provider template",
        "De mailbox van de ontvanger is uitgeschakeld.",
    ),
    (
        "relay-denied",
        "blocked-policy",
        "nl",
        "provider template",
        "Doorsturen geweigerd (relay niet toegestaan).",
    ),
    (
        "policy",
        ["blocked-policy", "spam"],
        "nl",
        "provider template",
        "Uw IP-adres staat op een zwarte lijst; bericht geblokkeerd.",
    ),
    (
        "spf",
        "authentication",
        "nl",
        "provider template",
        "Bericht geweigerd: SPF-controle mislukt.",
    ),
    ("too-big", "message-too-big", "nl", "provider template", "Het bericht is te groot."),
    (
        "greylisting",
        ["rate-limited", "blocked-policy"],
        "nl",
        "provider template",
        "Greylisting: probeer het later opnieuw.",
    ),
    ("host-not-found", ["bad-domain", "dns"], "nl", "provider template", "Host niet gevonden: {d}"),
    ("conn-refused", "connection", "nl", "provider template", "Verbinding geweigerd door mx.{d}."),
    (
        "conn-timeout",
        "connection",
        "nl",
        "provider template",
        "Time-out bij verbinding met mx.{d}.",
    ),
    (
        "tls-required",
        "tls",
        "nl",
        "provider template",
        "TLS vereist, maar niet aangeboden door de server.",
    ),
    # Japanese
    ("unknown-user", "user-unknown", "ja", "docomo/au", "宛先のメールアドレスが見つかりません。"),
    ("unknown-user", "user-unknown", "ja", "Biglobe", "存在しないメールアドレスです。"),
    ("mailbox-full", "mailbox-full", "ja", "nifty", "相手のメールボックスがいっぱいです。"),
    ("mailbox-full", "mailbox-full", "ja", "Softbank", "メールボックスの容量を超えています。"),
    (
        "mailbox-disabled",
        "mailbox-disabled",
        "ja",
        "provider template",
        "このアカウントは現在利用停止中です。",
    ),
    ("relay-denied", "blocked-policy", "ja", "provider template", "中継は拒否されました。"),
    (
        "policy",
        ["blocked-policy", "spam"],
        "ja",
        "provider template",
        "受信拒否設定によりメールが拒否されました。",
    ),
    (
        "spf",
        "authentication",
        "ja",
        "provider template",
        "SPF認証に失敗したため受信を拒否しました。",
    ),
    ("too-big", "message-too-big", "ja", "provider template", "メールのサイズが大きすぎます。"),
    (
        "greylisting",
        ["rate-limited", "blocked-policy"],
        "ja",
        "provider template",
        "グレイリストにより一時的に拒否しました。しばらくしてから再送してください。",
    ),
    (
        "host-not-found",
        ["bad-domain", "dns"],
        "ja",
        "provider template",
        "宛先ドメインが見つかりません: {d}",
    ),
    (
        "conn-refused",
        "connection",
        "ja",
        "provider template",
        "相手サーバーへの接続が拒否されました。",
    ),
    (
        "conn-timeout",
        "connection",
        "ja",
        "provider template",
        "相手サーバーへの接続がタイムアウトしました。",
    ),
    (
        "tls-required",
        "tls",
        "ja",
        "provider template",
        "TLSが必要ですが、相手サーバーが対応していません。",
    ),
    # Russian
    ("unknown-user", "user-unknown", "ru", "Yandex", "Такого ящика нет."),
    ("unknown-user", "user-unknown", "ru", "Mail.ru", "Пользователь не найден: {a}"),
    ("mailbox-full", "mailbox-full", "ru", "Yandex", "Ящик получателя переполнен."),
    (
        "mailbox-disabled",
        "mailbox-disabled",
        "ru",
        "Mail.ru",
        "Почтовый ящик получателя заблокирован.",
    ),
    ("relay-denied", "blocked-policy", "ru", "provider template", "Пересылка запрещена (relay)."),
    (
        "policy",
        ["blocked-policy", "spam"],
        "ru",
        "provider template",
        "Ваш IP-адрес находится в черном списке; письмо отклонено.",
    ),
    (
        "dmarc",
        "authentication",
        "ru",
        "provider template",
        "Письмо отклонено политикой DMARC домена отправителя.",
    ),
    ("too-big", "message-too-big", "ru", "provider template", "Письмо слишком большое."),
    (
        "greylisting",
        ["rate-limited", "blocked-policy"],
        "ru",
        "provider template",
        "Грейлистинг: повторите попытку позже.",
    ),
    ("host-not-found", ["bad-domain", "dns"], "ru", "provider template", "Домен не найден: {d}"),
    (
        "conn-refused",
        "connection",
        "ru",
        "provider template",
        "Соединение отклонено сервером mx.{d}.",
    ),
    (
        "conn-timeout",
        "connection",
        "ru",
        "provider template",
        "Превышено время ожидания соединения с mx.{d}.",
    ),
    (
        "tls-required",
        "tls",
        "ru",
        "provider template",
        "Требуется TLS, но сервер его не поддерживает.",
    ),
]

INTROS = {
    "en": (
        "Mail delivery failed: returning message to sender",
        "Your message could not be delivered to the following recipient:",
    ),
    "de": (
        "Unzustellbar: Ihre Nachricht",
        "Ihre Nachricht konnte an folgenden Empfänger nicht zugestellt werden:",
    ),
    "fr": (
        "Non remis : votre message",
        "Votre message n'a pas pu être remis au destinataire suivant :",
    ),
    "es": (
        "No se puede entregar: su mensaje",
        "No se pudo entregar su mensaje al siguiente destinatario:",
    ),
    "it": (
        "Non recapitabile: il tuo messaggio",
        "Il messaggio non è stato recapitato al seguente destinatario:",
    ),
    "pt": (
        "Não entregue: sua mensagem",
        "Não foi possível entregar sua mensagem ao seguinte destinatário:",
    ),
    "nl": (
        "Onbestelbaar: uw bericht",
        "Uw bericht kon niet worden afgeleverd bij de volgende ontvanger:",
    ),
    "ja": ("配信不能: メッセージ", "次の宛先へのメッセージを配信できませんでした。"),
    "ru": (
        "Недоставленное сообщение",
        "Ваше сообщение не удалось доставить следующему получателю:",
    ),
}


def no_code() -> None:
    C.group = "no-code"
    for i, (family, reason, lang, style, sentence) in enumerate(NO_CODE):
        a = rcpt()
        d = a.split("@")[1]
        s = sentence.format(a=a, d=d, ip=ip(), u=a.split("@")[0])
        subj, intro = INTROS[lang]
        body = f"{intro}\n\n  {a}\n\n{s}\n"
        variant = i % 3
        if variant == 0:
            raw = plain_message(
                from_=f"MAILER-DAEMON@mail.example.{lang}.test",
                subj=subj,
                body=body,
                rcpt_=a,
                charset="utf-8",
                encoding="8bit",
            )
        elif variant == 1:
            raw = plain_message(
                from_=f"postmaster@mail.example.{lang}.test",
                subj=subj,
                body=body,
                rcpt_=a,
                charset="utf-8",
                encoding="base64",
                attach=False,
            )
        else:
            # A DSN without any code beyond the class (the human part and the Diagnostic-Code say what).
            raw = dsn_message(
                from_=f"MAILER-DAEMON@mail.example.{lang}.test",
                subj=subj,
                text=body,
                reporting=f"mail.example.{lang}.test",
                charset="utf-8",
                encode_text=lang in ("ja", "ru"),
                recipients=[
                    {
                        "rcpt": a,
                        "action": "failed",
                        "status": "4.0.0" if family in ("greylisting", "conn-timeout") else "5.0.0",
                        "remote": "",
                        "diag": "X-Unix; " + s.splitlines()[0],
                    }
                ],
            )
        C.add(
            f"nocode_{lang}_{family}",
            raw,
            f"{style} wording ({lang}), no code in the text: {family}",
            reason=reason,
        )
    # The same kinds with a delivery-failure code elsewhere that is not about the recipient
    # (a code in a header of the returned message only).
    for family, reason, sentence in [
        ("unknown-user", "user-unknown", "The recipient's mailbox does not exist."),
        ("mailbox-full", "mailbox-full", "The recipient's mailbox is over quota."),
        ("host-not-found", ["bad-domain", "dns"], "Domain not found."),
    ]:
        a = rcpt()
        body = f"Your message to {a} could not be delivered.\n\n{sentence}\n"
        C.add(
            f"nocode_header_guard_{family}",
            plain_message(
                from_="MAILER-DAEMON@mail.example.com", subj="Delivery failure", body=body, rcpt_=a
            ),
            f"Generic provider text (English), no code; the returned headers carry dotted numbers: {family}",
            reason=reason,
        )


# ---------------------------------------------------------------------------
# 5. Plain RFC 3464 controls (most MTAs): one code everywhere
# ---------------------------------------------------------------------------


def controls() -> None:
    C.group = "controls"
    rows = [
        (
            "postfix",
            "550 5.1.1 <{a}>: Recipient address rejected: User unknown in local recipient table",
            "5.1.1",
        ),
        ("postfix", "550 5.7.1 <{a}>: Relay access denied", "5.7.1"),
        ("postfix", "552 5.2.2 <{a}>: Mailbox full", "5.2.2"),
        (
            "postfix",
            "554 5.7.1 Service unavailable; Client host [{ip}] blocked using zen.spamhaus.org",
            "5.7.1",
        ),
        (
            "postfix",
            "550 5.7.26 This message does not pass authentication checks (SPF and DKIM both do not pass)",
            "5.7.26",
        ),
        ("postfix", "552 5.3.4 Message size exceeds fixed limit", "5.3.4"),
        ("postfix", "451 4.7.1 <{a}>: Recipient address rejected: Greylisted", "4.7.1"),
        ("postfix", "530 5.7.0 Must issue a STARTTLS command first", "5.7.0"),
        (
            "gmail",
            "550-5.1.1 The email account that you tried to reach does not exist. Please try\n 550 5.1.1 double-checking the recipient's email address for typos",
            "5.1.1",
        ),
        (
            "gmail",
            "552-5.2.2 The email account that you tried to reach is over quota. Please direct\n 552 5.2.2 the recipient to https://support.google.example/mail/?p=OverQuotaPerm",
            "5.2.2",
        ),
        (
            "gmail",
            "550-5.7.1 [{ip}] Our system has detected that this message is likely unsolicited mail.",
            "5.7.1",
        ),
        ("gmail", "550 5.2.1 The email account that you tried to reach is disabled.", "5.2.1"),
        (
            "m365",
            "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup",
            "5.1.10",
        ),
        ("m365", "550 5.7.606 Access denied, banned sending IP [{ip}]", "5.7.606"),
        ("m365", "554 5.6.211 Invalid MIME Content", "5.6.211"),
        ("ses", "550 5.1.1 user unknown", "5.1.1"),
        ("ses", "554 5.7.1 Email rejected per DMARC policy", "5.7.1"),
        ("yahoo", "554 5.7.9 Message not accepted for policy reasons.", "5.7.9"),
        ("yahoo", "553 5.1.2 The recipient address <{a}> is not a valid RFC 5321 address", "5.1.2"),
        (
            "mailru",
            "550 5.1.1 Message was not accepted -- invalid mailbox.  Local mailbox {a} is unavailable: user not found",
            "5.1.1",
        ),
        ("yandex", "550 5.7.1 No such user!", "5.7.1"),
        ("zoho", "550 5.4.6 Unrouteable address", "5.4.6"),
    ]
    for style, reply, want in rows:
        a = rcpt()
        r = reply.format(a=a, ip=ip())
        host = {
            "postfix": "mail.example.com",
            "gmail": "mail-sor-f69.google.example",
            "m365": "AM6PR01MB1234.outlook.example",
            "ses": "a8-31.smtp-out.amazonses.example",
            "yahoo": "mta1001.mail.yahoo.example",
            "mailru": "mx.mail.ru.example",
            "yandex": "mail.yandex.example",
            "zoho": "mx.zoho.example",
        }[style]
        human = f"<{a}>: host mx.{a.split('@')[1]}[{ip()}] said: {r}"
        C.add(
            f"control_{style}_{want.replace('.', '')}",
            dsn_message(
                from_=f"MAILER-DAEMON@{host}",
                subj="Delivery Status Notification (Failure)",
                text=postfix_text(host, human)
                if style == "postfix"
                else f"Delivery to the following recipient failed permanently:\n\n     {a}\n",
                reporting=host,
                recipients=[
                    {
                        "rcpt": a,
                        "action": "failed",
                        "status": want,
                        "remote": f"mx.{a.split('@')[1]}",
                        "diag": "smtp; " + r.replace("\n", "\n "),
                    }
                ],
            ),
            f"RFC 3464 DSN in the {style} shape (English), Status and Diagnostic-Code agree",
            enhanced=want,
        )


def main() -> None:
    if ROOT.exists():
        shutil.rmtree(ROOT)
    ROOT.mkdir(parents=True)
    several_statements()
    bare_replies()
    bare_replies_more()
    not_failures()
    no_code()
    controls()
    manifest = {
        "about": (
            "Messages modeled on MTA and provider notification templates (see scripts/make_corpus.py); "
            "expected labels written with each message. Scored by scripts/corpus_score.py."
        ),
        "messages": C.entries,
    }
    (ROOT / "manifest.json").write_text(
        json.dumps(manifest, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    print(f"{len(C.entries)} messages in {ROOT}")


if __name__ == "__main__":
    main()
