"""The enhanced status code registry (RFC 3463 and the IANA "SMTP Enhanced Status Codes" registry).

Pure data plus a lookup. A code is written ``class.subject.detail`` (RFC 3463 section 2):
class 2/4/5, subject and detail 1 to 3 digits each, no white space. The registry lists
codes as ``X.s.d``; the class comes from the reply. A well-formed code that is not
registered (e.g. Microsoft's ``5.4.316``) still gets its class and subject meaning.

Also here: the basic reply codes of RFC 5321 section 4.2.3 (plus 556 from RFC 7505), so a
bounce with only ``550 ...`` still gets a meaning.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from ..model import Severity

__all__ = [
    "BASIC_CODES",
    "CLASSES",
    "ENHANCED_CODE_RE",
    "REGISTRY",
    "SUBJECTS",
    "BasicCode",
    "RegistryEntry",
    "StatusCode",
    "lookup",
    "lookup_basic",
    "parse_code",
    "severity_for_class",
]

#: RFC 3463 section 2: ``status-code = class "." subject "." detail``; subject and detail
#: are ``1*3digit``. Anchored: the whole string must be a code.
ENHANCED_CODE_RE = re.compile(r"^([245])\.(\d{1,3})\.(\d{1,3})$")


@dataclass(frozen=True, slots=True)
class RegistryEntry:
    """One row of the IANA registry.

    Attributes:
        key: ``"X.s.d"`` as the registry writes it.
        title: The registry's title ("Bad connection").
        description: What it means (RFC wording, shortened).
        classes: Classes the defining RFC allows it with (``"2"``, ``"4"``, ``"5"``).
        basic_codes: Basic reply codes the registry associates with it, if any.
        reference: The defining RFC.
        note: How the seeds, common MTAs or this tool read it differently, if at all.
    """

    key: str
    title: str
    description: str
    classes: tuple[str, ...]
    basic_codes: tuple[int, ...]
    reference: str
    note: str | None = None


@dataclass(frozen=True, slots=True)
class StatusCode:
    """A concrete enhanced status code and what it means.

    Attributes:
        code: ``"c.s.d"`` as given.
        klass: The class digit: 2, 4 or 5.
        subject: The subject number.
        detail: The detail number.
        title: The registry title, or the subject's title for an unregistered code.
        description: The registry description, or class + subject meaning.
        severity: ``soft`` for class 4, ``hard`` for class 5, ``info`` for class 2.
        class_title: "Persistent Transient Failure", ...
        subject_title: "Network and Routing Status", ...
        registered: The code is in the registry (otherwise only class/subject apply).
        reference: The defining RFC, ``None`` for unregistered codes.
        class_allowed: The defining RFC allows this code with this class; ``False``
            when it does not (e.g. RFC 3463 calls X.4.2 "useful only as a persistent
            transient error", yet 5.4.2 is in common use).
        note: Scope notes (see :class:`RegistryEntry`).
    """

    code: str
    klass: int
    subject: int
    detail: int
    title: str
    description: str
    severity: Severity
    class_title: str
    subject_title: str
    registered: bool
    reference: str | None
    class_allowed: bool
    note: str | None = None


@dataclass(frozen=True, slots=True)
class BasicCode:
    """A basic (three digit) SMTP reply code, RFC 5321 section 4.2.

    Attributes:
        code: The number.
        title: Short meaning.
        severity: ``soft`` for 4yz, ``hard`` for 5yz, ``info`` otherwise.
        reference: The defining RFC.
    """

    code: int
    title: str
    severity: Severity
    reference: str


#: RFC 3463 section 2 (class sub-codes).
CLASSES: dict[int, tuple[str, str]] = {
    2: (
        "Success",
        "The DSN reports a positive delivery action; the detail may tell of a conversion.",
    ),
    4: (
        "Persistent Transient Failure",
        "The message as sent is valid, but a temporary event prevents sending it; "
        "sending later may succeed (soft bounce).",
    ),
    5: (
        "Permanent Failure",
        "Resending the message in its current form will not succeed; something about "
        "the message or the destination must change (hard bounce).",
    ),
}

#: RFC 3463 section 2 (subject sub-codes).
SUBJECTS: dict[int, tuple[str, str]] = {
    0: ("Other or Undefined Status", "No further information is known."),
    1: ("Addressing Status", "A problem with the sender's or the recipient's address."),
    2: ("Mailbox Status", "A problem with the recipient's mailbox (the address itself is valid)."),
    3: (
        "Mail System Status",
        "A problem with the destination mail system (the receiving server's infrastructure).",
    ),
    4: (
        "Network and Routing Status",
        "A problem with the network or the routing of the message to its destination.",
    ),
    5: ("Mail Delivery Protocol Status", "A problem with the SMTP protocol exchange."),
    6: ("Message Content or Media Status", "A problem with the message content or its media."),
    7: ("Security or Policy Status", "A security or policy condition (authentication, filters)."),
}

_ALL = ("2", "4", "5")
_FAIL = ("4", "5")

# (key, title, description, classes, basic codes, reference, note)
_ROWS: tuple[tuple[str, str, str, tuple[str, ...], tuple[int, ...], str, str | None], ...] = (
    (
        "X.0.0",
        "Other undefined Status",
        "Only the class of the status is known; no other code applies.",
        _ALL,
        (),
        "RFC 3463",
        None,
    ),
    # ---------------------------------------------------------------- X.1 addressing
    (
        "X.1.0",
        "Other address status",
        "Something about the address specified in the message caused this DSN.",
        _ALL,
        (),
        "RFC 3463",
        None,
    ),
    (
        "X.1.1",
        "Bad destination mailbox address",
        "The mailbox in the address does not exist (the part left of the @ is invalid).",
        ("5",),
        (451, 550),
        "RFC 3463",
        None,
    ),
    (
        "X.1.2",
        "Bad destination system address",
        "The destination system in the address does not exist or cannot accept mail "
        "(the part right of the @ is invalid).",
        ("5",),
        (),
        "RFC 3463",
        None,
    ),
    (
        "X.1.3",
        "Bad destination mailbox address syntax",
        "The destination address is syntactically invalid.",
        ("5",),
        (501,),
        "RFC 3463",
        None,
    ),
    (
        "X.1.4",
        "Destination mailbox address ambiguous",
        "The address matches more than one recipient on the destination system.",
        _FAIL,
        (),
        "RFC 3463",
        None,
    ),
    (
        "X.1.5",
        "Destination address valid",
        "The destination address was valid (used in positive delivery reports).",
        ("2",),
        (250,),
        "RFC 3463",
        None,
    ),
    (
        "X.1.6",
        "Destination mailbox has moved, No forwarding address",
        "The mailbox address was once valid but no longer accepts mail; no forwarding "
        "address is known.",
        ("5",),
        (),
        "RFC 3463",
        None,
    ),
    (
        "X.1.7",
        "Bad sender's mailbox address syntax",
        "The sender's address is syntactically invalid.",
        ("5",),
        (),
        "RFC 3463",
        None,
    ),
    (
        "X.1.8",
        "Bad sender's system address",
        "The sender's system in the address does not exist or cannot accept return mail.",
        _FAIL,
        (451, 550),
        "RFC 3463",
        None,
    ),
    (
        "X.1.9",
        "Message relayed to non-compliant mailer",
        "The address was valid, but the message was relayed to a system that does not "
        "speak this protocol; no further information can be given.",
        ("2",),
        (),
        "RFC 3886",
        None,
    ),
    (
        "X.1.10",
        "Recipient address has null MX",
        "The recipient's domain publishes a null MX ('0 .'): it accepts no mail.",
        ("5",),
        (556,),
        "RFC 7505",
        "RFC 7505 section 3 defines the null MX record; senders must not retry.",
    ),
    # ----------------------------------------------------------------- X.2 mailbox
    (
        "X.2.0",
        "Other or undefined mailbox status",
        "The mailbox exists, but something about it caused this DSN.",
        _ALL,
        (),
        "RFC 3463",
        None,
    ),
    (
        "X.2.1",
        "Mailbox disabled, not accepting messages",
        "The mailbox exists but accepts no messages (administratively disabled).",
        _FAIL,
        (),
        "RFC 3463",
        None,
    ),
    (
        "X.2.2",
        "Mailbox full",
        "The mailbox is full: the user's storage allocation is exceeded.",
        _FAIL,
        (552,),
        "RFC 3463",
        None,
    ),
    (
        "X.2.3",
        "Message length exceeds administrative limit",
        "The message is larger than a per-mailbox size limit.",
        ("5",),
        (552,),
        "RFC 3463",
        None,
    ),
    (
        "X.2.4",
        "Mailing list expansion problem",
        "The mailbox is a mailing list address and the list could not be expanded.",
        _ALL,
        (450, 452),
        "RFC 3463",
        None,
    ),
    # ------------------------------------------------------------- X.3 mail system
    (
        "X.3.0",
        "Other or undefined mail system status",
        "The destination system normally accepts mail, but something about it caused this DSN.",
        _ALL,
        (221, 250, 421, 451, 550, 554),
        "RFC 3463",
        None,
    ),
    (
        "X.3.1",
        "Mail system full",
        "The mail system's storage is exceeded (not one mailbox: the whole system).",
        ("4",),
        (452,),
        "RFC 3463",
        None,
    ),
    (
        "X.3.2",
        "System not accepting network messages",
        "The host does not accept messages now: it may be shutting down, overloaded or "
        "in maintenance.",
        _FAIL,
        (453,),
        "RFC 3463",
        "RFC 3463 allows it as transient and as permanent; the seed treats 4.3.2 as a soft "
        "bounce (maintenance, network problems, overload) that usually clears within hours.",
    ),
    (
        "X.3.3",
        "System not capable of selected features",
        "The destination system cannot handle features the message requires.",
        ("5",),
        (),
        "RFC 3463",
        None,
    ),
    (
        "X.3.4",
        "Message too big for system",
        "The message is larger than the system-wide limit.",
        ("5",),
        (552, 554),
        "RFC 3463",
        None,
    ),
    (
        "X.3.5",
        "System incorrectly configured",
        "The system is not configured in a way that lets it accept this message.",
        _FAIL,
        (),
        "RFC 3463",
        None,
    ),
    (
        "X.3.6",
        "Requested priority was changed",
        "The message was accepted, but the requested priority was changed.",
        ("2",),
        (250,),
        "RFC 6710",
        None,
    ),
    # ----------------------------------------------------------- X.4 network/routing
    (
        "X.4.0",
        "Other or undefined network or routing status",
        "Something went wrong with the network, no more specific code applies.",
        _ALL,
        (),
        "RFC 3463",
        None,
    ),
    (
        "X.4.1",
        "No answer from host",
        "The outbound connection attempt was not answered: the remote system was busy "
        "or could not take the call.",
        ("4",),
        (451,),
        "RFC 3463",
        "Postfix reports a failed TCP connect (refused, timed out) as 4.4.1: nothing "
        "connected at all, unlike 4.4.2.",
    ),
    (
        "X.4.2",
        "Bad connection",
        "The outbound connection was established but could not complete the transaction "
        "(time-out or poor connection quality).",
        ("4",),
        (421,),
        "RFC 3463",
        "RFC 3463 calls X.4.2 useful only as a persistent transient error; the seed "
        "documents 5.4.2 as the permanent form (bad connection that will not resolve).",
    ),
    (
        "X.4.3",
        "Directory server failure",
        "The network could not forward the message because a directory server (such as "
        "DNS) was unavailable.",
        ("4",),
        (451, 550),
        "RFC 3463",
        "RFC 3463 describes X.4.3 as a transient directory (DNS) server failure; the seeds "
        "call it 'Routing server failure' and document 5.4.3 as a permanently failed "
        "routing server.",
    ),
    (
        "X.4.4",
        "Unable to route",
        "The next hop could not be determined because the routing information (DNS) was "
        "unavailable or does not exist.",
        _FAIL,
        (),
        "RFC 3463",
        "Postfix reports an MX host or domain that does not exist as 5.4.4 "
        "('Host or domain name not found').",
    ),
    (
        "X.4.5",
        "Mail system congestion",
        "The mail system was congested and could not deliver the message.",
        ("4",),
        (451,),
        "RFC 3463",
        None,
    ),
    (
        "X.4.6",
        "Routing loop detected",
        "The message was forwarded too many times (routing tables or forwarding loop).",
        _FAIL,
        (),
        "RFC 3463",
        None,
    ),
    (
        "X.4.7",
        "Delivery time expired",
        "The message was considered too old: it stayed queued too long or its lifetime "
        "ran out. The code of the actual problem should be preferred where known.",
        _FAIL,
        (),
        "RFC 3463",
        None,
    ),
    # ----------------------------------------------------------------- X.5 protocol
    (
        "X.5.0",
        "Other or undefined protocol status",
        "Something went wrong with the protocol exchange, no more specific code applies.",
        _ALL,
        (250, 421, 451, 500, 501, 502, 503, 504, 550, 554),
        "RFC 3463",
        None,
    ),
    (
        "X.5.1",
        "Invalid command",
        "A mail transaction command was out of sequence or not supported.",
        ("5",),
        (430, 500, 503, 530, 550, 554, 555),
        "RFC 3463",
        None,
    ),
    (
        "X.5.2",
        "Syntax error",
        "A mail transaction command could not be interpreted.",
        ("5",),
        (500, 501, 502, 550, 555),
        "RFC 3463",
        None,
    ),
    (
        "X.5.3",
        "Too many recipients",
        "More recipients were given than could be delivered in one transaction.",
        _FAIL,
        (451,),
        "RFC 3463",
        None,
    ),
    (
        "X.5.4",
        "Invalid command arguments",
        "A valid command was given with invalid arguments.",
        ("5",),
        (451, 501, 502, 555),
        "RFC 3463",
        None,
    ),
    (
        "X.5.5",
        "Wrong protocol version",
        "The protocol versions of the two systems could not be reconciled.",
        _FAIL,
        (),
        "RFC 3463",
        None,
    ),
    (
        "X.5.6",
        "Authentication Exchange line is too long",
        "An AUTH exchange line was longer than the server supports.",
        ("5",),
        (500,),
        "RFC 4954",
        None,
    ),
    # ------------------------------------------------------------------- X.6 media
    (
        "X.6.0",
        "Other or undefined media error",
        "Something about the message content caused the failure.",
        _ALL,
        (),
        "RFC 3463",
        None,
    ),
    (
        "X.6.1",
        "Media not supported",
        "The media type of the message is not supported by the delivery path.",
        ("5",),
        (),
        "RFC 3463",
        None,
    ),
    (
        "X.6.2",
        "Conversion required and prohibited",
        "The content must be converted for delivery, but conversion is not allowed.",
        ("5",),
        (),
        "RFC 3463",
        None,
    ),
    (
        "X.6.3",
        "Conversion required but not supported",
        "The content must be converted for delivery, but the conversion is not possible.",
        _FAIL,
        (554,),
        "RFC 3463",
        None,
    ),
    (
        "X.6.4",
        "Conversion with loss performed",
        "The message was delivered after a conversion that lost data (or rejected, when "
        "lossy conversion was prohibited).",
        ("2", "5"),
        (250,),
        "RFC 3463",
        None,
    ),
    (
        "X.6.5",
        "Conversion Failed",
        "A required conversion was attempted and failed.",
        _FAIL,
        (),
        "RFC 3463",
        None,
    ),
    (
        "X.6.6",
        "Message content not available",
        "The message content could not be fetched from a remote system (BURL).",
        ("5",),
        (554,),
        "RFC 4468",
        None,
    ),
    (
        "X.6.7",
        "Non-ASCII addresses not permitted for that sender/recipient",
        "An address uses non-ASCII characters that the sender or recipient does not allow.",
        ("5",),
        (550, 553),
        "RFC 6531",
        None,
    ),
    (
        "X.6.8",
        "UTF-8 string reply is required, but not permitted by the SMTP client",
        "The reply needs UTF-8, but the client did not announce SMTPUTF8.",
        ("2", "5"),
        (252, 550, 553),
        "RFC 6531",
        None,
    ),
    (
        "X.6.9",
        "UTF-8 header message cannot be transferred to one or more recipients",
        "The message has UTF-8 headers that cannot be delivered to some recipients, so it "
        "must be rejected.",
        ("5",),
        (550,),
        "RFC 6531",
        None,
    ),
    # ---------------------------------------------------------------- X.7 security
    (
        "X.7.0",
        "Other or undefined security status",
        "Something related to security caused the failure.",
        _ALL,
        (220, 250, 454, 530, 550, 554),
        "RFC 3463",
        None,
    ),
    (
        "X.7.1",
        "Delivery not authorized, message refused",
        "The sender is not authorized to send to the destination (per-host or "
        "per-recipient filtering, policy, blocklists).",
        ("5",),
        (451, 454, 502, 503, 533, 550, 551),
        "RFC 3463",
        None,
    ),
    (
        "X.7.2",
        "Mailing list expansion prohibited",
        "The sender is not authorized to send a message to the mailing list.",
        ("5",),
        (550,),
        "RFC 3463",
        None,
    ),
    (
        "X.7.3",
        "Security conversion required but not possible",
        "A conversion from one secure messaging protocol to another was required and failed.",
        ("5",),
        (),
        "RFC 3463",
        None,
    ),
    (
        "X.7.4",
        "Security features not supported",
        "A message security feature was requested that the delivery protocol does not support.",
        ("5",),
        (504,),
        "RFC 3463",
        None,
    ),
    (
        "X.7.5",
        "Cryptographic failure",
        "A transport system that had to validate or decrypt the message could not "
        "(missing or invalid keys).",
        _FAIL,
        (),
        "RFC 3463",
        None,
    ),
    (
        "X.7.6",
        "Cryptographic algorithm not supported",
        "A transport system that had to validate or decrypt the message does not support "
        "the algorithm.",
        _FAIL,
        (),
        "RFC 3463",
        None,
    ),
    (
        "X.7.7",
        "Message integrity failure",
        "A transport system that had to validate the message found it corrupted.",
        _FAIL,
        (),
        "RFC 3463",
        None,
    ),
    (
        "X.7.8",
        "Authentication credentials invalid",
        "Authentication failed because the credentials are invalid.",
        ("5",),
        (535, 554),
        "RFC 4954",
        None,
    ),
    (
        "X.7.9",
        "Authentication mechanism is too weak",
        "The selected authentication mechanism is weaker than the server's policy allows.",
        ("5",),
        (534,),
        "RFC 4954",
        None,
    ),
    (
        "X.7.10",
        "Encryption Needed",
        "The requested authentication or transaction needs a stronger privacy layer (TLS).",
        ("5",),
        (523,),
        "RFC 5248",
        None,
    ),
    (
        "X.7.11",
        "Encryption required for requested authentication mechanism",
        "The selected authentication mechanism may only be used over an encrypted channel.",
        ("5",),
        (524, 538),
        "RFC 4954",
        None,
    ),
    (
        "X.7.12",
        "A password transition is needed",
        "The user must switch to the selected authentication mechanism once (e.g. by "
        "setting a password).",
        ("4",),
        (422, 432),
        "RFC 4954",
        None,
    ),
    (
        "X.7.13",
        "User Account Disabled",
        "Authentication succeeded but the user account is disabled.",
        ("5",),
        (525,),
        "RFC 5248",
        None,
    ),
    (
        "X.7.14",
        "Trust relationship required",
        "The submission server needs a configured trust relationship with a third-party "
        "server to accept this message.",
        ("5",),
        (535, 554),
        "RFC 5248",
        None,
    ),
    (
        "X.7.15",
        "Priority Level is too low",
        "The requested priority level is below what the server accepts.",
        _FAIL,
        (450, 550),
        "RFC 6710",
        None,
    ),
    (
        "X.7.16",
        "Message is too big for the specified priority",
        "The message is too big for the requested priority level.",
        _FAIL,
        (552,),
        "RFC 6710",
        None,
    ),
    (
        "X.7.17",
        "Mailbox owner has changed",
        "The mailbox has not been owned continuously since the given date (RRVS).",
        ("5",),
        (550,),
        "RFC 7293",
        None,
    ),
    (
        "X.7.18",
        "Domain owner has changed",
        "The domain has not been owned continuously since the given date (RRVS).",
        ("5",),
        (550,),
        "RFC 7293",
        None,
    ),
    (
        "X.7.19",
        "RRVS test cannot be completed",
        "The receiving system cannot complete the requested Require-Recipient-Valid-Since check.",
        ("5",),
        (550,),
        "RFC 7293",
        None,
    ),
    (
        "X.7.20",
        "No passing DKIM signature found",
        "The message has no DKIM signature that passes verification.",
        ("5",),
        (550,),
        "RFC 7372",
        None,
    ),
    (
        "X.7.21",
        "No acceptable DKIM signature found",
        "The message has passing DKIM signatures, but none acceptable to local policy.",
        ("5",),
        (550,),
        "RFC 7372",
        None,
    ),
    (
        "X.7.22",
        "No valid author-matched DKIM signature found",
        "No passing DKIM signature matches the author's domain.",
        ("5",),
        (550,),
        "RFC 7372",
        None,
    ),
    (
        "X.7.23",
        "SPF validation failed",
        "The message failed SPF validation and local policy rejects it.",
        ("5",),
        (550,),
        "RFC 7372",
        None,
    ),
    (
        "X.7.24",
        "SPF validation error",
        "SPF evaluation produced an error (temporary or permanent).",
        _FAIL,
        (451, 550),
        "RFC 7372",
        None,
    ),
    (
        "X.7.25",
        "Reverse DNS validation failed",
        "The client's IP address failed reverse DNS validation.",
        ("5",),
        (550,),
        "RFC 7372",
        None,
    ),
    (
        "X.7.26",
        "Multiple authentication checks failed",
        "The message failed more than one authentication check.",
        ("5",),
        (500,),
        "RFC 7372",
        None,
    ),
    (
        "X.7.27",
        "Sender address has null MX",
        "The sender's domain publishes a null MX, so bounces could not be delivered.",
        ("5",),
        (550,),
        "RFC 7505",
        None,
    ),
    (
        "X.7.28",
        "Mail flood detected",
        "The message looks like part of a flood of similar abusive messages.",
        _FAIL,
        (421, 450, 451, 550, 554),
        "IANA registry",
        "The defining document could not be checked offline. Providers send it with 421 "
        "when a client opens too many connections; the rules then read a greeting "
        "deferral as 4.3.2.",
    ),
    (
        "X.7.29",
        "ARC validation failure",
        "The message failed ARC (Authenticated Received Chain) validation.",
        ("5",),
        (550,),
        "RFC 8617",
        None,
    ),
    (
        "X.7.30",
        "REQUIRETLS support required",
        "The message needs REQUIRETLS, which the next hop does not support.",
        ("5",),
        (530, 550),
        "RFC 8689",
        None,
    ),
)

#: The registry: ``"X.s.d"`` -> entry.
REGISTRY: dict[str, RegistryEntry] = {
    row[0]: RegistryEntry(row[0], row[1], row[2], row[3], row[4], row[5], row[6]) for row in _ROWS
}


def severity_for_class(klass: int) -> Severity:
    """4 -> soft, 5 -> hard, 2 -> info (RFC 3463 section 2)."""
    if klass == 4:
        return Severity.SOFT
    if klass == 5:
        return Severity.HARD
    return Severity.INFO


@lru_cache(maxsize=4096)
def parse_code(text: str) -> tuple[int, int, int] | None:
    """``"5.4.2"`` -> ``(5, 4, 2)``; ``None`` unless it is exactly an RFC 3463 code.
    Cached: a batch asks for the same few codes again and again."""
    m = ENHANCED_CODE_RE.match(text.strip())
    if m is None:
        return None
    return int(m.group(1)), int(m.group(2)), int(m.group(3))


def lookup(code: str) -> StatusCode | None:
    """Look up ``"c.s.d"``; ``None`` when it is not a well-formed RFC 3463 code.

    A well-formed but unregistered code gets the class and subject meaning
    (RFC 3463 section 2: a receiver that does not know the detail interprets the
    class and subject).
    """
    parsed = parse_code(code)
    if parsed is None:
        return None
    klass, subject, detail = parsed
    canonical = f"{klass}.{subject}.{detail}"
    class_title, class_desc = CLASSES[klass]
    subject_title, subject_desc = SUBJECTS.get(
        subject, ("Unknown subject", "The subject is not defined by RFC 3463.")
    )
    entry = REGISTRY.get(f"X.{subject}.{detail}")
    if entry is None:
        return StatusCode(
            code=canonical,
            klass=klass,
            subject=subject,
            detail=detail,
            title=f"{subject_title} (detail {detail} not registered)",
            description=f"{class_desc} {subject_desc}",
            severity=severity_for_class(klass),
            class_title=class_title,
            subject_title=subject_title,
            registered=False,
            reference=None,
            class_allowed=True,
        )
    return StatusCode(
        code=canonical,
        klass=klass,
        subject=subject,
        detail=detail,
        title=entry.title,
        description=entry.description,
        severity=severity_for_class(klass),
        class_title=class_title,
        subject_title=subject_title,
        registered=True,
        reference=entry.reference,
        class_allowed=str(klass) in entry.classes,
        note=entry.note,
    )


_BASIC: tuple[tuple[int, str, str], ...] = (
    (211, "System status, or system help reply", "RFC 5321"),
    (214, "Help message", "RFC 5321"),
    (220, "Service ready", "RFC 5321"),
    (221, "Service closing transmission channel", "RFC 5321"),
    (250, "Requested mail action okay, completed", "RFC 5321"),
    (251, "User not local; will forward", "RFC 5321"),
    (252, "Cannot VRFY user, but will accept message and attempt delivery", "RFC 5321"),
    (354, "Start mail input", "RFC 5321"),
    (421, "Service not available, closing transmission channel", "RFC 5321"),
    (
        450,
        "Requested mail action not taken: mailbox unavailable (busy or temporarily "
        "blocked for policy reasons)",
        "RFC 5321",
    ),
    (451, "Requested action aborted: local error in processing", "RFC 5321"),
    (452, "Requested action not taken: insufficient system storage", "RFC 5321"),
    (455, "Server unable to accommodate parameters", "RFC 5321"),
    (500, "Syntax error, command unrecognized", "RFC 5321"),
    (501, "Syntax error in parameters or arguments", "RFC 5321"),
    (502, "Command not implemented", "RFC 5321"),
    (503, "Bad sequence of commands", "RFC 5321"),
    (504, "Command parameter not implemented", "RFC 5321"),
    (
        550,
        "Requested action not taken: mailbox unavailable (not found, no access, or "
        "rejected for policy reasons)",
        "RFC 5321",
    ),
    (551, "User not local; please try another path", "RFC 5321"),
    (552, "Requested mail action aborted: exceeded storage allocation", "RFC 5321"),
    (553, "Requested action not taken: mailbox name not allowed", "RFC 5321"),
    (554, "Transaction failed (or, as greeting: no SMTP service here)", "RFC 5321"),
    (555, "MAIL FROM/RCPT TO parameters not recognized or not implemented", "RFC 5321"),
    (556, "Domain does not accept mail (null MX)", "RFC 7505"),
)

#: Basic reply codes: number -> entry.
BASIC_CODES: dict[int, BasicCode] = {
    code: BasicCode(code, title, severity_for_class(code // 100), ref)
    for code, title, ref in _BASIC
}


def lookup_basic(code: int) -> BasicCode | None:
    """The basic reply code's meaning; unknown ``4yz``/``5yz`` codes get their class meaning."""
    if code in BASIC_CODES:
        return BASIC_CODES[code]
    if 200 <= code <= 599:
        first = code // 100
        title = {
            2: "Positive completion",
            3: "Positive intermediate",
            4: "Transient negative completion (try again later)",
            5: "Permanent negative completion (do not repeat as is)",
        }[first]
        return BasicCode(code, title, severity_for_class(first), "RFC 5321 4.2.1")
    return None
