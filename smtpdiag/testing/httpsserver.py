"""A loopback HTTPS server for MTA-STS policies, for tests and ``smtpdiag demo``.

It serves ``/.well-known/mta-sts.txt`` with a certificate from a
:class:`~smtpdiag.testing.certs.TestPki` (``good``, ``expired``, ``wrong-name`` or
``untrusted``) and a response chosen per test: any status, content type and body, a
delay before the status line, a body dripped slowly, a huge body (generated as it is
sent, never held in memory), a redirect, chunked framing, or raw bytes that are not
HTTP at all::

    async with PolicyHttpsServer(pki, PolicyResponse(policy_text("enforce", ["mx.test"]))) as web:
        config = ProbeConfig(policy=PolicyConfig(https_port=web.port), ...)

The policy host ``mta-sts.<domain>`` must resolve to the server's address (127.0.0.1
by default) through the test DNS server. Any other path gets 404. From synchronous code
(the demo) use :class:`ThreadedPolicyServer`.

Only ``cryptography`` (through :mod:`.certs`) and the standard library are used, so a
plain install can run it. Everything is bounded: request head size, connections,
session time, delays and drip.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .threaded import AsyncServerContext, ThreadedServer

if TYPE_CHECKING:
    from .certs import TestPki

__all__ = [
    "POLICY_PATH",
    "PolicyHttpsServer",
    "PolicyResponse",
    "ReceivedRequest",
    "ThreadedPolicyServer",
    "policy_text",
]

#: The path senders fetch (RFC 8461 3.3).
POLICY_PATH = "/.well-known/mta-sts.txt"

_MAX_HEAD = 16 * 1024
_MAX_CONNECTIONS = 64
_SESSION_LIMIT = 60.0
_MAX_DELAY = 30.0
_HANDSHAKE_TIMEOUT = 5.0
_LOG_SIZE = 1000
_FILLER_CHUNK = 16 * 1024
_MAX_SIZE = 256 << 20

_REASONS = {
    200: "OK",
    301: "Moved Permanently",
    302: "Found",
    307: "Temporary Redirect",
    404: "Not Found",
    500: "Internal Server Error",
}


def policy_text(
    mode: str = "enforce",
    mx: Iterable[str] = ("mx.test",),
    max_age: int | str = 86400,
    *,
    version: str = "STSv1",
    newline: str = "\r\n",
) -> bytes:
    """A policy file: ``version``, ``mode``, one ``mx`` line per pattern, ``max_age``."""
    lines = [f"version: {version}", f"mode: {mode}"]
    lines += [f"mx: {pattern}" for pattern in mx]
    lines.append(f"max_age: {max_age}")
    return (newline.join(lines) + newline).encode()


@dataclass(frozen=True, slots=True)
class PolicyResponse:
    """What the server answers to a request for the policy.

    Attributes:
        body: The body (the start of it when ``size`` is larger).
        status: HTTP status code.
        content_type: ``Content-Type`` value; ``None`` sends none.
        location: ``Location`` header (redirects).
        headers: More headers, as (name, value).
        delay: Seconds to wait before the status line (at most 30).
        drip: Seconds between body pieces of ``drip_size`` bytes (slow body).
        drip_size: Bytes per piece when dripping.
        size: Total body bytes: ``body`` followed by filler up to this size (huge body).
        content_length: Send ``Content-Length`` (else the body ends when the connection
            closes), unless ``chunked``.
        chunked: Send the body with ``Transfer-Encoding: chunked``.
        raw: Bytes sent as they are instead of a response (malformed HTTP).
        abort: End the connection without a TLS close_notify (a TCP close only), as a
            crashed or truncating server would.
    """

    body: bytes = b""
    status: int = 200
    content_type: str | None = "text/plain"
    location: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    delay: float = 0.0
    drip: float = 0.0
    drip_size: int = 1
    size: int | None = None
    content_length: bool = True
    chunked: bool = False
    raw: bytes | None = None
    abort: bool = False

    def __post_init__(self) -> None:
        if not 0 <= self.delay <= _MAX_DELAY or not 0 <= self.drip <= _MAX_DELAY:
            raise ValueError(f"delay and drip must be 0-{_MAX_DELAY} seconds")
        if self.drip_size < 1 or (self.size is not None and not 0 <= self.size <= _MAX_SIZE):
            raise ValueError("drip_size must be positive and size at most 256 MiB")

    @property
    def total(self) -> int:
        """Body bytes the response carries."""
        return max(len(self.body), self.size or 0)

    def pieces(self) -> Iterable[bytes]:
        """The body in pieces (filler generated on the way)."""
        step = self.drip_size if self.drip > 0 else _FILLER_CHUNK
        sent = 0
        total = self.total
        while sent < total:
            n = min(step, total - sent)
            piece = self.body[sent : sent + n]
            piece += b"x" * (n - len(piece))  # filler after the body
            sent += len(piece)
            yield piece


@dataclass(frozen=True, slots=True)
class ReceivedRequest:
    """A request the server received.

    Attributes:
        method: Request method.
        target: Request target (path).
        host: ``Host`` header, ``None`` without one.
        sni: Server name the client sent in the TLS handshake, ``None`` without one.
    """

    method: str
    target: str
    host: str | None
    sni: str | None


class PolicyHttpsServer(AsyncServerContext):
    """An HTTPS server on loopback serving an MTA-STS policy; an async context manager.

    Args:
        pki: Where the certificates come from.
        response: The answer to ``GET /.well-known/mta-sts.txt``; a mapping chooses one
            per ``Host`` name (without port), key ``"*"`` for the rest.
        cert: The leaf presented (one of :data:`smtpdiag.testing.certs.LEAF_KINDS`).
        host: Address to listen on.
        port: Port; 0 picks a free one.

    Attributes:
        connections: TCP connections accepted so far.
        requests: Requests received so far, oldest first (at most 1000).
    """

    def __init__(
        self,
        pki: TestPki,
        response: PolicyResponse | Mapping[str, PolicyResponse] | None = None,
        *,
        cert: str = "good",
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self._pki = pki
        self._responses: Mapping[str, PolicyResponse] = {}
        self.set_response(response or PolicyResponse(policy_text()))
        self._contexts: dict[str, ssl.SSLContext] = {}
        self.cert = cert
        self._host = host
        self._requested_port = port
        self._port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        # Server name per handshake, keyed by the SSLObject's id until _serve takes it.
        self._sni: dict[int, str | None] = {}
        self._requests: deque[ReceivedRequest] = deque(maxlen=_LOG_SIZE)
        self.connections = 0

    # ------------------------------------------------------------------ data

    def set_response(self, response: PolicyResponse | Mapping[str, PolicyResponse]) -> None:
        """Answer with ``response`` from the next request on."""
        if isinstance(response, PolicyResponse):
            self._responses = {"*": response}
        else:
            self._responses = {k.lower(): v for k, v in response.items()}

    @property
    def requests(self) -> list[ReceivedRequest]:
        return list(self._requests)

    @property
    def address(self) -> str:
        return self._host

    @property
    def port(self) -> int:
        """The port listened on; 0 before :meth:`start`."""
        return self._port

    # -------------------------------------------------------------- lifecycle

    def _context(self, kind: str) -> ssl.SSLContext:
        if kind not in self._contexts:
            ctx = self._pki.server_context(kind)
            ctx.sni_callback = self._on_sni
            self._contexts[kind] = ctx
        return self._contexts[kind]

    def _on_sni(self, sslobj: ssl.SSLObject, name: str | None, _ctx: ssl.SSLContext) -> None:
        # Chosen per handshake, so a test can change :attr:`cert` between fetches.
        if len(self._sni) < _LOG_SIZE:
            self._sni[id(sslobj)] = name
        sslobj.context = self._context(self.cert)

    async def start(self) -> None:
        """Listen on the address and port."""
        if self._server is not None:
            raise RuntimeError("PolicyHttpsServer already started")
        self._server = await asyncio.start_server(
            self._serve,
            self._host,
            self._requested_port,
            ssl=self._context(self.cert),
            ssl_handshake_timeout=_HANDSHAKE_TIMEOUT,
            limit=_MAX_HEAD,
            backlog=64,
        )
        self._port = int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        """Close the listener and every connection. Safe to call twice."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if server is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(5):
                    await server.wait_closed()

    def run_in_thread(self) -> ThreadedPolicyServer:
        """This (not yet started) server, to be run in a background thread."""
        return ThreadedPolicyServer(self)

    # ------------------------------------------------------------- transport

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        self.connections += 1
        ssl_object = writer.get_extra_info("ssl_object")
        if task is None or len(self._tasks) >= _MAX_CONNECTIONS:
            writer.transport.abort()
            return
        self._tasks.add(task)
        sock = writer.get_extra_info("socket")
        if sock is not None:
            # Head and body are separate writes: without this, Nagle meets the client's
            # delayed ACK and the body arrives ~40 ms late (the kit's artifact, not the
            # client's).
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            async with asyncio.timeout(_SESSION_LIMIT):
                head = await reader.readuntil(b"\r\n\r\n")
                request = self._parse(head, self._sni.pop(id(ssl_object), None))
                self._requests.append(request)
                response = self._response_for(request)
                await self._answer(writer, response)
                if response.abort:
                    await asyncio.sleep(0.05)  # let the bytes leave first
                    writer.transport.abort()
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
            pass  # the client went away, sent junk, or the session ran out
        except asyncio.CancelledError:
            # stop() cancels and awaits this task; ending normally keeps asyncio's
            # stream callback from logging the cancellation as an error.
            pass
        finally:
            self._tasks.discard(task)
            self._sni.pop(id(ssl_object), None)
            # close() sends what is still buffered (abort() would drop it), then
            # close_notify; abort() after a bounded wait for a peer that reads nothing.
            writer.close()
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2):
                    await writer.wait_closed()
            writer.transport.abort()

    def _parse(self, head: bytes, sni: str | None) -> ReceivedRequest:
        lines = head.decode("latin-1").split("\r\n")
        method, _, rest = lines[0].partition(" ")
        target = rest.partition(" ")[0]
        host = None
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "host":
                host = value.strip()
        return ReceivedRequest(method, target, host, sni)

    def _response_for(self, request: ReceivedRequest) -> PolicyResponse:
        if request.method != "GET" or request.target != POLICY_PATH:
            return PolicyResponse(b"not found\n", status=404)
        name = (request.host or "").rsplit(":", 1)[0].lower()
        return self._responses.get(name) or self._responses.get("*") or PolicyResponse(status=404)

    async def _answer(self, writer: asyncio.StreamWriter, response: PolicyResponse) -> None:
        if response.delay:
            await asyncio.sleep(response.delay)
        if response.raw is not None:
            writer.write(response.raw)
            await writer.drain()
            return
        reason = _REASONS.get(response.status, "Status")
        head = [f"HTTP/1.1 {response.status} {reason}"]
        if response.content_type is not None:
            head.append(f"Content-Type: {response.content_type}")
        if response.location is not None:
            head.append(f"Location: {response.location}")
        if response.chunked:
            head.append("Transfer-Encoding: chunked")
        elif response.content_length:
            head.append(f"Content-Length: {response.total}")
        head.append("Connection: close")
        head += [f"{name}: {value}" for name, value in response.headers]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
        await writer.drain()
        for piece in response.pieces():
            writer.write(b"%x\r\n%s\r\n" % (len(piece), piece) if response.chunked else piece)
            await writer.drain()
            if response.drip:
                await asyncio.sleep(response.drip)
        if response.chunked:
            writer.write(b"0\r\n\r\n")
            await writer.drain()


class ThreadedPolicyServer(ThreadedServer[PolicyHttpsServer]):
    """A :class:`PolicyHttpsServer` on its own event loop in a daemon thread.

    For synchronous code: ``with ThreadedPolicyServer(PolicyHttpsServer(pki, ...)) as
    web: ...``. Responses changed through :attr:`server` apply to the next request.
    """

    thread_name = "smtpdiag-https"
    what = "policy HTTPS server"

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def address(self) -> str:
        return self.server.address
