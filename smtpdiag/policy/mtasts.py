"""MTA-STS (RFC 8461): the ``_mta-sts`` TXT record, the policy file, mx matching, the lookup.

The parsers are pure and total: any input gives a value, with every syntax problem
named as a :class:`~smtpdiag.model.StsProblem`, so the diagnosis can say what an
enforcing sender will object to. :func:`lookup_mta_sts` is the I/O around them: the
TXT question through our resolver, then the HTTPS fetch (:mod:`.fetch`), then the
parse and the match of every MX host.

Strictness follows the RFC's ABNF where a sender would reject the policy (keys are
case-sensitive, ``%s`` in RFC 7405 terms; ``mode`` and ``max_age`` values are exact)
and is lenient where common senders are (blank lines, a trailing dot on an mx
pattern), because a policy reported invalid changes what the diagnosis says.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ..config import ProbeConfig
from ..errors import ProbeError
from ..model import (
    DnsOutcome,
    DnsQuery,
    MtaSts,
    StsFetchError,
    StsMode,
    StsMxMatch,
    StsPolicy,
    StsProblem,
    StsRecord,
    StsStatus,
)
from ..textsafe import clean

__all__ = [
    "MAX_MX_PATTERNS",
    "MAX_POLICY_LINES",
    "MAX_POLICY_PARSE_BYTES",
    "MAX_STS_MAX_AGE",
    "lookup_mta_sts",
    "match_mx",
    "parse_policy",
    "parse_record",
]

#: Largest max_age (RFC 8461 3.2: "maximum value of 31557600", one year).
MAX_STS_MAX_AGE = 31_557_600
#: Lines of a policy analysed; later lines are ignored (a policy is a few lines; the
#: fetch limits the body to ``PolicyConfig.max_policy_bytes`` anyway).
MAX_POLICY_LINES = 10_000
#: Bytes of a policy analysed (the largest ``max_policy_bytes`` a config accepts).
MAX_POLICY_PARSE_BYTES = 1 << 20
#: mx patterns kept from one policy.
MAX_MX_PATTERNS = 1000
#: TXT strings looked at in one answer (the resolver keeps every record; a hostile
#: zone can publish many).
_MAX_TXT_RECORDS = 64
#: Characters of one TXT record kept in :attr:`StsRecord.text`.
_MAX_RECORD_TEXT = 300
#: MX hosts matched at most (the resolve stage looks up at most 20).
_MAX_MX_HOSTS = 64

_DIGITS = frozenset("0123456789")

# RFC 8461 3.1: sts-id = %s"id=" 1*32(ALPHA / DIGIT); sts-ext-name and sts-ext-value.
_ID = re.compile(r"[A-Za-z0-9]{1,32}")
_EXT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,31}")
_EXT_VALUE = re.compile(r"[\x21-\x3a\x3c\x3e-\x7e]+")
# RFC 8461 3.2: sts-policy-ext-name, then ":" and the value with its *WSP (stripped
# with str.strip: a lazy ``(.*?)[ \t]*`` under fullmatch retries the spaces at every
# position, quadratic in a line of spaces, and this runs inside the probe's event loop).
_POLICY_LINE = re.compile(r"([A-Za-z0-9][A-Za-z0-9_.\-]{0,31}):(.*)")
# RFC 5321 4.1.2 sub-domain: Let-dig [Ldh-str], at most 63 octets (RFC 1035 2.3.4).
_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?")


# ------------------------------------------------------------------ TXT record


def _is_sts(text: str) -> bool:
    # RFC 8461 3.1: records that do not begin with "v=STSv1" (case-sensitive) are
    # not MTA-STS records and are discarded. "v=STSv10" is another version.
    if not text.startswith("v=STSv1"):
        return False
    rest = text[len("v=STSv1") :]
    return rest == "" or rest[0] in "; \t"


def _record_problems(text: str) -> tuple[str | None, list[StsProblem]]:
    """The id and the problems of one v=STSv1 record (RFC 8461 3.1 ABNF)."""
    problems: list[StsProblem] = []
    record_id: str | None = None
    ids = 0
    # sts-version 1*(sts-field-delim sts-field) [sts-field-delim]; delim = *WSP ";" *WSP
    fields = [f.strip(" \t") for f in text.split(";")]
    if fields and fields[-1] == "":
        fields.pop()  # one trailing delimiter is allowed
    for field in fields[1:]:
        key, eq, value = field.partition("=")
        if key == "id":
            ids += 1
            if not eq or _ID.fullmatch(value) is None:
                problems.append(StsProblem.RECORD_BAD_ID)
            elif record_id is None:
                record_id = value
        elif not eq or not _EXT_NAME.fullmatch(key) or not _EXT_VALUE.fullmatch(value):
            problems.append(StsProblem.RECORD_SYNTAX)
    if fields and fields[0].strip(" \t") != "v=STSv1":
        problems.append(StsProblem.RECORD_SYNTAX)  # e.g. "v=STSv1 id=1" (no ";")
    if ids == 0:
        problems.append(StsProblem.RECORD_NO_ID)
    elif ids > 1:
        problems.append(StsProblem.RECORD_SYNTAX)  # which id would a sender track?
    return record_id, problems


def _unique(problems: Iterable[StsProblem]) -> tuple[StsProblem, ...]:
    return tuple(dict.fromkeys(problems))


def parse_record(texts: Sequence[str]) -> StsRecord | None:
    """The MTA-STS record among the TXT strings of ``_mta-sts.<domain>``.

    Each item is one TXT record's strings already joined (RFC 8461 3.1: "records
    consisting of multiple strings ... are concatenated"). Records that do not begin
    with ``v=STSv1`` are ignored (SPF and other records may share the name).

    Returns:
        ``None`` when no record begins with ``v=STSv1``; otherwise the first one with
        its id and problems. More than one v=STSv1 record is ``record-multiple``
        (senders then assume no policy).
    """
    sts = [t for t in texts[:_MAX_TXT_RECORDS] if _is_sts(t)]
    if not sts:
        return None
    text = sts[0]
    record_id, problems = _record_problems(text[: _MAX_RECORD_TEXT * 4])
    if len(sts) > 1:
        problems.insert(0, StsProblem.RECORD_MULTIPLE)
    if any(not ch.isprintable() and ch != "\t" for ch in text):
        problems.append(StsProblem.RECORD_SYNTAX)
    return StsRecord(
        text=clean(text, _MAX_RECORD_TEXT),
        id=record_id,
        problems=_unique(problems),
    )


# ------------------------------------------------------------------ policy file


def _mx_pattern_ok(value: str) -> bool:
    # RFC 8461 3.2: sts-policy-mx-value = ["*."] Domain (RFC 5321 Domain, ASCII).
    name = value[2:] if value.startswith("*.") else value
    if name.endswith("."):
        name = name[:-1]  # lenient: a trailing dot names the same host
    if not name or len(name) > 253:
        return False
    return all(_LABEL.fullmatch(label) for label in name.split("."))


def _value_ok(value: str) -> bool:
    # sts-policy-ext-value: visible characters (UTF-8 allowed), inner spaces only.
    return bool(value) and all(ch == " " or (ch.isprintable() and not ch.isspace()) for ch in value)


def _lines(body: bytes) -> tuple[list[str], bool]:
    """The body's lines (LF or CRLF, RFC 8461 3.2 sts-policy-term) and whether it is
    text at all: UTF-8 without control characters other than the line ends."""
    data = body[:MAX_POLICY_PARSE_BYTES]
    try:
        text = data.decode("utf-8")
        is_text = True
    except UnicodeDecodeError as exc:
        # A cut in the middle of a character at the limit is ours, not the policy's.
        is_text = len(body) > MAX_POLICY_PARSE_BYTES and exc.start >= len(data) - 3
        text = data.decode("utf-8", "replace")
    lines: list[str] = []
    for raw in text.split("\n", MAX_POLICY_LINES)[:MAX_POLICY_LINES]:
        line = raw[:-1] if raw.endswith("\r") else raw
        if any(not ch.isprintable() and ch != "\t" for ch in line):
            is_text = False
        lines.append(line)
    return lines, is_text


@dataclass(slots=True)
class _PolicyDraft:
    """What :func:`parse_policy` has read so far (mutable while reading, never returned)."""

    version: str | None = None
    mode: StsMode | None = None
    max_age: int | None = None
    mx: list[str] = dataclasses.field(default_factory=list)
    mx_lines: int = 0
    seen: set[str] = dataclasses.field(default_factory=set)
    problems: list[StsProblem] = dataclasses.field(default_factory=list)
    first: bool = True


def _read_version(draft: _PolicyDraft, value: str) -> None:
    # The contract: "version" comes first, as in every example of 3.2 and 3.1's
    # rule for the TXT record.
    if not draft.first:
        draft.problems.append(StsProblem.POLICY_VERSION_NOT_FIRST)
    draft.version = clean(value, 64)
    if value != "STSv1":
        draft.problems.append(StsProblem.POLICY_BAD_VERSION)


def _read_mode(draft: _PolicyDraft, value: str) -> None:
    try:
        draft.mode = StsMode(value)
    except ValueError:
        draft.problems.append(StsProblem.POLICY_BAD_MODE)


def _read_max_age(draft: _PolicyDraft, value: str) -> None:
    # sts-policy-max-age-value = 1*10(DIGIT), at most 31557600 (3.2).
    if 1 <= len(value) <= 10 and set(value) <= _DIGITS and int(value) <= MAX_STS_MAX_AGE:
        draft.max_age = int(value)
    else:
        draft.problems.append(StsProblem.POLICY_BAD_MAX_AGE)


def _read_mx(draft: _PolicyDraft, value: str) -> None:
    draft.mx_lines += 1
    if not _mx_pattern_ok(value):
        draft.problems.append(StsProblem.POLICY_BAD_MX)
    elif len(draft.mx) < MAX_MX_PATTERNS:
        draft.mx.append(value)


#: The known keys (case-sensitive) and their readers; any other key is ignored (3.2).
_KEY_READERS: dict[str, Callable[[_PolicyDraft, str], None]] = {
    "version": _read_version,
    "mode": _read_mode,
    "max_age": _read_max_age,
    "mx": _read_mx,
}

#: Keys that appear exactly once, with the problem named when one is missing.
_SINGLE_KEYS: dict[str, StsProblem] = {
    "version": StsProblem.POLICY_NO_VERSION,
    "mode": StsProblem.POLICY_NO_MODE,
    "max_age": StsProblem.POLICY_NO_MAX_AGE,
}


def _read_line(draft: _PolicyDraft, line: str) -> None:
    match = _POLICY_LINE.fullmatch(line)
    value = match.group(2).strip(" \t") if match is not None else ""
    if match is None or not _value_ok(value):
        draft.problems.append(StsProblem.POLICY_LINE_SYNTAX)
        return
    key = match.group(1)
    if key in _SINGLE_KEYS:
        if key in draft.seen:
            draft.problems.append(StsProblem.POLICY_DUPLICATE_KEY)
            return
        draft.seen.add(key)
    reader = _KEY_READERS.get(key)
    if reader is not None:
        reader(draft, value)


def _missing(draft: _PolicyDraft) -> list[StsProblem]:
    missing = [problem for key, problem in _SINGLE_KEYS.items() if key not in draft.seen]
    # 3.2: mx is "required unless mode is none"; a bad mx line already counts.
    if draft.mode in (StsMode.ENFORCE, StsMode.TESTING) and not draft.mx_lines:
        missing.append(StsProblem.POLICY_NO_MX)
    return missing


def parse_policy(body: bytes) -> StsPolicy:
    """Parse an MTA-STS policy file (RFC 8461 3.2): ``key: value`` lines.

    Known keys are case-sensitive (``version``, ``mode``, ``max_age``, ``mx``);
    other keys are ignored (3.2: "unknown fields SHOULD be ignored"). Blank lines are
    skipped. Only the first :data:`MAX_POLICY_LINES` lines and
    :data:`MAX_POLICY_PARSE_BYTES` bytes are analysed.

    Returns:
        The values found (``None`` for a missing or invalid one; ``mx`` holds the valid
        patterns as written) and every problem, each named once, in the order found.
    """
    lines, is_text = _lines(body)
    draft = _PolicyDraft()
    if not is_text:
        draft.problems.append(StsProblem.POLICY_NOT_TEXT)
    for line in lines:
        if not line.strip(" \t"):
            continue  # lenient: blank lines, e.g. a final empty line
        _read_line(draft, line)
        draft.first = False
    return StsPolicy(
        version=draft.version,
        mode=draft.mode,
        mx=tuple(draft.mx),
        max_age=draft.max_age,
        problems=_unique([*draft.problems, *_missing(draft)]),
    )


# ------------------------------------------------------------------ mx matching


def _host_key(name: str) -> str:
    return name.strip().rstrip(".").lower()


def match_mx(patterns: Sequence[str], host: str) -> str | None:
    """The first pattern that covers the MX ``host`` (RFC 8461 4.1), else ``None``.

    Comparison ignores case and a trailing dot. ``*.example.com`` covers exactly one
    more left-most label: ``mx1.example.com``, but neither ``example.com`` nor
    ``a.mx1.example.com``.
    """
    name = _host_key(host)
    if not name:
        return None
    for pattern in patterns:
        want = _host_key(pattern)
        if want.startswith("*."):
            head, dot, rest = name.partition(".")
            if head and dot and rest == want[2:]:
                return pattern
        elif want and want == name:
            return pattern
    return None


# ------------------------------------------------------------------ the lookup


def _txt_texts(records: Sequence[object]) -> list[str]:
    texts: list[str] = []
    for rdata in records[:_MAX_TXT_RECORDS]:
        strings = getattr(rdata, "strings", None)
        if not isinstance(strings, tuple):
            continue
        data = b"".join(s for s in strings if isinstance(s, bytes))
        # Bounded: a record longer than this is cut (an _mta-sts record is ~30 bytes).
        texts.append(data[: _MAX_RECORD_TEXT * 8].decode("utf-8", "replace"))
    return texts


_NOT_PUBLISHED = frozenset({DnsOutcome.NXDOMAIN, DnsOutcome.NODATA})

#: Fetch errors that are the policy host's certificate: sts-webpki-invalid (RFC 8460
#: 4.3.2.2); every other one is sts-policy-fetch-error.
_WEBPKI = frozenset(
    {StsFetchError.CERT_UNTRUSTED, StsFetchError.CERT_EXPIRED, StsFetchError.CERT_NAME}
)


async def _record_query(
    domain: str, config: ProbeConfig, deadline: float, resolver: Any = None
) -> tuple[DnsQuery, list[str]]:
    from ..resolve.resolver import build_resolver, query_raw

    name = f"_mta-sts.{domain}"
    lifetime = min(config.timeouts.dns, deadline - asyncio.get_running_loop().time())
    if resolver is None:
        try:
            resolver = build_resolver(config.resolver, lifetime=max(lifetime, 0.01))
        except ProbeError as exc:
            return DnsQuery(name, "TXT", DnsOutcome.ERROR, detail=clean(str(exc), 300)), []
    raw = await query_raw(resolver, name, "TXT", lifetime=lifetime)
    return raw.query, _txt_texts(raw.records)


async def lookup_mta_sts(
    domain: str,
    mx_hosts: Sequence[str],
    config: ProbeConfig,
    *,
    deadline: float,
    resolver: Any = None,
) -> MtaSts:
    """Look up the MTA-STS policy of ``domain`` and match ``mx_hosts`` against it.

    The steps and where each can end: the ``_mta-sts`` TXT record (``not-published``
    on NXDOMAIN, NODATA or no v=STSv1 record; ``dns-error`` on SERVFAIL, REFUSED, a
    timeout; ``record-invalid``), the HTTPS fetch (``fetch-error``, or
    ``webpki-invalid`` for the policy host's certificate), the parse
    (``policy-invalid``, ``valid``). A valid policy's mx patterns are matched against
    every MX host. Never raises on a network or DNS outcome; ends by ``deadline``
    (``not-checked`` when it has passed before the start). ``resolver``: the one for
    the TXT record and the policy host's addresses (a service's answer cache);
    default: the configured one.
    """
    domain = domain.rstrip(".").lower()
    loop = asyncio.get_running_loop()
    if deadline - loop.time() <= 0:
        return MtaSts(StsStatus.NOT_CHECKED)
    query, texts = await _record_query(domain, config, deadline, resolver)
    if query.outcome in _NOT_PUBLISHED:
        return MtaSts(StsStatus.NOT_PUBLISHED, record_query=query)
    if query.outcome is not DnsOutcome.OK:
        return MtaSts(StsStatus.DNS_ERROR, record_query=query)
    record = parse_record(texts)
    if record is None:
        return MtaSts(StsStatus.NOT_PUBLISHED, record_query=query)
    if record.problems:
        return MtaSts(StsStatus.RECORD_INVALID, record_query=query, record=record)
    if deadline - loop.time() <= 0:
        return MtaSts(StsStatus.NOT_CHECKED, record_query=query, record=record)

    from .fetch import fetch_policy

    fetch, body = await fetch_policy(domain, config, deadline=deadline, resolver=resolver)
    if body is None:  # fetch_policy names the error whenever it has no body
        status = StsStatus.WEBPKI_INVALID if fetch.error in _WEBPKI else StsStatus.FETCH_ERROR
        return MtaSts(status, record_query=query, record=record, fetch=fetch)
    policy = parse_policy(body)
    if policy.problems:
        return MtaSts(
            StsStatus.POLICY_INVALID, record_query=query, record=record, fetch=fetch, policy=policy
        )
    hosts = list(dict.fromkeys(_host_key(h) for h in mx_hosts if _host_key(h)))[:_MAX_MX_HOSTS]
    matches = tuple(StsMxMatch(mx=h, pattern=match_mx(policy.mx, h)) for h in hosts)
    return MtaSts(
        StsStatus.VALID,
        record_query=query,
        record=record,
        fetch=fetch,
        policy=policy,
        matches=matches,
    )
