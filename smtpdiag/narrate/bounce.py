"""Every English sentence about bounces: summaries, notes, actions and reason labels.

Parsing (:mod:`smtpdiag.bounces.bounce`) and the decision table
(:mod:`smtpdiag.bounces.reasons`) produce ids and codes; this module alone turns them
into words, so a sentence changes in one place.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Protocol

from ..model import Severity
from ..model.bounce import Decision, Notice, Reason

if TYPE_CHECKING:
    from ..diagnosis.codes import BasicCode, StatusCode
    from ..diagnosis.knowledge import CodeKnowledge
    from ..model.bounce import Limits

__all__ = [
    "DECISION_TITLES",
    "NOTICE_TITLES",
    "NOT_FOUND",
    "REASON_TITLES",
    "action_summary",
    "limits_line",
    "not_found",
    "note_limits",
    "summary",
    "unmatched_format",
    "vendor_notes",
]


class _Parsed(Protocol):
    """What a headline reads of :class:`smtpdiag.bounces.bounce.ParsedBounce` (the
    bounce reader sits above this layer)."""

    @property
    def basic(self) -> int | None: ...
    @property
    def text(self) -> str: ...
    @property
    def recipient(self) -> str | None: ...
    @property
    def action(self) -> str | None: ...
    @property
    def matched_phrase(self) -> str | None: ...
    @property
    def notice(self) -> Notice: ...


NOT_FOUND = (
    "No status code found: the text holds no RFC 3463 enhanced status code (c.s.d), no "
    "SMTP reply code (4yz/5yz) and no phrase a code could be inferred from."
)

#: One label per notice (the ``explain --batch`` summary table, headlines).
NOTICE_TITLES: dict[Notice, str] = {
    Notice.FAILED: "not delivered, the sending MTA gave up",
    Notice.DELAYED: "not delivered yet, the sending MTA keeps trying",
    Notice.DELIVERED: "delivered (not a failure)",
    Notice.RELAYED: "relayed to a system that sends no further notice (not a failure)",
    Notice.EXPANDED: "delivered to an alias or list and expanded (not a failure)",
}


def not_found(notice: Notice, recipient: str | None) -> str:
    """The headline of a notification without any code: a notice that is not a failure
    says what it is, anything else that no code was found."""
    if notice is Notice.FAILED:
        return NOT_FOUND
    out = f"A {notice.value} notice: {NOTICE_TITLES[notice]}; it states no status code."
    return out + (f" Recipient {recipient}." if recipient else "")


#: One label per reason (the ``explain --batch`` summary table, documentation).
REASON_TITLES: dict[Reason, str] = {
    Reason.USER_UNKNOWN: "user unknown",
    Reason.MAILBOX_DISABLED: "mailbox disabled",
    Reason.MAILBOX_FULL: "mailbox full",
    Reason.DOMAIN: "recipient domain does not exist or accepts no mail",
    Reason.BLOCKED: "blocked by policy",
    Reason.SPAM: "spam or blocklist",
    Reason.AUTH: "authentication (SPF, DKIM, DMARC, reverse DNS)",
    Reason.RATE_LIMITED: "rate limited",
    Reason.EXPIRED: "expired in the queue",
    Reason.CONNECTION: "connection failed",
    Reason.ROUTING: "routing",
    Reason.DNS: "DNS lookup failed",
    Reason.TLS: "TLS",
    Reason.TOO_BIG: "message too big",
    Reason.LOOP: "mail loop",
    Reason.CONTENT: "content rejected",
    Reason.PROTOCOL: "SMTP protocol error",
    Reason.SYSTEM: "receiving system",
    Reason.OTHER: "other",
    Reason.UNKNOWN: "unknown (no code, no known phrase)",
}

DECISION_TITLES: dict[Decision, str] = {
    Decision.SUPPRESS: "suppress the address",
    Decision.RETRY: "retry on the schedule",
    Decision.KEEP: "keep the address",
    Decision.FIX: "fix or inspect our side; do not suppress",
}

_ACTIONS: dict[Reason, str] = {
    Reason.USER_UNKNOWN: "The address does not exist: suppress it.",
    Reason.MAILBOX_DISABLED: "The mailbox is disabled or gone: suppress the address.",
    Reason.DOMAIN: "The recipient's domain accepts no mail: suppress the address "
    "(probe the domain first if many addresses of it bounce at once).",
    Reason.MAILBOX_FULL: "The mailbox is full: keep the address and send again in a later "
    "campaign; suppress it only when it keeps bouncing for weeks.",
    Reason.BLOCKED: "Refused by the receiver's policy: the address is not the problem. "
    "Check the sending IP, the sender domain and the relay path; do not suppress.",
    Reason.SPAM: "Refused as spam or because of a blocklist: check the sending IP's and "
    "domain's reputation and the content; do not suppress the address.",
    Reason.AUTH: "Authentication failed: fix SPF, DKIM, DMARC alignment or reverse DNS "
    "for the sending host; do not suppress the address.",
    Reason.RATE_LIMITED: "Rate limited: slow down (fewer connections and messages per "
    "minute to this domain) and send again later.",
    Reason.EXPIRED: "The message expired in the sending queue: the address is not known "
    "to be bad. Inspect why it could not be delivered (the last error in the queue log); "
    "do not suppress.",
    Reason.CONNECTION: "The receiving host could not be reached.",
    Reason.ROUTING: "The message could not be routed to the recipient's domain.",
    Reason.DNS: "The recipient's DNS could not be resolved.",
    Reason.TLS: "TLS failed or is required: check the TLS settings on the sending side; "
    "do not suppress the address.",
    Reason.TOO_BIG: "The message is too big: send a smaller message (links instead of "
    "attachments); the address is fine, do not suppress it.",
    Reason.LOOP: "A mail loop: inspect the forwarding and routing (aliases, MX, relays) of "
    "the path; the address itself says nothing, do not suppress it.",
    Reason.CONTENT: "The content was refused: change the message; do not suppress.",
    Reason.PROTOCOL: "An SMTP protocol error between the MTAs: inspect the sending MTA; "
    "do not suppress.",
    Reason.SYSTEM: "The receiving system has a problem: inspect and try again later; "
    "do not suppress.",
    Reason.OTHER: "Hard bounce (class 5): do not resend unchanged; suppress the address "
    "unless the reason (e.g. a policy or content rejection) is fixed.",
    Reason.UNKNOWN: "Nothing to decide: no code was found.",
}


def action_summary(decision: Decision, reason: Reason, code: str | None, action: str | None) -> str:
    """One line: what to do with the address."""
    if decision is Decision.FIX and action == "failed" and code and code.startswith("4"):
        return (
            f"The sending MTA already gave up ({code} with Action: failed): no automatic "
            "retry is left. Inspect why it kept failing; the address is not known to be bad, "
            "do not suppress it."
        )
    if decision is Decision.RETRY and code and not code.startswith("4"):
        return (
            f"A delay warning ({code}): the sending MTA is still trying; wait for its final "
            "notice before acting on the address (RFC 5321 4.5.4.1 schedule below)."
        )
    if decision is Decision.RETRY:
        return (
            "Soft bounce (class 4): retry later; no guide covers this code, so the schedule "
            "follows RFC 5321 4.5.4.1."
            if reason is not Reason.RATE_LIMITED
            else _ACTIONS[reason]
        )
    if decision is Decision.KEEP and reason is not Reason.MAILBOX_FULL:
        return "Not a failure: nothing to do."
    if decision is Decision.SUPPRESS and reason in (
        Reason.CONNECTION,
        Reason.ROUTING,
        Reason.DNS,
    ):
        return f"{_ACTIONS[reason]} Permanent failure: suppress the address."
    return _ACTIONS[reason]


def _bounce_kind(severity: Severity) -> str:
    return {Severity.SOFT: "soft bounce", Severity.HARD: "hard bounce"}.get(
        severity, "not a failure"
    )


_EXCHANGE_DENIED = re.compile(r"recipient address rejected: access denied", re.I)


def _title(code: StatusCode, k: CodeKnowledge | None, reason: Reason, text: str) -> str:
    if code.subject == 4 and code.detail == 1 and reason is Reason.USER_UNKNOWN:
        if _EXCHANGE_DENIED.search(text):
            return "Recipient address rejected: access denied (no such recipient)"
        return "Recipient rejected (no such recipient)"
    if code.subject == 4 and 300 <= code.detail <= 399:
        return "Message expired (Exchange)"
    return k.title if k is not None else code.title


def summary(
    parsed: _Parsed,
    code: StatusCode | None,
    basic: BasicCode | None,
    k: CodeKnowledge | None,
    reason: Reason,
) -> str:
    """The one-line headline of an explanation."""
    if code is not None:
        kind = _bounce_kind(code.severity)
        if code.klass == 4 and parsed.action == "failed":
            kind = "a transient code, but the sending MTA gave up (Action: failed)"
        lead = f"{parsed.basic} {code.code}" if parsed.basic is not None else code.code
        title = _title(code, k, reason, parsed.text)
        if parsed.matched_phrase is not None:
            # A guessed code is no evidence of its class: never "hard bounce" from words.
            out = (
                f'{lead} {title} (inferred from the words "{parsed.matched_phrase}"; the '
                "bounce gives no code, low confidence): whether it is a soft or a hard "
                "bounce is not known."
            )
        else:
            out = f"{lead} {title}: {kind} ({code.class_title}, {code.subject_title})."
    else:
        assert basic is not None
        out = (
            f"{basic.code} {basic.title}: {_bounce_kind(basic.severity)}. No enhanced status "
            "code was given, so only the basic reply code's meaning is known."
        )
    if parsed.notice is not Notice.FAILED:
        out += f" A {parsed.notice.value} notice: {NOTICE_TITLES[parsed.notice]}."
    if parsed.recipient:
        out += f" Recipient {parsed.recipient}."
    return out


# ---------------------------------------------------------------- notes


def note_reply_wins(status: str, reply: str, generic: bool) -> str:
    """The server's reply overrode the Status field."""
    if generic:
        return (
            f"the DSN Status {status} is generic; the server's reply ({reply}) is more "
            "specific and is used"
        )
    return (
        f"the DSN Status {status} and the server's reply ({reply}) disagree; the server's "
        "reply is the better evidence and is used"
    )


