"""Scripted SMTP servers on loopback, for tests and ``smtpdiag demo``.

Each server follows one :class:`Behaviour` (a healthy server, or one exact fault) on
``127.0.0.1`` or ``::1`` with an ephemeral port. Servers speak just enough SMTP for a
probe: greeting, EHLO/HELO, STARTTLS, NOOP, RSET, QUIT; MAIL/RCPT/DATA are refused
(nothing here ever accepts mail). TLS uses certificates from :class:`TestPki`.

:class:`ServerSet` runs a set of servers on an event loop in a background thread and
knows their ports, so synchronous code (the demo, CLI subprocess tests) can use them.
:func:`blackhole_port` gives a port whose connects hang (a "silent drop" on loopback,
no root needed), :func:`closed_port` one that refuses.

Import-light: only the standard library at import time (cryptography is imported when a
:class:`TestPki` is built).
"""

from __future__ import annotations

import asyncio
import contextlib
import select
import socket
import ssl
import struct
import threading
import time
import warnings
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from .certs import TestPki

__all__ = [
    "HTML_PAYLOAD",
    "SMALL_SEGMENT",
    "SLOW_GREETING_S",
    "Behaviour",
    "Blackhole",
    "ScriptedSmtpServer",
    "ServerSet",
    "ServerSpec",
    "blackhole_port",
    "closed_port",
]


class Behaviour(StrEnum):
    """What a scripted server does."""

    HEALTHY = "healthy"  #: 220, EHLO with STARTTLS (unless implicit TLS), TLS, QUIT
    NO_STARTTLS = "no-starttls"  #: EHLO without STARTTLS
    STARTTLS_454 = "starttls-454"  #: offers STARTTLS, answers it with 454 4.7.0
    GREETING_421 = "greeting-421"  #: 421 4.3.2 greeting, then closes (RFC 5321 3.8)
    GREETING_554 = "greeting-554"  #: 554 5.3.2 greeting, answers QUIT, nothing else
    CLOSE_AFTER_GREETING = "close-after-greeting"  #: 220, then FIN (half-close)
    RESET_IN_TLS = "reset-in-tls"  #: reads the ClientHello, then RST (SO_LINGER 0)
    SILENT = "silent"  #: accepts, never says a word
    DRIP = "drip"  #: the greeting one byte per second, never a line end
    EHLO_502 = "ehlo-502"  #: EHLO -> 502 5.5.2, HELO works
    RESET_AFTER_EHLO = "reset-after-ehlo"  #: answers EHLO, then RST
    HUGE_REPLY = "huge-reply"  #: a ~64 KiB multi-line greeting
    HOSTILE_BANNER = "hostile-banner"  #: ANSI escapes and control characters in the 220
    #: markup in the 220 and the EHLO keywords (a page must show it as text, run nothing)
    HTML_BANNER = "html-banner"
    TLS_VERSION_MISMATCH = "tls-version-mismatch"  #: speaks TLS 1.0 only, sends the alert
    STALL_TLS = "stall-tls"  #: STARTTLS answered 220 (or 465 accepted), then silence
    #: 220, then EHLO and HELO answered ``450 4.7.1 ... Greylisted`` (a first contact)
    GREYLIST = "greylist"
    #: 220, then EHLO and HELO answered ``550 5.7.1 ... listed`` (the client is on a blocklist)
    LISTED_550 = "listed-550"
    #: a path MTU black hole as the client sees it: the handshake stalls (as STALL_TLS)
    #: unless the client announced a small MSS (``TCP_MAXSEG`` at most
    #: :data:`SMALL_SEGMENT`), when it completes; on loopback nothing is ever dropped,
    #: so the server decides from the segment size the connection negotiated
    MTU_BLACK_HOLE = "mtu-black-hole"
    #: the 220 greeting after :data:`SLOW_GREETING_S` seconds (a tarpit, or a greet
    #: pause), then as healthy; sessions last long enough to overlap
    SLOW_GREETING = "slow-greeting"


