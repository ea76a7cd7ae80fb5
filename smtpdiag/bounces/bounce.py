"""Read a bounce: one line, a pasted transcript, or a DSN (RFC 3464 multipart/report).

:func:`parse_bounce` extracts the basic reply code (RFC 5321 4.2), the enhanced status
code (RFC 3463, also when embedded in longer text), the recipient and its domain and
the remote MTA; :func:`parse_recipients` does it once per recipient of a DSN.
:func:`explain` adds the registry entry, the seed knowledge, the reason and the
decision for the address. :func:`confirm` compares an explanation with what a probe
of the recipient's domain sees now.

Precedence, per recipient: the most specific statement about it wins (each rule has a
fixture in ``fixtures/bounces`` or a test in ``tests/unit/bounces/test_statements.py``):

1. The receiving server's own reply about the recipient in the text (a basic and an
   enhanced code in the recipient's paragraph, :func:`codescan.own_reply`; in an SMTP
   transcript only ``<<<`` lines, the last one for the recipient) wins over the DSN
   fields, unless it is generic (X.0.0, X.s.0).
2. The remote server's reply in ``Diagnostic-Code`` wins over the ``Status`` field when
   they disagree, if the reply is consistent (its basic and enhanced codes agree in
   class, the same class as ``Status``) and not less specific (``Status`` 5.1.1 is kept
   over a reply's 5.0.0).
3. A generic ``Status`` (X.0.0) with no code in the diagnostic: the human-readable part
   is read for a code of the same class. No ``Status`` and no code in the diagnostic
   (empty, ``X-Unix;``): the human-readable part (Sendmail transcripts, qmail, Exim) is
   read.
4. No code anywhere: the code is inferred from phrases (:func:`reasons.infer`), marked
   ``inferred`` with low confidence and the phrase that matched.
5. Never a number from a header (``Received:``, ``X-*:``, the returned message's
   headers) or a version string (``fml 4.0.3``, ``MOS 4.1.8-GA``, ``mta-5.5.0-3``).

What the notification is for the recipient (:class:`~smtpdiag.model.bounce.Notice`):
the DSN ``Action``, else a stated class 5 code (failed) or class 2 code (delivered),
else the notice's words (:func:`reasons.notice_of`).

Hostile input: at most :data:`MAX_INPUT` characters are read, every regular expression
is linear (bounded repetitions, no nested quantifiers over the same text), and every
string that leaves this module went through :func:`smtpdiag.textsafe.clean`. Transfer
encodings (base64, quoted-printable) and charsets are decoded; LF, CRLF and CR line ends
are accepted.

The parts: :mod:`.dsn` decodes the input once (DSN groups and the human-readable text),
:mod:`.codescan` finds codes, recipient and host in free text, this module applies the
precedence and explains, :mod:`.reasons` classifies and decides, :mod:`.confirmation`
compares with a probe. Sentences come from :mod:`smtpdiag.narrate.bounce`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, NamedTuple

from ..diagnosis import knowledge
from ..diagnosis.codes import BasicCode, StatusCode, lookup, lookup_basic, parse_code
from ..diagnosis.knowledge import CodeKnowledge, RetrySchedule, rfc5321_retry, schedule_from
from ..model import Action, ActionKind, Severity
from ..narrate import bounce as words
from ..textsafe import clean
from ..timefmt import aware_now, utc_iso
from .codescan import Scan, canon, generic, host_in, own_reply, recipient_from_text, scan
from .dsn import (
    FIELD_LIMIT,
    MAX_INPUT,
    NO_LIMITS,
    Doc,
    Limits,
    RecipientStatus,
    address,
    read,
    text_blocks,
)
from .reasons import (
    CodeSource,
    Confidence,
    Decision,
    Notice,
    Reason,
    classify,
    decide,
    infer,
    notice_of,
)

if TYPE_CHECKING:
    from ..model import ProbeReport
    from .confirmation import Confirmation, ConfirmStatus

__all__ = [
    "MAX_INPUT",
    "ConfirmStatus",
    "Confirmation",
    "Explanation",
    "Assessment",
    "Limits",
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
        limits: What the reading limits left out (recipients, parts, lines, charsets).
        notice: What the notification is for this recipient: a failure, a delay, or a
            notice that is not a failure (delivered, relayed, expanded).
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
    limits: Limits = NO_LIMITS
    notice: Notice = Notice.FAILED

    @property
    def found(self) -> bool:
        """A basic or an enhanced code was found (or inferred)."""
        return self.basic is not None or self.enhanced is not None


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


# --------------------------------------------------------------------- precedence


# Internal records are NamedTuples: a frozen dataclass costs ~10x more to define, and
# every `explain` process pays for each one at import.
class _Evidence(NamedTuple):
    basic: int | None
    enhanced: str | None
    line: str
    source: CodeSource
    confidence: Confidence | None
    phrase: str | None
    notes: tuple[str, ...]
    codes: tuple[str, ...]


def _reply_wins(status: tuple[int, int, int], reply: Scan) -> bool:
    """Rule 1: the reply is consistent, of the Status's class and not less specific."""
    enhanced = parse_code(reply.enhanced or "")
    if enhanced is None:
        return False
    consistent = reply.basic is None or reply.basic // 100 == enhanced[0]
    less_specific = enhanced[2] == 0 and status[2] != 0
    return enhanced[0] == status[0] and consistent and not less_specific


