"""``bulk --html FILE``: one self-contained summary page of a bulk run. Pure.

Totals, a providers x primary codes matrix, the domains that are not healthy with their
codes and decisions (those that ask for something first), and every domain's NDJSON
line embedded for tools (``application/x-ndjson``, never executed). The page is the
same kind as the probe report's (report/html.py): Jinja2 with autoescaping, one inline
stylesheet allowed by its hash, nothing else may load or run.

Bounded: the table lists at most :data:`MAX_ROWS` domains (the rest are counted and
are in the embedded lines), so a 10,000-domain run gives a page of a few MB at most.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from ..model import Verdict
from ..textsafe import clean
from ..triage.model import BulkSummary, DomainRecord

__all__ = ["MAX_ROWS", "MAX_PROVIDERS", "render_bulk_html"]

#: Rows of the failing-domains table (more are counted, and are in the embedded lines).
MAX_ROWS = 2000
#: Rows of the providers x codes matrix (the providers with the most domains).
MAX_PROVIDERS = 50
_MAX_CODES = 12
# Those that ask for something first: the order a sender works through the list.
_DECISION_ORDER = {"suppress": 0, "fix": 1, "retry": 2, "keep": 3}


def _matrix(records: Sequence[DomainRecord]) -> tuple[list[str], list[tuple[str, int, list[int]]]]:
    codes = Counter(r.primary or "none" for r in records)
    columns = [c for c, _ in codes.most_common(_MAX_CODES)]
    per: dict[str, Counter[str]] = {}
    for r in records:
        per.setdefault(r.provider, Counter())[r.primary or "none"] += 1
    ranked = sorted(per.items(), key=lambda kv: (-sum(kv[1].values()), kv[0]))
    rows = [
        (clean(p, 120), sum(c.values()), [c.get(code, 0) for code in columns])
        for p, c in ranked[:MAX_PROVIDERS]
    ]
    return columns, rows


def render_bulk_html(
    records: Sequence[DomainRecord], summary: BulkSummary, lines: Sequence[str]
) -> str:
    """The summary page of a bulk run: ``records`` are its domain records, ``lines``
    their NDJSON lines (as written to the output)."""
    from markupsafe import Markup

    from .html import content_security_policy, environment, script_json, stylesheet

    env = environment()
    css, css_hash = stylesheet()
    failing = [r for r in records if r.verdict is not Verdict.HEALTHY]
    failing.sort(key=lambda r: (_DECISION_ORDER.get(r.decision.value, 9), r.domain))
    columns, matrix = _matrix(records)
    totals: list[tuple[str, Any]] = [
        ("domains", summary.domains),
        ("not healthy", len(failing)),
        ("inputs read", summary.inputs),
        ("errors", summary.errors),
        ("routes probed", summary.routes_probed),
        ("seconds", f"{summary.elapsed_s:.1f}"),
    ]
    totals += [
        (f"verdict {k}", v) for k, v in sorted(Counter(r.verdict.value for r in records).items())
    ]
    totals += [(f"decision {k}", v) for k, v in sorted(summary.by_decision.items())]
    if summary.interrupted:
        totals.append(("interrupted", "yes: the input was not read to its end"))
    rows = [
        (
            clean(r.domain, 120),
            r.verdict.value,
            clean(r.primary or "", 16),
            r.decision.value,
            clean(r.retry_at or "", 40),
            r.reason.value,
            clean(r.provider, 120),
        )
        for r in failing[:MAX_ROWS]
    ]
    # One JSON document per line; script_json keeps each inside the data block.
    ndjson = "\n".join(script_json(line) for line in lines)
    text: str = env.get_template("bulk.html.j2").render(
        css=Markup(css),  # our own file
        csp=content_security_policy(css_hash),
        totals=totals,
        columns=columns,
        matrix=matrix,
        rows=rows,
        more=max(len(failing) - MAX_ROWS, 0),
        ndjson=Markup(ndjson),  # escaped for a data block above
    )
    return text
