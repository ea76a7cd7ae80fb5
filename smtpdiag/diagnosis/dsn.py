"""Decode a bounce once: its DSN per-recipient groups and its human-readable text.

A bounce arrives as one line, a pasted transcript, a whole message or the fields of a
``message/delivery-status`` part (RFC 3464). :func:`read` turns any of them into a
:class:`Doc`: the recipient groups (RFC 3464 section 2.3) and the text a person would
read, without header lines and without the returned message, whose numbers are never
status codes.

Hostile input: at most :data:`MAX_INPUT` characters are read, at most
:data:`MAX_PARTS` MIME parts and groups are looked at, every pattern is linear, and
every field value goes through :func:`smtpdiag.textsafe.clean`. MIME is parsed with
the standard library's ``email`` package, imported only for MIME input.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

from ..lazyre import LazyPattern
from ..textsafe import clean
from .codes import parse_code

if TYPE_CHECKING:
    from email.message import Message

__all__ = [
    "EMAIL_RE",
    "FIELD_LIMIT",
    "HEADER_LINE_RE",
    "MAX_INPUT",
    "MAX_MATCHES",
    "MAX_PARTS",
    "Doc",
    "RecipientStatus",
    "address",
    "read",
    "text_blocks",
]

#: Read at most this many characters of a bounce (1 MiB).
MAX_INPUT = 1 << 20
#: At most this many MIME parts / DSN groups / matches are looked at.
MAX_PARTS = 64
MAX_MATCHES = 200
#: Longest field value kept.
FIELD_LIMIT = 1000

EMAIL_RE = LazyPattern(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@"
    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?){1,126}"
)
# Header fields (of the bounce or of the returned message) whose numbers are never codes.
HEADER_LINE_RE = LazyPattern(
    r"^(?:from|to|cc|bcc|date|subject|return-path|sender|reply-to|delivered-to|received|"
    r"message-id|references|in-reply-to|envelope-to|mime-version|content-[\w-]+|"
    r"dkim-signature|domainkey-signature|authentication-results|arc-[\w-]+|list-[\w-]+|"
    r"thread-[\w-]+|user-agent|x-[\w-]+|precedence|auto-submitted|importance|priority|"
    r"organization|errors-to|feedback-id|mailer|x400-[\w-]+)\s*:",
    re.I,
)
# Where a bounce's text ends and the returned message begins.
_ORIGINAL_RE = LazyPattern(
    r"^[-\s]*(?:this is a copy of the message|below this line is a copy|original message "
    r"(?:follows|headers)|unsent message follows|--- ?original message|"
    r"------ this is a copy|undelivered message (?:headers )?follows|"
    r"returned message (?:follows|headers))",
    re.I | re.M,
)
_DSN_HINT_RE = LazyPattern(r"^(?:content-type:\s*multipart/report|status:\s*[245]\.)", re.I | re.M)
_FIELD_RE = LazyPattern(r"^([A-Za-z][A-Za-z0-9-]{0,40}):[ \t]*(.*)$")
# The header names that make a leading block the headers of a mail message.
_MESSAGE_HEADERS = frozenset(
    {"from", "to", "subject", "date", "received", "return-path", "message-id",
     "mime-version", "content-type", "delivered-to"}
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class RecipientStatus:
    """One per-recipient group of a DSN (RFC 3464 section 2.3).

    Attributes:
        recipient: Final-Recipient (or Original-Recipient) address, without its type.
        action: failed, delayed, delivered, relayed or expanded.
        status: The Status field (an enhanced code), if well-formed.
        diagnostic: The Diagnostic-Code text without its type (``smtp;``).
        remote_mta: The Remote-MTA name without its type.
    """

    recipient: str | None
    action: str | None
    status: str | None
    diagnostic: str | None
    remote_mta: str | None


class Doc(NamedTuple):
    """A bounce decoded once: its DSN groups and its human-readable text.

    Attributes:
        groups: The recipient groups, in order.
        human: The text a person reads, without header lines or the returned message.
        truncated: The input was longer than :data:`MAX_INPUT` and was cut.
    """

    groups: tuple[RecipientStatus, ...]
    human: str
    truncated: bool


def _bounded(text: str | bytes) -> tuple[str, bool]:
    if isinstance(text, bytes):
        cut = len(text) > MAX_INPUT
        return text[:MAX_INPUT].decode("utf-8", "replace"), cut
    return text[:MAX_INPUT], len(text) > MAX_INPUT


def _strip_type(value: str | None) -> str | None:
    """``"rfc822; a@b"`` -> ``"a@b"`` (RFC 3464 address-type / diagnostic-type)."""
    if value is None:
        return None
    value = " ".join(value.split())
    if ";" in value[:20]:
        value = value.split(";", 1)[1].strip()
    return value or None


def _is_message(text: str) -> bool:
    """The text starts with the header block of a mail message (not pasted DSN fields)."""
    names: set[str] = set()
    for line in text.split("\n", 60)[:60]:
        if not line.strip():
            break
        if line[:1] in " \t":
            continue
        if line.startswith("From ") and not names:
            continue  # an mbox "From " separator line
        m = _FIELD_RE.match(line)
        if m is None:
            return False
        names.add(m.group(1).lower())
    return bool(names & _MESSAGE_HEADERS)


def _decoded(part: Message) -> str:
    """A leaf part's payload with its transfer encoding and charset undone."""
    try:
        raw = part.get_payload(decode=True)
    except (ValueError, TypeError, AssertionError):
        raw = None
    if not isinstance(raw, bytes):
        payload = part.get_payload()
        return payload if isinstance(payload, str) else ""
    charset = part.get_content_charset() or "utf-8"
    try:
        return raw.decode(charset, "replace")
    except LookupError:
        return raw.decode("latin-1")