def _text_refines(status: tuple[int, int, int], text: Scan) -> bool:
    """Rule 2: a generic Status refined by a specific code of its class in the text."""
    code = parse_code(text.enhanced) if text.enhanced else None
    return code is not None and code[0] == status[0] and not generic(text.enhanced)


def _from_status(status: str, diag: str | None, reply: Scan, human: str) -> _Evidence:
    """Rules 1 and 2 for a recipient with a Status field."""
    st = parse_code(status)
    assert st is not None  # RecipientStatus.status is well-formed or None
    line = diag or f"Status: {status}"
    codes = (status, *reply.codes)
    notes: list[str] = []
    if reply.enhanced is not None and reply.enhanced != canon(status):
        if _reply_wins(st, reply):
            notes.append(words.note_reply_wins(status, reply.enhanced, st[1:] == (0, 0)))
            return _Evidence(
                reply.basic, reply.enhanced, line, CodeSource.DIAGNOSTIC, Confidence.HIGH,
                None, tuple(notes), codes,
            )  # fmt: skip
        notes.append(words.note_status_kept(status, reply.enhanced))
    if reply.enhanced is None and st[1:] == (0, 0):
        text = scan(human)
        if _text_refines(st, text):
            notes.append(words.note_text_wins(status, text.enhanced or ""))
            return _Evidence(
                text.basic or reply.basic, text.enhanced, text.line, CodeSource.TEXT,
                Confidence.MEDIUM, None, tuple(notes), codes + text.codes,
            )  # fmt: skip
    basic = reply.basic if reply.basic is not None or diag else scan(human).basic
    return _Evidence(
        basic, canon(status), line, CodeSource.STATUS, Confidence.HIGH, None, tuple(notes), codes
    )


def _inferred(
    group: RecipientStatus | None, diag: str | None, human: str, delay_words: bool
) -> _Evidence | None:
    """Rule 4: no code anywhere; a phrase may stand for one."""
    delayed = None if group is None or group.action is None else group.action == "delayed"
    if delayed is None and delay_words:
        delayed = True  # the notice's own words say it is a delay warning
    guess = infer(f"{diag or ''}\n{human}", delayed=delayed)
    if guess is None:
        return None
    return _Evidence(
        None, guess.code, guess.phrase, CodeSource.INFERRED, Confidence.LOW, guess.phrase,
        (words.note_inferred(guess.phrase, guess.language),), (),
    )  # fmt: skip


