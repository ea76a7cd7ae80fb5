"""Read a bounce: one line, a pasted transcript, or a DSN (RFC 3464 multipart/report).

:func:`parse_bounce` extracts the basic reply code (RFC 5321 4.2), the enhanced status
code (RFC 3463, also when embedded in longer text), the recipient and its domain and
the remote MTA; :func:`parse_recipients` does it once per recipient of a DSN.
:func:`explain` adds the registry entry, the seed knowledge, the reason and the
decision for the address. :func:`confirm` compares an explanation with what a probe
of the recipient's domain sees now.

Precedence (each rule has a fixture in ``fixtures/bounces``):

1. The remote server's reply in ``Diagnostic-Code`` wins over the ``Status`` field when
   they disagree, if the reply is consistent (its basic and enhanced codes agree in
   class, the same class as ``Status``) and not less specific (``Status`` 5.1.1 is kept
   over a reply's 5.0.0).
2. A generic ``Status`` (X.0.0) with no code in the diagnostic: the human-readable part
   is read for a code of the same class.
3. No ``Status`` and no code in the diagnostic (empty, ``X-Unix;``): the human-readable
   part (Sendmail transcripts, qmail, Exim) is read.
4. No code anywhere: the code is inferred from phrases (:func:`reasons.infer`), marked
   ``inferred`` with low confidence and the phrase that matched.
5. Never a number from a header (``Received:``, ``X-*:``, the returned message's
   headers) or a version string (``fml 4.0.3``, ``MOS 4.1.8-GA``, ``mta-5.5.0-3``).

Hostile input: at most :data:`MAX_INPUT` characters are read, every regular expression
is linear (bounded repetitions, no nested quantifiers over the same text), and every
string that leaves this module went through :func:`smtpdiag.textsafe.clean`. MIME is
parsed with the standard library's ``email`` package, imported lazily (nothing here
does I/O). Transfer encodings (base64, quoted-printable) and charsets are decoded; LF,
CRLF and CR line ends are accepted.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from ..model import Action, ActionKind, ProbeReport, ResolutionKind, Severity, Verdict
from ..narrate import bounce as words
from ..narrate.actions import schedule_from
from ..textsafe import clean
from . import knowledge
from .codes import BasicCode, StatusCode, lookup, lookup_basic, parse_code
from .facts import aware_now, iso
from .knowledge import RFC5321_RETRY, CodeKnowledge
from .reasons import CodeSource, Confidence, Decision, Reason, classify, decide, infer

if TYPE_CHECKING:
    from email.message import Message

__all__ = [
    "MAX_INPUT",
    "ConfirmStatus",
    "Confirmation",
    "Explanation",
    "Assessment",
    "ParsedBounce",
    "RecipientStatus",
    "assess",
    "confirm",
    "explain",
    "explain_parsed",
    "parse_bounce",
    "parse_log_status",
    "parse_recipients",
]

#: Read at most this many characters of a bounce (1 MiB).
MAX_INPUT = 1 << 20
#: At most this many MIME parts / DSN groups / matches are looked at.
_MAX_PARTS = 64
_MAX_MATCHES = 200
_FIELD_LIMIT = 1000

# RFC 3463 section 2: class "." subject "." detail, subject and detail 1*3digit. Not
# preceded by a digit, dot, letter or hyphen (versions: "mta-5.5.0", "v5.1.1"), not
# followed by a dot-digit (IP addresses) or by "-word" ("4.1.8-GA", "5.5.0-3").
_ENH = r"[245]\.\d{1,3}\.\d{1,3}"
_ENH_RE = re.compile(rf"(?<![\w.-])#?({_ENH})(?!\.?\d|-\w|[A-Za-z_])")
# A basic code followed by an enhanced one: "451 4.4.2", "550-5.1.1", "550 #5.1.1",
# "550: 5.2.2", and nested replies quoted in another: "550-'5.7.1 ...".
_PAIR_RE = re.compile(rf"(?<![\w.-])([245][0-5]\d)[ :-]{{1,3}}['\"(]?#?({_ENH})(?!\.?\d|-\w)")
# A basic code alone at the start of a line or after "said:", "smtp;" ...: "550 No such user".
_BASIC_RE = re.compile(r"(?:^|(?<=[\s:;(\[\"'<>]))([245][0-5]\d)(?=[ ,-]|$)", re.M)
# Vendor forms naming the basic code: "ERROR_CODE :550,", "ResponseCode 421,".
_KEYED_BASIC_RE = re.compile(
    r"(?:error[_ ]code|response ?code|reply ?code|smtp ?code|status ?code)\s{0,3}[:=]?\s{0,3}"
    r"([245][0-5]\d)\b",
    re.I,
)
# Text before a dotted number that makes it a software version, not a status code.
_VERSION_BEFORE_RE = re.compile(
    r"(?:exim|postfix|sendmail|version|release|fml|mos|build|ver\.?|v)\s*$", re.I
)
_EMAIL_RE = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@"
    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?){1,126}"
)
_HOST_RE = re.compile(
    r"(?:host|connect to)\s+([A-Za-z0-9][A-Za-z0-9.-]{0,252})\s{0,3}\[([0-9A-Fa-f:.]{2,45})\]",
    re.I,
)
# Header fields (of the bounce or of the returned message) whose numbers are never codes.
_HEADER_LINE_RE = re.compile(
    r"^(?:from|to|cc|bcc|date|subject|return-path|sender|reply-to|delivered-to|received|"
    r"message-id|references|in-reply-to|envelope-to|mime-version|content-[\w-]+|"
    r"dkim-signature|domainkey-signature|authentication-results|arc-[\w-]+|list-[\w-]+|"
    r"thread-[\w-]+|user-agent|x-[\w-]+|precedence|auto-submitted|importance|priority|"
    r"organization|errors-to|feedback-id|mailer|x400-[\w-]+)\s*:",
    re.I,
)
# Where a bounce's text ends and the returned message begins.
_ORIGINAL_RE = re.compile(
    r"^[-\s]*(?:this is a copy of the message|below this line is a copy|original message "
    r"(?:follows|headers)|unsent message follows|--- ?original message|"
    r"------ this is a copy|undelivered message (?:headers )?follows|"
    r"returned message (?:follows|headers))",
    re.I | re.M,
)
# Transcript lines naming the sender, not the recipient.
_SENDER_LINE_RE = re.compile(r"mail from:|envelope-from|return-path", re.I)
_DSN_HINT_RE = re.compile(r"^(?:content-type:\s*multipart/report|status:\s*[245]\.)", re.I | re.M)
_FIELD_RE = re.compile(r"^([A-Za-z][A-Za-z0-9-]{0,40}):[ \t]*(.*)$")
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


@dataclass(frozen=True, slots=True)
class ParsedBounce:
    """What :func:`parse_bounce` found. Every string is sanitized.

    Attributes:
        basic: The basic reply code (``451``), if any.
        enhanced: The enhanced status code (``"4.4.2"``), if any (also when inferred).
        text: The line or diagnostic the codes came from.
        recipient: The failed recipient's address, if found.
        domain: The recipient's domain (lower case), if found.
        remote_mta: The remote MTA's host name, if named.
        remote_address: The remote MTA's IP address, if named.
        action: The DSN Action of the chosen recipient, if a DSN.
        source: ``"dsn"`` (RFC 3464 fields), ``"text"`` or ``"none"``.
        recipients: Every DSN per-recipient group, in order.
        codes: Every distinct enhanced code seen, in order.
        notes: Remarks on how the codes were read.
        truncated: The input was longer than :data:`MAX_INPUT` and was cut.
        code_source: Where the code came from (see :class:`CodeSource`).
        confidence: How far the code can be trusted; ``None`` when nothing was found.
        matched_phrase: The phrase an inferred code came from; ``None`` unless inferred.
    """

    basic: int | None
    enhanced: str | None
    text: str
    recipient: str | None
    domain: str | None
    remote_mta: str | None
    remote_address: str | None
    action: str | None
    source: str
    recipients: tuple[RecipientStatus, ...] = ()
    codes: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    truncated: bool = False
    code_source: CodeSource = CodeSource.NONE
    confidence: Confidence | None = None
    matched_phrase: str | None = None

    @property
    def found(self) -> bool:
        """A basic or an enhanced code was found (or inferred)."""
        return self.basic is not None or self.enhanced is not None


class ConfirmStatus(StrEnum):
    """How a live probe relates to a bounce."""

    CONFIRMED = "confirmed"  #: the probe sees the condition the bounce reports
    NOT_REPRODUCED = "not-reproduced"  #: the domain works now
    DIFFERENT = "different"  #: the probe sees a problem, but another one
    NOT_CHECKABLE = "not-checkable"  #: a connection-level probe cannot see this condition


@dataclass(frozen=True, slots=True)
class Confirmation:
    """Whether what a probe sees now confirms the bounce.

    Attributes:
        status: See :class:`ConfirmStatus`.
        summary: One or two sentences.
        verdict: The probe's verdict, ``None`` if the probe was not diagnosed.
        primary: The probe's leading code, if any.
    """

    status: ConfirmStatus
    summary: str
    verdict: Verdict | None = None
    primary: str | None = None


@dataclass(frozen=True, slots=True)
class Explanation:
    """A bounce explained: the parsed text, the registry entry and the seed knowledge.

    Attributes:
        found: A status code was found or inferred (if not, only ``bounce`` and
            ``summary`` are set).
        bounce: What was parsed.
        code: The enhanced code's registry entry (class/subject meaning if unregistered).
        basic: The basic code's meaning.
        knowledge: The seed (or neighbour) knowledge for the code, if any.
        severity: Soft, hard or info.
        summary: One line.
        matched_causes: Causes of the seed list the bounce text points at.
        action: What to do, with a concrete retry schedule from ``generated_at``.
        notes: Vendor usage and scope notes.
        generated_at: ISO 8601 UTC instant retry times are counted from.
        probe: The probe of the recipient's domain (``explain --probe``), if any.
        confirmation: Whether the probe confirms the bounce, if probed.
        reason: Why the recipient bounced (the documented vocabulary).
        decision: What to do with the address.
    """

    found: bool
    bounce: ParsedBounce
    code: StatusCode | None
    basic: BasicCode | None
    knowledge: CodeKnowledge | None
    severity: Severity | None
    summary: str
    matched_causes: tuple[str, ...] = ()
    action: Action | None = None
    notes: tuple[str, ...] = ()
    generated_at: str = ""
    probe: ProbeReport | None = None
    confirmation: Confirmation | None = None
    reason: Reason = Reason.UNKNOWN
    decision: Decision = Decision.KEEP


# --------------------------------------------------------------------- reading


@dataclass(frozen=True, slots=True)
class _Doc:
    """A bounce decoded once: its DSN groups and its human-readable text."""

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


_TAG_RE = re.compile(r"<[^<>]{0,2000}>")


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
                _fields_of(sub) for sub in payload[:_MAX_PARTS] if not isinstance(sub, str)
            )
        else:
            groups.extend(_groups_from_fields(_decoded(part) if cte else str(payload)))
        return
    if part.is_multipart():
        payload = part.get_payload()
        if isinstance(payload, list):
            for sub in payload[:_MAX_PARTS]:
                if not isinstance(sub, str):
                    _walk(sub, texts, groups, budget)
        return
    if part.get_content_maintype() == "text":
        body = _decoded(part)
        if part.get_content_subtype() == "html":
            body = _TAG_RE.sub(" ", body.replace("<br>", "\n").replace("<BR>", "\n"))
        texts.append(body.replace("\r\n", "\n").replace("\r", "\n"))


def _read(raw: str | bytes) -> _Doc:
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
    return _Doc(tuple(_recipient_groups(groups)), _human_only(human), truncated)


_PLAIN_CHARSET_RE = re.compile(r"charset\s*=\s*\"?(?:us-ascii|utf-8|ascii)\b")


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
        _walk(msg, texts, groups, [_MAX_PARTS])
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
        skipping = line.find(":", 0, 80) > 0 and _HEADER_LINE_RE.match(line) is not None
        if not skipping:
            out.append(line)
    return "\n".join(out)


def _fields_of(msg: Message) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in list(msg.items())[:_MAX_PARTS]:
        out.setdefault(k.lower(), clean(str(v), _FIELD_LIMIT))
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
            if len(groups) >= _MAX_PARTS:
                break
            continue
        if line[:1] in " \t" and last is not None:
            current[last] = clean(current[last] + " " + line.strip(), _FIELD_LIMIT)
            continue
        m = _FIELD_RE.match(line)
        if m:
            last = m.group(1).lower()
            current.setdefault(last, clean(m.group(2), _FIELD_LIMIT))
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
                recipient=_address(
                    _strip_type(g.get("final-recipient") or g.get("original-recipient"))
                ),
                action=(g.get("action") or "").strip().lower() or None,
                status=status if parse_code(status) else None,
                diagnostic=_strip_type(g.get("diagnostic-code")),
                remote_mta=_strip_type(g.get("remote-mta")),
            )
        )
        if len(out) >= _MAX_PARTS:
            break
    return out


def _address(value: str | None) -> str | None:
    if not value:
        return None
    m = _EMAIL_RE.search(value)
    return clean(m.group(0).lstrip("'"), 254) if m else None


# --------------------------------------------------------------------- scanning


def _is_version(text: str, start: int) -> bool:
    return bool(_VERSION_BEFORE_RE.search(text[max(0, start - 12) : start]))


@dataclass(frozen=True, slots=True)
class _Scan:
    basic: int | None = None
    enhanced: str | None = None
    line: str = ""
    codes: tuple[str, ...] = ()


def _scan(text: str) -> _Scan:
    """Codes in free text: the server reply first (a basic code with an enhanced one),
    then a lone enhanced code (the most specific of a nested reply), then a basic code."""
    all_codes: list[str] = []
    best: tuple[int | None, str | None, int] | None = None
    basic: int | None
    for i, m in enumerate(_PAIR_RE.finditer(text)):
        if i >= _MAX_MATCHES:
            break
        basic, enh = int(m.group(1)), m.group(2)
        all_codes.append(enh)
        if enh[0] in "45" and (best is None or (_generic(best[1]) and not _generic(enh))):
            best = (basic, enh, m.start())
    lone_best: tuple[int | None, str | None, int] | None = None
    for i, m in enumerate(_ENH_RE.finditer(text)):
        if i >= _MAX_MATCHES:
            break
        if _is_version(text, m.start()):
            continue
        enh = m.group(1)
        if enh[0] == "2" and not any(c == enh for c in all_codes):
            continue  # a lone "2.x.y" is far more often a version than a status
        all_codes.append(enh)
        if enh[0] in "45" and (lone_best is None or (_generic(lone_best[1]) and not _generic(enh))):
            lone_best = (None, enh, m.start())
    if best is None or (lone_best is not None and _generic(best[1]) and not _generic(lone_best[1])):
        best = lone_best if lone_best is not None else best
    if best is None:
        km = _KEYED_BASIC_RE.search(text)
        if km is not None and km.group(1)[0] in "45":
            best = (int(km.group(1)), None, km.start(1))
    if best is None:
        for i, m in enumerate(_BASIC_RE.finditer(text)):
            if i >= _MAX_MATCHES:
                break
            if m.group(1)[0] in "45":
                best = (int(m.group(1)), None, m.start())
                break
    codes = tuple(dict.fromkeys(c for c in (_canon(c) for c in all_codes) if c))
    if best is None:
        return _Scan(codes=codes)
    basic, enh, pos = best
    line_start = text.rfind("\n", 0, pos) + 1
    line_end = text.find("\n", pos)
    line = text[line_start : line_end if line_end >= 0 else len(text)]
    if basic is None and enh is not None:
        # A lone enhanced code may have its basic code earlier on its line or on the
        # line before ("550 Unrouteable address (#5.1.1)"; qmail's "said: 550 ..." with
        # "(#5.5.0)" on the next line).
        prev_start = text.rfind("\n", 0, max(0, line_start - 1)) + 1 if line_start else 0
        found = [b for b in _BASIC_RE.finditer(text, prev_start, pos) if b.group(1)[0] == enh[0]]
        if found:
            basic = int(found[-1].group(1))
            if found[-1].start() < line_start:
                line = text[prev_start:line_start].strip() + " " + line.strip()
    line = _with_continuations(text, line, line_end, basic)
    return _Scan(basic, _canon(enh) if enh else None, line, codes)


def _generic(code: str | None) -> bool:
    """X.0.0 or X.s.0: says less than a code with a detail."""
    parsed = parse_code(code) if code else None
    return parsed is None or parsed[2] == 0


def _with_continuations(text: str, line: str, line_end: int, basic: int | None) -> str:
    """Add folded continuation lines (Postfix indents them; multi-line replies repeat
    the basic code: ``550-5.1.1 ...``) so the whole reply text is kept."""
    pos = line_end
    for _ in range(10):
        if pos < 0 or len(line) >= _FIELD_LIMIT:
            break
        nxt_end = text.find("\n", pos + 1)
        nxt = text[pos + 1 : nxt_end if nxt_end >= 0 else len(text)]
        folded = nxt[:1] in (" ", "\t") and nxt.strip()
        repeated = basic is not None and nxt[:4] in (f"{basic}-", f"{basic} ")
        if not (folded or repeated):
            break
        line = f"{line} {nxt.strip()}"
        pos = nxt_end
    return line


def _canon(code: str) -> str | None:
    parsed = parse_code(code)
    return None if parsed is None else "{}.{}.{}".format(*parsed)


# Words right before an address that make it the recipient ("Delivery to a@b", "<a@b>")
# or the sender ("Message from a@b to ...").
_TO_BEFORE_RE = re.compile(r"(?:\bto:?\s{1,3}<?|<)$", re.I)
_FROM_BEFORE_RE = re.compile(r"\bfrom:?\s{1,3}<?$", re.I)


def _recipient_from_text(text: str, code_line: str) -> str | None:
    m = _EMAIL_RE.search(code_line)
    if m:
        return m.group(0).lstrip("'")
    # An address after "to" or in angle brackets, else the first one, that is not on a
    # header or sender line, not after "from" and not the bounce's own sender (one scan
    # of the text, then a look at each hit's line).
    first: str | None = None
    for i, m in enumerate(_EMAIL_RE.finditer(text)):
        if i >= _MAX_MATCHES:
            break
        address = m.group(0).lower()
        if "mailer-daemon" in address or "postmaster" in address:
            continue
        start = text.rfind("\n", 0, m.start()) + 1
        end = text.find("\n", m.end())
        line = text[start : end if end >= 0 else len(text)]
        if _HEADER_LINE_RE.match(line) or _SENDER_LINE_RE.search(line):
            continue
        before = text[max(start, m.start() - 12) : m.start()]
        if _FROM_BEFORE_RE.search(before):
            continue
        if _TO_BEFORE_RE.search(before):
            return m.group(0).lstrip("'")
        first = first or m.group(0).lstrip("'")
    return first


# --------------------------------------------------------------------- precedence


@dataclass(frozen=True, slots=True)
class _Evidence:
    basic: int | None
    enhanced: str | None
    line: str
    source: CodeSource
    confidence: Confidence | None
    phrase: str | None
    notes: tuple[str, ...]
    codes: tuple[str, ...]


def _resolve(group: RecipientStatus | None, human: str) -> _Evidence:
    """Apply the precedence rules of the module docstring to one recipient."""
    status = group.status if group else None
    diag = group.diagnostic if group else None
    d = _scan(diag) if diag else _Scan()
    notes: list[str] = []
    codes = ([status] if status else []) + list(d.codes)
    line = diag or (f"Status: {status}" if status else "")
    if status is not None:
        st = parse_code(status)
        assert st is not None
        if d.enhanced is not None and d.enhanced != _canon(status):
            de = parse_code(d.enhanced)
            assert de is not None
            consistent = d.basic is None or d.basic // 100 == de[0]
            less_specific = de[2] == 0 and st[2] != 0
            if de[0] == st[0] and consistent and not less_specific:
                notes.append(words.note_reply_wins(status, d.enhanced, st[1:] == (0, 0)))
                return _Evidence(
                    d.basic, d.enhanced, line, CodeSource.DIAGNOSTIC, Confidence.HIGH, None,
                    tuple(notes), tuple(codes),
                )  # fmt: skip
            notes.append(words.note_status_kept(status, d.enhanced))
        if d.enhanced is None and st[1:] == (0, 0):
            t = _scan(human)
            tc = parse_code(t.enhanced) if t.enhanced else None
            if tc is not None and tc[0] == st[0] and not _generic(t.enhanced):
                notes.append(words.note_text_wins(status, t.enhanced or ""))
                return _Evidence(
                    t.basic or d.basic, t.enhanced, t.line, CodeSource.TEXT, Confidence.MEDIUM,
                    None, tuple(notes), tuple(codes) + t.codes,
                )  # fmt: skip
        basic = d.basic
        if basic is None and not diag:
            basic = _scan(human).basic
        return _Evidence(
            basic, _canon(status), line, CodeSource.STATUS, Confidence.HIGH, None,
            tuple(notes), tuple(codes),
        )  # fmt: skip
    if d.enhanced is not None or d.basic is not None:
        return _Evidence(
            d.basic, d.enhanced, d.line or line, CodeSource.DIAGNOSTIC, Confidence.HIGH, None,
            (), tuple(codes),
        )  # fmt: skip
    t = _scan(human)
    if t.enhanced is not None or t.basic is not None:
        return _Evidence(
            t.basic, t.enhanced, t.line, CodeSource.TEXT, Confidence.MEDIUM, None, (), t.codes
        )
    delayed = None if group is None or group.action is None else group.action == "delayed"
    guess = infer(f"{diag or ''}\n{human}", delayed=delayed)
    if guess is not None:
        return _Evidence(
            None, guess.code, guess.phrase, CodeSource.INFERRED, Confidence.LOW, guess.phrase,
            (words.note_inferred(guess.phrase, guess.language),), (),
        )  # fmt: skip
    return _Evidence(None, None, "", CodeSource.NONE, None, None, (), t.codes)


def _build(doc: _Doc, chosen: RecipientStatus | None, notes: Sequence[str] = ()) -> ParsedBounce:
    ev = _resolve(chosen, doc.human)
    all_notes = list(notes) + list(ev.notes)
    basic, enhanced = ev.basic, ev.enhanced
    if basic is not None and enhanced is not None and basic // 100 != int(enhanced[0]):
        all_notes.append(words.note_class_mismatch(basic, enhanced))
    remote_host = remote_addr = None
    hm = _HOST_RE.search(doc.human) or (_HOST_RE.search(ev.line) if ev.line else None)
    if hm:
        remote_host, remote_addr = hm.group(1).rstrip("."), hm.group(2)
    if chosen is not None and chosen.remote_mta:
        remote_host = chosen.remote_mta
    dsn = chosen is not None and (chosen.status is not None or chosen.diagnostic is not None)
    found = basic is not None or enhanced is not None
    source = "dsn" if dsn else ("text" if found else "none")
    recipient = chosen.recipient if chosen and chosen.recipient else None
    if recipient is None and found:
        recipient = _recipient_from_text(doc.human, ev.line)
    recipient = clean(recipient, 254) if recipient else None
    domain = recipient.rsplit("@", 1)[1].lower().rstrip(".") if recipient else None
    group_codes = [r.status for r in doc.groups if r.status]
    return ParsedBounce(
        basic=basic,
        enhanced=enhanced,
        text=clean(ev.line.strip(), _FIELD_LIMIT),
        recipient=recipient,
        domain=domain,
        remote_mta=clean(remote_host, 255) if remote_host else None,
        remote_address=clean(remote_addr, 45) if remote_addr else None,
        action=chosen.action if chosen else None,
        source=source,
        recipients=doc.groups,
        codes=tuple(dict.fromkeys(group_codes + list(ev.codes)))[:32],
        notes=tuple(dict.fromkeys(all_notes)),
        truncated=doc.truncated,
        code_source=ev.source,
        confidence=ev.confidence,
        matched_phrase=clean(ev.phrase, 80) if ev.phrase else None,
    )


def parse_bounce(text: str | bytes) -> ParsedBounce:
    """Parse a bounce line, transcript or DSN (its first failed or delayed recipient).
    Never raises on content."""
    doc = _read(text)
    chosen = next(
        (r for r in doc.groups if r.action in ("failed", "delayed")),
        doc.groups[0] if doc.groups else None,
    )
    return _build(doc, chosen)


# A line that opens one recipient's paragraph in a bounce without DSN fields: qmail and
# Postfix "<a@b>:" (the reason after it or on the next lines), Exim's indented address.
_BLOCK_START_RE = re.compile(
    r"^(?:<([^<>\s]{1,254}@[^<>\s]{1,254})>:|[ \t]{1,4}([^<>\s]{1,254}@[^<>\s]{1,254}?):?[ \t]*$)",
    re.M,
)


def _text_blocks(human: str) -> list[str]:
    """The per-recipient paragraphs of a text bounce naming several recipients, else []."""
    starts = [m.start() for i, m in enumerate(_BLOCK_START_RE.finditer(human)) if i < _MAX_PARTS]
    if len(starts) < 2:
        return []
    ends = [*starts[1:], len(human)]
    return [human[a:b] for a, b in zip(starts, ends, strict=True)]


def parse_recipients(text: str | bytes) -> tuple[ParsedBounce, ...]:
    """One :class:`ParsedBounce` per failed or delayed recipient: per DSN group, or per
    recipient paragraph of a text bounce (qmail, Exim, Postfix without DSN fields); a
    bounce naming one recipient gives one. Never raises on content."""
    doc = _read(text)
    wanted = [r for r in doc.groups if r.action in ("failed", "delayed")] or list(doc.groups[:1])
    if wanted:
        return tuple(_build(doc, r) for r in wanted)
    blocks = _text_blocks(doc.human)
    if blocks:
        return tuple(_build(replace(doc, human=block), None) for block in blocks)
    return (_build(doc, None),)


def parse_log_status(
    status: str | None, reply: str | None, *, action: str | None, recipient: str | None
) -> ParsedBounce:
    """A bounce from an MTA log line or queue entry: ``status`` plays the DSN Status
    field (Postfix ``dsn=``), ``reply`` the Diagnostic-Code (the reason text)."""
    group = RecipientStatus(
        recipient=_address(recipient),
        action=action,
        status=status if status and parse_code(status) else None,
        diagnostic=reply or None,
        remote_mta=None,
    )
    doc = _Doc((group,), "", False)
    return replace(_build(doc, group), recipients=())


# --------------------------------------------------------------------- explaining

# Words in a bounce that point at a seed cause (code -> (pattern, cause slug)).
_CAUSE_HINTS: dict[str, tuple[tuple[str, str], ...]] = {
    "4.4.2": (
        (r"dropp|lost connection|connection lost|terminated|reset", "connection-dropped"),
        (r"unstable|network", "network-instability"),
        (r"overload|busy|load", "server-overloaded"),
        (r"\btls\b|\bssl\b|starttls", "tls-problems"),
        (r"\bport\b", "port-blocked"),
        (r"firewall", "firewall"),
        (r"proxy", "proxy"),
        (r"\bmtu\b|fragment", "mtu"),
        (r"too many connections|connection limit|concurren", "connection-limit"),
        (r"time ?out|timed out", "handshake-timeout"),
    ),
    "5.4.2": (
        (r"\bport\b", "port-blocked"),
        (r"\btls\b|\bssl\b|starttls|certificate", "tls-mismatch"),
        (r"protocol", "protocol-incompatibility"),
        (r"firewall", "firewall-rules"),
        (r"\bip\b|blocked|black ?list|block ?list|listed|reputation", "ip-blocked"),
        (r"policy", "connection-policy"),
        (r"configur", "server-configuration"),
        (r"route|routing|path", "network-path"),
    ),
    "4.3.2": (
        (r"maintenance|restart|upgrade", "maintenance"),
        (r"network", "network-problems"),
        (r"overload|busy|too many|load|resources", "overload"),
    ),
    "5.4.3": (
        (r"shut ?down|permanently (?:down|unavailable)|intermediate", "server-shut-down"),
        (r"decommission|retired|out of service", "decommissioned"),
        (r"configur|rule", "configuration"),
        (r"\bdns\b|no longer exist", "dns-invalid"),
        (r"infrastructure", "infrastructure"),
        (r"\bmx\b|routing path", "mx-records"),
        (r"migrat", "migration"),
        (r"abandon", "abandoned"),
        (r"resource", "resource-exhaustion"),
        (r"critical", "critical-failure"),
    ),
}


def _matched(code: str, text: str) -> tuple[str, ...]:
    k = knowledge.get(code)
    if k is None:
        return ()
    slugs = [slug for pat, slug in _CAUSE_HINTS.get(code, ()) if re.search(pat, text, re.I)]
    return tuple(k.cause(s).text for s in dict.fromkeys(slugs))


_ACTION_OF = {
    Decision.SUPPRESS: ActionKind.SUPPRESS,
    Decision.RETRY: ActionKind.RETRY,
    Decision.FIX: ActionKind.FIX,
    Decision.KEEP: ActionKind.NONE,
}


def _action_for(
    decision: Decision,
    reason: Reason,
    code: StatusCode | None,
    k: CodeKnowledge | None,
    action: str | None,
    now: datetime,
) -> Action:
    """The action for the decision: a seed's own summary and schedule where the seed
    and the decision agree, the reason's wording otherwise."""
    kind = _ACTION_OF[decision]
    if k is not None and k.action_kind is kind:
        if k.retry is not None and kind is ActionKind.RETRY:
            return Action(
                kind, k.action_summary, schedule_from(k.retry, now), k.retry.after_schedule
            )
        return Action(kind, k.action_summary)
    if kind is ActionKind.RETRY:
        return Action(
            kind,
            words.action_summary(decision, reason, code.code if code else None, action),
            schedule_from(RFC5321_RETRY, now),
            RFC5321_RETRY.after_schedule,
        )
    return Action(kind, words.action_summary(decision, reason, code.code if code else None, action))


