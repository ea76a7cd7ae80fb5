"""One route probe: connect, (TLS,) greeting, EHLO/HELO, STARTTLS, TLS, EHLO, QUIT.

aiosmtplib is driven at its protocol level (``SMTPProtocol``) rather than through
``SMTP.connect()``/``SMTP.starttls()``, because those fold two phases into one call:
on 465 ``connect()`` does the TLS handshake *and* reads the greeting, and
``starttls()`` sends the command *and* does the handshake. Here every phase is its own
timed step; aiosmtplib still parses replies and writes commands. Reply size is bounded
here, not left to the library (aiosmtplib before 4.x buffered a multi-line reply
without limit): 8 KiB per line, 32 KiB per reply. Never MAIL, RCPT or DATA: the probe
stops at QUIT.

Every phase runs under ``min(phase limit, overall deadline)``; a timeout is recorded
on the phase that was running and ends the probe.

A TLS handshake that stalls (times out at its own limit) on an address where plain SMTP
worked (greeting and EHLO completed, on this connection or another route's) is
repeated once per address, on a new connection with a small maximum segment size
(:data:`SMALL_MSS`), when the deadline leaves room for it: the retry is recorded on the
route (:class:`~smtpdiag.model.MssRetry`) and proves or argues against a path MTU
black hole (see :mod:`smtpdiag.diagnosis`).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import cast

from aiosmtplib import SMTPResponseException, SMTPServerDisconnected
from aiosmtplib.esmtp import parse_esmtp_extensions
from aiosmtplib.protocol import SMTPProtocol
from aiosmtplib.response import SMTPResponse
from cryptography.x509.verification import Store

from ..config import ProbeConfig
from ..model import (
    AddressFamily,
    MssRetry,
    MssRetryResult,
    Outcome,
    Phase,
    PhaseRecord,
    Route,
    RouteResult,
    SmtpReply,
    TlsaLookup,
    TlsInfo,
    TlsMode,
)
from ..textsafe import clean
from ..timefmt import utc_iso
from .connect import MAXSEG_SUPPORTED, open_connection_socket, quickack
from .errors import bad_code_detail, parse_reply, valid_reply_code
from .plan import address_family
from .recorder import Clock, PhaseHandle, PhaseRecorder
from .replytext import host_name_of
from .tls import peer_chain, tls_info

__all__ = [
    "CONFIRM_LIMIT",
    "MSS_RETRY_MAX",
    "MSS_SETUP_BUDGET",
    "SMALL_MSS",
    "AddressHints",
    "ProbeContext",
    "mss_retry_limit",
    "run_route",
]

#: Extension keywords kept from one EHLO reply (a hostile server can list thousands).
MAX_EXTENSIONS = 64
#: Longest reply (all lines of a multi-line reply together) read from a server. A real
#: EHLO reply is well under 1 KiB; a hostile server can stream continuation lines forever.
MAX_REPLY_BYTES = 32 * 1024
#: Longest reply line. RFC 5321 4.5.3.1.5 sets 512 octets; real servers stay close to it.
MAX_LINE_BYTES = 8 * 1024
#: QUIT is a courtesy: never wait longer than this for its reply.
QUIT_LIMIT = 2.0
#: asyncio's own handshake timeout, kept above ours so that our scope fires first
#: (asyncio's would surface as ConnectionAbortedError, not as a timeout).
_HANDSHAKE_SLACK = 5.0
#: The TLS handshake limit on an address where a handshake has already stalled for
#: the whole ``--tls-timeout`` on another port: long enough for any live TLS stack on
#: loopback or across the world, short enough that the other ports only confirm.
CONFIRM_LIMIT = 0.5
#: The maximum segment size of the small-MSS retry, per family: 536 is IPv4's default
#: MSS (RFC 9293 3.7.1: the 576-octet datagram every host must accept), 1220 fills
#: IPv6's minimum link MTU of 1280 (RFC 8200 5) with 60 octets of headers.
SMALL_MSS = {AddressFamily.IPV4: 536, AddressFamily.IPV6: 1220}
#: Seconds a small-MSS retry needs besides its handshake (connect, greeting, EHLO,
#: STARTTLS on a live path): it is not started with less than this plus its handshake
#: limit left before the overall deadline.
MSS_SETUP_BUDGET = 1.0


#: The longest handshake limit of a small-MSS retry, in seconds.
MSS_RETRY_MAX = 3.0


def mss_retry_limit(tls_timeout: float) -> float:
    """The handshake limit of a small-MSS retry: half of ``--tls-timeout``, at most
    :data:`MSS_RETRY_MAX`, at least :data:`CONFIRM_LIMIT` (never more than the timeout).

    Why shorter: the retry crosses the same path as the stalled handshake, and a path
    that passes small segments completes a handshake in a few round trips (a 6 KB flight
    in 536-byte segments is two round trips with the initial window of RFC 6928: under
    2 s even at a satellite link's 600 ms); a retry that stalls as well then costs at
    most 3 s more, not a whole handshake timeout.
    """
    return min(tls_timeout, max(CONFIRM_LIMIT, min(tls_timeout / 2, MSS_RETRY_MAX)))


@dataclass(slots=True)
class AddressHints:
    """What earlier routes to the same address proved, shared by its routes.

    Attributes:
        tls_stall_port: The port on which a TLS handshake to this address stalled for
            its whole limit, ``None`` until one did.
        tls_stall_s: That limit, in seconds.
        smtp_ok: A route to this address completed its plain greeting and EHLO: small
            packets pass (what a stalled implicit-TLS handshake is compared with).
        mss_retry_claimed: A route of this address made (or is making) the small-MSS
            retry: one extra connection per address at most.

    Why only the TLS handshake: one host's ports share its TLS stack and certificate,
    so a handshake that hangs on 25 hangs on 587 and 465 as well, and waiting the full
    limit again per port only delays the verdict. Connects (port-specific firewalls)
    and greetings (postscreen delays the 220 on 25 only) differ by port, and keep
    their full limits.
    """

    tls_stall_port: int | None = None
    tls_stall_s: float = 0.0
    smtp_ok: bool = False
    mss_retry_claimed: bool = False


@dataclass(frozen=True, slots=True)
class ProbeContext:
    """What all route probes of one run share.

    Attributes:
        config: The probe configuration.
        tls_context: Client TLS context (non-verifying; see :mod:`.tls`).
        store: Trust store for chain verification, ``None`` when none is available
            (or when ``load_store`` gives it).
        now: The instant certificate validity and ``days_left`` are judged at;
            ``None`` means the current time at each handshake.
        clock: Monotonic clock in seconds for phase timing; ``None`` = the loop's.
        trace: Callback for every finished phase record.
        load_store: Loads the trust store on the first verification, when ``store``
            is ``None``: parsing the system bundle (~150 roots) is wasted on a run
            where no route reaches TLS.
        dane: Usable TLSA lookups by MX host name (lower case, no final dot); a
            route on ``config.delivery_port`` to such a host gets its chain matched
            against them (:attr:`TlsInfo.dane`, RFC 7672).
        nexthop: The domain whose DNSSEC-secure MX RRset named the routes' hosts: a
            DANE-TA certificate may name it instead of the MX host (RFC 7672 3.2.2);
            ``None`` when the MX RRset is not secure or not known.
    """

    config: ProbeConfig
    tls_context: ssl.SSLContext
    store: Store | None
    now: datetime | None = None
    clock: Clock | None = None
    trace: Callable[[Route, PhaseRecord], None] | None = field(default=None)
    load_store: Callable[[], Store | None] | None = None
    dane: Mapping[str, TlsaLookup] = field(default_factory=dict)
    nexthop: str | None = None

    def tlsa_for(self, route: Route) -> TlsaLookup | None:
        """The usable TLSA lookup that applies to ``route``, if any."""
        if route.port != self.config.delivery_port:
            return None
        lookup = self.dane.get(route.mx.rstrip(".").lower())
        if lookup is None or lookup.port != route.port:
            return None
        return lookup

    def trust_store(self) -> Store | None:
        """The trust store, loaded now if it was deferred."""
        if self.store is None and self.load_store is not None:
            return self.load_store()
        return self.store


class _Stop(Exception):
    """The probe cannot go on (the failure is already recorded)."""


class _ProbeProtocol(SMTPProtocol):
    """aiosmtplib's protocol with STARTTLS split into command and handshake, and with
    our own bounds on reply size (whatever the installed aiosmtplib does)."""

    def data_received(self, data: bytes) -> None:
        """Refuse replies over :data:`MAX_REPLY_BYTES` or lines over :data:`MAX_LINE_BYTES`.

        Checked before the library sees the bytes: older aiosmtplib versions keep a
        multi-line reply in memory however long it grows and re-parse it from the
        start on every read, so an endless ``250-...`` stream cost unbounded memory
        and enough CPU to stall the event loop past our timeouts.
        """
        buffered = len(self._buffer)
        problem: str | None = None
        if buffered + len(data) > MAX_REPLY_BYTES:
            problem = f"reply longer than {MAX_REPLY_BYTES // 1024} KiB"
        else:
            # The unterminated line at the end of the buffer continues in ``data``.
            tail = buffered - (self._buffer.rfind(b"\n") + 1)
            first, *rest = data.split(b"\n")
            longest = max([tail + len(first), *(len(line) for line in rest)])
            if longest > MAX_LINE_BYTES:
                problem = f"reply line longer than {MAX_LINE_BYTES // 1024} KiB"
        if problem is None:
            super().data_received(data)
            return
        del self._buffer[:]
        waiter = self._response_waiter
        if waiter is not None and not waiter.done():
            # Code -1: not a server reply (translated to an ``error`` outcome).
            waiter.set_exception(SMTPResponseException(-1, problem))
            waiter.exception()  # retrieved: nobody may await it if the peer vanishes

    async def upgrade(
        self, tls_context: ssl.SSLContext, server_hostname: str, handshake_timeout: float
    ) -> None:
        """Run the TLS handshake on the open connection (after a 220 to STARTTLS)."""
        transport = self.transport
        if transport is None or transport.is_closing():
            raise SMTPServerDisconnected("Connection lost")
        # RFC 3207 4.2 / STARTTLS command injection: anything the server sent after
        # its 220 and before the handshake is plaintext that must not be trusted.
        del self._buffer[:]
        tls_transport = await self._loop.start_tls(
            cast(asyncio.WriteTransport, transport),
            self,
            tls_context,
            server_side=False,
            server_hostname=server_hostname,
            ssl_handshake_timeout=handshake_timeout,
        )
        if tls_transport is None:  # pragma: no cover - only when the loop is closing
            raise SMTPServerDisconnected("Connection lost during TLS upgrade")
        self.transport = tls_transport
        self._over_ssl = True


#: Keywords the probe acts on: kept even past :data:`MAX_EXTENSIONS`, so a long list
#: cannot hide them (a STARTTLS listed 65th is still offered).
_ESSENTIAL_EXTENSIONS = frozenset({"STARTTLS"})


def _extensions(reply_text: str) -> tuple[str, ...]:
    """The advertised keywords, upper case, at most :data:`MAX_EXTENSIONS` of them plus
    any of :data:`_ESSENTIAL_EXTENSIONS` listed later (the reply itself is bounded by
    :data:`MAX_REPLY_BYTES`, so the scan is too)."""
    extensions, _ = parse_esmtp_extensions(reply_text)
    out: list[str] = []
    for keyword in extensions:
        word = clean(keyword.upper(), 64)
        if not word or word in out:
            continue
        if len(out) < MAX_EXTENSIONS or word in _ESSENTIAL_EXTENSIONS:
            out.append(word)
    return tuple(out)


def _local_address(sock: socket.socket) -> str | None:
    """The connected socket's own address (the probe's egress address), normalized."""
    try:
        name = sock.getsockname()
    except OSError:
        return None
    try:
        return str(ipaddress.ip_address(str(name[0]).split("%", 1)[0]))
    except (ValueError, IndexError, TypeError):
        return None


class _RouteProbe:
    """The state of one route probe; :meth:`run` drives it."""

    def __init__(
        self,
        route: Route,
        ctx: ProbeContext,
        deadline: float | None,
        hints: AddressHints | None = None,
        *,
        mss: int | None = None,
        tls_limit: float | None = None,
    ) -> None:
        self.route = route
        # The small-MSS retry (see run()): its MSS, its handshake limit; not traced (the
        # live trace shows the route's own phases), its handshake not verified.
        self.mss = mss
        self.tls_limit_override = tls_limit
        self.hints = hints or AddressHints()
        self.ctx = ctx
        self.config = ctx.config
        self.loop = asyncio.get_running_loop()
        self.deadline = deadline
        trace = ctx.trace
        self.recorder = PhaseRecorder(
            ctx.clock or self.loop.time,
            (lambda rec: trace(route, rec)) if trace is not None and mss is None else None,
        )
        self.sock: socket.socket | None = None
        self.transport: asyncio.BaseTransport | None = None
        self.protocol: _ProbeProtocol | None = None
        self.banner: str | None = None
        self.extensions: tuple[str, ...] = ()
        self.starttls_offered: bool | None = None
        self.tls: TlsInfo | None = None
        self.closed_by_server = False
        self.local_address: str | None = None
        self.greeting_name: str | None = None
        self.ehlo_name: str | None = None
        #: The TLS handshake timed out at its own limit (not the overall deadline's).
        self.tls_stalled = False
        #: The TLS handshake timed out because the overall deadline came first.
        self.tls_cut = False
        #: DER bytes of the chain the server sent (small-MSS retry only).
        self.chain_bytes: int | None = None

    # ----------------------------------------------------------------- helpers

    @asynccontextmanager
    async def _limit(self, handle: PhaseHandle, seconds: float, what: str) -> AsyncIterator[None]:
        """Bound the enclosed awaits by ``seconds`` and by the overall deadline."""
        when = self.loop.time() + seconds
        handle.timeout_detail = f"no {what} within {seconds:g} s"
        if self.deadline is not None and self.deadline <= when:
            when = self.deadline
            handle.timeout_detail = f"overall deadline reached while waiting for {what}"
        async with asyncio.timeout_at(when):
            yield

    def _tls_limit(self) -> float:
        full = self.config.timeouts.tls
        if self.tls_limit_override is not None:
            return min(full, self.tls_limit_override)
        if self.hints.tls_stall_port is None:
            return full
        return min(full, CONFIRM_LIMIT)

    @asynccontextmanager
    async def _tls_scope(self, handle: PhaseHandle, limit: float) -> AsyncIterator[None]:
        """The handshake's timeout scope; a stall that used the whole configured limit
        is shared with the address's other routes (:class:`AddressHints`)."""
        full = self.config.timeouts.tls
        start = self.loop.time()
        deadline_binds = self.deadline is not None and self.deadline <= start + limit
        try:
            async with self._limit(handle, limit, "TLS handshake"):
                if limit < full and not deadline_binds and self.mss is None:
                    handle.timeout_detail = (
                        f"no TLS handshake within {limit:g} s (a handshake to this "
                        f"address stalled for {self.hints.tls_stall_s:g} s on port "
                        f"{self.hints.tls_stall_port}, so this port only confirms it)"
                    )
                yield
        except TimeoutError:
            self.tls_cut = deadline_binds
            self.tls_stalled = not deadline_binds
            stalled = limit >= full and self.loop.time() - start >= full - 0.01
            if stalled and self.hints.tls_stall_port is None and self.mss is None:
                self.hints.tls_stall_port = self.route.port
                self.hints.tls_stall_s = full
            raise

    def _quickack(self) -> None:
        if self.sock is not None:
            quickack(self.sock)

    def _proto(self) -> _ProbeProtocol:
        if self.protocol is None:  # pragma: no cover - guarded by the flow
            raise SMTPServerDisconnected("not connected")
        return self.protocol

    def _is_open(self) -> bool:
        return self.protocol is not None and self.protocol.is_connected

    def _now(self) -> datetime:
        return self.ctx.now or datetime.now(UTC)

    def _check_reply(
        self, handle: PhaseHandle, response: SMTPResponse, *want: int
    ) -> SmtpReply | None:
        """Record the reply; ``None`` (and an ``error`` outcome) if its code is not one."""
        if not valid_reply_code(response.code):
            # "000", "999", "-12": not a reply code (RFC 5321 4.2), so not recorded
            # as one; the dialogue is out of step, as with garbage.
            handle.fail(Outcome.ERROR, detail=bad_code_detail(response.code))
            return None
        reply = parse_reply(response.code, response.message)
        handle.reply = reply
        if response.code not in want:
            handle.fail(Outcome.REPLY)
            if response.code == 421:
                # RFC 5321 3.8: 421 means the server is closing the channel.
                self.closed_by_server = True
        return reply

    async def _command(self, *args: bytes) -> SMTPResponse:
        self._quickack()
        return await self._proto().execute_command(*args, timeout=None)

    # ------------------------------------------------------------------- phases

    async def _connect(self) -> None:
        route = self.route
        source = self.config.source_address
        if source is not None and address_family(source) is not route.family:
            # Not a network outcome: say so plainly instead of a bind() errno.
            with self.recorder.phase(Phase.CONNECT) as p:
                p.fail(
                    Outcome.ERROR,
                    detail=f"source address {source} cannot reach an {route.family} address",
                    error_type="ConfigError",
                )
            raise _Stop
        with self.recorder.phase(Phase.CONNECT) as p:
            async with self._limit(p, self.config.timeouts.connect, "TCP connection"):
                self.sock = await open_connection_socket(
                    route.address, route.port, route.family, self.config.source_address, self.mss
                )
        self.local_address = _local_address(self.sock)
        self._quickack()
        self.protocol = _ProbeProtocol(loop=self.loop)

    async def _implicit_tls(self) -> None:
        """RFC 8314 3.3: TLS starts right after the TCP handshake, before the greeting."""
        limit = self._tls_limit()
        try:
            with self.recorder.phase(Phase.TLS_HANDSHAKE) as p:
                async with self._tls_scope(p, limit):
                    self.transport, _ = await self.loop.create_connection(
                        lambda: self._proto(),
                        sock=self.sock,
                        ssl=self.ctx.tls_context,
                        server_hostname=self.route.mx,
                        ssl_handshake_timeout=limit + _HANDSHAKE_SLACK,
                    )
        except Exception:
            # A handshake that failed verified nothing: the reason is on the phase
            # record (tls_reason); verify_error is for certificate verification only.
            self.tls = TlsInfo()
            raise
        self._record_tls()

    def _record_tls(self) -> None:
        ssl_object = self.transport.get_extra_info("ssl_object") if self.transport else None
        if self.mss is not None:
            # The retry only measures whether the large flight arrives, and how large it
            # was; the route's certificate facts come from the route itself.
            if isinstance(ssl_object, ssl.SSLObject | ssl.SSLSocket):
                ders, _ = peer_chain(ssl_object)
                self.chain_bytes = sum(len(der) for der in ders)
            return
        if isinstance(ssl_object, ssl.SSLObject | ssl.SSLSocket):
            self.tls = tls_info(
                ssl_object,
                self.route.mx,
                self.ctx.trust_store(),
                self._now(),
                self.ctx.tlsa_for(self.route),
                self.ctx.nexthop,
            )
        else:  # pragma: no cover - asyncio always provides it after a handshake
            self.tls = TlsInfo(verify_error="no TLS session information")

    async def _plain_transport(self) -> None:
        # Wrapping a connected socket is immediate; it is not a phase of its own.
        self.transport, _ = await self.loop.create_connection(lambda: self._proto(), sock=self.sock)

    async def _greeting(self) -> None:
        with self.recorder.phase(Phase.GREETING) as p:
            async with self._limit(p, self.config.timeouts.greeting, "greeting"):
                self._quickack()
                response = await self._proto().read_response(timeout=None)
            reply = self._check_reply(p, response, 220)
            self.banner = reply.text if reply is not None else None
            if reply is not None and reply.code == 220:
                self.greeting_name = host_name_of(reply.text)
        if p.outcome is not Outcome.OK:
            raise _Stop

    async def _ehlo(self, phase: Phase) -> bool:
        """EHLO (RFC 5321 4.1.1.1); ``False`` when it was rejected with a 5xx."""
        name = self.config.ehlo_name.encode("ascii")
        with self.recorder.phase(phase) as p:
            async with self._limit(p, self.config.timeouts.command, "EHLO reply"):
                response = await self._command(b"EHLO", name)
            self._check_reply(p, response, 250)
        if p.outcome is Outcome.OK:
            self.extensions = _extensions(response.message)
            if phase is Phase.EHLO:
                self.ehlo_name = host_name_of(p.reply.text if p.reply else None)
                self.hints.smtp_ok = True  # greeting and EHLO in the clear: small packets pass
            return True
        # RFC 5321 4.1.4: a server that does not support EHLO answers 500/502 (any
        # 5xx here), and the client falls back to HELO. After TLS there is no fallback.
        if phase is Phase.EHLO and 500 <= response.code < 600 and self._is_open():
            return False
        raise _Stop

    async def _helo(self) -> None:
        name = self.config.ehlo_name.encode("ascii")
        with self.recorder.phase(Phase.HELO) as p:
            async with self._limit(p, self.config.timeouts.command, "HELO reply"):
                response = await self._command(b"HELO", name)
            self._check_reply(p, response, 250)
        if p.outcome is not Outcome.OK:
            raise _Stop
        self.extensions = ()
        self.ehlo_name = host_name_of(p.reply.text if p.reply else None)
        self.hints.smtp_ok = True

    async def _starttls(self) -> None:
        """RFC 3207: STARTTLS, then the handshake as its own phase."""
        with self.recorder.phase(Phase.STARTTLS) as p:
            async with self._limit(p, self.config.timeouts.command, "STARTTLS reply"):
                response = await self._command(b"STARTTLS")
            self._check_reply(p, response, 220)
        if p.outcome is not Outcome.OK:
            raise _Stop
        limit = self._tls_limit()
        try:
            with self.recorder.phase(Phase.TLS_HANDSHAKE) as p:
                async with self._tls_scope(p, limit):
                    await self._proto().upgrade(
                        self.ctx.tls_context, self.route.mx, limit + _HANDSHAKE_SLACK
                    )
        except Exception:
            self.tls = TlsInfo()
            raise
        self.transport = self._proto().transport
        self._record_tls()

    async def _quit(self) -> None:
        """QUIT (RFC 5321 4.1.1.10) when the session is open; failures are only noted."""
        if self.closed_by_server or not self._is_open():
            return
        last = self.recorder.records[-1] if self.recorder.records else None
        if last is None or last.outcome not in (Outcome.OK, Outcome.REPLY):
            # After a timeout or a protocol error the dialogue is out of step (a late
            # reply would be read as QUIT's): just close, as an MTA giving up does.
            return
        if self.deadline is not None and self.loop.time() >= self.deadline:
            return
        try:
            with self.recorder.phase(Phase.QUIT) as p:
                async with self._limit(p, min(self.config.timeouts.command, QUIT_LIMIT), "QUIT"):
                    response = await self._command(b"QUIT")
                self._check_reply(p, response, 221)
        except Exception:
            pass  # recorded; a failed QUIT never fails the route

    def _unrecorded(self, exc: Exception) -> None:
        """Record an exception no phase recorded (habit 1: failures are data).

        Exceptions raised inside a phase are recorded by it (its outcome is then not
        ``ok``). One raised after a phase ended well, while digesting its result, is a
        bug of ours; it becomes an ``error`` record of that phase, so the route shows
        where it stopped instead of ending ``ok=False`` with no failing phase.
        """
        records = self.recorder.records
        if records and records[-1].outcome is not Outcome.OK:
            return  # already recorded by the phase that raised
        phase = records[-1].phase if records else Phase.CONNECT
        offset = round(self.recorder.elapsed_ms(), 3)
        self.recorder.add(
            PhaseRecord(
                phase=phase,
                outcome=Outcome.ERROR,
                start_ms=offset,
                duration_ms=0.0,
                detail=clean(f"internal error: {exc}") or "internal error",
                error_type=type(exc).__name__,
            )
        )

    def _close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            # abort, not close: nothing more to say, and a graceful TLS close would wait
            # for a peer that may be hostile.
            cast(asyncio.Transport, self.transport).abort()
        if self.sock is not None and self.transport is None:
            self.sock.close()

    # ---------------------------------------------------------------------- run

    def _mss_retry_due(self) -> bool:
        """Whether to repeat this route's stalled handshake with a small MSS: the
        handshake timed out at its own limit, plain SMTP worked on this address, no
        route of the address has made the retry yet, and the deadline leaves room."""
        if self.mss is not None or not self.tls_stalled or not MAXSEG_SUPPORTED:
            return False
        if not self.hints.smtp_ok or self.hints.mss_retry_claimed:
            return False
        if self.deadline is not None:
            needed = mss_retry_limit(self.config.timeouts.tls) + MSS_SETUP_BUDGET
            if self.deadline - self.loop.time() < needed:
                return False
        self.hints.mss_retry_claimed = True
        return True

    async def _small_mss_retry(self) -> MssRetry:
        """Repeat the handshake once on a new connection with a small MSS."""
        mss = SMALL_MSS[self.route.family]
        limit = mss_retry_limit(self.config.timeouts.tls)
        start_ms = round(self.recorder.elapsed_ms(), 3)
        retry = _RouteProbe(
            self.route, self.ctx, self.deadline, AddressHints(), mss=mss, tls_limit=limit
        )
        await retry.handshake_only()
        records = retry.recorder.records
        handshake = next((r for r in reversed(records) if r.phase is Phase.TLS_HANDSHAKE), None)
        last = records[-1] if records else None
        if handshake is not None and handshake.ok:
            result = MssRetryResult.COMPLETED
        elif retry.tls_stalled:
            result = MssRetryResult.STALLED
        elif retry.tls_cut or (
            last is not None
            and last.outcome is Outcome.TIMEOUT
            and self.deadline is not None
            and self.loop.time() >= self.deadline - 0.01
        ):
            result = MssRetryResult.CUT
        else:
            result = MssRetryResult.FAILED
        return MssRetry(
            mss=mss,
            result=result,
            start_ms=start_ms,
            duration_ms=round(retry.recorder.elapsed_ms(), 3),
            handshake_ms=handshake.duration_ms if handshake is not None else None,
            limit_s=limit,
            chain_bytes=retry.chain_bytes,
            phases=records,
        )

    async def handshake_only(self) -> None:
        """Connect and run the TLS handshake (after greeting, EHLO and STARTTLS on a
        STARTTLS port), then close: the small-MSS retry. Never raises on network
        outcomes; what happened is in the phase records."""
        try:
            try:
                await self._connect()
                if self.route.tls_mode is TlsMode.IMPLICIT:
                    await self._implicit_tls()
                else:
                    await self._plain_transport()
                    await self._greeting()
                    if await self._ehlo(Phase.EHLO) and "STARTTLS" in self.extensions:
                        await self._starttls()
            except _Stop:
                pass
            except Exception as exc:
                self._unrecorded(exc)
        finally:
            self._close()  # nothing more to say: the handshake was the question

    async def run(self) -> RouteResult:
        started_at = utc_iso()
        ok = False
        try:
            try:
                await self._connect()
                if self.route.tls_mode is TlsMode.IMPLICIT:
                    await self._implicit_tls()
                else:
                    await self._plain_transport()
                await self._greeting()
                if await self._ehlo(Phase.EHLO):
                    if self.route.tls_mode is TlsMode.STARTTLS:
                        self.starttls_offered = "STARTTLS" in self.extensions
                        if self.starttls_offered:
                            await self._starttls()
                            await self._ehlo(Phase.EHLO_TLS)
                else:
                    await self._helo()
                ok = True
            except _Stop:
                pass  # the failure is in the phase records
            except Exception as exc:
                self._unrecorded(exc)
            await self._quit()
        finally:
            self._close()
        mss_retry = await self._small_mss_retry() if self._mss_retry_due() else None
        return RouteResult(
            route=self.route,
            phases=self.recorder.records,
            ok=ok,
            banner=self.banner,
            extensions=self.extensions,
            starttls_offered=self.starttls_offered,
            tls=self.tls,
            total_ms=round(self.recorder.elapsed_ms(), 3),
            started_at=started_at,
            local_address=self.local_address,
            greeting_name=self.greeting_name,
            ehlo_name=self.ehlo_name,
            mss_retry=mss_retry,
        )


async def run_route(
    route: Route,
    ctx: ProbeContext,
    deadline: float | None,
    hints: AddressHints | None = None,
) -> RouteResult:
    """Probe one route; network outcomes end up in the result, never as exceptions.

    ``hints`` are shared by the routes of one address (see :class:`AddressHints`).
    """
    return await _RouteProbe(route, ctx, deadline, hints).run()
