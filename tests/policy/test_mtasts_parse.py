"""The MTA-STS parsers (RFC 8461 3.1, 3.2) and mx matching (4.1): pure, no network.

Every StsProblem member has at least one input that produces it (the last test checks
that), and every valid form has an input that must produce no problem, so a parser that
flags everything fails as surely as one that flags nothing.
"""

from __future__ import annotations

import pytest

from smtpdiag.model import StsMode, StsPolicy, StsProblem, StsRecord
from smtpdiag.policy.mtasts import (
    MAX_POLICY_LINES,
    MAX_STS_MAX_AGE,
    match_mx,
    parse_policy,
    parse_record,
)

P = StsProblem

# ------------------------------------------------------------------ TXT record

RECORD_OK = [
    ("v=STSv1; id=20160831085700Z;", "20160831085700Z"),  # RFC 8461 3.1 example
    ("v=STSv1; id=abc", "abc"),
    ("v=STSv1;id=1", "1"),
    ("v=STSv1 ;  id=A1b2 ; ", "A1b2"),  # *WSP around ";" (sts-field-delim)
    ("v=STSv1;\tid=tab", "tab"),  # WSP includes HTAB
    ("v=STSv1; id=" + "a" * 32, "a" * 32),  # 32 alphanumerics: the most
    ("v=STSv1; id=1; ext_1.x-y=val:ue", "1"),  # an extension field is ignored
    ("v=STSv1; ext=1; id=2", "2"),  # id need not come first among the fields
]


@pytest.mark.parametrize(("text", "record_id"), RECORD_OK)
def test_record_valid(text: str, record_id: str) -> None:
    record = parse_record([text])
    assert record == StsRecord(text=text.replace("\t", " "), id=record_id, problems=())


RECORD_BAD = [
    ("v=STSv1", (P.RECORD_NO_ID,)),
    ("v=STSv1;", (P.RECORD_NO_ID,)),
    ("v=STSv1; ext=1", (P.RECORD_NO_ID,)),
    ("v=STSv1; id=", (P.RECORD_BAD_ID,)),
    ("v=STSv1; id=" + "a" * 33, (P.RECORD_BAD_ID,)),  # more than 32
    ("v=STSv1; id=2016-08-31", (P.RECORD_BAD_ID,)),  # "-" is not alphanumeric
    ("v=STSv1; id=abc def", (P.RECORD_BAD_ID,)),
    ("v=STSv1; id", (P.RECORD_BAD_ID,)),
    ("v=STSv1; id=1; junk", (P.RECORD_SYNTAX,)),  # a field that is not key=value
    ("v=STSv1;; id=1", (P.RECORD_SYNTAX,)),  # an empty field
    ("v=STSv1; id=1; =x", (P.RECORD_SYNTAX,)),
    ("v=STSv1; id=1; e=a;b", (P.RECORD_SYNTAX,)),
    ("v=STSv1 id=1", (P.RECORD_SYNTAX, P.RECORD_NO_ID)),  # no ";" after the version
    ("v=STSv1; id=1; id=2", (P.RECORD_SYNTAX,)),  # two ids
    ("v=STSv1; id=1\x07", (P.RECORD_BAD_ID, P.RECORD_SYNTAX)),
]


@pytest.mark.parametrize(("text", "problems"), RECORD_BAD)
def test_record_problems(text: str, problems: tuple[StsProblem, ...]) -> None:
    record = parse_record([text])
    assert record is not None
    assert record.problems == problems
    assert "\x07" not in record.text  # sanitized


def test_record_id_taken_when_valid() -> None:
    record = parse_record(["v=STSv1; id=1; junk"])
    assert record is not None and record.id == "1"
    record = parse_record(["v=STSv1; id=no-t"])
    assert record is not None and record.id is None


