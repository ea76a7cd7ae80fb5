"""From a domain to its mail exchangers and their addresses (RFC 5321 5.1, RFC 7505).

The steps, each a DNS question through :mod:`.resolver`:

1. MX for the domain. An answer lists the exchangers; NODATA means there is no MX
   and the domain itself is the implicit MX (RFC 5321 5.1: "the domain name ... is
   treated as if it was associated with an implicit MX RR, with a preference of 0");
   NXDOMAIN means the domain does not exist; SERVFAIL, REFUSED and timeouts mean the
   DNS could not say (kind ``failed``).
2. A single MX whose exchange is the root (``0 .``) is a null MX (RFC 7505 3): the
   domain accepts no mail and nothing more is asked. A root exchange among other MX
   records breaks RFC 7505 3 ("MUST NOT advertise any other MX RR"); senders cannot
   deliver to "." anyway, so it is dropped, the others kept, and the fact noted in
   the MX query's ``detail``.
3. For every exchanger (at most :data:`MAX_MX_HOSTS`, duplicates removed), A and
   AAAA, concurrently but bounded. Both are always asked, whatever ``-4``/``-6`` say:
   only then does ``no-address`` mean the DNS has no address for the exchanger (an
   IPv6-only MX probed with ``-4`` is not an MX that "does not exist"). The family
   filter is applied when routes are planned (:func:`smtpdiag.probing.plan_routes`).
   An exchanger written as
   an IP address is flagged and neither resolved nor probed: RFC 5321 5.1 requires
   a domain name there, and an MTA would look the "name" up as a host name.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import replace

import dns.asyncresolver
import dns.name
import dns.rdata
import dns.rdtypes.ANY.MX

from ..config import ProbeConfig
from ..model import (
    DnsOutcome,
    DnsQuery,
    MxHost,
    MxTargetKind,
    Resolution,
    ResolutionKind,
)
from ..textsafe import clean
from .names import is_ip_literal, normalize_domain
from .resolver import build_resolver, query_raw

__all__ = [
    "MAX_ADDRESSES_PER_FAMILY",
    "MAX_CONCURRENT_QUERIES",
    "MAX_MX_HOSTS",
    "resolve_domain",
]

#: Exchangers looked up at most; a hostile zone can list hundreds.
MAX_MX_HOSTS = 20
#: Addresses kept per exchanger and address family.
MAX_ADDRESSES_PER_FAMILY = 8
#: Address questions in flight at once for one domain.
MAX_CONCURRENT_QUERIES = 8

# Asked for every exchanger, in this order (addresses keep it: IPv4 first).
_ADDRESS_RDTYPES = ("A", "AAAA")
# Outcomes that say "this name has no such address" rather than "could not find out".
_NEGATIVE = frozenset({DnsOutcome.NXDOMAIN, DnsOutcome.NODATA})
# MX outcomes after which the DNS could not tell what the domain publishes.
_FAILED = frozenset({DnsOutcome.SERVFAIL, DnsOutcome.REFUSED, DnsOutcome.TIMEOUT, DnsOutcome.ERROR})


class _Budget:
    """Turns the overall deadline into each question's lifetime."""

    def __init__(self, per_query: float, deadline: float | None) -> None:
        self._per_query = per_query
        self._deadline = deadline
        self._loop = asyncio.get_running_loop()

    def lifetime(self) -> float:
        if self._deadline is None:
            return self._per_query
        return min(self._per_query, self._deadline - self._loop.time())

    def bounded(self, lifetime: float) -> bool:
        """The overall deadline, not the per-query limit, set ``lifetime``."""
        return lifetime < self._per_query


def _timed_out(query: DnsQuery, budget: _Budget, lifetime: float) -> DnsQuery:
    """``query``, marked when it timed out because the overall deadline came first."""
    if query.outcome is DnsOutcome.TIMEOUT and budget.bounded(lifetime):
        return replace(query, deadline=True)
    return query


def _host_text(name: dns.name.Name) -> str:
    return clean(name.to_text(omit_final_dot=True), 260).lower()


