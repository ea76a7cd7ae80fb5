"""The TCP connect, done by hand so it has its own timing and outcome.

aiosmtplib could connect for us, but then connect time and connect errors would be
folded into its first read (STYLE habit 6). Here the socket is ours: a non-blocking
socket, ``loop.sock_connect``, then handed to asyncio/aiosmtplib.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket

from ..model import AddressFamily

__all__ = ["MAXSEG_SUPPORTED", "open_connection_socket", "quickack"]

#: The platform lets a socket ask for a maximum segment size before it connects
#: (``TCP_MAXSEG``: Linux, the BSDs, macOS).
MAXSEG_SUPPORTED = hasattr(socket, "TCP_MAXSEG")


def quickack(sock: socket.socket) -> None:
    """Ask Linux to ACK at once instead of delaying the ACK (``TCP_QUICKACK``).

    Why: against Postfix on 465 the server's Nagle meets the client's delayed ACK and
    the 220 arrives ~40 ms late; that would be our artifact, not the server's latency
    (STYLE habit 6). The flag is not sticky (the kernel clears it), so it is set again
    before each read. A no-op where the option does not exist.
    """
    opt = getattr(socket, "TCP_QUICKACK", None)
    if opt is None or sock.fileno() < 0:
        return
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.IPPROTO_TCP, opt, 1)


async def open_connection_socket(
    address: str,
    port: int,
    family: AddressFamily,
    source_address: str | None = None,
    mss: int | None = None,
) -> socket.socket:
    """Connect a TCP socket to ``address``:``port``; raise ``OSError`` on failure.

    The socket is closed if connecting fails or is cancelled (our timeout scopes
    cancel it), so a timed-out connect leaks nothing. ``mss``: the maximum segment
    size to use and to announce in the SYN (``TCP_MAXSEG`` set before connecting, so
    the server's segments are no larger either); ``None`` for the system's.
    """
    loop = asyncio.get_running_loop()
    af = socket.AF_INET6 if family is AddressFamily.IPV6 else socket.AF_INET
    sock = socket.socket(af, socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        # SMTP is a lock-step dialogue of small writes: Nagle would only add delay.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if mss is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, mss)
        if source_address is not None:
            sock.bind((source_address, 0))
        await loop.sock_connect(sock, (address, port))
    except BaseException:
        sock.close()
        raise
    return sock