@dataclass(frozen=True, slots=True)
class ServerSpec:
    """One server to run.

    Attributes:
        name: Key to look the server up in a :class:`ServerSet`.
        behaviour: What it does.
        implicit_tls: TLS from the first byte (the "465" mode) instead of STARTTLS.
        cert: Which :class:`TestPki` leaf it presents ("good", "expired", ...).
        host: Listening address, ``127.0.0.1`` or ``::1``.
        hostname: Name it uses in its replies.
        port: Port to listen on; 0 (the default) for an ephemeral one. The demo uses
            fixed ports so that several addresses share the same port numbers.
        greeting_delay: Seconds the server holds its greeting back (a tarpit, or a busy
            server whose sessions last long enough to overlap; at most 30); 0 for none.
    """

    name: str
    behaviour: Behaviour = Behaviour.HEALTHY
    implicit_tls: bool = False
    cert: str = "good"
    host: str = "127.0.0.1"
    hostname: str = "mx.test"
    port: int = 0
    greeting_delay: float = 0.0


#: What :attr:`Behaviour.HTML_BANNER` says after ``220 `` (script, event handler, fetch).
HTML_PAYLOAD = "<img src=x onerror=alert(1)><script>fetch('//x')</script>"

#: How long :attr:`Behaviour.SLOW_GREETING` waits before its 220, in seconds.
SLOW_GREETING_S = 0.5

_LINE_LIMIT = 4096
#: Largest negotiated segment size :attr:`Behaviour.MTU_BLACK_HOLE` lets through: 1220
#: (what fills IPv6's 1280-octet minimum MTU), the largest small-MSS retry there is.
SMALL_SEGMENT = 1220
_SESSION_LIMIT = 120.0  # no scripted session lives longer than this (seconds)
_SESSIONS_KEPT = 1000  # sessions whose command verbs are remembered, per server