@pytest.mark.parametrize(
    "texts",
    [
        [],
        ["v=spf1 -all"],
        ["V=STSv1; id=1"],  # the version is case-sensitive (%s"v=STSv1")
        ["v=STSv10; id=1"],  # another version
        ["v=STSv2; id=1"],
        [" v=STSv1; id=1"],  # 3.1: records that do not *begin* with v=STSv1
        ["id=1; v=STSv1"],
    ],
)
def test_record_absent(texts: list[str]) -> None:
    assert parse_record(texts) is None


def test_other_txt_records_are_ignored() -> None:
    record = parse_record(["v=spf1 -all", "v=STSv1; id=7", "google-site-verification=x"])
    assert record is not None and record.id == "7" and record.problems == ()


def test_several_sts_records_are_invalid() -> None:
    record = parse_record(["v=STSv1; id=1", "v=spf1 -all", "v=STSv1; id=2"])
    assert record is not None
    assert record.problems == (P.RECORD_MULTIPLE,)
    assert record.id == "1"


def test_record_bounded() -> None:
    record = parse_record(["v=STSv1; id=1; ext=" + "a" * 100_000])
    assert record is not None
    assert len(record.text) <= 300
    assert parse_record(["x"] * 1000 + ["v=STSv1; id=1"]) is None  # only the first 64


# ------------------------------------------------------------------ policy file

GOOD = b"version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\nmx: backupmx.example.com\r\nmax_age: 604800\r\n"


def test_policy_rfc_example() -> None:
    # RFC 8461 3.2's example, CRLF.
    assert parse_policy(GOOD) == StsPolicy(
        version="STSv1",
        mode=StsMode.ENFORCE,
        mx=("mail.example.com", "*.example.net", "backupmx.example.com"),
        max_age=604800,
        problems=(),
    )


@pytest.mark.parametrize("mode", list(StsMode))
def test_policy_each_mode(mode: StsMode) -> None:
    policy = parse_policy(
        f"version: STSv1\nmode: {mode.value}\nmx: mx.test\nmax_age: 86400\n".encode()
    )
    assert policy.mode is mode and policy.problems == ()


@pytest.mark.parametrize(
    "body",
    [
        GOOD.replace(b"\r\n", b"\n"),  # LF only (sts-policy-term = LF / CRLF)
        GOOD.rstrip(b"\r\n"),  # no final line end
        GOOD + b"\r\n",  # a blank line at the end (lenient)
        GOOD.replace(b": ", b":"),  # *WSP after ":" is optional
        GOOD.replace(b": ", b":  \t"),
        GOOD.replace(b"\r\n", b"  \r\n"),  # trailing whitespace
        GOOD + b"future_key: some value with spaces\r\n",  # unknown keys ignored
        GOOD + b"note: caf\xc3\xa9\r\n",  # UTF-8 in an extension value
        GOOD.replace(b"mx: mail.example.com", b"mx: mail.example.com."),  # trailing dot
    ],
)
def test_policy_valid_variants(body: bytes) -> None:
    policy = parse_policy(body)
    assert policy.problems == ()
    assert policy.mode is StsMode.ENFORCE and policy.max_age == 604800
    assert len(policy.mx) == 3


def test_policy_mode_none_needs_no_mx() -> None:
    policy = parse_policy(b"version: STSv1\nmode: none\nmax_age: 0\n")
    assert policy.problems == () and policy.mx == () and policy.max_age == 0


BASE = {"version": "STSv1", "mode": "enforce", "mx": "mx.test", "max_age": "86400"}


def _body(**fields: str | None) -> bytes:
    merged = {**BASE, **fields}
    return "".join(f"{k}: {v}\n" for k, v in merged.items() if v is not None).encode()


