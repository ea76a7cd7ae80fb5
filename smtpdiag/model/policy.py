"""Typed observations of a domain's TLS policy: MTA-STS (RFC 8461), DANE (RFC 7672)
and TLS-RPT (RFC 8460).

These are what the policy stage saw, as values; the diagnosis decides what they mean
for each kind of sender and the narration layer writes the sentences. Failures are
named with RFC 8460's result types (:class:`TlsRptResult`) so a finding reads the way
the domain's own TLS reports will.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from .dns import DnsQuery

__all__ = [
    "DaneCheck",
    "DaneState",
    "DnssecStatus",
    "MtaSts",
    "SenderImpact",
    "SenderKind",
    "SenderOutcome",
    "StsFetch",
    "StsFetchError",
    "StsMode",
    "StsMxMatch",
    "StsPolicy",
    "StsProblem",
    "StsRecord",
    "StsStatus",
    "TlsPolicy",
    "TlsaLookup",
    "TlsaRecord",
    "TlsRpt",
    "TlsRptProblem",
    "TlsRptResult",
    "TlsRptStatus",
]


class TlsRptResult(StrEnum):
    """RFC 8460 section 4.3 result types: how a TLS report names a failure."""

    # Negotiation failures (4.3.1)
    STARTTLS_NOT_SUPPORTED = "starttls-not-supported"
    CERTIFICATE_HOST_MISMATCH = "certificate-host-mismatch"
    CERTIFICATE_EXPIRED = "certificate-expired"
    CERTIFICATE_NOT_TRUSTED = "certificate-not-trusted"
    VALIDATION_FAILURE = "validation-failure"
    # Policy failures, DANE (4.3.2.1)
    TLSA_INVALID = "tlsa-invalid"
    DNSSEC_INVALID = "dnssec-invalid"
    DANE_REQUIRED = "dane-required"
    # Policy failures, MTA-STS (4.3.2.2)
    STS_POLICY_FETCH_ERROR = "sts-policy-fetch-error"
    STS_POLICY_INVALID = "sts-policy-invalid"
    STS_WEBPKI_INVALID = "sts-webpki-invalid"


class SenderKind(StrEnum):
    """Kinds of sending MTA, by how they treat a TLS problem."""

    OPPORTUNISTIC = "opportunistic"  #: TLS if offered, any certificate; else plaintext
    MTA_STS = "mta-sts"  #: honours the domain's MTA-STS policy (RFC 8461)
    DANE = "dane"  #: honours the MX hosts' TLSA records (RFC 7672)
    #: verifies certificates by its own local policy, whatever the domain publishes
    #: (Postfix ``smtp_tls_security_level = verify``/``secure`` towards a partner, Exim
    #: ``tls_verify_hosts``): stricter than anything the domain asks for
    VERIFYING = "verifying"


class SenderOutcome(StrEnum):
    """What one kind of sender does about a finding (RFC 8461 5, RFC 7672 2.2)."""

    DELIVER = "deliver"  #: delivers anyway (opportunistic TLS, or the policy does not bind)
    REPORT = "report"  #: delivers, and its TLS report names the failure (MTA-STS testing)
    #: does not deliver over the routes concerned: a temporary failure, the message is
    #: retried (and bounces only when the sender's queue lifetime ends)
    DEFER = "defer"
    #: skips the routes concerned and delivers through another MX host, or another
    #: address of the same host, that passes its checks (RFC 5321 5.1, RFC 8461 5,
    #: RFC 7672 2.2): it defers only when none passes
    OTHER_MX = "other-mx"
    NOT_APPLICABLE = "not-applicable"  #: the domain publishes no such policy
    UNKNOWN = "unknown"  #: not known: policy lookups off, or the lookup got no answer


@dataclass(frozen=True, slots=True)
class SenderImpact:
    """How one kind of sender fares with a finding.

    Attributes:
        sender: The kind of sender.
        outcome: What it does.
        mode: For MTA-STS senders, the domain's policy mode (``None`` without a valid policy).
    """

    sender: SenderKind
    outcome: SenderOutcome
    mode: StsMode | None = None


# ------------------------------------------------------------------- MTA-STS


class StsMode(StrEnum):
    ENFORCE = "enforce"
    TESTING = "testing"
    NONE = "none"


class StsStatus(StrEnum):
    """The outcome of the whole MTA-STS lookup."""

    NOT_PUBLISHED = "not-published"  #: no v=STSv1 TXT record (NXDOMAIN or NODATA)
    DNS_ERROR = "dns-error"  #: the TXT lookup failed (SERVFAIL, timeout): unknown
    RECORD_INVALID = "record-invalid"  #: TXT record(s) present but unusable
    FETCH_ERROR = "fetch-error"  #: sts-policy-fetch-error
    WEBPKI_INVALID = "webpki-invalid"  #: sts-webpki-invalid (policy host certificate)
    POLICY_INVALID = "policy-invalid"  #: sts-policy-invalid
    VALID = "valid"  #: a policy was fetched and parsed
    NOT_CHECKED = "not-checked"  #: policy lookups disabled, or the deadline came first


class StsProblem(StrEnum):
    """One syntax error in the TXT record or the policy file (RFC 8461 3.1, 3.2)."""

    # TXT record
    RECORD_MULTIPLE = "record-multiple"  #: more than one v=STSv1 record
    RECORD_SYNTAX = "record-syntax"  #: a field is not key=value
    RECORD_NO_ID = "record-no-id"
    RECORD_BAD_ID = "record-bad-id"  #: id is not 1-32 alphanumerics
    # Policy file
    POLICY_LINE_SYNTAX = "policy-line-syntax"  #: a line is not "key: value"
    POLICY_NO_VERSION = "policy-no-version"
    POLICY_BAD_VERSION = "policy-bad-version"  #: version is not STSv1
    POLICY_VERSION_NOT_FIRST = "policy-version-not-first"
    POLICY_NO_MODE = "policy-no-mode"
    POLICY_BAD_MODE = "policy-bad-mode"
    POLICY_NO_MAX_AGE = "policy-no-max-age"
    POLICY_BAD_MAX_AGE = "policy-bad-max-age"  #: not 1-10 digits or above 31557600
    POLICY_NO_MX = "policy-no-mx"  #: mode enforce/testing without an mx line
    POLICY_BAD_MX = "policy-bad-mx"  #: an mx pattern that is not a host name or *.name
    POLICY_DUPLICATE_KEY = "policy-duplicate-key"  #: version/mode/max_age repeated
    POLICY_NOT_TEXT = "policy-not-text"  #: not UTF-8 / contains control characters


class StsFetchError(StrEnum):
    """Why the policy could not be fetched from ``https://mta-sts.<domain>/...``."""

    DNS = "dns"  #: the policy host does not resolve
    ADDRESS_NOT_ALLOWED = "address-not-allowed"  #: resolves outside the address policy
    CONNECT = "connect"  #: refused, unreachable, reset
    TIMEOUT = "timeout"  #: connect, handshake or body beyond the limit
    TLS_HANDSHAKE = "tls-handshake"  #: no TLS (not a certificate problem)
    CERT_UNTRUSTED = "cert-untrusted"  #: -> sts-webpki-invalid
    CERT_EXPIRED = "cert-expired"  #: -> sts-webpki-invalid
    CERT_NAME = "cert-name"  #: -> sts-webpki-invalid
    HTTP_STATUS = "http-status"  #: not 200 (redirects included: RFC 8461 3.3 forbids them)
    CONTENT_TYPE = "content-type"  #: not text/plain
    TOO_LARGE = "too-large"  #: body beyond the size limit
    PROTOCOL = "protocol"  #: malformed HTTP


