"""DANE record parsing, state and chain matching (RFC 7672, RFC 6698/7671), pure.

Certificates are real ones from the test kit's PKI (:class:`smtpdiag.testing.certs.TestPki`):
a test CA, leaves that are good, expired, for another name, or from an unknown CA.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import dns.rdata
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from smtpdiag.model import (
    DaneState,
    DnsOutcome,
    DnsQuery,
    DnssecStatus,
    TlsaLookup,
    TlsaRecord,
    TlsRptResult,
)
from smtpdiag.policy.dane import (
    MAX_TLSA_DATA,
    MAX_TLSA_RECORDS,
    check_chain,
    dnssec_status,
    parse_tlsa,
    tlsa_name,
    tlsa_state,
)
from smtpdiag.resolve.resolver import RawAnswer
from smtpdiag.testing.certs import TestPki

MX = "mx.test"
NOW = datetime.now(UTC)


@pytest.fixture(scope="module")
def pki() -> Iterator[TestPki]:
    pki = TestPki(names=(MX, "*.wild.test"))
    yield pki
    pki.cleanup()


def der(pki: TestPki, kind: str) -> bytes:
    return x509.load_pem_x509_certificate(pki.leaf_pem(kind)).public_bytes(Encoding.DER)


def ca_der(pki: TestPki, unknown: bool = False) -> bytes:
    path = pki.unknown_ca_file if unknown else pki.ca_file
    return x509.load_pem_x509_certificate(path.read_bytes()).public_bytes(Encoding.DER)


def spki(cert_der: bytes) -> bytes:
    key = x509.load_der_x509_certificate(cert_der).public_key()
    return key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


def record(usage: int, selector: int, mtype: int, cert_der: bytes) -> TlsaRecord:
    selected = cert_der if selector == 0 else spki(cert_der)
    digest = {
        0: selected,
        1: hashlib.sha256(selected).digest(),
        2: hashlib.sha512(selected).digest(),
    }[mtype]
    return TlsaRecord(usage, selector, mtype, digest.hex(), usable=True)


def lookup(*records: TlsaRecord, cname: str | None = None, mx: str = MX) -> TlsaLookup:
    query = DnsQuery(tlsa_name(mx, 25), "TLSA", DnsOutcome.OK, cname=cname)
    return TlsaLookup(
        mx, 25, query, DnssecStatus.SECURE, DaneState.USABLE, records, DnssecStatus.SECURE
    )


# ---------------------------------------------------------------- parsing


def rdata(text: str) -> dns.rdata.Rdata:
    return dns.rdata.from_text("IN", "TLSA", text)


def test_parse_marks_usable_records() -> None:
    sha256 = "ab" * 32
    sha512 = "cd" * 64
    parsed = parse_tlsa(
        [
            rdata(f"3 1 1 {sha256}"),
            rdata(f"2 0 2 {sha512}"),
            rdata("3 0 0 3082abcd"),
            rdata(f"1 1 1 {sha256}"),  # PKIX-EE: not for SMTP (RFC 7672 3.1.3)
            rdata(f"0 0 1 {sha256}"),  # PKIX-TA
            rdata(f"3 2 1 {sha256}"),  # unknown selector
            rdata(f"3 1 3 {sha256}"),  # unknown matching type
            rdata(f"4 1 1 {sha256}"),  # unknown usage
        ]
    )
    # (A digest of the wrong length for its matching type never gets here: dnspython
    # refuses the whole message, and the lookup reads as an error.)
    assert [r.usable for r in parsed] == [True, True, True] + [False] * 5
    assert parsed[0] == TlsaRecord(3, 1, 1, sha256, usable=True)
    assert parsed[2].data == "3082abcd"


def test_parse_is_bounded() -> None:
    many = [rdata(f"3 1 1 {i:064x}") for i in range(MAX_TLSA_RECORDS + 40)]
    assert len(parse_tlsa(many)) == MAX_TLSA_RECORDS
    huge = parse_tlsa([rdata("3 0 0 " + "00" * (MAX_TLSA_DATA + 1))])
    assert len(huge[0].data) == 2 * MAX_TLSA_DATA
    assert not huge[0].usable


def test_tlsa_name() -> None:
    assert tlsa_name("MX1.Example.TEST.", 25) == "_25._tcp.mx1.example.test"


# ------------------------------------------------------------- DNSSEC state


def raw(outcome: DnsOutcome, authenticated: bool) -> RawAnswer:
    return RawAnswer(DnsQuery("x.test", "TLSA", outcome), authenticated=authenticated)


@pytest.mark.parametrize(
    ("outcome", "ad", "status"),
    [
        (DnsOutcome.OK, True, DnssecStatus.SECURE),
        (DnsOutcome.OK, False, DnssecStatus.INSECURE),
        (DnsOutcome.NXDOMAIN, True, DnssecStatus.SECURE),
        (DnsOutcome.NODATA, False, DnssecStatus.INSECURE),
        (DnsOutcome.SERVFAIL, False, DnssecStatus.BOGUS),
        (DnsOutcome.TIMEOUT, False, DnssecStatus.UNKNOWN),
        (DnsOutcome.REFUSED, False, DnssecStatus.UNKNOWN),
    ],
)
def test_dnssec_status(outcome: DnsOutcome, ad: bool, status: DnssecStatus) -> None:
    assert dnssec_status(raw(outcome, ad)) is status


GOOD = (TlsaRecord(3, 1, 1, "ab" * 32, usable=True),)
UNUSABLE = (TlsaRecord(1, 1, 1, "ab" * 32, usable=False),)
S, INS, B, U = (
    DnssecStatus.SECURE,
    DnssecStatus.INSECURE,
    DnssecStatus.BOGUS,
    DnssecStatus.UNKNOWN,
)


@pytest.mark.parametrize(
    ("outcome", "dnssec", "records", "address", "state"),
    [
        (DnsOutcome.OK, S, GOOD, S, DaneState.USABLE),
        # RFC 7672 2.2: TLSA in an unsigned or unvalidated zone is never a pass.
        (DnsOutcome.OK, INS, GOOD, S, DaneState.NOT_USABLE),
        (DnsOutcome.OK, S, UNUSABLE, S, DaneState.NOT_USABLE),
        # RFC 7672 2.2.2: only used when the host's address records are secure.
        (DnsOutcome.OK, S, GOOD, INS, DaneState.NOT_USABLE),
        (DnsOutcome.OK, S, GOOD, B, DaneState.BOGUS),
        (DnsOutcome.SERVFAIL, B, (), S, DaneState.BOGUS),
        (DnsOutcome.NXDOMAIN, S, (), S, DaneState.NONE),
        (DnsOutcome.NODATA, INS, (), INS, DaneState.NONE),
        (DnsOutcome.TIMEOUT, U, (), S, DaneState.UNKNOWN),
    ],
)
def test_tlsa_state(
    outcome: DnsOutcome,
    dnssec: DnssecStatus,
    records: Sequence[TlsaRecord],
    address: DnssecStatus,
    state: DaneState,
) -> None:
    query = DnsQuery(tlsa_name(MX, 25), "TLSA", outcome)
    assert tlsa_state(query, dnssec, records, address) is state


# ------------------------------------------------------------- chain check


@pytest.mark.parametrize(("selector", "mtype"), [(s, m) for s in (0, 1) for m in (0, 1, 2)])
def test_dane_ee_matches_the_leaf(pki: TestPki, selector: int, mtype: int) -> None:
    leaf = der(pki, "good")
    check = check_chain(lookup(record(3, selector, mtype, leaf)), [leaf], MX, NOW)
    assert check.matched and check.usage == 3 and check.chain_index == 0
    assert check.record_index == 0 and check.failure is None


@pytest.mark.parametrize("kind", ["expired", "wrong-name", "untrusted"])
def test_dane_ee_checks_no_name_and_no_dates(pki: TestPki, kind: str) -> None:
    # RFC 7672 3.1.1: the key is what DANE-EE pins; names and expiry do not matter.
    leaf = der(pki, kind)
    check = check_chain(lookup(record(3, 1, 1, leaf)), [leaf], MX, NOW)
    assert check.matched


def test_dane_ee_does_not_match_another_leaf(pki: TestPki) -> None:
    check = check_chain(lookup(record(3, 1, 1, der(pki, "good"))), [der(pki, "untrusted")], MX, NOW)
    assert not check.matched
    assert check.failure is TlsRptResult.TLSA_INVALID


def test_dane_ee_only_matches_the_leaf(pki: TestPki) -> None:
    # A 3 x x record for the CA, which the server sends as well: not the leaf, no match.
    ca = ca_der(pki)
    check = check_chain(lookup(record(3, 1, 1, ca)), [der(pki, "good"), ca], MX, NOW)
    assert check.failure is TlsRptResult.TLSA_INVALID


@pytest.mark.parametrize(("selector", "mtype"), [(0, 1), (1, 1), (1, 2), (0, 0)])
def test_dane_ta_matches_an_issuer_in_the_chain(pki: TestPki, selector: int, mtype: int) -> None:
    ca = ca_der(pki)
    check = check_chain(lookup(record(2, selector, mtype, ca)), [der(pki, "good"), ca], MX, NOW)
    assert check.matched and check.usage == 2 and check.chain_index == 1


def test_dane_ta_full_certificate_need_not_be_sent(pki: TestPki) -> None:
    # RFC 7671 5.2.2: a 2 0 0 record carries the trust anchor itself.
    check = check_chain(lookup(record(2, 0, 0, ca_der(pki))), [der(pki, "good")], MX, NOW)
    assert check.matched and check.usage == 2 and check.chain_index is None


def test_dane_ta_digest_of_an_anchor_not_sent_does_not_match(pki: TestPki) -> None:
    check = check_chain(lookup(record(2, 1, 1, ca_der(pki))), [der(pki, "good")], MX, NOW)
    assert check.failure is TlsRptResult.TLSA_INVALID


def test_dane_ta_wants_the_mx_host_name(pki: TestPki) -> None:
    ca = ca_der(pki)
    check = check_chain(lookup(record(2, 1, 1, ca)), [der(pki, "wrong-name"), ca], MX, NOW)
    assert not check.matched
    assert check.failure is TlsRptResult.CERTIFICATE_HOST_MISMATCH


def test_dane_ta_accepts_the_tlsa_base_domain(pki: TestPki) -> None:
    # RFC 7672 2.2.2/3.2.2: the MX host other.test is a secure alias of a name the leaf
    # carries (here a wildcard's), where the TLSA records were found: that name, the
    # TLSA base domain, is a reference identifier too.
    ca = ca_der(pki)
    expanded = DnsQuery(tlsa_name("host.wild.test", 25), "TLSA", DnsOutcome.OK)
    via = replace(lookup(record(2, 1, 1, ca), mx="other.test"), query=expanded)
    assert check_chain(via, [der(pki, "good"), ca], "other.test", NOW).matched
    plain = lookup(record(2, 1, 1, ca), mx="other.test")
    assert not check_chain(plain, [der(pki, "good"), ca], "other.test", NOW).matched
    # A CNAME at the TLSA owner name only redirects the lookup (RFC 7671 7).
    redirected = lookup(record(2, 1, 1, ca), mx="other.test", cname="_25._tcp.host.wild.test")
    check = check_chain(redirected, [der(pki, "good"), ca], "other.test", NOW)
    assert check.failure is TlsRptResult.CERTIFICATE_HOST_MISMATCH


def test_dane_ta_accepts_the_next_hop_domain(pki: TestPki) -> None:
    # RFC 7672 3.2.2: the next-hop (recipient) domain is a reference identifier too
    # when its MX RRset is secure, as in Postfix. The "wrong-name" leaf names only
    # wrong.invalid: here the recipient domain.
    ca, leaf = ca_der(pki), der(pki, "wrong-name")
    for nexthop in ("wrong.invalid", "WRONG.invalid."):
        check = check_chain(lookup(record(2, 1, 1, ca)), [leaf, ca], MX, NOW, nexthop)
        assert check.matched and check.usage == 2 and check.chain_index == 1, nexthop
    carried = lookup(record(2, 0, 0, ca))  # the anchor in the record, only the leaf sent
    assert check_chain(carried, [leaf], MX, NOW, "wrong.invalid").matched


def test_dane_ta_next_hop_is_one_name_not_a_wildcard(pki: TestPki) -> None:
    ca, leaf = ca_der(pki), der(pki, "wrong-name")
    # No next-hop domain (an insecure MX RRset), an unrelated one, or the parent of
    # the name on the leaf (Postfix's dot-nexthop is not a DANE reference identifier).
    for nexthop in (None, "other.invalid", "invalid"):
        check = check_chain(lookup(record(2, 1, 1, ca)), [leaf, ca], MX, NOW, nexthop)
        assert not check.matched, nexthop
        assert check.failure is TlsRptResult.CERTIFICATE_HOST_MISMATCH


def test_dane_ta_checks_expiry(pki: TestPki) -> None:
    ca = ca_der(pki)
    check = check_chain(lookup(record(2, 1, 1, ca)), [der(pki, "expired"), ca], MX, NOW)
    assert check.failure is TlsRptResult.CERTIFICATE_EXPIRED


def test_dane_ta_chain_must_verify(pki: TestPki) -> None:
    # The anchor is in the chain, but the leaf was signed by another CA.
    ca = ca_der(pki)
    check = check_chain(lookup(record(2, 1, 1, ca)), [der(pki, "untrusted"), ca], MX, NOW)
    assert check.failure is TlsRptResult.VALIDATION_FAILURE


def test_first_matching_record_wins(pki: TestPki) -> None:
    leaf, ca = der(pki, "good"), ca_der(pki)
    wrong = TlsaRecord(3, 1, 1, "00" * 32, usable=True)
    unusable = TlsaRecord(1, 1, 1, record(1, 1, 1, leaf).data, usable=False)
    check = check_chain(lookup(wrong, unusable, record(2, 0, 1, ca)), [leaf, ca], MX, NOW)
    assert check.matched and check.record_index == 2 and check.usage == 2


def test_unusable_records_never_match(pki: TestPki) -> None:
    # PKIX-EE (1) pins the right leaf, but SMTP senders ignore usages 0 and 1.
    leaf = der(pki, "good")
    pinned = TlsaRecord(1, 1, 1, record(1, 1, 1, leaf).data, usable=False)
    assert check_chain(lookup(pinned), [leaf], MX, NOW).failure is TlsRptResult.TLSA_INVALID


def test_hostile_chains(pki: TestPki) -> None:
    good = lookup(record(3, 1, 1, der(pki, "good")))
    assert check_chain(good, [], MX, NOW).failure is TlsRptResult.VALIDATION_FAILURE
    assert check_chain(good, [b"\x30\x03junk"], MX, NOW).failure is (
        TlsRptResult.VALIDATION_FAILURE
    )
    # A TA record whose data is not a certificate.
    junk_anchor = TlsaRecord(2, 0, 0, "3003020101", usable=True)
    assert check_chain(lookup(junk_anchor), [der(pki, "good")], MX, NOW).failure is (
        TlsRptResult.TLSA_INVALID
    )


def test_many_records_for_one_anchor_cost_one_verification(
    pki: TestPki, monkeypatch: pytest.MonkeyPatch
) -> None:
    import smtpdiag.certmatch as dane

    ca = ca_der(pki)
    records = [record(2, s, m, ca) for s in (0, 1) for m in (0, 1, 2)] * 3
    chain = [der(pki, "untrusted"), *([ca] * 9)]
    calls: list[int] = []
    real = dane.verify_chain

    def counting(*args: Any) -> str | None:
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(dane, "verify_chain", counting)
    check = check_chain(lookup(*records), chain, MX, NOW)
    assert check.failure is TlsRptResult.VALIDATION_FAILURE
    assert len(calls) == 9  # one per position the anchor appears at (1..9)
