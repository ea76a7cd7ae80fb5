"""MTA log lines and queue entries as typed entries: Postfix delivery lines
(``status=deferred|bounced``, ``dsn=``, the reason in parentheses), Exim main log lines
(``**`` failed, ``==`` deferred) and ``postqueue -j`` entries (a ``delay_reason`` per
recipient). Lines about anything else (``status=sent``, arrivals) are not entries.

A log is untrusted text (the reason is a remote server's words): every pattern here is
anchored or starts at a fixed word, with bounded repetitions, so a line costs time in
proportion to its length.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from .model import ErrorKind

__all__ = [
    "MAX_QUEUE_RECIPIENTS",
    "LogEntry",
    "LogError",
    "parse_exim",
    "parse_postfix",
    "parse_postqueue",
]

#: Recipients of one ``postqueue -j`` entry read; the others are counted.
MAX_QUEUE_RECIPIENTS = 1000


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One recipient's delivery failure from a log line or queue entry.

    Attributes:
        recipient: The recipient address as logged.
        status: The MTA's status code (Postfix ``dsn=``), if logged.
        reply: The reason text (the remote reply, or the MTA's own words).
        action: ``failed`` or ``delayed`` (the DSN action it corresponds to).
        queue_id: The queue id.
        relay: The remote MTA, if logged.
        dropped: Recipients of the same queue entry beyond :data:`MAX_QUEUE_RECIPIENTS`,
            not read (``postqueue -j`` only).
    """

    recipient: str
    status: str | None
    reply: str
    action: str
    queue_id: str | None
    relay: str | None = None
    dropped: int = 0


@dataclass(frozen=True, slots=True)
class LogError:
    """A line that should have been an entry but does not parse."""

    kind: ErrorKind
    detail: str


# A delivery line in three steps, each linear: its head (searched: a syslog prefix comes
# first), the fields up to "status=" (matched where the head ends, "dsn=" found with
# str.find), the reason in parentheses (the rest of the line). One pattern searched
# unanchored, with a lazy middle and ".*" before "\)\s*$", retried from every start.
_POSTFIX_HEAD_RE = re.compile(
    r"postfix[\w/-]{0,40}\[\d{1,10}\]: (?P<qid>[0-9A-Za-z]{5,20}): to=<(?P<rcpt>[^<>]{0,320})>,"
)
_POSTFIX_STATUS_RE = re.compile(
    r" dsn=(?P<dsn>\d\.\d{1,3}\.\d{1,3}), status=(?P<status>[a-z]{1,20})"
    r"(?:, returned to sender)?"
)
_POSTFIX_MID = 2000
# "to=<" and a failure status at most 400 characters later: one left-to-right pass.
_POSTFIX_FAIL_WORDS_RE = re.compile(r"to=<|status=(?:deferred|bounced|expired|undeliverable)")
_RELAY_RE = re.compile(r"relay=([^,\s\[]{1,255})")
_POSTFIX_ACTIONS = {
    "deferred": "delayed",
    "bounced": "failed",
    "expired": "failed",
    "undeliverable": "failed",
}


def _looks_failed(line: str) -> bool:
    """A failure status at most 400 characters after a "to=<"."""
    last_to = -1
    for m in _POSTFIX_FAIL_WORDS_RE.finditer(line):
        if m.group(0) == "to=<":
            last_to = m.end()
        elif last_to >= 0 and m.start() - last_to <= 400:
            return True
    return False


def _reason(tail: str) -> str | None:
    """The reason of `` (reason)`` ending the line (trailing white space allowed); ``""``
    when the line ends without one, ``None`` when something else follows."""
    tail = tail.rstrip()
    if not tail:
        return ""
    if tail.startswith(" (") and tail.endswith(")"):
        return tail[2:-1]
    return None


def _postfix_fields(line: str) -> tuple[re.Match[str], re.Match[str], str, str] | None:
    """The head, the status fields, the fields between them and the reason of a
    delivery line (the first head of the line is the one read)."""
    head = _POSTFIX_HEAD_RE.search(line)
    if head is None:
        return None
    at = line.find(" dsn=", head.end(), head.end() + _POSTFIX_MID + len(" dsn="))
    if at < 0:
        return None
    mid = line[head.end() : at]
    if "(" in mid or ")" in mid:
        return None
    status = _POSTFIX_STATUS_RE.match(line, at)
    if status is None:
        return None
    reason = _reason(line[status.end() :])
    if reason is None:
        return None
    return head, status, mid, reason


