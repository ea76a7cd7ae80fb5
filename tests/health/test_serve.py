"""``smtpdiag serve`` as a real subprocess against the loopback health lab.

Real HTTP requests on loopback; the scripted SMTP servers count the sessions they see,
so "one probe per interval whatever the number of scrapers" is checked at the server.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from health_lab import HealthLab
from serve_process import get, serve_process

from smtpdiag.testing.dnsserver import zone_text

PROMTOOL = shutil.which("promtool")
OPENMETRICS = "application/openmetrics-text; version=1.0.0"


def _sessions(lab: HealthLab, name: str) -> int:
    return len(lab.servers.server(name).sessions)


def _sample(body: str, prefix: str) -> float | None:
    """The value of the first sample line starting with ``prefix``."""
    for line in body.splitlines():
        if line.startswith(prefix):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_probe_metrics_healthy_and_sigterm(lab: HealthLab, tmp_path: Path) -> None:
    with serve_process([*lab.cli_args(), "--state-dir", str(tmp_path)]) as srv:
        reply = srv.probe("ok.health.test")
        assert reply.status == 200
        assert reply.content_type.startswith("text/plain; version=0.0.4")
        body = reply.body
        assert 'smtpdiag_health{domain="ok.health.test",state="ok"} 1' in body
        assert 'smtpdiag_probes_total{domain="ok.health.test",result="ok"} 1' in body
        assert "# EOF" not in body  # 0.0.4 has no EOF marker
        om = srv.probe("ok.health.test", accept=OPENMETRICS)
        assert om.content_type.startswith("application/openmetrics-text; version=1.0.0")
        assert om.body.endswith("# EOF\n") and om.body.count("# EOF") == 1
        assert "# TYPE smtpdiag_probes counter" in om.body
        assert 'smtpdiag_result_cached{domain="ok.health.test"} 1' in om.body
        own = get(f"{srv.base}/metrics")
        assert own.status == 200
        assert _sample(own.body, "smtpdiag_exporter_probes_total") == 1
        assert _sample(own.body, "smtpdiag_exporter_cache_hits_total") == 1
        assert get(f"{srv.base}/-/healthy").status == 200
        assert srv.stop(signal.SIGTERM) == 0
    if PROMTOOL is not None:
        for text in (body, own.body):
            proc = subprocess.run(
                [PROMTOOL, "check", "metrics"],
                input=text,
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (tmp_path / "serve-state.sqlite3").exists()


def test_sigint_stops_cleanly(lab: HealthLab) -> None:
    with serve_process([*lab.cli_args(), "--no-state"]) as srv:
        assert srv.stop(signal.SIGINT) == 0


HOSTILE = [
    ("/probe?target=198.51.100.1", 400),  # an address, not a domain (never connected to)
    ("/probe?target=a.test,b.test", 400),
    ("/probe?target=a.test:25", 400),
    ("/probe?target=" + "a" * 300 + ".test", 400),
    ("/probe?target=a..test", 400),
    ("/probe?target=%00.test", 400),
    ("/probe", 400),
    ("/probe?target=ok.health.test&target=x.test", 400),
    ("/probe?target=ok.health.test&module=other", 400),
    ("/probe?target=ok.health.test&debug=1", 400),
    ("/nothing", 404),
]


def test_hostile_requests_get_one_line_and_no_probe(lab: HealthLab) -> None:
    with serve_process([*lab.cli_args(), "--no-state"]) as srv:
        for query, status in HOSTILE:
            reply = get(srv.base + query)
            assert reply.status == status, query
            assert reply.body.count("\n") == 1, query
        own = get(f"{srv.base}/metrics").body
        assert _sample(own, "smtpdiag_exporter_probes_total") == 0
        assert _sample(own, "smtpdiag_exporter_targets") == 0


def test_raw_garbage_and_oversized_head_are_refused(lab: HealthLab) -> None:
    import socket

    with serve_process([*lab.cli_args(), "--no-state"]) as srv:
        for payload in (
            b"\x16\x03\x01 not http\r\n\r\n",
            b"GET /probe?target=ok.health.test HTTP/1.1\r\nX: " + b"a" * 20000 + b"\r\n\r\n",
            b"POST /probe HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
        ):
            with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as sock:
                sock.sendall(payload)
                answer = sock.recv(4096)
            assert answer.startswith(b"HTTP/1.1 4"), answer[:80]
        # a client that sends nothing is dropped after the head timeout, not held forever
        with socket.create_connection(("127.0.0.1", srv.port), timeout=15) as sock:
            started = time.monotonic()
            answer = sock.recv(4096)
            assert answer.startswith(b"HTTP/1.1 408")
            assert time.monotonic() - started < 10
        assert get(f"{srv.base}/-/healthy").status == 200


def test_connections_are_kept_alive_as_scrapers_expect(lab: HealthLab) -> None:
    """Prometheus reuses its connections: several scrapes on one, ``Connection: close``
    honoured, an error closes, and an idle connection is closed after the head timeout
    (5 s) without a word."""
    import http.client
    import socket

    with serve_process([*lab.cli_args(), "--no-state", "--min-interval", "60"]) as srv:
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=15)
        try:
            conn.request("GET", "/probe?target=ok.health.test")
            sock = conn.sock
            for path in ("/-/healthy", "/metrics", "/probe?target=ok.health.test"):
                first = conn.getresponse()
                assert first.status == 200 and not first.will_close
                first.read()
                conn.request("GET", path)
                assert conn.sock is sock  # the same connection, not a new one
            last = conn.getresponse()
            assert last.status == 200 and 'state="ok"} 1' in last.read().decode()
            conn.request("GET", "/nowhere")
            missing = conn.getresponse()
            assert missing.status == 404 and missing.will_close
            missing.read()
        finally:
            conn.close()
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=15)
        try:
            conn.request("GET", "/-/healthy", headers={"Connection": "close"})
            reply = conn.getresponse()
            assert reply.status == 200 and reply.will_close
            reply.read()
        finally:
            conn.close()
        with socket.create_connection(("127.0.0.1", srv.port), timeout=15) as raw:
            raw.sendall(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n")
            head = raw.recv(4096)
            assert head.startswith(b"HTTP/1.1 200") and b"close" not in head.lower()
            started = time.monotonic()
            assert raw.recv(4096) == b""  # closed by the service, nothing more said
            assert 4.0 <= time.monotonic() - started < 10


def test_ten_concurrent_scrapes_make_one_probe(lab: HealthLab) -> None:
    server = "mx1.ok.health.test:25"
    with serve_process([*lab.cli_args(), "--no-state", "--min-interval", "60"]) as srv:
        before = _sessions(lab, server)
        with ThreadPoolExecutor(10) as pool:
            replies = list(pool.map(lambda _: srv.probe("ok.health.test"), range(10)))
        assert all(r.status == 200 for r in replies)
        assert all('state="ok"} 1' in r.body for r in replies)
        assert _sessions(lab, server) - before == 1
        own = get(f"{srv.base}/metrics").body
        assert _sample(own, "smtpdiag_exporter_probes_total") == 1
        shared = _sample(own, "smtpdiag_exporter_shared_probes_total") or 0
        hits = _sample(own, "smtpdiag_exporter_cache_hits_total") or 0
        assert shared + hits == 9


def test_cache_expires_after_min_interval(lab: HealthLab) -> None:
    server = "mx1.ok.health.test:25"
    with serve_process([*lab.cli_args(), "--no-state", "--min-interval", "0.5"]) as srv:
        before = _sessions(lab, server)
        srv.probe("ok.health.test")
        srv.probe("ok.health.test")
        assert _sessions(lab, server) - before == 1
        time.sleep(0.7)
        reply = srv.probe("ok.health.test")
        assert 'smtpdiag_probes_total{domain="ok.health.test",result="ok"} 2' in reply.body
        assert _sessions(lab, server) - before == 2


def test_421_is_untestable_and_backs_off(lab: HealthLab) -> None:
    server = "mx.busy.health.test:25"
    with serve_process([*lab.cli_args(), "--no-state", "--min-interval", "0.2"]) as srv:
        before = _sessions(lab, server)
        body = srv.probe("busy.health.test").body
        # not a failure page: unknown, with the reason and the backoff
        assert 'smtpdiag_health{domain="busy.health.test",state="unknown"} 1' in body
        assert 'smtpdiag_health{domain="busy.health.test",state="critical"} 0' in body
        assert 'smtpdiag_untestable{domain="busy.health.test",reason="smtp-421"} 1' in body
        assert 'smtpdiag_probes_total{domain="busy.health.test",result="untestable"} 1' in body
        assert (_sample(body, "smtpdiag_backoff_remaining_seconds") or 0) > 0.2
        # past --min-interval, but within the backoff (2 x 0.2 s): no new connection
        time.sleep(0.3)
        again = srv.probe("busy.health.test").body
        assert _sessions(lab, server) - before == 1
        assert 'smtpdiag_result_cached{domain="busy.health.test"} 1' in again
        own = get(f"{srv.base}/metrics").body
        assert _sample(own, "smtpdiag_exporter_targets_backing_off") == 1
        assert _sample(own, "smtpdiag_exporter_backoff_skips_total") == 1
        assert "failing_since" not in body


def test_history_survives_a_restart(lab: HealthLab, tmp_path: Path) -> None:
    args = [*lab.cli_args(), "--state-dir", str(tmp_path), "--min-interval", "0.1"]
    with serve_process(args) as srv:
        first = srv.probe("nullmx.health.test").body
        since = _sample(first, 'smtpdiag_failing_since_seconds{domain="nullmx.health.test"}')
        assert since is not None and abs(since - time.time()) < 60
        assert srv.stop() == 0
    with serve_process(args) as srv:
        body = srv.probe("nullmx.health.test").body
        assert 'smtpdiag_probes_total{domain="nullmx.health.test",result="critical"} 2' in body
        after = _sample(body, 'smtpdiag_failing_since_seconds{domain="nullmx.health.test"}')
        assert after == since
        first_seen = _sample(body, "smtpdiag_first_seen_timestamp_seconds")
        assert first_seen == since
        assert srv.stop() == 0


def test_mx_change_is_a_drift_timestamp(lab: HealthLab) -> None:
    zone = "drift.serve.test"
    one = {"@": ["MX 10 mx1"], "mx1": ["A 127.78.0.1"]}
    two = {"@": ["MX 10 mx1", "MX 20 mx2"], "mx1": ["A 127.78.0.1"], "mx2": ["A 127.78.0.1"]}
    # A TTL of 1 s: the service keeps DNS answers for their TTL, so the change is seen
    # by the first round one TTL after it, not before.
    lab.dns.server.add_zone(zone, zone_text(zone, one, ttl=1))
    with serve_process([*lab.cli_args(), "--no-state", "--min-interval", "0.1"]) as srv:
        body = srv.probe(zone).body
        assert "smtpdiag_change_timestamp_seconds" not in body
        time.sleep(0.2)
        assert "smtpdiag_change_timestamp_seconds" not in srv.probe(zone).body
        lab.dns.server.add_zone(zone, zone_text(zone, two, ttl=1))
        time.sleep(1.3)
        body = srv.probe(zone).body
        changed = _sample(body, f'smtpdiag_change_timestamp_seconds{{domain="{zone}",what="mx"}}')
        assert changed is not None and abs(changed - time.time()) < 60
        assert 'what="cert"' not in body  # the same server, the same certificate


def _asked_about(lab: HealthLab, zone: str) -> int:
    """How many questions the lab's DNS server got about names in ``zone``."""
    return sum(q.name == zone or q.name.endswith("." + zone) for q in lab.dns.server.received)


