"""smtpdiag: SMTP connection diagnostics.

The pipeline: resolve (DNS) -> probe (TCP, SMTP, TLS; every phase timed) -> diagnose
(observations -> enhanced status codes, causes, investigation steps, action) -> report.

    >>> import smtpdiag
    >>> report = smtpdiag.probe_sync("example.org", smtpdiag.ProbeConfig(...))
    >>> report.diagnosis.verdict

Names are loaded lazily so that ``import smtpdiag`` (and the pytest plugin) stays cheap.
"""

from __future__ import annotations

import sys
import types

from .lazyexports import lazy_exports

# typing is not imported at run time on the start-up path (it costs milliseconds);
# mypy treats a module-level TYPE_CHECKING constant like typing.TYPE_CHECKING.
TYPE_CHECKING = False

__version__ = "0.1.0"

# name -> module that defines it
_EXPORTS: dict[str, str] = {
    "Action": "model",
    "ActionKind": "model",
    "AddressClass": "model",
    "AddressFamily": "model",
    "BatchError": "bounces",
    "BatchRecord": "bounces",
    "BatchSummary": "bounces",
    "BounceParseError": "errors",
    "BulkSettings": "triage",
    "CauseId": "model",
    "CertInfo": "model",
    "CodeSource": "bounces",
    "Confidence": "bounces",
    "ConfigError": "errors",
    "DaneCheck": "model",
    "DaneState": "model",
    "Decision": "bounces",
    "Diagnosis": "model",
    "DnsOutcome": "model",
    "DnsQuery": "model",
    "DnssecStatus": "model",
    "DomainRecord": "triage",
    "Evidence": "model",
    "Finding": "model",
    "FindingPayload": "model",
    "HealthResult": "health",
    "HealthStatus": "health",
    "InputFormat": "bounces",
    "Limit": "health",
    "MtaSts": "model",
    "MxHost": "model",
    "MxTargetKind": "model",
    "Nameserver": "config",
    "Outcome": "model",
    "Persistence": "model",
    "Phase": "model",
    "PhaseRecord": "model",
    "PolicyConfig": "config",
    "ProbeConfig": "config",
    "ProbeError": "errors",
    "ProbeReport": "model",
    "Reason": "bounces",
    "RecipientRecord": "triage",
    "Resolution": "model",
    "ResolutionKind": "model",
    "ResolverConfig": "config",
    "RetryAttempt": "model",
    "Route": "model",
    "RouteResult": "model",
    "RuleId": "model",
    "SCHEMA_VERSION": "model",
    "SenderImpact": "model",
    "SenderKind": "model",
    "SenderOutcome": "model",
    "Severity": "model",
    "SkipReason": "model",
    "SmtpReply": "model",
    "SmtpdiagError": "errors",
    "Step": "model",
    "StepId": "model",
    "StepStatus": "model",
    "StsFetch": "model",
    "StsFetchError": "model",
    "StsMode": "model",
    "StsMxMatch": "model",
    "StsPolicy": "model",
    "StsProblem": "model",
    "StsRecord": "model",
    "StsStatus": "model",
    "Thresholds": "health",
    "Timeouts": "config",
    "TlsConfig": "config",
    "TlsInfo": "model",
    "TlsMode": "model",
    "TlsPolicy": "model",
    "TlsReason": "model",
    "TlsRpt": "model",
    "TlsRptProblem": "model",
    "TlsRptResult": "model",
    "TlsRptStatus": "model",
    "TlsReportError": "tlsreports",
    "TlsReportRecord": "tlsreports",
    "TlsReportSummary": "tlsreports",
    "TlsRouteCheck": "tlsreports",
    "TlsaLookup": "model",
    "TlsaRecord": "model",
    "Verdict": "model",
    "bulk": "triage",
    "bulk_sync": "triage",
    "check": "health",
    "check_sync": "health",
    "check_tls_reports": "tlsreports",
    "check_tls_reports_sync": "tlsreports",
    "could_not_run": "api",
    "diagnose": "diagnose",
    "explain_batch": "bounces",
    "probe": "api",
    "probe_sync": "api",
    "read_tls_reports": "tlsreports",
    "render": "report",
}

