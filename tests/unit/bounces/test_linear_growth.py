"""Untrusted text costs time in proportion to its size: each parser, fed the shape of a
reproducer at size n and 4n, must take about 4 times as long, not 16.

Measured on CPU time (``time.process_time``, the best of a few repeats) so a busy
machine does not decide the result; the bound (8) is generous on purpose. Each shape is
one that once made its parser quadratic (issue 25): the next pattern that goes
quadratic fails here, not for a user.
"""

from __future__ import annotations

import base64
import io
import math
import time
from collections.abc import Callable

import pytest

from smtpdiag.bounces.bounce import parse_recipients
from smtpdiag.bounces.dsn import text_blocks
from smtpdiag.bounces.logs import parse_exim, parse_postfix
from smtpdiag.bounces.model import InputFormat
from smtpdiag.bounces.readers import read_inputs
from smtpdiag.policy.mtasts import parse_policy

#: Largest accepted time ratio for a 4x input (linear: 4; quadratic: 16).
BOUND = 8.0
#: CPU time the size-n run is repeated to reach, so small times are not noise.
TARGET = 0.02
REPEATS = 3

HEAD = "From: MAILER-DAEMON@mx.example\nTo: a@b.example\nSubject: failed\nMIME-Version: 1.0\n"


def _cost(fn: Callable[[], object], reps: int) -> float:
    best = math.inf
    for _ in range(REPEATS):
        start = time.process_time()
        for _ in range(reps):
            fn()
        best = min(best, time.process_time() - start)
    return best


def _ratio(make: Callable[[int], object], run: Callable[[object], object], n: int) -> float:
    """CPU time of ``run(make(4n))`` over ``run(make(n))``."""
    small, large = make(n), make(4 * n)
    start = time.process_time()
    run(small)
    once = time.process_time() - start
    reps = max(1, math.ceil(TARGET / max(once, 1e-6)))
    return _cost(lambda: run(large), reps) / max(_cost(lambda: run(small), reps), 1e-6)


# ------------------------------------------------------------------ the shapes


def blank_lines(n: int) -> str:
    """Reproducer 1: a reply followed by a run of empty lines."""
    return "550 5.1.1 <a@b.example>" + "\n" * n


def blank_lines_base64(n: int) -> str:
    """Reproducer 1, base64-encoded in a message."""
    body = base64.encodebytes(blank_lines(n).encode()).decode()
    return (
        HEAD
        + "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\n"
        + body
    )


def groups_and_text(n: int) -> str:
    """Reproducer 3: DSN groups (at most 64 are read), each reading a long text."""
    return "Status: 5.0.0\nAction: failed\n\n" * min(n, 64) + " x a@b.cd" * (n * 40)


def nested_mime(n: int) -> str:
    """Reproducer 4: n nested multiparts over 20n short lines."""
    parts = [HEAD]
    parts += [f'Content-Type: multipart/mixed; boundary="b{i}"\n\n--b{i}\n' for i in range(n)]
    return (
        "".join(parts) + "Content-Type: text/plain\n\n550 5.1.1 <a@b.example>\n" + "x\n" * (20 * n)
    )


def punycode_part(n: int) -> bytes:
    """Reproducer 5: a part in a charset whose decoder is quadratic."""
    return (
        HEAD.encode()
        + b"Content-Type: text/plain; charset=punycode\n\n550 5.1.1 <a@b.example>\n-"
        + ("\u00e9" * n).encode("punycode")
        + b"\n"
    )


def rfc2231_charset(n: int) -> str:
    """Reproducer 5 in a header: an RFC 2231 parameter naming its own charset."""
    value = ("\u00e9" * n).encode("punycode").decode()
    return (
        HEAD + f"Content-Type: text/plain; charset*=punycode''x-{value}\n\n"
        "550 5.1.1 <a@b.example>\n"
    )


def continued_field(n: int) -> str:
    """Reproducer 6: a field continued n times (non-ASCII: the slow path of clean)."""
    return (
        "Final-Recipient: rfc822; a@b.example\nAction: failed\nStatus: 5.1.1\n"
        "Diagnostic-Code: smtp; 550 5.1.1 no\n" + " \u00e9\n" * n
    )


def many_recipients(n: int) -> str:
    """Reproducer 8: a DSN naming n recipients (the ones beyond 64 are counted)."""
    groups = "".join(
        f"Final-Recipient: rfc822; u{i}@b.example\nAction: failed\nStatus: 5.1.1\n\n"
        for i in range(n)
    )
    return (
        HEAD + 'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\n\n'
        "--B\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example\n\n"
        + groups
        + "--B--\n"
    )


