"""Network guard for the CLI subprocesses the lab tests start.

The lab tests run ``python -m smtpdiag ...`` in a subprocess with this directory on
``PYTHONPATH``; Python imports ``sitecustomize`` at start-up, which installs an audit
hook (PEP 578) on every socket connect, sendto and getaddrinfo. Anything aimed outside
loopback and the lab ranges ends the process at once with exit code 86 and a message on
stderr: the probe cannot turn the attempt into a quiet "connect failed" result.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import sys
from typing import Any

__all__ = ["GUARD_EXIT_CODE"]

GUARD_EXIT_CODE = 86

_ALLOWED = tuple(
    ipaddress.ip_network(n)
    for n in ("127.0.0.0/8", "::1/128", "198.51.100.0/24", "198.18.0.0/24", "2001:db8::/32")
)


def _allowed(host: object) -> bool:
    if host is None or host in ("", b""):
        return True
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    if host in ("localhost", "ip6-localhost"):
        return True
    try:
        addr = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False  # a name: resolving it would use the system resolver
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return addr.is_unspecified or any(addr in net for net in _ALLOWED)


def _deny(event: str, host: object) -> None:
    sys.stderr.write(
        f"smtpdiag lab network guard: {event} to {host!r} refused (only loopback and the "
        "lab ranges are allowed)\n"
    )
    sys.stderr.flush()
    os._exit(GUARD_EXIT_CODE)


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if event in ("socket.connect", "socket.sendto"):
        sock, address = args[0], args[1]
        if getattr(sock, "family", None) not in (socket.AF_INET, socket.AF_INET6):
            return
        host = address[0] if isinstance(address, tuple) and address else address
        if not _allowed(host):
            _deny(event, host)
    elif event == "socket.getaddrinfo" and not _allowed(args[0]):
        _deny(event, args[0])


sys.addaudithook(_hook)
