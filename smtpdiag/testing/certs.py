"""Throwaway PKI for tests and the demo: a trusted CA, an unknown CA, and leaf certs.

Built with ``cryptography`` (a runtime dependency of smtpdiag, imported lazily so that
importing this module stays cheap), so the demo works on a plain install. Every file
is written as PEM into one directory; :attr:`TestPki.ca_file` is the bundle to pass as
``--ca-file`` / ``TlsConfig(ca_file=...)`` so that only the trusted CA is trusted.

Leaf kinds:
    ``good``: issued by the trusted CA for the given names, valid now.
    ``expired``: trusted CA, right names, ``not_after`` yesterday.
    ``wrong-name``: trusted CA, valid, but for ``wrong.invalid`` only.
    ``untrusted``: right names, valid, issued by a CA nobody trusts.
"""

from __future__ import annotations

import ipaddress
import os
import ssl
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePrivateKey

__all__ = ["LEAF_KINDS", "LeafFiles", "TestPki"]

#: The kinds of leaf certificate a :class:`TestPki` issues.
LEAF_KINDS: tuple[str, ...] = ("good", "expired", "wrong-name", "untrusted")

# Validity of everything but the expired leaf: wide, so that tests which inject a
# "now" far from today (certificate days left, expiry) still see a valid chain.
_NOT_BEFORE = datetime(2000, 1, 1, tzinfo=UTC)
_NOT_AFTER = datetime(3000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class LeafFiles:
    """Paths of one leaf's PEM files.

    Attributes:
        kind: One of :data:`LEAF_KINDS`.
        chain: The leaf certificate, PEM (issued by a root, so no intermediates).
        key: Private key, PEM.
    """

    kind: str
    chain: Path
    key: Path


def _key() -> EllipticCurvePrivateKey:
    from cryptography.hazmat.primitives.asymmetric import ec

    # P-256: fast to generate (the demo makes six keys at start-up) and accepted everywhere.
    return ec.generate_private_key(ec.SECP256R1())


def _general_name(identity: str) -> x509.GeneralName:
    from cryptography import x509

    try:
        return x509.IPAddress(ipaddress.ip_address(identity))
    except ValueError:
        return x509.DNSName(identity)


class _Ca:
    """A self-signed root CA that issues leaf certificates."""

    def __init__(self, organization: str) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes
        from cryptography.x509.oid import NameOID

        self.key = _key()
        self.name = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
                x509.NameAttribute(NameOID.COMMON_NAME, f"{organization} root"),
            ]
        )
        public = self.key.public_key()
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(self.name)
            .issuer_name(self.name)
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(_NOT_BEFORE)
            .not_valid_after(_NOT_AFTER)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
            .sign(self.key, hashes.SHA256())
        )

    def issue(
        self,
        names: tuple[str, ...],
        *,
        not_before: datetime | None = None,
        not_after: datetime | None = None,
    ) -> tuple[x509.Certificate, EllipticCurvePrivateKey]:
        """A server leaf for ``names`` (host names or IP addresses) and its key."""
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

        key = _key()
        ski = self.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .issuer_name(self.name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before or _NOT_BEFORE)
            .not_valid_after(not_after or _NOT_AFTER)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski),
                critical=False,
            )
            .add_extension(
                x509.SubjectAlternativeName([_general_name(n) for n in names]), critical=False
            )
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=True,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
                ),
                critical=False,
            )
            .sign(self.key, hashes.SHA256())
        )
        return cert, key


def _write(path: Path, data: bytes, private: bool = False) -> None:
    # Keys readable by the owner only, as any key file should be, even a throwaway one.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


class TestPki:
    """A trusted and an unknown CA plus one leaf per kind, written under ``directory``.

    Args:
        names: The host names (or IP addresses) the good, expired and untrusted leaves
            carry.
        directory: Where to write the PEM files; a fresh temporary directory if ``None``
            (removed by :meth:`cleanup`).
    """

    __test__ = False  # not a pytest test class despite the name

    def __init__(
        self,
        names: tuple[str, ...] = ("mx.test", "localhost", "127.0.0.1", "::1"),
        directory: str | Path | None = None,
    ) -> None:
        from cryptography.hazmat.primitives import serialization

        if not names:
            raise ValueError("TestPki needs at least one name")
        self.names = names
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if directory is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="smtpdiag-pki-")
            directory = self._tmp.name
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        ca = _Ca("smtpdiag test CA")
        unknown_ca = _Ca("smtpdiag unknown CA")
        now = datetime.now(UTC)
        leaves = {
            "good": ca.issue(names),
            "expired": ca.issue(
                names, not_before=now - timedelta(days=60), not_after=now - timedelta(days=1)
            ),
            "wrong-name": ca.issue(("wrong.invalid",)),
            "untrusted": unknown_ca.issue(names),
        }
        pem = serialization.Encoding.PEM
        self.ca_file = self.directory / "ca.pem"
        _write(self.ca_file, ca.cert.public_bytes(pem))
        self.unknown_ca_file = self.directory / "unknown-ca.pem"
        _write(self.unknown_ca_file, unknown_ca.cert.public_bytes(pem))
        self._leaf_pems: dict[str, bytes] = {}
        self.files: dict[str, LeafFiles] = {}
        for kind, (cert, key) in leaves.items():
            chain = self.directory / f"{kind}.chain.pem"
            key_file = self.directory / f"{kind}.key.pem"
            self._leaf_pems[kind] = cert.public_bytes(pem)
            _write(chain, self._leaf_pems[kind])
            _write(
                key_file,
                key.private_bytes(
                    pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
                ),
                private=True,
            )
            self.files[kind] = LeafFiles(kind, chain, key_file)

    def server_context(self, kind: str = "good") -> ssl.SSLContext:
        """A server-side TLS context presenting the leaf of ``kind``."""
        if kind not in self.files:
            raise ValueError(f"unknown leaf kind {kind!r}; choose from {LEAF_KINDS}")
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        files = self.files[kind]
        ctx.load_cert_chain(str(files.chain), str(files.key))
        return ctx

    def leaf_pem(self, kind: str = "good") -> bytes:
        """The leaf certificate of ``kind`` alone, PEM."""
        return self._leaf_pems[kind]

    def cleanup(self) -> None:
        """Remove the temporary directory (only one this object created)."""
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