_TAG_RE = LazyPattern(r"<[^<>]{0,2000}>")


def _walk(part: Message, texts: list[str], groups: list[dict[str, str]], budget: list[int]) -> None:
    budget[0] -= 1
    if budget[0] < 0:
        return
    ctype = part.get_content_type()
    if ctype in ("message/rfc822", "text/rfc822-headers", "message/rfc822-headers"):
        return  # the returned message: its headers and body are not the bounce
    if ctype in ("message/delivery-status", "message/global-delivery-status"):
        payload = part.get_payload()
        cte = str(part.get("content-transfer-encoding", "")).lower()
        if isinstance(payload, list) and cte not in ("base64", "quoted-printable"):
            groups.extend(
                _fields_of(sub) for sub in payload[:MAX_PARTS] if not isinstance(sub, str)
            )
        else:
            groups.extend(_groups_from_fields(_decoded(part) if cte else str(payload)))
        return
    if part.is_multipart():
        payload = part.get_payload()
        if isinstance(payload, list):
            for sub in payload[:MAX_PARTS]:
                if not isinstance(sub, str):
                    _walk(sub, texts, groups, budget)
        return
    if part.get_content_maintype() == "text":
        body = _decoded(part)
        if part.get_content_subtype() == "html":
            body = _TAG_RE.sub(" ", body.replace("<br>", "\n").replace("<BR>", "\n"))
        texts.append(body.replace("\r\n", "\n").replace("\r", "\n"))


def read(raw: str | bytes) -> Doc:
    """Decode a bounce once: DSN groups and the human-readable text, headers removed."""
    body, truncated = _bounded(raw)
    body = body.replace("\r\n", "\n").replace("\r", "\n")
    groups: list[dict[str, str]] = []
    human = body
    if _is_message(body):
        head_end = body.find("\n\n")
        plain = _plain_body(body[: head_end if head_end >= 0 else len(body)])
        if plain:
            # One text part, no transfer encoding: the MIME parser would only copy it.
            human = body[head_end + 2 :] if head_end >= 0 else ""
        else:
            human = _mime_texts(body, groups)
    if not groups and _DSN_HINT_RE.search(human):
        groups = _groups_from_fields(human)
    return Doc(tuple(_recipient_groups(groups)), _human_only(human), truncated)


_PLAIN_CHARSET_RE = LazyPattern(r"charset\s*=\s*\"?(?:us-ascii|utf-8|ascii)\b")