@dataclass(frozen=True, slots=True)
class StsRecord:
    """The ``_mta-sts.<domain>`` TXT record (RFC 8461 3.1)."""

    text: str  #: the record as published (sanitized, bounded)
    id: str | None
    problems: tuple[StsProblem, ...] = ()


@dataclass(frozen=True, slots=True)
class StsFetch:
    """One HTTPS GET of the policy."""

    url: str
    address: str | None = None  #: the IP address connected to
    status: int | None = None  #: HTTP status code
    content_type: str | None = None
    size: int = 0  #: body bytes read
    duration_ms: float = 0.0
    error: StsFetchError | None = None
    detail: str | None = None  #: display only (sanitized)


@dataclass(frozen=True, slots=True)
class StsPolicy:
    """The parsed policy file (RFC 8461 3.2)."""

    version: str | None
    mode: StsMode | None
    mx: tuple[str, ...]
    max_age: int | None
    problems: tuple[StsProblem, ...] = ()


@dataclass(frozen=True, slots=True)
class StsMxMatch:
    """Whether one MX host is covered by the policy's mx patterns (RFC 8461 4.1)."""

    mx: str
    pattern: str | None  #: the first pattern that matched, ``None``: not covered


@dataclass(frozen=True, slots=True)
class MtaSts:
    status: StsStatus
    record_query: DnsQuery | None = None
    record: StsRecord | None = None
    fetch: StsFetch | None = None
    policy: StsPolicy | None = None
    matches: tuple[StsMxMatch, ...] = ()

    @property
    def mode(self) -> StsMode | None:
        """The mode senders apply: the policy's, when a valid policy was fetched."""
        if self.status is StsStatus.VALID and self.policy is not None:
            return self.policy.mode
        return None


