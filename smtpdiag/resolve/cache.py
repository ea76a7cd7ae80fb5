"""A resolver shared by many resolutions, with an answer cache (``smtpdiag bulk``).

Thousands of domains hosted by one provider name the same few MX hosts: with the
cache their A and AAAA questions are asked once per TTL instead of once per domain,
and questions already on their way are shared instead of asked again (a burst of
domains of one provider would otherwise ask for its MX host's address at once).
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from typing import Any

import dns.asyncresolver
import dns.name
import dns.rdatatype
import dns.resolver

from ..config import ResolverConfig
from .resolver import build_resolver

__all__ = ["CachingResolver", "caching_resolver"]

_Key = tuple[object, str]
# Kept: the MX hosts' addresses, asked by every domain of a provider. A domain's own MX
# answer is asked once per run (domains are deduplicated): keeping it would only grow
# memory by a full DNS message per domain.
_KEPT = frozenset({"A", "AAAA"})


class CachingResolver(dns.asyncresolver.Resolver):
    """An async resolver that answers repeated questions from memory.

    A and AAAA answers (NOERROR, with or without records) are kept until their TTL
    runs out, at most ``size`` of them (least recently used dropped). Failures (NXDOMAIN, SERVFAIL,
    timeouts) are not kept here: dnspython's own cache keeps NXDOMAIN per RFC 2308,
    and a failure is worth asking again.
    """

    def __init__(self, size: int) -> None:
        super().__init__(configure=False)
        self._size = size
        self._answers: OrderedDict[_Key, dns.resolver.Answer] = OrderedDict()
        self._asking: dict[_Key, asyncio.Future[dns.resolver.Answer]] = {}

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
        if key[1] in _KEPT:
            self._answers[key] = answer
            while len(self._answers) > self._size:
                self._answers.popitem(last=False)
        return answer


def caching_resolver(
    config: ResolverConfig, lifetime: float, *, size: int = 50_000
) -> CachingResolver:
    """A resolver configured like :func:`~.resolver.build_resolver`'s (``lifetime``: the
    per-question limit, ``--dns-timeout``), with the cache."""
    plain = build_resolver(config, lifetime)
    resolver = CachingResolver(size)
    resolver.nameservers = plain.nameservers
    # No dnspython cache on top: it would keep every domain's MX answer (a full DNS
    # message each) though a run asks for each domain once.
    resolver.cache = None
    resolver.search = []
    resolver.use_search_by_default = False
    resolver.rotate = False
    resolver.retry_servfail = plain.retry_servfail
    resolver.timeout = plain.timeout
    resolver.use_edns(plain.edns, plain.ednsflags, plain.payload)
    return resolver
