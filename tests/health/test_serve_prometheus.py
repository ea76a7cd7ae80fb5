"""A real Prometheus scrapes ``smtpdiag serve`` the blackbox way, on loopback.

Prometheus (Debian package ``prometheus``, installed by scripts/system-deps.sh) runs as
a subprocess with a 1 s scrape interval and the usual blackbox relabelling (the target
becomes ``?target=``, the exporter's address becomes ``__address__``); the test then
asks Prometheus' query API for the series. Prometheus asks for OpenMetrics, so this
also proves its strict OpenMetrics parser accepts the exposition. Bounded by ~20 s.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.parse
from pathlib import Path

import pytest
from health_lab import HealthLab
from serve_process import get, serve_process

PROMETHEUS = shutil.which("prometheus")

pytestmark = pytest.mark.skipif(
    PROMETHEUS is None,
    reason="prometheus not installed (Debian package 'prometheus'; see scripts/system-deps.sh)",
)

CONFIG = """\
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: smtpdiag
    metrics_path: /probe
    params:
      module: [default]
    static_configs:
      - targets: [ok.health.test, busy.health.test]
    relabel_configs:
      - source_labels: [__address__]
        target_label: __param_target
      - source_labels: [__param_target]
        target_label: instance
      - target_label: __address__
        replacement: 127.0.0.1:{port}
  - job_name: smtpdiag_exporter
    static_configs:
      - targets: ['127.0.0.1:{port}']
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _query(base: str, expr: str) -> list[dict[str, object]]:
    reply = get(f"{base}/api/v1/query?query={urllib.parse.quote(expr)}", timeout=5)
    if reply.status != 200:
        return []
    data = json.loads(reply.body)
    result: list[dict[str, object]] = data["data"]["result"]
    return result


def _wait_for(base: str, expr: str, deadline: float) -> list[dict[str, object]]:
    while time.monotonic() < deadline:
        try:
            found = _query(base, expr)
        except OSError:
            found = []
        if found:
            return found
        time.sleep(0.3)
    return []


def test_prometheus_scrapes_the_exporter(lab: HealthLab, tmp_path: Path) -> None:
    assert PROMETHEUS is not None
    with serve_process([*lab.cli_args(), "--no-state", "--min-interval", "5"]) as srv:
        config = tmp_path / "prometheus.yml"
        config.write_text(CONFIG.replace("{port}", str(srv.port)))
        web = _free_port()
        log = (tmp_path / "prometheus.log").open("w")
        prom = subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp_path / 'data'}",
                f"--web.listen-address=127.0.0.1:{web}",
                "--log.level=warn",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{web}"
        try:
            deadline = time.monotonic() + 20
            up = _wait_for(base, 'up{job="smtpdiag",instance="ok.health.test"} == 1', deadline)
            assert up, (tmp_path / "prometheus.log").read_text()[-3000:]
            health = _wait_for(
                base, 'smtpdiag_health{instance="ok.health.test",state="ok"} == 1', deadline
            )
            assert health and health[0]["metric"]["domain"] == "ok.health.test"  # type: ignore[index]
            busy = _wait_for(
                base, 'smtpdiag_untestable{domain="busy.health.test",reason="smtp-421"}', deadline
            )
            assert busy
            probes = _wait_for(base, 'smtpdiag_probes_total{domain="ok.health.test"}', deadline)
            ok = [p for p in probes if p["metric"]["result"] == "ok"]  # type: ignore[index]
            assert ok and float(ok[0]["value"][1]) >= 1  # type: ignore[index]
            own = _wait_for(
                base, 'smtpdiag_exporter_probes_total{job="smtpdiag_exporter"}', deadline
            )
            assert own
            # every scrape within --min-interval came from the cache: at most one probe
            # per target per 5 s, however often Prometheus scrapes
            hits = _wait_for(base, "smtpdiag_exporter_cache_hits_total > 0", deadline)
            assert hits
        finally:
            prom.terminate()
            try:
                prom.wait(10)
            except subprocess.TimeoutExpired:
                prom.kill()
                prom.wait(5)
            log.close()
