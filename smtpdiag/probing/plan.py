"""Which routes to probe: pure policy, no I/O (STYLE habit 7).

A route is (MX host, address, port). Only MX targets that are host names (or, against
RFC 5321 5.1, aliases) have addresses worth probing; IP literals and hosts without
addresses are reported by the resolve stage and produce no route.
"""

from __future__ import annotations

import functools
import ipaddress

from ..config import ProbeConfig
from ..model import AddressFamily, MxTargetKind, Resolution, Route
from .addresses import AddressPolicy, address_policy

__all__ = ["address_family", "plan_routes"]

_PROBEABLE = frozenset({MxTargetKind.HOSTNAME, MxTargetKind.CNAME})


@functools.lru_cache(maxsize=4096)  # pure; asked for the same few hosts per domain
def address_family(address: str) -> AddressFamily | None:
    """The family of an IP address given as text, or ``None`` if it is not one."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    return AddressFamily.IPV6 if ip.version == 6 else AddressFamily.IPV4


@functools.lru_cache(maxsize=4096)
def _placed(address: str, allow_targets: tuple[str, ...]) -> tuple[str, AddressPolicy]:
    """An address in canonical form ("::1" and "0:0::1" are one address) and what the
    address policy says of it (pure; a bulk run plans the same few addresses for
    thousands of domains)."""
    canonical = str(ipaddress.ip_address(address))
    networks = tuple(ipaddress.ip_network(text) for text in allow_targets)
    return canonical, address_policy(canonical, networks)


def plan_routes(resolution: Resolution, config: ProbeConfig) -> tuple[Route, ...]:
    """Every probe-able (MX, address, port) of ``resolution``, in delivery order.

    Order: MX rank (most preferred group first), then the MX hosts in the order the
    resolve stage gives them (preference, answer order), then each host's addresses
    in answer order, then ``config.ports`` in the given order. Addresses outside
    ``config.probe_families`` (``-4``/``-6``, narrowed to the source address's
    family) are skipped: this is where ``-4``/``-6`` apply (the resolve
    stage asks A and AAAA whatever they say, so a host may end with no route here
    though it has addresses; the diagnosis calls that "not probed"). Duplicates (the
    same host listed twice) are dropped, and at most ``config.max_routes`` routes are
    returned (hostile DNS can publish hundreds of MX records).

    Every route carries its address's class and whether ``config.allow_targets``
    covers it (:mod:`.addresses`); routes to addresses the policy forbids are still
    planned, so that the report shows them, and the runner records them as not
    attempted instead of connecting.
    """
    hosts = sorted(
        (h for h in resolution.hosts if h.kind in _PROBEABLE),
        key=lambda h: (h.rank, h.preference),
    )
    routes: list[Route] = []
    seen: set[tuple[str, str, int]] = set()
    families = config.probe_families
    for host in hosts:
        for address in host.addresses:
            family = address_family(address)
            if family is None or family not in families:
                continue
            canonical, policy = _placed(address, config.allow_targets)
            for port in config.ports:
                key = (host.name.lower(), canonical, port)
                if key in seen:
                    continue
                seen.add(key)
                routes.append(
                    Route(
                        mx=host.name,
                        preference=host.preference,
                        rank=host.rank,
                        address=canonical,
                        family=family,
                        port=port,
                        tls_mode=config.tls_mode(port),
                        address_class=policy.address_class,
                        allowed=policy.allowed,
                    )
                )
                if len(routes) >= config.max_routes:
                    return tuple(routes)
    return tuple(routes)
