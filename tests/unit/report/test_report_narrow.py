"""Narrow terminals: no cell is cut in a way that changes its meaning.

rich ends a cell that does not fit with an ellipsis: at 40 columns the TLS table showed
``TLSv1`` for TLSv1.3 and the route table ports as ``45...``. Tables now stack (one
"header value" block per row) when their columns cannot all fit, so every value is
printed whole. Checked on every golden report at 40, 60 and 80 columns.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from smtpdiag.report.jsonout import loads
from smtpdiag.report.text import render_text

GOLDEN = Path(__file__).resolve().parents[3] / "fixtures" / "golden"
REPORTS = sorted(GOLDEN.glob("*.json"))


@pytest.mark.parametrize("width", [40, 60, 80])
@pytest.mark.parametrize("path", REPORTS, ids=[p.stem for p in REPORTS])
def test_no_cut_values_at_narrow_widths(path: Path, width: int) -> None:
    report = loads(path.read_text())
    out = render_text(report, width=width)
    assert "\u2026" not in out  # rich's ellipsis: a value was cut
    assert all(len(line) <= width for line in out.splitlines())
    tokens = set(re.findall(r"[\w.:\-\[\]]+", out))
    for result in report.routes:
        assert str(result.route.port) in tokens, result.route.port
        if result.tls is not None and result.tls.version:
            assert result.tls.version in tokens, result.tls.version


def test_wide_layout_keeps_the_tables() -> None:
    report = loads((GOLDEN / "dead_primary.json").read_text())
    wide = render_text(report, width=100)
    assert re.search(r"port\s+mode\s+connect", wide)  # one table row per port
    narrow = render_text(report, width=40)
    assert re.search(r"^\s+port\s+25$", narrow, re.M)  # stacked: one block per port
    assert re.search(r"^\s+version\s+TLSv1\.3$", narrow, re.M)