def _from_dsn_or_text(group: RecipientStatus | None, human: str, delay_words: bool) -> _Evidence:
    """Rules 2 to 5: Diagnostic-Code, then Status, then the text, then phrases."""
    status = group.status if group else None
    diag = group.diagnostic if group else None
    reply = scan(diag) if diag else Scan()
    if status is not None:
        return _from_status(status, diag, reply, human)
    if reply.found:
        return _Evidence(
            reply.basic, reply.enhanced, reply.line or (diag or ""), CodeSource.DIAGNOSTIC,
            Confidence.HIGH, None, (), reply.codes,
        )  # fmt: skip
    text = scan(human)
    if text.found:
        return _Evidence(
            text.basic, text.enhanced, text.line, CodeSource.TEXT, Confidence.MEDIUM, None,
            (), text.codes,
        )  # fmt: skip
    none = _Evidence(None, None, "", CodeSource.NONE, None, None, (), text.codes)
    return _inferred(group, diag, human, delay_words) or none


def _resolve(doc: Doc, group: RecipientStatus | None, delay_words: bool = False) -> _Evidence:
    """Apply the precedence rules of the module docstring to one recipient: the
    receiving server's own reply about it in the text (rule 1) wins over what the DSN
    fields say, unless it is generic (X.0.0 or X.s.0)."""
    human = doc.human
    ev = _from_dsn_or_text(group, human, delay_words)
    own = own_reply(human, group.recipient if group else None, _others(doc, group))
    if own is None or own.enhanced is None or own.enhanced == ev.enhanced:
        return ev
    if ev.enhanced is not None and generic(own.enhanced):
        return ev  # X.0.0 or X.s.0 says less than (or as little as) the DSN's code
    said = ev.enhanced or (str(ev.basic) if ev.basic is not None else None)
    notes = (words.note_own_reply(own.enhanced, said),) if said else ()
    return _Evidence(
        own.basic, own.enhanced, own.line, CodeSource.TEXT, Confidence.MEDIUM, None,
        ev.notes + notes, tuple(dict.fromkeys(ev.codes + own.codes)),
    )  # fmt: skip


def _others(doc: Doc, group: RecipientStatus | None) -> tuple[str, ...]:
    """The other recipients of the DSN (their replies are not this recipient's)."""
    if group is None or len(doc.groups) < 2:
        return ()
    return tuple(g.recipient for g in doc.groups if g.recipient and g is not group)


def _remote(
    doc: Doc, ev: _Evidence, chosen: RecipientStatus | None
) -> tuple[str | None, str | None]:
    """The remote MTA's name and address: Remote-MTA wins over "host name[address]"."""
    host = addr = None
    hm = host_in(doc.human) or (host_in(ev.line) if ev.line else None)
    if hm:
        host, addr = hm[0].rstrip("."), hm[1]
    if chosen is not None and chosen.remote_mta:
        host = chosen.remote_mta
    return (clean(host, 255) if host else None), (clean(addr, 45) if addr else None)


def _recipient(doc: Doc, ev: _Evidence, chosen: RecipientStatus | None, found: bool) -> str | None:
    """The DSN's recipient, else (when a code was found, or the notice is not a final
    failure) the one the text names, else the notice's ``X-Failed-Recipients:``, else
    the one address the returned message was sent to."""
    recipient = chosen.recipient if chosen and chosen.recipient else None
    if recipient is None and found:
        recipient = recipient_from_text(doc.human, ev.line) or doc.failed
    return clean(recipient, 254) if recipient else None


_NOTICES = {n.value: n for n in Notice}