def note_own_reply(reply: str, said: str) -> str:
    """The receiving server's own reply in the text overrode the DSN fields."""
    return (
        f"the receiving server's own reply about this recipient in the bounce text says "
        f"{reply}; it is the most specific statement and wins over the DSN's {said}"
    )


def note_status_kept(status: str, reply: str) -> str:
    """The Status field was kept over a reply code."""
    return (
        f"the diagnostic text says {reply}; the DSN Status field {status} is kept (the reply "
        "is less specific or of another class)"
    )


def note_text_wins(status: str, code: str) -> str:
    """A generic Status was refined from the human-readable text."""
    return (
        f"the DSN Status {status} is generic; the bounce text's {code} is more specific and is used"
    )


def note_inferred(phrase: str, language: str) -> str:
    """The code was inferred from words."""
    return (
        f'no status code in the bounce: the code is inferred from the words "{phrase}" '
        f"(language {language}); treat it as a guess"
    )


def note_class_mismatch(basic: int, enhanced: str) -> str:
    """The basic and enhanced codes disagree in class."""
    return (
        f"the basic code {basic} and the enhanced code {enhanced} disagree in class; "
        "the enhanced code is used"
    )


def note_class_not_allowed(code: StatusCode) -> str:
    """The defining RFC does not allow this class."""
    return (
        f"{code.reference} does not define X.{code.subject}.{code.detail} with class "
        f"{code.klass}; the meaning below follows common usage."
    )


