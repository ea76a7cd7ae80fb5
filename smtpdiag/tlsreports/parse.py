"""Bytes -> TLS reports: gzip with a size cap, JSON with caps, RFC 8460 section 4.4
validation, and the report parts of a mail message (section 5.3).

Every problem is an error value naming the field, never an exception: a report that
is corrupt, truncated, oversized or of the wrong shape gives one :class:`TlsReportError`.
"""

from __future__ import annotations

import ipaddress
import json
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import Message
from email.parser import BytesParser
from email.policy import compat32
from typing import Any

from ..textsafe import clean
from .model import (
    FailureDetail,
    PolicyType,
    ReportPolicy,
    TlsReportError,
    TlsReportErrorKind,
    TlsReportItem,
    TlsReportRecord,
)

__all__ = [
    "KNOWN_RESULT_TYPES",
    "MAX_ENTRIES",
    "MAX_REPORT",
    "decode_report",
    "gunzip",
    "looks_like_report",
    "reports_in",
    "validate",
]

#: Largest report kept, decompressed (and largest report file read): 4 MiB. Large
#: senders' daily reports for a busy domain are tens of kilobytes.
MAX_REPORT = 4 << 20
#: Most ``policies`` or ``failure-details`` entries read from one report.
MAX_ENTRIES = 10_000
#: Largest session count accepted (far beyond any real day of mail).
_MAX_COUNT = 10**12
#: RFC 8460 section 4.3's result types.
KNOWN_RESULT_TYPES = frozenset(
    {
        "starttls-not-supported",
        "certificate-host-mismatch",
        "certificate-expired",
        "certificate-not-trusted",
        "validation-failure",
        "tlsa-invalid",
        "dnssec-invalid",
        "dane-required",
        "sts-policy-fetch-error",
        "sts-policy-invalid",
        "sts-webpki-invalid",
    }
)
#: Media types of a report part (RFC 8460 section 5.3) and what senders also use.
_REPORT_TYPES = frozenset({"application/tlsrpt+gzip", "application/tlsrpt+json"})
_LOOSE_TYPES = frozenset(
    {"application/gzip", "application/x-gzip", "application/json", "application/octet-stream"}
)
_GZIP_MAGIC = b"\x1f\x8b"
_MAX_MEMBERS = 16


