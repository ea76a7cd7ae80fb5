"""Observations about names and about the prober's own vantage point.

- Names (:class:`AddressNames`): each MX address's PTR name and whether that name
  resolves back to the address (forward-confirmed reverse DNS, "FCrDNS").
- Vantage (:class:`Vantage`): what the probe saw of its own side: the local (egress)
  addresses its connections left from, whether the resolver in use validates DNSSEC,
  and whether the egress addresses are listed on DNS blocklists the user configured.

Values only; the diagnosis decides what they mean and the narration words it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from .dns import DnsQuery

__all__ = [
    "AddressNames",
    "BlocklistCheck",
    "FcrdnsStatus",
    "FaultSide",
    "ListingStatus",
    "ResolverCheck",
    "Vantage",
]


class FcrdnsStatus(StrEnum):
    """Whether an address's PTR name resolves back to the address (RFC 1912 2.1)."""

    MATCH = "match"  #: a PTR name whose A/AAAA include the address
    MISMATCH = "mismatch"  #: PTR names exist, none resolves back to the address
    NO_PTR = "no-ptr"  #: no PTR record (NXDOMAIN or NODATA)
    UNKNOWN = "unknown"  #: a lookup got no answer (timeout, SERVFAIL, deadline)


@dataclass(frozen=True, slots=True)
class AddressNames:
    """The reverse DNS of one MX address.

    Attributes:
        mx: The MX host name the address belongs to.
        address: The address.
        ptr_query: The PTR question (``<reversed>.in-addr.arpa`` / ``ip6.arpa``).
        ptr: The PTR names (absolute, no final dot, lower case, sanitized), at most 4.
        forward: The A/AAAA questions asked for the PTR names (same family as the address).
        fcrdns: Whether a PTR name resolves back to the address.
    """

    mx: str
    address: str
    ptr_query: DnsQuery
    ptr: tuple[str, ...] = ()
    forward: tuple[DnsQuery, ...] = ()
    fcrdns: FcrdnsStatus = FcrdnsStatus.UNKNOWN


class ListingStatus(StrEnum):
    """One DNS blocklist's answer about one address.

    The Spamhaus-style convention most zones document: an A record in 127.0.0.2 -
    127.0.0.255 means listed (the last octet says which list); 127.255.255.0/24 is
    not a listing but an error code (127.255.255.252 typo in the zone name, .254 query
    through a public resolver, .255 excessive queries); NXDOMAIN means not listed.
    """

    LISTED = "listed"  #: an A answer in 127.0.0.2-127.0.0.255
    NOT_LISTED = "not-listed"  #: NXDOMAIN (or NODATA)
    REFUSED = "refused"  #: an A answer in 127.255.255.0/24: the zone refused the query
    ERROR = "error"  #: an answer outside both ranges, SERVFAIL, REFUSED, timeout


@dataclass(frozen=True, slots=True)
class BlocklistCheck:
    """One configured blocklist zone asked about one egress address.

    Attributes:
        zone: The zone as configured (lower case, no final dot).
        address: The egress address asked about.
        query: The A question (``<reversed address>.<zone>``).
        status: How the answer reads.
        codes: The A answers (``127.0.0.x``), at most 8.
        reason: The TXT answer (the zone's reason text), sanitized, bounded; ``None``
            when not listed or no TXT came.
    """

    zone: str
    address: str
    query: DnsQuery
    status: ListingStatus
    codes: tuple[str, ...] = ()
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class ResolverCheck:
    """Whether the resolver in use validates DNSSEC, asked of a signed name.

    Attributes:
        query: The question (the root's SOA, with the DO bit), asked of the
            configured resolver.
        authenticated: The answer carried the AD bit (RFC 4035 3.2.3).
    """

    query: DnsQuery
    authenticated: bool = False


@dataclass(frozen=True, slots=True)
class Vantage:
    """What the probe saw of its own side.

    Attributes:
        egress: The local addresses the probe's connections left from, one per
            address family that connected (from the connected sockets).
        blocklists: Each configured blocklist zone asked about each egress address.
        resolver: The DNSSEC check of the resolver; ``None`` when policy lookups
            were off (DANE was not looked at).
    """

    egress: tuple[str, ...] = ()
    blocklists: tuple[BlocklistCheck, ...] = ()
    resolver: ResolverCheck | None = None


class FaultSide(StrEnum):
    """Whose side a failure is on, as the decision record says."""

    NONE = "none"  #: nothing fails
    RECIPIENT = "recipient"  #: the destination (its DNS, servers, policy)
    #: the prober's own side: its network blocks the delivery port, or its own address
    #: is on a blocklist the rejecting server named
    VANTAGE = "vantage"
    UNKNOWN = "unknown"  #: the probe could not tell (it could not run)
