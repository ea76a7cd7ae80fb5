"""The phrase table is data (issue 18, item 5): ``bounces/phrases.json``, read by
:mod:`smtpdiag.bounces.reasons`; every row names a known reason and a status code."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from smtpdiag.bounces import reasons
from smtpdiag.bounces.bounce import explain
from smtpdiag.bounces.reasons import CodeSource, Decision
from smtpdiag.model.bounce import Notice, Reason

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

DATA = Path(reasons.__file__).with_name("phrases.json")


def test_phrases_come_from_the_data_file() -> None:
    doc = json.loads(DATA.read_text(encoding="utf-8"))
    rows = [
        (r["lang"], r["pattern"], r["code"], r["reason"])
        for s in doc["sections"]
        for r in s["phrases"]
    ]
    assert [(lang, pat, code, Reason[name]) for lang, pat, code, name in rows] == list(
        reasons.PHRASES
    )
    for _lang, pattern, code, _name in rows:
        re.compile(pattern)
        assert re.fullmatch(r"[45]\.\d{1,3}\.\d{1,3}", code), code


def test_the_module_holds_no_phrase_literal() -> None:
    source = Path(reasons.__file__).read_text(encoding="utf-8")
    assert "_P.EXPIRED" not in source and '"bezorgtijd' not in source


DOC = json.loads(DATA.read_text(encoding="utf-8"))
ROWS = [r for s in DOC["sections"] for r in s["phrases"]]
LANGUAGES = {"en", "de", "fr", "es", "it", "pt", "nl", "ja", "ru"}


def _notification(sentence: str) -> str:
    """A provider's failure notice that states no code: only the row's words."""
    return (
        "From: postmaster@mail.example.test\nTo: news@example.com\nSubject: Undeliverable\n\n"
        f"Your message could not be delivered to <a@example.test>:\n\n{sentence}\n"
    )


def test_every_row_names_its_source_and_an_example() -> None:
    for row in [*ROWS, *DOC["notices"]]:
        assert row["lang"] in LANGUAGES, row
        assert len(row["source"]) > 3 and row["example"].strip(), row


def test_the_issue_families_are_there_in_every_language() -> None:
    """Issue 24, item 4: the common failure kinds in the languages large providers use."""
    families = {
        "user unknown": "USER_UNKNOWN",
        "mailbox full": "MAILBOX_FULL",
        "mailbox disabled": "MAILBOX_DISABLED",
        "message too big": "TOO_BIG",
        "host not found": "DOMAIN",
        "connection": "CONNECTION",
        "tls required": "TLS",
        "spf/dkim/dmarc": "AUTH",
        "greylisting": "RATE_LIMITED",
        "relay, policy, listed": "BLOCKED",
    }
    for family, reason in families.items():
        langs = {r["lang"] for r in ROWS if r["reason"] == reason}
        assert langs == LANGUAGES, (family, LANGUAGES - langs)


@pytest.mark.parametrize("row", ROWS, ids=[f"{r['lang']}-{r['reason']}-{r['code']}" for r in ROWS])
def test_each_row_infers_its_code_from_its_example(row: dict[str, str]) -> None:
    """The example hits its own row first (the order of the table is right for it), and a
    notice built around it is explained with the row's code, marked inferred."""
    lower = row["example"].lower()
    first = next(r for r in ROWS if re.search(r["pattern"], lower))
    assert first is row, (row["example"], first["pattern"])
    e = explain(_notification(row["example"]), now=NOW)
    b = e.bounce
    assert b.code_source is CodeSource.INFERRED and b.matched_phrase
    assert b.enhanced is not None and b.enhanced[1:] == row["code"][1:]
    assert b.notice is Notice.FAILED and b.recipient == "a@example.test"
    assert e.decision is not Decision.KEEP or e.reason is Reason.MAILBOX_FULL


@pytest.mark.parametrize(
    "row", DOC["notices"], ids=[f"{r['lang']}-{r['notice']}" for r in DOC["notices"]]
)
def test_each_notice_row_gives_its_notice_never_suppress(row: dict[str, str]) -> None:
    text = (
        "From: postmaster@mail.example.test\nTo: news@example.com\nSubject: Notice\n\n"
        f"{row['example']}\n\n  a@example.test\n"
    )
    e = explain(text, now=NOW)
    assert e.bounce.notice.value == row["notice"]
    assert e.bounce.recipient == "a@example.test"
    assert e.decision is not Decision.SUPPRESS
    if row["notice"] != "delayed":
        assert e.decision is Decision.KEEP


def test_the_needs_are_derived_from_the_patterns() -> None:
    """Each row's ``needs`` (the literals the reader tests before running the pattern) are
    what scripts/phrase_needs.py derives now, and hold for the row's example."""
    import copy
    import sys

    sys.path.insert(0, str(DATA.parents[2] / "scripts"))
    try:
        import phrase_needs  # type: ignore[import-not-found]
    finally:
        sys.path.pop(0)
    assert phrase_needs.refreshed(copy.deepcopy(DOC)) == DOC
    for row in [*ROWS, *DOC["notices"]]:
        assert row["needs"] and any(n in row["example"].lower() for n in row["needs"]), row


def test_a_row_whose_needs_are_absent_is_not_run() -> None:
    """The prefilter is what makes 140 rows cheap: a text without any row's literal runs
    no pattern at all (none is even compiled)."""
    from smtpdiag.bounces.reasons import _COMPILED, _PHRASE_NEEDS, _absent

    text = "zzz " * 4000
    assert all(_absent(needs, text) for needs in _PHRASE_NEEDS)
    assert reasons.infer(text) is None
    assert len(_COMPILED) == len(_PHRASE_NEEDS) == len(ROWS)


def test_a_coded_bounce_does_not_read_the_phrase_file() -> None:
    """The phrase file (with each row's source and example) is read on first use: a
    one-bounce process with a stated code never reads it."""
    import subprocess
    import sys

    code = (
        "from smtpdiag.bounces import bounce, reasons\n"
        "assert bounce.explain('550 5.7.1 relaying denied for <a@b.test>').found\n"
        "assert reasons._LOADED == [], 'read'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
