"""Find the status codes, the recipient and the remote host in the free text of a bounce.

The text comes from outside (a server's reply, a bounce's human-readable part), so this
is where regular expressions belong. A status code is preferred in this order: a basic
code followed by an enhanced one (the server's reply), else a lone enhanced code (the
most specific of a nested reply), else a basic code named by a vendor's key
(``ERROR_CODE :550``), else a basic code alone at the start of a phrase. Among codes of
the same form the first one wins unless a later one is more specific (X.0.0 or X.s.0
say less than a code with a detail). Software versions (``exim 4.96``, ``mta-5.5.0-3``)
and a lone ``2.x.y`` are not codes.
"""

from __future__ import annotations

import re
from functools import lru_cache
from itertools import islice
from typing import NamedTuple

from ..diagnosis.codes import parse_code
from ..lazyre import LazyPattern
from .dsn import (
    EMAIL_RE,
    FIELD_LIMIT,
    HEADER_LINE_RE,
    MAX_ADDRESS,
    MAX_LINES,
    MAX_MATCHES,
    text_blocks,
)

__all__ = [
    "HOST_RE",
    "Scan",
    "canon",
    "generic",
    "host_in",
    "own_reply",
    "recipient_from_text",
    "scan",
]

# RFC 3463 section 2: class "." subject "." detail, subject and detail 1*3digit. Not
# preceded by a digit, dot, letter or hyphen (versions: "mta-5.5.0", "v5.1.1"), not
# followed by a dot-digit (IP addresses) or by "-word" ("4.1.8-GA", "5.5.0-3").
_ENH = r"[245]\.\d{1,3}\.\d{1,3}"
_ENH_RE = LazyPattern(rf"(?<![\w.-])#?({_ENH})(?!\.?\d|-\w|[A-Za-z_])")
# A basic code followed by an enhanced one: "451 4.4.2", "550-5.1.1", "550 #5.1.1",
# "550: 5.2.2", and nested replies quoted in another: "550-'5.7.1 ...".
_PAIR_RE = LazyPattern(rf"(?<![\w.-])([245][0-5]\d)[ :-]{{1,3}}['\"(]?#?({_ENH})(?!\.?\d|-\w)")
# A basic code alone at the start of a line or after "said:", "smtp;" ...: "550 No such user".
_BASIC_RE = LazyPattern(r"(?:^|(?<=[\s:;(\[\"'<>]))([245][0-5]\d)(?=[ ,-]|$)", re.M)
# Vendor forms naming the basic code: "ERROR_CODE :550,", "ResponseCode 421,".
_KEYED_BASIC_RE = LazyPattern(
    r"(?:error[_ ]code|response ?code|reply ?code|smtp ?code|status ?code)\s{0,3}[:=]?\s{0,3}"
    r"([245][0-5]\d)\b",
    re.I,
)
# Text before a dotted number that makes it a software version, not a status code.
_VERSION_BEFORE_RE = LazyPattern(
    r"(?:exim|postfix|sendmail|version|release|fml|mos|build|ver\.?|v)\s*$", re.I
)
#: "host mx.example.org[198.51.100.1]", "connect to mx.example.org[...]".
HOST_RE = LazyPattern(
    r"(?:host|connect to)\s+([A-Za-z0-9][A-Za-z0-9.-]{0,252})\s{0,3}\[([0-9A-Fa-f:.]{2,45})\]",
    re.I,
)
# Transcript lines naming the sender, not the recipient.
_SENDER_LINE_RE = LazyPattern(r"mail from:|envelope-from|return-path", re.I)
# Words right before an address that make it the recipient ("Delivery to a@b", "<a@b>")
# or the sender ("Message from a@b to ...").
_TO_BEFORE_RE = LazyPattern(r"(?:\bto:?\s{1,3}<?|<)$", re.I)
_FROM_BEFORE_RE = LazyPattern(r"\bfrom:?\s{1,3}<?$", re.I)


class Scan(NamedTuple):
    """The codes found in a text.

    Attributes:
        basic: The chosen basic reply code, if any.
        enhanced: The chosen enhanced code (canonical form), if any.
        line: The reply the chosen code came from, with its continuation lines.
        codes: Every distinct enhanced code seen, in order.
    """

    basic: int | None = None
    enhanced: str | None = None
    line: str = ""
    codes: tuple[str, ...] = ()

    @property
    def found(self) -> bool:
        """A basic or an enhanced code was found."""
        return self.basic is not None or self.enhanced is not None


# A candidate: (basic code or None, enhanced code or None, position in the text).
_Hit = tuple[int | None, str | None, int]


