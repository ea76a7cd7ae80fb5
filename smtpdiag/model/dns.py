"""DNS observations: how one question ended and what it returned, and what the DNS
stage made of a domain's mail routing (its MX hosts and their addresses)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["DnsOutcome", "DnsQuery", "MxHost", "MxTargetKind", "Resolution", "ResolutionKind"]


class DnsOutcome(StrEnum):
    """How one DNS query ended."""

    OK = "ok"
    NXDOMAIN = "nxdomain"  #: the name does not exist
    NODATA = "nodata"  #: the name exists but has no record of this type
    SERVFAIL = "servfail"
    REFUSED = "refused"
    TIMEOUT = "timeout"  #: no nameserver answered within the lifetime
    ERROR = "error"  #: anything else (malformed answer, no nameservers, ...)


@dataclass(frozen=True, slots=True)
class DnsQuery:
    """One DNS question and how it was answered.

    Attributes:
        name: The queried name, absolute, without the trailing dot.
        rdtype: Record type asked for ("MX", "A", "AAAA", "TLSA", ...).
        outcome: How the query ended.
        answers: Answer data as text (e.g. ``"10 mx1.example.org"``), empty unless ``ok``.
        nameserver: ``ip`` or ``ip@port`` of the server that gave the final answer;
            ``None`` when none answered.
        duration_ms: Time from question to answer or give-up.
        detail: A short sanitized explanation when not ``ok``; ``None`` otherwise.
        cname: The canonical name when the answer came through a CNAME, else ``None``.
        deadline: The probe's overall deadline (``--timeout``), not the per-query limit
            (``--dns-timeout``), bounded this query: a ``timeout`` is then the user's
            own deadline, not a nameserver that did not answer.
    """

    name: str
    rdtype: str
    outcome: DnsOutcome
    answers: tuple[str, ...] = ()
    nameserver: str | None = None
    duration_ms: float = 0.0
    detail: str | None = None
    cname: str | None = None
    deadline: bool = False


class MxTargetKind(StrEnum):
    """What an MX target (or implicit-MX host) turned out to be."""

    HOSTNAME = "hostname"  #: an ordinary host name with address records
    CNAME = "cname"  #: the target is an alias (RFC 5321 5.1 and RFC 2181 10.3 forbid it)
    IP_LITERAL = "ip-literal"  #: the target is written as an IP address (not allowed)
    NO_ADDRESS = "no-address"  #: NXDOMAIN or NODATA for both A and AAAA
    LOOKUP_FAILED = "lookup-failed"  #: address lookups failed (SERVFAIL, timeout, ...)


@dataclass(frozen=True, slots=True)
class MxHost:
    """One mail exchanger of the domain and its addresses.

    Attributes:
        name: Host name without the trailing dot (for implicit MX: the domain itself).
        preference: MX preference; 0 for an implicit MX.
        kind: What the target is; addresses are only probed for ``hostname``/``cname``.
        addresses: Every IPv4 and IPv6 address the DNS gave (A answers first, then
            AAAA, each in answer order), whatever ``-4``/``-6`` say: the family filter
            is applied when routes are planned, so an address here may not be probed.
        queries: The A/AAAA (and CNAME) queries made for this host.
        rank: 1 for the most preferred preference group, 2 for the next, ...
        addresses_omitted: Addresses beyond the per-host cap, not listed nor probed.
    """

    name: str
    preference: int
    kind: MxTargetKind
    addresses: tuple[str, ...] = ()
    queries: tuple[DnsQuery, ...] = ()
    rank: int = 1
    addresses_omitted: int = 0


class ResolutionKind(StrEnum):
    """Which delivery route the DNS publishes for the domain."""

    MX = "mx"  #: ordinary MX records
    IMPLICIT = "implicit"  #: no MX: the domain's own A/AAAA (RFC 5321 5.1)
    NULL_MX = "null-mx"  #: "0 ." (RFC 7505): the domain accepts no mail
    NONE = "none"  #: no MX and no address: there is no route
    FAILED = "failed"  #: DNS could not answer (SERVFAIL, REFUSED, timeout)


@dataclass(frozen=True, slots=True)
class Resolution:
    """The DNS stage's result for one domain.

    Attributes:
        domain: The domain asked about (IDNA-encoded, lower case, no trailing dot).
        kind: What the DNS publishes.
        mx_query: The MX query itself.
        hosts: Mail exchangers sorted by preference (equal preferences keep answer order
            and share a ``rank``). Empty for ``null-mx``, ``none`` and ``failed``.
        queries: Every query made, in order, including ``mx_query``.
        duration_ms: Wall time of the whole DNS stage.
        hosts_omitted: MX hosts beyond the cap, not resolved nor probed.
    """

    domain: str
    kind: ResolutionKind
    mx_query: DnsQuery
    hosts: tuple[MxHost, ...] = ()
    queries: tuple[DnsQuery, ...] = ()
    duration_ms: float = 0.0
    hosts_omitted: int = 0
