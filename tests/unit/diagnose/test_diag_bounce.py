"""Bounce parsing and explaining: real-world-style fixtures, hostile input, confirmation."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from factories import failed, host, ok, reply, report, resolution, route, routes_for

from smtpdiag import diagnose
from smtpdiag.bounces.bounce import (
    MAX_INPUT,
    ConfirmStatus,
    confirm,
    explain,
    parse_bounce,
    parse_recipients,
)
from smtpdiag.diagnosis import knowledge
from smtpdiag.model import ActionKind, Outcome, Phase, ResolutionKind, Severity

ROOT = Path(__file__).resolve().parents[3]
CASES_DIR = ROOT / "fixtures" / "bounces" / "cases"
MANIFEST: list[dict[str, Any]] = json.loads(
    (ROOT / "fixtures" / "bounces" / "cases.json").read_text(encoding="utf-8")
)
NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def test_manifest_covers_every_fixture_and_the_styles() -> None:
    files = sorted(p.name for p in CASES_DIR.iterdir())
    assert files == sorted(c["file"] for c in MANIFEST)
    assert len(MANIFEST) >= 70
    styles = {c["style"].split("-")[0] for c in MANIFEST}
    assert {
        "postfix",
        "exim",
        "microsoft365",
        "exchange",
        "gmail",
        "yahoo",
        "outlook.com",
        "sendmail",
        "qmail",
        "mdaemon",
        "domino",
        "courier",
        "gmx",
        "german",
        "french",
        "spanish",
        "portuguese",
        "italian",
        "dutch",
        "malformed",
    } <= styles
    assert sum(1 for c in MANIFEST if not c["found"]) >= 3
    # every case states the expected record
    assert all({"code_source", "reason", "decision"} <= set(c) for c in MANIFEST)
    sources = {c["code_source"] for c in MANIFEST}
    assert sources == {"status-field", "diagnostic-code", "body-text", "inferred", "none"}


@pytest.mark.parametrize("case", MANIFEST, ids=[c["file"] for c in MANIFEST])
def test_bounce_fixture(case: dict[str, Any]) -> None:
    raw = (CASES_DIR / case["file"]).read_bytes()
    b = parse_bounce(raw)
    assert b.found is case["found"]
    for key in (
        "basic",
        "enhanced",
        "recipient",
        "domain",
        "remote_mta",
        "remote_address",
        "source",
        "action",
    ):
        if key in case:
            assert getattr(b, key) == case[key], key
    if "codes" in case:
        assert list(b.codes) == case["codes"]
    e = explain(raw, now=NOW)
    assert e.found is case["found"]
    if not case["found"]:
        assert e.summary.startswith("No status code found")
        assert e.code is None and e.action is None and e.knowledge is None
        return
    assert e.severity is not None and e.severity.value == case["severity"]
    assert e.action is not None
    if case.get("enhanced"):
        assert e.code is not None and e.code.code == case["enhanced"]
        assert e.code.registered is case.get("registered", True)
        assert e.summary.startswith(
            f"{case['basic']} {case['enhanced']}" if case.get("basic") else case["enhanced"]
        )
    else:
        assert e.code is None and e.basic is not None and e.basic.code == case["basic"]
        assert "only the basic reply code" in e.summary
    is_seed = e.knowledge is not None and e.knowledge.from_seed
    assert is_seed is case["seed"]
    if "causes" in case:
        k = knowledge.KNOWLEDGE[case["enhanced"]]
        for slug in case["causes"]:
            assert k.cause(slug).text in e.matched_causes, slug
    if "notes_contain" in case:
        assert any(case["notes_contain"] in n for n in e.notes), e.notes


@pytest.mark.parametrize("case", MANIFEST, ids=[c["file"] for c in MANIFEST])
def test_bounce_fixture_record(case: dict[str, Any]) -> None:
    """Where the code came from, the reason and the decision for the address."""
    raw = (CASES_DIR / case["file"]).read_bytes()
    e = explain(raw, now=NOW)
    assert e.bounce.code_source.value == case["code_source"]
    assert e.reason.value == case["reason"]
    assert e.decision.value == case["decision"]
    expected_confidence = {
        "status-field": "high",
        "diagnostic-code": "high",
        "body-text": "medium",
        "inferred": "low",
        "none": None,
    }[case["code_source"]]
    got = e.bounce.confidence.value if e.bounce.confidence else None
    assert got == expected_confidence
    if case["code_source"] == "inferred":
        assert e.bounce.matched_phrase and e.bounce.matched_phrase.lower() in raw.decode(
            "utf-8", "replace"
        ).lower() + (e.bounce.text.lower())
        assert "inferred" in e.summary and "low confidence" in e.summary
    if case["decision"] != "suppress" and e.action is not None:
        assert e.action.kind.value != "suppress"
    if case.get("records"):
        assert len(parse_recipients(raw)) == case["records"]


def test_seed_explanation_carries_the_schedule() -> None:
    e = explain("451 4.4.2 <user@example.com>: Connection failure - connection dropped", now=NOW)
    assert e.knowledge is not None and e.knowledge.code == "4.4.2"
    assert e.action is not None and e.action.kind is ActionKind.RETRY
    assert [a.at for a in e.action.schedule] == [
        "2026-01-01T12:30:00Z",
        "2026-01-01T13:30:00Z",
        "2026-01-01T15:30:00Z",
        "2026-01-01T19:30:00Z",
        "2026-01-02T19:30:00Z",
    ]
    assert e.bounce.domain == "example.com"
    assert e.generated_at == "2026-01-01T12:00:00Z"


def test_hard_seed_code_suppresses_and_notes_rfc_scope() -> None:
    e = explain("550 5.4.2 Bad connection", now=NOW)
    assert e.action is not None and e.action.kind is ActionKind.SUPPRESS
    assert e.code is not None and not e.code.class_allowed
    assert any("transient" in n for n in e.notes)


def test_unknown_soft_code_gets_rfc5321_schedule() -> None:
    e = explain("451 4.7.1 Greylisted, try again in 5 minutes", now=NOW)
    assert e.action is not None and e.action.kind is ActionKind.RETRY
    assert e.action.schedule[0].offset_s == 1800
    assert e.knowledge is None


def test_class_mismatch_is_noted() -> None:
    b = parse_bounce("550 4.2.2 Mailbox full")
    assert b.basic == 550 and b.enhanced == "4.2.2"
    assert any("disagree in class" in n for n in b.notes)


def test_lone_enhanced_code_takes_basic_code_from_its_line() -> None:
    b = parse_bounce("550 Unrouteable address (#5.1.1)")
    assert (b.basic, b.enhanced) == (550, "5.1.1")


# --------------------------------------------------------------------- hostile input


def test_escape_sequences_and_controls_are_removed() -> None:
    e = explain("\x1b[2J\x1b]0;pwned\x07451 4.4.2 <a@example.com>: dropped \u202e\x00")
    assert e.found
    assert "\x1b" not in e.bounce.text and "\u202e" not in e.bounce.text
    assert "\x00" not in e.bounce.text


def test_input_is_bounded_and_truncation_reported() -> None:
    big = "x" * (MAX_INPUT + 10) + "\n550 5.4.2 too late"
    b = parse_bounce(big)
    assert b.truncated and not b.found
    bb = parse_bounce(big.encode())
    assert bb.truncated and not bb.found


@pytest.mark.parametrize(
    "payload",
    [
        "5." * 400_000,
        "4.4." * 250_000,
        "a@" * 400_000,
        ("a" * 60 + ".") * 15_000 + "@",
        "x@" + "a." * 400_000,
        "Status: 5.4.2\n" * 60_000,
        "host " + "a" * 900_000 + " [",
        "550 " * 250_000,
    ],
    ids=["dots", "codes", "ats", "labels", "long-domain", "status-lines", "host", "basics"],
)
def test_hostile_texts_parse_fast(payload: str) -> None:
    start = time.monotonic()
    e = explain(payload)
    assert time.monotonic() - start < 3.0
    assert len(e.bounce.text) <= 1000
    assert e.bounce.recipient is None or len(e.bounce.recipient) <= 254


def test_deeply_nested_mime_does_not_crash() -> None:
    parts = []
    for i in range(400):
        parts.append(f'Content-Type: multipart/mixed; boundary="b{i}"\n\n--b{i}\n')
    text = "MIME-Version: 1.0\n" + "".join(parts) + "\nContent-Type: multipart/report\n"
    e = explain(text)
    assert not e.found


def test_bytes_with_invalid_utf8() -> None:
    e = explain(b"\xff\xfe451 4.4.2 <a@example.com>: dropped \xc3\x28")
    assert e.found and e.bounce.enhanced == "4.4.2"


# --------------------------------------------------------------------- confirm


MX1 = host("mx1.example.com")


def _probe_refused() -> Any:
    # Port 25 refused while 587 answers: the destination refuses the delivery port (a
    # refusal of every port is a dead mail host, 5.4.3).
    return report(
        resolution([MX1], domain="example.com"),
        [
            failed(r, Phase.CONNECT, Outcome.REFUSED) if r.port != 587 else ok(r)
            for r in routes_for(MX1)
        ],
    )


def _probe_healthy() -> Any:
    return report(resolution([MX1], domain="example.com"), [ok(r) for r in routes_for(MX1)])


def test_confirm_same_condition_other_class() -> None:
    e = explain("451 4.4.2 <u@example.com>: connection dropped")
    rep = report(
        resolution([MX1], domain="example.com"),
        [failed(route("mx1.example.com"), Phase.GREETING, Outcome.CLOSED)],
        ports=(25,),
    )
    c = confirm(e, rep)
    assert c.status is ConfirmStatus.CONFIRMED
    assert "the same 4.4.2" in c.summary
    c2 = confirm(explain("550 5.4.2 Bad connection"), rep)
    assert c2.status is ConfirmStatus.CONFIRMED and "same condition" in c2.summary


def test_confirm_refused_matches_542() -> None:
    c = confirm(explain("550 5.4.2 <u@example.com>: port permanently blocked"), _probe_refused())
    assert c.status is ConfirmStatus.CONFIRMED
    assert c.primary == "5.4.2"


def test_not_reproduced_soft_and_hard() -> None:
    soft = confirm(explain("421 4.3.2 try later"), _probe_healthy())
    assert soft.status is ConfirmStatus.NOT_REPRODUCED and "transient" in soft.summary
    hard = confirm(explain("550 5.4.3 routing failure"), _probe_healthy())
    assert hard.status is ConfirmStatus.NOT_REPRODUCED
    assert "re-check before suppressing" in hard.summary


def test_different_problem() -> None:
    rep = report(
        resolution([MX1], domain="example.com"),
        [
            failed(
                route("mx1.example.com"),
                Phase.GREETING,
                Outcome.REPLY,
                reply_=reply(421, "4.3.2 busy"),
            )
        ],
        ports=(25,),
    )
    c = confirm(explain("550 5.4.3 routing failure"), rep)
    assert c.status is ConfirmStatus.DIFFERENT and "4.3.2" in c.summary


def test_not_checkable_for_mailbox_codes() -> None:
    c = confirm(explain("550 5.1.1 user unknown"), _probe_healthy())
    assert c.status is ConfirmStatus.NOT_CHECKABLE and "RCPT" in c.summary
    c2 = confirm(explain("no code here"), _probe_healthy())
    assert c2.status is ConfirmStatus.NOT_CHECKABLE


def test_null_mx_confirmation() -> None:
    null = report(resolution(kind=ResolutionKind.NULL_MX, domain="example.com"))
    assert confirm(explain("556 5.1.10 null MX"), null).status is ConfirmStatus.CONFIRMED
    assert confirm(explain("451 4.4.2 dropped"), null).status is ConfirmStatus.DIFFERENT


def test_confirm_uses_existing_diagnosis() -> None:
    from dataclasses import replace

    rep = _probe_refused()
    rep = replace(rep, diagnosis=diagnose(rep, now=NOW))
    c = confirm(explain("550 5.4.2 blocked"), rep)
    assert c.status is ConfirmStatus.CONFIRMED
    assert c.verdict is not None and c.verdict.value == "failed"
    assert explain("550 5.4.2 blocked").severity is Severity.HARD


def test_confirm_dead_primary_says_another_route_delivers() -> None:
    mx2 = host("mx2.example.com", 20, ("198.51.100.6",), rank=2)
    rep = report(
        resolution([MX1, mx2], domain="example.com"),
        [failed(r, Phase.CONNECT, Outcome.REFUSED) for r in routes_for(MX1)]
        + [ok(r) for r in routes_for(mx2)],
    )
    c = confirm(explain("550 5.4.3 routing failure"), rep)
    assert c.status is ConfirmStatus.CONFIRMED and c.primary is None
    assert "another route delivers now" in c.summary


def test_confirm_own_port_block_only_for_silent_drops() -> None:
    silent = report(
        resolution([MX1], domain="example.com"),
        [failed(routes_for(MX1)[0], Phase.CONNECT, Outcome.TIMEOUT, duration_ms=5000.0)]
        + [ok(r) for r in routes_for(MX1)[1:]],
    )
    c = confirm(explain("550 5.4.2 port blocked"), silent)
    assert c.status is ConfirmStatus.NOT_CHECKABLE and "probably blocks" in c.summary
    refused = report(
        resolution([MX1], domain="example.com"),
        [failed(routes_for(MX1)[0], Phase.CONNECT, Outcome.REFUSED)]
        + [ok(r) for r in routes_for(MX1)[1:]],
    )
    c2 = confirm(explain("550 5.4.2 port blocked"), refused)
    assert c2.status is ConfirmStatus.CONFIRMED and c2.primary == "5.4.2"


# --------------------------------------------------------------------- code forms


@pytest.mark.parametrize(
    ("text", "basic", "enhanced"),
    [
        ("550: 5.2.2 <a@example.org> Mailbox quota exceeded", 550, "5.2.2"),
        ("Reason: ERROR_CODE :550, ERROR_CODE_DESC : User not found.", 550, None),
        ("SMTP failure. ResponseCode 421, Too many connections", 421, None),
        ("Remote host said: 550 sorry, no mailbox here by that name.\n(#5.5.0)", 550, "5.5.0"),
        (
            "5.1.0 - Unknown address error 550-'5.7.1 <a@example.org>... Access denied'",
            550,
            "5.7.1",
        ),
        (
            "returned '451 4.4.0 Primary target said: \"421 4.4.2 Connection dropped\"'",
            421,
            "4.4.2",
        ),
        ("550 5.1.=\n1 x", 550, None),  # a QP soft break is only undone in a QP part
    ],
)
def test_code_forms(text: str, basic: int | None, enhanced: str | None) -> None:
    b = parse_bounce(text)
    assert (b.basic, b.enhanced) == (basic, enhanced)


@pytest.mark.parametrize(
    "text",
    [
        "Received: from mx (MOS 4.1.8-GA) with ESMTP\n\nthe message could not be delivered",
        "X-ML-Server: fml [fml 4.0.3 release]\n\nthe message could not be delivered",
        "X-Mailer: mxl_mta-5.5.0-3\n\nthe message could not be delivered",
        "relay mxl_mta-5.5.0-3 and build 4.1.8-GA, software v5.1.1, fml 4.0.3",
    ],
)
def test_versions_and_headers_are_not_codes(text: str) -> None:
    assert not parse_bounce(text).found


# ------------------------------------------------ the seeds' replies without a code


@pytest.mark.parametrize(
    ("text", "code", "reason", "decision"),
    [
        # seed 4.4.2's typical replies: transient, retried
        ("TLS handshake failed", "4.4.2", "tls", "retry"),
        ("Connection dropped during transmission", "4.4.2", "connection", "retry"),
        ("Connection timeout during handshake", "4.4.2", "connection", "retry"),
        ("Connection failure", "4.4.2", "connection", "retry"),
        # seed 5.4.2's: permanent, the seed says never retry and suppress the address
        ("Connection blocked - port not accessible", "5.4.2", "connection", "suppress"),
        ("Connection blocked by firewall policy", "5.4.2", "connection", "suppress"),
        ("Permanent TLS configuration mismatch", "5.4.2", "tls", "suppress"),
        # seed 5.4.3's
        ("Routing server failure", "5.4.3", "routing", "suppress"),
        ("Intermediate routing server permanently unavailable", "5.4.3", "routing", "suppress"),
        ("Mail routing path includes permanently failed server", "5.4.3", "routing", "suppress"),
        ("Routing infrastructure permanently unavailable", "5.4.3", "routing", "suppress"),
        # 4.3.2's name: transient
        ("System not accepting network messages", "4.3.2", "system", "retry"),
        # "permanent" wording makes the seed's transient form class 5
        ("TLS handshake failed permanently", "5.4.2", "tls", "suppress"),
    ],
)
def test_seed_replies_without_a_code_are_inferred(
    text: str, code: str, reason: str, decision: str
) -> None:
    e = explain(text, now=NOW)
    assert e.found and e.code is not None and e.code.code == code
    assert e.bounce.code_source.value == "inferred" and e.bounce.confidence is not None
    assert e.bounce.confidence.value == "low"
    assert e.bounce.matched_phrase and e.bounce.matched_phrase.lower() in text.lower()
    assert (e.reason.value, e.decision.value) == (reason, decision)


def test_a_delay_notice_keeps_the_permanent_seed_reply_class_5() -> None:
    e = explain("Permanent TLS configuration mismatch; will retry", now=NOW)
    assert e.code is not None and e.code.code == "5.4.2"


@pytest.mark.parametrize(
    ("text", "decision"),
    [
        ("451 4.7.5 TLS is required, but certificate verification failed", "retry"),
        ("454 4.7.0 TLS not available due to local problem", "retry"),
        ("530 5.7.0 Must issue a STARTTLS command first", "fix"),
        # seed 5.4.2: "remove the address at once"; the receiver's TLS will not change
        ("550 5.4.2 Permanent TLS configuration mismatch", "suppress"),
        ("451 4.4.2 TLS handshake failed", "retry"),
    ],
)
def test_tls_replies_have_reason_tls(text: str, decision: str) -> None:
    e = explain(text, now=NOW)
    assert e.bounce.code_source.value == "body-text"
    assert (e.reason.value, e.decision.value) == ("tls", decision)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("550 5.7.1 Relay access denied", "blocked-policy"),
        ("451 4.4.2 Connection dropped", "connection"),
        ("550 5.7.1 Service unavailable; client host blocked using Spamhaus", "spam"),
    ],
)
def test_replies_without_tls_words_keep_their_reason(text: str, reason: str) -> None:
    assert explain(text, now=NOW).reason.value == reason


def test_recipient_after_to_is_taken_not_the_sender() -> None:
    p = parse_bounce("Message from alice@sender.example to dave@example.org: TLS handshake failed")
    assert p.recipient == "dave@example.org"
    p = parse_bounce("alice@sender.example wrote to <dave@example.org>: Connection failure")
    assert p.recipient == "dave@example.org"
