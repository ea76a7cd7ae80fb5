"""Certificate facts and checks (cryptography): parsing, chain verification, names.

Chain validity and host-name matching are judged separately so that a report can say
"the chain is fine but it names another host" or "expired, but the name matches". The
certificate itself is always recorded, whatever the verdict (issue 2: a verification
failure must not hide the certificate).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import ipaddress
import math
import ssl
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509 import DNSName, IPAddress
from cryptography.x509.verification import (
    Criticality,
    ExtensionPolicy,
    PolicyBuilder,
    Store,
    VerificationError,
)

from .model import CertInfo, DaneCheck, TlsaLookup, TlsaRecord, TlsReason, TlsRptResult
from .textsafe import clean
from .timefmt import utc_iso

__all__ = [
    "label_match",
    "check_chain",
    "MAX_CHAIN",
    "MAX_SANS",
    "cert_info",
    "chain_verdict",
    "days_left",
    "extension_problem",
    "hostname_matches",
    "load_trust_store",
    "system_ca_file",
    "verify_chain",
    "weak_key",
]

#: Certificates taken from the chain a server sends (a hostile server can send many).
MAX_CHAIN = 10
#: SAN entries kept in :class:`CertInfo` (some certificates carry hundreds).
MAX_SANS = 100
#: Smallest acceptable key sizes in bits (NIST SP 800-57 / CA/B baseline: RSA and DSA
#: 2048, EC 224). OpenSSL at security level 2, the default of current distributions,
#: rejects smaller keys as well.
_MIN_KEY_BITS = {"RSA": 2048, "DSA": 2048, "EC": 224}


def _whole_days(days: float) -> int:
    """Whole days, toward zero, so "expired 25 h ago" is -1 (not -2); expired is always < 0."""
    whole = math.trunc(days)
    return min(whole, -1) if days < 0 else whole


def days_left(not_after: datetime, now: datetime) -> int:
    """:attr:`CertInfo.days_left` of a certificate valid until ``not_after``."""
    return _whole_days((not_after - now).total_seconds() / 86400)


def _eku_allows_server_auth(policy: object, cert: x509.Certificate, eku: object) -> None:
    # RFC 5280 4.2.1.12: if present, the EKU must allow TLS server authentication.
    if eku is None:
        return
    assert isinstance(eku, x509.ExtendedKeyUsage)
    allowed = {
        x509.oid.ExtendedKeyUsageOID.SERVER_AUTH,
        x509.oid.ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE,
    }
    if not allowed.intersection(eku):
        raise ValueError("extended key usage does not allow TLS server authentication")


# The CA/B baseline forbids a critical subjectAltName next to a non-empty subject and a
# critical extendedKeyUsage; RFC 5280 (4.2.1.6, 4.2.1.12) allows both and OpenSSL, which
# the MTAs use, accepts them. Judge the chain like an MTA would, not stricter.
_EE_POLICY = (
    ExtensionPolicy.webpki_defaults_ee()
    .require_present(x509.SubjectAlternativeName, Criticality.AGNOSTIC, None)
    .may_be_present(x509.ExtendedKeyUsage, Criticality.AGNOSTIC, _eku_allows_server_auth)
)


def system_ca_file() -> str | None:
    """The system trust store bundle OpenSSL would use, if one exists."""
    paths = ssl.get_default_verify_paths()
    for candidate in (paths.cafile, paths.openssl_cafile, "/etc/ssl/certs/ca-certificates.crt"):
        if candidate:
            try:
                with open(candidate, "rb"):
                    return candidate
            except OSError:
                continue
    return None


#: Largest CA bundle read (the system bundle is ~200 KiB).
_MAX_BUNDLE_BYTES = 16 << 20


def _read_bounded(path: str, limit: int) -> bytes:
    """At most ``limit`` bytes of ``path``, in chunks.

    Why not ``fh.read(limit)``: that allocates ``limit`` bytes up front (16 MiB for
    a 200 KiB bundle).
    """
    parts: list[bytes] = []
    size = 0
    with open(path, "rb") as fh:
        while size < limit:
            chunk = fh.read(min(1 << 16, limit - size))
            if not chunk:
                break
            parts.append(chunk)
            size += len(chunk)
    return b"".join(parts)


@functools.lru_cache(maxsize=8)
def load_trust_store(ca_file: str | None = None) -> Store | None:
    """A verification store from ``ca_file`` or the system bundle; ``None`` if empty.

    Cached per path: the system bundle holds ~150 roots and is parsed once per process.
    Certificates the parser rejects are skipped, one bad root must not void the store.
    """
    path = ca_file or system_ca_file()
    if path is None:
        return None
    try:
        data = _read_bounded(path, _MAX_BUNDLE_BYTES)
    except OSError:
        return None
    roots: list[x509.Certificate] = []
    marker = b"-----END CERTIFICATE-----"
    for block in data.split(marker):
        start = block.find(b"-----BEGIN CERTIFICATE-----")
        if start < 0:
            continue
        try:
            # Some distribution roots have a non-positive serial; cryptography warns
            # (and pytest's filterwarnings=error would turn that into an error).
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", CryptographyDeprecationWarning)
                roots.append(x509.load_pem_x509_certificate(block[start:] + marker))
        except ValueError:
            continue
    return Store(roots) if roots else None


#: What cryptography raises on a certificate that loaded but whose parts do not parse
#: (it parses lazily): a malformed value, or an extension present twice (RFC 5280 4.2).
_MALFORMED = (ValueError, x509.DuplicateExtension, x509.UnsupportedGeneralNameType)


def extension_problem(cert: x509.Certificate) -> str | None:
    """Why the certificate's extensions cannot be read, or ``None`` when they can."""
    try:
        cert.extensions  # noqa: B018 - parsing is the check
    except _MALFORMED as exc:
        return clean(f"malformed certificate extensions: {exc}") or "malformed extensions"
    return None


