"""The network guard of tests/conftest.py: only loopback and the lab ranges.

Every call below is made on a *closed* socket or after checking the guard is
installed, so that a broken guard fails the test without sending anything outside.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator

import pytest


@pytest.fixture
def expect_violation(network_guard_violations: list[str]) -> Iterator[None]:
    """Let a test trip the guard on purpose: forget its recorded violations."""
    start = len(network_guard_violations)
    yield
    assert len(network_guard_violations) > start, "the guard recorded nothing"
    del network_guard_violations[start:]


def closed_socket(family: socket.AddressFamily, kind: socket.SocketKind) -> socket.socket:
    sock = socket.socket(family, kind)
    sock.close()
    return sock


def test_guard_is_installed() -> None:
    assert socket.socket.connect.__name__ == "_guarded_connect"
    assert socket.socket.connect_ex.__name__ == "_guarded_connect_ex"
    assert socket.socket.sendto.__name__ == "_guarded_sendto"
    assert socket.getaddrinfo.__name__ == "_guarded_getaddrinfo"


@pytest.mark.parametrize(
    ("family", "address"),
    [
        (socket.AF_INET, ("100.64.0.1", 25)),
        (socket.AF_INET, ("198.51.101.1", 25)),
        (socket.AF_INET6, ("2001:db9::1", 25, 0, 0)),
        (socket.AF_INET6, ("::ffff:100.64.0.1", 25, 0, 0)),
        (socket.AF_INET, ("mail.example.com", 25)),
    ],
)
def test_connect_outside_fails_loudly(
    expect_violation: None, family: socket.AddressFamily, address: tuple[object, ...]
) -> None:
    sock = closed_socket(family, socket.SOCK_STREAM)
    with pytest.raises(RuntimeError, match=re.escape(f"network guard: connect to '{address[0]}'")):
        sock.connect(address)
    with pytest.raises(RuntimeError, match="network guard"):
        sock.connect_ex(address)


def test_sendto_outside_fails_loudly(expect_violation: None) -> None:
    sock = closed_socket(socket.AF_INET, socket.SOCK_DGRAM)
    with pytest.raises(RuntimeError, match=r"100\.64\.0\.1"):
        sock.sendto(b"x", ("100.64.0.1", 53))
    with pytest.raises(RuntimeError, match=r"100\.64\.0\.1"):
        sock.sendto(b"x", 0, ("100.64.0.1", 53))


def test_resolving_a_host_name_fails_loudly(expect_violation: None) -> None:
    with pytest.raises(RuntimeError, match=r"getaddrinfo to 'mail\.example\.com'"):
        socket.getaddrinfo("mail.example.com", 25)


def test_guard_error_is_not_an_oserror(expect_violation: None) -> None:
    sock = closed_socket(socket.AF_INET, socket.SOCK_STREAM)
    with pytest.raises(RuntimeError) as info:
        sock.connect(("100.64.0.1", 25))
    assert not isinstance(info.value, OSError)


@pytest.mark.parametrize(
    ("family", "address"),
    [
        (socket.AF_INET, ("127.0.0.1", 9)),
        (socket.AF_INET, ("127.1.2.3", 9)),
        (socket.AF_INET, ("198.51.100.7", 9)),
        (socket.AF_INET, ("198.18.0.9", 9)),
        (socket.AF_INET6, ("::1", 9, 0, 0)),
        (socket.AF_INET6, ("2001:db8::25", 9, 0, 0)),
        (socket.AF_INET, ("localhost", 9)),
    ],
)
def test_allowed_destinations_reach_the_socket(
    family: socket.AddressFamily, address: tuple[object, ...]
) -> None:
    # A closed socket: the guard lets the call through and the kernel says EBADF.
    sock = closed_socket(family, socket.SOCK_STREAM)
    with pytest.raises(OSError):
        sock.connect(address)


def test_unix_sockets_are_not_guarded(tmp_path: object) -> None:
    left, right = socket.socketpair()
    with left, right:
        left.sendall(b"ok")
        assert right.recv(2) == b"ok"
    assert socket.getaddrinfo(None, 25, proto=socket.IPPROTO_TCP)
    assert socket.getaddrinfo("127.0.0.1", 25, proto=socket.IPPROTO_TCP)
