"""Bytes -> TLS reports: gzip with a size cap, JSON with caps, RFC 8460 section 4.4
validation, and the report parts of a mail message (section 5.3).

Every problem is an error value naming the field, never an exception: a report that
is corrupt, truncated, oversized or of the wrong shape gives one :class:`TlsReportError`.
"""

from __future__ import annotations

import binascii
import functools
import ipaddress
import json
import re
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
        elif not looks_like_report(data[:64]):
            raise _Invalid(
                TlsReportErrorKind.BAD_JSON,
                None,
                "neither gzip nor JSON (an attachment cut short or wrongly encoded?)",
            )
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


_HEADER_END = re.compile(rb"\r?\n\r?\n")
_TRANSFER = {"base64", "7bit", "8bit", "binary", ""}
_WANTED = {"content-type", "content-transfer-encoding"}


def _split(block: bytes) -> tuple[Message, bytes] | None:
    """Headers and body of a message or part. Only the two headers the fast path reads
    are kept (unfolded, RFC 5322 2.2.3); their parameters are parsed by the stdlib."""
    headers = Message()
    if block.startswith((b"\n", b"\r\n")):  # no header at all (RFC 2046 5.1.1)
        return headers, block.split(b"\n", 1)[1]
    match = _HEADER_END.search(block)
    if match is None:
        return None
    name = ""
    value: list[str] = []
    for line in block[: match.start()].decode("latin-1").splitlines():
        if line[:1] in (" ", "\t") and name:
            value.append(line.strip())
            continue
        if name in _WANTED:
            headers[name] = " ".join(value)
        name, _, first = line.partition(":")
        name = name.strip().lower()
        value = [first.strip()]
    if name in _WANTED:
        headers[name] = " ".join(value)
    return headers, block[match.end() :]


def _fast_parts(data: bytes) -> list[bytes] | None:
    """The report parts of the common layout (RFC 8460 5.3: one multipart/report of
    leaf parts, the report base64 or plain), reading only headers with the parser;
    ``None`` for anything else, which the full MIME parser then reads."""
    top = _split(data)
    if top is None:
        return None
    headers, body = top
    boundary = (
        headers.get_param("boundary") if headers.get_content_maintype() == "multipart" else None
    )
    if not isinstance(boundary, str) or not boundary:
        return None
    delimiter = b"--" + boundary.encode("ascii", "replace")
    chunks = (b"\n" + body).split(b"\n" + delimiter)
    if len(chunks) < 3 or not chunks[-1].startswith(b"--"):
        return None  # no closing delimiter: a cut message, let the full parser judge
    parts: list[bytes] = []
    for chunk in chunks[1:-1]:
        split = _split(chunk.split(b"\n", 1)[1] if b"\n" in chunk else b"")
        if split is None:
            return None
        part, content = split
        ctype = part.get_content_type()
        if part.get_content_maintype() == "multipart":
            return None
        if ctype not in _REPORT_TYPES:
            continue
        encoding = str(part.get("content-transfer-encoding", "")).strip().lower()
        if encoding not in _TRANSFER:
            return None
        if encoding == "base64":
            try:
                parts.append(binascii.a2b_base64(content))
            except binascii.Error:
                return None
        else:
            parts.append(content.removesuffix(b"\n").removesuffix(b"\r"))
    return parts or None


def reports_in(data: bytes, name: str) -> Iterator[TlsReportItem]:
    """The reports of one input item: a report file's bytes, or a mail message with
    reports attached (``application/tlsrpt+gzip``, ``application/tlsrpt+json``)."""
    if looks_like_report(data[:64]):
        yield decode_report(data, name)
        return
    if not data.strip():
        yield TlsReportError(name, TlsReportErrorKind.NO_REPORT, None, "empty input")
        return
    parts = _fast_parts(data)
    if parts is None:
        parts = _report_parts(BytesParser(policy=compat32).parsebytes(data))
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
    normal = _normal_address(text.strip("[]"))
    if normal is None:
        raise _Invalid(
            TlsReportErrorKind.BAD_VALUE, f"{path}.{key}", f"not an IP address: {text[:60]!r}"
        )
    return normal


@functools.lru_cache(maxsize=4096)
def _normal_address(text: str) -> str | None:
    """Normalized address text (senders' and MX addresses repeat across reports)."""
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


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
