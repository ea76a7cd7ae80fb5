"""A tiny HTTP health endpoint for a mail domain, with nothing but asyncio and smtpdiag.

    python health_endpoint.py example.org --listen 127.0.0.1:8025 [--nameserver IP[:PORT]]

``GET /health`` answers 200 when the check is ok or warning, 503 when it is critical or
unknown, with the health result as JSON. ``GET /metrics`` answers the OpenMetrics
exposition. Checks are cached for ``--ttl`` seconds so that a busy load balancer does not
turn into a port-25 flood; one check runs at a time.

In a web framework the same takes three lines: ``result = await smtpdiag.health.check(
domain, config)``, then ``result.to_dict()`` and ``503 if result.status in (critical,
unknown) else 200``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import time

from smtpdiag.config import Nameserver, ProbeConfig, ResolverConfig, TlsConfig
from smtpdiag.health import HealthResult, HealthStatus, check
from smtpdiag.report.openmetrics import CONTENT_TYPE, render_openmetrics


class CachedCheck:
    """Runs at most one check at a time and reuses a result for ``ttl`` seconds."""

    def __init__(self, domain: str, config: ProbeConfig, ttl: float) -> None:
        self.domain, self.config, self.ttl = domain, config, ttl
        self._result: HealthResult | None = None
        self._at = 0.0
        self._lock = asyncio.Lock()

    async def get(self) -> HealthResult:
        async with self._lock:
            if self._result is None or time.monotonic() - self._at > self.ttl:
                self._result = await check(self.domain, self.config)
                self._at = time.monotonic()
            return self._result


async def handle(
    cache: CachedCheck, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    try:
        request = await asyncio.wait_for(reader.readline(), 5)
        while (await asyncio.wait_for(reader.readline(), 5)) not in (b"\r\n", b"\n", b""):
            pass  # skip the headers
        parts = request.decode("latin-1").split()
        path = parts[1] if len(parts) >= 2 else ""
        if path == "/health":
            result = await cache.get()
            bad = result.status in (HealthStatus.CRITICAL, HealthStatus.UNKNOWN)
            status = "503 Service Unavailable" if bad else "200 OK"
            body, ctype = json.dumps(result.to_dict()).encode(), "application/json"
        elif path == "/metrics":
            result = await cache.get()
            status, body, ctype = "200 OK", render_openmetrics(result).encode(), CONTENT_TYPE
        else:
            status, body, ctype = "404 Not Found", b"not found\n", "text/plain"
        head = (
            f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        )
        writer.write(head.encode("latin-1") + body)
        await writer.drain()
    except (TimeoutError, ConnectionError):
        pass
    finally:
        writer.close()


async def serve(domain: str, host: str, port: int, config: ProbeConfig, ttl: float) -> None:
    cache = CachedCheck(domain, config, ttl)
    server = await asyncio.start_server(lambda r, w: handle(cache, r, w), host, port)
    print(f"listening on {host}:{server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("domain")
    p.add_argument("--listen", default="127.0.0.1:8025", help="HOST:PORT (port 0: any)")
    p.add_argument("--nameserver", action="append", default=[], help="IP[:PORT] (repeatable)")
    p.add_argument("--ports", default="25", help="ports to probe (default: 25)")
    p.add_argument("--ttl", type=float, default=60.0, help="seconds a result is reused")
    p.add_argument(
        "--allow-targets",
        action="append",
        default=[],
        metavar="CIDR",
        help="non-global network that may be probed (repeatable; e.g. a lab)",
    )
    p.add_argument("--ca-file", help="PEM bundle to verify certificates with (default: system)")
    args = p.parse_args()
    host, _, port = args.listen.rpartition(":")
    config = ProbeConfig(
        ports=tuple(int(x) for x in args.ports.split(",")),
        resolver=ResolverConfig(tuple(Nameserver.parse(n) for n in args.nameserver)),
        allow_targets=tuple(args.allow_targets),
        tls=TlsConfig(ca_file=args.ca_file),
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.domain, host, int(port), config, args.ttl))


if __name__ == "__main__":
    main()
