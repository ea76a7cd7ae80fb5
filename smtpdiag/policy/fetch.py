"""The MTA-STS policy fetch: one bounded HTTPS GET (RFC 8461 3.3).

``https://mta-sts.<domain>/.well-known/mta-sts.txt``, as a sender fetches it:

- the policy host is resolved with *our* resolver (``config.resolver``) and its
  addresses pass the probe's address policy (``config.allow_targets``) before any
  connection: the name is published by the domain, i.e. input from outside;
- the certificate is judged as WebPKI (3.3: "the certificate ... MUST be valid for the
  'mta-sts' host"): chain to the trust store (``config.tls.ca_file`` or the system's)
  and the name ``mta-sts.<domain>``, with the probe's own helpers, after a handshake
  that does not verify (so an expired, untrusted or misnamed certificate is named as
  such, not as a handshake failure). No request is sent over a connection whose
  certificate fails;
- no redirects are followed (3.3: "HTTP 3xx redirects MUST NOT be followed"), a status
  other than 200 is an error, the media type must be ``text/plain``;
- the body is limited to ``config.policy.max_policy_bytes`` and the whole fetch (DNS,
  connect, handshake, request, body) to one scope ending at
  ``min(deadline, now + config.policy.fetch_timeout)``, so a server dripping a byte a
  second ends with ``timeout`` on time.

HTTP/1.1 framing is parsed by ``h11`` (sans-io; bytes in, events out), imported when a
fetch runs so that start-up paths that never fetch do not load it.
"""

from __future__ import annotations

import asyncio
import errno
import re
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ..config import ProbeConfig
from ..errors import ProbeError
from ..model import AddressFamily, DnsOutcome, StsFetch, StsFetchError
from ..textsafe import clean

if TYPE_CHECKING:
    import h11

__all__ = ["POLICY_PATH", "fetch_policy", "policy_url"]

#: Where the policy lives on the policy host (RFC 8461 3.3).
POLICY_PATH = "/.well-known/mta-sts.txt"
#: Addresses of the policy host tried at most (each only when the one before could
#: not be connected to).
_MAX_ADDRESSES = 4
#: Addresses kept per family from one answer.
_MAX_PER_FAMILY = 8
#: Bytes asked of the connection per read.
_READ_SIZE = 16 * 1024
#: Longest header block (h11's limit on one incomplete event).
_MAX_HEADER_BYTES = 16 * 1024
#: Wire bytes read beyond the body limit (headers, 1xx responses, chunk framing).
_WIRE_SLACK = 64 * 1024
#: Longest a finished fetch waits for a graceful TLS close before aborting.
_CLOSE_WAIT = 0.25

_Address = tuple[str, AddressFamily]

# A host name we can put into SNI, a Host header and a DNS question (RFC 1035 2.3.4
# lengths; underscores allowed, some zones have them). Anything else is refused before
# any I/O: it cannot name a policy host.
_HOST_LABEL = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_\-]{0,61}[A-Za-z0-9_])?")


def _valid_host(host: str) -> bool:
    return (
        len(host) <= 253
        and host.isascii()
        and all(_HOST_LABEL.fullmatch(label) for label in host.split("."))
    )


def policy_url(domain: str, port: int = 443) -> str:
    """The policy's URL; the port appears only when it is not 443 (tests)."""
    host = f"mta-sts.{domain.rstrip('.').lower()}"
    where = host if port == 443 else f"{host}:{port}"
    return f"https://{where}{POLICY_PATH}"


class _Failed(Exception):
    """A classified end of the fetch (internal; becomes :attr:`StsFetch.error`)."""

    def __init__(self, error: StsFetchError, detail: str) -> None:
        super().__init__(detail)
        self.error = error
        self.detail = detail


@dataclass(slots=True)
class _Progress:
    """What the fetch has seen so far; copied into :class:`StsFetch` at the end."""

    address: str | None = None
    status: int | None = None
    content_type: str | None = None
    size: int = 0


def _os_error_text(exc: OSError) -> str:
    if exc.errno is not None and exc.errno in errno.errorcode:
        name = errno.errorcode[exc.errno]
        return f"{name}: {exc.strerror or ''}".rstrip(": ")
    return clean(f"{type(exc).__name__}: {exc}", 200)


async def _addresses(
    host: str, config: ProbeConfig, end: float, resolver: Any = None
) -> list[_Address]:
    """A and AAAA of the policy host (the families the probe uses), in that order,
    through ``resolver`` (a service's shared one; default: the configured one)."""
    from ..resolve.resolver import build_resolver, query_raw

    loop = asyncio.get_running_loop()
    lifetime = min(config.timeouts.dns, end - loop.time())
    if resolver is None:
        try:
            resolver = build_resolver(config.resolver, lifetime=max(lifetime, 0.01))
        except ProbeError as exc:
            raise _Failed(StsFetchError.DNS, clean(str(exc), 300)) from None
    families = [
        (family, rdtype)
        for family, rdtype in ((AddressFamily.IPV4, "A"), (AddressFamily.IPV6, "AAAA"))
        if family in config.probe_families
    ]
    answers = await asyncio.gather(
        *(query_raw(resolver, host, rdtype, lifetime=lifetime) for _, rdtype in families)
    )
    found: list[_Address] = []
    outcomes: list[str] = []
    for (family, rdtype), raw in zip(families, answers, strict=True):
        outcomes.append(f"{rdtype} {raw.query.outcome.value}")
        if raw.query.outcome is not DnsOutcome.OK:
            continue
        for rdata in raw.records[:_MAX_PER_FAMILY]:
            address = getattr(rdata, "address", None)
            if isinstance(address, str):
                found.append((address, family))
    if not found:
        raise _Failed(StsFetchError.DNS, f"{host} has no address ({', '.join(outcomes)})")
    return found


