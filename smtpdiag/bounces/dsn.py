"""Decode a bounce once: its DSN per-recipient groups and its human-readable text.

A bounce arrives as one line, a pasted transcript, a whole message or the fields of a
``message/delivery-status`` part (RFC 3464). :func:`read` turns any of them into a
:class:`Doc`: the recipient groups (RFC 3464 section 2.3) and the text a person would
read, without header lines and without the returned message, whose numbers are never
status codes.

Hostile input costs time in proportion to its size: at most :data:`MAX_INPUT`
characters are read, at most :data:`MAX_PARTS` MIME parts and groups and
:data:`MAX_LINES` lines of fields are looked at, every pattern is linear (anchored, no
overlapping quantifiers over unbounded text), and every field value goes through
:func:`smtpdiag.textsafe.clean` once. MIME is parsed with the standard library's
``email`` package, imported only for MIME input; it is superlinear in two places, so
what reaches it is bounded first: at most :data:`MAX_BOUNDARIES` multipart boundaries
(it checks every line against every open boundary) and only the charsets of
:data:`MAIL_CHARSETS` (some codecs, punycode among them, are quadratic). Every limit
that cut something is counted in :class:`Limits`, never silent.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

from ..diagnosis.codes import parse_code
from ..lazyre import LazyPattern
from ..model.bounce import MAX_BOUNDARIES, MAX_LINES, MAX_PARTS, Limits
from ..textsafe import clean

if TYPE_CHECKING:
    from email.message import Message

__all__ = [
    "EMAIL_RE",
    "FIELD_LIMIT",
    "HEADER_LINE_RE",
    "MAIL_CHARSETS",
    "MAX_ADDRESS",
    "MAX_BOUNDARIES",
    "MAX_INPUT",
    "MAX_LINES",
    "MAX_MATCHES",
    "MAX_PARTS",
    "NO_LIMITS",
    "Doc",
    "Limits",
    "RecipientStatus",
    "address",
    "read",
    "text_blocks",
]

#: Read at most this many characters of a bounce (1 MiB).
MAX_INPUT = 1 << 20
#: At most this many matches are looked at (MIME parts and lines: :mod:`smtpdiag.model.bounce`).
MAX_MATCHES = 200
#: Longest field value kept.
FIELD_LIMIT = 1000
#: Longest address (RFC 5321 4.5.3.1.3: a path is at most 256 octets with its angle
#: brackets); anything longer is not an address.
MAX_ADDRESS = 254
#: Charsets decoded as declared: the ones mail uses (RFC 2978 registry names as
#: Python's codecs know them). Any other is read as ASCII with replacement characters
#: and counted: a stranger picks the codec, and some (punycode) are quadratic.
MAIL_CHARSETS = frozenset(
    {"us-ascii", "ascii", "utf-8", "utf8", "utf-16", "utf-16le", "utf-16be", "utf-7",
     "iso-8859-1", "iso-8859-2", "iso-8859-3", "iso-8859-4", "iso-8859-5", "iso-8859-6",
     "iso-8859-7", "iso-8859-8", "iso-8859-9", "iso-8859-10", "iso-8859-13",
     "iso-8859-14", "iso-8859-15", "iso-8859-16", "windows-1250", "windows-1251",
     "windows-1252", "windows-1253", "windows-1254", "windows-1255", "windows-1256",
     "windows-1257", "windows-1258", "koi8-r", "koi8-u", "iso-2022-jp", "shift_jis",
     "euc-jp", "euc-kr", "iso-2022-kr", "gb2312", "gbk", "gb18030", "big5", "big5-hkscs",
     "tis-620", "cp850", "cp437", "mac-roman"}
)  # fmt: skip

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
    # "[- \t]*", not "[-\s]*": with re.M, "\s" would run across the following blank
    # lines from every line start (quadratic in a run of empty lines).
    r"^[- \t]*(?:this is a copy of the message|below this line is a copy|original message "
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


NO_LIMITS = Limits()


class Doc(NamedTuple):
    """A bounce decoded once: its DSN groups and its human-readable text.

    Attributes:
        groups: The recipient groups, in order.
        human: The text a person reads, without header lines or the returned message.
        truncated: The input was longer than :data:`MAX_INPUT` and was cut.
        limits: What the other limits left out.
        subject: The notification's own ``Subject:`` (as written, unfolded), ``""`` when
            the input is not a message or has none.
        failed: The address of the notification's own ``X-Failed-Recipients:`` header
            (Exim), else the To: of the returned message, when it names exactly one.
    """

    groups: tuple[RecipientStatus, ...]
    human: str
    truncated: bool
    limits: Limits = NO_LIMITS
    subject: str = ""
    failed: str | None = None


class _Tally:
    """What one reading left out, counted as it goes (see :class:`Limits`)."""

    __slots__ = ("budget", "charsets", "lines", "parts", "recipients", "returned_to")

    def __init__(self) -> None:
        self.returned_to: str | None = None  # the one To: address of the returned message
        self.budget = MAX_PARTS
        self.recipients = 0
        self.parts = 0
        self.lines = 0
        self.charsets = 0

    def limits(self, recipients_beyond: int) -> Limits:
        total = self.recipients + recipients_beyond
        if not (total or self.parts or self.lines or self.charsets):
            return NO_LIMITS
        return Limits(total, self.parts, self.lines, self.charsets)


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


#: The codec names of :data:`MAIL_CHARSETS` (what ``codecs.lookup(name).name`` says; a
#: test keeps the two equal). Written out because resolving the aliases at run time
#: imports all 45 codec modules (an eighth of a one-bounce process), and a message
#: declares one or two charsets.
_MAIL_CODECS = frozenset(
    {"ascii", "big5", "big5hkscs", "cp1250", "cp1251", "cp1252", "cp1253", "cp1254",
     "cp1255", "cp1256", "cp1257", "cp1258", "cp437", "cp850", "euc_jp", "euc_kr",
     "gb18030", "gb2312", "gbk", "iso2022_jp", "iso2022_kr", "iso8859-1", "iso8859-10",
     "iso8859-13", "iso8859-14", "iso8859-15", "iso8859-16", "iso8859-2", "iso8859-3",
     "iso8859-4", "iso8859-5", "iso8859-6", "iso8859-7", "iso8859-8", "iso8859-9",
     "koi8-r", "koi8-u", "mac-roman", "shift_jis", "tis-620", "utf-16", "utf-16-be",
     "utf-16-le", "utf-7", "utf-8"}
)  # fmt: skip


def _mail_codec(charset: str) -> str | None:
    """The codec of a declared charset if mail uses it, else ``None``."""
    import codecs

    try:
        name = codecs.lookup(charset[:40]).name
    except (LookupError, ValueError):
        return None
    return name if name in _MAIL_CODECS else None


def _decoded(part: Message, tally: _Tally) -> str:
    """A leaf part's payload with its transfer encoding and charset undone."""
    cte = str(part.get("content-transfer-encoding", "")).strip().lower()
    declared = part.get_content_charset()
    if cte not in _ENCODED and declared in _AS_READ:
        payload = part.get_payload()
        if isinstance(payload, str):
            # 7bit / 8bit / binary UTF-8: the text was already decoded with the whole
            # message (the parser would re-encode non-ASCII text as "raw-unicode-escape").
            # Other charsets (ISO-2022-JP's 7bit escapes) are decoded below.
            return payload
    try:
        raw = part.get_payload(decode=True)
    except (ValueError, TypeError, AssertionError):
        raw = None
    if not isinstance(raw, bytes):
        payload = part.get_payload()
        return payload if isinstance(payload, str) else ""
    if declared is None:
        return raw.decode("utf-8", "replace")
    codec = _mail_codec(declared)
    if codec is None:
        # Unknown to mail (or to Python): the codes and addresses are ASCII anyway.
        tally.charsets += 1
        return raw.decode("ascii", "replace")
    return raw.decode(codec, "replace")


