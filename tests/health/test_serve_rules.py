"""The example Prometheus config and alerting rules for ``smtpdiag serve``, checked by
promtool: ``check config``, ``check rules`` and ``test rules`` (alerts fire when the
exporter's series say so, and stay quiet otherwise)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

PROMTOOL = shutil.which("promtool")
ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "prometheus"

pytestmark = pytest.mark.skipif(
    PROMTOOL is None,
    reason="promtool not installed (Debian package 'prometheus'; see scripts/system-deps.sh)",
)


def _promtool(*args: str, cwd: Path) -> None:
    assert PROMTOOL is not None
    proc = subprocess.run(
        [PROMTOOL, *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_example_config_is_valid() -> None:
    _promtool("check", "config", "prometheus.yml", cwd=DOCS)


def test_rules_are_valid() -> None:
    _promtool("check", "rules", "smtpdiag-rules.yml", cwd=DOCS)


def test_rules_fire_as_tested() -> None:
    _promtool("test", "rules", "rules_test.yml", cwd=Path(__file__).parent / "prometheus")


def test_rules_use_only_families_the_exporter_writes() -> None:
    import re

    from smtpdiag.serve import exposition

    text = re.sub(r'job="[^"]*"', "", (DOCS / "smtpdiag-rules.yml").read_text())
    names = set(re.findall(r"\b(smtpdiag_[a-z_]+)\b", text))
    source = (ROOT / "smtpdiag" / "report" / "openmetrics.py").read_text()
    source += Path(exposition.__file__).read_text()
    for name in names:
        assert f'"{name}"' in source, name
