"""What is compared between rounds to notice drift: MX set, MTA-STS policy, certificates,
and whether the certificates served match the published TLSA records.

Pure: a report in, four signatures out. A signature is ``None`` when the round saw
nothing to compare (no MX answer, no MTA-STS lookup, no certificate read), so that a
route that is down, or a lookup that failed, is not mistaken for a change.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ..model import ProbeReport, ResolutionKind

__all__ = ["DriftKind", "Signatures", "TlsaMatch", "signatures", "tlsa_match"]


class DriftKind(StrEnum):
    """What changed (the ``what`` label of ``smtpdiag_change_timestamp_seconds``)."""

    MX = "mx"
    STS_POLICY = "sts_policy"
    CERT = "cert"
    #: whether the served certificates match the TLSA records (a :class:`TlsaMatch`)
    CERT_TLSA = "cert_tlsa"


class TlsaMatch(StrEnum):
    """The served certificates against the published TLSA records (RFC 7672), from the
    probe's own DANE matching (:attr:`smtpdiag.model.TlsInfo.dane`)."""

    MATCH = "match"  #: every chain checked against usable TLSA records matched
    MISMATCH = "mismatch"  #: at least one chain matched none of its host's records
    NO_TLSA = "no-tlsa"  #: no chain was checked: no usable TLSA (or lookups off)


@dataclass(frozen=True, slots=True)
class Signatures:
    """One round's signatures by :class:`DriftKind` (``None``: nothing seen)."""

    mx: str | None
    sts_policy: str | None
    cert: str | None
    cert_tlsa: str | None = None

    def get(self, kind: DriftKind) -> str | None:
        value: str | None = getattr(self, kind.value)
        return value


def signatures(report: ProbeReport) -> Signatures:
    """The round's signatures (see the module docstring for when one is ``None``)."""
    res = report.resolution
    mx: str | None = None
    if res.kind is not ResolutionKind.FAILED:
        hosts = sorted(f"{h.preference} {h.name}" for h in res.hosts)
        mx = f"{res.kind.value}:" + ",".join(hosts)
    sts: str | None = None
    policy = report.policy
    if policy is not None:
        record = policy.mta_sts.record
        mode = policy.mta_sts.mode
        if record is not None or mode is not None:
            rid = record.id if record is not None else None
            sts = f"id={rid or '-'} mode={mode.value if mode is not None else '-'}"
    prints = sorted(
        {
            rr.tls.certificate.sha256
            for rr in report.routes
            if rr.tls is not None and rr.tls.certificate is not None
        }
    )
    cert = ",".join(prints) if prints else None
    match = tlsa_match(report)
    return Signatures(mx, sts, cert, match.value if match is not None else None)


def tlsa_match(report: ProbeReport) -> TlsaMatch | None:
    """How the round's certificates fared against the TLSA records; ``None`` when no
    certificate was read (nothing to judge, as for the ``cert`` signature)."""
    checks = [
        rr.tls.dane for rr in report.routes if rr.tls is not None and rr.tls.certificate is not None
    ]
    if not checks:
        return None
    judged = [c for c in checks if c is not None]
    if not judged:
        return TlsaMatch.NO_TLSA
    return TlsaMatch.MATCH if all(c.matched for c in judged) else TlsaMatch.MISMATCH
