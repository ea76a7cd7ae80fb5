"""``smtpdiag serve --accept-tlsrpt``: TLS reports POSTed over real HTTP on loopback
(RFC 8460 section 5.4), stored in the state, counted on /metrics; hostile bodies end
in one 4xx line in bounded time and memory."""

from __future__ import annotations

import contextlib
import copy
import http.client
import json
import shutil
import socket
import subprocess
import time
import zlib
from pathlib import Path

from factories.tlsrpt_cases import google_report, gz, rfc_example
from health_lab import HealthLab
from serve_process import ServeProcess, get, serve_process

PROMTOOL = shutil.which("promtool")
OPENMETRICS = "application/openmetrics-text; version=1.0.0"
GZIP = "application/tlsrpt+gzip"
JSON = "application/tlsrpt+json"


def post(srv: ServeProcess, body: bytes, ctype: str, path: str = "/tlsrpt") -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=20)
    try:
        conn.request("POST", path, body=body, headers={"Content-Type": ctype})
        resp = conn.getresponse()
        return resp.status, resp.read().decode("utf-8", "replace")
    finally:
        conn.close()


def metric(body: str, prefix: str) -> float | None:
    for line in body.splitlines():
        if line.startswith(prefix):
            return float(line.rsplit(" ", 1)[1])
    return None


def metrics(srv: ServeProcess) -> str:
    reply = get(f"{srv.base}/metrics")
    assert reply.status == 200
    return reply.body


def _peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


FAILED = (
    'smtpdiag_tlsrpt_failed_sessions_total{policy_domain="company-y.example",'
    'result_type="starttls-not-supported",receiving_mx_hostname="mx2.mail.company-y.example"}'
)


def test_accept_gzip_and_json_dedupe_and_restart(lab: HealthLab, tmp_path: Path) -> None:
    args = [*lab.cli_args(), "--state-dir", str(tmp_path), "--accept-tlsrpt"]
    with serve_process(args) as srv:
        status, line = post(srv, gz(rfc_example()), GZIP)
        assert (status, line) == (200, "accepted\n")
        failure = {
            "result-type": "certificate-host-mismatch",
            "receiving-mx-hostname": "mx2.receiver.example",
            "failed-session-count": 7,
        }
        google = google_report("receiver.example", failures=[failure])
        status, line = post(srv, json.dumps(google).encode(), JSON)
        assert (status, line) == (200, "accepted\n")
        # The same organization and report-id again (now as JSON): counted once.
        status, line = post(srv, json.dumps(rfc_example()).encode(), JSON)
        assert status == 200 and line.startswith("duplicate")
        body = metrics(srv)
        assert metric(body, 'smtpdiag_tlsrpt_reports_total{result="accepted"}') == 2
        assert metric(body, 'smtpdiag_tlsrpt_reports_total{result="duplicate"}') == 1
        assert metric(body, 'smtpdiag_tlsrpt_reports_total{result="rejected"}') == 0
        assert metric(body, FAILED) == 200
        assert metric(body, "smtpdiag_tlsrpt_reports_stored") == 2
        assert 'policy_domain="receiver.example"' in body
        assert 'result_type="certificate-host-mismatch"' in body
        om = get(f"{srv.base}/metrics", accept=OPENMETRICS).body
        assert "# TYPE smtpdiag_tlsrpt_failed_sessions counter" in om
    if PROMTOOL is not None:  # promtool reads the 0.0.4 text format
        proc = subprocess.run(
            [PROMTOOL, "check", "metrics"],
            input=body,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
    # Persisted: a new process on the same state has the reports, and still dedupes.
    with serve_process(args) as srv:
        body = metrics(srv)
        assert metric(body, FAILED) == 200
        assert metric(body, 'smtpdiag_tlsrpt_reports_total{result="accepted"}') == 2
        status, line = post(srv, gz(rfc_example()), GZIP)
        assert status == 200 and line.startswith("duplicate")
        assert metric(metrics(srv), FAILED) == 200


def test_refusals(lab: HealthLab) -> None:
    with serve_process([*lab.cli_args(), "--no-state", "--accept-tlsrpt"]) as srv:
        status, line = post(srv, b'{"organization-name": "x", ', JSON)
        assert status == 400 and line.count("\n") == 1, line
        broken = rfc_example()
        broken["policies"][0]["summary"]["total-failure-session-count"] = "many"
        status, line = post(srv, json.dumps(broken).encode(), JSON)
        assert status == 400 and "total-failure-session-count" in line, line
        status, line = post(srv, gz(rfc_example()), JSON)  # gzip sent as JSON
        assert status == 400
        status, line = post(srv, json.dumps(rfc_example()).encode(), "application/json")
        assert status == 415 and line.count("\n") == 1
        status, _ = post(srv, b"", "text/plain")
        assert status == 415
        assert get(f"{srv.base}/tlsrpt").status == 405
        body = metrics(srv)
        assert metric(body, 'smtpdiag_tlsrpt_reports_total{result="rejected"}') == 5
        assert metric(body, 'smtpdiag_tlsrpt_reports_total{result="accepted"}') == 0
        assert metric(body, "smtpdiag_tlsrpt_failed_sessions_total") is None


def test_oversize_refused_before_reading(lab: HealthLab) -> None:
    with serve_process([*lab.cli_args(), "--no-state", "--accept-tlsrpt"]) as srv:
        # A declared length over the cap: 413 from the head alone, the body is never sent.
        with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as sock:
            sock.sendall(
                b"POST /tlsrpt HTTP/1.1\r\nHost: x\r\nContent-Type: application/tlsrpt+gzip\r\n"
                b"Content-Length: 1000000000\r\n\r\n"
            )
            reply = sock.recv(4096)
        assert reply.startswith(b"HTTP/1.1 413 "), reply
        # Chunked with no length: reading stops at the cap.
        big = json.dumps({"x": "a" * (5 << 20)}).encode()
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=20)
        try:
            conn.request(
                "POST",
                "/tlsrpt",
                body=iter([big[i : i + 65536] for i in range(0, len(big), 65536)]),
                headers={"Content-Type": JSON},
                encode_chunked=True,
            )
            status = conn.getresponse().status
        except (BrokenPipeError, ConnectionResetError):
            status = 413  # the service answered and closed while we were still sending
        finally:
            conn.close()
        assert status == 413
        assert get(f"{srv.base}/-/healthy").status == 200


