"""Server reply text -> typed values, read once where the reply is received.

Regular expressions over text from outside (the probed servers' replies) only. What
they find becomes a value on the observation (:attr:`SmtpReply.hint`,
:attr:`RouteResult.greeting_name`, :attr:`RouteResult.ehlo_name`); no later stage
reads the text for these again.
"""

from __future__ import annotations

import re

from ..model import ReplyHint

__all__ = ["MAX_HOST_NAME", "host_name_of", "reply_hint"]

#: Longest host name kept (RFC 1035 2.3.4: 253 characters in text form).
MAX_HOST_NAME = 253

# Greylisting words as the common implementations write them: postgrey ("Greylisted,
# see https://postgrey.schweikert.ch/..."), Postfix postscreen and policyd-weight
# ("greylisted"), milter-greylist ("Greylisting in action, please come back later"),
# Exim's greylistd, rspamd ("Try again later" with "greylist"), "graylist" spellings.
_GREYLIST_RE = re.compile(r"gr[ae]y[ -]?list|postgrey", re.I)
# A blocklist naming the client: Postfix "Client host [198.51.100.1] blocked using
# zen.spamhaus.org", Exim "... is listed at ...", "RBL", "DNSBL", the big lists' names
# ("not listed" says the opposite).
_LISTED_RE = re.compile(
    r"(?<!not )\blisted\b|blocked using|black ?list|block ?list|\brbl\b|\bdnsbl\b|spamhaus|"
    r"spamcop|barracuda|sorbs|\bpoor reputation\b",
    re.I,
)
# RFC 1035 2.3.1 labels (allowing "_" seen in the wild), or an address literal
# (RFC 5321 4.1.3): "[198.51.100.1]", "[IPv6:2001:db8::1]".
_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
_HOST_RE = re.compile(rf"(?:{_LABEL}\.)*{_LABEL}\.?")
_LITERAL_RE = re.compile(r"\[(?:IPv6:)?[0-9A-Fa-f:.]{2,45}\]")


def reply_hint(code: int, text: str) -> ReplyHint | None:
    """What a negative reply's text says (``None`` for 2xx/3xx and for other texts).

    Greylisting is only a 450/451 (RFC 5321 4.2.3: a transient local problem; RFC 6647
    3.2 has greylisting answer with a 4xx); a blocklist listing any 4xx/5xx.
    """
    if code < 400:
        return None
    if code in (450, 451) and _GREYLIST_RE.search(text):
        return ReplyHint.GREYLIST
    if _LISTED_RE.search(text):
        return ReplyHint.LISTED
    return None


def host_name_of(text: str | None) -> str | None:
    """The host name a greeting or EHLO reply states: the first word of its first
    line (RFC 5321 4.2: the reply text without the code), lower case, no final dot.

    ``None`` when the word is no host name nor address literal (a banner that starts
    with "ESMTP", "***" or nothing), or is longer than :data:`MAX_HOST_NAME`.
    """
    if not text:
        return None
    first = text.split("\n", 1)[0].strip()
    # The enhanced code some servers put first ("2.0.0 mx.example.org ...") is not a name.
    words = first.split(None, 2)
    if len(words) >= 2 and re.fullmatch(r"[245]\.\d{1,3}\.\d{1,3}", words[0]):
        words = words[1:]
    if not words:
        return None
    word = words[0]
    if len(word) > MAX_HOST_NAME + 1:
        return None
    if _LITERAL_RE.fullmatch(word):
        return word
    if not _HOST_RE.fullmatch(word) or word.isdigit():
        return None
    name = word.rstrip(".").lower()
    # A single word that is protocol talk rather than a name ("ESMTP", "SMTP", "Service").
    if "." not in name and name in {"esmtp", "smtp", "service", "welcome", "hello", "ready"}:
        return None
    return name or None
