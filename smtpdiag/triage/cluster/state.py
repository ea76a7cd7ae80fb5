"""What the workers of a cluster run share, in Redis: route claims and results, domain
records, and the politeness gate of every destination address.

Keys (``{run}`` is the run id, ``{route}`` is ``address|port|tls-mode``):

- ``smtpdiag:run:{run}:claim:{route}``: the worker probing the route now (``SET NX``
  with an expiry the holder keeps renewing; a crashed worker's claim lapses and the
  next worker that needs the route takes it over);
- ``smtpdiag:run:{run}:route:{route}``: the route's result, once probed (JSON);
- ``smtpdiag:run:{run}:domain:{domain}``: the domain's record (JSON, first one wins:
  a task delivered twice returns the same record);
- ``smtpdiag:gate:{address}:leases`` / ``:starts`` / ``:backoff``: per destination
  address, across runs: open connections (leases that expire), recent connection
  starts (the rate window), and a pause after a rate-limit reply.

Every run key expires after :data:`RUN_TTL`; gate keys expire on their own.
Every time is Redis's clock (``TIME`` in the scripts), so machines need not agree.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from typing import Any

from ...model import RouteResult
from ..plan import RouteKey
from ..work import from_plain, to_plain

__all__ = ["RUN_TTL", "Shared", "route_name"]

#: Seconds the keys of a run are kept (route results and domain records): long enough
#: to ``--resume`` a run the next day with its ``--run-id``.
RUN_TTL = 2 * 24 * 3600
#: Milliseconds a route claim lives without renewal (the holder renews it every third).
CLAIM_TTL_MS = 6_000

# Take a connection slot towards an address: 0 when granted, else milliseconds to wait.
# KEYS: leases (zset: lease id -> expiry ms), starts (zset: lease id -> start ms), backoff.
# ARGV: limit, window ms, lease ttl ms, lease id.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local pause = redis.call('PTTL', KEYS[3])
if pause > 0 then return pause end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= limit then
  local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return math.max(1, math.min(50, tonumber(first[2]) - now))
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - window)
if redis.call('ZCARD', KEYS[2]) >= limit then
  local oldest = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
  return math.max(1, tonumber(oldest[2]) + window - now)
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[4])
redis.call('ZADD', KEYS[2], now, ARGV[4])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]) + 1000)
redis.call('PEXPIRE', KEYS[2], window + 1000)
return 0
"""

# Renew or drop a claim only while it is still ours. ARGV: token, ttl ms (0: drop).
_CLAIM = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if tonumber(ARGV[2]) == 0 then return redis.call('DEL', KEYS[1]) end
return redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
"""


def route_name(key: RouteKey) -> str:
    """A route key as it appears in Redis keys."""
    address, port, mode = key
    return f"{address}|{port}|{mode.value}"


class Shared:
    """One task's view of the cluster's shared state (an async Redis client)."""

    def __init__(self, client: Any, run_id: str) -> None:
        self._redis = client
        self._run = f"smtpdiag:run:{run_id}"
        self._acquire = client.register_script(_ACQUIRE)
        self._claim = client.register_script(_CLAIM)
        self.token = secrets.token_hex(8)
        #: Redis commands sent by this task (the benchmark's broker load).
        self.trips = 0

    # ------------------------------------------------------------- domain records

    def _domain_key(self, domain: str) -> str:
        return f"{self._run}:domain:{domain}"

    async def records(self, domains: list[str]) -> list[dict[str, Any] | None]:
        """The records already stored for ``domains`` (``None`` where there is none)."""
        if not domains:
            return []
        self.trips += 1
        raw = await self._redis.mget([self._domain_key(d) for d in domains])
        return [None if r is None else json.loads(r) for r in raw]

    async def keep_record(self, domain: str, plain: dict[str, Any]) -> dict[str, Any]:
        """Store the domain's record unless one is there; returns the stored one."""
        key = self._domain_key(domain)
        self.trips += 1
        if await self._redis.set(key, json.dumps(plain), nx=True, ex=RUN_TTL):
            return plain
        self.trips += 1
        stored = await self._redis.get(key)
        return plain if stored is None else dict(json.loads(stored))

    # ------------------------------------------------------------- routes

    async def route_result(self, key: RouteKey) -> RouteResult | None:
        self.trips += 1
        raw = await self._redis.get(f"{self._run}:route:{route_name(key)}")
        if raw is None:
            return None
        result = from_plain(RouteResult, json.loads(raw), "route")
        assert isinstance(result, RouteResult)
        return result

    async def keep_route(self, key: RouteKey, result: RouteResult) -> None:
        self.trips += 1
        await self._redis.set(
            f"{self._run}:route:{route_name(key)}", json.dumps(to_plain(result)), ex=RUN_TTL
        )

    async def claim(self, key: RouteKey) -> bool:
        """Take the route's claim; whether it is ours now."""
        self.trips += 1
        taken = await self._redis.set(
            f"{self._run}:claim:{route_name(key)}", self.token, nx=True, px=CLAIM_TTL_MS
        )
        return bool(taken)

    async def renew(self, key: RouteKey) -> None:
        self.trips += 1
        await self._claim(
            keys=[f"{self._run}:claim:{route_name(key)}"], args=[self.token, CLAIM_TTL_MS]
        )

    async def unclaim(self, key: RouteKey) -> None:
        self.trips += 1
        await self._claim(keys=[f"{self._run}:claim:{route_name(key)}"], args=[self.token, 0])

    # ------------------------------------------------------------- politeness gate

    @staticmethod
    def _gate(address: str) -> list[str]:
        base = f"smtpdiag:gate:{address}"
        return [f"{base}:leases", f"{base}:starts", f"{base}:backoff"]

    async def acquire(
        self, address: str, limit: int, window_s: float, lease_s: float, deadline: float
    ) -> str | None:
        """Wait for a connection slot towards ``address`` (the limit, the rate window and
        any pause, all workers together); the lease id, or ``None`` at ``deadline``
        (a ``loop.time()``)."""
        loop = asyncio.get_running_loop()
        lease = f"{self.token}:{secrets.token_hex(6)}"
        args = [limit, round(window_s * 1000), round(lease_s * 1000), lease]
        while True:
            self.trips += 1
            wait_ms = int(await self._acquire(keys=self._gate(address), args=args))
            if wait_ms == 0:
                return lease
            left = deadline - loop.time()
            if left <= 0:
                return None
            await asyncio.sleep(min(wait_ms / 1000, 0.5, left))

    async def release(self, address: str, lease: str) -> None:
        self.trips += 1
        await self._redis.zrem(self._gate(address)[0], lease)

    async def pause(self, address: str, seconds: float) -> None:
        """Every worker waits ``seconds`` before its next connection to ``address``."""
        self.trips += 1
        await self._redis.set(self._gate(address)[2], "1", px=max(1, round(seconds * 1000)))
