"""Certificates built with ``cryptography`` for the certificate observation tests:
a CA, leaves with chosen keys (RSA-512 and RSA-1024, DSA-1024, EC P-192), many SANs,
long chains. trustme only makes strong keys; these are the weak and odd ones.
"""

from __future__ import annotations

import math
import random
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, rsa
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["Issued", "TestCa", "leaf_key", "rsa_512"]

NOW = datetime.now(UTC)


def _probable_prime(bits: int, rnd: random.Random) -> int:
    """Miller-Rabin with fixed bases (enough for a test key, not for real use)."""
    bases = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37)
    for _ in range(100_000):
        n = rnd.getrandbits(bits) | (1 << (bits - 1)) | 1
        d, s = n - 1, 0
        while d % 2 == 0:
            d, s = d // 2, s + 1
        for a in bases:
            x = pow(a, d, n)
            if x in (1, n - 1):
                continue
            for _ in range(s - 1):
                x = pow(x, 2, n)
                if x == n - 1:
                    break
            else:
                break
        else:
            return n
    raise RuntimeError("no prime found")  # pragma: no cover


def rsa_512(seed: int = 5) -> rsa.RSAPrivateKey:
    """An RSA-512 key (cryptography refuses to *generate* one below 1024 bits)."""
    rnd = random.Random(seed)
    e = 65537
    for _ in range(100):
        p, q = _probable_prime(256, rnd), _probable_prime(256, rnd)
        if p != q and math.gcd(e, (p - 1) * (q - 1)) == 1:
            break
    d = pow(e, -1, (p - 1) * (q - 1))
    numbers = rsa.RSAPrivateNumbers(
        p,
        q,
        d,
        rsa.rsa_crt_dmp1(d, p),
        rsa.rsa_crt_dmq1(d, q),
        rsa.rsa_crt_iqmp(p, q),
        rsa.RSAPublicNumbers(e, p * q),
    )
    return numbers.private_key()


def leaf_key(kind: str) -> Any:
    """``rsa-512``, ``rsa-1024``, ``rsa-2048``, ``dsa-1024``, ``ec-192``, ``ec-256``."""
    if kind == "rsa-512":
        return rsa_512()
    algo, _, bits = kind.partition("-")
    if algo == "rsa":
        return rsa.generate_private_key(65537, int(bits))
    if algo == "dsa":
        # A DSA leaf on purpose (servers still present them); cryptography 51 deprecates
        # DSA (pyca/cryptography#15597). Only making the key is quieted here: the probe's
        # handling of the certificate must stay warning-free (the suite's warnings are errors).
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "DSA", CryptographyDeprecationWarning)
            return dsa.generate_private_key(int(bits))
    curve = {"192": ec.SECP192R1(), "256": ec.SECP256R1()}[bits]
    return ec.generate_private_key(curve)


@dataclass
class Issued:
    cert: x509.Certificate
    key: Any

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def key_pem(self) -> bytes:
        return bytes(
            self.key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


class TestCa:
    """A root CA (EC P-256) that issues intermediates and leaves."""

    __test__ = False

    def __init__(self, cn: str = "certgen test root") -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.cert = self._build(
            _name(cn), _name(cn), self.key.public_key(), self.key, ca=True, issuer_cert=None
        )
        self.issued = Issued(self.cert, self.key)

    @staticmethod
    def _build(
        subject: x509.Name,
        issuer: x509.Name,
        public_key: Any,
        signing_key: Any,
        *,
        ca: bool,
        issuer_cert: x509.Certificate | None,
        sans: list[str] | None = None,
    ) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(NOW - timedelta(days=1))
            .not_valid_after(NOW + timedelta(days=90))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        )
        signer_public = issuer_cert.public_key() if issuer_cert else public_key
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signer_public), critical=False
        )
        if ca:
            builder = builder.add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                critical=True,
            )
        else:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.DNSName(n) for n in sans or ["mx.test"]]),
                critical=False,
            ).add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
            )
        return builder.sign(signing_key, hashes.SHA256())

    def intermediate(self, cn: str, parent: Issued | None = None) -> Issued:
        parent = parent or self.issued
        key = ec.generate_private_key(ec.SECP256R1())
        cert = self._build(
            _name(cn),
            parent.cert.subject,
            key.public_key(),
            parent.key,
            ca=True,
            issuer_cert=parent.cert,
        )
        return Issued(cert, key)

    def leaf(
        self, key: Any = None, sans: list[str] | None = None, parent: Issued | None = None
    ) -> Issued:
        parent = parent or self.issued
        key = key or ec.generate_private_key(ec.SECP256R1())
        cert = self._build(
            _name("mx.test"),
            parent.cert.subject,
            key.public_key(),
            parent.key,
            ca=False,
            issuer_cert=parent.cert,
            sans=sans,
        )
        return Issued(cert, key)

    def write_ca(self, path: Path) -> str:
        path.write_bytes(self.issued.pem)
        return str(path)
