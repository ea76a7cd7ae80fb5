"""DANE for SMTP (RFC 7672): TLSA records, their DNSSEC status, and the chain check.

Trust assumption, stated the way Postfix states it for ``smtp_dns_support_level =
dane``: smtpdiag does not validate signatures itself. The DNSSEC status of an answer
is the verdict of the configured resolver, read from the AD bit of its response (and
a SERVFAIL read as a validation failure). That verdict is only worth something when
the resolver validates, is trusted, and the path to it cannot be tampered with (a
resolver on the same host or network). A resolver that does not validate never sets
AD, so every TLSA record then reads as "not usable", never as a pass.

Everything read from the network is hostile: at most :data:`MAX_TLSA_RECORDS` records
per name, at most :data:`MAX_TLSA_DATA` bytes of data per record, at most
:data:`MAX_TLSA_HOSTS` hosts, :data:`MAX_CONCURRENT_QUERIES` questions at a time, all
within the caller's deadline.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import dns.asyncresolver
import dns.rdata
import dns.rdtypes.ANY.TLSA

from ..certmatch import check_chain
from ..config import ProbeConfig
from ..errors import ProbeError
from ..model import (
    DaneState,
    DnsOutcome,
    DnsQuery,
    DnssecStatus,
    TlsaLookup,
    TlsaRecord,
)
from ..resolve.names import is_ip_literal
from ..resolve.resolver import RawAnswer, build_resolver, query_raw
from ..textsafe import clean

__all__ = [
    "MAX_CONCURRENT_QUERIES",
    "MAX_TLSA_DATA",
    "MAX_TLSA_HOSTS",
    "MAX_TLSA_RECORDS",
    "check_chain",
    "dnssec_status",
    "lookup_dnssec_mx",
    "lookup_tlsa",
    "parse_tlsa",
    "tlsa_name",
    "tlsa_state",
]

#: TLSA records kept per name (a real RRset has one to four; a hostile zone thousands).
MAX_TLSA_RECORDS = 16
#: Longest record data kept, in bytes: a full certificate (``3 0 0``) fits; a longer
#: record is kept cut and is not usable.
MAX_TLSA_DATA = 4096
#: MX hosts whose TLSA records are looked up (as many as the resolve stage keeps).
MAX_TLSA_HOSTS = 20
#: Questions in flight at once for one domain.
MAX_CONCURRENT_QUERIES = 8

# RFC 7672 3.1.3: PKIX-TA(0) and PKIX-EE(1) are not usable for SMTP; only DANE-TA(2)
# and DANE-EE(3). RFC 6698 2.1.2/2.1.3: selectors Cert(0)/SPKI(1); matching types
# Full(0), SHA2-256(1), SHA2-512(2).
_USAGES = frozenset({2, 3})
_SELECTORS = frozenset({0, 1})
_DIGEST_SIZES = {1: 32, 2: 64}  # full (0) has any length
_MATCHING = frozenset({0, *_DIGEST_SIZES})
_DANE_TA, _DANE_EE = 2, 3

# Outcomes after which the resolver did answer: the AD bit means something.
_ANSWERED = frozenset({DnsOutcome.OK, DnsOutcome.NODATA, DnsOutcome.NXDOMAIN})
_NEGATIVE = frozenset({DnsOutcome.NODATA, DnsOutcome.NXDOMAIN})


def tlsa_name(host: str, port: int) -> str:
    """The TLSA owner name of a service (RFC 6698 3, RFC 7672 2.2.3): ``_25._tcp.mx``."""
    return f"_{port}._tcp.{host.rstrip('.').lower()}"


def dnssec_status(raw: RawAnswer) -> DnssecStatus:
    """The validating resolver's verdict on one answer.

    An answer or a denial (NODATA, NXDOMAIN) with AD set is ``secure``, without AD
    ``insecure``; a SERVFAIL is ``bogus`` (a validating resolver answers SERVFAIL for
    data that fails validation; a broken zone looks the same, and a DANE sender
    treats both alike: RFC 7672 2.1.1); no answer is ``unknown``.
    """
    outcome = raw.query.outcome
    if outcome in _ANSWERED:
        return DnssecStatus.SECURE if raw.authenticated else DnssecStatus.INSECURE
    if outcome is DnsOutcome.SERVFAIL:
        return DnssecStatus.BOGUS
    return DnssecStatus.UNKNOWN


def parse_tlsa(records: Sequence[dns.rdata.Rdata]) -> tuple[TlsaRecord, ...]:
    """TLSA rdata as :class:`TlsaRecord`, at most :data:`MAX_TLSA_RECORDS` of them.

    A record is usable (RFC 7672 3.1) with usage DANE-TA(2) or DANE-EE(3), selector 0
    or 1, matching type 0, 1 or 2, a digest of the length its matching type has (a
    SHA2-256 digest of 31 bytes can never match: OpenSSL's DANE code refuses it, and
    so Postfix ignores it), and data within :data:`MAX_TLSA_DATA`.
    """
    parsed: list[TlsaRecord] = []
    for rd in records:
        if len(parsed) >= MAX_TLSA_RECORDS:
            break
        if not isinstance(rd, dns.rdtypes.ANY.TLSA.TLSA):
            continue
        data = bytes(rd.cert)
        cut = len(data) > MAX_TLSA_DATA
        usable = (
            rd.usage in _USAGES
            and rd.selector in _SELECTORS
            and rd.mtype in _MATCHING
            and len(data) > 0
            and not cut
            and len(data) == _DIGEST_SIZES.get(rd.mtype, len(data))
        )
        parsed.append(
            TlsaRecord(
                usage=int(rd.usage),
                selector=int(rd.selector),
                matching_type=int(rd.mtype),
                data=data[:MAX_TLSA_DATA].hex(),
                usable=usable,
            )
        )
    return tuple(parsed)


def _combined(statuses: Sequence[DnssecStatus]) -> DnssecStatus:
    """One status for a host's A and AAAA answers: the weakest of them."""
    for worst in (DnssecStatus.BOGUS, DnssecStatus.INSECURE, DnssecStatus.UNKNOWN):
        if worst in statuses:
            return worst
    return DnssecStatus.SECURE if statuses else DnssecStatus.UNKNOWN