def _name_text(cert: x509.Certificate, which: str) -> str:
    try:
        name: x509.Name = getattr(cert, which)
        return clean(name.rfc4514_string())
    except _MALFORMED:
        return f"(unreadable {which})"


def _self_signed(cert: x509.Certificate) -> bool:
    try:
        return cert.subject == cert.issuer
    except _MALFORMED:
        return False


def _sans(cert: x509.Certificate) -> tuple[list[str], list[str]]:
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (x509.ExtensionNotFound, *_MALFORMED):
        return [], []
    dns = [clean(n, 255) for n in ext.get_values_for_type(x509.DNSName)]
    ips = [str(ip) for ip in ext.get_values_for_type(x509.IPAddress)]
    return dns, ips


def public_key_of(cert: x509.Certificate) -> CertificatePublicKeyTypes:
    """``cert.public_key()``, without cryptography's warning for a DSA key.

    cryptography 51 deprecates DSA and warns on every DSA key it loads
    (pyca/cryptography#15597). A server's DSA certificate is evidence to report (a weak
    key), not a warning on our user's terminal. Raises what ``public_key()`` raises.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "DSA", CryptographyDeprecationWarning)
        return cert.public_key()


def _key(cert: x509.Certificate) -> tuple[str, int | None]:
    try:
        key = public_key_of(cert)
    except (ValueError, TypeError):
        return "unknown", None
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA", key.key_size
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "EC", key.curve.key_size
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519", 256
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448", 456
    # By OID, not isinstance: naming dsa.DSAPublicKey warns under cryptography 51.
    if cert.public_key_algorithm_oid == x509.oid.PublicKeyAlgorithmOID.DSA:
        return "DSA", getattr(key, "key_size", None)
    return type(key).__name__, None


def cert_info(cert: x509.Certificate, now: datetime) -> CertInfo:
    """The facts of a certificate, ``days_left`` counted from ``now`` (aware, UTC)."""
    dns, ips = _sans(cert)
    names = dns + ips
    key_type, key_bits = _key(cert)
    # The SHA-256 of the DER encoding, as sha256(public_bytes(DER)); fingerprint() needs
    # no serialization module (its import, ssh and ciphers included, is 2% of a probe).
    digest = cert.fingerprint(hashes.SHA256()).hex()
    not_after = cert.not_valid_after_utc
    return CertInfo(
        subject=_name_text(cert, "subject"),
        issuer=_name_text(cert, "issuer"),
        sans=tuple(names[:MAX_SANS]),
        serial=format(cert.serial_number, "x"),
        not_before=utc_iso(cert.not_valid_before_utc, "seconds"),
        not_after=utc_iso(not_after, "seconds"),
        days_left=days_left(not_after, now),
        key_type=key_type,
        key_bits=key_bits,
        sha256=":".join(digest[i : i + 2] for i in range(0, len(digest), 2)),
        self_signed=_self_signed(cert),
        sans_omitted=max(0, len(names) - MAX_SANS),
    )


def weak_key(cert: x509.Certificate) -> str | None:
    """``"RSA 1024 bits"`` when the key is below :data:`_MIN_KEY_BITS`, else ``None``."""
    key_type, key_bits = _key(cert)
    minimum = _MIN_KEY_BITS.get(key_type)
    if minimum is not None and key_bits is not None and key_bits < minimum:
        return f"{key_type} {key_bits} bits"
    return None


def label_match(pattern: str, name: str) -> bool:
    # RFC 6125 6.4.3: a wildcard only as the complete left-most label, matching
    # exactly one label; never "*.com"-style (at least two labels after it), never
    # partial ("f*o.example.org"), never in an IDN A-label.
    if pattern == name:
        return True
    if not pattern.startswith("*."):
        return False
    rest = pattern[2:]
    if "*" in rest or rest.count(".") < 1:
        return False
    head, _, tail = name.partition(".")
    return bool(head) and not head.startswith("xn--") and tail == rest


def hostname_matches(cert: x509.Certificate, host: str) -> bool:
    """Whether the certificate names ``host`` (RFC 6125: DNS-ID SANs, left-most wildcard).

    The subject CN is not consulted: RFC 6125 6.4.4 allows it only without DNS-ID
    SANs, and the CA/Browser Forum baseline requires SANs; MTAs verifying SMTP
    (RFC 7672 3.2.3, RFC 8461 4.2) also match SANs.
    """
    name = host.rstrip(".").lower()
    with contextlib.suppress(UnicodeError):
        name = name.encode("idna").decode("ascii")
    dns, ips = _sans(cert)
    try:
        ip = ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        ip = None
    if ip is not None:
        return str(ip) in ips
    return any(label_match(pattern.rstrip(".").lower(), name) for pattern in dns)


def _verification_reason(exc: VerificationError) -> str:
    # VerificationError carries only a message (no code attribute), so the message is
    # the reason; drop the certificate repr cryptography appends and name the common
    # "no path to a trusted root" case the way OpenSSL users know it.
    text = str(exc).split(" (encountered processing", 1)[0]
    text = text.removeprefix("validation failed: ")
    if "candidates exhausted" in text:
        return "unable to get local issuer certificate (no chain to a trusted root)"
    return clean(text) or "verification failed"


def verify_chain(
    chain: Sequence[x509.Certificate], store: Store | None, now: datetime
) -> str | None:
    """Check the chain (leaf first) against ``store`` at ``now``; ``None`` if valid.

    Host names are judged by :func:`hostname_matches`, not here: the verifier is given
    a name the leaf itself carries, so a wrong name does not mask a chain problem
    (or the other way round). Returns a short, sanitized reason on failure.
    """
    if not chain:
        return "the server sent no certificate"
    if store is None:
        return "no trust store available"
    leaf = chain[0]
    problem = extension_problem(leaf)
    if problem is not None:
        return problem
    dns, ips = _sans(leaf)
    subject: DNSName | IPAddress
    try:
        if dns:
            subject = DNSName(dns[0].removeprefix("*.").encode("idna").decode("ascii"))
        elif ips:
            subject = IPAddress(ipaddress.ip_address(ips[0]))
        else:
            return "certificate has no subjectAltName"
    except (ValueError, UnicodeError):
        return "certificate has an unusable subjectAltName"
    verifier = (
        PolicyBuilder()
        .store(store)
        .time(now)
        .extension_policies(ca_policy=ExtensionPolicy.webpki_defaults_ca(), ee_policy=_EE_POLICY)
        .build_server_verifier(subject)
    )
    try:
        verifier.verify(leaf, list(chain[1:MAX_CHAIN]))
    except VerificationError as exc:
        return _verification_reason(exc)
    except _MALFORMED as exc:  # malformed extensions or names anywhere in the chain
        return clean(f"malformed certificate: {exc}") or "verification failed"
    return None


def _out_of_validity(chain: Sequence[x509.Certificate], now: datetime) -> bool:
    for cert in chain[:MAX_CHAIN]:
        try:
            if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
                return True
        except _MALFORMED:
            continue
    return False


def chain_verdict(
    chain: Sequence[x509.Certificate],
    store: Store | None,
    now: datetime,
    *,
    sent: int | None = None,
) -> tuple[str | None, TlsReason | None]:
    """Why the chain (leaf first) fails, as display text and as a value; ``(None, None)``
    when it verifies and the leaf key is strong enough.

    The value is found from facts, not from cryptography's message (it has no code):
    dates outside the validity of a certificate sent -> ``cert-expired``; no
    subjectAltName -> ``cert-wrong-name``; any other path failure (also no
    certificate, no trust store, malformed extensions) -> ``cert-untrusted``; a
    verified chain with a small leaf key -> ``cert-weak-key``.
    ``sent`` is how many certificates the server sent: when more than
    :data:`MAX_CHAIN`, a path failure may be the cut's doing, so it is recorded as
    ``other`` ("not judged"), not as untrusted.
    """
    error = verify_chain(chain, store, now)
    if error is None:
        weak = weak_key(chain[0])
        if weak is None:
            return None, None
        return f"leaf key too small ({weak})", TlsReason.CERT_WEAK_KEY
    if not chain or store is None or extension_problem(chain[0]) is not None:
        # No certificate, no trust store, or one no verifier would accept: untrusted.
        return error, TlsReason.CERT_UNTRUSTED
    if _out_of_validity(chain, now):
        return error, TlsReason.CERT_EXPIRED
    dns, ips = _sans(chain[0])
    if not dns and not ips:
        return error, TlsReason.CERT_WRONG_NAME
    if sent is not None and sent > MAX_CHAIN:
        return (
            f"not judged: the server sent {sent} certificates and only the first "
            f"{MAX_CHAIN} are checked ({error})",
            TlsReason.OTHER,
        )
    return error, TlsReason.CERT_UNTRUSTED


# --------------------------------------------------------------- chain check

#: TLSA certificate usages an SMTP client honours (RFC 7672 3.1).
_DANE_TA, _DANE_EE = 2, 3


def _host(text: str) -> str:
    return clean(text, 260).rstrip(".").lower()


def _selected(cert: x509.Certificate, der: bytes, selector: int) -> bytes | None:
    """The bytes a selector picks (RFC 6698 2.1.2): the whole certificate or its SPKI."""
    if selector == 0:
        return der
    # Imported with the first SPKI selector: key serialization (with its SSH and cipher
    # modules) is a noticeable part of a probe process that meets no TLSA record.
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    try:
        return public_key_of(cert).public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    except (ValueError, TypeError):  # a key type cryptography cannot load
        return None


def _matches(record: TlsaRecord, selected: bytes) -> bool:
    """RFC 6698 2.1.3: the selected bytes, in full or digested, equal the record data."""
    if record.matching_type == 0:
        digest = selected
    elif record.matching_type == 1:
        digest = hashlib.sha256(selected).digest()
    else:
        digest = hashlib.sha512(selected).digest()
    return digest.hex() == record.data


def _outside_validity(certs: Sequence[x509.Certificate], now: datetime) -> bool:
    for cert in certs:
        try:
            if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
                return True
        except ValueError:
            continue
    return False


def _reference_ids(lookup: TlsaLookup, mx: str, nexthop: str | None) -> tuple[str, ...]:
    """RFC 7672 3.2.2: the MX host name, the TLSA base domain: the host name the
    TLSA records were asked under (the CNAME-expanded MX host name when they were
    found there, 2.2.2), and the next-hop domain when the caller vouches for it. A
    CNAME at the TLSA owner name itself only redirects the lookup; its target is no
    reference identifier (RFC 7671 7)."""
    base = _host(lookup.query.name).removeprefix(f"_{lookup.port}._tcp.")
    names = [_host(mx), lookup.mx, base, _host(nexthop or "")]
    return tuple(dict.fromkeys(name for name in names if name))


def _ta_verdict(
    certs: Sequence[x509.Certificate],
    anchor: x509.Certificate,
    anchor_index: int | None,
    names: Sequence[str],
    now: datetime,
) -> TlsRptResult | None:
    """DANE-TA (RFC 7672 3.1.2, 3.2): the chain from the leaf up to the trust anchor
    verifies (signatures, validity) and the leaf carries one of the reference
    identifiers ``names``; ``None`` when it does, else the RFC 8460 result type of
    the failure."""
    if anchor_index != 0:
        path = list(certs[:anchor_index]) if anchor_index is not None else list(certs)
        try:
            error = verify_chain([*path, anchor], Store([anchor]), now)
        except Exception:  # a certificate the verifier chokes on: a fact, not a crash
            error = "verification failed"
        if error is not None:
            if _outside_validity([*path, anchor], now):
                return TlsRptResult.CERTIFICATE_EXPIRED
            return TlsRptResult.VALIDATION_FAILURE
    try:
        named = any(hostname_matches(certs[0], name) for name in names)
    except Exception:
        named = False
    return None if named else TlsRptResult.CERTIFICATE_HOST_MISMATCH


def _load_chain(chain: Sequence[bytes]) -> tuple[list[x509.Certificate], list[bytes]]:
    """The leading certificates that parse (at most :data:`MAX_CHAIN`), with their DER."""
    certs: list[x509.Certificate] = []
    ders: list[bytes] = []
    for der in chain[:MAX_CHAIN]:
        try:
            certs.append(x509.load_der_x509_certificate(der))
        except ValueError:
            break
        ders.append(der)
    return certs, ders


@dataclass(slots=True)
class _ChainJudge:
    """One presented chain judged against TLSA records one at a time, remembering
    the selected bytes and the DANE-TA verdict per certificate, and the first failure.
    """

    certs: list[x509.Certificate]
    ders: list[bytes]
    names: tuple[str, ...]
    now: datetime
    #: A "2 0 0" anchor the server sent is judged in place, not as a separate anchor.
    sent: frozenset[str]
    selected: dict[tuple[int, int], bytes | None] = dataclasses.field(default_factory=dict)
    # One verdict per anchor position: hostile records matching the same certificate
    # many times cost one path verification, not one each.
    judged: dict[int, TlsRptResult | None] = dataclasses.field(default_factory=dict)
    failure: TlsRptResult | None = None

    def _pick(self, index: int, selector: int) -> bytes | None:
        key = (index, selector)
        if key not in self.selected:
            self.selected[key] = _selected(self.certs[index], self.ders[index], selector)
        return self.selected[key]

    def _covers(self, record: TlsaRecord, index: int) -> bool:
        data = self._pick(index, record.selector)
        return data is not None and _matches(record, data)

    def _note(self, verdict: TlsRptResult) -> None:
        self.failure = self.failure or verdict

    def _ee(self, record: TlsaRecord, r_index: int) -> DaneCheck | None:
        if not self._covers(record, 0):
            return None
        return DaneCheck(matched=True, usage=_DANE_EE, record_index=r_index, chain_index=0)

    def _ta_in_chain(self, record: TlsaRecord, r_index: int) -> DaneCheck | None:
        for c_index in range(len(self.certs)):
            if not self._covers(record, c_index):
                continue
            if c_index not in self.judged:
                self.judged[c_index] = _ta_verdict(
                    self.certs, self.certs[c_index], c_index, self.names, self.now
                )
            verdict = self.judged[c_index]
            if verdict is None:
                return DaneCheck(
                    matched=True, usage=_DANE_TA, record_index=r_index, chain_index=c_index
                )
            self._note(verdict)
        return None

    def _ta_in_record(self, record: TlsaRecord, r_index: int) -> DaneCheck | None:
        """A ``2 0 0`` record that carries an anchor the server did not send."""
        if record.selector != 0 or record.matching_type != 0 or record.data in self.sent:
            return None
        anchor = _certificate(record.data)
        if anchor is None:
            return None
        verdict = _ta_verdict(self.certs, anchor, None, self.names, self.now)
        if verdict is None:
            return DaneCheck(matched=True, usage=_DANE_TA, record_index=r_index)
        self._note(verdict)
        return None

    def match(self, record: TlsaRecord, r_index: int) -> DaneCheck | None:
        """The check when ``record`` (the ``r_index``-th) authenticates the chain."""
        if record.usage == _DANE_EE:
            return self._ee(record, r_index)
        found = self._ta_in_chain(record, r_index)
        if found is not None:
            return found
        return self._ta_in_record(record, r_index)


def check_chain(
    lookup: TlsaLookup,
    chain: Sequence[bytes],
    mx: str,
    now: datetime,
    nexthop: str | None = None,
) -> DaneCheck:
    """Match the chain a server presented (DER, leaf first) against ``lookup``'s
    usable TLSA records, as a DANE-enforcing sender does (RFC 7672 3).

    - DANE-EE(3) matches the leaf; nothing else is checked: no names, no dates
      (3.1.1).
    - DANE-TA(2) matches a certificate of the chain, which then acts as the trust
      anchor: the chain from the leaf up to it must verify at ``now`` and the leaf
      must name a reference identifier (3.1.2, 3.2.2): the MX host, the TLSA base
      domain, or ``nexthop``. A ``2 0 0`` record carries the anchor itself, which
      then need not be in the chain (RFC 7671 5.2.2).

    ``nexthop``: the next-hop (recipient) domain whose MX RRset named ``mx``, given
    only when that RRset is DNSSEC-secure, as Postfix matches DANE-TA certificates
    against the next-hop domain and the MX host name; ``None`` leaves the MX host
    names alone. Names below it (Postfix's ``dot-nexthop``) are not accepted.

    The first record that matches wins. Without one, ``failure`` names what a TLS
    report would: ``certificate-expired``, ``validation-failure`` or
    ``certificate-host-mismatch`` when a DANE-TA record matched but its chain or name
    failed, ``tlsa-invalid`` when no record matched, ``validation-failure`` when the
    server sent no readable certificate. Never raises.
    """
    certs, ders = _load_chain(chain)
    if not certs:
        return DaneCheck(matched=False, failure=TlsRptResult.VALIDATION_FAILURE)
    judge = _ChainJudge(
        certs,
        ders,
        _reference_ids(lookup, mx, nexthop),
        now,
        sent=frozenset(d.hex() for d in ders),
    )
    for r_index, record in enumerate(lookup.records):
        found = judge.match(record, r_index) if record.usable else None
        if found is not None:
            return found
    return DaneCheck(matched=False, failure=judge.failure or TlsRptResult.TLSA_INVALID)


def _certificate(data: str) -> x509.Certificate | None:
    try:
        return x509.load_der_x509_certificate(bytes.fromhex(data))
    except ValueError:
        return None
