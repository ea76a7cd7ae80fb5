"""A resolver shared by many resolutions, with an answer cache (``smtpdiag bulk``).

Thousands of domains hosted by one provider name the same few MX hosts: with the
cache their A and AAAA questions are asked once per TTL instead of once per domain,
and questions already on their way are shared instead of asked again (a burst of
domains of one provider would otherwise ask for its MX host's address at once).

Every question first takes the quick path (:meth:`CachingResolver.quick`): one
datagram to the first nameserver and a plain reply read without dnspython's message
objects; anything else goes through dnspython's full resolution.
"""

from __future__ import annotations

import asyncio
import os
import socket
import struct
import time
from collections import OrderedDict
from dataclasses import replace
from typing import Any

import dns.asyncresolver
import dns.name
import dns.nameserver
import dns.rdataclass
import dns.rdatatype
import dns.resolver

from ..config import ResolverConfig
from ..model import DnsOutcome
from .plainreply import answers_question, read_plain
from .resolver import RawAnswer, answer_of, build_resolver, negative_of, server_text

__all__ = ["CachingResolver", "caching_resolver"]

_Key = tuple[object, str]
# Kept: the MX hosts' addresses, asked by every domain of a provider. A domain's own MX
# answer is asked once per run (domains are deduplicated): keeping it would only grow
# memory by a full DNS message per domain.
_KEPT = frozenset({"A", "AAAA"})
# The quick path waits at most this share of a question's lifetime (and this many
# seconds) before leaving the question to dnspython's full resolution.
_QUICK_SHARE = 0.5
_QUICK_WAIT = 1.0
_RD = 0x0100  # header flags of a query: recursion desired


def _query_wire(
    qname: dns.name.Name, rdtype: int, payload: int | None, flags: int, ednsflags: int
) -> tuple[int, bytes, bytes]:
    """A standard query for ``qname``/``rdtype`` class IN with header ``flags`` and an
    EDNS(0) OPT record advertising ``payload`` with ``ednsflags`` (DO), unless
    ``payload`` is ``None`` (what dnspython would send): its id, the datagram and its
    question section."""
    qid = int.from_bytes(os.urandom(2), "big")
    question = (qname.to_wire() or b"") + struct.pack("!HH", rdtype, dns.rdataclass.IN)
    wire = struct.pack("!HHHHHH", qid, flags, 1, 0, 0, 0 if payload is None else 1) + question
    if payload is not None:
        # OPT's TTL field: extended RCODE, version 0, then the flags (RFC 6891 6.1.3).
        wire += b"\x00" + struct.pack("!HHIH", dns.rdatatype.OPT, payload, ednsflags & 0xFFFF, 0)
    return qid, wire, question


