"""Why a recipient bounced and what to do about the address: a fixed reason vocabulary,
phrase inference for bounces without a code, and one decision table.

Pure: no I/O, no English sentences (those live in :mod:`smtpdiag.narrate.bounce`).

Invariants:

- every :class:`Reason` is reachable from :func:`classify` and has a row in
  :data:`_DECISIONS` (a test checks both);
- "suppress" only for reasons that say something about the address itself (it does
  not exist, is disabled, its domain accepts no mail). Message size, loops, expiry,
  policy and content say nothing about the address: "fix", never "suppress";
- a DSN whose ``Action:`` is ``failed`` is never "retry": the sending MTA gave up.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, NamedTuple

from ..diagnosis.codes import parse_code
from ..lazydata import load_json
from ..lazyre import LazyPattern
from ..model.bounce import Decision, Notice, Reason

__all__ = [
    "PHRASES",
    "CodeSource",
    "Confidence",
    "Decision",
    "Inference",
    "Notice",
    "Reason",
    "classify",
    "decide",
    "infer",
    "notice_of",
]


class CodeSource(StrEnum):
    """Where the code of a record came from (most trusted first)."""

    DIAGNOSTIC = "diagnostic-code"  #: the remote server's reply (DSN Diagnostic-Code, log reply)
    STATUS = "status-field"  #: the DSN Status field (or Postfix ``dsn=``)
    TEXT = "body-text"  #: the human-readable text of the bounce
    INFERRED = "inferred"  #: no code: inferred from a phrase (see ``matched_phrase``)
    NONE = "none"  #: nothing found


class Confidence(StrEnum):
    """How far the code can be trusted."""

    HIGH = "high"  #: a code from the DSN fields or the server's reply
    MEDIUM = "medium"  #: a code read from free text
    LOW = "low"  #: inferred from words; no code was given


@dataclass(frozen=True, slots=True)
class Inference:
    """A code inferred from a phrase.

    Attributes:
        code: The enhanced code the phrase stands for.
        reason: The reason it stands for.
        phrase: The text that matched (as found, at most 80 characters).
        language: ISO 639-1 code of the phrase's language.
    """

    code: str
    reason: Reason
    phrase: str
    language: str


class _Tables(NamedTuple):
    """The phrase and notice tables of ``phrases.json``, read on first use."""

    #: (language, pattern, code, reason): :data:`PHRASES`.
    phrases: tuple[tuple[str, str, str, Reason], ...]
    #: (language, pattern, notice): :data:`NOTICES`.
    notices: tuple[tuple[str, str, Notice], ...]
    #: The phrase rows with their patterns compiled on first use.
    compiled: tuple[tuple[str, LazyPattern, str, Reason], ...]
    #: Per phrase row: literals one of which any match contains.
    phrase_needs: tuple[tuple[str, ...], ...]
    #: (language, pattern, code, reason, needs) per row, and the rows an ASCII text
    #: can match (the others need a non-ASCII literal).
    rows: tuple[tuple[str, LazyPattern, str, Reason, tuple[str, ...]], ...]
    ascii_rows: tuple[tuple[str, LazyPattern, str, Reason, tuple[str, ...]], ...]
    #: (pattern, notice, needs) per notice row.
    notice_rows: tuple[tuple[LazyPattern, Notice, tuple[str, ...]], ...]


def _load() -> _Tables:
    data = load_json(__file__, "phrases.json")
    rows = [r for section in data["sections"] for r in section["phrases"]]
    phrases = tuple((r["lang"], r["pattern"], r["code"], Reason[r["reason"]]) for r in rows)
    notices = tuple((r["lang"], r["pattern"], Notice(r["notice"])) for r in data["notices"])
    # Patterns are lower case and run over the lower-cased text without re.IGNORECASE:
    # the regex engine then scans for each pattern's literal prefix, several times faster.
    compiled = tuple((lang, LazyPattern(pat), code, reason) for lang, pat, code, reason in phrases)
    needs = tuple(tuple(r["needs"]) for r in rows)
    full = tuple((*c, n) for c, n in zip(compiled, needs, strict=True))
    return _Tables(
        phrases,
        notices,
        compiled,
        needs,
        full,
        tuple(r for r in full if not r[4] or any(n.isascii() for n in r[4])),
        tuple(
            (LazyPattern(r["pattern"]), Notice(r["notice"]), tuple(r["needs"]))
            for r in data["notices"]
        ),
    )


_LOADED: list[_Tables] = []


def _tables() -> _Tables:
    """The tables, read from ``phrases.json`` the first time they are needed (the file
    holds each row's source and example too: a coded bounce never reads it)."""
    if not _LOADED:
        _LOADED.append(_load())
    return _LOADED[0]


if TYPE_CHECKING:
    # Read on first use (see ``__getattr__``).
    PHRASES: tuple[tuple[str, str, str, Reason], ...]
    NOTICES: tuple[tuple[str, str, Notice], ...]

_LAZY = {"PHRASES": "phrases", "NOTICES": "notices", "_COMPILED": "compiled"}
_LAZY["_PHRASE_NEEDS"] = "phrase_needs"


def __getattr__(name: str) -> object:
    """``PHRASES`` (language, pattern, code, reason) and ``NOTICES`` (language, pattern,
    notice), from the data file ``phrases.json`` (each row there also names its source,
    an example and the literals a match needs), read on first use (PEP 562). Order
    matters: the first match wins, so specific notices come before generic ones ("host
    not found, try again" before "host not found"). :func:`infer` makes a code class 4
    when the bounce says it is a delay, class 5 when it says "permanent"."""
    if name in _LAZY:
        return getattr(_tables(), _LAZY[name])
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _absent(needs: tuple[str, ...], lower: str) -> bool:
    """None of the row's literals is in the text: the row cannot match (a row is skipped
    without running, or compiling, its pattern: a substring test costs a small fraction
    of a regular expression search per character)."""
    return bool(needs) and not any(n in lower for n in needs)


# Words that make a no-code notice a delay, not a final failure.
_DELAY_RE = LazyPattern(
    r"\bdelayed\b|will (?:keep )?(?:re)?try|still trying|warning:|verzögert|erneut versuch|"
    r"retard[ée]|retrasad|atrasad|ritardat|vertraagd",
    re.I,
)
# Notices say why in their first lines; the rest is the returned message (and reading
# 1 MiB with every pattern would cost seconds).
_INFER_WINDOW = 16384
# Codes that have no transient form (RFC 3463 lists them class 5 only).
_PERMANENT_ONLY = {"5.1.1", "5.3.4", "5.4.4"}
# Words that make a no-code notice final (the seeds' 5.4.2 and 5.4.3 replies say so).
_PERMANENT_RE = LazyPattern(r"\bpermanent(?:ly)?\b|dauerhaft")


def infer(text: str, *, delayed: bool | None = None) -> Inference | None:
    """Infer a code from the words of a bounce that carries none.

    ``delayed``: the DSN action says ``delayed`` (True) or ``failed`` (False); when
    ``None``, words like "will retry" decide. A delay turns the class into 4.
    """
    text = text[:_INFER_WINDOW]
    lower = text.lower()
    tables = _tables()
    rows = tables.ascii_rows if lower.isascii() else tables.rows
    for lang, rx, code, reason, needs in rows:
        for need in needs:  # a loop, not any(): this runs for every row of every notice
            if need in lower:
                break
        else:
            if needs:
                continue
        m = rx.search(lower)
        if m is None:
            continue
        # The phrase as written (lower() keeps the length of all but a few letters).
        phrase = text[m.start() : m.end()] if len(lower) == len(text) else m.group(0)
        transient = _DELAY_RE.search(lower) is not None if delayed is None else delayed
        permanent = _PERMANENT_RE.search(lower) is not None
        if code[0] == "5" and transient and not permanent and code not in _PERMANENT_ONLY:
            code = "4" + code[1:]
        elif code[0] == "4" and permanent and delayed is not True:
            code = "5" + code[1:]  # "... failed permanently": the seed's class 5 form
        return Inference(code, reason, " ".join(phrase.split())[:80], lang)
    return None


def notice_of(text: str) -> Notice | None:
    """What the words of a notification without DSN ``Action`` say it is: a delay, a
    delivery, a relay or an expansion; ``None`` when they name none of them (a failure,
    or nothing)."""
    lower = text[:_INFER_WINDOW].lower()
    for rx, notice, needs in _tables().notice_rows:
        for need in needs:  # a loop, not any(): see infer; every row has needs (a test checks)
            if need in lower:
                if rx.search(lower) is not None:
                    return notice
                break
    return None


# ---------------------------------------------------------------- classification

# Words of a reply that name the reason better than its code.
_SPAM_WORDS = LazyPattern(
    r"\bspam\b|junk|black ?list|block ?list|\brbl\b|spamhaus|listed (?:at|on|in)|reputation",
    re.I,
)
# ASCII word edges: "SPF認証" (Japanese) names SPF too, and \b sees no edge there.
_AUTH_WORDS = LazyPattern(r"(?<![a-z0-9])(?:spf|dkim|dmarc|ptr)(?![a-z0-9])|reverse dns", re.I)
_RATE_WORDS = LazyPattern(
    r"rate limit|too many (?:messages|connections|recipients)|throttl|slow down|"
    r"try again later|unexpected volume|temporarily deferred|user complaints|greylist",
    re.I,
)
# A reply that names TLS: the reason is ``tls`` where the code allows it (X.4.2, X.7.x).
_TLS_WORDS = LazyPattern(r"\b(?:tls|ssl|starttls)\b", re.I)
_USER_WORDS = LazyPattern(
    r"recipient address rejected: access denied|user unknown|unknown user|no such user|"
    r"does not exist|mailbox unavailable|recipient not found|unknown recipient",
    re.I,
)
_TEXT_REASONS: tuple[tuple[LazyPattern, Reason], ...] = (
    (_SPAM_WORDS, Reason.SPAM),
    (_AUTH_WORDS, Reason.AUTH),
    (_RATE_WORDS, Reason.RATE_LIMITED),
)
_ANY = range(1000)  # every detail (1*3digit)


class _ReasonRow(NamedTuple):
    """One row of :data:`_REASONS`: a code's subject and details, optionally its class and
    words the reply must hold, and the reason it gives."""

    subject: int
    details: range | frozenset[int]
    reason: Reason
    words: LazyPattern | None = None
    klass: int | None = None

    def fits(self, klass: int, subject: int, detail: int, text: str) -> bool:
        return (
            subject == self.subject
            and detail in self.details
            and (self.klass is None or klass == self.klass)
            and (self.words is None or self.words.search(text) is not None)
        )


def _row(
    subject: int,
    details: range | set[int],
    reason: Reason,
    words: LazyPattern | None = None,
    klass: int | None = None,
) -> _ReasonRow:
    return _ReasonRow(
        subject, details if isinstance(details, range) else frozenset(details), reason, words, klass
    )


# code (subject, detail) -> reason; the first fitting row wins. Subjects 0 and 8-9 have no
# rows: their reason comes from the reply's words (:func:`_from_words`).
_REASONS: tuple[_ReasonRow, ...] = (
    _row(7, {28}, Reason.RATE_LIMITED),  # "mail flood": too many connections or messages
    *(_row(7, _ANY, reason, words) for words, reason in _TEXT_REASONS),
    # X.1 addressing
    _row(1, {1, 3}, Reason.USER_UNKNOWN),
    _row(1, {6}, Reason.MAILBOX_DISABLED),
    _row(1, {2, 10}, Reason.DOMAIN),
    _row(1, _ANY, Reason.USER_UNKNOWN, _USER_WORDS),
    _row(1, _ANY, Reason.OTHER),
    # X.2 mailbox
    _row(2, {1}, Reason.MAILBOX_DISABLED),
    _row(2, {2}, Reason.MAILBOX_FULL),
    _row(2, {3}, Reason.TOO_BIG),
    _row(2, _ANY, Reason.USER_UNKNOWN, _USER_WORDS),
    _row(2, _ANY, Reason.OTHER),
    # X.3 mail system
    _row(3, {4}, Reason.TOO_BIG),
    _row(3, _ANY, Reason.SYSTEM),
    # X.4 network and routing
    _row(4, {1}, Reason.USER_UNKNOWN, _USER_WORDS),  # Exchange Online's directory edge block
    _row(4, {7}, Reason.EXPIRED),
    _row(4, range(300, 400), Reason.EXPIRED),  # Exchange 5.4.3xx: "message expired"
    _row(4, {6, 14}, Reason.LOOP),
    # RFC 3463: directory (DNS) server failure; the seed's 5.4.3: routing server failure.
    _row(4, {3}, Reason.DNS, klass=4),
    _row(4, {3}, Reason.ROUTING),
    _row(4, {4}, Reason.DOMAIN),
    _row(4, {2}, Reason.TLS, _TLS_WORDS),  # seed 4.4.2 "TLS handshake failed", 5.4.2 "mismatch"
    _row(4, {1, 2}, Reason.CONNECTION),
    _row(4, _ANY, Reason.ROUTING),
    # X.5 protocol, X.6 content
    _row(5, _ANY, Reason.PROTOCOL),
    _row(6, _ANY, Reason.CONTENT),
    # X.7 security and policy
    _row(7, {10, 11, 30}, Reason.TLS),
    _row(7, range(20, 27), Reason.AUTH),
    _row(7, {1}, Reason.USER_UNKNOWN, _USER_WORDS),
    _row(7, _ANY, Reason.TLS, _TLS_WORDS),  # "4.7.5 TLS is required", "4.7.0 TLS not available"
    _row(7, _ANY, Reason.BLOCKED),
)


def _from_words(text: str) -> Reason | None:
    """The reason the reply's words name: spam, authentication, rate, else a phrase."""
    for rx, reason in _TEXT_REASONS:
        if rx.search(text):
            return reason
    inferred = infer(text)
    return inferred.reason if inferred is not None else None


def _without_enhanced(basic: int | None, text: str) -> Reason:
    """A basic code alone: a phrase names the reason, else 552 is a full mailbox."""
    if basic is None:
        return Reason.UNKNOWN
    inferred = infer(text)
    if inferred is not None:
        return inferred.reason
    return Reason.MAILBOX_FULL if basic == 552 else Reason.OTHER


def classify(code: str | None, basic: int | None, text: str) -> Reason:
    """The reason for a code (and the reply text that came with it)."""
    parsed = parse_code(code) if code else None
    if parsed is None:
        return _without_enhanced(basic, text)
    klass, subject, detail = parsed
    if detail == 0 and subject in (0, 5):
        # X.0.0 and X.5.0 say nothing specific ("550 5.5.0 mailbox unavailable"): the
        # reply's words are the better evidence.
        inferred = infer(text)
        if inferred is not None:
            return inferred.reason
    row = next((r for r in _REASONS if r.fits(klass, subject, detail, text)), None)
    if row is not None:
        return row.reason
    return _from_words(text) or Reason.OTHER


# reason -> decision for a permanent (class 5) bounce; class 4 retries unless the MTA gave up.
_DECISIONS: dict[Reason, Decision] = {
    Reason.USER_UNKNOWN: Decision.SUPPRESS,
    Reason.MAILBOX_DISABLED: Decision.SUPPRESS,
    Reason.DOMAIN: Decision.SUPPRESS,
    Reason.MAILBOX_FULL: Decision.KEEP,  # often emptied later: not a reason to drop the address
    Reason.BLOCKED: Decision.FIX,
    Reason.SPAM: Decision.FIX,
    Reason.AUTH: Decision.FIX,
    Reason.RATE_LIMITED: Decision.FIX,  # a permanent refusal for volume: slow down first
    Reason.EXPIRED: Decision.FIX,
    Reason.CONNECTION: Decision.SUPPRESS,  # seed 5.4.2: the host will not take mail
    Reason.ROUTING: Decision.SUPPRESS,  # seed 5.4.3: the routing server failed for good
    Reason.DNS: Decision.SUPPRESS,
    Reason.TLS: Decision.FIX,
    Reason.TOO_BIG: Decision.FIX,
    Reason.LOOP: Decision.FIX,
    Reason.CONTENT: Decision.FIX,
    Reason.PROTOCOL: Decision.FIX,
    Reason.SYSTEM: Decision.FIX,
    Reason.OTHER: Decision.SUPPRESS,
    Reason.UNKNOWN: Decision.KEEP,
}


def decide(
    klass: int | None,
    reason: Reason,
    action: str | None,
    *,
    subject: int | None = None,
    notice: Notice = Notice.FAILED,
) -> Decision:
    """The decision for the address.

    Args:
        klass: The code's class (2, 4, 5) or ``None`` when there is no code.
        reason: From :func:`classify`.
        action: The DSN ``Action:`` (``failed``, ``delayed`` ...) if any.
        subject: The code's subject, if any: a permanent TLS failure under 5.4.x is the
            seed's 5.4.2 (never retry, suppress), one under 5.7.x is policy (fix).
        notice: What the notification is: a delivery, relay or expansion is "keep"; a
            delay is never "suppress" (the sending MTA is still trying).
    """
    if not notice.failure or klass is None or reason is Reason.UNKNOWN or klass == 2:
        return Decision.KEEP
    if notice is Notice.DELAYED:
        return Decision.RETRY
    gave_up = action == "failed"
    if klass == 4:
        if not gave_up:
            return Decision.RETRY
        # The sending MTA gave up on a transient condition: nothing says the address
        # is bad, and retrying the same way already failed for days.
        return Decision.FIX
    if reason is Reason.TLS and subject == 4:
        # Seed 5.4.2 "Permanent TLS configuration mismatch": the receiving server's TLS
        # will not change by itself; the seed says remove the address at once.
        return Decision.SUPPRESS
    return _DECISIONS[reason]
