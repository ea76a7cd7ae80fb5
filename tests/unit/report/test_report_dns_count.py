"""The DNS section's count and its list of queries agree: the header said "3 queries"
and listed one, with nothing saying the other two were left out."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace

import pytest
from factories.report_cases import SCENARIOS

from smtpdiag.model import ProbeReport
from smtpdiag.report.text import render_text


def _dns_section(text: str) -> list[str]:
    lines = text.splitlines()
    start = lines.index("DNS")
    end = next(
        i
        for i in range(start + 1, len(lines))
        if lines[i] and lines[i] == lines[i].upper() and not lines[i].startswith(" ")
    )
    return lines[start:end]


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_the_query_count_and_the_list_agree(name: str) -> None:
    make: Callable[[], ProbeReport] = SCENARIOS[name]
    report = replace(make(), diagnosis=None)
    section = _dns_section(render_text(report, width=200))
    counted = re.search(r"(\d+) quer(?:y|ies) in", section[1])
    assert counted is not None, section
    total = int(counted.group(1))
    head = next((i for i, line in enumerate(section) if line.startswith("  Queries:")), None)
    if head is None:
        return
    rows = [line for line in section[head + 3 :] if line.strip()]
    heading = section[head]
    if len(rows) == total:
        assert heading == "  Queries:", heading
    else:
        assert heading.startswith(f"  Queries: {len(rows)} of {total} listed; "), heading
        assert f"the other {total - len(rows)} " in heading, heading