def generic(code: str | None) -> bool:
    """X.0.0 or X.s.0: says less than a code with a detail."""
    parsed = parse_code(code) if code else None
    return parsed is None or parsed[2] == 0


def canon(code: str) -> str | None:
    """``"5.01.001"`` -> ``"5.1.1"``; ``None`` unless an RFC 3463 code."""
    parsed = parse_code(code)
    return None if parsed is None else "{}.{}.{}".format(*parsed)


def _prefer(best: _Hit | None, new: _Hit | None) -> _Hit | None:
    """The first hit wins unless the new one is more specific."""
    if best is None:
        return new
    if new is not None and generic(best[1]) and not generic(new[1]):
        return new
    return best


def _is_version(text: str, start: int) -> bool:
    return bool(_VERSION_BEFORE_RE.search(text[max(0, start - 12) : start]))


def _pairs(text: str, seen: list[str]) -> _Hit | None:
    """The best "basic enhanced" pair (failures only); every enhanced code goes to ``seen``."""
    best: _Hit | None = None
    for m in islice(_PAIR_RE.finditer(text), MAX_MATCHES):
        basic, enh = int(m.group(1)), m.group(2)
        seen.append(enh)
        if enh[0] in "45":
            best = _prefer(best, (basic, enh, m.start()))
    return best


def _lone(text: str, seen: list[str]) -> _Hit | None:
    """The best enhanced code without its basic code; versions are skipped."""
    best: _Hit | None = None
    for m in islice(_ENH_RE.finditer(text), MAX_MATCHES):
        enh = m.group(1)
        if _is_version(text, m.start()):
            continue
        if enh[0] == "2" and enh not in seen:
            continue  # a lone "2.x.y" is far more often a version than a status
        seen.append(enh)
        if enh[0] in "45":
            best = _prefer(best, (None, enh, m.start()))
    return best


def _basic_only(text: str) -> _Hit | None:
    """A failure's basic code named by a vendor key, else the first one standing alone."""
    km = _KEYED_BASIC_RE.search(text)
    if km is not None and km.group(1)[0] in "45":
        return int(km.group(1)), None, km.start(1)
    for m in islice(_BASIC_RE.finditer(text), MAX_MATCHES):
        if m.group(1)[0] in "45":
            return int(m.group(1)), None, m.start()
    return None


def _line_at(text: str, pos: int) -> tuple[int, int, str]:
    """(start, end or -1, text) of the line holding ``pos``."""
    start = text.rfind("\n", 0, pos) + 1
    end = text.find("\n", pos)
    return start, end, text[start : end if end >= 0 else len(text)]


def _basic_before(
    text: str, enh: str, line_start: int, pos: int, line: str
) -> tuple[int | None, str]:
    """A lone enhanced code's basic code earlier on its line or on the line before
    ("550 Unrouteable address (#5.1.1)"; qmail's "said: 550 ..." with "(#5.5.0)" on the
    next line), and the line grown to include it."""
    prev_start = text.rfind("\n", 0, max(0, line_start - 1)) + 1 if line_start else 0
    found = [b for b in _BASIC_RE.finditer(text, prev_start, pos) if b.group(1)[0] == enh[0]]
    if not found:
        return None, line
    if found[-1].start() < line_start:
        line = text[prev_start:line_start].strip() + " " + line.strip()
    return int(found[-1].group(1)), line


def _with_continuations(text: str, line: str, line_end: int, basic: int | None) -> str:
    """Add folded continuation lines (Postfix indents them; multi-line replies repeat
    the basic code: ``550-5.1.1 ...``) so the whole reply text is kept."""
    pos = line_end
    for _ in range(10):
        if pos < 0 or len(line) >= FIELD_LIMIT:
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


# Cached: a DSN's recipients share one human-readable text, and each of its (up to 64)
# groups reads it; one pass per message, not one per group.
@lru_cache(maxsize=8)
def scan(text: str) -> Scan:
    """The codes in free text, in the order of preference of the module docstring."""
    return _scan(text)


def _scan(text: str) -> Scan:
    seen: list[str] = []
    best = _prefer(_pairs(text, seen), _lone(text, seen)) or _basic_only(text)
    codes = tuple(dict.fromkeys(c for c in (canon(c) for c in seen) if c))
    if best is None:
        return Scan(codes=codes)
    basic, enh, pos = best
    line_start, line_end, line = _line_at(text, pos)
    if basic is None and enh is not None:
        basic, line = _basic_before(text, enh, line_start, pos, line)
    line = _with_continuations(text, line, line_end, basic)
    return Scan(basic, canon(enh) if enh else None, line, codes)


