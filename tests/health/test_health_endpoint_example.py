"""docs/examples/health_endpoint.py works: /health answers 200 or 503 with JSON,
/metrics answers valid OpenMetrics, checked against the loopback lab."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from health_lab import HealthLab
from om_validate import validate_openmetrics

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "health_endpoint.py"


@contextmanager
def endpoint(lab: HealthLab, domain: str) -> Iterator[int]:
    ns = lab.nameserver
    proc = subprocess.Popen(
        [
            sys.executable,
            str(EXAMPLE),
            domain,
            "--listen",
            "127.0.0.1:0",
            "--nameserver",
            f"{ns.address}:{ns.port}",
            "--ports",
            str(lab.port),
            "--allow-targets",
            "127.0.0.0/8",
            "--ca-file",
            lab.ca_file,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("listening on 127.0.0.1:"), line + (
            proc.stderr.read() if proc.stderr else ""
        )
        yield int(line.rsplit(":", 1)[1])
    finally:
        proc.kill()  # only the process this test started
        proc.communicate(timeout=10)


def get(port: int, path: str) -> tuple[int, bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def test_health_endpoint_ok_and_metrics(lab: HealthLab) -> None:
    with endpoint(lab, "ok.health.test") as port:
        code, body = get(port, "/health")
        assert code == 200
        doc = json.loads(body)
        assert doc["status"] == "ok" and doc["domain"] == "ok.health.test"
        code, body = get(port, "/metrics")
        assert code == 200
        validate_openmetrics(body.decode())
        assert get(port, "/nope")[0] == 404


def test_health_endpoint_critical_is_503(lab: HealthLab) -> None:
    with endpoint(lab, "busy.health.test") as port:
        code, body = get(port, "/health")
        assert code == 503
        assert json.loads(body)["status"] == "critical"