POLICY_BAD = [
    # each required field missing
    (_body(version=None), (P.POLICY_NO_VERSION,)),
    (_body(mode=None), (P.POLICY_NO_MODE,)),
    (_body(max_age=None), (P.POLICY_NO_MAX_AGE,)),
    (_body(mx=None), (P.POLICY_NO_MX,)),
    (_body(mx=None, mode="testing"), (P.POLICY_NO_MX,)),
    (b"", (P.POLICY_NO_VERSION, P.POLICY_NO_MODE, P.POLICY_NO_MAX_AGE)),
    # version
    (_body(version="STSv2"), (P.POLICY_BAD_VERSION,)),
    (_body(version="stsv1"), (P.POLICY_BAD_VERSION,)),
    (b"mode: enforce\nversion: STSv1\nmx: mx.test\nmax_age: 1\n", (P.POLICY_VERSION_NOT_FIRST,)),
    (
        b"Version: STSv1\nmode: enforce\nmx: mx.test\nmax_age: 1\n",
        (P.POLICY_NO_VERSION,),
    ),  # keys are case-sensitive
    # mode
    (_body(mode="Enforce"), (P.POLICY_BAD_MODE,)),
    (_body(mode="report"), (P.POLICY_BAD_MODE,)),
    (_body(mode="enforce testing"), (P.POLICY_BAD_MODE,)),
    # max_age: 1*10 DIGIT, at most 31557600
    (_body(max_age="-1"), (P.POLICY_BAD_MAX_AGE,)),
    (_body(max_age="1d"), (P.POLICY_BAD_MAX_AGE,)),
    (_body(max_age="1.5"), (P.POLICY_BAD_MAX_AGE,)),
    (_body(max_age="+5"), (P.POLICY_BAD_MAX_AGE,)),
    (_body(max_age=str(MAX_STS_MAX_AGE + 1)), (P.POLICY_BAD_MAX_AGE,)),
    (_body(max_age="00000000001"), (P.POLICY_BAD_MAX_AGE,)),  # 11 digits
    (_body(max_age="١٢"), (P.POLICY_BAD_MAX_AGE,)),  # Arabic-Indic digits are not DIGIT
    # mx patterns
    (_body(mx="*"), (P.POLICY_BAD_MX,)),
    (_body(mx="*.*.example.com"), (P.POLICY_BAD_MX,)),
    (_body(mx="mx*.example.com"), (P.POLICY_BAD_MX,)),
    (_body(mx="mx..example.com"), (P.POLICY_BAD_MX,)),
    (_body(mx="-mx.example.com"), (P.POLICY_BAD_MX,)),
    (_body(mx="mx_1.example.com"), (P.POLICY_BAD_MX,)),
    (_body(mx="mx.example.com:25"), (P.POLICY_BAD_MX,)),
    (_body(mx="mx." + "a" * 64 + ".com"), (P.POLICY_BAD_MX,)),
    (_body(mx="mx.exämple.com"), (P.POLICY_BAD_MX,)),  # a U-label is not an RFC 5321 Domain
    (_body(mx="mx1.test mx2.test"), (P.POLICY_BAD_MX,)),
    # duplicates
    (_body() + b"mode: testing\n", (P.POLICY_DUPLICATE_KEY,)),
    (_body() + b"max_age: 5\n", (P.POLICY_DUPLICATE_KEY,)),
    (_body() + b"version: STSv1\n", (P.POLICY_DUPLICATE_KEY,)),
    # line syntax
    (_body() + b"no colon here\n", (P.POLICY_LINE_SYNTAX,)),
    (_body() + b" mode: enforce\n", (P.POLICY_LINE_SYNTAX,)),  # leading whitespace
    (_body() + b"mode : enforce\n", (P.POLICY_LINE_SYNTAX,)),  # space before ":"
    (_body() + b"empty:\n", (P.POLICY_LINE_SYNTAX,)),  # a value is required
    (_body() + b"_x: 1\n", (P.POLICY_LINE_SYNTAX,)),  # a key starts alphanumeric
    (_body() + b"k" * 33 + b": 1\n", (P.POLICY_LINE_SYNTAX,)),  # at most 32 characters
    (_body() + b"k: a\tb\n", (P.POLICY_LINE_SYNTAX,)),
    # not text
    (_body() + b"note: \xff\xfe\n", (P.POLICY_NOT_TEXT,)),
    (_body() + b"note: a\x00b\n", (P.POLICY_NOT_TEXT, P.POLICY_LINE_SYNTAX)),
    (_body() + b"note: a\rb\n", (P.POLICY_NOT_TEXT, P.POLICY_LINE_SYNTAX)),  # a lone CR
    (
        b"<html><body>Welcome</body></html>\n",
        (P.POLICY_LINE_SYNTAX, P.POLICY_NO_VERSION, P.POLICY_NO_MODE, P.POLICY_NO_MAX_AGE),
    ),
]