class _Invalid(Exception):
    def __init__(self, kind: TlsReportErrorKind, field: str | None, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind
        self.field = field
        self.detail = detail


def looks_like_report(head: bytes) -> bool:
    """A gzip stream or JSON (an object, or an array that is then the wrong type): a
    report file rather than a message or mailbox."""
    if head.startswith(_GZIP_MAGIC):
        return True
    return head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith((b"{", b"["))


def gunzip(data: bytes, limit: int = MAX_REPORT) -> bytes:
    """Decompress ``data`` (gzip, members concatenated) keeping at most ``limit`` bytes.

    Memory and time stay bounded by ``limit`` whatever the ratio (a zip bomb stops at
    ``limit + 1`` bytes). Raises :class:`_Invalid` (too large, corrupt, truncated).
    """
    out: list[bytes] = []
    size = 0
    rest = data
    for _ in range(_MAX_MEMBERS):
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            chunk = d.decompress(rest, limit + 1 - size)
        except zlib.error as exc:
            raise _Invalid(TlsReportErrorKind.BAD_GZIP, None, f"not valid gzip: {exc}") from None
        size += len(chunk)
        out.append(chunk)
        if size > limit:
            raise _Invalid(
                TlsReportErrorKind.TOO_LARGE, None, f"decompresses to more than {limit} bytes"
            )
        if not d.eof:
            raise _Invalid(TlsReportErrorKind.BAD_GZIP, None, "gzip stream truncated")
        rest = d.unused_data.lstrip(b"\0")
        if not rest:
            return b"".join(out)
    raise _Invalid(TlsReportErrorKind.BAD_GZIP, None, f"more than {_MAX_MEMBERS} gzip members")


def _loads(data: bytes) -> Any:
    if len(data) > MAX_REPORT:
        raise _Invalid(TlsReportErrorKind.TOO_LARGE, None, f"more than {MAX_REPORT} bytes of JSON")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return json.loads(data)
    except RecursionError:
        # The C scanner counts its depth against the recursion limit and unwinds cleanly.
        raise _Invalid(TlsReportErrorKind.TOO_DEEP, None, "JSON nested too deeply") from None
    except UnicodeDecodeError:
        raise _Invalid(TlsReportErrorKind.BAD_JSON, None, "not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        where = "truncated" if exc.pos >= len(data.rstrip()) else f"at byte {exc.pos}"
        raise _Invalid(
            TlsReportErrorKind.BAD_JSON, None, f"not JSON ({where}): {exc.msg}"
        ) from None
    except ValueError as exc:  # e.g. an integer with more digits than int() takes
        raise _Invalid(TlsReportErrorKind.BAD_JSON, None, f"not JSON: {exc}") from None


def decode_report(data: bytes, name: str) -> TlsReportItem:
    """One report file's bytes (gzip or JSON) -> a record or an error record."""
    try:
        if data.startswith(_GZIP_MAGIC):
            data = gunzip(data)
        return validate(_loads(data), name)
    except _Invalid as exc:
        return TlsReportError(name, exc.kind, exc.field, clean(exc.detail, 200))


def _report_parts(msg: Message) -> list[bytes]:
    parts: list[bytes] = []
    for part in msg.walk():
        if part.is_multipart():
            continue
        ctype = part.get_content_type()
        if ctype not in _REPORT_TYPES:
            filename = (part.get_filename() or "").lower()
            if ctype not in _LOOSE_TYPES or not filename.endswith((".json", ".gz")):
                continue
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            parts.append(payload)
        if len(parts) >= MAX_ENTRIES:
            break
    return parts


def reports_in(data: bytes, name: str) -> Iterator[TlsReportItem]:
    """The reports of one input item: a report file's bytes, or a mail message with
    reports attached (``application/tlsrpt+gzip``, ``application/tlsrpt+json``)."""
    if looks_like_report(data[:64]):
        yield decode_report(data, name)
        return
    if not data.strip():
        yield TlsReportError(name, TlsReportErrorKind.NO_REPORT, None, "empty input")
        return
    msg = BytesParser(policy=compat32).parsebytes(data)
    parts = _report_parts(msg)
    if not parts:
        yield TlsReportError(
            name,
            TlsReportErrorKind.NO_REPORT,
            None,
            "no application/tlsrpt+gzip or application/tlsrpt+json part",
        )
        return
    for k, part in enumerate(parts, 1):
        yield decode_report(part, name if len(parts) == 1 else f"{name}!{k}")


# ------------------------------------------------------------------ validation


def _type_name(value: object) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean"}.get(
        type(value), "number" if isinstance(value, int | float) else "null"
    )


def _get(obj: dict[str, Any], key: str, path: str, kind: type, required: bool = True) -> Any:
    where = f"{path}.{key}" if path else key
    if key not in obj or obj[key] is None:
        if required:
            raise _Invalid(TlsReportErrorKind.MISSING_FIELD, where, f"{where} is missing")
        return None
    value = obj[key]
    if kind is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, kind)
    if not ok:
        expected = {dict: "an object", list: "an array", str: "a string", int: "an integer"}
        raise _Invalid(
            TlsReportErrorKind.WRONG_TYPE,
            where,
            f"{where} is {_type_name(value)}, expected {expected[kind]}",
        )
    return value


def _text(obj: dict[str, Any], key: str, path: str, required: bool = True) -> str | None:
    value = _get(obj, key, path, str, required)
    if value is None:
        return None
    text = clean(value, 512).strip()
    if required and not text:
        raise _Invalid(TlsReportErrorKind.BAD_VALUE, f"{path}.{key}" if path else key, "empty")
    return text or None


def _count(obj: dict[str, Any], key: str, path: str) -> int:
    value: int = _get(obj, key, path, int)
    if not 0 <= value <= _MAX_COUNT:
        raise _Invalid(
            TlsReportErrorKind.BAD_VALUE, f"{path}.{key}", f"count out of range: {value}"
        )
    return value


def _instant(obj: dict[str, Any], key: str, path: str) -> str:
    text = _get(obj, key, path, str)
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise _Invalid(
            TlsReportErrorKind.BAD_VALUE,
            f"{path}.{key}",
            f"not an RFC 3339 date-time: {text[:40]!r}",
        )
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _strings(obj: dict[str, Any], key: str, path: str) -> tuple[str, ...]:
    """An optional string or array of strings (``mx-host`` is either in the wild)."""
    value = obj.get(key)
    where = f"{path}.{key}"
    if value is None:
        return ()
    if isinstance(value, str):
        return (clean(value, 512),)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _Invalid(TlsReportErrorKind.WRONG_TYPE, where, f"{where} is not an array of strings")
    return tuple(clean(v, 512) for v in value[:100])


