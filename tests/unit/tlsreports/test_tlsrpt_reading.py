"""Reading TLS reports: RFC 8460's example and large senders' layouts, gzipped and
attached to real MIME messages in an mbox and a maildir; validation naming the field;
hostile reports ending in one error record in bounded time and memory."""

from __future__ import annotations

import copy
import gzip
import io
import json
import time
import tracemalloc
import zlib
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped,unused-ignore]
import pytest
from factories.tlsrpt_cases import (
    google_report,
    gz,
    microsoft_report,
    report_message,
    rfc_example,
    write_maildir,
    write_mbox,
)

from smtpdiag import read_tls_reports
from smtpdiag.report.tlsrpt import dumps_item, dumps_summary
from smtpdiag.tlsreports import SummaryBuilder, TlsReportError, TlsReportRecord
from smtpdiag.tlsreports.parse import MAX_REPORT

ROOT = Path(__file__).resolve().parents[3]
VALIDATOR = jsonschema.Draft202012Validator(
    json.loads((ROOT / "smtpdiag" / "report" / "tlsrpt_schema.json").read_text())
)


def read(*paths: Path | str, stdin: bytes | None = None) -> list[Any]:
    items = list(read_tls_reports(paths, stdin=io.BytesIO(stdin) if stdin is not None else None))
    for item in items:
        VALIDATOR.validate(json.loads(dumps_item(item)))
    return items


def one_error(path: Path) -> TlsReportError:
    items = read(path)
    assert len(items) == 1 and isinstance(items[0], TlsReportError), items
    return items[0]


def test_rfc_example_as_json_and_gzip(tmp_path: Path) -> None:
    (tmp_path / "r.json").write_text(json.dumps(rfc_example(), indent=2))
    (tmp_path / "r.json.gz").write_bytes(gz(rfc_example()))
    plain, gzipped = read(tmp_path / "r.json", tmp_path / "r.json.gz")
    assert isinstance(plain, TlsReportRecord) and isinstance(gzipped, TlsReportRecord)
    assert not plain.duplicate and gzipped.duplicate  # same org and report-id: once
    policy = plain.policies[0]
    assert policy.policy_type == "sts" and policy.policy_domain == "company-y.example"
    assert policy.mx_host == ("*.mail.company-y.example",)
    assert (policy.successful_sessions, policy.failed_sessions) == (5326, 303)
    kinds = [(f.result_type, f.receiving_mx_hostname, f.failed_sessions) for f in policy.failures]
    assert kinds == [
        ("certificate-expired", "mx1.mail.company-y.example", 100),
        ("starttls-not-supported", "mx2.mail.company-y.example", 200),
        ("validation-failure", "mx-backup.mail.company-y.example", 3),
    ]
    assert policy.failures[1].receiving_ip == "198.51.100.56"
    assert policy.failures[2].failure_reason_code == "X509_V_ERR_PROXY_PATH_LENGTH_EXCEEDED"
    assert policy.failures[0].sending_mta_ip == "2001:db8:abcd:12::1"


def _messages() -> list[Any]:
    bad = rfc_example()
    del bad["policies"][0]["summary"]
    return [
        report_message(rfc_example()),
        report_message(google_report("receiver.example"), gzipped=False),
        report_message(microsoft_report("receiver.example")),
        report_message(rfc_example()),  # sent twice
        report_message(bad),
    ]


