"""Shared fixtures and the network guard for the whole test suite.

The guard: tests may talk only to loopback (127.0.0.0/8, ::1) and to the documentation
ranges the lab assigns inside its own network namespaces (198.51.100.0/24,
198.18.0.0/24, 2001:db8::/32). ``socket.socket.connect``, ``connect_ex`` and ``sendto``
and ``socket.getaddrinfo`` are wrapped for the whole session; a call aimed anywhere
else raises :class:`OutsideNetworkError` naming the address, and the test fails at
teardown even if the code under test swallowed that error (a probe turns most
exceptions into data, which would otherwise hide the attempt).

Fixtures:

- ``dns_server``: an async factory starting a :class:`LocalDnsServer` on loopback;
  every server started is stopped at teardown::

      async def test_x(dns_server):
          dns = await dns_server({"example.test": {"@": "MX 10 mx1", "mx1": "A 127.0.0.2"}})
          config = ProbeConfig(resolver=ResolverConfig(nameservers=(dns.nameserver,)))

- ``dns_server_thread``: the same from synchronous tests (a server on its own thread),
  for code run in a subprocess or through a sync API.
- ``bulk_argv``: ``bulk_argv(lab)`` -> the ``smtpdiag bulk`` options that aim a run at a
  :func:`~smtpdiag.testing.bulklab.bulk_lab` (its nameserver, ports, CA; loopback allowed).
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import pytest

from smtpdiag.testing.dnsserver import LocalDnsServer, ThreadedDnsServer, ZoneData

if TYPE_CHECKING:
    from smtpdiag.testing.bulklab import BulkLab

# --------------------------------------------------------------------------- guard

_ALLOWED_NETWORKS = tuple(
    ipaddress.ip_network(net)
    for net in ("127.0.0.0/8", "::1/128", "198.51.100.0/24", "198.18.0.0/24", "2001:db8::/32")
)
# Host names that resolve from /etc/hosts, never through the (outside) system resolver.
_ALLOWED_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


class OutsideNetworkError(RuntimeError):
    """A test tried to reach an address outside loopback and the lab ranges.

    Deliberately not an ``OSError``: code under test that maps socket errors to
    results must not mistake it for an ordinary network failure.
    """


_violations: list[str] = []


def _address_allowed(host: object) -> bool:
    if host is None or host in ("", b""):
        return True
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    if host.lower() in _ALLOWED_NAMES:
        return True
    text = host.split("%", 1)[0]  # scope id of a link-local IPv6 address
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return False  # a host name: resolving it would ask the system resolver
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_unspecified:
        return True  # binding/sending to "any" on the local machine
    return any(address in net for net in _ALLOWED_NETWORKS)


def _check(sock: socket.socket | None, address: Any, what: str) -> None:
    if sock is not None and sock.family not in (socket.AF_INET, socket.AF_INET6):
        return  # AF_UNIX, AF_NETLINK, socketpairs: not the network
    host = address[0] if isinstance(address, tuple) and address else address
    if not _address_allowed(host):
        message = (
            f"network guard: {what} to {host!r} refused; tests may only reach 127.0.0.0/8, "
            "::1, 198.51.100.0/24, 198.18.0.0/24 and 2001:db8::/32 (pass an explicit "
            "local nameserver; never the system resolver)"
        )
        _violations.append(message)
        raise OutsideNetworkError(message)


_original_connect = socket.socket.connect
_original_connect_ex = socket.socket.connect_ex
_original_sendto = socket.socket.sendto
_original_getaddrinfo = socket.getaddrinfo


def _guarded_connect(self: socket.socket, address: Any) -> None:
    _check(self, address, "connect")
    return _original_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> int:
    _check(self, address, "connect_ex")
    return _original_connect_ex(self, address)


def _guarded_sendto(self: socket.socket, data: Any, *args: Any) -> int:
    # sendto(data, address) or sendto(data, flags, address)
    if args:
        _check(self, args[-1], "sendto")
    return _original_sendto(self, data, *args)  # type: ignore[call-overload, no-any-return]


def _guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    _check(None, (host,), "getaddrinfo")
    return _original_getaddrinfo(host, *args, **kwargs)


def _install_guard() -> None:
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]
    socket.socket.sendto = _guarded_sendto  # type: ignore[method-assign, assignment]
    socket.getaddrinfo = _guarded_getaddrinfo


def pytest_unconfigure(config: pytest.Config) -> None:
    socket.socket.connect = _original_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _original_connect_ex  # type: ignore[method-assign]
    socket.socket.sendto = _original_sendto  # type: ignore[method-assign]
    socket.getaddrinfo = _original_getaddrinfo


# Installed when this conftest is imported, i.e. before any test module is collected
# (a module that connects at import time is caught too).
_install_guard()


def _isolate_probe_settings() -> None:
    """The CLI reads probe options from SMTPDIAG_* variables and a config file under
    $XDG_CONFIG_HOME: neither the developer's own settings nor their profile may change
    what a test's subprocess probes. Tests that want them set them explicitly."""
    import tempfile

    from smtpdiag.cli.options import CONFIG_ENV, PROBE_OPTIONS

    for name in (CONFIG_ENV, *(option.env for option in PROBE_OPTIONS)):
        os.environ.pop(name, None)
    # An empty directory of our own (removed at exit): no config.toml in it.
    global _EMPTY_XDG
    _EMPTY_XDG = tempfile.TemporaryDirectory(prefix="smtpdiag-xdg-")
    os.environ["XDG_CONFIG_HOME"] = _EMPTY_XDG.name