def _allowed(found: Sequence[_Address], config: ProbeConfig) -> list[_Address]:
    from ..probing.addresses import address_policy

    networks = config.allowed_networks
    allowed = [a for a in found if address_policy(a[0], networks).connect]
    if not allowed:
        address = found[0][0]
        cls = address_policy(address, networks).address_class
        raise _Failed(
            StsFetchError.ADDRESS_NOT_ALLOWED,
            f"{address} is a {cls.value} address, not an allowed target; nothing was connected to",
        )
    return allowed[:_MAX_ADDRESSES]


async def _connect(
    addresses: Sequence[_Address], host: str, config: ProbeConfig, progress: _Progress
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """TCP to the first address that accepts, then the TLS handshake (no verification)."""
    from ..probing.connect import open_connection_socket
    from ..probing.tls import client_context

    last = "no address to connect to"
    for address, family in addresses:
        progress.address = address
        try:
            sock = await open_connection_socket(
                address, config.policy.https_port, family, config.source_address
            )
        except OSError as exc:
            last = f"{address}: {_os_error_text(exc)}"
            continue
        try:
            return await asyncio.open_connection(
                sock=sock, ssl=client_context(), server_hostname=host, limit=_READ_SIZE
            )
        except ssl.SSLError as exc:
            sock.close()
            reason = exc.reason or type(exc).__name__
            raise _Failed(StsFetchError.TLS_HANDSHAKE, clean(str(reason), 200)) from None
        except (OSError, EOFError) as exc:
            sock.close()
            text = _os_error_text(exc) if isinstance(exc, OSError) else "closed"
            raise _Failed(StsFetchError.TLS_HANDSHAKE, f"during the handshake: {text}") from None
        except BaseException:
            sock.close()
            raise
    raise _Failed(StsFetchError.CONNECT, last)


def _check_certificate(writer: asyncio.StreamWriter, host: str, config: ProbeConfig) -> None:
    """Judge the policy host's chain as an enforcing sender's WebPKI check would."""
    from ..certmatch import load_trust_store
    from ..model import TlsReason
    from ..probing.tls import certificate_facts, peer_chain

    ssl_object = writer.get_extra_info("ssl_object")
    if not isinstance(ssl_object, ssl.SSLObject | ssl.SSLSocket):
        raise _Failed(StsFetchError.TLS_HANDSHAKE, "no TLS session")
    ders, sent = peer_chain(ssl_object)
    store = load_trust_store(config.tls.ca_file)
    _info, match, error, reason = certificate_facts(ders, host, store, datetime.now(UTC), sent=sent)
    if reason is TlsReason.CERT_EXPIRED:
        raise _Failed(StsFetchError.CERT_EXPIRED, error or "certificate expired")
    if reason is TlsReason.CERT_WRONG_NAME:
        raise _Failed(StsFetchError.CERT_NAME, error or f"certificate does not name {host}")
    if reason is not None:
        raise _Failed(StsFetchError.CERT_UNTRUSTED, error or "certificate not trusted")
    if match is not True:
        raise _Failed(StsFetchError.CERT_NAME, f"the certificate does not name {host}")


def _header(headers: Sequence[tuple[bytes, bytes]], name: bytes) -> str | None:
    for key, value in headers:
        if key == name:  # h11 lower-cases names
            return clean(value.decode("latin-1"), 200)
    return None


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def _on_response(event: h11.Response, limit: int, progress: _Progress) -> None:
    progress.status = event.status_code
    progress.content_type = _header(event.headers, b"content-type")
    if event.status_code != 200:
        # 3.3: redirects are not followed; any status but 200 is a fetch error.
        where = _header(event.headers, b"location")
        to = (
            f" (redirect to {where}, not followed)"
            if where and 300 <= event.status_code < 400
            else ""
        )
        raise _Failed(StsFetchError.HTTP_STATUS, f"HTTP {event.status_code}{to}")
    if _media_type(progress.content_type) != "text/plain":
        raise _Failed(
            StsFetchError.CONTENT_TYPE,
            f"media type {progress.content_type or '(none)'}, not text/plain",
        )
    length = _header(event.headers, b"content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise _Failed(
            StsFetchError.TOO_LARGE, f"Content-Length {int(length)} above the {limit}-byte limit"
        )


async def _exchange(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    host: str,
    config: ProbeConfig,
    progress: _Progress,
) -> bytes:
    """Send the GET and read the response; the body, or :class:`_Failed`."""
    import h11

    from ..version import __version__

    port = config.policy.https_port
    conn = h11.Connection(h11.CLIENT, max_incomplete_event_size=_MAX_HEADER_BYTES)
    request = h11.Request(
        method="GET",
        target=POLICY_PATH,
        headers=[
            ("Host", host if port == 443 else f"{host}:{port}"),
            ("User-Agent", f"smtpdiag/{__version__}"),
            ("Accept", "text/plain"),
            ("Connection", "close"),
        ],
    )
    writer.write(conn.send(request) + (conn.send(h11.EndOfMessage()) or b""))
    try:
        await writer.drain()
    except OSError as exc:
        raise _Failed(
            StsFetchError.CONNECT, f"sending the request: {_os_error_text(exc)}"
        ) from None
    limit = config.policy.max_policy_bytes
    wire_limit = 2 * limit + _WIRE_SLACK
    wire = 0
    body = bytearray()
    try:
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                try:
                    chunk = await reader.read(_READ_SIZE)
                except (OSError, EOFError) as exc:
                    text = _os_error_text(exc) if isinstance(exc, OSError) else "closed"
                    raise _Failed(StsFetchError.CONNECT, f"reading the response: {text}") from None
                wire += len(chunk)
                if wire > wire_limit:
                    progress.size = len(body)
                    raise _Failed(StsFetchError.TOO_LARGE, f"more than {wire_limit} bytes sent")
                conn.receive_data(chunk)  # b"": the server closed
            elif isinstance(event, h11.Response):
                _on_response(event, limit, progress)
            elif isinstance(event, h11.Data):
                progress.size += len(event.data)
                if progress.size > limit:
                    raise _Failed(StsFetchError.TOO_LARGE, f"body beyond the {limit}-byte limit")
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                return bytes(body)
            elif isinstance(event, h11.ConnectionClosed):
                raise _Failed(StsFetchError.PROTOCOL, "closed before a complete response")
            # InformationalResponse (1xx): skipped; the wire limit bounds how many.
    except h11.RemoteProtocolError as exc:
        raise _Failed(StsFetchError.PROTOCOL, clean(str(exc), 200) or "malformed HTTP") from None


async def _close(writer: asyncio.StreamWriter, graceful: bool, end: float) -> None:
    """Close the connection: a TLS close_notify when the fetch ended well and time is
    left (bounded by :data:`_CLOSE_WAIT`), else an abort. Always leaves it closed."""
    loop = asyncio.get_running_loop()
    wait = min(_CLOSE_WAIT, end - loop.time())
    try:
        if graceful and wait > 0:
            writer.close()
            async with asyncio.timeout(wait):
                await writer.wait_closed()
    except (OSError, ssl.SSLError, TimeoutError):
        pass
    finally:
        writer.transport.abort()


async def fetch_policy(
    domain: str, config: ProbeConfig, *, deadline: float, resolver: Any = None
) -> tuple[StsFetch, bytes | None]:
    """Fetch ``https://mta-sts.<domain>/.well-known/mta-sts.txt`` (RFC 8461 3.3),
    the policy host's addresses asked through ``resolver`` (default: the configured
    one).

    Returns the fetch as observed and the body, or ``None`` as the body when the fetch
    failed (:attr:`StsFetch.error` says why). Never raises on a network, DNS, TLS or
    HTTP outcome; ends by ``min(deadline, start + config.policy.fetch_timeout)``.
    """
    loop = asyncio.get_running_loop()
    start = loop.time()
    end = min(deadline, start + config.policy.fetch_timeout)
    domain = domain.rstrip(".").lower()
    host = f"mta-sts.{domain}"
    progress = _Progress()
    error: StsFetchError | None = None
    detail: str | None = None
    body: bytes | None = None
    writer: asyncio.StreamWriter | None = None
    scope = asyncio.timeout_at(end)
    try:
        async with scope:
            if end <= start:
                raise _Failed(StsFetchError.TIMEOUT, "no time left before the deadline")
            if not _valid_host(host):
                raise _Failed(StsFetchError.DNS, f"{clean(host, 80)} is not a valid host name")
            allowed = _allowed(await _addresses(host, config, end, resolver), config)
            reader, writer = await _connect(allowed, host, config, progress)
            _check_certificate(writer, host, config)
            body = await _exchange(reader, writer, host, config, progress)
    except _Failed as failed:
        error, detail = failed.error, failed.detail
    except TimeoutError:
        if not scope.expired():
            raise
        error = StsFetchError.TIMEOUT
        limit = end - start
        detail = f"not complete within {limit:.1f} s ({progress.size} body bytes read)"
    finally:
        if writer is not None:
            await _close(writer, body is not None, end)
    return (
        StsFetch(
            url=clean(policy_url(domain, config.policy.https_port), 300),
            address=progress.address,
            status=progress.status,
            content_type=progress.content_type,
            size=progress.size,
            duration_ms=round((loop.time() - start) * 1000.0, 3),
            error=error,
            detail=clean(detail, 300) if detail else None,
        ),
        body if error is None else None,
    )
