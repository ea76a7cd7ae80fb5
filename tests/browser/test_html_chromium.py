"""The HTML report in a real browser: Debian's headless Chromium loads each page from a
file URL (no network: --disable-background-networking, and the page's CSP allows no
source) and we assert on the DOM it holds after load, on what it logged (a script that
ran or a load the CSP refused shows as a CONSOLE line), on screenshots at 390 and 1280
px and on a printed PDF.

Pages come from the CLI end to end: ``probe --format html`` against the demo domains,
and ``probe --json`` then ``render --format html`` against a scripted server whose
banner and EHLO keywords are markup. Screenshots and PDFs are kept in
``$SMTPDIAG_ARTIFACTS`` (default: pytest's tmp dir). ``SMTPDIAG_README_SCREENSHOT=1``
rewrites docs/html-report.png (the README's picture) from the busy demo domain.

Skips when ``chromium`` is not installed, unless ``SMTPDIAG_BROWSER_REQUIRED=1`` (CI,
where scripts/system-deps.sh installs it: there a missing browser fails).
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from htmldom import Node, parse

from smtpdiag.demo import DEMO_DOMAINS, DemoLab, demo_lab
from smtpdiag.testing.dnsserver import ThreadedDnsServer
from smtpdiag.testing.smtpserver import HTML_PAYLOAD, Behaviour, ServerSet, ServerSpec

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# CI installs chromium (scripts/system-deps.sh) and sets this: a skip there is a failure.
REQUIRED = os.environ.get("SMTPDIAG_BROWSER_REQUIRED") == "1"
pytestmark = pytest.mark.skipif(
    CHROMIUM is None and not REQUIRED,
    reason="chromium not installed (apt-get install chromium; scripts/system-deps.sh does)",
)
REPO = Path(__file__).resolve().parents[2]
HOSTILE = "hostile.test"
EXPLAIN = "explain busy.demo.test"
_VERDICT_LABEL = {
    "healthy": "Healthy",
    "degraded": "Degraded",
    "failed": "Failed",
    "no-mail": "Accepts no mail",
}


@dataclass(frozen=True)
class Page:
    domain: str
    path: Path
    doc: dict[str, Any]  # the JSON report the page embeds


@dataclass(frozen=True)
class Loaded:
    dom: Node
    console: list[str]
    seconds: float


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "smtpdiag", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _probe_args(ns: str, ports: str, ca: str, *extra: str) -> list[str]:
    return [
        "--nameserver",
        ns,
        "--ports",
        ports,
        "-4",
        "--allow-targets",
        "127.0.0.0/8",
        "--ca-file",
        ca,
        "--timeout",
        "10",
        "--connect-timeout",
        "2",
        *extra,
    ]


def _embedded(text: str) -> dict[str, Any]:
    node = parse(text).by_id("smtpdiag-report")
    assert node is not None
    doc: dict[str, Any] = json.loads(node.text())
    return doc


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    env = os.environ.get("SMTPDIAG_ARTIFACTS")
    path = Path(env) if env else tmp_path_factory.mktemp("html-artifacts")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def lab() -> Iterator[DemoLab]:
    with demo_lab(seed=11) as running:
        yield running


@pytest.fixture(scope="module")
def pages(lab: DemoLab, artifacts: Path) -> dict[str, Page]:
    """The demo domains' pages (probe --format html) and the hostile server's page
    (probe --json, then render --format html)."""
    out: dict[str, Page] = {}
    ns = f"{lab.nameserver.address}:{lab.nameserver.port}"
    ports = ",".join(str(p) for p in lab.ports)
    extra = ("--implicit-tls-ports", str(lab.implicit_tls_port))
    extra += ("--mta-sts-port", str(lab.mta_sts_port))
    for demo in DEMO_DOMAINS:
        proc = _cli(
            "probe", demo.name, "--format", "html", *_probe_args(ns, ports, lab.ca_file, *extra)
        )
        assert proc.stderr == "", proc.stderr
        path = artifacts / f"{demo.name}.html"
        path.write_text(proc.stdout, encoding="utf-8")
        out[demo.name] = Page(demo.name, path, _embedded(proc.stdout))
    # explain --probe: the probe's page with the bounce first.
    bounce = "421 4.3.2 <user@busy.demo.test>: service not available"
    proc = _cli(
        "explain",
        bounce,
        "--probe",
        "--format",
        "html",
        *_probe_args(ns, ports, lab.ca_file, *extra),
    )
    assert proc.stderr == "", proc.stderr
    path = artifacts / "explain-busy.demo.test.html"
    path.write_text(proc.stdout, encoding="utf-8")
    out[EXPLAIN] = Page("busy.demo.test", path, _embedded(proc.stdout))
    spec = ServerSpec("html", Behaviour.HTML_BANNER, hostname=f"mx.{HOSTILE}")
    with ServerSet([spec]) as servers:
        zone = {"@": ["MX 10 mx"], "mx": ["A 127.0.0.1"]}
        with ThreadedDnsServer({HOSTILE: zone}) as dns:
            saved = artifacts / f"{HOSTILE}.json"
            proc = _cli(
                "probe",
                HOSTILE,
                "--json",
                *_probe_args(
                    f"{dns.address}:{dns.port}", str(servers.port("html")), servers.ca_file
                ),
            )
            saved.write_text(proc.stdout, encoding="utf-8")
    path = artifacts / f"{HOSTILE}.html"
    proc = _cli("render", str(saved), "--format", "html", "--output", str(path))
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    out[HOSTILE] = Page(HOSTILE, path, _embedded(path.read_text(encoding="utf-8")))
    return out


def _chromium(*args: str, url: str) -> tuple[str, str, float]:
    assert CHROMIUM is not None, "SMTPDIAG_BROWSER_REQUIRED=1 but chromium is not installed"
    with tempfile.TemporaryDirectory(prefix="smtpdiag-chromium-") as profile:
        start = time.monotonic()
        proc = subprocess.run(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
                "--hide-scrollbars",
                f"--user-data-dir={profile}",
                "--enable-logging=stderr",
                "--v=0",
                *args,
                url,
            ],
            capture_output=True,
            text=True,
            timeout=60,  # a page that opened a dialog (alert) never finishes loading
            check=False,
        )
        seconds = time.monotonic() - start
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout, proc.stderr, seconds


def load(path: Path) -> Loaded:
    """The DOM after load, and what the page logged (scripts, refused loads)."""
    stdout, stderr, seconds = _chromium("--dump-dom", url=path.as_uri())
    console = [line for line in stderr.splitlines() if ":CONSOLE" in line]
    return Loaded(parse(stdout), console, seconds)


def _png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", head[16:24])
    return width, height


# --------------------------------------------------------------------------- tests


def test_a_page_that_runs_script_is_caught_by_these_checks(tmp_path: Path) -> None:
    """The control: unescaped markup without our CSP does run and log in this browser,
    so the checks below can fail."""
    bad = tmp_path / "bad.html"
    bad.write_text(
        "<!DOCTYPE html><html><head><title>report</title></head><body><p>220 "
        "<img src=x onerror=\"document.title='img ran'\"><script>console.log('ran')</script>"
        "</p></body></html>"
    )
    page = load(bad)
    assert any("ran" in line for line in page.console)
    title = page.dom.find("title")
    assert title is not None and title.text() == "img ran"
    assert list(page.dom.iter("img"))


@pytest.mark.parametrize("key", [d.name for d in DEMO_DOMAINS] + [HOSTILE, EXPLAIN])
def test_dom_after_load(pages: dict[str, Page], key: str) -> None:
    page = pages[key]
    domain = page.domain
    loaded = load(page.path)
    dom, doc = loaded.dom, page.doc
    assert loaded.console == [], loaded.console  # no script ran, no load was refused
    title = dom.find("title")
    assert title is not None and title.text() == f"smtpdiag report: {domain}"
    assert not list(dom.iter("img"))
    assert [s.attrs.get("type") for s in dom.iter("script")] == ["application/json"]
    verdict = dom.by_id("verdict")
    assert verdict is not None
    assert _VERDICT_LABEL[doc["diagnosis"]["verdict"]] in verdict.text()
    primary = doc["diagnosis"]["primary"]
    code = dom.by_id("primary-code")
    assert (code.text() if code is not None else None) == primary
    tables = list(dom.iter("table", "waterfall"))
    assert len(tables) == len(doc["routes"])
    for table, route in zip(tables, doc["routes"], strict=True):
        run = [p for p in route["phases"] if p["outcome"] != "not-attempted"]
        assert len(list(table.iter("rect", "bar"))) == len(run)
        failed = [p for p in run if p["outcome"] != "ok"]
        marked = list(table.iter("tr", "failed"))
        assert len(marked) == len(failed)
        for tr, p in zip(marked, failed, strict=True):
            assert f"failed: {p['outcome']}" in tr.text()
        skipped = [p for p in route["phases"] if p["outcome"] == "not-attempted"]
        assert len(list(table.iter("tr", "skipped"))) == len(skipped)
    bounce = dom.by_id("bounce")
    assert (bounce is not None) == (key == EXPLAIN)
    if bounce is not None:
        assert "4.3.2" in bounce.text() and "confirmed" in bounce.text()
    assert loaded.seconds < 30


def test_demo_expectations_hold_in_the_pages(pages: dict[str, Page]) -> None:
    for demo in DEMO_DOMAINS:
        assert pages[demo.name].doc["diagnosis"]["verdict"] == demo.expect.value
    busy = pages["busy.demo.test"].doc
    assert busy["diagnosis"]["primary"] == "4.3.2"
    assert any(p["outcome"] != "ok" for r in busy["routes"] for p in r["phases"])


def test_hostile_banner_is_shown_as_characters_and_does_nothing(pages: dict[str, Page]) -> None:
    page = pages[HOSTILE]
    loaded = load(page.path)
    assert loaded.console == []
    banners = [td.text() for td in loaded.dom.iter("td", "banner")]
    assert HTML_PAYLOAD in banners  # the 220 reply's text, markup and all
    assert not list(loaded.dom.iter("img")) and not list(loaded.dom.iter("b"))
    text = loaded.dom.text()
    assert "X-<b>BOLD</b>" in text  # the EHLO keyword, as characters


@pytest.mark.parametrize("size", ["390,844", "1280,800"])
def test_screenshots(pages: dict[str, Page], artifacts: Path, size: str) -> None:
    width = int(size.split(",")[0])
    for domain in ("busy.demo.test", HOSTILE):
        shot = artifacts / f"{domain}-{width}.png"
        _chromium(f"--window-size={size}", f"--screenshot={shot}", url=pages[domain].path.as_uri())
        assert _png_size(shot) == tuple(int(n) for n in size.split(","))
        assert shot.stat().st_size > 10_000  # a rendered page, not a blank image
    dark = artifacts / f"busy.demo.test-{width}-dark.png"
    _chromium(
        f"--window-size={size}",
        "--force-dark-mode",
        "--blink-settings=preferredColorScheme=0",
        f"--screenshot={dark}",
        url=pages["busy.demo.test"].path.as_uri(),
    )
    assert dark.read_bytes() != (artifacts / f"busy.demo.test-{width}.png").read_bytes()
    if width == 1280 and os.environ.get("SMTPDIAG_README_SCREENSHOT") == "1":
        # Tall enough to show the verdict, the action and a route's waterfall.
        readme = REPO / "docs/html-report.png"
        _chromium(
            "--window-size=900,1700",
            f"--screenshot={readme}",
            url=pages["busy.demo.test"].path.as_uri(),
        )
        assert _png_size(readme) == (900, 1700)


def test_print_to_pdf(pages: dict[str, Page], artifacts: Path) -> None:
    pdf = artifacts / "busy.demo.test.pdf"
    _chromium(
        "--no-pdf-header-footer", f"--print-to-pdf={pdf}", url=pages["busy.demo.test"].path.as_uri()
    )
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-") and len(data) > 5_000
    assert data.count(b"/Type /Page") - data.count(b"/Type /Pages") >= 1


def test_bulk_summary_page(lab: DemoLab, artifacts: Path) -> None:
    ns = f"{lab.nameserver.address}:{lab.nameserver.port}"
    ports = ",".join(str(p) for p in lab.ports)
    source = artifacts / "domains.txt"
    source.write_text("".join(f"{d.name}\n" for d in DEMO_DOMAINS))
    out, page = artifacts / "bulk.ndjson", artifacts / "bulk.html"
    proc = _cli(
        "bulk",
        str(source),
        "-o",
        str(out),
        "--html",
        str(page),
        "--no-progress",
        *_probe_args(ns, ports, lab.ca_file, "--implicit-tls-ports", str(lab.implicit_tls_port)),
        "--mta-sts-port",
        str(lab.mta_sts_port),
    )
    assert proc.returncode in (0, 1), proc.stderr
    records = [json.loads(line) for line in out.read_text().splitlines()]
    loaded = load(page)
    assert loaded.console == []
    failing = loaded.dom.by_id("failing")
    assert failing is not None
    listed = {tr.find("th").text() for tr in failing.iter("tr") if tr.find("td") is not None}  # type: ignore[union-attr]
    assert listed == {r["domain"] for r in records if r["verdict"] != "healthy"}
    data = loaded.dom.by_id("smtpdiag-bulk")
    assert data is not None
    assert [json.loads(x) for x in data.text().splitlines()] == records
