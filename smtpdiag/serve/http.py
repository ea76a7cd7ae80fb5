"""The HTTP side of ``smtpdiag serve``: asyncio streams with h11 framing (HTTP/1.1).

h11 is already a dependency (the MTA-STS policy fetch uses it); the service needs GET
and three paths, not a framework. Hostile clients are normal:

- a request's head is at most :data:`MAX_HEAD` bytes and must arrive within
  ``head_timeout`` seconds; a request with a body is refused (413), except a TLS
  report POSTed to ``/tlsrpt`` when the service accepts them (``--accept-tlsrpt``):
  its media type is checked first (415), then at most
  :data:`~smtpdiag.serve.tlsrpt.MAX_BODY` bytes are read (413) within
  ``request_timeout``, and at most :data:`MAX_UPLOADS` are read at once (503);
- at most ``max_connections`` connections are served at once (others get 503);
- every response is sent within ``request_timeout`` seconds of the request, probe or
  not (a probe that overruns keeps running for the next scrape; the scrape gets 504);
- connections are kept alive between requests (Prometheus reuses its connections,
  and a new one per scrape cost the service more than rendering the scrape), at most
  :data:`MAX_REQUESTS` requests each; the next request's head must arrive within
  ``head_timeout`` like the first, and a connection is closed after its response
  when the service is at ``max_connections`` (so idle connections never crowd out new
  ones), after an upload, or after any error response.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections import Counter
from dataclasses import dataclass

import h11

from ..errors import ConfigError
from ..tlsreports import TlsReportRecord
from .exporter import Exporter, ProbeAnswer
from .exposition import (
    content_type,
    render_probe,
    render_self,
    service_json,
    wants_openmetrics,
)
from .targets import DEFAULT_MODULE, parse_query, validate_target
from .tlsrpt import (
    GZIP_TYPE,
    JSON_TYPE,
    MAX_BODY,
    Outcome,
    Received,
    TlsrptStore,
    decode,
    media_type,
)
from .tlsrpt import PATH as TLSRPT_PATH

__all__ = ["MAX_HEAD", "Limits", "Service"]

#: Largest request head (request line and headers) accepted, in bytes.
MAX_HEAD = 8192
#: Requests served on one kept-alive connection before it is closed.
MAX_REQUESTS = 1000
#: TLS report uploads read and decoded at the same time (memory: each holds its body
#: and its decoded report, a few MiB at most).
MAX_UPLOADS = 4


@dataclass(frozen=True, slots=True)
class Limits:
    """Per-request limits of the service (seconds, counts)."""

    head_timeout: float = 5.0
    request_timeout: float = 30.0
    max_connections: int = 64


@dataclass(frozen=True, slots=True)
class _Response:
    status: int
    body: str
    content_type: str = "text/plain; charset=utf-8"


class Service:
    """Routes requests to the exporter; serve with :meth:`start`."""

    def __init__(
        self, exporter: Exporter, limits: Limits, tlsrpt: TlsrptStore | None = None
    ) -> None:
        self.exporter = exporter
        self.limits = limits
        self.tlsrpt = tlsrpt
        self._uploads = 0
        self.requests: Counter[tuple[str, int]] = Counter()
        self._connections = 0
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()

    async def start(
        self, host: str, port: int, tls: ssl.SSLContext | None = None
    ) -> asyncio.Server:
        self._server = await asyncio.start_server(
            self._accept,
            host,
            port,
            limit=MAX_HEAD,
            ssl=tls,
            # A client that stalls the handshake is held no longer than one stalling the head.
            ssl_handshake_timeout=self.limits.head_timeout if tls is not None else None,
        )
        return self._server

    async def aclose(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._handlers):
            task.cancel()
        for task in list(self._handlers):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        self._connections += 1
        try:
            await self._connection(reader, writer)
        except (
            ConnectionError,
            asyncio.IncompleteReadError,
            h11.LocalProtocolError,
            ssl.SSLError,
        ):
            pass
        finally:
            self._connections -= 1
            if task is not None:
                self._handlers.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 1.0)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD)
        if self._connections > self.limits.max_connections:
            await self._send(conn, writer, _Response(503, "too many connections\n"), "other")
            return
        for n in range(MAX_REQUESTS):
            if not await self._request(conn, reader, writer, kept_alive=n > 0):
                return
            # A request without a body ends at once; one with a body was refused unread
            # (NEED_DATA or Data here): then the connection closes.
            if conn.their_state is h11.SEND_BODY and not isinstance(
                conn.next_event(), h11.EndOfMessage
            ):
                return
            if conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                return  # either side said close
            conn.start_next_cycle()

    async def _request(
        self,
        conn: h11.Connection,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        kept_alive: bool,
    ) -> bool:
        """Read and answer one request; ``False`` when the connection is to close.
        ``kept_alive``: an earlier request was served on this connection."""
        try:
            async with asyncio.timeout(self.limits.head_timeout):
                event = await _next_request(conn, reader)
        except TimeoutError:
            if kept_alive and not conn.trailing_data[0]:
                return False  # idle after a response: closed without a word
            await self._send(conn, writer, _Response(408, "request timeout\n"), "other")
            return False
        except h11.RemoteProtocolError as exc:
            status = exc.error_status_hint
            await self._send(conn, writer, _Response(status, "bad request\n"), "other")
            return False
        if event is None:
            return False  # the client closed without a request
        target = event.target.decode("ascii", "replace")
        path, _, query = target.partition("?")
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in event.headers}
        if self.tlsrpt is not None and path == TLSRPT_PATH:
            if event.method != b"POST":
                response = _Response(405, "only POST (a TLS report, RFC 8460)\n")
            else:
                response = await self._upload(self.tlsrpt, conn, reader, writer, headers)
            await self._send(conn, writer, response, TLSRPT_PATH)
            return False
        if event.method not in (b"GET", b"HEAD"):
            response = _Response(405, "only GET\n")
        elif headers.get("content-length", "0") != "0" or "transfer-encoding" in headers:
            response = _Response(413, "no request body expected\n")
        else:
            try:
                async with asyncio.timeout(_deadline(self.limits.request_timeout, headers)):
                    response = await self._route(path, query, headers)
            except TimeoutError:
                response = _Response(504, "the probe did not finish within the deadline\n")
        keep = response.status < 400 and self._connections < self.limits.max_connections
        await self._send(
            conn, writer, response, _known_path(path), event.method == b"HEAD", keep=keep
        )
        return keep

    async def _route(self, path: str, query: str, headers: dict[str, str]) -> _Response:
        om = wants_openmetrics(headers.get("accept", ""))
        if path == "/-/healthy":
            return _Response(200, "Healthy\n")
        if path == "/metrics":
            body = render_self(
                self.exporter.stats,
                dict(self.requests),
                self.exporter.targets,
                self.exporter.backing_off,
                om,
                self.tlsrpt,
            )
            return _Response(200, body, content_type(om))
        if path == "/report":
            return self._report(query)
        if path == "/probe":
            try:
                params = parse_query(query)
                unknown = set(params) - {"target", "module"}
                if unknown:
                    raise ConfigError(f"unknown parameter {sorted(unknown)[0]!r}")
                module = self._module(params)
                if "target" not in params:
                    raise ConfigError("the target parameter is missing")
                domain = validate_target(params["target"])
            except ConfigError as exc:
                return _Response(400, f"{_line(str(exc))}\n")
            try:
                answer = await self.exporter.probe(domain, module)
            except Exception as exc:  # a bug or a broken state file: a 500 line, not a drop
                _log_error(exc)
                return _Response(500, f"internal error: {_line(type(exc).__name__)}\n")
            return _Response(200, render_probe(answer, om), content_type(om))
        return _Response(
            404, "not found: /probe?target=DOMAIN, /report?target=DOMAIN, /metrics, /-/healthy\n"
        )

    async def _upload(
        self,
        store: TlsrptStore,
        conn: h11.Connection,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        headers: dict[str, str],
    ) -> _Response:
        """One TLS report POSTed (RFC 8460 section 5.4): checked, stored, answered."""
        received = await self._receive(conn, reader, writer, headers)
        if isinstance(received, Received):
            store.count(received.outcome)
            return _Response(received.status, f"{_line(received.line)}\n")
        outcome = store.add(received)
        if outcome is Outcome.DUPLICATE:
            return _Response(200, "duplicate: this report was received before\n")
        return _Response(200, "accepted\n")

    async def _receive(
        self,
        conn: h11.Connection,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        headers: dict[str, str],
    ) -> Received | TlsReportRecord:
        mtype = media_type(headers.get("content-type", ""))
        if mtype not in (GZIP_TYPE, JSON_TYPE):
            return Received(
                415, f"Content-Type must be {GZIP_TYPE} or {JSON_TYPE}", Outcome.REJECTED
            )
        length = headers.get("content-length")
        if length is not None and int(length) > MAX_BODY:  # h11 checked it is a number
            return Received(413, f"the body is over {MAX_BODY} bytes", Outcome.REJECTED)
        if self._uploads >= MAX_UPLOADS:
            return Received(503, "busy: too many uploads at once", Outcome.REJECTED)
        self._uploads += 1
        try:
            if conn.they_are_waiting_for_100_continue:  # curl asks before a large body
                writer.write(
                    conn.send(h11.InformationalResponse(status_code=100, headers=[])) or b""
                )
            try:
                async with asyncio.timeout(self.limits.request_timeout):
                    body = await _read_body(conn, reader, MAX_BODY)
            except TimeoutError:
                return Received(408, "the body did not arrive in time", Outcome.REJECTED)
            except h11.RemoteProtocolError:
                return Received(400, "bad request body framing", Outcome.REJECTED)
            if body is None:
                return Received(413, f"the body is over {MAX_BODY} bytes", Outcome.REJECTED)
            # Decompressing and parsing a few MiB takes tens of ms: off the event loop.
            return await asyncio.to_thread(decode, body, mtype)
        finally:
            self._uploads -= 1

    def _module(self, params: dict[str, str]) -> str:
        """The ``module`` parameter, one of the service's modules; raises ConfigError."""
        module = params.get("module", DEFAULT_MODULE)
        if module not in self.exporter.modules:
            known = ", ".join(sorted(self.exporter.modules))
            raise ConfigError(f"unknown module {module[:64]!r} (this service has: {known})")
        return module

    def _report(self, query: str) -> _Response:
        """The latest result of a target as ``check --format json`` has it, with what
        the service knows (``service``: backoff, TLSA match of the served
        certificates); never probes."""

        try:
            params = parse_query(query)
            if "target" not in params or set(params) - {"target", "module"}:
                raise ConfigError("/report takes the parameters target and (optionally) module")
            module = self._module(params)
            domain = validate_target(params["target"])
        except ConfigError as exc:
            return _Response(400, f"{_line(str(exc))}\n")
        answer = self.exporter.latest_answer(domain, module)
        if answer is None:
            return _Response(404, "no probe of this target yet (scrape /probe first)\n")
        return _Response(200, _report_json(answer), "application/json")

    async def _send(
        self,
        conn: h11.Connection,
        writer: asyncio.StreamWriter,
        response: _Response,
        path: str,
        head_only: bool = False,
        *,
        keep: bool = False,
    ) -> None:
        """Send ``response``; ``keep``: the connection may stay open for another
        request (else the response says ``Connection: close``)."""
        self.requests[(path, response.status)] += 1
        body = response.body.encode("utf-8")
        headers = [
            ("Content-Type", response.content_type),
            ("Content-Length", str(len(body))),
        ]
        if not keep:
            headers.append(("Connection", "close"))
        try:
            data = conn.send(h11.Response(status_code=response.status, headers=headers))
        except h11.LocalProtocolError:
            # h11 answers only after a request line; a garbled first line gets a raw reply.
            data = (
                f"HTTP/1.1 {response.status} Error\r\nContent-Length: {len(body)}\r\n"
                "Connection: close\r\n\r\n"
            ).encode()
            writer.write(data + body)
            await _drain(writer)
            return
        if not head_only:
            data += conn.send(h11.Data(data=body)) or b""
        data += conn.send(h11.EndOfMessage()) or b""
        writer.write(data)
        await _drain(writer)


