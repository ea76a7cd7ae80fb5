"""Address policy: which MX addresses the probe may connect to (pure, no I/O).

An MX is published by whoever controls the domain, so its addresses are input from
outside: a hostile domain can point its MX at 127.0.0.1, 169.254.169.254 or an RFC 1918
address and make a health-check service connect to its own internal services. Mail
from the Internet cannot arrive at such an address either, so probing it tells
nothing about deliverability. Only global unicast addresses are connected to by
default; ``ProbeConfig.allow_targets`` names networks that may be probed all the
same (a lab, a private mail network, the test kit). Unspecified, broadcast and
multicast addresses are never connected to: no TCP peer lives there.

Classes follow the IANA special-purpose registries (RFC 6890 and updates).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from ..config import LOOPBACK_NETWORKS
from ..model import AddressClass

__all__ = [
    "LOOPBACK_NETWORKS",
    "NEVER_CONNECT",
    "AddressPolicy",
    "address_policy",
    "classify_address",
]

_IP = ipaddress.IPv4Address | ipaddress.IPv6Address
_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


#: Classes never connected to, whatever ``allow_targets`` says.
NEVER_CONNECT = frozenset(
    {AddressClass.UNSPECIFIED, AddressClass.BROADCAST, AddressClass.MULTICAST}
)


def _nets(*texts: str) -> tuple[_Network, ...]:
    return tuple(ipaddress.ip_network(t) for t in texts)


# Ordered: the first row that contains the address names its class. Rows before
# Python's own predicates because ``is_private`` lumps documentation, benchmarking
# and shared address space together, and 100.64/10 is neither private nor global there.
_TABLE: tuple[tuple[AddressClass, tuple[_Network, ...]], ...] = (
    (AddressClass.UNSPECIFIED, _nets("0.0.0.0/8", "::/128")),  # RFC 1122 3.2.1.3, RFC 4291
    (AddressClass.BROADCAST, _nets("255.255.255.255/32")),  # RFC 919
    (AddressClass.MULTICAST, _nets("224.0.0.0/4", "ff00::/8")),  # RFC 5771, RFC 4291
    (AddressClass.LOOPBACK, _nets("127.0.0.0/8", "::1/128")),  # RFC 1122, RFC 4291
    # RFC 3927 (incl. 169.254.169.254, the cloud metadata service), RFC 4291
    (AddressClass.LINK_LOCAL, _nets("169.254.0.0/16", "fe80::/10")),
    (
        AddressClass.PRIVATE,
        # RFC 1918, RFC 6598 shared address space, RFC 4193 unique local
        _nets("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7"),
    ),
    (
        AddressClass.DOCUMENTATION,
        # RFC 5737 TEST-NET-2, RFC 2544 benchmarking, RFC 3849 and RFC 9637: the ranges
        # a lab may use. TEST-NET-1 and -3 are not written here (no code of ours names
        # them); the stdlib's registry makes them non-global, so they read "reserved".
        _nets(
            "198.51.100.0/24",
            "198.18.0.0/15",
            "2001:db8::/32",
            "3fff::/20",
        ),
    ),
)


def _effective(ip: _IP) -> _IP:
    # RFC 4291 2.5.5.2: ::ffff:a.b.c.d is the IPv4 host a.b.c.d (a dual-stack socket
    # connects to it over IPv4), so it is judged as that address.
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def classify_address(address: str) -> AddressClass:
    """The class of an IP address given as text; ``reserved`` if it does not parse."""
    try:
        ip = _effective(ipaddress.ip_address(address))
    except ValueError:
        return AddressClass.RESERVED
    for cls, networks in _TABLE:
        if any(ip.version == net.version and ip in net for net in networks):
            return cls
    # 240/4, 192.0.0/24, 2001::/23, 64:ff9b:1::/48, ... (everything else not global)
    return AddressClass.GLOBAL if ip.is_global else AddressClass.RESERVED


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    """The verdict on one address.

    Attributes:
        address_class: What kind of address it is.
        allowed: It lies inside one of the allowed networks.
        connect: The probe may connect to it.
    """

    address_class: AddressClass
    allowed: bool
    connect: bool


def address_policy(address: str, allowed_networks: Sequence[_Network]) -> AddressPolicy:
    """May the probe connect to ``address``, given the allowed networks?

    Global unicast addresses may; others only inside ``allowed_networks``, and never
    the classes in :data:`NEVER_CONNECT`. An IPv4-mapped IPv6 address is inside a
    network when its IPv4 address is (or the IPv6 form itself is).
    """
    cls = classify_address(address)
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return AddressPolicy(cls, False, False)
    candidates = {ip, _effective(ip)}
    allowed = any(
        c.version == net.version and c in net for c in candidates for net in allowed_networks
    )
    connect = cls not in NEVER_CONNECT and (cls is AddressClass.GLOBAL or allowed)
    return AddressPolicy(cls, allowed, connect)