__all__ = [
    "Action",
    "ActionKind",
    "AddressClass",
    "AddressFamily",
    "BatchError",
    "BatchRecord",
    "BatchSummary",
    "BounceParseError",
    "BulkSettings",
    "CauseId",
    "CertInfo",
    "CodeSource",
    "Confidence",
    "ConfigError",
    "DaneCheck",
    "DaneState",
    "Decision",
    "Diagnosis",
    "DnsOutcome",
    "DnsQuery",
    "DnssecStatus",
    "DomainRecord",
    "Evidence",
    "Finding",
    "FindingPayload",
    "HealthResult",
    "HealthStatus",
    "InputFormat",
    "Limit",
    "MtaSts",
    "MxHost",
    "MxTargetKind",
    "Nameserver",
    "Outcome",
    "Persistence",
    "Phase",
    "PhaseRecord",
    "PolicyConfig",
    "ProbeConfig",
    "ProbeError",
    "ProbeReport",
    "Reason",
    "RecipientRecord",
    "Resolution",
    "ResolutionKind",
    "ResolverConfig",
    "RetryAttempt",
    "Route",
    "RouteResult",
    "RuleId",
    "SCHEMA_VERSION",
    "SenderImpact",
    "SenderKind",
    "SenderOutcome",
    "Severity",
    "SkipReason",
    "SmtpReply",
    "SmtpdiagError",
    "Step",
    "StepId",
    "StepStatus",
    "StsFetch",
    "StsFetchError",
    "StsMode",
    "StsMxMatch",
    "StsPolicy",
    "StsProblem",
    "StsRecord",
    "StsStatus",
    "Thresholds",
    "Timeouts",
    "TlsConfig",
    "TlsInfo",
    "TlsMode",
    "TlsPolicy",
    "TlsReason",
    "TlsReportError",
    "TlsReportRecord",
    "TlsReportSummary",
    "TlsRouteCheck",
    "TlsRpt",
    "TlsRptProblem",
    "TlsRptResult",
    "TlsRptStatus",
    "TlsaLookup",
    "TlsaRecord",
    "Verdict",
    "__version__",
    "bulk",
    "bulk_sync",
    "check",
    "check_sync",
    "check_tls_reports",
    "check_tls_reports_sync",
    "could_not_run",
    "diagnose",
    "explain_batch",
    "probe",
    "probe_sync",
    "read_tls_reports",
    "render",
]


# Subpackages the docs reach through ``smtpdiag.<name>`` after a plain ``import smtpdiag``
# (``smtpdiag.health.check(...)``, ``smtpdiag.watch.watch(...)``, ``smtpdiag.report.loads``).
_SUBMODULES = frozenset({"api", "health", "report", "watch"})

#: API functions named like a stage's subpackage (``smtpdiag.probe``, ``smtpdiag.diagnose``).
_FUNCTIONS_OVER_SUBPACKAGES = frozenset({"diagnose", "probe"})


class _Package(types.ModuleType):
    """The package module, keeping ``smtpdiag.probe`` and ``smtpdiag.diagnose`` the API functions.

    Importing a submodule makes the import system bind it on its parent
    (``setattr(smtpdiag, "probe", <module smtpdiag.probe>)``), which would turn the
    documented ``smtpdiag.probe(...)`` into "module is not callable" as soon as the
    probe stage had been loaded. The subpackages stay reachable with ``from
    smtpdiag.probe import ...`` (through ``sys.modules``).
    """

    def __setattr__(self, name: str, value: object) -> None:
        if name in _FUNCTIONS_OVER_SUBPACKAGES and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


__getattr__ = lazy_exports(globals(), _EXPORTS, submodules=_SUBMODULES)


def __dir__() -> list[str]:
    return sorted({*__all__, *_SUBMODULES})


if TYPE_CHECKING:
    from . import api as api
    from . import health as health
    from . import report as report
    from . import watch as watch
    from .api import could_not_run, probe, probe_sync
    from .bounces import (
        BatchError,
        BatchRecord,
        BatchSummary,
        CodeSource,
        Confidence,
        Decision,
        InputFormat,
        Reason,
        explain_batch,
    )
    from .config import (
        Nameserver,
        PolicyConfig,
        ProbeConfig,
        ResolverConfig,
        Timeouts,
        TlsConfig,
    )
    from .diagnose import diagnose
    from .errors import BounceParseError, ConfigError, ProbeError, SmtpdiagError
    from .health import HealthResult, HealthStatus, Limit, Thresholds
    from .health.check import check, check_sync
    from .model import (
        SCHEMA_VERSION,
        Action,
        ActionKind,
        AddressClass,
        AddressFamily,
        CauseId,
        CertInfo,
        DaneCheck,
        DaneState,
        Diagnosis,
        DnsOutcome,
        DnsQuery,
        DnssecStatus,
        Evidence,
        Finding,
        FindingPayload,
        MtaSts,
        MxHost,
        MxTargetKind,
        Outcome,
        Persistence,
        Phase,
        PhaseRecord,
        ProbeReport,
        Resolution,
        ResolutionKind,
        RetryAttempt,
        Route,
        RouteResult,
        RuleId,
        SenderImpact,
        SenderKind,
        SenderOutcome,
        Severity,
        SkipReason,
        SmtpReply,
        Step,
        StepId,
        StepStatus,
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
        TlsInfo,
        TlsMode,
        TlsPolicy,
        TlsReason,
        TlsRpt,
        TlsRptProblem,
        TlsRptResult,
        TlsRptStatus,
        Verdict,
    )
    from .report import render
    from .tlsreports import (
        TlsReportError,
        TlsReportRecord,
        TlsReportSummary,
        TlsRouteCheck,
        check_tls_reports,
        check_tls_reports_sync,
        read_tls_reports,
    )
    from .triage import BulkSettings, DomainRecord, RecipientRecord, bulk, bulk_sync