async def _drain(writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(5.0):  # a client that does not read does not hold us
            await writer.drain()


def _report_json(answer: ProbeAnswer) -> str:
    """The health document (as ``check --format json``) with the service's own object
    added under ``service``."""
    import json

    from ..report.health_json import health_document

    document = health_document(answer.result)
    document["service"] = service_json(answer)
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _known_path(path: str) -> str:
    """The path as a metrics label: one of ours, or ``other`` (unbounded label values)."""
    known = ("/probe", "/report", "/metrics", "/-/healthy", TLSRPT_PATH)
    return path if path in known else "other"


#: Header in which Prometheus sends its scrape timeout (as blackbox_exporter reads it).
SCRAPE_TIMEOUT_HEADER = "x-prometheus-scrape-timeout-seconds"


def _deadline(limit: float, headers: dict[str, str]) -> float:
    """Seconds this request may take: ``limit``, or less when the scraper gives up sooner
    (its timeout minus half a second, so the answer arrives before it stops waiting)."""
    try:
        scraper = float(headers.get(SCRAPE_TIMEOUT_HEADER, ""))
    except ValueError:
        return limit
    if not 0 < scraper < limit + 0.5:  # also refuses NaN and inf
        return limit
    return max(0.1, scraper - 0.5)


def _log_error(exc: BaseException) -> None:
    import sys
    import traceback

    # The service's stderr is its log (journald, docker logs): the traceback goes there.
    traceback.print_exception(exc, file=sys.stderr)


def _line(text: str) -> str:
    from ..textsafe import clean

    return clean(text, 300)


async def _read_body(
    conn: h11.Connection, reader: asyncio.StreamReader, limit: int
) -> bytes | None:
    """The request body, or ``None`` past ``limit`` bytes (the rest is not read)."""
    chunks: list[bytes] = []
    size = 0
    for _ in range(limit + 2):  # bounded: each round reads at least one byte or ends
        event = conn.next_event()
        if event is h11.NEED_DATA:
            data = await reader.read(65536)
            if not data:
                raise ConnectionError("the client closed before the end of the body")
            conn.receive_data(data)
        elif isinstance(event, h11.Data):
            size += len(event.data)
            if size > limit:
                return None
            chunks.append(bytes(event.data))
        elif isinstance(event, h11.EndOfMessage):
            return b"".join(chunks)
        else:
            raise ConnectionError("the client closed before the end of the body")
    return None


async def _next_request(conn: h11.Connection, reader: asyncio.StreamReader) -> h11.Request | None:
    for _ in range(MAX_HEAD):  # bounded: each round reads at least one byte or ends
        event = conn.next_event()
        if event is h11.NEED_DATA:
            data = await reader.read(4096)
            conn.receive_data(data)
            if not data:
                event = conn.next_event()
                if event is h11.NEED_DATA or isinstance(event, h11.ConnectionClosed):
                    return None
        if isinstance(event, h11.Request):
            return event
        if isinstance(event, h11.ConnectionClosed):
            return None
    raise h11.RemoteProtocolError("request head too long", error_status_hint=431)
