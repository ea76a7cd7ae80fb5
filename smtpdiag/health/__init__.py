"""Health checks: thresholds, a pure evaluation of a probe report, and ``check()``.

Importing this package does not load the DNS or SMTP libraries; :func:`check` does,
when it runs.
"""

from __future__ import annotations

from .checking import DEFAULT_CHECK_PORTS, check, check_config, check_sync
from .evaluation import (
    HealthResult,
    HealthStatus,
    PhaseTiming,
    Problem,
    ProblemKind,
    RouteHealth,
    evaluate,
    expected_phases,
    unknown_result,
)
from .thresholds import TLS_VERSIONS, Limit, Thresholds, tls_version_rank

__all__ = [
    "DEFAULT_CHECK_PORTS",
    "TLS_VERSIONS",
    "HealthResult",
    "HealthStatus",
    "Limit",
    "PhaseTiming",
    "Problem",
    "ProblemKind",
    "RouteHealth",
    "Thresholds",
    "check",
    "check_config",
    "check_sync",
    "evaluate",
    "expected_phases",
    "tls_version_rank",
    "unknown_result",
]
