"""TLS context and handshake facts.

The handshake itself never verifies: a context with ``CERT_NONE`` and no host-name
check lets the handshake finish with a bad certificate, so the certificate can always
be recorded. Verification happens afterwards, on the chain the server sent, in
:mod:`smtpdiag.certmatch` (chain validity and host name judged separately). Protocol
minimums stay at OpenSSL's defaults, so "no version or cipher in common" still shows
up as a handshake failure with OpenSSL's reason.
"""

from __future__ import annotations

import functools
import ssl
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from cryptography import x509
from cryptography.x509.verification import Store

from ..certmatch import (
    MAX_CHAIN,
    cert_info,
    chain_verdict,
    check_chain,
    days_left,
    extension_problem,
    hostname_matches,
)
from ..model import CertInfo, TlsaLookup, TlsInfo, TlsReason
from ..textsafe import clean

__all__ = ["certificate_facts", "client_context", "peer_chain", "tls_info"]


@functools.cache
def client_context() -> ssl.SSLContext:
    """A client context that completes handshakes whatever the certificate; one per
    process, never changed after this (building one costs OpenSSL 3 about 0.35 ms, a
    few per cent of a probe in a service that probes every minute).

    Why not verify here: an aborted handshake hides the certificate and the
    negotiated parameters; we want both the facts and the verdict.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _der(item: Any) -> bytes | None:
    if isinstance(item, bytes | bytearray):
        return bytes(item)
    public_bytes = getattr(item, "public_bytes", None)
    if public_bytes is None:
        return None
    # 3.10-3.12: _ssl.Certificate.public_bytes(format) with _ssl.ENCODING_DER.
    encoding = getattr(getattr(ssl, "_ssl", None), "ENCODING_DER", None)
    if encoding is None:
        return None
    data = public_bytes(encoding)
    return bytes(data) if isinstance(data, bytes | bytearray) else None


def peer_chain(ssl_object: ssl.SSLObject | ssl.SSLSocket) -> tuple[list[bytes], int]:
    """DER certificates the server sent, leaf first (at most :data:`MAX_CHAIN`), and
    how many it sent in all.

    ``get_unverified_chain`` is public from Python 3.13; on 3.10-3.12 it exists on the
    private ``_sslobj``. Without either, only the leaf is available.
    """
    getter = getattr(ssl_object, "get_unverified_chain", None)
    if getter is None:
        getter = getattr(getattr(ssl_object, "_sslobj", None), "get_unverified_chain", None)
    chain: list[bytes] = []
    sent = 0
    if getter is not None:
        try:
            items = list(getter() or [])
        except (ssl.SSLError, ValueError, AttributeError):
            items = []
        sent = len(items)
        for item in items[:MAX_CHAIN]:
            der = _der(item)
            if der is not None:
                chain.append(der)
    if not chain:
        leaf = ssl_object.getpeercert(binary_form=True)
        if leaf:
            chain.append(leaf)
    return chain, max(sent, len(chain))


def tls_info(
    ssl_object: ssl.SSLObject | ssl.SSLSocket,
    host: str,
    store: Store | None,
    now: datetime,
    tlsa: TlsaLookup | None = None,
    nexthop: str | None = None,
) -> TlsInfo:
    """Facts of a finished handshake, the certificate, and the verification verdict.

    ``tlsa``: the MX host's usable TLSA records; the chain is then also matched
    against them (:attr:`TlsInfo.dane`), here, where the DER chain is at hand.
    ``nexthop``: the domain whose secure MX RRset named ``host``, a name a DANE-TA
    certificate may carry instead (:func:`smtpdiag.certmatch.check_chain`).
    """
    cipher = ssl_object.cipher()
    ders, sent = peer_chain(ssl_object)
    leaf_info, match, verify_error, reason = certificate_facts(ders, host, store, now, sent=sent)
    dane = None
    if tlsa is not None:
        dane = check_chain(tlsa, ders, host, now, nexthop)
    return TlsInfo(
        version=ssl_object.version(),
        cipher=cipher[0] if cipher else None,
        cipher_bits=cipher[2] if cipher else None,
        certificate=leaf_info,
        chain_length=sent,
        verified=verify_error is None,
        verify_error=verify_error,
        hostname_match=match,
        verify_reason=reason,
        chain_truncated=sent > MAX_CHAIN,
        dane=dane,
    )


_Facts = tuple[CertInfo | None, bool | None, str | None, TlsReason | None]

#: Chains whose facts are kept (a service meets the same chains every round), and for
#: how long at most (monotonic seconds): a trust anchor expiring or a CRL-free
#: revocation would otherwise never be seen.
_KEPT_CHAINS = 256
_KEPT_FOR = 3600.0


@dataclass(frozen=True, slots=True)
class _Kept:
    facts: _Facts
    store: Store | None  # held, so that its id() in the key is never reused
    valid_from: datetime  # the chain's validity, all its certificates together
    valid_until: datetime
    not_after: datetime  # the leaf's, for days_left
    until: float  # monotonic time after which the facts are worked out again


_kept: OrderedDict[tuple[tuple[bytes, ...], str, int, int | None], _Kept] = OrderedDict()
# Probes may run in several threads at once (a Celery worker's thread pool).
_kept_lock = threading.Lock()


def certificate_facts(
    ders: Sequence[bytes],
    host: str,
    store: Store | None,
    now: datetime,
    *,
    sent: int | None = None,
) -> _Facts:
    """The leaf's facts, whether it names ``host``, and why the chain fails (text and
    value; both ``None`` when it verifies).

    Never raises: the certificate is the server's input. A certificate that loads but
    cannot be analysed (cryptography parses lazily) still gives whatever facts can be
    read, and the reason becomes the verification error. ``sent``: how many
    certificates the server sent (see :func:`smtpdiag.certmatch.chain_verdict`).

    The facts of a chain seen before with the same host and trust store are reused
    while ``now`` is inside every certificate's validity (verification depends on the
    time only through those bounds), for at most an hour; only ``days_left`` moves.
    """
    key = (tuple(ders), host.lower(), id(store), sent)
    with _kept_lock:
        kept = _kept.get(key)
        if kept is not None:
            _kept.move_to_end(key)
    if (
        kept is not None
        and kept.store is store
        and kept.valid_from <= now <= kept.valid_until
        and time.monotonic() < kept.until
    ):
        leaf, match, error, reason = kept.facts
        if leaf is not None:
            leaf = replace(leaf, days_left=days_left(kept.not_after, now))
        return leaf, match, error, reason
    facts, certs = _certificate_facts(ders, host, store, now, sent=sent)
    try:
        valid_from = max(c.not_valid_before_utc for c in certs)
        valid_until = min(c.not_valid_after_utc for c in certs)
        not_after = certs[0].not_valid_after_utc
    except Exception:  # no certificate, or dates cryptography cannot read: not kept
        return facts
    if valid_from <= now <= valid_until:
        until = time.monotonic() + _KEPT_FOR
        entry = _Kept(facts, store, valid_from, valid_until, not_after, until)
        with _kept_lock:
            _kept[key] = entry
            _kept.move_to_end(key)
            while len(_kept) > _KEPT_CHAINS:
                _kept.popitem(last=False)
    return facts


def _certificate_facts(
    ders: Sequence[bytes],
    host: str,
    store: Store | None,
    now: datetime,
    *,
    sent: int | None,
) -> tuple[_Facts, list[x509.Certificate]]:
    certs: list[x509.Certificate] = []
    parse_error: str | None = None
    for der in ders:
        try:
            certs.append(x509.load_der_x509_certificate(der))
        except ValueError as exc:
            parse_error = clean(f"unparseable certificate: {exc}")
            break
    if not certs:
        error = parse_error or "the server sent no certificate"
        return (None, None, error, TlsReason.CERT_UNTRUSTED), certs
    leaf_info: CertInfo | None = None
    match: bool | None = None
    verify_error: str | None
    reason: TlsReason | None
    try:
        leaf_info = cert_info(certs[0], now)
        problem = extension_problem(certs[0])
        match = None if problem else hostname_matches(certs[0], host)
        if problem:
            verify_error, reason = problem, TlsReason.CERT_UNTRUSTED
        else:
            verify_error, reason = chain_verdict(certs, store, now, sent=sent)
    except Exception as exc:  # a parser path not foreseen: a fact, not a crash
        verify_error = clean(f"certificate could not be analysed: {type(exc).__name__}: {exc}")
        reason = TlsReason.OTHER
        certs = []  # facts from a chain that could not be analysed are not kept
    return (leaf_info, match, verify_error, reason), certs
