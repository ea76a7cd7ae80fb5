"""Hand-built TLS policy observations (MTA-STS, DANE, TLS-RPT) for the pure-stage tests.

Deterministic values only (and two readers of a report's JSON findings); the lookups
that produce them for real are tested against loopback servers elsewhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import factories as shared
from smtpdiag.model import (
    DaneCheck,
    DaneState,
    DnsOutcome,
    DnsQuery,
    DnssecStatus,
    MtaSts,
    StsFetch,
    StsFetchError,
    StsMode,
    StsMxMatch,
    StsPolicy,
    StsProblem,
    StsRecord,
    StsStatus,
    TlsaLookup,
    TlsaRecord,
    TlsPolicy,
    TlsRpt,
    TlsRptResult,
    TlsRptStatus,
)

__all__ = [
    "HASH",
    "dane_match",
    "dane_miss",
    "mta_sts",
    "sts_fetch_failed",
    "sts_invalid",
    "tls_policy",
    "tls_rpt",
    "tlsa",
]

#: A SHA-256 association (hex) used by the hand-built TLSA records.
HASH = "5ea719c0" * 8


def _record(domain: str, rid: str = "20261101T000000") -> StsRecord:
    return StsRecord(text=f"v=STSv1; id={rid}", id=rid)


def _record_query(domain: str, rid: str = "20261101T000000") -> DnsQuery:
    return shared.dns_query(f"_mta-sts.{domain}", "TXT", [f'"v=STSv1; id={rid}"'])


def _fetch(domain: str, **kw: object) -> StsFetch:
    args: dict[str, object] = {
        "url": f"https://mta-sts.{domain}/.well-known/mta-sts.txt",
        "address": "198.51.100.80",
        "status": 200,
        "content_type": "text/plain",
        "size": 90,
        "duration_ms": 31.5,
    }
    args.update(kw)
    return StsFetch(**args)  # type: ignore[arg-type]


def mta_sts(
    domain: str,
    mx_hosts: Sequence[str],
    *,
    mode: StsMode = StsMode.ENFORCE,
    patterns: Sequence[str] | None = None,
    max_age: int = 604800,
) -> MtaSts:
    """A valid policy of ``mode`` with ``patterns`` (default: ``*.<domain>``), matched
    against ``mx_hosts`` the way RFC 8461 4.1 does (one left-most wildcard label)."""
    pats = tuple(patterns) if patterns is not None else (f"*.{domain}",)

    def match(host: str) -> str | None:
        for p in pats:
            if p == host or (p.startswith("*.") and host.split(".", 1)[-1] == p[2:]):
                return p
        return None

    return MtaSts(
        status=StsStatus.VALID,
        record_query=_record_query(domain),
        record=_record(domain),
        fetch=_fetch(domain),
        policy=StsPolicy(version="STSv1", mode=mode, mx=pats, max_age=max_age),
        matches=tuple(StsMxMatch(h, match(h)) for h in mx_hosts),
    )


def sts_fetch_failed(domain: str, error: StsFetchError, status: StsStatus) -> MtaSts:
    """A published record whose policy could not be fetched (``status``: fetch-error or
    webpki-invalid)."""
    return MtaSts(
        status=status,
        record_query=_record_query(domain),
        record=_record(domain),
        fetch=_fetch(
            domain, status=None, content_type=None, size=0, error=error, detail="handshake failed"
        ),
    )


def sts_invalid(domain: str, *problems: StsProblem) -> MtaSts:
    """A fetched policy with syntax problems."""
    return MtaSts(
        status=StsStatus.POLICY_INVALID,
        record_query=_record_query(domain),
        record=_record(domain),
        fetch=_fetch(domain),
        policy=StsPolicy(version="STSv1", mode=None, mx=(), max_age=None, problems=tuple(problems)),
    )


def tlsa(
    mx: str,
    *,
    state: DaneState = DaneState.USABLE,
    dnssec: DnssecStatus = DnssecStatus.SECURE,
    records: Sequence[TlsaRecord] | None = None,
    port: int = 25,
) -> TlsaLookup:
    """The TLSA lookup of ``mx`` (default: one usable 3 1 1 record, validated)."""
    recs = (
        tuple(records)
        if records is not None
        else (
            (TlsaRecord(3, 1, 1, HASH, True),)
            if state not in (DaneState.NONE, DaneState.BOGUS, DaneState.UNKNOWN)
            else ()
        )
    )
    outcome = {
        DaneState.NONE: DnsOutcome.NXDOMAIN,
        DaneState.BOGUS: DnsOutcome.SERVFAIL,
        DaneState.UNKNOWN: DnsOutcome.TIMEOUT,
    }.get(state, DnsOutcome.OK)
    answers = [f"{r.usage} {r.selector} {r.matching_type} {r.data}" for r in recs]
    query = shared.dns_query(f"_{port}._tcp.{mx}", "TLSA", answers, outcome)
    return TlsaLookup(
        mx=mx,
        port=port,
        query=query,
        dnssec=dnssec,
        state=state,
        records=recs,
        address_dnssec=dnssec,
    )


def dane_match(usage: int = 3) -> DaneCheck:
    """A chain that matched the first TLSA record at the leaf."""
    return DaneCheck(matched=True, usage=usage, record_index=0, chain_index=0)


def dane_miss(failure: TlsRptResult = TlsRptResult.TLSA_INVALID) -> DaneCheck:
    """A chain no usable TLSA record matched."""
    return DaneCheck(matched=False, failure=failure)


def tls_rpt(domain: str, *rua: str) -> TlsRpt:
    """A valid ``_smtp._tls`` record (default rua: ``mailto:tlsrpt@<domain>``)."""
    uris = rua or (f"mailto:tlsrpt@{domain}",)
    text = f"v=TLSRPTv1; rua={','.join(uris)}"
    return TlsRpt(
        status=TlsRptStatus.VALID,
        query=shared.dns_query(f"_smtp._tls.{domain}", "TXT", [f'"{text}"']),
        text=text,
        rua=tuple(uris),
    )


def tls_policy(
    mta_sts_: MtaSts | None = None,
    dane: Sequence[TlsaLookup] = (),
    rpt: TlsRpt | None = None,
    *,
    mx_dnssec: DnssecStatus = DnssecStatus.SECURE,
) -> TlsPolicy:
    """Everything together (default: MTA-STS not published, no TLSA, no TLS-RPT)."""
    return TlsPolicy(
        mta_sts=mta_sts_ or MtaSts(StsStatus.NOT_PUBLISHED),
        mx_dnssec=mx_dnssec,
        dane=tuple(dane),
        tls_rpt=rpt or TlsRpt(TlsRptStatus.NOT_PUBLISHED),
        duration_ms=42.125,
    )


def finding(doc: dict[str, Any], rule: str) -> dict[str, Any]:
    """The first finding of ``rule`` in a report's JSON (fails, naming the rules, if none)."""
    found = [f for f in doc["diagnosis"]["findings"] if f["rule"] == rule]
    assert found, [f["rule"] for f in doc["diagnosis"]["findings"]]
    return found[0]


def who(f: dict[str, Any]) -> dict[str, tuple[str, str | None]]:
    """A JSON finding's senders: kind -> (outcome, MTA-STS mode)."""
    return {s["sender"]: (s["outcome"], s["mode"]) for s in f["payload"]["senders"]}