def _stated_failure(ev: _Evidence) -> bool:
    """A class 5 code the bounce states (not inferred): a failure, whatever the words."""
    if ev.source is CodeSource.INFERRED:
        return False
    return (ev.enhanced or "")[:1] == "5" or (ev.basic is not None and ev.basic // 100 == 5)


def _notice(chosen: RecipientStatus | None, ev: _Evidence, said: Notice | None) -> Notice:
    """What the notification is for this recipient: the DSN ``Action``, else a stated
    class 5 code (a failure), a class 2 code (a delivery unless the words say relayed or
    expanded), else the words of the notice (:func:`reasons.notice_of`)."""
    action = chosen.action if chosen is not None and chosen.action else ""
    by_action = _NOTICES.get(action.split(" ", 1)[0].rstrip(";,."))
    if by_action is not None:
        return by_action
    if _stated_failure(ev):
        return Notice.FAILED
    klass = ev.enhanced[0] if ev.enhanced else (str(ev.basic)[0] if ev.basic else None)
    if klass == "2":
        return said if said is not None and not said.failure else Notice.DELIVERED
    return said or Notice.FAILED


def _notes(notes: Sequence[str], ev: _Evidence) -> tuple[str, ...]:
    out = [*notes, *ev.notes]
    if ev.basic is not None and ev.enhanced is not None and ev.basic // 100 != int(ev.enhanced[0]):
        out.append(words.note_class_mismatch(ev.basic, ev.enhanced))
    return tuple(dict.fromkeys(out))


def _source(chosen: RecipientStatus | None, found: bool) -> str:
    if chosen is not None and (chosen.status is not None or chosen.diagnostic is not None):
        return "dsn"
    return "text" if found else "none"


def _build(doc: Doc, chosen: RecipientStatus | None, notes: Sequence[str] = ()) -> ParsedBounce:
    ev = _resolve(doc, chosen)
    said = None
    if (chosen is None or chosen.action is None) and not _stated_failure(ev):
        # No DSN Action and no stated class 5 code: the notice's words say what it is.
        said = notice_of(f"{doc.subject}\n{doc.human}")
        if said is Notice.DELAYED and ev.source in (CodeSource.INFERRED, CodeSource.NONE):
            ev = _resolve(doc, chosen, delay_words=True)  # an inferred code is class 4
    found = ev.basic is not None or ev.enhanced is not None
    notice = _notice(chosen, ev, said)
    recipient = _recipient(doc, ev, chosen, found or notice is not Notice.FAILED)
    remote_mta, remote_address = _remote(doc, ev, chosen)
    group_codes = [r.status for r in doc.groups if r.status]
    return ParsedBounce(
        basic=ev.basic,
        enhanced=ev.enhanced,
        text=clean(ev.line.strip(), FIELD_LIMIT),
        recipient=recipient,
        domain=recipient.rsplit("@", 1)[1].lower().rstrip(".") if recipient else None,
        remote_mta=remote_mta,
        remote_address=remote_address,
        action=chosen.action if chosen else None,
        source=_source(chosen, found),
        recipients=doc.groups,
        codes=tuple(dict.fromkeys(group_codes + list(ev.codes)))[:32],
        notes=_notes(notes, ev),
        truncated=doc.truncated,
        code_source=ev.source,
        confidence=ev.confidence,
        matched_phrase=clean(ev.phrase, 80) if ev.phrase else None,
        limits=doc.limits,
        notice=notice,
    )


def parse_bounce(text: str | bytes) -> ParsedBounce:
    """Parse a bounce line, transcript or DSN (its first failed or delayed recipient).
    Never raises on content."""
    doc = read(text)
    chosen = next(
        (r for r in doc.groups if r.action in ("failed", "delayed")),
        doc.groups[0] if doc.groups else None,
    )
    return _build(doc, chosen)


def parse_recipients(text: str | bytes) -> tuple[ParsedBounce, ...]:
    """One :class:`ParsedBounce` per failed or delayed recipient: per DSN group, or per
    recipient paragraph of a text bounce (qmail, Exim, Postfix without DSN fields); a
    bounce naming one recipient gives one. Never raises on content."""
    doc = read(text)
    # The failures and delays; a notice of only deliveries, relays or expansions gives
    # one record per recipient, each with its notice.
    wanted = [r for r in doc.groups if r.action in ("failed", "delayed")] or list(doc.groups)
    if wanted:
        return tuple(_build(doc, r) for r in wanted)
    blocks = text_blocks(doc.human)
    if blocks:
        return tuple(_build(doc._replace(human=block), None) for block in blocks)
    return (_build(doc, None),)


def parse_log_status(
    status: str | None, reply: str | None, *, action: str | None, recipient: str | None
) -> ParsedBounce:
    """A bounce from an MTA log line or queue entry: ``status`` plays the DSN Status
    field (Postfix ``dsn=``), ``reply`` the Diagnostic-Code (the reason text)."""
    group = RecipientStatus(
        recipient=address(recipient),
        action=action,
        status=status if status and parse_code(status) else None,
        diagnostic=reply or None,
        remote_mta=None,
    )
    doc = Doc((group,), "", False)
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
            schedule_from(rfc5321_retry(), now),
            rfc5321_retry().after_schedule,
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


class _Judged(NamedTuple):
    """A found bounce's registry entries, reason and decision."""

    code: StatusCode | None
    basic: BasicCode | None
    klass: int | None
    reason: Reason
    decision: Decision

    @property
    def severity(self) -> Severity | None:
        if self.code is not None:
            return self.code.severity
        return self.basic.severity if self.basic is not None else None


def _judge(parsed: ParsedBounce) -> _Judged:
    code = lookup(parsed.enhanced) if parsed.enhanced else None
    basic = lookup_basic(parsed.basic) if parsed.basic is not None else None
    reason = classify(code.code if code else None, parsed.basic, parsed.text)
    if not parsed.notice.failure:
        reason = Reason.UNKNOWN  # delivered, relayed or expanded: no failure to explain
    klass = code.klass if code else (parsed.basic // 100 if parsed.basic else None)
    decision = decide(
        klass,
        reason,
        parsed.action,
        subject=code.subject if code else None,
        notice=parsed.notice,
    )
    return _Judged(code, basic, klass, reason, decision)


def _retry_plan(code: StatusCode | None) -> RetrySchedule:
    """The seed's schedule where the seed says retry, else RFC 5321's."""
    k = knowledge.get(code.code) if code else None
    if k is not None and k.retry is not None and k.action_kind is ActionKind.RETRY:
        return k.retry
    return rfc5321_retry()


def assess(parsed: ParsedBounce, *, now: datetime | None = None) -> Assessment:
    """Reason, decision and retry times of a parsed bounce; the same values
    :func:`explain_parsed` gives, without building any sentence."""
    if not parsed.found:
        return Assessment(None, None, Reason.UNKNOWN, Decision.KEEP)
    j = _judge(parsed)
    retry_at: tuple[str, ...] = ()
    if j.decision is Decision.RETRY:
        retry_at = tuple(a.at for a in schedule_from(_retry_plan(j.code), aware_now(now)))
    return Assessment(j.code, j.severity, j.reason, j.decision, retry_at)


def _explain_notes(parsed: ParsedBounce, j: _Judged) -> tuple[str, ...]:
    code = j.code
    notes = list(parsed.notes)
    if code is not None and code.note:
        notes.append(code.note)
    if code is not None and not code.class_allowed:
        notes.append(words.note_class_not_allowed(code))
    notes.extend(words.vendor_notes(code.code if code else None, parsed.text))
    if parsed.action == "failed" and j.klass == 4:
        notes.append(words.note_gave_up(code.code if code else str(parsed.basic)))
    return tuple(dict.fromkeys(notes))


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
            summary=words.not_found(parsed.notice, parsed.recipient),
            generated_at=utc_iso(now, "seconds"),
        )
    j = _judge(parsed)
    code = j.code
    k = knowledge.get(code.code) if code else None
    return Explanation(
        found=True,
        bounce=parsed,
        code=code,
        basic=j.basic,
        knowledge=k,
        severity=j.severity,
        summary=words.summary(parsed, code, j.basic, k, j.reason),
        matched_causes=_matched(code.code, parsed.text) if code else (),
        action=_action_for(j.decision, j.reason, code, k, parsed.action, now),
        notes=_explain_notes(parsed, j),
        generated_at=utc_iso(now, "seconds"),
        reason=j.reason,
        decision=j.decision,
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


def confirm(expl: Explanation, report: ProbeReport) -> Confirmation:
    """Compare a bounce with a probe of its recipient's domain."""
    # Loaded here: explaining a bounce without a probe does not need them.
    from ..narrate.confirmation import confirmation
    from .confirmation import Confirmation, judge

    facts = judge(expl, report)
    return Confirmation(facts.status, confirmation(facts), facts.verdict, facts.primary)


def __getattr__(name: str) -> object:
    """``Confirmation`` and ``ConfirmStatus`` (PEP 562): a probe's confirmation types,
    loaded when first read, so explaining a bounce alone does not define them."""
    if name in ("Confirmation", "ConfirmStatus"):
        from . import confirmation

        return getattr(confirmation, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
