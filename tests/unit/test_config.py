"""Config validation: bad values fail with one-line ConfigError messages."""

from __future__ import annotations

import pytest

from smtpdiag.config import Nameserver, ProbeConfig, Timeouts, TlsConfig
from smtpdiag.errors import ConfigError
from smtpdiag.model import TlsMode


@pytest.mark.parametrize(
    ("text", "address", "port"),
    [
        ("127.0.0.1", "127.0.0.1", 53),
        ("127.0.0.1:5353", "127.0.0.1", 5353),
        ("::1", "::1", 53),
        ("[::1]:5353", "::1", 5353),
        ("[2001:db8::53]", "2001:db8::53", 53),
    ],
)
def test_nameserver_parse(text: str, address: str, port: int) -> None:
    ns = Nameserver.parse(text)
    assert (ns.address, ns.port) == (address, port)


@pytest.mark.parametrize(
    "text", ["", "dns.example", "127.0.0.1:x", "127.0.0.1:0", "[::1", "1.2.3.4:99999"]
)
def test_nameserver_parse_rejects(text: str) -> None:
    with pytest.raises(ConfigError):
        Nameserver.parse(text)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"ports": ()},
        {"ports": (0,)},
        {"ports": (25, 25)},
        {"ports": (70000,)},
        {"families": ()},
        {"ehlo_name": "bad name"},
        {"ehlo_name": "x\x1b[31m"},
        {"source_address": "not-an-ip"},
        {"per_address_limit": 0},
        {"implicit_tls_ports": (0,)},
    ],
)
def test_probe_config_rejects(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError) as info:
        ProbeConfig(**kwargs)  # type: ignore[arg-type]
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("field", ["dns", "connect", "greeting", "command", "tls", "total"])
@pytest.mark.parametrize("value", [0, -1, 4000, float("nan")])
def test_timeouts_reject(field: str, value: float) -> None:
    with pytest.raises(ConfigError):
        Timeouts(**{field: value})


def test_tls_mode_by_port() -> None:
    config = ProbeConfig(ports=(2525, 2465), implicit_tls_ports=(2465,))
    assert config.tls_mode(2525) is TlsMode.STARTTLS
    assert config.tls_mode(2465) is TlsMode.IMPLICIT
    assert ProbeConfig().tls_mode(465) is TlsMode.IMPLICIT


def test_ca_file_unreadable(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError, match="cannot read CA file"):
        TlsConfig(ca_file=str(tmp_path / "missing.pem"))
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate")
    with pytest.raises(ConfigError, match="no PEM certificate"):
        TlsConfig(ca_file=str(junk))