# ----------------------------------------------------------------------- DANE


class DnssecStatus(StrEnum):
    """How the validating resolver judged an answer (its AD bit and rcode)."""

    SECURE = "secure"  #: AD set: validated
    INSECURE = "insecure"  #: answered without AD: unsigned zone, or a non-validating resolver
    BOGUS = "bogus"  #: SERVFAIL from the resolver (validation failure, or a broken zone)
    UNKNOWN = "unknown"  #: no answer (timeout, error)


class DaneState(StrEnum):
    """What a DANE-enforcing sender makes of one MX host's TLSA records."""

    NONE = "none"  #: no TLSA records (NXDOMAIN/NODATA, signed or not): DANE does not apply
    #: TLSA present but the zone is not validated, or no record is usable
    NOT_USABLE = "not-usable"
    #: validated, and at least one record is usable (usage 2/3, known selector/matching type)
    USABLE = "usable"
    BOGUS = "bogus"  #: the lookup failed validation: DANE senders defer (dnssec-invalid)
    UNKNOWN = "unknown"  #: no answer


@dataclass(frozen=True, slots=True)
class TlsaRecord:
    usage: int
    selector: int
    matching_type: int
    data: str  #: hex, lower case (bounded)
    usable: bool  #: usage 2/3, selector 0/1, matching type 0/1/2 (RFC 7672 3.1)


@dataclass(frozen=True, slots=True)
class TlsaLookup:
    """``_<port>._tcp.<mx>`` TLSA, with the resolver's DNSSEC verdict."""

    mx: str
    port: int
    query: DnsQuery
    dnssec: DnssecStatus
    state: DaneState
    records: tuple[TlsaRecord, ...] = ()
    #: the MX host's address records (RFC 7672 2.2.2: TLSA is only used when they are secure)
    address_dnssec: DnssecStatus = DnssecStatus.UNKNOWN


@dataclass(frozen=True, slots=True)
class DaneCheck:
    """The chain one route presented, matched against its MX host's usable TLSA records."""

    matched: bool
    usage: int | None = None  #: usage of the record that matched
    record_index: int | None = None  #: index into :attr:`TlsaLookup.records`
    chain_index: int | None = None  #: position in the chain (0 = leaf)
    #: why not, as a TLS report names it (tlsa-invalid, validation-failure, ...)
    failure: TlsRptResult | None = None


# -------------------------------------------------------------------- TLS-RPT


class TlsRptStatus(StrEnum):
    """The outcome of the TLS-RPT lookup."""

    NOT_PUBLISHED = "not-published"
    INVALID = "invalid"
    VALID = "valid"
    DNS_ERROR = "dns-error"
    NOT_CHECKED = "not-checked"


class TlsRptProblem(StrEnum):
    """One reason a ``_smtp._tls`` record is not usable (RFC 8460 3)."""

    MULTIPLE = "multiple-records"  #: more than one v=TLSRPTv1 record: senders ignore all
    SYNTAX = "syntax"  #: a field is not key=value, or an empty field
    NO_RUA = "no-rua"  #: no rua= field (it is required)
    DUPLICATE_RUA = "duplicate-rua"  #: rua= given twice
    BAD_URI = "bad-uri"  #: a rua URI is not a mailto: address or an https: URL
    NOT_TEXT = "not-text"  #: not printable ASCII


@dataclass(frozen=True, slots=True)
class TlsRpt:
    """The ``_smtp._tls.<domain>`` TXT record (RFC 8460 3)."""

    status: TlsRptStatus
    query: DnsQuery | None = None
    text: str | None = None
    rua: tuple[str, ...] = ()  #: mailto: and https: URIs
    problems: tuple[TlsRptProblem, ...] = ()


# -------------------------------------------------------------------- together


@dataclass(frozen=True, slots=True)
class TlsPolicy:
    """Everything the policy stage saw for one domain."""

    mta_sts: MtaSts
    #: the domain's MX RRset as the validating resolver judged it (RFC 7672 2.2.1)
    mx_dnssec: DnssecStatus = DnssecStatus.UNKNOWN
    dane: tuple[TlsaLookup, ...] = ()
    tls_rpt: TlsRpt = TlsRpt(TlsRptStatus.NOT_CHECKED)
    duration_ms: float = 0.0