def note_gave_up(code: str) -> str:
    """A transient code in a final failure."""
    return (
        f"{code} is a transient code, but the DSN's Action is 'failed': the sending MTA "
        "stopped retrying"
    )


# How big providers use codes differently from RFC 3463 (code, pattern, note).
_VENDOR_NOTES: tuple[tuple[str, str, str], ...] = (
    (
        "5.4.1",
        r"access denied",
        "Exchange Online answers '550 5.4.1 Recipient address rejected: Access denied' "
        "for recipients that do not exist in the tenant (directory-based edge blocking), "
        "not for 'no answer from host'.",
    ),
    (
        "4.7.28",
        r".",
        "Providers send X.7.28 when a client opens too many connections or sends too "
        "fast: slow down, like a 4.3.2 deferral.",
    ),
)


def vendor_notes(code: str | None, text: str) -> list[str]:
    """Notes on how providers use ``code`` (with the reply ``text``)."""
    out = [n for c, pat, n in _VENDOR_NOTES if c == code and re.search(pat, text, re.I)]
    if code and code.startswith("5.4.3") and len(code) == 7:
        out.append(
            "Exchange Online uses 5.4.3xx (e.g. 5.4.300, 5.4.316) for 'message expired': "
            "it kept failing to deliver until the message's lifetime ran out; the address "
            "itself is not known to be bad."
        )
    return out