def _probes(body: str, zone: str) -> float:
    prefix = f'smtpdiag_probes_total{{domain="{zone}",'
    return sum(
        float(line.rsplit(" ", 1)[1]) for line in body.splitlines() if line.startswith(prefix)
    )


def test_dns_answers_are_kept_for_their_ttl(lab: HealthLab) -> None:
    """Two rounds of one target within the answers' TTL (300 s): the second asks the
    DNS server nothing about the domain (MX, addresses, TLSA, MTA-STS and TLS-RPT
    records, NXDOMAIN and NODATA included), though it probes the server again."""
    zone = "cached.serve.test"
    lab.dns.server.add_zone(zone, {"@": ["MX 10 mx1"], "mx1": ["A 127.78.0.1"]})
    with serve_process([*lab.cli_args(), "--no-state", "--min-interval", "0.3"]) as srv:
        before = _asked_about(lab, zone)
        first = srv.probe(zone).body
        asked_first = _asked_about(lab, zone) - before
        time.sleep(0.4)
        second = srv.probe(zone).body
        asked_second = _asked_about(lab, zone) - before - asked_first
    assert _probes(first, zone) == 1
    assert _probes(second, zone) == 2  # probed again: not the served cache
    assert asked_first >= 5  # MX, A (twice: plain, DNSSEC), TLSA, MTA-STS, TLS-RPT...
    assert asked_second < asked_first
    assert asked_second == 0