class CachingResolver(dns.asyncresolver.Resolver):
    """An async resolver that answers repeated questions from memory.

    A and AAAA answers (NOERROR, with or without records) are kept until their TTL
    runs out, at most ``size`` of them (least recently used dropped). Failures (NXDOMAIN, SERVFAIL,
    timeouts) are not kept here: dnspython's own cache keeps NXDOMAIN per RFC 2308,
    and a failure is worth asking again.
    """

    def __init__(
        self, size: int, *, kept: frozenset[str] | None = _KEPT, max_ttl: float | None = None
    ) -> None:
        super().__init__(configure=False)
        self._size = size
        # The question types whose answers are kept (``None``: all of them), and the
        # longest any answer is kept whatever its TTL says.
        self._kept = kept
        self._max_ttl = max_ttl
        self._answers: OrderedDict[_Key, dns.resolver.Answer] = OrderedDict()
        # The same answers as the model reads them (query text, records), by (name, type),
        # with their expiry: a provider's MX host is looked up by every one of its
        # domains, and turning the answer into the model each time cost more than asking.
        self._raw: OrderedDict[tuple[str, str], tuple[RawAnswer, float]] = OrderedDict()
        self._asking: dict[_Key, asyncio.Future[dns.resolver.Answer]] = {}
        self._quick: dict[tuple[str, str], asyncio.Future[RawAnswer | None]] = {}

    async def resolve(
        self,
        qname: dns.name.Name | str,
        rdtype: dns.rdatatype.RdataType | str = dns.rdatatype.A,
        *args: Any,
        **kwargs: Any,
    ) -> dns.resolver.Answer:
        # A Name compares and hashes case-insensitively; text is lower-cased here.
        kind = rdtype.upper() if isinstance(rdtype, str) else dns.rdatatype.to_text(rdtype)
        key = (qname if isinstance(qname, dns.name.Name) else qname.lower(), kind)
        answer = self._answers.get(key)
        if answer is not None:
            if answer.expiration > time.time():
                self._answers.move_to_end(key)
                return answer
            del self._answers[key]
        asking = self._asking.get(key)
        if asking is not None:
            try:
                return await asyncio.shield(asking)
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if not asking.cancelled() or (task is not None and task.cancelling()):
                    raise
                # The asker we waited for was cancelled (its own deadline), not us: ask.
            return await super().resolve(qname, rdtype, *args, **kwargs)
        future: asyncio.Future[dns.resolver.Answer] = asyncio.get_running_loop().create_future()
        self._asking[key] = future
        try:
            answer = await super().resolve(qname, rdtype, *args, **kwargs)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning if unshared
            raise
        finally:
            self._asking.pop(key, None)
        future.set_result(answer)
        if self._keeps(key[1]):
            answer.expiration = self._expiry(answer.expiration - time.time())
            self._answers[key] = answer
            while len(self._answers) > self._size:
                self._answers.popitem(last=False)
        return answer

    def _keeps(self, kind: str) -> bool:
        return self._kept is None or kind in self._kept

    def _expiry(self, ttl: float) -> float:
        """When an answer with ``ttl`` seconds to live leaves the cache."""
        if self._max_ttl is not None:
            ttl = min(ttl, self._max_ttl)
        return time.time() + ttl

    def peek(self, name: str, rdtype: str) -> RawAnswer | None:
        """A kept answer to ``name``/``rdtype`` as :func:`~.resolver.query_raw` gives it,
        without asking (``duration_ms`` 0: it took no time), or ``None``."""
        key = (name.rstrip(".").lower() or ".", rdtype.upper())  # the root stays "."
        entry = self._raw.get(key)
        if entry is None:
            return None
        raw, expires = entry
        if expires <= time.time():
            del self._raw[key]
            return None
        self._raw.move_to_end(key)
        return RawAnswer(replace(raw.query, duration_ms=0.0), raw.records, raw.authenticated)

    def keep(self, name: str, rdtype: str, raw: RawAnswer) -> None:
        """Remember ``raw`` for :meth:`peek` while its answer is cached here."""
        kind = rdtype.upper()
        if not self._keeps(kind) or raw.query.outcome not in (DnsOutcome.OK, DnsOutcome.NODATA):
            return
        qname = name.rstrip(".") or "."
        answer = self._answers.get((dns.name.from_text(qname), kind))
        if answer is None:
            return
        self._raw[(qname.lower(), kind)] = (raw, answer.expiration)
        while len(self._raw) > self._size:
            self._raw.popitem(last=False)

    async def quick(self, name: str, rdtype: str, lifetime: float) -> RawAnswer | None:
        """The question answered from a plain reply (:mod:`.plainreply`), as
        :func:`~.resolver.query_raw` gives it, without dnspython's resolution loop,
        message and answer objects; ``None`` when no plain reply came within a share of
        ``lifetime``: the caller then asks through the full resolution, which reports
        what went wrong with its usual detail, within the lifetime left.

        Most questions of a bulk run get a plain reply over UDP from the first
        nameserver, and for those dnspython's resolution (a request message, a datagram
        endpoint, the retry bookkeeping) cost more than the answer. A and AAAA answers
        (records or NODATA) are kept for their TTL (:meth:`peek`); the same question
        asked while it is on its way is not asked again but waits for it.
        """
        if lifetime <= 0:
            return None
        kind = rdtype.upper()
        text = name.rstrip(".") or "."
        key = (text.lower(), kind)
        asking = self._quick.get(key)
        if asking is not None:
            return await asyncio.shield(asking)
        future: asyncio.Future[RawAnswer | None] = asyncio.get_running_loop().create_future()
        self._quick[key] = future
        raw: RawAnswer | None = None
        try:
            raw = await self._plain(text, kind, lifetime)
        finally:
            del self._quick[key]
            future.set_result(raw)  # None (also when cancelled): the waiters ask in full
        return raw

    async def _plain(self, text: str, kind: str, lifetime: float) -> RawAnswer | None:
        started = time.monotonic()
        qname = dns.name.from_text(text)
        rdtype = dns.rdatatype.from_text(kind)
        got = await self._exchange(qname, rdtype, lifetime)
        if got is None:
            return None
        data, question, server = got
        plain = read_plain(data, qname, rdtype, question)
        if plain is None:
            return None
        duration_ms = round((time.monotonic() - started) * 1000.0, 3)
        if not plain.exists:
            raw = negative_of(
                text, kind, DnsOutcome.NXDOMAIN, server, duration_ms, plain.authenticated
            )
            if self._kept is None:  # RFC 2308: kept for the SOA's negative TTL
                self._remember(text, kind, raw, plain.ttl)
            return raw
        if not plain.records:
            raw = negative_of(
                text, kind, DnsOutcome.NODATA, server, duration_ms, plain.authenticated
            )
        else:
            raw = answer_of(text, kind, plain.records, server, duration_ms, plain.authenticated)
        if self._keeps(kind):
            self._remember(text, kind, raw, plain.ttl)
        return raw

    def _remember(self, text: str, kind: str, raw: RawAnswer, ttl: int) -> None:
        if ttl <= 0:  # a TTL of 0 (or a negative answer without SOA): not to be kept
            return
        key = (text.lower(), kind)
        self._raw[key] = (raw, self._expiry(ttl))
        self._raw.move_to_end(key)
        while len(self._raw) > self._size:
            self._raw.popitem(last=False)

    async def _exchange(
        self, qname: dns.name.Name, rdtype: dns.rdatatype.RdataType, lifetime: float
    ) -> tuple[bytes, bytes, str] | None:
        """Our query to the first nameserver from a fresh socket (its own random port,
        as dnspython does) and the first reply to it: (datagram, our question section,
        the server as the model names it); ``None`` without a reply in the time."""
        server = self.nameservers[0] if self.nameservers else None
        wait = min(lifetime * _QUICK_SHARE, _QUICK_WAIT)
        if not isinstance(server, dns.nameserver.Do53Nameserver) or wait <= 0:
            return None
        address, port = server.answer_nameserver(), server.answer_port()
        qid, wire, question = _query_wire(
            qname,
            rdtype,
            self.payload if self.edns >= 0 else None,
            self.flags if self.flags is not None else _RD,
            self.ednsflags,
        )
        loop = asyncio.get_running_loop()
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        try:
            with socket.socket(family, socket.SOCK_DGRAM) as sock:
                sock.setblocking(False)
                sock.connect((address, port))  # replies from elsewhere never reach us
                await loop.sock_sendall(sock, wire)
                async with asyncio.timeout(wait):
                    while True:
                        data = await loop.sock_recv(sock, 65535)
                        if answers_question(data, qid, question):
                            break  # else: another question's reply (as dnspython: ignored)
        except (OSError, TimeoutError):
            return None
        return data, question, server_text(address, port)