@dataclass(frozen=True, slots=True)
class Assessment:
    """The decision part of an explanation, without the words (what a batch record needs).

    Attributes:
        code: The enhanced code's registry entry, if any.
        severity: Soft, hard or info; ``None`` without a code.
        reason: Why the recipient bounced.
        decision: What to do with the address.
        retry_at: For ``retry``: the concrete retry instants (ISO 8601 UTC).
    """

    code: StatusCode | None
    severity: Severity | None
    reason: Reason
    decision: Decision
    retry_at: tuple[str, ...] = ()


def assess(parsed: ParsedBounce, *, now: datetime | None = None) -> Assessment:
    """Reason, decision and retry times of a parsed bounce; the same values
    :func:`explain_parsed` gives, without building any sentence."""
    if not parsed.found:
        return Assessment(None, None, Reason.UNKNOWN, Decision.KEEP)
    code = lookup(parsed.enhanced) if parsed.enhanced else None
    basic = lookup_basic(parsed.basic) if parsed.basic is not None else None
    severity = code.severity if code else (basic.severity if basic else None)
    reason = classify(code.code if code else None, parsed.basic, parsed.text)
    klass = code.klass if code else (parsed.basic // 100 if parsed.basic else None)
    decision = decide(klass, reason, parsed.action, subject=code.subject if code else None)
    retry_at: tuple[str, ...] = ()
    if decision is Decision.RETRY:
        k = knowledge.get(code.code) if code else None
        plan = k.retry if k is not None and k.retry is not None else RFC5321_RETRY
        if k is not None and k.action_kind is not ActionKind.RETRY:
            plan = RFC5321_RETRY
        retry_at = tuple(a.at for a in schedule_from(plan, aware_now(now)))
    return Assessment(code, severity, reason, decision, retry_at)


def explain_parsed(parsed: ParsedBounce, *, now: datetime | None = None) -> Explanation:
    """Explain an already parsed bounce (see :func:`explain`)."""
    now = aware_now(now)
    if not parsed.found:
        return Explanation(
            found=False,
            bounce=parsed,
            code=None,
            basic=None,
            knowledge=None,
            severity=None,
            summary=words.NOT_FOUND,
            generated_at=iso(now),
        )
    code = lookup(parsed.enhanced) if parsed.enhanced else None
    basic = lookup_basic(parsed.basic) if parsed.basic is not None else None
    k = knowledge.get(code.code) if code else None
    severity = code.severity if code else (basic.severity if basic else None)
    reason = classify(code.code if code else None, parsed.basic, parsed.text)
    klass = code.klass if code else (parsed.basic // 100 if parsed.basic else None)
    decision = decide(klass, reason, parsed.action, subject=code.subject if code else None)
    notes = list(parsed.notes)
    if code is not None and code.note:
        notes.append(code.note)
    if code is not None and not code.class_allowed:
        notes.append(words.note_class_not_allowed(code))
    notes.extend(words.vendor_notes(code.code if code else None, parsed.text))
    if parsed.action == "failed" and klass == 4:
        notes.append(words.note_gave_up(code.code if code else str(parsed.basic)))
    summary = words.summary(parsed, code, basic, k, reason)
    return Explanation(
        found=True,
        bounce=parsed,
        code=code,
        basic=basic,
        knowledge=k,
        severity=severity,
        summary=summary,
        matched_causes=_matched(code.code, parsed.text) if code else (),
        action=_action_for(decision, reason, code, k, parsed.action, now),
        notes=tuple(dict.fromkeys(notes)),
        generated_at=iso(now),
        reason=reason,
        decision=decision,
    )


def explain(text: str | bytes, *, now: datetime | None = None) -> Explanation:
    """Explain a bounce line or DSN from the registry and the seed knowledge.

    Args:
        text: The bounce (first :data:`MAX_INPUT` characters are read).
        now: The instant retry times are counted from (default: now, UTC).

    Returns:
        An :class:`Explanation`; ``found`` is False when the text holds no status code
        and no phrase a code can be inferred from.
    """
    return explain_parsed(parse_bounce(text), now=now)


# --------------------------------------------------------------------- confirming


def _codes_seen(report: ProbeReport) -> tuple[set[str], list[str]]:
    diag = report.diagnosis
    if diag is None:
        from .engine import diagnose

        diag = diagnose(report)
    seen: set[str] = set()
    for f in diag.findings:
        if f.code:
            seen.add(f.code)
        seen.update(f.neighbours)
    return seen, [f.rule for f in diag.findings]


def _same_condition(code: str, seen: Sequence[str]) -> bool:
    """Same subject and detail in either class (4.4.2 ~ 5.4.2: the same condition,
    transient or permanent)."""
    tail = code.split(".", 1)[1]
    return any(s.split(".", 1)[1] == tail for s in seen)


def confirm(expl: Explanation, report: ProbeReport) -> Confirmation:
    """Compare a bounce with a probe of its recipient's domain."""
    from .engine import diagnose

    diag = report.diagnosis or diagnose(report)
    verdict, primary = diag.verdict, diag.primary
    code = expl.code.code if expl.code else None
    if not expl.found:
        return Confirmation(
            ConfirmStatus.NOT_CHECKABLE, "No status code to compare.", verdict, primary
        )
    seen, rules_ = _codes_seen(report)
    if code == "5.1.10" or report.resolution.kind is ResolutionKind.NULL_MX:
        if code == "5.1.10" and report.resolution.kind is ResolutionKind.NULL_MX:
            return Confirmation(
                ConfirmStatus.CONFIRMED,
                "Confirmed: the domain publishes a null MX now.",
                verdict,
                primary,
            )
        if report.resolution.kind is ResolutionKind.NULL_MX:
            return Confirmation(
                ConfirmStatus.DIFFERENT,
                "The domain now publishes a null MX: it accepts no mail at all (5.1.10).",
                verdict,
                primary,
            )
    connection_level = (expl.code is not None and expl.code.subject in (3, 4)) or (
        code is None and expl.basic is not None and expl.basic.code in (421, 554)
    )
    if code in ("5.1.2", "5.1.10"):
        connection_level = True
    if not connection_level:
        what = code or (str(expl.basic.code) if expl.basic else "this")
        return Confirmation(
            ConfirmStatus.NOT_CHECKABLE,
            f"A connection-level probe cannot check {what}: "
            "it stops at EHLO/STARTTLS, and this condition is decided later (at MAIL, RCPT "
            f"or DATA) or by policy. The probe's verdict for the domain: {verdict.value}.",
            verdict,
            primary,
        )
    if verdict is Verdict.UNKNOWN:
        return Confirmation(
            ConfirmStatus.NOT_CHECKABLE,
            "The probe verified nothing (no nameserver answered, or no route was probed), "
            "so it can neither confirm nor refute the bounce.",
            verdict,
            primary,
        )
    if "own-port-blocked" in rules_:
        return Confirmation(
            ConfirmStatus.NOT_CHECKABLE,
            "Port 25 times out on every MX here while other ports connect: this network "
            "probably blocks outbound port 25, so the probe cannot confirm or refute the "
            "bounce from here (probe another domain's port 25 to be sure).",
            verdict,
            primary,
        )
    if code is not None and (code in seen or _same_condition(code, sorted(seen))):
        exact = code in seen
        return Confirmation(
            ConfirmStatus.CONFIRMED,
            f"Confirmed: the probe sees {'the same' if exact else 'the same condition as'} "
            f"{code} now (verdict {verdict.value}, leading code {primary or 'none'}, "
            f"persistence {diag.persistence.value})."
            + (
                " But another route delivers now: MTAs that fall back to it would not "
                "bounce, so the bounce may be stale or from a sender that did not fall back."
                if verdict is Verdict.DEGRADED
                and any(f.rule == "primary-down-secondary-ok" for f in diag.findings)
                else ""
            ),
            verdict,
            primary,
        )
    if code is None and verdict in (Verdict.FAILED, Verdict.DEGRADED):
        return Confirmation(
            ConfirmStatus.CONFIRMED,
            f"The probe sees a problem too (verdict {verdict.value}, leading code "
            f"{primary or 'none'}).",
            verdict,
            primary,
        )
    if verdict is Verdict.HEALTHY:
        soft = expl.severity is Severity.SOFT
        return Confirmation(
            ConfirmStatus.NOT_REPRODUCED,
            (
                "Not reproduced: every route works now; consistent with a transient "
                "failure that has cleared, so a retry will likely succeed."
                if soft
                else "Not reproduced: every route works from here now. The bounce may be "
                "stale, specific to the sending host or its IP address, or caused on the "
                "sending MTA's path; re-check before suppressing the address."
            ),
            verdict,
            primary,
        )
    return Confirmation(
        ConfirmStatus.DIFFERENT,
        f"The probe sees a problem, but a different one: verdict {verdict.value}, "
        f"leading code {primary or 'none'} (the bounce said {code}).",
        verdict,
        primary,
    )