def test_report_serves_the_latest_result_without_probing(lab: HealthLab) -> None:
    import json

    with serve_process([*lab.cli_args(), "--no-state"]) as srv:
        assert get(f"{srv.base}/report?target=ok.health.test").status == 404
        assert get(f"{srv.base}/report?target=198.51.100.1").status == 400
        srv.probe("ok.health.test")
        reply = get(f"{srv.base}/report?target=ok.health.test")
        assert reply.status == 200 and reply.content_type == "application/json"
        data = json.loads(reply.body)
        assert data["health"]["status"] == "ok"
        own = get(f"{srv.base}/metrics").body
        assert _sample(own, "smtpdiag_exporter_probes_total") == 1


def test_scrape_timeout_header_bounds_the_answer(lab: HealthLab) -> None:
    with serve_process([*lab.cli_args(), "--no-state"]) as srv:
        request = urllib.request.Request(f"{srv.base}/probe?target=unanswered.health.test")
        request.add_header("X-Prometheus-Scrape-Timeout-Seconds", "0.8")
        started = time.monotonic()
        try:
            urllib.request.urlopen(request, timeout=10)
            status = 200
        except urllib.error.HTTPError as exc:
            status = exc.code
            exc.close()
        elapsed = time.monotonic() - started
        assert status == 504 and elapsed < 1.5, (status, elapsed)
        # the probe was not cancelled: it finishes and the next scrape gets its result
        deadline = time.monotonic() + 15
        body = ""
        while time.monotonic() < deadline:
            body = srv.probe("unanswered.health.test").body
            if "result=" in body:
                break
            time.sleep(0.2)
        assert 'smtpdiag_health{domain="unanswered.health.test",state="unknown"} 1' in body
        own = get(f"{srv.base}/metrics").body
        assert _sample(own, "smtpdiag_exporter_probes_total") == 1


def test_sigterm_during_a_probe_exits_0_promptly(lab: HealthLab) -> None:
    with serve_process([*lab.cli_args(), "--no-state"]) as srv, ThreadPoolExecutor(1) as pool:
        # DNS never answers this one: the probe would run for seconds
        pending = pool.submit(srv.probe, "unanswered.health.test")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            own = get(f"{srv.base}/metrics").body
            if _sample(own, "smtpdiag_exporter_probes_in_flight") == 1:
                break
            time.sleep(0.05)
        started = time.monotonic()
        assert srv.stop(signal.SIGTERM) == 0
        assert time.monotonic() - started < 3
        with pytest.raises(OSError):
            pending.result(timeout=10)  # the connection closed without an answer
