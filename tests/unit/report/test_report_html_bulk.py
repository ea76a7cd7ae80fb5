"""``bulk --html``'s summary page (report/html_bulk.py): the failing domains first by what
they ask for, a providers x codes matrix, every record embedded, remote text as text,
and a 10,000-domain page measured and bounded."""

from __future__ import annotations

import time

from htmldom import parse

from smtpdiag.model import Persistence, Verdict
from smtpdiag.model.bounce import Decision, Reason
from smtpdiag.report.html_bulk import MAX_ROWS, render_bulk_html
from smtpdiag.triage.model import BulkSummary, DomainRecord
from smtpdiag.triage.output import dumps

PAYLOAD = "<script>fetch('//x')</script>"


def _records(n: int) -> list[DomainRecord]:
    out = []
    for i in range(n):
        bad = i % 5 == 0
        out.append(
            DomainRecord(
                domain=f"d{i}.example" if i != 5 else f"d5{PAYLOAD}.example",
                verdict=Verdict.FAILED if bad else Verdict.HEALTHY,
                primary=("4.4.2" if i % 10 else "5.4.4") if bad else None,
                persistence=Persistence.UNKNOWN,
                findings=(),
                decision=(Decision.RETRY if i % 10 else Decision.SUPPRESS)
                if bad
                else Decision.KEEP,
                retry_at="2026-01-01T00:00:00Z" if bad and i % 10 else None,
                reason=Reason.UNKNOWN,
                provider=f"mx{i % 37}.provider.example" if i != 10 else PAYLOAD,
            )
        )
    return out


def _summary(records: list[DomainRecord]) -> BulkSummary:
    return BulkSummary(
        inputs=len(records),
        errors=0,
        domains=len(records),
        recipients=0,
        skipped=0,
        routes_probed=0,
    )


def test_failing_domains_matrix_and_records() -> None:
    records = _records(50)
    lines = [dumps(r) for r in records]
    dom = parse(render_bulk_html(records, _summary(records), lines))
    failing = dom.by_id("failing")
    assert failing is not None
    rows = [tr for tr in failing.iter("tr") if tr.find("td") is not None]
    assert len(rows) == 10
    first = [c.text() for c in rows[0].iter() if c.tag in ("th", "td")]
    assert first[3] == "suppress"  # what asks for most comes first
    matrix = dom.by_id("matrix")
    assert matrix is not None
    heads = [th.text() for th in matrix.iter("th") if th.attrs.get("scope") == "col"]
    assert {"4.4.2", "5.4.4", "none"} <= set(heads)
    data = dom.by_id("smtpdiag-bulk")
    assert data is not None and data.attrs["type"] == "application/x-ndjson"
    import json

    got = [json.loads(x)["domain"] for x in data.text().splitlines()]
    assert got == [r.domain for r in records]
    assert not list(dom.iter("img")) and len(list(dom.iter("script"))) == 1
    assert PAYLOAD in dom.text()  # as characters (domain and provider)


def test_ten_thousand_domains_stay_bounded() -> None:
    records = _records(10_000)
    lines = [dumps(r) for r in records]
    start = time.monotonic()
    page = render_bulk_html(records, _summary(records), lines)
    seconds = time.monotonic() - start
    size = len(page.encode())
    print(f"10,000-domain bulk page: {size / 1e6:.2f} MB in {seconds:.2f} s")
    assert size < 8_000_000 and seconds < 20
    assert page.count("<tr>") <= MAX_ROWS + 100
