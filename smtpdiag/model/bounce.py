"""The vocabulary of bounces: why a recipient bounced, what to do about the address, how
a probe relates to a bounce, and what the reading limits left out.

Plain enums and records, below every stage: :mod:`smtpdiag.bounces` decides them and
:mod:`smtpdiag.narrate` words them, so neither imports the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from .core import Verdict

__all__ = [
    "MAX_BOUNDARIES",
    "MAX_LINES",
    "MAX_PARTS",
    "ConfirmBasis",
    "ConfirmFacts",
    "ConfirmStatus",
    "Decision",
    "Limits",
    "Notice",
    "Reason",
]

#: At most this many MIME parts / DSN groups are looked at.
MAX_PARTS = 64
#: Lines of pasted delivery-status fields read; later ones are counted, not read.
MAX_LINES = 20_000
#: Multipart boundaries handed to the MIME parser. The standard library checks every
#: line against every open boundary (time grows with lines x depth: 900 nested parts
#: over 1 MB took 35 s); the text from the next declaration on is not parsed. A bounce
#: needs 2 or 3 (multipart/report, the returned message's own parts).
MAX_BOUNDARIES = 8


class Reason(StrEnum):
    """Why a recipient bounced (the documented vocabulary of ``explain --batch``)."""

    USER_UNKNOWN = "user-unknown"  #: the mailbox does not exist
    MAILBOX_DISABLED = "mailbox-disabled"  #: exists, but disabled or moved
    MAILBOX_FULL = "mailbox-full"  #: over quota
    DOMAIN = "bad-domain"  #: the recipient's domain does not exist or accepts no mail
    BLOCKED = "blocked-policy"  #: refused by policy (access denied, relay denied, IP blocked)
    SPAM = "spam"  #: refused as spam, or the sender is on a blocklist
    AUTH = "authentication"  #: SPF, DKIM, DMARC, reverse DNS checks failed
    RATE_LIMITED = "rate-limited"  #: too many messages or connections
    EXPIRED = "expired"  #: the message stayed queued too long
    CONNECTION = "connection"  #: no answer, refused or dropped connection
    ROUTING = "routing"  #: no route, routing server failure
    DNS = "dns"  #: DNS lookup failed
    TLS = "tls"  #: TLS required, or the handshake failed
    TOO_BIG = "message-too-big"  #: larger than a size limit
    LOOP = "mail-loop"  #: routing or forwarding loop
    CONTENT = "content"  #: media or content rejected
    PROTOCOL = "protocol"  #: SMTP protocol error
    SYSTEM = "system"  #: the receiving system is unavailable, full or misconfigured
    OTHER = "other"  #: a code, but no more specific reason
    UNKNOWN = "unknown"  #: nothing was found at all


class Notice(StrEnum):
    """What a notification says about a recipient (RFC 3464 section 2.3.3 ``Action``):
    a failure, or one of the notices that are not failures."""

    FAILED = "failed"  #: not delivered, the sending MTA gave up
    DELAYED = "delayed"  #: not delivered yet, the sending MTA keeps trying
    DELIVERED = "delivered"  #: delivered to the recipient's mailbox
    RELAYED = "relayed"  #: handed on to a system that sends no further notice
    EXPANDED = "expanded"  #: delivered to an alias or list and expanded to its members

    @property
    def failure(self) -> bool:
        """Not delivered: failed or (still) delayed."""
        return self in (Notice.FAILED, Notice.DELAYED)


class Decision(StrEnum):
    """What to do with the recipient address."""

    SUPPRESS = "suppress"  #: stop sending to this address
    RETRY = "retry"  #: send again on the retry schedule (``retry_at``)
    KEEP = "keep"  #: keep the address; nothing to do about it for now
    FIX = "fix"  #: fix or inspect our side (message, IP, authentication); do not suppress


class ConfirmStatus(StrEnum):
    """How a live probe relates to a bounce."""

    CONFIRMED = "confirmed"  #: the probe sees the condition the bounce reports
    NOT_REPRODUCED = "not-reproduced"  #: the domain works now
    DIFFERENT = "different"  #: the probe sees a problem, but another one
    NOT_CHECKABLE = "not-checkable"  #: a connection-level probe cannot see this condition


class ConfirmBasis(StrEnum):
    """Why the status is what it is (one sentence each in the narration layer)."""

    NO_CODE = "no-code"  #: the bounce holds no code to compare
    NULL_MX_NOW = "null-mx-now"  #: a 5.1.10 bounce and the domain publishes a null MX
    NULL_MX_DIFFERENT = "null-mx-different"  #: another bounce, but a null MX now
    NOT_CONNECTION_LEVEL = "not-connection-level"  #: decided at MAIL/RCPT/DATA or by policy
    PROBE_UNKNOWN = "probe-unknown"  #: the probe verified nothing
    OWN_PORT_BLOCKED = "own-port-blocked"  #: this network blocks outbound port 25
    SAME_CODE = "same-code"  #: the probe names the bounce's code
    SAME_CONDITION = "same-condition"  #: the same subject and detail in the other class
    PROBLEM_TOO = "problem-too"  #: a bounce without enhanced code; the probe sees a problem
    CLEARED = "cleared"  #: a soft bounce; every route works now
    NOT_REPRODUCED = "not-reproduced"  #: a hard bounce; every route works now
    DIFFERENT = "different"  #: the probe sees another problem


class ConfirmFacts(NamedTuple):
    """What the sentence for a basis names.

    Attributes:
        basis: Why.
        status: The status that basis gives.
        code: The bounce's enhanced code, if any.
        what: The bounce's code as said (enhanced, else basic, else "this").
        verdict: The probe's verdict.
        primary: The probe's leading code, if any.
        persistence: The probe's persistence value (``"persistent"`` ...).
        fell_back: Another route delivers while the bounced one fails.
    """

    basis: ConfirmBasis
    status: ConfirmStatus
    code: str | None
    what: str
    verdict: Verdict
    primary: str | None
    persistence: str
    fell_back: bool


@dataclass(frozen=True, slots=True)
class Limits:
    """What the reading limits left out of one bounce (all zero when nothing was cut).

    Attributes:
        recipients_dropped: DSN recipient groups beyond :data:`MAX_PARTS`, not read.
        parts_dropped: MIME parts not read: beyond :data:`MAX_PARTS`, or declared
            after the first :data:`MAX_BOUNDARIES` multipart boundaries.
        lines_dropped: Lines of pasted fields beyond :data:`MAX_LINES`, not read.
        charsets_replaced: Text parts in a charset outside :data:`MAIL_CHARSETS`, read
            as ASCII with replacement characters.
    """

    recipients_dropped: int = 0
    parts_dropped: int = 0
    lines_dropped: int = 0
    charsets_replaced: int = 0

    @property
    def any(self) -> bool:
        """Some limit left something out."""
        return bool(
            self.recipients_dropped
            or self.parts_dropped
            or self.lines_dropped
            or self.charsets_replaced
        )