def _plain_body(head: str) -> bool:
    """The headers declare a single text body without transfer encoding or foreign charset."""
    h = head.lower()
    if "multipart/" in h or "content-transfer-encoding" in h or "message/" in h:
        return False
    return "charset" not in h or _PLAIN_CHARSET_RE.search(h) is not None


def _mime_texts(body: str, groups: list[dict[str, str]]) -> str:
    """The decoded text parts of a MIME message (DSN groups go to ``groups``)."""
    from email import message_from_string

    try:
        msg = message_from_string(body)
        texts: list[str] = []
        _walk(msg, texts, groups, [MAX_PARTS])
        return "\n".join(texts)
    except (RecursionError, ValueError, LookupError, TypeError, AttributeError, IndexError):
        groups.clear()
        return body


def _human_only(text: str) -> str:
    """Text without header lines (and their continuations) and without the returned message."""
    cut = _ORIGINAL_RE.search(text)
    if cut is not None and cut.start() > 0:
        text = text[: cut.start()]
    out: list[str] = []
    skipping = False
    for line in text.split("\n"):
        if line[:1] in " \t" and skipping:
            continue
        # Only a line with a colon early on can be a header field (cheap test first).
        skipping = line.find(":", 0, 80) > 0 and HEADER_LINE_RE.match(line) is not None
        if not skipping:
            out.append(line)
    return "\n".join(out)


def _fields_of(msg: Message) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in list(msg.items())[:MAX_PARTS]:
        out.setdefault(k.lower(), clean(str(v), FIELD_LIMIT))
    return out


def _groups_from_fields(text: str) -> list[dict[str, str]]:
    """Field groups (``Name: value`` paragraphs) from pasted delivery-status text."""
    groups: list[dict[str, str]] = []
    current: dict[str, str] = {}
    last: str | None = None
    for line in text.splitlines()[:20000]:
        if not line.strip():
            if current:
                groups.append(current)
            current, last = {}, None
            if len(groups) >= MAX_PARTS:
                break
            continue
        if line[:1] in " \t" and last is not None:
            current[last] = clean(current[last] + " " + line.strip(), FIELD_LIMIT)
            continue
        m = _FIELD_RE.match(line)
        if m:
            last = m.group(1).lower()
            current.setdefault(last, clean(m.group(2), FIELD_LIMIT))
        else:
            last = None
    if current:
        groups.append(current)
    return [g for g in groups if "status" in g or "final-recipient" in g]


def _recipient_groups(groups: Iterable[dict[str, str]]) -> list[RecipientStatus]:
    out = []
    for g in groups:
        if not ({"status", "final-recipient", "original-recipient", "diagnostic-code"} & set(g)):
            continue
        status = g.get("status", "").split(" ", 1)[0].strip()
        out.append(
            RecipientStatus(
                recipient=address(
                    _strip_type(g.get("final-recipient") or g.get("original-recipient"))
                ),
                action=(g.get("action") or "").strip().lower() or None,
                status=status if parse_code(status) else None,
                diagnostic=_strip_type(g.get("diagnostic-code")),
                remote_mta=_strip_type(g.get("remote-mta")),
            )
        )
        if len(out) >= MAX_PARTS:
            break
    return out


def address(value: str | None) -> str | None:
    if not value:
        return None
    m = EMAIL_RE.search(value)
    return clean(m.group(0).lstrip("'"), 254) if m else None


# A line that opens one recipient's paragraph in a bounce without DSN fields: qmail and
# Postfix "<a@b>:" (the reason after it or on the next lines), Exim's indented address.
_BLOCK_START_RE = LazyPattern(
    r"^(?:<([^<>\s]{1,254}@[^<>\s]{1,254})>:|[ \t]{1,4}([^<>\s]{1,254}@[^<>\s]{1,254}?):?[ \t]*$)",
    re.M,
)


def text_blocks(human: str) -> list[str]:
    """The per-recipient paragraphs of a text bounce naming several recipients, else []."""
    starts = [m.start() for i, m in enumerate(_BLOCK_START_RE.finditer(human)) if i < MAX_PARTS]
    if len(starts) < 2:
        return []
    ends = [*starts[1:], len(human)]
    return [human[a:b] for a, b in zip(starts, ends, strict=True)]