_TAG_RE = LazyPattern(r"<[^<>]{0,2000}>")
# Declared charsets of a text the whole message was already decoded as (UTF-8).
_AS_READ = frozenset({None, "utf-8", "utf8", "us-ascii", "ascii"})
# Transfer encodings that ``get_payload(decode=True)`` undoes.
_ENCODED = frozenset({"base64", "quoted-printable", "x-uuencode", "uuencode", "x-uue", "uue"})


#: Field names that make a delivery-status group one recipient's (RFC 3464 2.3).
_RECIPIENT_FIELDS = frozenset(
    {"status", "final-recipient", "original-recipient", "diagnostic-code"}
)


def _status_groups(subs: list[Message | str], groups: list[dict[str, str]], tally: _Tally) -> None:
    """The field groups of a parsed delivery-status part; those beyond :data:`MAX_PARTS`
    are only counted."""
    for sub in subs[:MAX_PARTS]:
        if not isinstance(sub, str):
            groups.append(_fields_of(sub))
    for sub in subs[MAX_PARTS:]:
        if not isinstance(sub, str) and any(k.lower() in _RECIPIENT_FIELDS for k in sub):
            tally.recipients += 1


def _walk(part: Message, texts: list[str], groups: list[dict[str, str]], tally: _Tally) -> None:
    tally.budget -= 1
    if tally.budget < 0:
        tally.parts += 1
        return
    ctype = part.get_content_type()
    if ctype in ("message/rfc822", "text/rfc822-headers", "message/rfc822-headers"):
        # The returned message: its headers and body are not the bounce; only its one
        # To: address is kept, the last resort for a bounce that names no recipient.
        if tally.returned_to is None:
            tally.returned_to = _returned_to(part)
        return
    if ctype in ("message/delivery-status", "message/global-delivery-status"):
        payload = part.get_payload()
        cte = str(part.get("content-transfer-encoding", "")).lower()
        if isinstance(payload, list) and cte not in ("base64", "quoted-printable"):
            _status_groups(payload, groups, tally)
        else:
            text = _decoded(part, tally) if cte else str(payload)
            groups.extend(_groups_from_fields(text, tally))
        return
    if part.is_multipart():
        payload = part.get_payload()
        if isinstance(payload, list):
            for sub in payload[:MAX_PARTS]:
                if not isinstance(sub, str):
                    _walk(sub, texts, groups, tally)
            tally.parts += max(0, len(payload) - MAX_PARTS)
        return
    if part.get_content_maintype() == "text":
        body = _decoded(part, tally)
        if part.get_content_subtype() == "html":
            body = _TAG_RE.sub(" ", body.replace("<br>", "\n").replace("<BR>", "\n"))
        texts.append(body.replace("\r\n", "\n").replace("\r", "\n"))


