"""A chain's facts are worked out once and reused (a service meets the same chains every
round), yet never say what a fresh look would not: days left follow the clock, and a
time outside the chain's validity, another host name or another trust store are
judged afresh."""

from __future__ import annotations

import ssl
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509

import smtpdiag.probing.tls as tls
from smtpdiag.certmatch import load_trust_store
from smtpdiag.model import TlsReason
from smtpdiag.probing.tls import certificate_facts
from smtpdiag.testing.certs import TestPki


@pytest.fixture
def verdicts(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Counts the chain verifications actually run (the real one runs each time)."""
    calls: list[str] = []
    real = tls.chain_verdict

    def counted(*args: object, **kwargs: object) -> tuple[str | None, TlsReason | None]:
        calls.append("verify")
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(tls, "chain_verdict", counted)
    tls._kept.clear()
    return calls


def test_kept_facts_follow_the_clock_and_the_inputs(tmp_path: Path, verdicts: list[str]) -> None:
    pki = TestPki(names=("mx.test",), directory=tmp_path)
    der = ssl.PEM_cert_to_DER_cert(pki.leaf_pem("good").decode())
    not_after = x509.load_der_x509_certificate(der).not_valid_after_utc
    store = load_trust_store(str(pki.ca_file))
    now = datetime.now(UTC)

    first = certificate_facts([der], "mx.test", store, now)
    assert first[2] is None and first[1] is True and first[0] is not None
    assert verdicts == ["verify"]

    # Three days on, inside the validity: reused, but the days left moved.
    later = certificate_facts([der], "MX.test", store, now + timedelta(days=3))
    assert verdicts == ["verify"]
    assert later[0] is not None and later[0].days_left == first[0].days_left - 3
    assert later[1:] == first[1:]

    # Past the leaf's end: judged again, expired.
    expired = certificate_facts([der], "mx.test", store, not_after + timedelta(days=1))
    assert len(verdicts) == 2
    assert expired[3] is TlsReason.CERT_EXPIRED
    assert expired[0] is not None and expired[0].days_left < 0

    # Another name, another store: never the kept answer.
    assert certificate_facts([der], "other.test", store, now)[1] is False
    untrusted = certificate_facts([der], "mx.test", load_trust_store(str(pki.unknown_ca_file)), now)
    assert untrusted[3] is TlsReason.CERT_UNTRUSTED


def test_kept_facts_expire_and_stay_bounded(
    tmp_path: Path, verdicts: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    pki = TestPki(names=("mx.test",), directory=tmp_path)
    der = ssl.PEM_cert_to_DER_cert(pki.leaf_pem("good").decode())
    store = load_trust_store(str(pki.ca_file))
    now = datetime.now(UTC)
    certificate_facts([der], "mx.test", store, now)
    monkeypatch.setattr(tls, "_KEPT_FOR", -1.0)  # what is kept from now on is already old
    tls._kept.clear()
    certificate_facts([der], "mx.test", store, now)
    certificate_facts([der], "mx.test", store, now)
    assert len(verdicts) == 3
    monkeypatch.setattr(tls, "_KEPT_FOR", 3600.0)
    for i in range(tls._KEPT_CHAINS + 20):
        certificate_facts([der], f"h{i}.test", store, now)
    assert len(tls._kept) == tls._KEPT_CHAINS
