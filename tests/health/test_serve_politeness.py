"""Politeness of ``smtpdiag serve`` towards servers that many targets share, and
towards tarpits.

The service runs as a real subprocess. Several distinct domains have their only MX on
one scripted SMTP server that greets slowly (0.5 s, so sessions overlap); the server
records the most sessions it had open at once. Scraping all the domains at the same
time must never open more connections to it than the per-address limit: the limit
holds across targets, not only within one probe.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from health_lab import HealthLab
from serve_process import get, serve_process
from slow_servers import slow_servers

DOMAINS = [f"d{i}.shared.serve.test" for i in range(6)]


def _sample(body: str, prefix: str) -> float | None:
    for line in body.splitlines():
        if line.startswith(prefix):
            return float(line.rsplit(" ", 1)[1])
    return None


@pytest.mark.parametrize("limit", [1, 2])
def test_per_address_limit_holds_across_targets(lab: HealthLab, limit: int) -> None:
    args = [
        *lab.cli_args(),
        "--no-state",
        "--per-address-limit",
        str(limit),
        "--per-address-rate",
        "6000",
        "--max-concurrent",
        "8",
    ]
    with slow_servers(lab, "127.78.1.1", DOMAINS) as servers, serve_process(args) as srv:
        server = servers.server("slow")
        with ThreadPoolExecutor(len(DOMAINS)) as pool:
            replies = list(pool.map(srv.probe, DOMAINS))
        assert all(r.status == 200 for r in replies)
        # every domain was probed (one session each), none skipped for lack of time
        assert len(server.sessions) == len(DOMAINS)
        for domain, reply in zip(DOMAINS, replies, strict=True):
            up = _sample(reply.body, f'smtpdiag_route_up{{domain="{domain}"')
            assert up == 1, domain
        assert server.peak == limit


def test_per_address_rate_spaces_new_connections(lab: HealthLab) -> None:
    # limit 1, 120 per minute: one new connection per 0.5 s to the shared address
    domains = DOMAINS[:3]
    args = [*lab.cli_args(), "--no-state", "--per-address-rate", "120"]
    with (
        slow_servers(
            lab,
            "127.78.1.2",
            domains,
        ) as servers,
        serve_process(args) as srv,
    ):
        started = time.monotonic()
        with ThreadPoolExecutor(len(domains)) as pool:
            list(pool.map(srv.probe, domains))
        elapsed = time.monotonic() - started
        assert len(servers.server("slow").sessions) == len(domains)
        assert servers.server("slow").peak == 1
        # three sessions of >= 0.5 s each, one at a time: at least 1.5 s
        assert elapsed >= 1.4


TARPIT = "tarpit.serve.test"


def test_a_slow_greeting_on_every_route_is_a_tarpit_and_backs_off(lab: HealthLab) -> None:
    args = [*lab.cli_args(), "--no-state", "--min-interval", "0.2", "--tarpit-greeting", "0.3"]
    with slow_servers(lab, "127.78.1.4", [TARPIT]) as servers, serve_process(args) as srv:
        server = servers.server("slow")
        body = srv.probe(TARPIT).body
        assert f'smtpdiag_untestable{{domain="{TARPIT}",reason="tarpit"}} 1' in body
        assert f'smtpdiag_health{{domain="{TARPIT}",state="unknown"}} 1' in body
        assert f'smtpdiag_probes_total{{domain="{TARPIT}",result="untestable"}} 1' in body
        assert (_sample(body, "smtpdiag_backoff_remaining_seconds") or 0) > 0.2
        # past --min-interval, within the backoff (2 x 0.2 s): no new connection
        time.sleep(0.25)
        again = srv.probe(TARPIT).body
        assert len(server.sessions) == 1
        assert f'smtpdiag_result_cached{{domain="{TARPIT}"}} 1' in again
        report = get(f"{srv.base}/report?target={TARPIT}")
        assert '"untestable": "tarpit"' in report.body
        own = get(f"{srv.base}/metrics").body
        assert _sample(own, "smtpdiag_exporter_targets_backing_off") == 1


def test_a_greeting_under_the_tarpit_limit_is_judged(lab: HealthLab) -> None:
    domain = "patient.serve.test"
    args = [*lab.cli_args(), "--no-state", "--tarpit-greeting", "2"]
    with slow_servers(lab, "127.78.1.5", [domain]), serve_process(args) as srv:
        body = srv.probe(domain).body
        assert f'smtpdiag_untestable{{domain="{domain}"}} 0' in body
        assert f'smtpdiag_probes_total{{domain="{domain}",result="untestable"}} 0' in body