def test_zip_bomb_rejected_quickly_in_bounded_memory(lab: HealthLab) -> None:
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = bytes(1 << 20)
    bomb = b"".join(comp.compress(zeros) for _ in range(512)) + comp.flush()  # 512 MiB
    assert len(bomb) < 1 << 20
    with serve_process([*lab.cli_args(), "--no-state", "--accept-tlsrpt"]) as srv:
        assert get(f"{srv.base}/-/healthy").status == 200
        before = _peak_rss_kib(srv.proc.pid)
        started = time.monotonic()
        for _ in range(3):
            status, line = post(srv, bomb, GZIP)
            assert status == 413 and line.count("\n") == 1 and "too-large" in line, line
        assert time.monotonic() - started < 10
        grown_mib = (_peak_rss_kib(srv.proc.pid) - before) / 1024
        assert grown_mib < 64, grown_mib  # the cap is 4 MiB decompressed, not 512
        assert srv.proc.poll() is None


def test_series_are_capped(lab: HealthLab) -> None:
    """Past MAX_SERIES distinct (domain, result type, MX) keys, the rest count as other."""
    from smtpdiag.serve.tlsrpt import MAX_SERIES

    doc = rfc_example()
    template = doc["policies"][0]["failure-details"][0]
    details = []
    for k in range(MAX_SERIES + 50):
        d = copy.deepcopy(template)
        d["receiving-mx-hostname"] = f"mx{k}.company-y.example"
        d["failed-session-count"] = 1
        details.append(d)
    doc["policies"][0]["failure-details"] = details
    doc["policies"][0]["summary"]["total-failure-session-count"] = len(details)
    with serve_process([*lab.cli_args(), "--no-state", "--accept-tlsrpt"]) as srv:
        status, line = post(srv, gz(doc), GZIP)
        assert status == 200, line
        body = metrics(srv)
        rows = [r for r in body.splitlines() if r.startswith("smtpdiag_tlsrpt_failed_sessions")]
        assert len(rows) == MAX_SERIES + 1
        other = (
            'smtpdiag_tlsrpt_failed_sessions_total{policy_domain="other",'
            'result_type="other",receiving_mx_hostname="other"}'
        )
        assert metric(body, other) == 50


def test_disabled_by_default(lab: HealthLab) -> None:
    with serve_process([*lab.cli_args(), "--no-state"]) as srv:
        status, _ = post(srv, gz(rfc_example()), GZIP)
        assert status == 405  # only GET: the exporter takes no uploads unless asked
        assert "smtpdiag_tlsrpt" not in metrics(srv)


def test_https_with_tls_cert_and_key(lab: HealthLab, tmp_path: Path) -> None:
    """RFC 8460 senders POST only to https:// URIs: --tls-cert/--tls-key serve HTTPS."""
    import ssl
    import sys

    from smtpdiag.testing.certs import TestPki

    pki = TestPki(names=("localhost", "127.0.0.1"), directory=tmp_path / "pki")
    files = pki.files["good"]
    tls = ["--tls-cert", str(files.chain), "--tls-key", str(files.key)]
    client = ssl.create_default_context(cafile=str(pki.ca_file))
    with serve_process([*lab.cli_args(), "--no-state", "--accept-tlsrpt", *tls]) as srv:
        conn = http.client.HTTPSConnection("127.0.0.1", srv.port, timeout=20, context=client)
        try:
            conn.request("POST", "/tlsrpt", body=gz(rfc_example()), headers={"Content-Type": GZIP})
            resp = conn.getresponse()
            assert (resp.status, resp.read()) == (200, b"accepted\n")
        finally:
            conn.close()
        # Plain HTTP on the TLS port gets nothing served (and the service stays up).
        with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as sock:
            sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            sock.settimeout(10)
            with contextlib.suppress(ConnectionResetError):
                assert not sock.recv(4096).startswith(b"HTTP/1.1 200")
        conn = http.client.HTTPSConnection("127.0.0.1", srv.port, timeout=20, context=client)
        try:
            conn.request("GET", "/metrics")
            body = conn.getresponse().read().decode()
        finally:
            conn.close()
        assert metric(body, FAILED) == 200
    # Only one of the two, or an unreadable key: one line, exit 2, no traceback.
    for bad in (tls[:2], [*tls[:2], "--tls-key", str(tmp_path / "missing.pem")]):
        proc = subprocess.run(
            [sys.executable, "-m", "smtpdiag", "serve", *lab.cli_args(), "--no-state", *bad],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert proc.returncode == 2, proc.stderr
        assert "tls" in proc.stderr.lower() and "Traceback" not in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
