"""Politeness towards one destination address, shareable between probes.

An :class:`AddressGate` bounds the connections open at the same time to one address
and, optionally, the rate at which new ones start. An :class:`AddressGates` registry
hands out one gate per address: a probe that is given a registry shares its gates
with every other probe given the same registry (``smtpdiag serve`` keeps one for the
process, so targets whose MX hosts share an address never open more than the limit
to it together); a probe given none makes its own, for its own routes only.

Addresses are keyed as servers, not as spellings: ``::ffff:198.51.100.1`` (an
IPv4-mapped AAAA, RFC 4291 2.5.5.2) is the gate of ``198.51.100.1``.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
from collections import deque

__all__ = ["MAX_GATES", "AddressGate", "AddressGates", "address_key"]

#: Gates a registry keeps; past it, idle gates (no holder, no start inside the rate
#: window) are forgotten, so a long-running service stays bounded.
MAX_GATES = 4096


@functools.lru_cache(maxsize=65536)
def address_key(address: str) -> str:
    """The gate key of ``address``, one per host: its canonical text, IPv4-mapped IPv6
    as IPv4 (``::ffff:198.51.100.1`` is ``198.51.100.1``, RFC 4291 2.5.5.2)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip)


class AddressGate:
    """Politeness towards one address: ``limit`` connection slots and, with a rate, a
    sliding window (at most ``limit`` connection starts in any ``limit * 60 / rate``
    seconds)."""

    def __init__(self, limit: int, rate_per_minute: float | None = None) -> None:
        self._slots = asyncio.Semaphore(limit)
        self._limit = limit
        self._held = 0
        self._window = 0.0 if rate_per_minute is None else limit * 60.0 / rate_per_minute
        # Each start is a one-item list, so the holder can move it to the instant its
        # connection really starts (after an overall limit let it through).
        self._starts: deque[list[float]] = deque(maxlen=limit)
        self._lock = asyncio.Lock()

    @property
    def held(self) -> int:
        """Slots held now."""
        return self._held

    def idle(self, now: float) -> bool:
        """No slot held and no start inside the rate window (forgetting it changes
        nothing)."""
        if self._held or self._lock.locked():
            return False
        return not self._starts or self._starts[-1][0] + self._window <= now

    async def acquire(self) -> list[float]:
        """Wait for a slot and the rate window; returns this start's stamp."""
        await self._slots.acquire()
        self._held += 1
        try:
            async with self._lock:
                loop = asyncio.get_running_loop()
                if self._window and len(self._starts) == self._starts.maxlen:
                    wait = self._starts[0][0] + self._window - loop.time()
                    if wait > 0:
                        await asyncio.sleep(wait)
                stamp = [loop.time()]
                self._starts.append(stamp)
                return stamp
        except BaseException:
            self.release()
            raise

    @staticmethod
    def started(stamp: list[float]) -> None:
        """The connection starts now: the window counts from here."""
        stamp[0] = asyncio.get_running_loop().time()

    def release(self) -> None:
        self._held -= 1
        self._slots.release()


class AddressGates:
    """One :class:`AddressGate` per destination address, shared by whoever holds the
    registry (see the module docstring).

    Attributes:
        limit: Connections open at the same time to one address.
        rate_per_minute: New connections per minute to one address; ``None``: no rate.
    """

    def __init__(self, limit: int = 1, rate_per_minute: float | None = None) -> None:
        if not 1 <= limit <= 64:
            raise ValueError("per-address limit must be 1-64")
        if rate_per_minute is not None and not 0 < rate_per_minute <= 6000:
            raise ValueError("per-address rate must be > 0 and <= 6000 per minute")
        self.limit = limit
        self.rate_per_minute = rate_per_minute
        self._gates: dict[str, AddressGate] = {}

    def __len__(self) -> int:
        return len(self._gates)

    def gate(self, address: str) -> AddressGate:
        """The gate of ``address`` (made on first use)."""
        key = address_key(address)
        gate = self._gates.get(key)
        if gate is None:
            if len(self._gates) >= MAX_GATES:
                self._forget_idle()
            gate = self._gates[key] = AddressGate(self.limit, self.rate_per_minute)
        return gate

    def _forget_idle(self) -> None:
        now = asyncio.get_running_loop().time()
        for key in [k for k, g in self._gates.items() if g.idle(now)]:
            del self._gates[key]
