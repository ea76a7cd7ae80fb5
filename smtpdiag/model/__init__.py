"""The observation vocabulary every stage shares.

Everything here is plain, frozen data: the resolve, policy and probe stages produce it,
the diagnose stage reads it and adds findings, the report stage renders it. Nothing
here does I/O. Enums are ``StrEnum`` so that their JSON form is stable.

Durations and offsets are milliseconds as ``float`` (monotonic clock); wall-clock
instants are ISO 8601 strings in UTC.

Submodules: :mod:`.dns` (DNS questions), :mod:`.policy` (MTA-STS, DANE, TLS-RPT),
:mod:`.core` (routes, phases, findings, the report), :mod:`.action` (severity and
action, all a bounce explanation needs). Names load with their submodule on first use,
so ``smtpdiag explain`` does not define the probe report's dataclasses.
"""

# The names of __all__ come from the star imports, which only the type checker runs.
# ruff: noqa: F405

from __future__ import annotations

from ..lazyexports import lazy_exports

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .action import *  # noqa: F403
    from .core import *  # noqa: F403
    from .dns import *  # noqa: F403
    from .policy import *  # noqa: F403
    from .vantage import *  # noqa: F403

# name -> submodule that defines it
_EXPORTS = {
    "ReplyHint": "core",
    "Vantage": "vantage",
    "ResolverCheck": "vantage",
    "ListingStatus": "vantage",
    "FaultSide": "vantage",
    "FcrdnsStatus": "vantage",
    "BlocklistCheck": "vantage",
    "AddressNames": "vantage",
    "Action": "action",
    "ActionKind": "action",
    "AddressClass": "core",
    "AddressFamily": "core",
    "CauseId": "core",
    "CertInfo": "core",
    "DaneCheck": "policy",
    "DaneState": "policy",
    "Diagnosis": "core",
    "DnsOutcome": "dns",
    "DnsQuery": "dns",
    "DnssecStatus": "policy",
    "Evidence": "core",
    "Finding": "core",
    "FindingPayload": "core",
    "MssRetry": "core",
    "MssRetryResult": "core",
    "MtaSts": "policy",
    "MxHost": "dns",
    "MxTargetKind": "dns",
    "Outcome": "core",
    "Persistence": "core",
    "Phase": "core",
    "PhaseRecord": "core",
    "ProbeReport": "core",
    "Resolution": "dns",
    "ResolutionKind": "dns",
    "RetryAttempt": "action",
    "Route": "core",
    "RouteResult": "core",
    "RuleId": "core",
    "SCHEMA_VERSION": "action",
    "SenderImpact": "policy",
    "SenderKind": "policy",
    "SenderOutcome": "policy",
    "Severity": "action",
    "SkipReason": "core",
    "SmtpReply": "core",
    "Step": "core",
    "StepId": "core",
    "StepStatus": "core",
    "StsFetch": "policy",
    "StsFetchError": "policy",
    "StsMode": "policy",
    "StsMxMatch": "policy",
    "StsPolicy": "policy",
    "StsProblem": "policy",
    "StsRecord": "policy",
    "StsStatus": "policy",
    "TlsInfo": "core",
    "TlsMode": "core",
    "TlsPolicy": "policy",
    "TlsReason": "core",
    "TlsRpt": "policy",
    "TlsRptProblem": "policy",
    "TlsRptResult": "policy",
    "TlsRptStatus": "policy",
    "TlsaLookup": "policy",
    "TlsaRecord": "policy",
    "Verdict": "core",
}

__all__ = [
    "ReplyHint",
    "Vantage",
    "ResolverCheck",
    "ListingStatus",
    "FaultSide",
    "FcrdnsStatus",
    "BlocklistCheck",
    "AddressNames",
    "Action",
    "ActionKind",
    "AddressClass",
    "AddressFamily",
    "CauseId",
    "CertInfo",
    "DaneCheck",
    "DaneState",
    "Diagnosis",
    "DnsOutcome",
    "DnsQuery",
    "DnssecStatus",
    "Evidence",
    "Finding",
    "FindingPayload",
    "MssRetry",
    "MssRetryResult",
    "MtaSts",
    "MxHost",
    "MxTargetKind",
    "Outcome",
    "Persistence",
    "Phase",
    "PhaseRecord",
    "ProbeReport",
    "Resolution",
    "ResolutionKind",
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
    "TlsInfo",
    "TlsMode",
    "TlsPolicy",
    "TlsReason",
    "TlsRpt",
    "TlsRptProblem",
    "TlsRptResult",
    "TlsRptStatus",
    "TlsaLookup",
    "TlsaRecord",
    "Verdict",
]

__getattr__ = lazy_exports(globals(), _EXPORTS)