def parse_postfix(line: str) -> LogEntry | LogError | None:
    """A Postfix delivery line; ``None`` for lines that are not a failed delivery."""
    fields = _postfix_fields(line)
    if fields is None:
        if _looks_failed(line):
            return LogError(ErrorKind.MALFORMED, "a Postfix failure line without dsn= or to=<>")
        return None
    head, status, mid, reason = fields
    action = _POSTFIX_ACTIONS.get(status.group("status"))
    if action is None:
        return None  # sent, delivered, ...
    relay = _RELAY_RE.search(mid)
    relay_name = relay.group(1) if relay and relay.group(1) != "none" else None
    return LogEntry(
        recipient=head.group("rcpt"),
        status=status.group("dsn"),
        reply=reason,
        action=action,
        queue_id=head.group("qid"),
        relay=relay_name,
    )


_EXIM_RE = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d{1,6})?(?: [+-]\d{4})?(?: \[\d{1,10}\])? "
    r"(?P<id>[0-9A-Za-z]{6}-[0-9A-Za-z]{6,11}-[0-9A-Za-z]{2,4}) (?P<flag>\*\*|==) "
    r"(?P<rcpt>[^\s:<>]{1,320})(?: <[^<>]{0,320}>)?(?P<rest>.*)$"
)
_EXIM_FLAG_RE = re.compile(r"^\S+ \S+(?: [+-]\d{4})?(?: \[\d+\])? \S+ (?:\*\*|==) ")
_EXIM_HOST_RE = re.compile(r"\bH=([^\s\[]{1,255})")


def parse_exim(line: str) -> LogEntry | LogError | None:
    """An Exim main log line; ``None`` unless it is a failure (``**``) or a deferral (``==``)."""
    m = _EXIM_RE.match(line)
    if m is None:
        if _EXIM_FLAG_RE.match(line):
            return LogError(ErrorKind.MALFORMED, "an Exim failure line without a recipient")
        return None
    rest = m.group("rest")
    cut = rest.find(": ")
    reason = rest[cut + 2 :] if cut >= 0 else rest.strip()
    host = _EXIM_HOST_RE.search(rest[: cut if cut >= 0 else len(rest)])
    return LogEntry(
        recipient=m.group("rcpt"),
        status=None,
        reply=reason.strip(),
        action="failed" if m.group("flag") == "**" else "delayed",
        queue_id=m.group("id"),
        relay=host.group(1) if host else None,
    )


def parse_postqueue(line: str) -> list[LogEntry] | LogError:
    """One ``postqueue -j`` line: an entry per recipient with a ``delay_reason``."""
    try:
        doc = json.loads(line)
    except (ValueError, RecursionError):
        return LogError(ErrorKind.MALFORMED, "not a JSON object")
    if not isinstance(doc, dict):
        return LogError(ErrorKind.MALFORMED, "not a JSON object")
    recipients = doc.get("recipients")
    if not isinstance(recipients, list):
        return LogError(ErrorKind.NO_RECIPIENT, "no recipients list")
    qid = doc.get("queue_id")
    out: list[LogEntry] = []
    dropped = max(0, len(recipients) - MAX_QUEUE_RECIPIENTS)
    for r in recipients[:MAX_QUEUE_RECIPIENTS]:
        if not isinstance(r, dict):
            return LogError(ErrorKind.MALFORMED, "a recipient is not a JSON object")
        reason = r.get("delay_reason")
        address = r.get("address")
        if not isinstance(reason, str) or not reason.strip():
            continue  # active or held, not deferred
        if not isinstance(address, str):
            return LogError(ErrorKind.MALFORMED, "a recipient without an address")
        out.append(
            LogEntry(
                recipient=address,
                status=None,
                reply=reason,
                action="delayed",
                queue_id=qid if isinstance(qid, str) else None,
                dropped=dropped,
            )
        )
    return out