def policy_spaces(n: int) -> bytes:
    """Reproducer 2: an MTA-STS mx value with a long run of inner spaces."""
    return b"version: STSv1\nmode: enforce\nmx: a" + b" " * n + b"b\n"


def postfix_heads(n: int) -> str:
    """Reproducer 7: one log line repeating a delivery head n times."""
    unit = "postfix/smtp[1]: ABCDE: to=<a@b.cd>, dsn=5.1.1, status=bounced (x) "
    return "Dec  7 10:00:00 host " + unit * n + "y"


def postfix_middle(n: int) -> str:
    """Reproducer 7: heads without dsn= (the middle of each is scanned)."""
    return "Dec  7 10:00:00 host " + "postfix/smtp[1]: ABCDE: to=<a@b.cd>," * n


def postfix_to(n: int) -> str:
    """A line of "to=<" and no status (the failure-line check)."""
    return "to=<" * n


def exim_line(n: int) -> str:
    return "2026-01-01 10:00:00 1abcde-000001-AB ** a@b.example <a@b.example>: " + "x " * n


def block_starts(n: int) -> str:
    """Lines that nearly open a recipient's paragraph: many "@" in one word."""
    return ("<a" + "@" * 200 + "\n") * n


def mbox(n: int) -> bytes:
    message = b"From a@b Mon Jan  1 00:00:00 2026\nSubject: x\n\n550 5.1.1 <a@b.example>\n\n"
    return message * n


def transcript(n: int) -> str:
    """Issue 24: a DSN whose transcript repeats replies naming the recipient (each one is
    read for the recipient's last reply)."""
    return (
        "Final-Recipient: rfc822; a@b.example\nAction: failed\nStatus: 5.0.0\n\n"
        ">>> RCPT TO:<a@b.example>\n" + "<<< 550 5.1.1 a@b.example user unknown\n" * n
    )


def phrase_words(n: int) -> str:
    """Issue 24: a codeless notice full of the first words of many phrase rows, none of
    them completed (every row's literal prefilter passes, its pattern fails)."""
    words = "mailbox user account postfach boîte buzón casella ящик ドメイン connexion "
    return HEAD + "\n" + words * n


def _read_mbox(data: object) -> None:
    assert isinstance(data, bytes)
    for _ in read_inputs("-", InputFormat.MBOX, stdin=io.BytesIO(data)):
        pass


CASES: list[tuple[str, Callable[[int], object], Callable[[object], object], int]] = [
    ("dsn-blank-lines", blank_lines, parse_recipients, 2000),  # type: ignore[list-item]
    ("dsn-blank-lines-base64", blank_lines_base64, parse_recipients, 2000),  # type: ignore[list-item]
    ("dsn-groups-and-text", groups_and_text, parse_recipients, 16),  # type: ignore[list-item]
    ("mime-nesting", nested_mime, parse_recipients, 60),  # type: ignore[list-item]
    ("charset-punycode", punycode_part, parse_recipients, 100_000),  # type: ignore[list-item]
    ("charset-rfc2231", rfc2231_charset, parse_recipients, 100_000),  # type: ignore[list-item]
    ("continuation-lines", continued_field, parse_recipients, 2000),  # type: ignore[list-item]
    ("dsn-recipients", many_recipients, parse_recipients, 200),  # type: ignore[list-item]
    ("mtasts-policy", policy_spaces, parse_policy, 4000),  # type: ignore[list-item]
    ("postfix-heads", postfix_heads, parse_postfix, 100),  # type: ignore[list-item]
    ("postfix-middle", postfix_middle, parse_postfix, 200),  # type: ignore[list-item]
    ("postfix-failure-check", postfix_to, parse_postfix, 2000),  # type: ignore[list-item]
    ("exim", exim_line, parse_exim, 5000),  # type: ignore[list-item]
    ("text-blocks", block_starts, text_blocks, 200),  # type: ignore[list-item]
    ("mbox-reader", mbox, _read_mbox, 200),
    ("transcript-replies", transcript, parse_recipients, 500),  # type: ignore[list-item]
    ("phrase-words", phrase_words, parse_recipients, 100),  # type: ignore[list-item]
]


@pytest.mark.parametrize(("make", "run", "n"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_time_grows_linearly(
    make: Callable[[int], object], run: Callable[[object], object], n: int
) -> None:
    ratio = _ratio(make, run, n)
    # One retry: a single slow sample on a shared machine is not a quadratic parser.
    if ratio >= BOUND:
        ratio = min(ratio, _ratio(make, run, n))
    assert ratio < BOUND, f"4x the input took {ratio:.1f}x the time"