class _CappedCache(dns.resolver.LRUCache):
    """dnspython's LRU answer cache (positive, NODATA and NXDOMAIN answers, each for
    its TTL, the negative ones for the SOA's per RFC 2308), no answer kept longer than
    ``max_ttl`` seconds."""

    def __init__(self, size: int, max_ttl: float) -> None:
        super().__init__(size)
        self._max_ttl = max_ttl

    def put(self, key: Any, value: dns.resolver.Answer) -> None:
        value.expiration = min(value.expiration, time.time() + self._max_ttl)
        super().put(key, value)


def caching_resolver(
    config: ResolverConfig,
    lifetime: float,
    *,
    size: int = 50_000,
    dnssec: bool = False,
    keep_all: bool = False,
    max_ttl: float | None = None,
) -> CachingResolver:
    """A resolver configured like :func:`~.resolver.build_resolver`'s (``lifetime``: the
    per-question limit, ``--dns-timeout``; ``dnssec``: DO and AD set, for the policy
    stage's DNSSEC verdicts), with the cache.

    ``keep_all``: keep every answer, not only A and AAAA: MX, TLSA, TXT, NODATA and
    NXDOMAIN too (a service asking the same domains' questions every round); at most
    ``size`` of each kind, none longer than ``max_ttl`` seconds whatever its TTL."""
    plain = build_resolver(config, lifetime, dnssec=dnssec)
    resolver = CachingResolver(size, kept=None if keep_all else _KEPT, max_ttl=max_ttl)
    resolver.nameservers = plain.nameservers
    # No dnspython cache on top for a run (bulk): it would keep every domain's MX answer
    # (a full DNS message each) though a run asks for each domain once. A service asks
    # again every round: there it keeps the answers (and NXDOMAIN) the full path got.
    resolver.cache = (
        _CappedCache(size, max_ttl if max_ttl is not None else float("inf")) if keep_all else None
    )
    resolver.search = []
    resolver.use_search_by_default = False
    resolver.rotate = False
    resolver.retry_servfail = plain.retry_servfail
    resolver.timeout = plain.timeout
    resolver.use_edns(plain.edns, plain.ednsflags, plain.payload)
    if dnssec:
        # AD in the header and DO in OPT, on the quick path's query too; a signed reply
        # (RRSIGs beside the answer) is not plain and goes through dnspython.
        resolver.flags = plain.flags
    return resolver