@pytest.mark.parametrize(("body", "problems"), POLICY_BAD)
def test_policy_problems(body: bytes, problems: tuple[StsProblem, ...]) -> None:
    assert parse_policy(body).problems == problems


def test_policy_values_of_bad_fields_are_none() -> None:
    policy = parse_policy(_body(mode="Enforce", max_age="1d", mx="*"))
    assert policy.mode is None and policy.max_age is None and policy.mx == ()
    assert policy.version == "STSv1"
    policy = parse_policy(_body(version="S" * 500))
    assert policy.version is not None and len(policy.version) <= 64
    assert policy.problems == (P.POLICY_BAD_VERSION,)


def test_policy_problems_named_once_first_value_kept() -> None:
    policy = parse_policy(_body() + b"mode: testing\nmode: none\nbad\nbad\n")
    assert policy.problems == (P.POLICY_DUPLICATE_KEY, P.POLICY_LINE_SYNTAX)
    assert policy.mode is StsMode.ENFORCE


def test_policy_bounded() -> None:
    # Lines beyond MAX_POLICY_LINES are not analysed: a mode after them is not seen.
    body = b"version: STSv1\n" + b"x: y\n" * MAX_POLICY_LINES + b"mode: enforce\n"
    assert P.POLICY_NO_MODE in parse_policy(body).problems
    many = _body() + b"".join(b"mx: mx%d.test\n" % i for i in range(5000))
    assert len(parse_policy(many).mx) == 1000


def test_every_problem_has_a_case() -> None:
    seen = {p for _, problems in RECORD_BAD for p in problems}
    seen |= {p for _, problems in POLICY_BAD for p in problems}
    seen.add(P.RECORD_MULTIPLE)  # test_several_sts_records_are_invalid
    assert seen == set(StsProblem)


# ------------------------------------------------------------------ mx matching

MATCHES = [
    (["mail.example.com"], "mail.example.com", "mail.example.com"),
    (["mail.example.com"], "MAIL.Example.COM.", "mail.example.com"),  # case, trailing dot
    (["Mail.Example.com."], "mail.example.com", "Mail.Example.com."),
    (["*.example.net"], "mx1.example.net", "*.example.net"),
    (["*.Example.NET"], "MX1.example.net.", "*.Example.NET"),
    (
        ["a.test", "*.example.net", "mx1.example.net"],
        "mx1.example.net",
        "*.example.net",
    ),  # first match
]
MISSES = [
    (["mail.example.com"], "mail2.example.com"),
    (["*.example.net"], "example.net"),  # the wildcard needs one label
    (["*.example.net"], "a.mx1.example.net"),  # ... and only one (4.1)
    (["*.example.net"], ".example.net"),
    (["*.example.net"], "mx1.example.net.evil.test"),
    (["mail.example.com"], ""),
    ([], "mail.example.com"),
    (["*mail.example.com"], "xmail.example.com"),
    (["*.example.net"], "*.example.net.x"),
]


@pytest.mark.parametrize(("patterns", "host", "expected"), MATCHES)
def test_match(patterns: list[str], host: str, expected: str) -> None:
    assert match_mx(patterns, host) == expected


@pytest.mark.parametrize(("patterns", "host"), MISSES)
def test_no_match(patterns: list[str], host: str) -> None:
    assert match_mx(patterns, host) is None
