"""The prober's own side, seen through the DNS: its resolver and its blocklistings.

- :func:`check_resolver`: does the resolver in use validate DNSSEC? The root zone is
  signed, so a validating resolver answers the root's SOA, asked with the DO bit, with
  the AD bit set (RFC 4035 3.2.3, RFC 6840 5.7); a resolver that answers without it
  does not validate (or does not say so), and DANE cannot be judged through it.
- :func:`check_blocklists`: the egress addresses on the DNS blocklist zones the user
  configured (never a built-in list). RFC 5782 2.1: the query name is the address's
  octets reversed (nibbles for IPv6) under the zone; an A answer means listed, the TXT
  record says why (both asked at once). The answer codes are read as the
  Spamhaus-style convention most zones document (:class:`~smtpdiag.model.ListingStatus`):
  127.0.0.2-127.0.0.255 listed, 127.255.255.0/24 an error code ("query refused":
  public resolver, rate limit, typo), NXDOMAIN not listed.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Sequence

import dns.asyncresolver

from ..config import ProbeConfig
from ..errors import ProbeError
from ..model import BlocklistCheck, DnsOutcome, DnsQuery, ListingStatus, ResolverCheck
from ..textsafe import clean
from .resolver import build_resolver, query, query_raw

__all__ = [
    "MAX_BLOCKLIST_QUERIES",
    "MAX_CODES",
    "MAX_REASON",
    "blocklist_name",
    "check_blocklists",
    "check_resolver",
    "listing_status",
]

#: Zone x address questions at most (the config caps zones; two families at most).
MAX_BLOCKLIST_QUERIES = 32
#: A answers kept per question.
MAX_CODES = 8
#: Longest TXT reason kept.
MAX_REASON = 200
_LISTED = ipaddress.ip_network("127.0.0.0/24")
_ERROR_CODES = ipaddress.ip_network("127.255.255.0/24")
_NOT_LISTED_OUTCOMES = frozenset({DnsOutcome.NXDOMAIN, DnsOutcome.NODATA})


def blocklist_name(address: str, zone: str) -> str:
    """``<reversed address>.<zone>`` (RFC 5782 2.1 for IPv4, 2.4 nibbles for IPv6)."""
    ip = ipaddress.ip_address(address)
    if ip.version == 4:
        labels = str(ip).split(".")[::-1]
    else:
        labels = list(ip.exploded.replace(":", ""))[::-1]
    return ".".join([*labels, zone.rstrip(".")])


def listing_status(q: DnsQuery) -> ListingStatus:
    """How one A answer of a blocklist reads (pure)."""
    if q.outcome in _NOT_LISTED_OUTCOMES:
        return ListingStatus.NOT_LISTED
    if q.outcome is not DnsOutcome.OK:
        return ListingStatus.ERROR
    codes = []
    for answer in q.answers:
        try:
            codes.append(ipaddress.ip_address(answer))
        except ValueError:
            continue
    if any(isinstance(c, ipaddress.IPv4Address) and c in _ERROR_CODES for c in codes):
        return ListingStatus.REFUSED
    # 127.0.0.1 is no listing code (RFC 5782 5: it is reserved for testing the zone).
    if any(
        isinstance(c, ipaddress.IPv4Address) and c in _LISTED and int(c) & 0xFF >= 2 for c in codes
    ):
        return ListingStatus.LISTED
    return ListingStatus.ERROR


def _resolver(config: ProbeConfig, dnssec: bool = False) -> dns.asyncresolver.Resolver | None:
    try:
        return build_resolver(config.resolver, config.timeouts.dns, dnssec=dnssec)
    except ProbeError:
        return None


def _lifetime(config: ProbeConfig, deadline: float) -> float:
    return min(config.timeouts.dns, deadline - asyncio.get_running_loop().time())


async def check_resolver(
    config: ProbeConfig, *, deadline: float, resolver: dns.asyncresolver.Resolver | None = None
) -> ResolverCheck | None:
    """Ask the resolver (``resolver``, one asking with DO set; default: the configured
    one) the root's SOA with DO set; ``None`` without a resolver."""
    if resolver is None:
        resolver = _resolver(config, dnssec=True)
    if resolver is None:
        return None
    raw = await query_raw(resolver, ".", "SOA", lifetime=_lifetime(config, deadline))
    return ResolverCheck(raw.query, raw.authenticated)


async def check_blocklists(
    addresses: Sequence[str],
    config: ProbeConfig,
    *,
    deadline: float,
    resolver: dns.asyncresolver.Resolver | None = None,
) -> tuple[BlocklistCheck, ...]:
    """Each of ``config.blocklists`` asked about each address, concurrently (through
    ``resolver``, a service's shared one; default: the configured one)."""
    pairs = [(zone, a) for zone in config.blocklists for a in addresses][:MAX_BLOCKLIST_QUERIES]
    if not pairs:
        return ()
    if resolver is None:
        resolver = _resolver(config)
    if resolver is None:
        return ()

    async def one(zone: str, address: str) -> BlocklistCheck:
        name = blocklist_name(address, zone)
        # A and TXT at once: one round trip after the probe instead of two (the TXT
        # answer is only read when the A answer says listed).
        async with asyncio.TaskGroup() as group:
            a = group.create_task(query(resolver, name, "A", lifetime=_lifetime(config, deadline)))
            t = group.create_task(
                query(resolver, name, "TXT", lifetime=_lifetime(config, deadline))
            )
        q, txt = a.result(), t.result()
        status = listing_status(q)
        reason = None
        if status is ListingStatus.LISTED and txt.outcome is DnsOutcome.OK and txt.answers:
            reason = clean(txt.answers[0].strip('"'), MAX_REASON)
        return BlocklistCheck(
            zone=zone,
            address=address,
            query=q,
            status=status,
            codes=q.answers[:MAX_CODES] if q.outcome is DnsOutcome.OK else (),
            reason=reason,
        )

    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(one(zone, a)) for zone, a in pairs]
    return tuple(t.result() for t in tasks)