@pytest.mark.parametrize("layout", ["mbox", "maildir"])
def test_mailbox_of_report_messages(tmp_path: Path, layout: str) -> None:
    if layout == "mbox":
        path = write_mbox(tmp_path / "reports.mbox", _messages())
    else:
        path = write_maildir(tmp_path / "Maildir", _messages())
    items = read(path)
    assert len(items) == 5
    records = [i for i in items if isinstance(i, TlsReportRecord)]
    errors = [i for i in items if isinstance(i, TlsReportError)]
    assert [r.organization for r in records] == [
        "Company-X",
        "Google Inc.",
        "Microsoft Corporation",
        "Company-X",
    ]
    assert [r.duplicate for r in records] == [False, False, False, True]
    assert len(errors) == 1 and errors[0].error == "missing-field"
    assert errors[0].field == "policies[0].summary"
    ms = records[2].policies[0]
    assert ms.policy_type == "no-policy-found" and ms.policy_string == ()
    assert ms.failures[0].receiving_mx_helo == "mx.receiver.example"
    builder = SummaryBuilder()
    for item in items:
        builder.add(item)
    summary = builder.summary()
    VALIDATOR.validate(json.loads(dumps_summary(summary)))
    assert (summary.inputs, summary.reports, summary.duplicates, summary.errors) == (5, 3, 1, 1)
    assert summary.successful_sessions == 5326 + 1204 + 88
    x = next(g for g in summary.policies if g.organization == "Company-X")
    assert x.reports == 1 and x.failed_sessions == 303 and x.failure_rate == round(303 / 5629, 6)
    starttls = next(g for g in summary.failures if g.result_type == "starttls-not-supported")
    assert starttls.receiving_ip == "198.51.100.56" and starttls.failed_sessions == 200
    assert starttls.total_sessions == 5629


def test_counts_add_up_over_days_and_unknown_result_types_are_kept(tmp_path: Path) -> None:
    detail = {
        "result-type": "certificate-host-mismatch",
        "receiving-mx-hostname": "mx2.receiver.example",
        "receiving-ip": "2001:db8::2",
        "failed-session-count": 600,
    }
    odd = {"result-type": "tls-1.0-only", "failed-session-count": 4}
    for day in ("2026-12-01", "2026-12-02"):
        doc = google_report("receiver.example", day, failures=[detail, odd], ok=1000)
        (tmp_path / f"{day}.json.gz").write_bytes(gz(doc))
    builder = SummaryBuilder()
    for item in read(tmp_path):
        builder.add(item)
    summary = builder.summary()
    mismatch, unknown = summary.failures
    assert mismatch.failed_sessions == 1200 and mismatch.reports == 2
    assert (mismatch.start, mismatch.end) == ("2026-12-01T00:00:00Z", "2026-12-02T23:59:59Z")
    assert mismatch.total_sessions == 2000 + 1208
    assert unknown.result_type == "tls-1.0-only" and not unknown.known_result_type
    assert unknown.failed_sessions == 8


def _mutate(path: str, value: Any) -> dict[str, Any]:
    doc = rfc_example()
    keys = path.split("/")
    target: Any = doc
    for k in keys[:-1]:
        target = target[int(k)] if k.isdigit() else target[k]
    last = keys[-1]
    if value is KeyError:
        del target[last]
    else:
        target[int(last) if last.isdigit() else last] = value
    return doc


@pytest.mark.parametrize(
    ("path", "value", "error", "field"),
    [
        ("organization-name", KeyError, "missing-field", "organization-name"),
        ("report-id", 12345, "wrong-type", "report-id"),
        ("date-range", KeyError, "missing-field", "date-range"),
        ("date-range/start-datetime", "yesterday", "bad-value", "date-range.start-datetime"),
        ("date-range/end-datetime", "2016-03-01T00:00:00Z", "bad-value", "date-range"),
        ("policies", {"a": 1}, "wrong-type", "policies"),
        ("policies/0/policy/policy-type", "dane", "bad-value", "policies[0].policy.policy-type"),
        ("policies/0/policy/policy-domain", KeyError, "missing-field", None),
        ("policies/0/policy/policy-string", [1, 2], "wrong-type", None),
        ("policies/0/summary/total-successful-session-count", "5326", "wrong-type", None),
        ("policies/0/summary/total-failure-session-count", -1, "bad-value", None),
        ("policies/0/summary/total-failure-session-count", True, "wrong-type", None),
        ("policies/0/failure-details/0/result-type", KeyError, "missing-field", None),
        ("policies/0/failure-details/1/receiving-ip", "mx2", "bad-value", None),
        ("policies/0/failure-details/2/failed-session-count", 3.5, "wrong-type", None),
        ("policies/0/failure-details/0", "oops", "wrong-type", "policies[0].failure-details[0]"),
    ],
)
def test_malformed_report_is_an_error_naming_the_field(
    tmp_path: Path, path: str, value: Any, error: str, field: str | None
) -> None:
    (tmp_path / "r.json").write_text(json.dumps(_mutate(path, value)))
    err = one_error(tmp_path / "r.json")
    assert err.error == error, err
    expected = field or path.replace("/", ".").replace(".0.", "[0].").replace(".1.", "[1].")
    expected = expected.replace("details.2.", "details[2].").replace(".0", "[0]")
    assert err.field is not None and err.field.replace(".0", "[0]") == expected, err


