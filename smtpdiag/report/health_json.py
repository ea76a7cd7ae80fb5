"""The ``check --format json`` document: the health result next to the full report.

The report part is exactly :func:`smtpdiag.report.jsonout.report_to_dict`, so the JSON
stays the source of every other format: every value a Nagios, JUnit, Markdown or
OpenMetrics rendering prints is in this document.
"""

from __future__ import annotations

import importlib.resources
import json
from enum import Enum
from typing import Any

from ..health.evaluation import HealthResult
from ..health.thresholds import Thresholds
from .jsonout import report_to_dict

__all__ = [
    "CHECK_DOCUMENT_VERSION",
    "CHECK_SCHEMA_FILE",
    "dumps_health",
    "health_document",
    "load_check_schema",
    "thresholds_to_dict",
]

#: JSON Schema of the check document (package data next to this module).
CHECK_SCHEMA_FILE = "check_schema.json"

#: Version of the check document's own keys (the report inside has ``schema_version``).
CHECK_DOCUMENT_VERSION = "1"


def thresholds_to_dict(th: Thresholds) -> dict[str, Any]:
    """The thresholds as a JSON-able mapping (latency limits in seconds)."""
    out: dict[str, Any] = {}
    for name in ("connect", "tls_handshake", "greeting", "ehlo", "starttls"):
        limit = getattr(th, name)
        out[name] = {"warn_s": limit.warn, "crit_s": limit.crit}
    for name in (
        "cert_warn_days",
        "cert_crit_days",
        "require_starttls",
        "require_implicit_tls",
        "min_tls_version",
        "require_valid_cert",
        "require_all_mx",
        "require_mta_sts",
        "require_dane",
    ):
        value = getattr(th, name)
        out[name] = value.value if isinstance(value, Enum) else value
    return out


def health_document(result: HealthResult) -> dict[str, Any]:
    """``{"check_version", "health", "thresholds", "report"}``; ``report`` is ``None``
    when the probe raised before producing one."""
    return {
        "check_version": CHECK_DOCUMENT_VERSION,
        "health": result.to_dict(),
        "thresholds": thresholds_to_dict(result.thresholds),
        "report": None if result.report is None else report_to_dict(result.report),
    }


def dumps_health(result: HealthResult, *, indent: int | None = 2) -> str:
    """:func:`health_document` as JSON text (no trailing newline)."""
    return json.dumps(health_document(result), indent=indent, ensure_ascii=False)


def load_check_schema() -> dict[str, Any]:
    """The JSON Schema of :func:`health_document` (the report part has its own schema,
    :func:`smtpdiag.report.jsonout.load_schema`)."""
    text = importlib.resources.files(__package__).joinpath(CHECK_SCHEMA_FILE).read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema
