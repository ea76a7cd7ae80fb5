"""TLS-RPT (RFC 8460): the ``_smtp._tls.<domain>`` TXT record.

RFC 8460 3: a record starts with ``v=TLSRPTv1``; fields are ``key=value`` separated by
``;`` (whitespace around the separator allowed, a trailing one too); ``rua=`` is
required and holds one or more URIs separated by ``,``, each ``mailto:`` or ``https:``.
Other ``key=value`` fields are extensions and ignored. TXT records that do not start
with ``v=TLSRPTv1`` are not TLS-RPT records; with more than one TLS-RPT record, senders
assume the domain publishes none, so that is a problem too.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ..config import ProbeConfig
from ..model import DnsOutcome, TlsRpt, TlsRptProblem, TlsRptStatus
from ..textsafe import clean

__all__ = ["MAX_RUA", "MAX_RECORD_TEXT", "lookup_tls_rpt", "parse_tls_rpt", "record_texts"]

#: At most this many rua URIs are kept (a record is one DNS answer; 16 is plenty).
MAX_RUA = 16
#: Longest record text kept (display and parsing): TXT answers fit in 64 KiB, but a
#: record longer than this is no TLS-RPT record anyone wrote on purpose.
MAX_RECORD_TEXT = 2048
#: Longest URI kept.
_MAX_URI = 512

_VERSION_RE = re.compile(r"v=TLSRPTv1(?:\s*;|\s*$)")
# RFC 8460 3: tlsrpt-ext-name = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")
_KEY_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}")
# tlsrpt-ext-value = 1*(%x21-3A / %x3C / %x3E-7E): printable, no ";" or "=".
_VALUE_RE = re.compile(r"[\x21-\x3a\x3c\x3e-\x7e]+")
# A mailto: URI's address, loosely (RFC 6068): local@domain, no spaces.
_MAILTO_RE = re.compile(r"[^@\s,;]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")


def record_texts(strings: Sequence[Sequence[bytes]]) -> tuple[str, ...]:
    """Each TXT record's character-strings joined (RFC 8460 3, as RFC 7208 3.3), as
    text: undecodable bytes become U+FFFD, so they fail the printable-ASCII check."""
    out = []
    for parts in strings:
        data = b"".join(parts)[: MAX_RECORD_TEXT * 2]
        out.append(data.decode("utf-8", "replace"))
    return tuple(out)


def _uri_ok(uri: str) -> bool:
    if len(uri) > _MAX_URI:
        return False
    try:
        parts = urlsplit(uri)
    except ValueError:
        return False
    scheme = parts.scheme.lower()
    if scheme == "mailto":
        return _MAILTO_RE.fullmatch(parts.path) is not None
    if scheme == "https":
        return bool(parts.hostname) and " " not in uri
    return False


def _not_text(text: str) -> bool:
    # RFC 8460 3: printable ASCII (and tabs), within the length we keep.
    return len(text) > MAX_RECORD_TEXT or any(
        not 0x20 <= ord(c) <= 0x7E and c != "\t" for c in text
    )


def _fields(text: str) -> list[str]:
    """The record's fields after ``v=TLSRPTv1``, stripped of surrounding whitespace."""
    fields = [f.strip(" \t") for f in text[:MAX_RECORD_TEXT].split(";")]
    if fields and fields[-1] == "":
        fields.pop()  # a trailing separator is allowed
    return fields[1:]


@dataclass(slots=True)
class _RptDraft:
    """What :func:`parse_tls_rpt` has read so far (mutable while reading, never returned)."""

    problems: list[TlsRptProblem]
    rua: list[str] = dataclasses.field(default_factory=list)
    seen_rua: bool = False


def _read_rua(draft: _RptDraft, value: str) -> None:
    if draft.seen_rua:
        draft.problems.append(TlsRptProblem.DUPLICATE_RUA)
        return
    draft.seen_rua = True
    for uri in (u.strip(" \t") for u in value.split(",")):
        if not _uri_ok(uri):
            draft.problems.append(TlsRptProblem.BAD_URI)
        elif len(draft.rua) < MAX_RUA:
            draft.rua.append(clean(uri, _MAX_URI))


def _read_field(draft: _RptDraft, text: str) -> None:
    key, sep, value = text.partition("=")
    key, value = key.strip(" \t"), value.strip(" \t")
    if not sep or not _KEY_RE.fullmatch(key) or not value:
        draft.problems.append(TlsRptProblem.SYNTAX)
    elif key == "rua":
        _read_rua(draft, value)
    elif not _VALUE_RE.fullmatch(value):
        draft.problems.append(TlsRptProblem.SYNTAX)
    # else an extension: ignored (RFC 8460 3)


def parse_tls_rpt(texts: Sequence[str]) -> TlsRpt:
    """Judge the TXT strings of ``_smtp._tls.<domain>`` (one string per record).

    Returns a :class:`TlsRpt` without ``query``: ``not-published`` when no string is a
    TLS-RPT record, ``invalid`` with every problem named, else ``valid`` with the rua
    URIs (at most :data:`MAX_RUA`).
    """
    records = [t for t in texts if _VERSION_RE.match(t)]
    if not records:
        return TlsRpt(TlsRptStatus.NOT_PUBLISHED)
    text = records[0]
    draft = _RptDraft(
        problems=[
            *([TlsRptProblem.MULTIPLE] if len(records) > 1 else []),
            *([TlsRptProblem.NOT_TEXT] if _not_text(text) else []),
        ]
    )
    for field in _fields(text):
        _read_field(draft, field)
    if not draft.seen_rua:
        draft.problems.append(TlsRptProblem.NO_RUA)
    unique = tuple(dict.fromkeys(draft.problems))
    return TlsRpt(
        status=TlsRptStatus.INVALID if unique else TlsRptStatus.VALID,
        text=clean(text, MAX_RECORD_TEXT),
        rua=tuple(draft.rua),
        problems=unique,
    )


_NOT_PUBLISHED = (DnsOutcome.NXDOMAIN, DnsOutcome.NODATA)


async def lookup_tls_rpt(
    domain: str, config: ProbeConfig, *, deadline: float, resolver: Any = None
) -> TlsRpt:
    """Look up and judge ``_smtp._tls.<domain>`` with ``resolver`` (default: the
    configured one); ends by ``deadline`` (a ``loop.time()`` value) and never raises on
    a DNS outcome."""
    # Imported here: the resolve stage is the only importer of dnspython.
    from ..resolve.resolver import build_resolver, query_raw

    loop = asyncio.get_running_loop()
    if resolver is None:
        resolver = build_resolver(config.resolver, config.timeouts.dns)
    lifetime = min(config.timeouts.dns, deadline - loop.time())
    raw = await query_raw(resolver, f"_smtp._tls.{domain}", "TXT", lifetime=lifetime)
    q = raw.query
    if q.outcome in _NOT_PUBLISHED:
        return TlsRpt(TlsRptStatus.NOT_PUBLISHED, query=q)
    if q.outcome is not DnsOutcome.OK:
        return TlsRpt(TlsRptStatus.DNS_ERROR, query=q)
    strings = [tuple(getattr(rd, "strings", ())) for rd in raw.records]
    parsed = parse_tls_rpt(record_texts(strings))
    return TlsRpt(parsed.status, q, parsed.text, parsed.rua, parsed.problems)