def note_limits(limits: Limits) -> str:
    """What the reading limits left out of one bounce, with the counts."""
    from ..model.bounce import MAX_BOUNDARIES, MAX_LINES, MAX_PARTS
    from .units import plural

    said = []
    if limits.recipients_dropped:
        said.append(
            f"{plural(limits.recipients_dropped, 'more recipient')} not read (at most "
            f"{MAX_PARTS} are)"
        )
    if limits.parts_dropped:
        said.append(
            f"{plural(limits.parts_dropped, 'MIME part')} not read (more than {MAX_PARTS} "
            f"parts or {MAX_BOUNDARIES} multipart boundaries)"
        )
    if limits.lines_dropped:
        said.append(f"{plural(limits.lines_dropped, 'line')} not read (at most {MAX_LINES} are)")
    if limits.charsets_replaced:
        said.append(
            f"{plural(limits.charsets_replaced, 'part')} in a charset mail does not use, "
            "read as ASCII with replacement characters"
        )
    return "Limits applied: " + "; ".join(said) + "."


def limits_line(inputs: int) -> str:
    """The batch summary's count of inputs a reading limit cut."""
    from .units import plural

    return f"{plural(inputs, 'input')} cut by a reading limit (see each record's limits)"


def probe_limit_note(skipped: int) -> str:
    """Records whose domain was not probed because of the per-run limit."""
    from .units import plural

    one = skipped == 1
    return (
        f"{plural(skipped, 'more record')} named "
        f"{'a domain' if one else 'domains'} beyond the probe limit; "
        f"{'it was' if one else 'they were'} not probed"
    )


#: Formats read line by line (the others are read message by message).
_LINE_FORMATS = frozenset({"postfix-log", "exim-log", "postqueue"})


def unmatched_format(forced: str, name: str, detected: str, items: int) -> str:
    """One line: a forced ``--input-format`` understood nothing of an input."""
    from .units import plural

    unit = "line" if forced in _LINE_FORMATS else "message"
    hint = (
        f"; try --input-format {detected} or auto"
        if detected != forced
        else "; none of them is a delivery result"
    )
    return (
        f"--input-format {forced} matched nothing in {name} ({plural(items, unit)} read, "
        f"no record): detected format {detected}{hint}"
    )
