"""TLS reports (RFC 8460) in, counts and live checks out (``smtpdiag tlsrpt``).

Reading and counting import nothing heavy; :func:`check_tls_reports` (``--probe``) imports
the probe pipeline when it runs.
"""

from __future__ import annotations

from .aggregate import SummaryBuilder
from .check import check_tls_reports, check_tls_reports_sync
from .model import (
    CheckStatus,
    FailureDetail,
    FailureGroup,
    NotTestable,
    PolicyGroup,
    PolicyType,
    ReportPolicy,
    TlsReportError,
    TlsReportErrorKind,
    TlsReportItem,
    TlsReportRecord,
    TlsReportSummary,
    TlsRouteCheck,
)
from .read import read_tls_reports

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
    "SummaryBuilder",
    "check_tls_reports",
    "check_tls_reports_sync",
    "read_tls_reports",
]