def _order_mx(
    records: Sequence[dns.rdata.Rdata],
) -> tuple[list[tuple[int, str, int]], bool, int, int]:
    """Sort, rank, dedupe and cap the MX records.

    Returns ``(hosts, had_root, duplicates, dropped)``: ``hosts`` as (preference,
    name, rank) by preference with ties in answer order (``sorted`` is stable), the
    rank counting preference groups from 1; whether a root exchange was among them;
    how many repeated names were removed and how many hosts fell over the cap.
    """
    mx_records = [rd for rd in records if isinstance(rd, dns.rdtypes.ANY.MX.MX)]
    ordered = sorted(mx_records, key=lambda rd: rd.preference)
    hosts: list[tuple[int, str, int]] = []
    seen: set[str] = set()
    had_root = False
    duplicates = 0
    dropped = 0
    rank = 0
    last_pref: int | None = None
    for rd in ordered:
        if rd.exchange == dns.name.root:
            had_root = True
            continue
        name = _host_text(rd.exchange)
        if name in seen:
            # RFC 5321 5.1: a host listed twice is tried once, at its best preference.
            duplicates += 1
            continue
        seen.add(name)
        if len(hosts) >= MAX_MX_HOSTS:
            dropped += 1
            continue
        if rd.preference != last_pref:
            rank += 1
            last_pref = rd.preference
        hosts.append((rd.preference, name, rank))
    return hosts, had_root, duplicates, dropped


async def _lookup_host(
    resolver: dns.asyncresolver.Resolver,
    name: str,
    preference: int,
    rank: int,
    budget: _Budget,
    limit: asyncio.Semaphore,
) -> MxHost:
    """A and AAAA for one exchanger, classified as an :class:`MxTargetKind`."""
    if is_ip_literal(name):
        # Not asked: an MTA would look "198.51.100.1" up as a host name, and probing
        # the address would test a route no RFC-conforming sender uses.
        return MxHost(name=name, preference=preference, kind=MxTargetKind.IP_LITERAL, rank=rank)

    async def ask(rdtype: str) -> tuple[DnsQuery, tuple[str, ...], int]:
        async with limit:
            raw = await query_raw(resolver, name, rdtype, lifetime=budget.lifetime())
        addresses: list[str] = []
        omitted = 0
        for rd in raw.records:
            text = clean(rd.to_text(), 64)
            if text in addresses:
                continue
            if len(addresses) >= MAX_ADDRESSES_PER_FAMILY:
                omitted += 1  # counted, so the report can say what the cap left out
                continue
            addresses.append(text)
        return raw.query, tuple(addresses), omitted

    peek = getattr(resolver, "peek", None)
    if peek is not None and all(peek(name, rdtype) is not None for rdtype in _ADDRESS_RDTYPES):
        # Both answers are in the bulk run's cache: no tasks needed to wait for nothing.
        results = [await ask(rdtype) for rdtype in _ADDRESS_RDTYPES]
    else:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(ask(rdtype)) for rdtype in _ADDRESS_RDTYPES]
        results = [task.result() for task in tasks]
    queries = tuple(q for q, _, _ in results)
    addresses = tuple(a for _, found, _ in results for a in found)
    omitted = sum(n for _, _, n in results)
    if addresses:
        # RFC 5321 5.1 and RFC 2181 10.3: an MX must name a host, not an alias.
        # MTAs follow the alias anyway, so it is still probed, but flagged.
        aliased = any(q.cname is not None for q in queries if q.outcome is DnsOutcome.OK)
        kind = MxTargetKind.CNAME if aliased else MxTargetKind.HOSTNAME
    elif all(q.outcome in _NEGATIVE for q in queries):
        kind = MxTargetKind.NO_ADDRESS
    else:
        kind = MxTargetKind.LOOKUP_FAILED
    return MxHost(
        name=name,
        preference=preference,
        kind=kind,
        addresses=addresses,
        queries=queries,
        rank=rank,
        addresses_omitted=omitted,
    )


def _note(query: DnsQuery, notes: list[str]) -> DnsQuery:
    if not notes:
        return query
    text = "; ".join(notes)
    if query.detail:
        text = f"{query.detail}; {text}"
    return replace(query, detail=clean(text, 500))


def _mx_notes(*, had_root: bool, duplicates: int, dropped: int) -> list[str]:
    """Remarks on an MX RRset that still names exchangers."""
    notes: list[str] = []
    if had_root:
        notes.append(
            "a null MX ('.') is listed with other MX records, which RFC 7505 section 3 "
            "forbids; it was ignored and the other exchangers used"
        )
    if duplicates:
        # (narrate's plural() is a stage above this one.)
        names = "name" if duplicates == 1 else "names"
        notes.append(f"{duplicates} repeated MX {names} ignored")
    if dropped:
        hosts_word = "host" if dropped == 1 else "hosts"
        notes.append(f"{dropped} MX {hosts_word} beyond the first {MAX_MX_HOSTS} not looked up")
    return notes


