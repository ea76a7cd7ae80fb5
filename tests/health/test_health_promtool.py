"""OpenMetrics output checked by Prometheus' own linter, ``promtool check metrics``.

Real output: ``smtpdiag check --format openmetrics`` against the loopback lab, for a
healthy domain, one with a route down, one with an expired certificate (a negative
expiry) and one whose MX refuses to greet. promtool rejects non-base units (a ``days``
metric) among other things. It comes from the Debian package ``prometheus``
(scripts/system-deps.sh installs it); where it is absent the test skips and says so.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from health_lab import HealthLab

from smtpdiag.cli import main

PROMTOOL = shutil.which("promtool")


@pytest.mark.skipif(
    PROMTOOL is None,
    reason="promtool not installed (Debian package 'prometheus'; see scripts/system-deps.sh)",
)
@pytest.mark.parametrize(
    "domain",
    ["ok.health.test", "degraded.health.test", "expired.health.test", "busy.health.test"],
)
def test_promtool_accepts_real_output(lab: HealthLab, domain: str, tmp_path: Path) -> None:
    assert PROMTOOL is not None
    prom = tmp_path / "smtpdiag.prom"
    args = ["check", domain, *lab.cli_args(with_tls_port=True), "--format", "openmetrics"]
    main([*args, "--output", str(prom)])
    text = prom.read_text()
    assert "smtpdiag_health{" in text
    if domain != "busy.health.test":
        assert "smtpdiag_cert_expires_in_seconds{" in text
    proc = subprocess.run(
        [PROMTOOL, "check", "metrics"],
        input=text,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