def test_missing_contact_info_is_tolerated_with_a_warning(tmp_path: Path) -> None:
    (tmp_path / "r.json").write_text(json.dumps(_mutate("contact-info", KeyError)))
    (record,) = read(tmp_path / "r.json")
    assert isinstance(record, TlsReportRecord) and record.warnings == ("contact-info",)


def test_truncated_and_invalid_inputs(tmp_path: Path) -> None:
    data = gz(rfc_example())
    (tmp_path / "cut.json.gz").write_bytes(data[: len(data) // 2])
    (tmp_path / "bad.json.gz").write_bytes(b"\x1f\x8b" + b"not gzip at all" * 10)
    (tmp_path / "cut.json").write_text(json.dumps(rfc_example())[:300])
    (tmp_path / "notutf8.json").write_bytes(b'{"organization-name": "\xff\xfe"}')
    (tmp_path / "list.json").write_text("[1, 2]")
    msg = report_message(rfc_example())
    for part in msg.iter_attachments():
        part.set_payload(b"garbage")  # attached, but not gzip
    (tmp_path / "message.eml").write_bytes(msg.as_bytes())
    (tmp_path / "plain.eml").write_bytes(b"Subject: hi\n\nno report here\n")
    errors = {Path(e.input).name: e for e in read(*sorted(tmp_path.iterdir()))}
    assert errors["cut.json.gz"].error == "bad-gzip" and "truncated" in errors["cut.json.gz"].detail
    assert errors["bad.json.gz"].error == "bad-gzip"
    assert errors["cut.json"].error == "bad-json" and "truncated" in errors["cut.json"].detail
    assert errors["notutf8.json"].error == "bad-json"
    assert errors["list.json"].error == "wrong-type"
    assert errors["message.eml"].error in ("bad-json", "bad-gzip")
    assert errors["plain.eml"].error == "no-report"
    assert all(isinstance(e, TlsReportError) for e in errors.values())


def test_stdin_report_and_stdin_mbox(tmp_path: Path) -> None:
    (record,) = read("-", stdin=gz(rfc_example()))
    assert isinstance(record, TlsReportRecord) and record.input == "-"
    box = write_mbox(tmp_path / "m", [report_message(microsoft_report("r.example"))])
    (record,) = read("-", stdin=box.read_bytes())
    assert isinstance(record, TlsReportRecord) and record.input == "-#1"


# ------------------------------------------------------------------- hostile input


def _bounded(path: Path, *, seconds: float = 5.0, peak: int = 64 << 20) -> TlsReportError:
    tracemalloc.start()
    started = time.monotonic()
    try:
        err = one_error(path)
        _, top = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert time.monotonic() - started < seconds
    assert top < peak, top
    return err


def test_ten_megabytes_of_json(tmp_path: Path) -> None:
    doc = rfc_example()
    doc["padding"] = "x" * (10 << 20)
    (tmp_path / "big.json").write_text(json.dumps(doc))
    err = _bounded(tmp_path / "big.json", peak=3 * MAX_REPORT)
    assert err.error == "too-large"


def test_zip_bomb(tmp_path: Path) -> None:
    # 128 MiB of zeros in ~130 KiB (a 1000:1 ratio): decompression stops at the cap.
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = bytes(1 << 20)
    parts = [comp.compress(chunk) for _ in range(128)]
    (tmp_path / "bomb.json.gz").write_bytes(b"".join(parts) + comp.flush())
    err = _bounded(tmp_path / "bomb.json.gz", peak=3 * MAX_REPORT)
    assert err.error == "too-large"


def test_zip_bomb_in_a_message(tmp_path: Path) -> None:
    bomb = gzip.compress(b"{" + b" " * (64 << 20) + b"}")
    msg = report_message(rfc_example())
    for part in msg.iter_attachments():
        part.set_content(bomb, maintype="application", subtype="tlsrpt+gzip")
    box = write_mbox(tmp_path / "m", [msg])
    err = _bounded(box, peak=4 * MAX_REPORT)
    assert err.error == "too-large"


def test_deep_nesting(tmp_path: Path) -> None:
    (tmp_path / "deep.json").write_bytes(b'{"a":' + b"[" * 1_000_000 + b"]" * 1_000_000 + b"}")
    err = _bounded(tmp_path / "deep.json", peak=3 * MAX_REPORT)
    assert err.error in ("too-deep", "too-large")
    (tmp_path / "deep2.json").write_bytes(b'{"a":' + b"[" * 200_000 + b"]" * 200_000 + b"}")
    assert _bounded(tmp_path / "deep2.json").error == "too-deep"


def test_wrong_types_everywhere(tmp_path: Path) -> None:
    doc = copy.deepcopy(rfc_example())
    doc["policies"][0]["failure-details"] = [None, 1, "x"]
    (tmp_path / "types.json").write_text(json.dumps(doc))
    assert _bounded(tmp_path / "types.json").error == "wrong-type"
    (tmp_path / "huge-int.json").write_text('{"organization-name": ' + "9" * 5000 + "}")
    assert _bounded(tmp_path / "huge-int.json").error == "bad-json"


def _nested(doc: dict[str, Any]) -> bytes:
    from email.mime.application import MIMEApplication
    from email.mime.multipart import MIMEMultipart
    from email.mime.text import MIMEText

    inner = MIMEMultipart("mixed")
    inner.attach(MIMEText("a report\n"))
    part = MIMEApplication(gz(doc), "tlsrpt+gzip")
    inner.attach(part)
    outer = MIMEMultipart("report")
    outer.attach(MIMEText("outer\n"))
    outer.attach(inner)
    return outer.as_bytes()


def test_message_layouts_the_fast_path_leaves_to_the_full_parser(tmp_path: Path) -> None:
    """Nested multiparts, quoted-printable JSON, CRLF line ends and a message cut short
    read the same as the common layout (or give an error record), never nothing."""
    from smtpdiag.tlsreports.parse import _fast_parts

    common = report_message(rfc_example()).as_bytes()
    assert _fast_parts(common) is not None
    nested = _nested(rfc_example())
    assert _fast_parts(nested) is None
    qp = report_message(rfc_example(), gzipped=False)
    for part in qp.iter_attachments():
        del part["Content-Transfer-Encoding"]
        part["Content-Transfer-Encoding"] = "quoted-printable"
        import quopri

        part.set_payload(quopri.encodestring(json.dumps(rfc_example()).encode()).decode())
    crlf = common.replace(b"\n", b"\r\n")
    for name, data in [
        ("nested.eml", nested),
        ("qp.eml", qp.as_bytes()),
        ("crlf.eml", crlf),
        ("common.eml", common),
    ]:
        (tmp_path / name).write_bytes(data)
        (item,) = read(tmp_path / name)
        assert isinstance(item, TlsReportRecord), (name, item)
        assert item.policies[0].successful_sessions == 5326
    (tmp_path / "cut.eml").write_bytes(common[: len(common) - 200])
    (item,) = read(tmp_path / "cut.eml")
    assert isinstance(item, TlsReportError) and item.error in ("bad-gzip", "bad-json")
    assert "gzip" in item.detail
