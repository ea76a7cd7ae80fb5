"""build_resolver: explicit nameservers, or a resolv.conf (read, never queried here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from smtpdiag.config import Nameserver, ResolverConfig
from smtpdiag.errors import ProbeError
from smtpdiag.resolve.resolver import build_resolver


def test_explicit_nameservers_keep_order_and_ports() -> None:
    config = ResolverConfig(
        nameservers=(Nameserver("127.0.0.1", 5353), Nameserver("::1"), Nameserver("127.0.0.2"))
    )
    resolver = build_resolver(config)
    assert [str(ns) for ns in resolver.nameservers] == ["127.0.0.1@5353", "::1", "127.0.0.2"]
    assert resolver.cache is None
    assert resolver.rotate is False
    assert resolver.search == []
    assert resolver.edns == 0
    assert resolver.payload == 1232


def test_resolv_conf_path_is_read(tmp_path: Path) -> None:
    conf = tmp_path / "resolv.conf"
    conf.write_text("search example.org\nnameserver 127.0.0.53\nnameserver ::1\noptions ndots:5\n")
    resolver = build_resolver(ResolverConfig(resolv_conf=str(conf)))
    assert [str(ns) for ns in resolver.nameservers] == ["127.0.0.53", "::1"]
    # The search list of resolv.conf is not used: every name asked is absolute.
    assert resolver.search == []


def test_missing_resolv_conf_is_a_probe_error(tmp_path: Path) -> None:
    with pytest.raises(ProbeError, match="no DNS resolver configured"):
        build_resolver(ResolverConfig(resolv_conf=str(tmp_path / "missing.conf")))


def test_resolv_conf_without_nameservers_is_a_probe_error(tmp_path: Path) -> None:
    conf = tmp_path / "resolv.conf"
    conf.write_text("search example.org\n")
    with pytest.raises(ProbeError, match="pass --nameserver"):
        build_resolver(ResolverConfig(resolv_conf=str(conf)))
