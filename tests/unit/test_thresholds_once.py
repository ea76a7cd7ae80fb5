"""Thresholds in one module (issue 18, item 5): the diagnosis and the health check read the
same default numbers from :mod:`smtpdiag.limits`; no other module spells one out."""

from __future__ import annotations

import ast
from pathlib import Path

from smtpdiag import limits
from smtpdiag.diagnosis.facts import CERT_EXPIRY_WARN_DAYS
from smtpdiag.health import Thresholds

PKG = Path(__file__).resolve().parents[2] / "smtpdiag"


def test_health_and_diagnosis_share_the_certificate_limit() -> None:
    assert Thresholds().cert_warn_days == CERT_EXPIRY_WARN_DAYS == limits.CERT_WARN_DAYS
    assert Thresholds().cert_crit_days == limits.CERT_CRIT_DAYS
    assert Thresholds().greeting.warn == limits.GREETING_S[0]


def test_no_threshold_number_outside_limits() -> None:
    # Rows of the health thresholds and day constants of the diagnosis name a number
    # only through smtpdiag.limits.
    found = []
    for path in sorted(PKG.rglob("*.py")):
        if path.name == "limits.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") in {
                "LatencyRow",
                "DaysRow",
            }:
                values = [*node.args, *(k.value for k in node.keywords)]
                if any(
                    isinstance(v, ast.Constant) and type(v.value) in (int, float) for v in values
                ):
                    found.append(f"{path.name}:{node.lineno}")
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
                names = [t.id for t in node.targets if isinstance(t, ast.Name)]
                if any("DAYS" in n for n in names) and type(node.value.value) is int:
                    found.append(f"{path.name}:{node.lineno}")
    assert found == []