def read(raw: str | bytes) -> Doc:
    """Decode a bounce once: DSN groups and the human-readable text, headers removed."""
    body, truncated = _bounded(raw)
    body = body.replace("\r\n", "\n").replace("\r", "\n")
    groups: list[dict[str, str]] = []
    tally = _Tally()
    human = body
    subject = ""
    failed: str | None = None
    if _is_message(body):
        head_end = body.find("\n\n")
        head = body[: head_end if head_end >= 0 else len(body)]
        subject, failed = _own_fields(head)
        plain = _plain_body(head)
        if plain:
            # One text part, no transfer encoding: the MIME parser would only copy it.
            human = body[head_end + 2 :] if head_end >= 0 else ""
        else:
            human = _mime_texts(body, groups, tally)
    if not groups and _DSN_HINT_RE.search(human):
        groups = _groups_from_fields(human, tally)
    recipients, beyond = _recipient_groups(groups)
    limits = tally.limits(beyond)
    failed = failed or tally.returned_to
    return Doc(tuple(recipients), _human_only(human), truncated, limits, subject, failed)


def _field(head: str, name: str) -> str | None:
    """The first line of header field ``name`` (lower case, with its colon) in a header
    block, at most 500 characters; plain string tests: no pattern to compile on the path
    of every message."""
    for line in head.split("\n", 200)[:200]:
        if line[: len(name)].lower() == name:
            return line[len(name) :].strip()[:500]
    return None


def _returned_to(part: Message) -> str | None:
    """The To: address of a returned message (or its headers), when it names one."""
    payload = part.get_payload()
    value: str | None = None
    if isinstance(payload, list) and payload and not isinstance(payload[0], str):
        value = str(payload[0].get("to", "")) or None
    elif isinstance(payload, str):
        head = payload[:16384].replace("\r\n", "\n")
        value = _field(head.split("\n\n", 1)[0], "to:")
    if not value or "," in value:
        return None
    return address(value)


def _own_fields(head: str) -> tuple[str, str | None]:
    """The ``Subject:`` (encoded words left as they are) and the one address of
    ``X-Failed-Recipients:`` of a notification's header block."""
    subject = _field(head, "subject:")
    failed = _field(head, "x-failed-recipients:")
    return (
        clean(subject, FIELD_LIMIT) if subject else "",
        address(failed) if failed and "," not in failed else None,
    )


_PLAIN_CHARSET_RE = LazyPattern(r"charset\s*=\s*\"?(?:us-ascii|utf-8|ascii)\b")


def _plain_body(head: str) -> bool:
    """The headers declare a single text body without transfer encoding or foreign charset."""
    h = head.lower()
    if "multipart/" in h or "content-transfer-encoding" in h or "message/" in h:
        return False
    return "charset" not in h or _PLAIN_CHARSET_RE.search(h) is not None


_BOUNDARY_RE = LazyPattern(r"boundary[ \t]{0,20}=", re.I)


def _few_boundaries(body: str, tally: _Tally) -> str:
    """``body`` up to the line declaring its (:data:`MAX_BOUNDARIES` + 1)-th multipart
    boundary; the declarations left out are counted as parts."""
    found = _BOUNDARY_RE.finditer(body)
    for seen, m in enumerate(found, 1):
        if seen > MAX_BOUNDARIES:
            tally.parts += 1 + sum(1 for _ in found)
            return body[: body.rfind("\n", 0, m.start()) + 1]
    return body


# An RFC 2231 parameter value names its own charset (``boundary*=punycode''...``); the
# parser decodes it with that codec, so the same allowlist applies.
_RFC2231_CHARSET_RE = LazyPattern(r"\*=[ \t]{0,20}\"?([A-Za-z0-9_.:-]{1,40})'")


def _mail_params(body: str, tally: _Tally) -> str:
    """``body`` with RFC 2231 parameter charsets outside :data:`MAIL_CHARSETS` made
    ``us-ascii`` (counted)."""

    def plain(m: re.Match[str]) -> str:
        if _mail_codec(m.group(1)) is not None:
            return m.group(0)
        tally.charsets += 1
        return m.group(0).replace(m.group(1), "us-ascii")

    if "*=" not in body:
        return body
    return _RFC2231_CHARSET_RE.compiled.sub(plain, body)


def _mime_texts(body: str, groups: list[dict[str, str]], tally: _Tally) -> str:
    """The decoded text parts of a MIME message (DSN groups go to ``groups``)."""
    from email import message_from_string

    try:
        msg = message_from_string(_mail_params(_few_boundaries(body, tally), tally))
        texts: list[str] = []
        _walk(msg, texts, groups, tally)
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


