"""The records of ``smtpdiag tlsrpt``: one per report read, one per input that gave no
report, and the aggregated groups.

Frozen data, no English: error kinds, policy types and check statuses are enums; the
few words a check carries come from ``narrate``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "CheckStatus",
    "FailureDetail",
    "FailureGroup",
    "NotTestable",
    "PolicyGroup",
    "PolicyType",
    "TlsReportError",
    "TlsReportErrorKind",
    "TlsReportItem",
    "ReportPolicy",
    "TlsReportRecord",
    "TlsReportSummary",
    "TlsRouteCheck",
]


class PolicyType(StrEnum):
    """RFC 8460 section 4.4 ``policy-type``."""

    STS = "sts"
    TLSA = "tlsa"
    NO_POLICY_FOUND = "no-policy-found"


class TlsReportErrorKind(StrEnum):
    """Why an input gave no report."""

    UNREADABLE = "unreadable"  #: the file, message or directory could not be read
    TOO_LARGE = "too-large"  #: over the size cap (compressed or decompressed)
    BAD_GZIP = "bad-gzip"  #: not gzip, corrupt, or truncated
    BAD_JSON = "bad-json"  #: not JSON (or not UTF-8), or truncated
    TOO_DEEP = "too-deep"  #: JSON nested beyond the cap
    NO_REPORT = "no-report"  #: a message without a TLS report attached
    MISSING_FIELD = "missing-field"  #: a required RFC 8460 field is absent
    WRONG_TYPE = "wrong-type"  #: a field has the wrong JSON type
    BAD_VALUE = "bad-value"  #: a field's value is out of range or not parseable


@dataclass(frozen=True, slots=True)
class FailureDetail:
    """One ``failure-details`` entry (RFC 8460 section 4.4). Every string is sanitized.

    Attributes:
        result_type: The result type as reported (unknown ones are kept as they are).
        failed_sessions: ``failed-session-count``.
        sending_mta_ip: ``sending-mta-ip``, if given.
        receiving_mx_hostname: ``receiving-mx-hostname`` (lower case, no final dot), if given.
        receiving_mx_helo: ``receiving-mx-helo``, if given.
        receiving_ip: ``receiving-ip`` (normalized address text), if given.
        additional_information: ``additional-information`` (a URI), if given.
        failure_reason_code: ``failure-reason-code``, if given.
    """

    result_type: str
    failed_sessions: int
    sending_mta_ip: str | None = None
    receiving_mx_hostname: str | None = None
    receiving_mx_helo: str | None = None
    receiving_ip: str | None = None
    additional_information: str | None = None
    failure_reason_code: str | None = None


@dataclass(frozen=True, slots=True)
class ReportPolicy:
    """One ``policies`` entry: the policy applied and what happened under it.

    Attributes:
        policy_type: ``sts``, ``tlsa`` or ``no-policy-found``.
        policy_domain: The domain the policy is for (lower case).
        policy_string: The policy as the sender saw it (lines), possibly empty.
        mx_host: The ``mx-host`` patterns, possibly empty.
        successful_sessions: ``total-successful-session-count``.
        failed_sessions: ``total-failure-session-count``.
        failures: The ``failure-details`` entries.
    """

    policy_type: PolicyType
    policy_domain: str
    policy_string: tuple[str, ...]
    mx_host: tuple[str, ...]
    successful_sessions: int
    failed_sessions: int
    failures: tuple[FailureDetail, ...] = ()


@dataclass(frozen=True, slots=True)
class TlsReportRecord:
    """One valid report.

    Attributes:
        input: Where it was read (``path``, ``path#n`` for the n-th message of an mbox,
            ``path/file`` in a maildir or directory; ``!k`` appended for the k-th
            report attached to one message).
        organization: ``organization-name``.
        report_id: ``report-id``.
        start: ``date-range.start-datetime`` (ISO 8601 UTC).
        end: ``date-range.end-datetime`` (ISO 8601 UTC).
        contact_info: ``contact-info``; ``None`` if absent (tolerated, see ``warnings``).
        policies: The policies and their counts.
        duplicate: The same report-id from the same organization was read before; the
            report is not counted again.
        warnings: Deviations tolerated (field names), e.g. ``contact-info`` missing.
    """

    input: str
    organization: str
    report_id: str
    start: str
    end: str
    contact_info: str | None
    policies: tuple[ReportPolicy, ...]
    duplicate: bool = False
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TlsReportError:
    """An input that gave no report; the run goes on.

    Attributes:
        input: Where it was read (see :attr:`TlsReportRecord.input`).
        error: What went wrong.
        field: The JSON path of the offending field (``policies[0].summary``), if any.
        detail: A short sanitized detail for people.
    """

    input: str
    error: TlsReportErrorKind
    field: str | None
    detail: str


#: What :func:`~smtpdiag.tlsreports.read_tls_reports` yields.
TlsReportItem = TlsReportRecord | TlsReportError


@dataclass(frozen=True, slots=True)
class PolicyGroup:
    """Sessions under one policy, summed over reports.

    Attributes:
        policy_domain: The policy's domain.
        policy_type: Its type.
        organization: The reporting organization.
        reports: Reports counted (duplicates excluded).
        successful_sessions: Sum of ``total-successful-session-count``.
        failed_sessions: Sum of ``total-failure-session-count``.
        failure_rate: ``failed / (successful + failed)``; ``None`` with no session.
        start: The earliest start of the reports' date ranges.
        end: The latest end.
    """

    policy_domain: str
    policy_type: str
    organization: str
    reports: int
    successful_sessions: int
    failed_sessions: int
    failure_rate: float | None
    start: str
    end: str


@dataclass(frozen=True, slots=True)
class FailureGroup:
    """Failed sessions of one kind on one route, summed over reports.

    Attributes:
        policy_domain: The policy's domain.
        policy_type: Its type.
        receiving_mx_hostname: The MX host named, ``None`` if the reports name none.
        receiving_ip: The address named, ``None`` if the reports name none.
        result_type: The RFC 8460 result type (unknown ones kept as reported).
        known_result_type: Whether it is one of RFC 8460 section 4.3's.
        organization: The reporting organization.
        reports: Reports that named this group.
        failed_sessions: Sum of ``failed-session-count``.
        total_sessions: All sessions (successful and failed) under the same policy
            domain, type and organization: the base of ``failure_rate``.
        failure_rate: ``failed_sessions / total_sessions``; ``None`` with no session.
        start: The earliest start of the reports' date ranges.
        end: The latest end.
        failure_reason_codes: Distinct ``failure-reason-code`` values (at most 5).
    """

    policy_domain: str
    policy_type: str
    receiving_mx_hostname: str | None
    receiving_ip: str | None
    result_type: str
    known_result_type: bool
    organization: str
    reports: int
    failed_sessions: int
    total_sessions: int
    failure_rate: float | None
    start: str
    end: str
    failure_reason_codes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TlsReportSummary:
    """Counts over a run. ``inputs == reports + duplicates + errors`` always.

    Attributes:
        inputs: Reports and unreadable inputs seen.
        reports: Distinct reports counted.
        duplicates: Reports read again (same organization and report-id), not counted.
        errors: Error records written.
        successful_sessions: Sessions that succeeded, over all distinct reports.
        failed_sessions: Sessions that failed.
        policies: Groups per policy domain, type and organization, most sessions first.
        failures: Groups per route, result type and organization, most failures first.
        groups_omitted: Groups beyond the cap, counted under ``(other)``.
    """

    inputs: int
    reports: int
    duplicates: int
    errors: int
    successful_sessions: int
    failed_sessions: int
    policies: tuple[PolicyGroup, ...]
    failures: tuple[FailureGroup, ...]
    groups_omitted: int = 0


class CheckStatus(StrEnum):
    """Whether a probe now reproduces a reported failure."""

    REPRODUCED = "reproduced"  #: the probe gives the same result type on that route
    NOT_REPRODUCED = "not-reproduced"  #: the route was probed and does not give it now
    NOT_TESTABLE = "not-testable"  #: this machine cannot test the route


class NotTestable(StrEnum):
    """Why a reported failure could not be tested from here."""

    ADDRESS_POLICY = "address-policy"  #: the address is not one the probe may connect to
    FAMILY = "family"  #: the address's family is not probed (-4/-6, source address)
    NO_CONNECTION = "no-connection"  #: no connection to the route (own port 25 blocked?)
    ROUTE_NOT_FOUND = "route-not-found"  #: the domain names that host or address no more
    UNKNOWN_RESULT_TYPE = "unknown-result-type"  #: a result type no probe can produce
    PROBE_FAILED = "probe-failed"  #: the probe of the domain could not run
    LIMIT = "limit"  #: more domains than a run probes


@dataclass(frozen=True, slots=True)
class TlsRouteCheck:
    """What a probe of a failure group's route says now.

    Attributes:
        policy_domain: The domain probed.
        receiving_mx_hostname: The MX host the reports named, if any.
        receiving_ip: The address the reports named, if any.
        result_type: The reported result type.
        failed_sessions: Failed sessions reported for this route and result (all
            organizations).
        status: Reproduced, not reproduced, or not testable.
        why: For ``not-testable``: why.
        seen: The result types the probe gives on that route now (may be empty: it passes).
        routes: Labels of the routes compared (``mx[address]:port``).
        finding: The probe's rule that reproduced it (or the first rule on that route).
        code: That finding's status code.
        verdict: The probe's verdict for the domain, ``None`` if it could not run.
        summary: One sentence for people.
    """

    policy_domain: str
    receiving_mx_hostname: str | None
    receiving_ip: str | None
    result_type: str
    failed_sessions: int
    status: CheckStatus
    why: NotTestable | None
    seen: tuple[str, ...]
    routes: tuple[str, ...]
    finding: str | None
    code: str | None
    verdict: str | None
    summary: str
