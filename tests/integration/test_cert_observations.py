"""Certificate observations on real TLS sessions: weak keys, many SANs, long chains.

RSA-512/1024, DSA-1024 and EC P-192 leaves chain to a trusted root yet must not be
"trusted and healthy" (issue 8): ``verified`` is false and ``verify_reason`` is
``cert-weak-key``. Caps are recorded as counts (``sans_omitted``,
``chain_truncated``), and a chain cut at the cap is not called untrusted because of
the cut.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from certgen import Issued, TestCa, leaf_key
from cryptography.x509.verification import Store
from hostile import Conn, RawServer

from smtpdiag.certmatch import MAX_CHAIN, MAX_SANS
from smtpdiag.config import ProbeConfig, Timeouts, TlsConfig
from smtpdiag.model import AddressFamily, Route, RouteResult, TlsMode, TlsReason
from smtpdiag.probing import probe_route
from smtpdiag.probing.tls import certificate_facts


@pytest.mark.parametrize("kind", ["rsa-512", "rsa-1024", "dsa-1024", "ec-192"])
def test_weak_leaf_keys_do_not_verify(kind: str) -> None:
    ca = TestCa()
    leaf = ca.leaf(leaf_key(kind))
    info, match, error, reason = certificate_facts(
        [leaf.der], "mx.test", Store([ca.cert]), datetime.now(UTC)
    )
    assert info is not None and match is True
    assert error is not None and reason is TlsReason.CERT_WEAK_KEY


@pytest.mark.parametrize("kind", ["rsa-2048", "ec-256"])
def test_strong_leaf_keys_verify(kind: str) -> None:
    ca = TestCa()
    leaf = ca.leaf(leaf_key(kind))
    _, _, error, reason = certificate_facts(
        [leaf.der], "mx.test", Store([ca.cert]), datetime.now(UTC)
    )
    assert (error, reason) == (None, None)


def _tls_smtp(ctx: ssl.SSLContext) -> Callable[[Conn], None]:
    def handler(conn: Conn) -> None:
        conn.start_tls(ctx)
        conn.send("220 mx.test ESMTP\r\n")
        conn.readline()
        conn.send("250 mx.test\r\n")
        conn.readline()
        conn.send("221 bye\r\n")

    return handler


def _server_context(tmp: Path, leaf: Issued, extra: list[Issued]) -> ssl.SSLContext:
    chain = tmp / "chain.pem"
    key = tmp / "key.pem"
    chain.write_bytes(leaf.pem + b"".join(c.pem for c in extra))
    key.write_bytes(leaf.key_pem())
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    # Serve what the test needs, small keys included (OpenSSL's level 2 refuses them).
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    ctx.load_cert_chain(str(chain), str(key))
    return ctx


async def _probe(
    tmp: Path, ca: TestCa, leaf: Issued, extra: tuple[Issued, ...] = ()
) -> RouteResult:
    ctx = _server_context(tmp, leaf, list(extra))
    config = ProbeConfig(
        timeouts=Timeouts(connect=1, greeting=1, command=1, tls=2, total=5),
        tls=TlsConfig(ca_file=ca.write_ca(tmp / "ca.pem")),
        allow_targets=("127.0.0.0/8",),
    )
    with RawServer(_tls_smtp(ctx)) as server:
        route = Route(
            "mx.test", 10, 1, "127.0.0.1", AddressFamily.IPV4, server.port, TlsMode.IMPLICIT
        )
        result = await probe_route(route, config)
        await asyncio.sleep(0.01)  # let the loop close the transport before the join
    return result


async def test_rsa_1024_leaf_on_a_real_session(tmp_path: Path) -> None:
    ca = TestCa()
    result = await _probe(tmp_path, ca, ca.leaf(leaf_key("rsa-1024")))
    assert result.ok
    tls = result.tls
    assert tls is not None and tls.certificate is not None
    assert (tls.certificate.key_type, tls.certificate.key_bits) == ("RSA", 1024)
    assert tls.verified is False and tls.verify_reason is TlsReason.CERT_WEAK_KEY
    assert tls.hostname_match is True


async def test_many_sans_are_counted(tmp_path: Path) -> None:
    ca = TestCa()
    sans = ["mx.test"] + [f"alt{i}.mx.test" for i in range(149)]
    result = await _probe(tmp_path, ca, ca.leaf(sans=sans))
    cert = result.tls.certificate if result.tls else None
    assert cert is not None
    assert len(cert.sans) == MAX_SANS and cert.sans_omitted == 150 - MAX_SANS
    assert result.tls is not None and result.tls.verified


async def test_chain_cut_at_the_cap_is_not_called_untrusted(tmp_path: Path) -> None:
    ca = TestCa()
    intermediate = ca.intermediate("certgen intermediate")
    leaf = ca.leaf(parent=intermediate)
    junk = [TestCa(f"junk {i}").issued for i in range(MAX_CHAIN)]
    # The intermediate the path needs comes after the cap: the probe cannot judge.
    cut = await _probe(tmp_path, ca, leaf, (*junk, intermediate))
    tls = cut.tls
    assert tls is not None
    assert tls.chain_length == MAX_CHAIN + 2 and tls.chain_truncated is True
    assert tls.verified is False
    assert tls.verify_reason is TlsReason.OTHER, tls.verify_error
    assert tls.verify_error and "not judged" in tls.verify_error
    # The same chain in a sensible order verifies.
    whole = await _probe(tmp_path, ca, leaf, (intermediate,))
    assert whole.tls is not None and whole.tls.verified and not whole.tls.chain_truncated
    assert whole.tls.chain_length == 2