@lru_cache(maxsize=8)
def _blocks_of(human: str) -> tuple[tuple[str, str], ...]:
    """The per-recipient paragraphs of a text, each with its lower-cased copy, once per
    message (cached: see :func:`scan`)."""
    return tuple((b, b.lower()) for b in text_blocks(human))


@lru_cache(maxsize=8)
def _lower(human: str) -> str:
    return human.lower()


def _is_reply(found: Scan) -> bool:
    """A failure reply: a basic code with its enhanced code (``550 5.1.1``)."""
    return found.basic is not None and found.enhanced is not None and found.enhanced[0] in "45"


def _transcript_reply(scope: str, recipient: str | None) -> Scan | None:
    """The last failure reply of an SMTP transcript (``<<< 550 5.1.1 ...``) about
    ``recipient``: one naming it, else one answering a ``>>> RCPT TO`` that names it;
    without a recipient, the last one that is not generic (X.0.0, X.s.0)."""
    who = recipient.lower() if recipient else None
    named: Scan | None = None
    answered: Scan | None = None
    after_rcpt = False
    for line in scope.split("\n", MAX_LINES)[:MAX_LINES]:
        text = line.lstrip()
        if text.startswith(">>>"):
            low = text.lower()
            after_rcpt = "rcpt" in low and (who is None or who in low)
            continue
        if not text.startswith("<<<"):
            continue
        found = _scan(text[3:])
        if not _is_reply(found):
            continue
        if who is not None and who in text.lower():
            named = found
        elif after_rcpt or (who is None and not generic(found.enhanced)):
            answered = found
    return named or answered


def own_reply(human: str, recipient: str | None, others: tuple[str, ...] = ()) -> Scan | None:
    """The receiving server's own reply about ``recipient`` in a bounce's text: in an
    SMTP transcript the last one for the recipient, else the reply (basic and enhanced
    code) of the recipient's paragraph, or of the whole text when it names no other
    recipient of the DSN (``others``). ``None`` when the text holds none, or when it
    cannot tell whose a reply is."""
    scope = human
    if recipient and others:
        # Several recipients: this one's paragraph, if the text has one per recipient.
        blocks = _blocks_of(human)
        if blocks:
            who = recipient.lower()
            scope = next((b for b, lower in blocks if who in lower), "")
        elif any(o.lower() in _lower(human) for o in others):
            return None
    if not scope:
        return None
    if "<<<" in scope:
        # A transcript: only its "<<<" lines are the server's words; the MTA's own
        # summary lines next to them (Sendmail's "550 5.1.1 <a>... User unknown") are not.
        return _transcript_reply(scope, recipient)
    found = scan(scope)
    return found if _is_reply(found) else None


def recipient_from_text(text: str, code_line: str) -> str | None:
    """The failed recipient named in free text: an address on the code's line, else one
    after "to" or in angle brackets, else the first one that is not on a header or
    sender line, not after "from" and not the bounce's own sender. A match longer than
    an address can be (:data:`~.dsn.MAX_ADDRESS`) is none: cut, it would name a domain
    the bounce never named."""
    m = EMAIL_RE.search(code_line)
    if m and len(m.group(0)) <= MAX_ADDRESS:
        return m.group(0).lstrip("'")
    return _recipient_in(text)


@lru_cache(maxsize=8)
def _recipient_in(text: str) -> str | None:
    """:func:`recipient_from_text` without a code line (cached: see :func:`scan`)."""
    first: str | None = None
    skipped_lines: dict[int, bool] = {}  # line start -> a header or sender line
    for m in islice(EMAIL_RE.finditer(text), MAX_MATCHES):
        address = m.group(0).lower()
        if len(address) > MAX_ADDRESS:
            continue
        if "mailer-daemon" in address or "postmaster" in address:
            continue
        start = text.rfind("\n", 0, m.start()) + 1
        if start not in skipped_lines:
            # Once per line: a long line holding many addresses is searched once.
            _start, _end, line = _line_at(text, m.start())
            skipped_lines[start] = bool(HEADER_LINE_RE.match(line) or _SENDER_LINE_RE.search(line))
        if skipped_lines[start]:
            continue
        before = text[max(start, m.start() - 12) : m.start()]
        if _FROM_BEFORE_RE.search(before):
            continue
        if _TO_BEFORE_RE.search(before):
            return m.group(0).lstrip("'")
        first = first or m.group(0).lstrip("'")
    return first


@lru_cache(maxsize=8)
def host_in(text: str) -> tuple[str, str] | None:
    """The first "host name[address]" of ``text`` (cached: see :func:`scan`)."""
    m = HOST_RE.search(text)
    return (m.group(1), m.group(2)) if m else None
