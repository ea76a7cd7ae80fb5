"""Certificates that parse but cannot be analysed: facts degrade, nothing raises.

A hostile server's certificate is untrusted input. cryptography parses lazily, so a
certificate can load and then raise on ``.subject`` or ``.extensions``; the probe must
still record what it can and say what was wrong (and never lose the session).
Built by patching DER bytes of a normal certificate: OpenSSL refuses to *serve*
these, so there is no loopback server for them; other TLS stacks do serve anything.
"""

from __future__ import annotations

import ssl
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from smtpdiag.certmatch import cert_info, hostname_matches, load_trust_store, verify_chain
from smtpdiag.probing.tls import certificate_facts
from smtpdiag.testing.certs import TestPki

NOW = datetime.now(UTC)


def _der() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mx.test")])
    alt = [x509.DNSName("mx.test")]
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(4242)
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .add_extension(x509.IssuerAlternativeName(alt), critical=False)
        .sign(key, hashes.SHA256())
        .public_bytes(serialization.Encoding.DER)
    )


def _duplicate_san() -> x509.Certificate:
    # IssuerAltName (2.5.29.18) renamed to SubjectAltName (2.5.29.17): SAN twice,
    # which RFC 5280 4.2 forbids; cryptography raises DuplicateExtension on access.
    der = _der()
    bad = der.replace(b"\x06\x03\x55\x1d\x12", b"\x06\x03\x55\x1d\x11")
    assert bad != der
    return x509.load_der_x509_certificate(bad)


def _invalid_utf8_subject() -> x509.Certificate:
    # The CN's UTF8String holds bytes that are not UTF-8 (subject and issuer).
    der = _der()
    bad = der.replace(b"\x0c\x07mx.test", b"\x0c\x07mx\xff\xfeest")
    assert bad != der
    return x509.load_der_x509_certificate(bad)


HOSTILE = {"duplicate-san": _duplicate_san, "invalid-utf8-subject": _invalid_utf8_subject}


@pytest.mark.parametrize("make", HOSTILE.values(), ids=HOSTILE.keys())
def test_cert_info_never_raises(make: object) -> None:
    cert = make()  # type: ignore[operator]
    info = cert_info(cert, NOW)
    assert info.serial == format(4242, "x")
    assert info.days_left in (29, 30)
    assert info.sha256.count(":") == 31
    assert all(c.isprintable() for c in info.subject + info.issuer)


@pytest.mark.parametrize("make", HOSTILE.values(), ids=HOSTILE.keys())
def test_name_and_chain_checks_never_raise(make: object) -> None:
    cert = make()  # type: ignore[operator]
    pki = TestPki()
    try:
        store = load_trust_store(str(pki.ca_file))
        reason = verify_chain([cert], store, NOW)
    finally:
        pki.cleanup()
    assert reason is not None and reason.isprintable()
    assert hostname_matches(cert, "mx.test") in (True, False)


@pytest.mark.parametrize("make", HOSTILE.values(), ids=HOSTILE.keys())
def test_certificate_facts_say_what_is_wrong(make: object) -> None:
    """The step tls_info uses: the leaf's facts, the name verdict, the chain verdict."""
    cert = make()  # type: ignore[operator]
    der = cert.public_bytes(serialization.Encoding.DER)
    info, match, error, reason = certificate_facts([der], "mx.test", None, NOW)
    assert reason is not None
    assert info is not None and info.serial == format(4242, "x")
    assert error is not None and error.isprintable()
    assert match is not True or "duplicate" not in error.lower()
    assert ssl.DER_cert_to_PEM_cert(der)  # still a certificate a report can show
