"""The HTML report (report/html.py): one self-contained page, the decision record laid
out (never decided again), a waterfall per route, remote text kept as text, the JSON
report embedded for tools, and one clear line when Jinja2 is missing."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from factories import report_cases as rf
from htmldom import Node, parse

from smtpdiag import diagnose
from smtpdiag.health import evaluate
from smtpdiag.model import Outcome, ProbeReport, SmtpReply
from smtpdiag.report import dumps, loads, render
from smtpdiag.report.html import render_html

PAYLOAD = "<img src=x onerror=alert(1)><script>fetch('//x')</script>"


def _diagnosed(report: ProbeReport) -> ProbeReport:
    return replace(report, diagnosis=diagnose(report))


def _hostile() -> ProbeReport:
    """rf.hostile() with markup in every remote string that carries HTML danger."""
    rep = rf.hostile()
    routes = list(rep.routes)
    r25 = routes[0]
    phases = tuple(
        replace(p, reply=SmtpReply(554, "5.7.1", PAYLOAD)) if p.reply is not None else p
        for p in r25.phases
    )
    routes[0] = replace(r25, phases=phases)
    routes[1] = replace(routes[1], banner=f"220 {PAYLOAD}", extensions=(PAYLOAD,))
    tls = routes[2].tls
    assert tls is not None and tls.certificate is not None
    cert = replace(tls.certificate, subject=f"CN={PAYLOAD}", sans=(PAYLOAD,))
    routes[2] = replace(routes[2], tls=replace(tls, certificate=cert))
    return _diagnosed(replace(rep, routes=tuple(routes)))


def _page(report: ProbeReport) -> tuple[str, Node]:
    text = render_html(report)
    return text, parse(text)


def test_page_is_self_contained_and_its_csp_allows_nothing_but_its_own_style() -> None:
    text, dom = _page(_diagnosed(rf.greeting_421()))
    head = dom.find("head")
    assert head is not None
    metas = [m for m in head.iter("meta") if m.attrs.get("http-equiv") == "Content-Security-Policy"]
    assert len(metas) == 1
    csp = metas[0].attrs["content"]
    assert "default-src 'none'" in csp and "img-src data:" in csp
    styles = list(dom.iter("style"))
    assert len(styles) == 1
    css = styles[0].text()
    digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
    assert f"style-src 'sha256-{digest}'" in csp  # the hash is of the exact inline text
    # The policy comes before anything it governs.
    assert text.index("Content-Security-Policy") < text.index("<style>")
    # Nothing to fetch: no link, img, iframe, external script; no URL in any attribute.
    assert not [
        n for t in ("link", "img", "iframe", "object", "embed", "base") for n in dom.iter(t)
    ]
    scripts = list(dom.iter("script"))
    assert [s.attrs.get("type") for s in scripts] == ["application/json"]
    for node in dom.iter():
        for name, value in node.attrs.items():
            assert name in ("xmlns",) or ("://" not in value and not value.startswith("//"))
            assert not name.startswith("on"), (node.tag, name)


def test_the_decision_record_is_laid_out_first_then_action_findings_routes_dns() -> None:
    rep = _diagnosed(rf.greeting_421())
    assert rep.diagnosis is not None and rep.diagnosis.primary == "4.3.2"
    _, dom = _page(rep)
    headings = [h.text() for h in dom.iter("h2")]
    assert headings[:4] == ["Verdict", "What to do", "Findings", "Routes"]
    assert headings[-1] == "DNS answers"
    verdict = dom.by_id("verdict")
    assert verdict is not None and "Failed" in verdict.text()
    code = dom.by_id("primary-code")
    assert code is not None and code.text() == rep.diagnosis.primary
    action = dom.by_id("action")
    assert action is not None and action.text() == rep.diagnosis.action.summary
    senders = dom.by_id("senders")
    assert senders is not None and senders.find("th") is not None  # a table with headers
    rows = [[c.text() for c in tr.iter() if c.tag in ("th", "td")] for tr in senders.iter("tr")]
    assert ["opportunistic", "cannot deliver now", "yes"] in rows


@pytest.mark.parametrize("case", ["greeting_421", "dead_primary", "tls_mismatch", "healthy"])
def test_one_waterfall_per_route_one_bar_per_phase_run_failed_phase_marked(case: str) -> None:
    rep = _diagnosed(getattr(rf, case)())
    _, dom = _page(rep)
    tables = list(dom.iter("table", "waterfall"))
    assert len(tables) == len(rep.routes)
    for table, rr in zip(tables, rep.routes, strict=True):
        assert table.attrs["data-route"] == rr.route.label
        run = [p for p in rr.phases if p.outcome is not Outcome.NOT_ATTEMPTED]
        assert len(list(table.iter("rect", "bar"))) == len(run)
        failed = [tr for tr in table.iter("tr", "failed")]
        bad = [p for p in run if p.outcome is not Outcome.OK]
        assert len(failed) == len(bad)
        for tr, p in zip(failed, bad, strict=True):
            # In words too, not by colour alone.
            assert f"failed: {p.outcome.value}" in tr.text()
        for rect in table.iter("rect", "bar"):
            x, w = float(rect.attrs["x"]), float(rect.attrs["width"])
            assert x >= 0 and w > 0 and x + w <= 1000.001


def test_remote_markup_is_text_everywhere() -> None:
    text, dom = _page(_hostile())
    assert "<script>fetch" not in text and "<img src=x" not in text
    assert not list(dom.iter("img"))
    assert [s.attrs.get("type") for s in dom.iter("script")] == ["application/json"]
    assert not list(dom.iter("b"))  # the EHLO keyword's <b> stayed text
    assert f"220 {PAYLOAD}" in [b.text() for b in dom.iter("td", "banner")]
    assert PAYLOAD in "".join(c.text() for c in dom.iter("table", "cert"))
    assert PAYLOAD in "".join(p.text() for p in dom.iter("pre", "transcript"))
    # ANSI escapes and bidi controls are gone, not just escaped.
    assert "\x1b" not in text and "\u202e" not in text


def test_embedded_json_is_the_report_and_cannot_end_its_element() -> None:
    rep = _hostile()
    _, dom = _page(rep)
    data = dom.by_id("smtpdiag-report")
    assert data is not None and data.attrs["type"] == "application/json"
    raw = data.text()
    assert "</" not in raw and "<" not in raw
    assert dumps(loads(raw)) == dumps(rep)
    assert json.loads(raw)["domain"] == rep.domain


def test_health_result_renders_its_status_then_the_report() -> None:
    rep = _diagnosed(rf.greeting_421())
    result = evaluate(rep)
    dom = parse(render(result, "html"))
    verdict = dom.by_id("verdict")
    assert verdict is not None and result.status.value.upper() in verdict.text()


def test_without_jinja2_html_is_one_line_and_exit_2(tmp_path: Path) -> None:
    saved = tmp_path / "r.json"
    saved.write_text(dumps(_diagnosed(rf.greeting_421())))
    code = (
        "import sys; sys.modules['jinja2'] = None\n"
        "from smtpdiag.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    for argv in (
        ["render", str(saved), "--format", "html"],
        ["probe", "example.test", "--format", "html", "--nameserver", "127.0.0.1:9"],
        ["check", "example.test", "--format", "html", "--nameserver", "127.0.0.1:9"],
    ):
        proc = subprocess.run(
            [sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=60
        )
        assert proc.returncode == 2, (argv, proc.stderr)
        assert proc.stdout == ""
        lines = proc.stderr.splitlines()
        assert len(lines) == 1 and "smtpdiag[html]" in lines[0], proc.stderr


def test_probe_json_and_format_html_contradict_one_line_exit_2() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "smtpdiag", "probe", "example.test", "--json", "--format", "html"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "--json and --format html" in proc.stderr


def test_render_rejects_what_is_not_a_report_in_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "x.json"
    bad.write_text('{"hello": 1}')
    for path in (str(bad), str(tmp_path / "missing.json")):
        proc = subprocess.run(
            [sys.executable, "-m", "smtpdiag", "render", path],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 2 and proc.stdout == ""
        assert proc.stderr.count("\n") == 1, proc.stderr


def test_render_lays_out_a_saved_report_in_every_format(tmp_path: Path) -> None:
    rep = _diagnosed(rf.greeting_421())
    saved = tmp_path / "r.json"
    saved.write_text(dumps(rep))
    for fmt in ("html", "text", "json", "markdown", "nagios", "junit", "openmetrics"):
        proc = subprocess.run(
            [sys.executable, "-m", "smtpdiag", "render", str(saved), "--format", fmt],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 0, (fmt, proc.stderr)
        assert proc.stdout == render(rep, fmt, width=100), fmt


def test_explain_html_needs_probe_one_line_exit_2() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "smtpdiag", "explain", "421 4.3.2 busy", "--format", "html"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "--probe" in proc.stderr