class _Group:
    """One paragraph of fields being read: each value's pieces, joined and cleaned once
    at the end (cleaning the value again on each continuation line is quadratic)."""

    __slots__ = ("pieces", "sizes")

    def __init__(self) -> None:
        self.pieces: dict[str, list[str]] = {}
        self.sizes: dict[str, int] = {}

    def field(self, name: str, value: str) -> None:
        if name not in self.pieces:  # the first of a repeated field wins
            self.pieces[name] = [value]
            self.sizes[name] = len(value)

    def more(self, name: str, piece: str) -> None:
        if self.sizes[name] <= FIELD_LIMIT:  # beyond it the value is cut anyway
            self.pieces[name].append(piece)
            self.sizes[name] += len(piece) + 1

    def done(self) -> dict[str, str]:
        return {k: clean(" ".join(v), FIELD_LIMIT) for k, v in self.pieces.items()}


def _groups_from_fields(text: str, tally: _Tally) -> list[dict[str, str]]:
    """Field groups (``Name: value`` paragraphs) from pasted delivery-status text; the
    recipient groups beyond :data:`MAX_PARTS` and the lines beyond :data:`MAX_LINES`
    are counted in ``tally``."""
    groups: list[dict[str, str]] = []
    current = _Group()
    last: str | None = None
    lines = text.splitlines()
    tally.lines += max(0, len(lines) - MAX_LINES)
    for number, line in enumerate(lines[:MAX_LINES]):
        if not line.strip():
            if current.pieces:
                groups.append(current.done())
            current, last = _Group(), None
            if len(groups) >= MAX_PARTS:
                tally.recipients += _recipients_in(lines[number:MAX_LINES])
                break
            continue
        if line[:1] in " \t" and last is not None:
            current.more(last, line.strip())
            continue
        m = _FIELD_RE.match(line)
        if m:
            last = m.group(1).lower()
            current.field(last, m.group(2))
        else:
            last = None
    if current.pieces:
        groups.append(current.done())
    return [g for g in groups if "status" in g or "final-recipient" in g]


def _recipients_in(lines: list[str]) -> int:
    """How many paragraphs of ``lines`` are a recipient's group (counted, not read)."""
    count = 0
    counted = False
    for line in lines:
        if not line.strip():
            counted = False
        elif not counted and line[:1] not in " \t":
            m = _FIELD_RE.match(line)
            if m is not None and m.group(1).lower() in ("status", "final-recipient"):
                count += 1
                counted = True
    return count


def _recipient_groups(groups: Iterable[dict[str, str]]) -> tuple[list[RecipientStatus], int]:
    """The recipients' groups (at most :data:`MAX_PARTS`) and how many more there were."""
    out: list[RecipientStatus] = []
    beyond = 0
    for g in groups:
        if not (_RECIPIENT_FIELDS & g.keys()):
            continue
        if len(out) >= MAX_PARTS:
            beyond += 1
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
    return out, beyond


def address(value: str | None) -> str | None:
    """The first address in ``value``; ``None`` when there is none, or when it is longer
    than :data:`MAX_ADDRESS` (cutting it would invent a domain the bounce never named)."""
    if not value:
        return None
    m = EMAIL_RE.search(value)
    if m is None:
        return None
    found = m.group(0).lstrip("'")
    return clean(found, MAX_ADDRESS) if len(found) <= MAX_ADDRESS else None


# A line that opens one recipient's paragraph in a bounce without DSN fields: qmail and
# Postfix "<a@b>:" (the reason after it or on the next lines), Exim's indented address.
_BLOCK_START_RE = LazyPattern(
    # The local part has no "@": "[^<>\s]{1,254}@" would retry every "@" of a line.
    r"^(?:<([^<>\s@]{1,254}@[^<>\s]{1,254})>:"
    r"|[ \t]{1,4}([^<>\s@]{1,254}@[^<>\s]{1,254}?):?[ \t]*$)",
    re.M,
)


def text_blocks(human: str) -> list[str]:
    """The per-recipient paragraphs of a text bounce naming several recipients, else []."""
    starts = [m.start() for i, m in enumerate(_BLOCK_START_RE.finditer(human)) if i < MAX_PARTS]
    if len(starts) < 2:
        return []
    ends = [*starts[1:], len(human)]
    return [human[a:b] for a, b in zip(starts, ends, strict=True)]