_EMPTY_XDG: Any = None
_isolate_probe_settings()


@pytest.fixture(autouse=True)
def _network_guard() -> Iterator[None]:
    """Fail the test if it tried to reach outside, even when the error was swallowed."""
    start = len(_violations)
    yield
    tried = _violations[start:]
    if tried:
        pytest.fail(tried[0] + (f" (and {len(tried) - 1} more)" if len(tried) > 1 else ""))


@pytest.fixture
def network_guard_violations() -> list[str]:
    """The guard's record of refused calls, for tests of the guard itself: a test that
    trips the guard on purpose removes its entries so that it does not fail."""
    return _violations


# ----------------------------------------------------------------------- DNS server

DnsServerFactory = Callable[..., Awaitable[LocalDnsServer]]
ThreadedDnsServerFactory = Callable[..., ThreadedDnsServer]


@pytest.fixture
async def dns_server() -> AsyncIterator[DnsServerFactory]:
    """Factory: ``await dns_server(zones, faults=None, *, ipv6=False)`` -> a started server."""
    started: list[LocalDnsServer] = []

    async def start(
        zones: Mapping[str, ZoneData] | None = None,
        faults: Mapping[str, str] | None = None,
        *,
        ipv6: bool = False,
        host: str = "127.0.0.1",
    ) -> LocalDnsServer:
        server = LocalDnsServer(zones, faults, host=host, ipv6=ipv6)
        await server.start()
        started.append(server)
        return server

    yield start
    for server in reversed(started):
        await server.stop()


@pytest.fixture
def dns_server_thread() -> Iterator[ThreadedDnsServerFactory]:
    """Factory: ``dns_server_thread(zones, faults=None, *, ipv6=False)`` -> a running server
    on a background thread (for synchronous tests and subprocesses)."""
    started: list[ThreadedDnsServer] = []

    def start(
        zones: Mapping[str, ZoneData] | None = None,
        faults: Mapping[str, str] | None = None,
        *,
        ipv6: bool = False,
        host: str = "127.0.0.1",
    ) -> ThreadedDnsServer:
        server = ThreadedDnsServer(zones, faults, host=host, ipv6=ipv6)
        server.start()
        started.append(server)
        return server

    yield start
    for server in reversed(started):
        server.stop()


# ------------------------------------------------------------------------- bulk lab


def _bulk_argv(lab: BulkLab) -> list[str]:
    p25, p587, p465 = lab.ports
    return [
        "--nameserver",
        f"{lab.nameserver.address}:{lab.nameserver.port}",
        "--ports",
        f"{p25},{p587},{p465}",
        "--implicit-tls-ports",
        str(p465),
        "--ca-file",
        lab.ca_file,
        "--allow-targets",
        "127.0.0.0/8",
    ]


@pytest.fixture
def bulk_argv() -> Callable[[BulkLab], list[str]]:
    """``bulk_argv(lab)``: the command-line options that aim ``smtpdiag bulk`` at a bulk
    lab (its nameserver, its three ports with the third as implicit TLS, its CA, loopback
    targets allowed); the CLI test and the worker test share them."""
    return _bulk_argv


@contextlib.contextmanager
def _bulk_process(*args: str) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "smtpdiag", "bulk", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:  # the test failed before the run ended: ours to stop
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture
def bulk_process() -> Callable[..., contextlib.AbstractContextManager[subprocess.Popen[bytes]]]:
    """``with bulk_process(*args) as proc``: ``python -m smtpdiag bulk ARGS`` running
    unbuffered with its output piped, killed (by its PID) if still running at the end
    (the signal and worker tests send it signals mid-run)."""
    return _bulk_process