def tlsa_state(
    query: DnsQuery,
    dnssec: DnssecStatus,
    records: Sequence[TlsaRecord],
    address_dnssec: DnssecStatus = DnssecStatus.SECURE,
) -> DaneState:
    """What a DANE-enforcing sender makes of one MX host's TLSA lookup (RFC 7672 2.2).

    - The TLSA lookup failed validation (SERVFAIL): ``bogus`` (2.2.2: the sender
      treats the host as unreachable and defers: dnssec-invalid).
    - No answer: ``unknown``.
    - No TLSA records (NXDOMAIN, NODATA; signed or not): ``none``.
    - Records in an insecure (unsigned or unvalidated) answer: ``not-usable``; such
      records are never a pass (2.2: "insecure" TLSA records are ignored).
    - Records, but the host's own address records failed validation: ``bogus``;
      are insecure: ``not-usable`` (2.2.2: TLSA records are only used when the
      address records are secure; the MX RRset itself may be insecure, 2.2.1).
    - Records, but none usable (usages 0/1 only, 3.1.3; unknown selector or
      matching type): ``not-usable``. Unlike insecure records, these still oblige a
      DANE sender to use TLS, without authentication (2.2); tell them apart by
      ``dnssec`` (``secure`` here).
    - Otherwise ``usable``.
    """
    if dnssec is DnssecStatus.BOGUS:
        return DaneState.BOGUS
    if dnssec is DnssecStatus.UNKNOWN or query.outcome not in _ANSWERED:
        return DaneState.UNKNOWN
    if query.outcome in _NEGATIVE or not records:
        return DaneState.NONE
    if dnssec is not DnssecStatus.SECURE:
        return DaneState.NOT_USABLE
    if address_dnssec is DnssecStatus.BOGUS:
        return DaneState.BOGUS
    if address_dnssec is DnssecStatus.INSECURE:
        return DaneState.NOT_USABLE
    if not any(record.usable for record in records):
        return DaneState.NOT_USABLE
    return DaneState.USABLE


# ------------------------------------------------------------------- lookups


def _lifetime(config: ProbeConfig, deadline: float) -> float:
    return min(config.timeouts.dns, deadline - asyncio.get_running_loop().time())


