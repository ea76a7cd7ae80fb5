"""Read a bounce: one line, a pasted transcript, or a DSN (RFC 3464 multipart/report).

:func:`parse_bounce` extracts the basic reply code (RFC 5321 4.2), the enhanced status
code (RFC 3463, also when embedded in longer text), the recipient and its domain and
the remote MTA. :func:`explain` adds the registry entry and the seed knowledge.
:func:`confirm` compares an explanation with what a probe of the recipient's domain
sees now.

Hostile input: at most :data:`MAX_INPUT` characters are read, every regular expression
is linear (bounded repetitions, no nested quantifiers over the same text), and every
string that leaves this module went through :func:`smtpdiag.textsafe.clean`. MIME is
parsed with the standard library's ``email`` package, imported lazily (it loads the
``socket`` module for ``make_msgid``; nothing here does I/O).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from ..model import Action, ActionKind, ProbeReport, ResolutionKind, Severity, Verdict
from ..narrate.actions import schedule_from
from ..textsafe import clean
from . import knowledge
from .codes import BasicCode, StatusCode, lookup, lookup_basic, parse_code
from .facts import aware_now, iso
from .knowledge import RFC5321_RETRY, CodeKnowledge

if TYPE_CHECKING:
    from email.message import Message

__all__ = [
    "MAX_INPUT",
    "ConfirmStatus",
    "Confirmation",
    "Explanation",
    "ParsedBounce",
    "RecipientStatus",
    "confirm",
    "explain",
    "parse_bounce",
]

#: Read at most this many characters of a bounce (1 MiB).
MAX_INPUT = 1 << 20
#: At most this many MIME parts / DSN groups / matches are looked at.
_MAX_PARTS = 64
_MAX_MATCHES = 200
_FIELD_LIMIT = 1000

# RFC 3463 section 2: class "." subject "." detail, subject and detail 1*3digit. Not
# preceded by a digit or dot, not followed by a dot-digit: keeps IP addresses out.
_ENH = r"[245]\.\d{1,3}\.\d{1,3}"
_ENH_RE = re.compile(rf"(?<![\d.])#?({_ENH})(?!\.?\d)")
# A basic code followed by an enhanced one: "451 4.4.2", "550-5.1.1", "550 #5.1.1".
_PAIR_RE = re.compile(rf"(?<![\d.])([245][0-5]\d)[ -]{{1,3}}#?({_ENH})(?!\.?\d)")
# A basic code alone at the start of a line or after "said:", "smtp;" ...: "550 No such user".
_BASIC_RE = re.compile(r"(?:^|(?<=[\s:;(\[\"'<>]))([245][0-5]\d)(?=[ -]|$)", re.M)
# Text before a dotted number that makes it a software version, not a status code.
_VERSION_BEFORE_RE = re.compile(r"(?:exim|postfix|sendmail|version|release|v)\s*$", re.I)
_EMAIL_RE = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@"
    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?){1,126}"
)
_HOST_RE = re.compile(
    r"host\s+([A-Za-z0-9][A-Za-z0-9.-]{0,252})\s{0,3}\[([0-9A-Fa-f:.]{2,45})\]", re.I
)
_HEADER_LINE_RE = re.compile(
    r"^(?:from|to|cc|return-path|sender|reply-to|delivered-to|received|message-id|"
    r"reporting-mta|x-[\w-]+|references|in-reply-to|envelope-to)\s*:",
    re.I,
)
# Transcript lines naming the sender, not the recipient.
_SENDER_LINE_RE = re.compile(r"mail from:|envelope-from|return-path", re.I)
_DSN_HINT_RE = re.compile(r"^(?:content-type:\s*multipart/report|status:\s*[245]\.)", re.I | re.M)
_FIELD_RE = re.compile(r"^([A-Za-z][A-Za-z0-9-]{0,40}):[ \t]*(.*)$")


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
        enhanced: The enhanced status code (``"4.4.2"``), if any.
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

    @property
    def found(self) -> bool:
        """A basic or an enhanced code was found."""
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
        found: A status code was found (if not, only ``bounce`` and ``summary`` are set).
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


# --------------------------------------------------------------------- parsing


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


def _groups_from_mime(text: str) -> list[dict[str, str]] | None:
    """The delivery-status field groups of a multipart/report, or ``None``."""
    from email.parser import Parser

    try:
        msg = Parser().parsestr(text)
        groups: list[dict[str, str]] = []
        for i, part in enumerate(msg.walk()):
            if i >= _MAX_PARTS:
                break
            if part.get_content_type() != "message/delivery-status":
                continue
            payload = part.get_payload()
            if isinstance(payload, list):
                for sub in payload[:_MAX_PARTS]:
                    if not isinstance(sub, str):
                        groups.append(_fields_of(sub))
            elif isinstance(payload, str):
                groups.extend(_groups_from_fields(payload))
        return groups or None
    except (RecursionError, ValueError, LookupError, TypeError, AttributeError):
        return None


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
    return out


def _address(value: str | None) -> str | None:
    if not value:
        return None
    m = _EMAIL_RE.search(value)
    return clean(m.group(0), 254) if m else None


def _is_version(text: str, start: int) -> bool:
    return bool(_VERSION_BEFORE_RE.search(text[max(0, start - 12) : start]))


def _scan(text: str) -> tuple[int | None, str | None, str, tuple[str, ...]]:
    """Codes in free text: (basic, enhanced, the line they are on, all enhanced codes)."""
    all_codes: list[str] = []
    best: tuple[int | None, str | None, int] | None = None
    basic: int | None
    for i, m in enumerate(_PAIR_RE.finditer(text)):
        if i >= _MAX_MATCHES:
            break
        basic, enh = int(m.group(1)), m.group(2)
        all_codes.append(enh)
        if best is None and enh[0] in "45":
            best = (basic, enh, m.start())
    for i, m in enumerate(_ENH_RE.finditer(text)):
        if i >= _MAX_MATCHES:
            break
        if _is_version(text, m.start()):
            continue
        enh = m.group(1)
        if enh[0] == "2" and not any(c == enh for c in all_codes):
            continue  # a lone "2.x.y" is far more often a version than a status
        all_codes.append(enh)
        if best is None and enh[0] in "45":
            best = (None, enh, m.start())
    if best is None:
        for i, m in enumerate(_BASIC_RE.finditer(text)):
            if i >= _MAX_MATCHES:
                break
            if m.group(1)[0] in "45":
                best = (int(m.group(1)), None, m.start())
                break
    codes = tuple(dict.fromkeys(c for c in (_canon(c) for c in all_codes) if c))
    if best is None:
        return None, None, "", codes
    basic, enh, pos = best
    line_start = text.rfind("\n", 0, pos) + 1
    line_end = text.find("\n", pos)
    line = text[line_start : line_end if line_end >= 0 else len(text)]
    line = _with_continuations(text, line, line_end, basic)
    if basic is None and enh is not None:
        # A lone enhanced code may have its basic code earlier on the same line
        # ("550 Unrouteable address (#5.1.1)").
        bm = _BASIC_RE.search(text, line_start, pos)
        if bm and bm.group(1)[0] == enh[0]:
            basic = int(bm.group(1))
    return basic, _canon(enh) if enh else None, line, codes


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


def _recipient_from_text(text: str, code_line: str) -> str | None:
    m = _EMAIL_RE.search(code_line)
    if m:
        return m.group(0)
    for line in text.splitlines()[:5000]:
        if _HEADER_LINE_RE.match(line) or _SENDER_LINE_RE.search(line):
            continue
        m = _EMAIL_RE.search(line)
        if (
            m
            and "mailer-daemon" not in m.group(0).lower()
            and "postmaster" not in m.group(0).lower()
        ):
            return m.group(0)
    return None


def parse_bounce(text: str | bytes) -> ParsedBounce:
    """Parse a bounce line, transcript or DSN. Never raises on content."""
    body, truncated = _bounded(text)
    body = body.replace("\r\n", "\n").replace("\r", "\n")
    notes: list[str] = []
    recipients: list[RecipientStatus] = []
    if _DSN_HINT_RE.search(body):
        groups = None
        if re.search(r"^content-type:\s*multipart/report", body, re.I | re.M):
            groups = _groups_from_mime(body)
        if groups is None:
            groups = _groups_from_fields(body)
        recipients = _recipient_groups(groups)
    remote_host = None
    remote_addr = None
    hm = _HOST_RE.search(body)
    if hm:
        remote_host, remote_addr = hm.group(1).rstrip("."), hm.group(2)
    chosen = next(
        (r for r in recipients if r.action in ("failed", "delayed")),
        recipients[0] if recipients else None,
    )
    basic: int | None = None
    enhanced: str | None = None
    line = ""
    codes: tuple[str, ...] = ()
    source = "none"
    if chosen is not None and (chosen.status or chosen.diagnostic):
        source = "dsn"
        d_basic, d_enh, _line, d_codes = _scan(chosen.diagnostic or "")
        enhanced = chosen.status
        basic = d_basic
        line = chosen.diagnostic or f"Status: {chosen.status}"
        if enhanced and d_enh and d_enh != enhanced:
            sc = parse_code(enhanced)
            if sc is not None and sc[1:] == (0, 0):
                notes.append(
                    f"the DSN Status {enhanced} is generic; the diagnostic's {d_enh} is more "
                    "specific and is used"
                )
                enhanced = d_enh
            else:
                notes.append(f"the diagnostic text says {d_enh}; the DSN Status field wins")
        elif enhanced is None:
            enhanced = d_enh
        codes = tuple(
            dict.fromkeys(
                [c for r in recipients for c in ([r.status] if r.status else [])] + list(d_codes)
            )
        )
        if chosen.remote_mta:
            remote_host = chosen.remote_mta
    else:
        basic, enhanced, line, codes = _scan(body)
        if basic is not None or enhanced is not None:
            source = "text"
    if basic is not None and enhanced is not None and str(basic)[0] != enhanced[0]:
        notes.append(
            f"the basic code {basic} and the enhanced code {enhanced} disagree in class; "
            "the enhanced code is used"
        )
    recipient = chosen.recipient if chosen and chosen.recipient else None
    if recipient is None and source != "none":
        recipient = _recipient_from_text(body, line)
    recipient = clean(recipient, 254) if recipient else None
    domain = recipient.rsplit("@", 1)[1].lower().rstrip(".") if recipient else None
    return ParsedBounce(
        basic=basic,
        enhanced=enhanced,
        text=clean(line.strip(), _FIELD_LIMIT),
        recipient=recipient,
        domain=domain,
        remote_mta=clean(remote_host, 255) if remote_host else None,
        remote_address=clean(remote_addr, 45) if remote_addr else None,
        action=chosen.action if chosen else None,
        source=source,
        recipients=tuple(recipients[:_MAX_PARTS]),
        codes=codes[:32],
        notes=tuple(notes),
        truncated=truncated,
    )


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

# How big providers use codes differently from RFC 3463 (shown as notes).
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


def _matched(code: str, text: str) -> tuple[str, ...]:
    k = knowledge.get(code)
    if k is None:
        return ()
    slugs = [slug for pat, slug in _CAUSE_HINTS.get(code, ()) if re.search(pat, text, re.I)]
    return tuple(k.cause(s).text for s in dict.fromkeys(slugs))


def _action_for(
    code: StatusCode | None, basic: BasicCode | None, k: CodeKnowledge | None, now: datetime
) -> Action | None:
    if k is not None:
        if k.retry is not None:
            return Action(
                ActionKind.RETRY,
                k.action_summary,
                schedule_from(k.retry, now),
                k.retry.after_schedule,
            )
        return Action(k.action_kind, k.action_summary)
    severity = code.severity if code else (basic.severity if basic else None)
    if severity is Severity.SOFT:
        return Action(
            ActionKind.RETRY,
            "Soft bounce (class 4): retry later; not a seed code, so the schedule follows "
            "RFC 5321 4.5.4.1.",
            schedule_from(RFC5321_RETRY, now),
            RFC5321_RETRY.after_schedule,
        )
    if severity is Severity.HARD:
        return Action(
            ActionKind.SUPPRESS,
            "Hard bounce (class 5): do not resend unchanged; suppress the address unless "
            "the reason (e.g. a policy or content rejection) is fixed.",
        )
    if severity is Severity.INFO:
        return Action(ActionKind.NONE, "Not a failure (class 2): nothing to do.")
    return None


def _bounce_kind(severity: Severity) -> str:
    """What a code of ``severity`` means for the message: soft, hard, or no bounce."""
    return {Severity.SOFT: "soft bounce", Severity.HARD: "hard bounce"}.get(
        severity, "not a failure"
    )


def explain(text: str | bytes, *, now: datetime | None = None) -> Explanation:
    """Explain a bounce line or DSN from the registry and the seed knowledge.

    Args:
        text: The bounce (first :data:`MAX_INPUT` characters are read).
        now: The instant retry times are counted from (default: now, UTC).

    Returns:
        An :class:`Explanation`; ``found`` is False when the text holds no status code.
    """
    now = aware_now(now)
    parsed = parse_bounce(text)
    if not parsed.found:
        return Explanation(
            found=False,
            bounce=parsed,
            code=None,
            basic=None,
            knowledge=None,
            severity=None,
            summary="No status code found: the text holds no RFC 3463 enhanced status code "
            "(c.s.d) and no SMTP reply code (4yz/5yz).",
            generated_at=iso(now),
        )
    code = lookup(parsed.enhanced) if parsed.enhanced else None
    basic = lookup_basic(parsed.basic) if parsed.basic is not None else None
    k = knowledge.get(code.code) if code else None
    severity = code.severity if code else (basic.severity if basic else None)
    notes = list(parsed.notes)
    if code is not None and code.note:
        notes.append(code.note)
    if code is not None and not code.class_allowed:
        notes.append(
            f"{code.reference} does not define X.{code.subject}.{code.detail} with class "
            f"{code.klass}; the meaning below follows common usage and the seeds."
        )
    for vcode, pattern, note in _VENDOR_NOTES:
        if code is not None and code.code == vcode and re.search(pattern, parsed.text, re.I):
            notes.append(note)
    if code is not None:
        kind = _bounce_kind(code.severity)
        title = k.title if k is not None else code.title
        lead = f"{parsed.basic} {code.code}" if parsed.basic is not None else code.code
        summary = f"{lead} {title}: {kind} ({code.class_title}, {code.subject_title})."
    else:
        assert basic is not None
        kind = _bounce_kind(basic.severity)
        summary = (
            f"{basic.code} {basic.title}: {kind}. No enhanced status code was given, so "
            "only the basic reply code's meaning is known."
        )
    if parsed.recipient:
        summary += f" Recipient {parsed.recipient}."
    return Explanation(
        found=True,
        bounce=parsed,
        code=code,
        basic=basic,
        knowledge=k,
        severity=severity,
        summary=summary,
        matched_causes=_matched(code.code, parsed.text) if code else (),
        action=_action_for(code, basic, k, now),
        notes=tuple(dict.fromkeys(notes)),
        generated_at=iso(now),
    )


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