async def resolve_domain(
    domain: str,
    config: ProbeConfig,
    *,
    deadline: float | None = None,
    resolver: dns.asyncresolver.Resolver | None = None,
) -> Resolution:
    """Find the mail exchangers of ``domain`` and their addresses.

    Args:
        domain: The domain; normalized with :func:`normalize_domain` first.
        config: Nameservers (``config.resolver``), the per-question limit
            (``config.timeouts.dns``). ``config.families`` is not used here: A and
            AAAA are always asked (see the module docstring).
        deadline: Absolute ``loop.time()`` by which the whole stage must end; every
            question's lifetime is cut to the time left. Questions that would start
            after it are not asked and reported as timeouts.
        resolver: A resolver to share between calls (``smtpdiag bulk`` passes one with
            a cache, :func:`caching_resolver`); default a new one without a cache.

    Returns:
        A :class:`Resolution`. DNS outcomes (NXDOMAIN, NODATA, SERVFAIL, REFUSED,
        timeouts) are data in it, never exceptions. For an implicit MX whose address
        lookups all failed, the kind stays ``implicit`` with one ``lookup-failed``
        host, as for an MX host whose lookups failed.

    Raises:
        ConfigError: ``domain`` is not a valid domain.
        ProbeError: No nameserver is configured and the system has none either.
    """
    name = normalize_domain(domain)
    if resolver is None:
        resolver = build_resolver(config.resolver, config.timeouts.dns)
    started = time.monotonic()
    budget = _Budget(config.timeouts.dns, deadline)
    limit = asyncio.Semaphore(MAX_CONCURRENT_QUERIES)

    def done(
        kind: ResolutionKind, mx_query: DnsQuery, hosts: tuple[MxHost, ...] = ()
    ) -> Resolution:
        queries = [mx_query]
        for host in hosts:
            queries.extend(host.queries)
        return Resolution(
            domain=name,
            kind=kind,
            mx_query=mx_query,
            hosts=hosts,
            queries=tuple(queries),
            duration_ms=round((time.monotonic() - started) * 1000.0, 3),  # 1 µs, as in JSON
        )

    lifetime = budget.lifetime()
    raw = await query_raw(resolver, name, "MX", lifetime=lifetime)
    mx_query = _timed_out(raw.query, budget, lifetime)
    if mx_query.outcome is DnsOutcome.NXDOMAIN:
        return done(ResolutionKind.NONE, mx_query)
    if mx_query.outcome in _FAILED:
        return done(ResolutionKind.FAILED, mx_query)

    if mx_query.outcome is DnsOutcome.NODATA:
        # RFC 5321 5.1: no MX, so the domain itself is the (implicit) exchanger.
        host = await _lookup_host(resolver, name, 0, 1, budget, limit)
        if host.kind is MxTargetKind.NO_ADDRESS:
            # No MX and no address: nowhere to deliver. ``hosts`` stays empty (as
            # documented for kind ``none``); the address questions stay in ``queries``.
            resolution = done(ResolutionKind.NONE, mx_query)
            return replace(resolution, queries=(mx_query, *host.queries))
        if host.kind is MxTargetKind.CNAME:
            # RFC 5321 5.1 follows a CNAME at the domain itself; that is no fault.
            host = replace(host, kind=MxTargetKind.HOSTNAME)
        return done(ResolutionKind.IMPLICIT, mx_query, (host,))

    hosts_spec, had_root, duplicates, dropped = _order_mx(raw.records)
    notes: list[str] = []
    if had_root and not hosts_spec:
        if len(raw.records) != 1 or any(getattr(rd, "preference", 0) != 0 for rd in raw.records):
            notes.append("null MX not in the RFC 7505 form (a single '0 .')")
        return done(ResolutionKind.NULL_MX, _note(mx_query, notes))
    if not hosts_spec:
        return done(ResolutionKind.NONE, mx_query)
    notes.extend(_mx_notes(had_root=had_root, duplicates=duplicates, dropped=dropped))
    mx_query = _note(mx_query, notes)

    if len(hosts_spec) == 1:  # the common case: nothing to run side by side
        pref, host_name, rank = hosts_spec[0]
        hosts: tuple[MxHost, ...] = (
            await _lookup_host(resolver, host_name, pref, rank, budget, limit),
        )
    else:
        async with asyncio.TaskGroup() as group:
            tasks = [
                group.create_task(_lookup_host(resolver, host_name, pref, rank, budget, limit))
                for pref, host_name, rank in hosts_spec
            ]
        hosts = tuple(task.result() for task in tasks)
    return replace(done(ResolutionKind.MX, mx_query, hosts), hosts_omitted=dropped)
