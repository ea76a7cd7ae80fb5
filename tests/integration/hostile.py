"""Hostile peers for the hardening tests: raw TCP servers on a thread, scripted by a function.

A :class:`RawServer` listens on a loopback address and runs ``handler(conn)`` for every
connection in its own thread, with blocking sockets. Blocking on purpose: a handler
that streams megabytes sends one preallocated chunk again and again, so the server
allocates (almost) nothing while the client side is measured with ``tracemalloc``.

The server records, for server-side assertions: every line the client sent, how
many connections were open at once (peak), and how many sessions saw ``QUIT``.
Everything is bounded: connections, lines kept, per-connection time.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
from collections.abc import Callable

__all__ = ["Conn", "RawServer", "stream"]

_MAX_CONNECTIONS = 200
_MAX_LINES = 10_000
_CONN_TIME_LIMIT = 20.0


class Conn:
    """The server side of one connection, as a handler sees it."""

    def __init__(self, sock: socket.socket, server: RawServer) -> None:
        self.sock: socket.socket | ssl.SSLSocket = sock
        self.server = server
        self._buffer = b""
        self.deadline = time.monotonic() + _CONN_TIME_LIMIT
        sock.settimeout(5.0)

    def send(self, data: bytes | str) -> None:
        """Send everything (raises ``OSError`` once the client has gone)."""
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogateescape")
        self.sock.sendall(data)

    def readline(self) -> bytes:
        """One line from the client (recorded), ``b""`` at EOF or after 4 KiB junk."""
        while b"\n" not in self._buffer and len(self._buffer) < 4096:
            chunk = self.sock.recv(4096)
            if not chunk:
                return b""
            self._buffer += chunk
        line, sep, rest = self._buffer.partition(b"\n")
        self._buffer = rest
        self.server._record(line.rstrip(b"\r"))
        return line + sep

    def wait_closed(self) -> None:
        """Read (and record) until the client closes or the time limit."""
        with contextlib.suppress(OSError):
            while time.monotonic() < self.deadline and self.readline():
                pass

    def start_tls(self, context: ssl.SSLContext) -> None:
        """Server side of a TLS handshake on this connection."""
        self.sock = context.wrap_socket(self.sock, server_side=True)
        self.sock.settimeout(5.0)


def stream(conn: Conn, chunk: bytes, total: int) -> int:
    """Send ``chunk`` repeatedly, up to ``total`` bytes or until the client goes."""
    sent = 0
    with contextlib.suppress(OSError):
        while sent < total and time.monotonic() < conn.deadline:
            conn.sock.sendall(chunk)
            sent += len(chunk)
    return sent


class RawServer:
    """A TCP server on ``host``:``port`` (0: ephemeral) running ``handler`` per connection.

    Use as a context manager. Attributes after use: :attr:`lines` (every line clients
    sent, decoded), :attr:`peak` (most connections open at once), :attr:`connections`,
    :attr:`quits` (sessions in which the client sent QUIT), :attr:`sent` (bytes
    streamed by :func:`stream` calls that set it).
    """

    def __init__(
        self, handler: Callable[[Conn], None], host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.handler = handler
        self.host = host
        self.lines: list[str] = []
        self.connections = 0
        self.active = 0
        self.peak = 0
        self.quits = 0
        self.sent = 0
        self._lock = threading.Lock()
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._listener = socket.socket(family, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((host, port))
        self._listener.listen(64)
        self._listener.settimeout(0.02)
        self.port = int(self._listener.getsockname()[1])
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._acceptor = threading.Thread(target=self._accept_loop, daemon=True)

    def _record(self, line: bytes) -> None:
        text = line.decode("ascii", "replace")
        with self._lock:
            if len(self.lines) < _MAX_LINES:
                self.lines.append(text)
            if text.upper().startswith("QUIT"):
                self.quits += 1

    def verbs(self) -> list[str]:
        """The command verbs clients sent, upper case."""
        with self._lock:
            return [line.split(" ", 1)[0].upper() for line in self.lines]

    def _accept_loop(self) -> None:
        while not self._stop.is_set() and self.connections < _MAX_CONNECTIONS:
            try:
                sock, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.connections += 1
                self.active += 1
                self.peak = max(self.peak, self.active)
            thread = threading.Thread(target=self._serve, args=(sock,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, sock: socket.socket) -> None:
        conn = Conn(sock, self)
        try:
            self.handler(conn)
        except (OSError, ValueError):
            pass  # the client went away (or TLS failed): that is the point here
        finally:
            with self._lock:
                self.active -= 1
            with contextlib.suppress(OSError):
                conn.sock.close()

    def __enter__(self) -> RawServer:
        self._acceptor.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._acceptor.join(2.0)
        self._listener.close()
        for thread in self._threads:
            thread.join(_CONN_TIME_LIMIT + 1)
