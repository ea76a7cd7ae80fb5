"""smtpdiag: SMTP connection diagnostics.

The pipeline: resolve (DNS) -> probe (TCP, SMTP, TLS; every phase timed) -> diagnose
(observations -> enhanced status codes, causes, investigation steps, action) -> report.

    >>> import smtpdiag
    >>> report = smtpdiag.probe_sync("example.org", smtpdiag.ProbeConfig(...))
    >>> report.diagnosis.verdict

Names are loaded lazily so that ``import smtpdiag`` (and the pytest plugin) stays cheap.
"""

from __future__ import annotations

import importlib

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
    "BounceParseError": "errors",
    "CertInfo": "model",
    "ConfigError": "errors",
    "Diagnosis": "model",
    "DnsOutcome": "model",
    "DnsQuery": "model",
    "Evidence": "model",
    "Finding": "model",
    "HealthResult": "health",
    "HealthStatus": "health",
    "Limit": "health",
    "MxHost": "model",
    "MxTargetKind": "model",
    "Nameserver": "config",
    "Outcome": "model",
    "Persistence": "model",
    "Phase": "model",
    "PhaseRecord": "model",
    "ProbeConfig": "config",
    "ProbeError": "errors",
    "ProbeReport": "model",
    "Resolution": "model",
    "ResolutionKind": "model",
    "ResolverConfig": "config",
    "RetryAttempt": "model",
    "Route": "model",
    "RouteResult": "model",
    "SCHEMA_VERSION": "model",
    "Severity": "model",
    "SkipReason": "model",
    "SmtpReply": "model",
    "SmtpdiagError": "errors",
    "Step": "model",
    "StepStatus": "model",
    "Thresholds": "health",
    "Timeouts": "config",
    "TlsConfig": "config",
    "TlsInfo": "model",
    "TlsMode": "model",
    "TlsReason": "model",
    "Verdict": "model",
    "check": "health",
    "check_sync": "health",
    "could_not_run": "api",
    "diagnose": "diagnose",
    "probe": "api",
    "probe_sync": "api",
}

__all__ = [
    "Action",
    "ActionKind",
    "AddressClass",
    "AddressFamily",
    "BounceParseError",
    "CertInfo",
    "ConfigError",
    "Diagnosis",
    "DnsOutcome",
    "DnsQuery",
    "Evidence",
    "Finding",
    "HealthResult",
    "HealthStatus",
    "Limit",
    "MxHost",
    "MxTargetKind",
    "Nameserver",
    "Outcome",
    "Persistence",
    "Phase",
    "PhaseRecord",
    "ProbeConfig",
    "ProbeError",
    "ProbeReport",
    "Resolution",
    "ResolutionKind",
    "ResolverConfig",
    "RetryAttempt",
    "Route",
    "RouteResult",
    "SCHEMA_VERSION",
    "Severity",
    "SkipReason",
    "SmtpReply",
    "SmtpdiagError",
    "Step",
    "StepStatus",
    "Thresholds",
    "Timeouts",
    "TlsConfig",
    "TlsInfo",
    "TlsMode",
    "TlsReason",
    "Verdict",
    "__version__",
    "check",
    "check_sync",
    "could_not_run",
    "diagnose",
    "probe",
    "probe_sync",
]


#: Subpackages the documentation uses as ``smtpdiag.health.check(...)`` and
#: ``smtpdiag.watch.watch(...)`` after a plain ``import smtpdiag``: loaded on first use.
_SUBMODULES = frozenset({"api", "health", "watch"})


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        # import_module binds the submodule as an attribute of this package.
        return importlib.import_module(f"{__name__}.{name}")
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'smtpdiag' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*__all__, *_SUBMODULES})


if TYPE_CHECKING:
    from typing import Any

    from . import api as api
    from . import health as health
    from . import watch as watch
    from .api import could_not_run, probe, probe_sync
    from .config import Nameserver, ProbeConfig, ResolverConfig, Timeouts, TlsConfig
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
        CertInfo,
        Diagnosis,
        DnsOutcome,
        DnsQuery,
        Evidence,
        Finding,
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
        Severity,
        SkipReason,
        SmtpReply,
        Step,
        StepStatus,
        TlsInfo,
        TlsMode,
        TlsReason,
        Verdict,
    )
