"""Certificate parsing, RFC 6125 name matching and chain verification (no network)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from smtpdiag.certmatch import (
    cert_info,
    hostname_matches,
    load_trust_store,
    system_ca_file,
    verify_chain,
)
from smtpdiag.testing.certs import TestPki

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def _self_signed(*names: str, cn: str = "mx.example.org") -> x509.Certificate:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(0x1234)
        .not_valid_before(NOW - timedelta(days=10))
        .not_valid_after(NOW + timedelta(days=20, hours=5))
    )
    if names:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False
        )
    return builder.sign(key, hashes.SHA256())


@pytest.fixture(scope="module")
def pki() -> Iterator[TestPki]:
    pki = TestPki(names=("mx.test",))
    yield pki
    pki.cleanup()


def test_cert_info_fields() -> None:
    info = cert_info(_self_signed("mx.example.org"), NOW)
    assert info.subject == "CN=mx.example.org" and info.self_signed
    assert info.sans == ("mx.example.org",)
    assert info.serial == "1234"
    assert info.days_left == 20
    assert (info.key_type, info.key_bits) == ("RSA", 2048)
    assert info.not_after.startswith("2026-06-21T05:00:00")
    assert len(info.sha256) == 95 and info.sha256 == info.sha256.lower()


def test_cert_fingerprint_is_the_sha256_of_the_der_encoding() -> None:
    # What `openssl x509 -fingerprint -sha256` shows, lower case: SHA-256 over the DER.
    import hashlib

    from cryptography.hazmat.primitives.serialization import Encoding

    cert = _self_signed("mx.example.org")
    digest = hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest()
    expected = ":".join(digest[i : i + 2] for i in range(0, 64, 2))
    assert cert_info(cert, NOW).sha256 == expected


@pytest.mark.parametrize(
    ("pattern", "host", "match"),
    [
        ("mx.example.org", "MX.Example.org.", True),
        ("*.example.org", "mx.example.org", True),
        ("*.example.org", "a.mx.example.org", False),  # one label only
        ("*.example.org", "example.org", False),
        ("*.org", "example.org", False),  # not a public-suffix-wide wildcard
        ("m*.example.org", "mx.example.org", False),  # no partial wildcards
        ("mx.example.org", "mx2.example.org", False),
    ],
)
def test_hostname_matching(pattern: str, host: str, match: bool) -> None:
    assert hostname_matches(_self_signed(pattern), host) is match


def test_no_san_means_no_match_even_with_cn() -> None:
    assert hostname_matches(_self_signed(cn="mx.example.org"), "mx.example.org") is False


def test_verify_chain(pki: TestPki) -> None:
    store = load_trust_store(str(pki.ca_file))
    good = x509.load_pem_x509_certificate(pki.leaf_pem("good"))
    assert verify_chain([good], store, datetime.now(UTC)) is None
    expired = x509.load_pem_x509_certificate(pki.leaf_pem("expired"))
    assert "not valid" in (verify_chain([expired], store, datetime.now(UTC)) or "")
    untrusted = x509.load_pem_x509_certificate(pki.leaf_pem("untrusted"))
    assert "issuer" in (verify_chain([untrusted], store, datetime.now(UTC)) or "")
    assert verify_chain([], store, NOW) == "the server sent no certificate"
    assert verify_chain([good], None, NOW) == "no trust store available"
    assert verify_chain([_self_signed(cn="x")], store, NOW) == "certificate has no subjectAltName"


def test_system_store_loads_without_warnings() -> None:
    # filterwarnings=error: distribution roots with odd serials must not break loading.
    if system_ca_file() is None:
        pytest.skip("this host has no system CA bundle")
    load_trust_store.cache_clear()
    assert load_trust_store(None) is not None
