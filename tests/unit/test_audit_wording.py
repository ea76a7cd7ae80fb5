"""Day counts and route counts read as English, also for 1 and for expired certificates.

Found by the acceptance audit in ``smtpdiag demo`` (its bad-certificate domain expired
one day ago): "(-1 days left)" in the diagnosis evidence, "expired 1 days ago" in the
text report and the health check, "certificate -1 days left" in the plugin's route
facts, "1 of 1 route work" in the summary.
"""

from __future__ import annotations

import dataclasses

from factories import cert, mx_host, ok, report, resolution, route_to, tls

from smtpdiag import diagnose
from smtpdiag.health.evaluation import evaluate, route_facts
from smtpdiag.model import ProbeReport
from smtpdiag.report import dumps, render_text


def _report(days_left: int, ports: tuple[int, ...]) -> ProbeReport:
    h = mx_host("mx1.example.org", 10, ["198.51.100.5"])
    leaf = cert(days_left=days_left)
    routes = [
        ok(route_to(h, "198.51.100.5", p), tls_info=tls(verified=days_left >= 0, certificate=leaf))
        for p in ports
    ]
    bare = report(resolution([h]), routes, ports=ports)
    return dataclasses.replace(bare, diagnosis=diagnose(bare))


def _all_text(rep: ProbeReport) -> str:
    health = evaluate(rep)
    parts = [render_text(rep, width=200), dumps(rep), health.summary]
    parts += [p.reason for p in health.problems]
    parts += [fact for r in health.routes for fact in route_facts(r)]
    return "\n".join(parts)


def test_one_route_summary_agrees() -> None:
    text = render_text(_report(200, (25,)), width=200)
    assert "1 of 1 route works" in text
    assert "route work " not in text


def test_cert_expired_one_day_ago() -> None:
    text = _all_text(_report(-1, (25, 587)))
    assert "1 days" not in text
    assert "-1 day" not in text
    assert "expired 1 day ago" in text
    # Judged once, per route, as a certificate that does not verify (issue 18).
    assert "certificate invalid" in text


def test_cert_one_day_left() -> None:
    text = _all_text(_report(1, (25,)))
    assert "1 days" not in text
    assert "1 day left" in text


def test_many_days_stay_plural() -> None:
    text = _all_text(_report(-3, (25, 587, 465)))
    assert "expired 3 days ago" in text
    assert "(+2 more problems)" in text
    assert "-3 days" not in text
