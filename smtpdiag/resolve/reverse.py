"""Reverse DNS of the MX addresses: PTR names and forward confirmation (FCrDNS).

For each address of each MX host: the PTR question (``in-addr.arpa`` / ``ip6.arpa``,
RFC 1035 3.5, RFC 3596 2.5), then for at most :data:`MAX_PTR_NAMES` of its names the
A or AAAA question of the address's own family; the address is forward-confirmed when
one of those answers contains it (RFC 1912 2.1: "every A record should have a
matching PTR record"; receivers check it of senders, senders never of receivers).

Bounded like every DNS stage: at most :data:`MAX_NAME_ADDRESSES` addresses,
:data:`MAX_CONCURRENT_QUERIES` questions at a time, each within the per-question limit
(``--dns-timeout``) and all by the caller's deadline; never raises on DNS outcomes.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Sequence

import dns.asyncresolver
import dns.reversename

from ..config import ProbeConfig
from ..errors import ProbeError
from ..model import (
    AddressNames,
    DnsOutcome,
    DnsQuery,
    FcrdnsStatus,
    MxTargetKind,
    Resolution,
)
from ..textsafe import clean
from .resolver import build_resolver, query

__all__ = [
    "MAX_CONCURRENT_QUERIES",
    "MAX_NAME_ADDRESSES",
    "MAX_PTR_NAMES",
    "fcrdns_status",
    "lookup_names",
    "reverse_name",
]

#: MX addresses whose PTR is looked up (the probe's route cap keeps far fewer).
MAX_NAME_ADDRESSES = 32
#: PTR names kept and forward-checked per address (a hostile zone can list hundreds).
MAX_PTR_NAMES = 4
#: Questions in flight at once.
MAX_CONCURRENT_QUERIES = 8
_ANSWERED = frozenset({DnsOutcome.OK, DnsOutcome.NODATA, DnsOutcome.NXDOMAIN})


def reverse_name(address: str) -> str:
    """The PTR owner name of an address, without the final dot."""
    return dns.reversename.from_address(address).to_text(omit_final_dot=True)


def _same(address: str, answer: str) -> bool:
    try:
        return ipaddress.ip_address(answer) == ipaddress.ip_address(address)
    except ValueError:
        return False


def fcrdns_status(
    address: str, ptr_query: DnsQuery, names: Sequence[str], forward: Sequence[DnsQuery]
) -> FcrdnsStatus:
    """Whether one of the PTR names resolves back to ``address`` (pure)."""
    if ptr_query.outcome in (DnsOutcome.NXDOMAIN, DnsOutcome.NODATA) or (
        ptr_query.outcome is DnsOutcome.OK and not names
    ):
        return FcrdnsStatus.NO_PTR
    if ptr_query.outcome is not DnsOutcome.OK:
        return FcrdnsStatus.UNKNOWN
    if any(_same(address, a) for q in forward for a in q.answers):
        return FcrdnsStatus.MATCH
    if all(q.outcome in _ANSWERED for q in forward):
        return FcrdnsStatus.MISMATCH
    return FcrdnsStatus.UNKNOWN


def _ptr_names(q: DnsQuery) -> tuple[str, ...]:
    out: list[str] = []
    for answer in q.answers:
        name = clean(answer, 260).rstrip(".").lower()
        if name and name not in out:
            out.append(name)
    return tuple(out[:MAX_PTR_NAMES])


async def lookup_names(
    resolution: Resolution,
    config: ProbeConfig,
    *,
    deadline: float,
    resolver: dns.asyncresolver.Resolver | None = None,
) -> tuple[AddressNames, ...]:
    """PTR names and FCrDNS of every MX address (in the resolution's order)."""
    pairs: list[tuple[str, str]] = []
    for host in resolution.hosts:
        if host.kind not in (MxTargetKind.HOSTNAME, MxTargetKind.CNAME):
            continue
        for address in host.addresses:
            if (host.name, address) not in pairs:
                pairs.append((host.name, address))
    pairs = pairs[:MAX_NAME_ADDRESSES]
    if not pairs:
        return ()
    try:
        if resolver is None:
            resolver = build_resolver(config.resolver, config.timeouts.dns)
    except ProbeError:
        return ()
    limit = asyncio.Semaphore(MAX_CONCURRENT_QUERIES)
    loop = asyncio.get_running_loop()

    async def ask(name: str, rdtype: str) -> DnsQuery:
        async with limit:
            lifetime = min(config.timeouts.dns, deadline - loop.time())
            return await query(resolver, name, rdtype, lifetime=lifetime)

    async def one(mx: str, address: str) -> AddressNames:
        ptr_query = await ask(reverse_name(address), "PTR")
        names = _ptr_names(ptr_query) if ptr_query.outcome is DnsOutcome.OK else ()
        rdtype = "AAAA" if ipaddress.ip_address(address).version == 6 else "A"
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(ask(name, rdtype)) for name in names]
        forward = tuple(t.result() for t in tasks)
        return AddressNames(
            mx=mx,
            address=address,
            ptr_query=ptr_query,
            ptr=names,
            forward=forward,
            fcrdns=fcrdns_status(address, ptr_query, names, forward),
        )

    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(one(mx, address)) for mx, address in pairs]
    return tuple(t.result() for t in tasks)