async def lookup_dnssec_mx(
    domain: str,
    config: ProbeConfig,
    *,
    deadline: float,
    resolver: dns.asyncresolver.Resolver | None = None,
) -> DnssecStatus:
    """The DNSSEC status of ``domain``'s MX RRset (RFC 7672 2.2.1), by ``deadline``.

    Never raises on DNS outcomes. An insecure MX RRset does not stop DANE (the sender
    may still use the MX hosts' TLSA records, 2.2.1), but only the MX host names are
    then reference identifiers for a DANE-TA certificate; a secure one makes the
    domain itself one too (3.2.2, :func:`check_chain`'s ``nexthop``). ``resolver``: one
    asking with DO and AD set (a bulk run's cache); default one built from ``config``.
    """
    if resolver is None:
        try:
            resolver = build_resolver(config.resolver, config.timeouts.dns, dnssec=True)
        except ProbeError:
            return DnssecStatus.UNKNOWN
    raw = await query_raw(resolver, domain, "MX", lifetime=_lifetime(config, deadline))
    return dnssec_status(raw)


def _host(text: str) -> str:
    return clean(text, 260).rstrip(".").lower()


async def lookup_tlsa(
    hosts: Sequence[str],
    port: int,
    config: ProbeConfig,
    *,
    deadline: float,
    resolver: dns.asyncresolver.Resolver | None = None,
) -> tuple[TlsaLookup, ...]:
    """``_<port>._tcp.<host>`` TLSA for each MX host, with the DNSSEC verdicts.

    Each host's TLSA, A and AAAA are asked concurrently (at most
    :data:`MAX_CONCURRENT_QUERIES` questions at a time over all hosts); the address
    answers give :attr:`TlsaLookup.address_dnssec`. Hosts are taken in order, without
    repeats and IP literals (they have no TLSA name), at most :data:`MAX_TLSA_HOSTS`.
    Returns by ``deadline`` (a question that would start after it reports a timeout);
    never raises on DNS outcomes.
    """
    wanted: list[str] = []
    for host in hosts:
        name = _host(host)
        if name and name not in wanted and not is_ip_literal(name):
            wanted.append(name)
    wanted = wanted[:MAX_TLSA_HOSTS]
    if not wanted:
        return ()
    try:
        if resolver is None:
            resolver = build_resolver(config.resolver, config.timeouts.dns, dnssec=True)
    except ProbeError as exc:
        detail = clean(str(exc))
        return tuple(
            _lookup(
                host,
                port,
                RawAnswer(DnsQuery(tlsa_name(host, port), "TLSA", DnsOutcome.ERROR, detail=detail)),
                (),
            )
            for host in wanted
        )
    limit = asyncio.Semaphore(MAX_CONCURRENT_QUERIES)

    async def ask(name: str, rdtype: str) -> RawAnswer:
        async with limit:
            return await query_raw(resolver, name, rdtype, lifetime=_lifetime(config, deadline))

    async def one(host: str) -> TlsaLookup:
        async with asyncio.TaskGroup() as group:
            tlsa = group.create_task(ask(tlsa_name(host, port), "TLSA"))
            addresses = [group.create_task(ask(host, rdtype)) for rdtype in ("A", "AAAA")]
        found, answers = tlsa.result(), [task.result() for task in addresses]
        expanded = _expanded(host, answers)
        if expanded is not None:
            # RFC 7672 2.2.2: a host name that is a secure alias has its TLSA records
            # at the expanded name first; the original name is the fallback.
            there = await ask(tlsa_name(expanded, port), "TLSA")
            if there.query.outcome in (DnsOutcome.OK, DnsOutcome.SERVFAIL):
                found = there
        return _lookup(host, port, found, answers)

    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(one(host)) for host in wanted]
    return tuple(task.result() for task in tasks)


def _expanded(host: str, addresses: Sequence[RawAnswer]) -> str | None:
    """The host's CNAME-expanded name when its address answers are secure and came
    through an alias, else ``None``."""
    if _combined([dnssec_status(answer) for answer in addresses]) is not DnssecStatus.SECURE:
        return None
    for answer in addresses:
        cname = answer.query.cname
        if answer.query.outcome is DnsOutcome.OK and cname and _host(cname) != host:
            return _host(cname)
    return None


def _lookup(host: str, port: int, raw: RawAnswer, addresses: Sequence[RawAnswer]) -> TlsaLookup:
    dnssec = dnssec_status(raw)
    records = parse_tlsa(raw.records) if raw.query.outcome is DnsOutcome.OK else ()
    address_dnssec = _combined([dnssec_status(answer) for answer in addresses])
    return TlsaLookup(
        mx=host,
        port=port,
        query=raw.query,
        dnssec=dnssec,
        state=tlsa_state(raw.query, dnssec, records, address_dnssec),
        records=records,
        address_dnssec=address_dnssec,
    )