def _rst(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP RST: SO_LINGER on with a zero timeout, then abort."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class ScriptedSmtpServer:
    """One scripted server on the running event loop. Use :meth:`start` / :meth:`close`.

    Attributes:
        port: The port listened on (after :meth:`start`).
        sessions: Command verbs (upper case) the client sent, one list per session,
            oldest first; the last 1000 sessions. For server-side assertions such as
            "never MAIL/RCPT/DATA" and "always QUIT".
        active: Sessions open now.
        peak: Most sessions open at the same time so far (see :meth:`reset_stats`).
        spans: ``(start, end)`` of each finished session (``time.monotonic()``), the
            last 1000: when sessions to several servers overlapped.
    """

    def __init__(self, spec: ServerSpec, pki: TestPki | None = None) -> None:
        self.spec = spec
        self._pki = pki
        self._server: asyncio.Server | None = None
        self._tls: ssl.SSLContext | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0
        self.sessions: deque[list[str]] = deque(maxlen=_SESSIONS_KEPT)
        self.active = 0
        self.peak = 0
        self.spans: deque[tuple[float, float]] = deque(maxlen=_SESSIONS_KEPT)

    def verbs(self) -> list[str]:
        """Every command verb received, over all remembered sessions, in order."""
        return [verb for session in list(self.sessions) for verb in session]

    def reset_stats(self) -> None:
        """Forget the sessions seen and restart :attr:`peak` from the open sessions."""
        self.sessions.clear()
        self.spans.clear()
        self.peak = self.active

    async def start(self) -> int:
        """Listen on ``spec.port`` (0: an ephemeral port); returns the port."""
        spec = self.spec
        needs_tls = spec.behaviour not in {Behaviour.SILENT, Behaviour.DRIP}
        if needs_tls and self._pki is not None:
            self._tls = self._pki.server_context(spec.cert)
            if spec.behaviour is Behaviour.TLS_VERSION_MISMATCH:
                # TLS 1.0 only. Legacy versions need OpenSSL's security level 0.
                self._tls.set_ciphers("DEFAULT:@SECLEVEL=0")
                with warnings.catch_warnings():  # the legacy versions are deprecated
                    warnings.simplefilter("ignore", DeprecationWarning)
                    self._tls.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
                    self._tls.maximum_version = ssl.TLSVersion.TLSv1
        # A reset during the handshake needs the raw socket, so that server listens
        # in plain TCP; silent and drip servers never get as far as TLS.
        listen_tls = None
        raw_tls = {
            Behaviour.RESET_IN_TLS,
            Behaviour.TLS_VERSION_MISMATCH,
            Behaviour.STALL_TLS,
            Behaviour.MTU_BLACK_HOLE,
        }
        if spec.implicit_tls and needs_tls and spec.behaviour not in raw_tls:
            if self._tls is None:
                raise ValueError("implicit TLS needs a TestPki")
            listen_tls = self._tls
        self._server = await asyncio.start_server(
            self._accept, spec.host, spec.port, ssl=listen_tls, limit=_LINE_LIMIT
        )
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self.port

    async def close(self) -> None:
        """Stop listening and end the sessions still running."""
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        verbs: list[str] = []
        self.sessions.append(verbs)
        self.active += 1
        self.peak = max(self.peak, self.active)
        began = time.monotonic()
        try:
            async with asyncio.timeout(_SESSION_LIMIT):
                await self._session(reader, writer, verbs)
        except (Exception, asyncio.CancelledError):
            pass  # the client went away, timed out or the server is stopping
        finally:
            self.spans.append((began, time.monotonic()))
            self.active -= 1
            if not writer.transport.is_closing():
                writer.transport.abort()
            if task is not None:
                self._tasks.discard(task)

    async def _failing_handshake(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        """Run the server side of a handshake over memory BIOs and send OpenSSL's alert.

        Why not ``start_tls``: asyncio aborts the connection on a failed handshake
        before the alert is flushed, so the client would see a reset instead of the
        protocol-version alert a real server (e.g. Postfix) sends.
        """
        if self._tls is None:
            raise RuntimeError("TLS needs a TestPki")
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = self._tls.wrap_bio(incoming, outgoing, server_side=True)
        for _ in range(64):  # bounded: a handshake is a few flights
            data = await reader.read(16384)
            if not data:
                return
            incoming.write(data)
            try:
                tls.do_handshake()
            except ssl.SSLWantReadError:
                pending = outgoing.read()
                if pending:
                    await self._send_raw(writer, pending)
                continue
            except ssl.SSLError:
                await self._send_raw(writer, outgoing.read())  # the alert
                writer.close()
                return
            break  # an old client that speaks TLS 1.0: nothing more to stage
        writer.close()

    async def _send_raw(self, writer: asyncio.StreamWriter, data: bytes) -> None:
        writer.write(data)
        await writer.drain()

    async def _send(self, writer: asyncio.StreamWriter, text: str) -> None:
        writer.write(text.encode("utf-8", "surrogateescape"))
        await writer.drain()

    async def _session(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, verbs: list[str]
    ) -> None:
        s = _Session(reader, writer, verbs, tls=self.spec.implicit_tls)
        b = self.spec.behaviour
        early = self._tls_faults().get(b) if self.spec.implicit_tls else None
        early = early or self._before_greeting().get(b)
        if early is not None:
            await early(s)
            return
        if self.spec.greeting_delay > 0:
            await asyncio.sleep(min(self.spec.greeting_delay, 30.0))
        implicit_mtu = b is Behaviour.MTU_BLACK_HOLE and self.spec.implicit_tls
        if implicit_mtu and not await self._through_small_segments(s):
            return
        if b is Behaviour.SLOW_GREETING:
            await asyncio.sleep(SLOW_GREETING_S)
        await self._send(writer, _greeting(b, self.spec.hostname))
        if b is Behaviour.CLOSE_AFTER_GREETING:
            # Half-close (FIN) and drain: a full close would answer the client's next
            # command with an RST, making "closed" vs "reset" a race in tests.
            writer.write_eof()
            await _drain(reader)
            return
        while raw := await reader.readline():
            verb = raw.decode("ascii", "replace").strip().split(" ", 1)[0].upper()
            if len(verbs) < 100:
                verbs.append(verb)
            if not await self._command(verb, s):
                return

    def _before_greeting(self) -> dict[Behaviour, Callable[[_Session], Awaitable[None]]]:
        """Behaviours that never send a 220 greeting."""
        return {
            Behaviour.SILENT: self._silent,
            Behaviour.DRIP: self._drip,
            Behaviour.GREETING_421: self._greeting_421,
        }

    def _tls_faults(self) -> dict[Behaviour, Callable[[_Session], Awaitable[None]]]:
        """Faults in the TLS handshake (at connect on implicit TLS, after STARTTLS)."""
        return {
            Behaviour.RESET_IN_TLS: self._reset_in_tls,
            Behaviour.TLS_VERSION_MISMATCH: self._version_mismatch,
            Behaviour.STALL_TLS: self._stall,
        }

    async def _silent(self, s: _Session) -> None:
        # Still a line reader, so that whatever the client says is recorded.
        while said := await s.reader.readline():
            if len(s.verbs) < 100:
                s.verbs.append(said.decode("ascii", "replace").split(" ", 1)[0].strip().upper())

    async def _drip(self, s: _Session) -> None:
        for ch in f"220 {self.spec.hostname} ESMTP " + "z" * 600:
            if s.reader.at_eof() or s.writer.transport.is_closing():
                return
            await self._send(s.writer, ch)
            await asyncio.sleep(1.0)

    async def _greeting_421(self, s: _Session) -> None:
        name = self.spec.hostname
        await self._send(s.writer, f"421 4.3.2 {name} Service not available, closing channel\r\n")
        s.writer.close()

    async def _reset_in_tls(self, s: _Session) -> None:
        await s.reader.read(1)  # the ClientHello has started to arrive
        _rst(s.writer)

    async def _version_mismatch(self, s: _Session) -> None:
        await self._failing_handshake(s.reader, s.writer)

    async def _stall(self, s: _Session) -> None:
        await _drain(s.reader)  # the ClientHello, never answered

    async def _command(self, verb: str, s: _Session) -> bool:
        """Answer one command; False when the session is over."""
        if self.spec.behaviour is Behaviour.GREETING_554 and verb != "QUIT":
            await self._send(s.writer, "503 5.5.1 No SMTP service here\r\n")
            return True
        refusal = _REFUSALS.get(self.spec.behaviour)
        if refusal is not None and verb in ("EHLO", "HELO"):
            await self._send(s.writer, refusal)
            return True
        handler = {
            "EHLO": self._ehlo,
            "HELO": self._helo,
            "STARTTLS": self._starttls,
            "QUIT": self._quit,
        }.get(verb)
        if handler is not None:
            return await handler(s)
        await self._send(s.writer, _SIMPLE_REPLIES.get(verb, _UNRECOGNIZED))
        return True

    async def _ehlo(self, s: _Session) -> bool:
        b, name = self.spec.behaviour, self.spec.hostname
        if b is Behaviour.EHLO_502:
            await self._send(s.writer, "502 5.5.2 Error: command not recognized\r\n")
            return True
        exts = ["PIPELINING", "SIZE 10240000", "ENHANCEDSTATUSCODES", "8BITMIME"]
        if not s.tls and b is not Behaviour.NO_STARTTLS:
            exts.insert(2, "STARTTLS")
        if b is Behaviour.HTML_BANNER:
            exts.insert(0, "X-<b>BOLD</b>")
        lines = [f"250-{name} Hello"] + [f"250-{e}" for e in exts[:-1]]
        lines.append(f"250 {exts[-1]}")
        await self._send(s.writer, "\r\n".join(lines) + "\r\n")
        if b is Behaviour.RESET_AFTER_EHLO:
            _rst(s.writer)
            return False
        return True

    async def _helo(self, s: _Session) -> bool:
        await self._send(s.writer, f"250 {self.spec.hostname}\r\n")
        return True

    async def _starttls(self, s: _Session) -> bool:
        b = self.spec.behaviour
        if s.tls or b is Behaviour.NO_STARTTLS:
            await self._send(s.writer, _UNRECOGNIZED)
            return True
        if b is Behaviour.STARTTLS_454:
            await self._send(s.writer, "454 4.7.0 TLS not available due to temporary reason\r\n")
            return True
        await self._send(s.writer, "220 2.0.0 Ready to start TLS\r\n")
        fault = self._tls_faults().get(b)
        if fault is not None:
            await fault(s)
            return False
        if b is Behaviour.MTU_BLACK_HOLE:
            return await self._through_small_segments(s)
        if self._tls is None:
            raise RuntimeError("STARTTLS needs a TestPki")
        await s.writer.start_tls(self._tls)
        s.tls = True
        return True

    async def _through_small_segments(self, s: _Session) -> bool:
        """:attr:`Behaviour.MTU_BLACK_HOLE`: the handshake completes only for a client
        whose connection negotiated small segments; else it stalls (False)."""
        sock = s.writer.get_extra_info("socket")
        segment = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG) if sock else 0
        if not 0 < segment <= SMALL_SEGMENT:
            await self._stall(s)
            return False
        if self._tls is None:
            raise RuntimeError("TLS needs a TestPki")
        await s.writer.start_tls(self._tls)
        s.tls = True
        return True

    async def _quit(self, s: _Session) -> bool:
        await self._send(s.writer, "221 2.0.0 Bye\r\n")
        s.writer.close()
        return False


class _Session:
    """One connection's state: its streams, the verbs said, whether TLS is on."""

    __slots__ = ("reader", "tls", "verbs", "writer")

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        verbs: list[str],
        *,
        tls: bool,
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.verbs = verbs
        self.tls = tls


_UNRECOGNIZED = "500 5.5.2 Command unrecognized\r\n"
#: EHLO/HELO replies of the behaviours that turn the client away at EHLO.
_REFUSALS = {
    Behaviour.GREYLIST: "450 4.7.1 Greylisted, please try again in 300 seconds\r\n",
    Behaviour.LISTED_550: "550 5.7.1 Client host rejected: your address is listed at bl.test\r\n",
}
_SIMPLE_REPLIES = {
    "NOOP": "250 2.0.0 OK\r\n",
    "RSET": "250 2.0.0 OK\r\n",
    **dict.fromkeys(("MAIL", "RCPT", "DATA", "BDAT"), "502 5.5.1 This server takes no mail\r\n"),
}


def _greeting(b: Behaviour, name: str) -> str:
    """The first reply of a server that greets."""
    if b is Behaviour.GREETING_554:
        return f"554 5.3.2 {name} No SMTP service here\r\n"
    if b is Behaviour.HUGE_REPLY:
        return (f"220-{name} " + "x" * 60 + "\r\n") * 1100 + f"220 {name} ESMTP\r\n"
    if b is Behaviour.HOSTILE_BANNER:
        return f"220 {name} \x1b[31mESMTP\x1b[0m \x07\x1b]0;pwned\x07 ready\r\n"
    if b is Behaviour.HTML_BANNER:
        return f"220 {HTML_PAYLOAD}\r\n"
    return f"220 {name} ESMTP smtpdiag scripted server\r\n"


async def _drain(reader: asyncio.StreamReader) -> None:
    """Read until the client closes."""
    while await reader.read(4096):
        pass


def closed_port(host: str = "127.0.0.1") -> int:
    """A port on ``host`` where nothing listens (connects are refused).

    The port is bound and released; on loopback the kernel does not reuse it at once.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class Blackhole:
    """A port whose connects hang: a listening socket with a full accept queue.

    Method (Linux): ``listen(0)`` and never ``accept()``; connect until one handshake
    does not complete. With the accept queue full the kernel drops further SYNs
    (``tcp_abort_on_overflow`` = 0, the default), so a client's connect waits for
    SYN retransmissions exactly as behind a firewall that silently drops packets.
    Use as a context manager; :attr:`port` is the port, :attr:`full` tells whether the
    queue could be filled (if not, connects would not hang: skip the test).
    """

    def __init__(self, host: str = "127.0.0.1") -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.host = host
        self._listener = socket.socket(family, socket.SOCK_STREAM)
        self._listener.bind((host, 0))
        self._listener.listen(0)
        self.port = int(self._listener.getsockname()[1])
        self._fillers: list[socket.socket] = []
        for _ in range(16):  # bounded: Linux fills with backlog+1 connections
            filler = socket.socket(family, socket.SOCK_STREAM)
            filler.setblocking(False)
            filler.connect_ex((host, self.port))
            _, writable, _ = select.select([], [filler], [], 0.3)
            if not writable:
                filler.close()  # this SYN was dropped: the queue is full
                self.full = True
                break
            self._fillers.append(filler)
        else:
            self.full = False

    def close(self) -> None:
        """Release the listener and the filler connections."""
        for filler in self._fillers:
            filler.close()
        self._listener.close()

    def __enter__(self) -> Blackhole:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def blackhole_port(host: str = "127.0.0.1") -> Blackhole:
    """A :class:`Blackhole` on ``host``: connect to ``.port`` and the SYN is dropped."""
    return Blackhole(host)


class ServerSet:
    """Run scripted servers on a background event loop; ports known after ``start``.

    Usage::

        with ServerSet([ServerSpec("ok"), ServerSpec("tls", implicit_tls=True)]) as servers:
            port = servers.port("ok")

    Args:
        specs: The servers (names must be unique).
        pki: Certificates; a new :class:`TestPki` (removed on close) when ``None``.
    """

    def __init__(self, specs: Sequence[ServerSpec], pki: TestPki | None = None) -> None:
        names = [s.name for s in specs]
        if len(set(names)) != len(names):
            raise ValueError("server names must be unique")
        self.specs = tuple(specs)
        self._own_pki = pki is None
        self.pki = pki if pki is not None else TestPki()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._servers: dict[str, ScriptedSmtpServer] = {}
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._stop: asyncio.Event | None = None

    @property
    def ca_file(self) -> str:
        """PEM bundle of the trusted test CA (for ``--ca-file``)."""
        return str(self.pki.ca_file)

    def port(self, name: str) -> int:
        """The port of the server called ``name``."""
        return self._servers[name].port

    def spec(self, name: str) -> ServerSpec:
        """The spec of the server called ``name``."""
        return self._servers[name].spec

    def server(self, name: str) -> ScriptedSmtpServer:
        """The server called ``name`` (its :attr:`~ScriptedSmtpServer.sessions` etc.).

        Its statistics are updated on the server thread; read them once the probes
        that made them have finished.
        """
        return self._servers[name]

    def start(self, timeout: float = 10.0) -> ServerSet:
        """Start the thread and every server; raise if they are not up in ``timeout``."""
        self._thread = threading.Thread(target=self._run, name="smtpdiag-servers", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            self.stop()
            raise RuntimeError("scripted SMTP servers did not start in time")
        if self._error is not None:
            self.stop()
            raise RuntimeError(f"scripted SMTP servers failed: {self._error}") from self._error
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop every server and the thread."""
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stop.set)
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if self._own_pki:
            self.pki.cleanup()

    def __enter__(self) -> ServerSet:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        # Expected noise (clients aborting handshakes, resets) is not an error here.
        loop.set_exception_handler(lambda _loop, _ctx: None)
        try:
            loop.run_until_complete(self._main())
        except BaseException as exc:  # reported to start()
            self._error = exc
            self._ready.set()
        finally:
            with contextlib.suppress(Exception):
                loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        try:
            for spec in self.specs:
                server = ScriptedSmtpServer(spec, self.pki)
                await server.start()
                self._servers[spec.name] = server
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            await self._close_all()
            return
        self._ready.set()
        await self._stop.wait()
        await self._close_all()

    async def _close_all(self) -> None:
        for server in self._servers.values():
            await server.close()