def _host(text: str | None) -> str | None:
    return text.rstrip(".").lower() or None if text is not None else None


def _address(obj: dict[str, Any], key: str, path: str) -> str | None:
    text = _text(obj, key, path, required=False)
    if text is None:
        return None
    try:
        return str(ipaddress.ip_address(text.strip("[]")))
    except ValueError:
        raise _Invalid(
            TlsReportErrorKind.BAD_VALUE, f"{path}.{key}", f"not an IP address: {text[:60]!r}"
        ) from None


def _entries(obj: dict[str, Any], key: str, path: str, required: bool) -> list[Any]:
    value: list[Any] | None = _get(obj, key, path, list, required)
    if value is None:
        return []
    if len(value) > MAX_ENTRIES:
        raise _Invalid(
            TlsReportErrorKind.TOO_LARGE, f"{path}.{key}" if path else key, f"over {MAX_ENTRIES}"
        )
    return value


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Invalid(
            TlsReportErrorKind.WRONG_TYPE,
            where,
            f"{where} is {_type_name(value)}, expected an object",
        )
    return value


def _failure(value: Any, path: str) -> FailureDetail:
    d = _object(value, path)
    result = _text(d, "result-type", path)
    assert result is not None
    return FailureDetail(
        result_type=result.lower() if result.lower() in KNOWN_RESULT_TYPES else result,
        failed_sessions=_count(d, "failed-session-count", path),
        sending_mta_ip=_address(d, "sending-mta-ip", path),
        receiving_mx_hostname=_host(_text(d, "receiving-mx-hostname", path, required=False)),
        receiving_mx_helo=_text(d, "receiving-mx-helo", path, required=False),
        receiving_ip=_address(d, "receiving-ip", path),
        additional_information=_text(d, "additional-information", path, required=False),
        failure_reason_code=_text(d, "failure-reason-code", path, required=False),
    )


def _policy(value: Any, path: str) -> ReportPolicy:
    entry = _object(value, path)
    pp = f"{path}.policy"
    policy = _get(entry, "policy", path, dict)
    raw_type = _text(policy, "policy-type", pp) or ""
    try:
        policy_type = PolicyType(raw_type)
    except ValueError:
        raise _Invalid(
            TlsReportErrorKind.BAD_VALUE,
            f"{pp}.policy-type",
            f"policy-type {raw_type!r} is not sts, tlsa or no-policy-found",
        ) from None
    domain = _host(_text(policy, "policy-domain", pp))
    assert domain is not None
    summary = _get(entry, "summary", path, dict)
    sp = f"{path}.summary"
    details = _entries(entry, "failure-details", path, required=False)
    return ReportPolicy(
        policy_type=policy_type,
        policy_domain=domain,
        policy_string=_strings(policy, "policy-string", pp),
        mx_host=_strings(policy, "mx-host", pp),
        successful_sessions=_count(summary, "total-successful-session-count", sp),
        failed_sessions=_count(summary, "total-failure-session-count", sp),
        failures=tuple(_failure(d, f"{path}.failure-details[{i}]") for i, d in enumerate(details)),
    )


def validate(doc: Any, name: str) -> TlsReportRecord:
    """A parsed JSON document -> a report record; raises :class:`_Invalid` on the first
    field that does not fit RFC 8460 section 4.4."""
    root = _object(doc, "report")
    organization = _text(root, "organization-name", "")
    report_id = _text(root, "report-id", "")
    date_range = _get(root, "date-range", "", dict)
    start = _instant(date_range, "start-datetime", "date-range")
    end = _instant(date_range, "end-datetime", "date-range")
    if end < start:
        raise _Invalid(TlsReportErrorKind.BAD_VALUE, "date-range", "ends before it starts")
    warnings: list[str] = []
    contact = _text(root, "contact-info", "", required=False)
    if contact is None:
        # Required by RFC 8460 4.4, but its absence does not change a single count.
        warnings.append("contact-info")
    policies = _entries(root, "policies", "", required=True)
    assert organization is not None and report_id is not None
    return TlsReportRecord(
        input=name,
        organization=organization,
        report_id=report_id,
        start=start,
        end=end,
        contact_info=contact,
        policies=tuple(_policy(p, f"policies[{i}]") for i, p in enumerate(policies)),
        warnings=tuple(warnings),
    )
