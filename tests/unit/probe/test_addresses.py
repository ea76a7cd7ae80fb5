"""Address classes and the connect policy (pure)."""

from __future__ import annotations

import ipaddress

import pytest

from smtpdiag.config import ProbeConfig
from smtpdiag.errors import ConfigError
from smtpdiag.model import AddressClass
from smtpdiag.probing.addresses import address_policy, classify_address


@pytest.mark.parametrize(
    ("address", "cls"),
    [
        ("127.0.0.1", AddressClass.LOOPBACK),
        ("127.255.0.9", AddressClass.LOOPBACK),
        ("::1", AddressClass.LOOPBACK),
        ("::ffff:127.0.0.1", AddressClass.LOOPBACK),  # judged as its IPv4 address
        ("0.0.0.0", AddressClass.UNSPECIFIED),
        ("0.1.2.3", AddressClass.UNSPECIFIED),  # 0.0.0.0/8, "this network"
        ("::", AddressClass.UNSPECIFIED),
        ("::ffff:0.0.0.0", AddressClass.UNSPECIFIED),
        ("255.255.255.255", AddressClass.BROADCAST),
        ("224.0.0.1", AddressClass.MULTICAST),
        ("ff02::1", AddressClass.MULTICAST),
        ("10.0.0.1", AddressClass.PRIVATE),
        ("172.16.5.4", AddressClass.PRIVATE),
        ("192.168.1.1", AddressClass.PRIVATE),
        ("100.64.0.1", AddressClass.PRIVATE),
        ("fd00::1", AddressClass.PRIVATE),
        ("::ffff:10.0.0.1", AddressClass.PRIVATE),
        ("169.254.169.254", AddressClass.LINK_LOCAL),
        ("fe80::1", AddressClass.LINK_LOCAL),
        ("198.51.100.7", AddressClass.DOCUMENTATION),
        ("198.18.0.1", AddressClass.DOCUMENTATION),
        ("198.19.255.1", AddressClass.DOCUMENTATION),
        ("2001:db8::25", AddressClass.DOCUMENTATION),
        ("240.0.0.1", AddressClass.RESERVED),
        ("192.0.0.1", AddressClass.RESERVED),
        ("not-an-ip", AddressClass.RESERVED),
        ("2a00:1450:4001::1", AddressClass.GLOBAL),
    ],
)
def test_classify(address: str, cls: AddressClass) -> None:
    assert classify_address(address) is cls


def _nets(*texts: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(t) for t in texts)


def test_policy_default_connects_to_global_only() -> None:
    assert address_policy("2a00:1450:4001::1", ()).connect
    for address in ("127.0.0.1", "10.0.0.1", "169.254.169.254", "::ffff:127.0.0.1", "fd00::1"):
        policy = address_policy(address, ())
        assert not policy.connect and not policy.allowed, address


def test_policy_allowed_networks() -> None:
    nets = _nets("127.0.0.0/8", "fd00::/8", "198.51.100.0/24")
    for address in ("127.0.0.1", "::ffff:127.0.0.1", "fd00::25", "198.51.100.9"):
        policy = address_policy(address, nets)
        assert policy.connect and policy.allowed, address
    assert not address_policy("10.0.0.1", nets).connect


def test_unspecified_broadcast_multicast_never_even_if_allowed() -> None:
    everything = _nets("0.0.0.0/0", "::/0")
    for address in ("0.0.0.0", "::", "255.255.255.255", "224.0.0.1", "ff02::1"):
        policy = address_policy(address, everything)
        assert policy.allowed and not policy.connect, address


def test_config_validates_allow_targets() -> None:
    config = ProbeConfig(allow_targets=("10.1.2.3/8", "::1", "10.0.0.0/8"))
    assert config.allow_targets == ("10.0.0.0/8", "::1/128")
    for bad in (("10.0.0.0/33",), ("example.org",), "10.0.0.0/8"):
        with pytest.raises(ConfigError):
            ProbeConfig(allow_targets=bad)  # type: ignore[arg-type]
