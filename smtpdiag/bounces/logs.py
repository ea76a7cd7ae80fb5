"""MTA log lines and queue entries as typed entries: Postfix delivery lines
(``status=deferred|bounced``, ``dsn=``, the reason in parentheses), Exim main log lines
(``**`` failed, ``==`` deferred) and ``postqueue -j`` entries (a ``delay_reason`` per
recipient). Lines about anything else (``status=sent``, arrivals) are not entries.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from .model import ErrorKind

__all__ = ["LogEntry", "LogError", "parse_exim", "parse_postfix", "parse_postqueue"]


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
    """

    recipient: str
    status: str | None
    reply: str
    action: str
    queue_id: str | None
    relay: str | None = None


@dataclass(frozen=True, slots=True)
class LogError:
    """A line that should have been an entry but does not parse."""

    kind: ErrorKind
    detail: str


_POSTFIX_RE = re.compile(
    r"postfix[\w/-]{0,40}\[\d{1,10}\]: (?P<qid>[0-9A-Za-z]{5,20}): to=<(?P<rcpt>[^<>]{0,320})>,"
    r"(?P<mid>[^()]{0,2000}?) dsn=(?P<dsn>\d\.\d{1,3}\.\d{1,3}), status=(?P<status>[a-z]{1,20})"
    r"(?:, returned to sender)?(?: \((?P<reason>.*)\))?\s*$"
)
_POSTFIX_FAIL_RE = re.compile(r"to=<.{0,400}status=(?:deferred|bounced|expired|undeliverable)")
_RELAY_RE = re.compile(r"relay=([^,\s\[]{1,255})")
_POSTFIX_ACTIONS = {
    "deferred": "delayed",
    "bounced": "failed",
    "expired": "failed",
    "undeliverable": "failed",
}


def parse_postfix(line: str) -> LogEntry | LogError | None:
    """A Postfix delivery line; ``None`` for lines that are not a failed delivery."""
    m = _POSTFIX_RE.search(line)
    if m is None:
        if _POSTFIX_FAIL_RE.search(line):
            return LogError(ErrorKind.MALFORMED, "a Postfix failure line without dsn= or to=<>")
        return None
    action = _POSTFIX_ACTIONS.get(m.group("status"))
    if action is None:
        return None  # sent, delivered, ...
    relay = _RELAY_RE.search(m.group("mid"))
    relay_name = relay.group(1) if relay and relay.group(1) != "none" else None
    return LogEntry(
        recipient=m.group("rcpt"),
        status=m.group("dsn"),
        reply=m.group("reason") or "",
        action=action,
        queue_id=m.group("qid"),
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
    for r in recipients[:1000]:
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
            )
        )
    return out
