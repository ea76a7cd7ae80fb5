"""Throwaway PKI for tests and the demo: a trusted CA, an unknown CA, and leaf certs.

Built with trustme (imported lazily so importing this module stays cheap). Every file
is written as PEM into one directory; :attr:`TestPki.ca_file` is the bundle to pass as
``--ca-file`` / ``TlsConfig(ca_file=...)`` so that only the trusted CA is trusted.

Leaf kinds:
    ``good``: issued by the trusted CA for the given names, valid now.
    ``expired``: trusted CA, right names, ``not_after`` yesterday.
    ``wrong-name``: trusted CA, valid, but for ``wrong.invalid`` only.
    ``untrusted``: right names, valid, issued by a CA nobody trusts.
"""

from __future__ import annotations

import ssl
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

__all__ = ["LEAF_KINDS", "LeafFiles", "TestPki"]

#: The kinds of leaf certificate a :class:`TestPki` issues.
LEAF_KINDS: tuple[str, ...] = ("good", "expired", "wrong-name", "untrusted")


@dataclass(frozen=True, slots=True)
class LeafFiles:
    """Paths of one leaf's PEM files.

    Attributes:
        kind: One of :data:`LEAF_KINDS`.
        chain: Leaf then issuing CA, PEM.
        key: Private key, PEM.
    """

    kind: str
    chain: Path
    key: Path


class TestPki:
    """A trusted and an unknown CA plus one leaf per kind, written under ``directory``.

    Args:
        names: The host names the good, expired and untrusted leaves carry.
        directory: Where to write the PEM files; a fresh temporary directory if ``None``
            (removed by :meth:`cleanup`).
    """

    __test__ = False  # not a pytest test class despite the name

    def __init__(
        self,
        names: tuple[str, ...] = ("mx.test", "localhost", "127.0.0.1", "::1"),
        directory: str | Path | None = None,
    ) -> None:
        import trustme  # lazy: keep `import smtpdiag.testing.certs` light

        self.names = names
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if directory is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="smtpdiag-pki-")
            directory = self._tmp.name
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._ca: Any = trustme.CA(organization_name="smtpdiag test CA")
        self._unknown_ca: Any = trustme.CA(organization_name="smtpdiag unknown CA")
        now = datetime.now(UTC)
        self._leaves: dict[str, Any] = {
            "good": self._ca.issue_cert(*names),
            "expired": self._ca.issue_cert(
                *names,
                not_before=now - timedelta(days=60),
                not_after=now - timedelta(days=1),
            ),
            "wrong-name": self._ca.issue_cert("wrong.invalid"),
            "untrusted": self._unknown_ca.issue_cert(*names),
        }
        self.ca_file = self.directory / "ca.pem"
        self._ca.cert_pem.write_to_path(str(self.ca_file))
        self.unknown_ca_file = self.directory / "unknown-ca.pem"
        self._unknown_ca.cert_pem.write_to_path(str(self.unknown_ca_file))
        self.files: dict[str, LeafFiles] = {}
        for kind, leaf in self._leaves.items():
            chain = self.directory / f"{kind}.chain.pem"
            key = self.directory / f"{kind}.key.pem"
            with open(chain, "wb") as fh:
                for blob in leaf.cert_chain_pems:
                    fh.write(blob.bytes())
            leaf.private_key_pem.write_to_path(str(key))
            self.files[kind] = LeafFiles(kind, chain, key)

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
        data: bytes = self._leaves[kind].cert_chain_pems[0].bytes()
        return data

    def cleanup(self) -> None:
        """Remove the temporary directory (only one this object created)."""
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
