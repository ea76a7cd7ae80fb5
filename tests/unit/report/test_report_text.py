"""The text view: safe with hostile input, bounded, deterministic, and complete."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from factories.report_cases import (
    SCENARIOS,
    dead_primary,
    greeting_421,
    handmade_diagnosis_421,
    healthy,
    hostile,
    mx_no_address,
    null_mx,
    nxdomain,
    servfail,
    tls_mismatch,
)

from smtpdiag.model import Outcome, Phase, PhaseRecord, ProbeReport
from smtpdiag.report import render_text as lazy_render_text
from smtpdiag.report.text import format_ms, render_text

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def diagnosed_421() -> ProbeReport:
    r = greeting_421()
    return replace(r, diagnosis=handmade_diagnosis_421(r))


def _assert_bounded(out: str, width: int) -> None:
    for line in out.splitlines():
        assert len(line) <= width, line


# ------------------------------------------------------------------- sanitization


@pytest.mark.parametrize("width", [80, 100])
def test_hostile_text_renders_safely_and_bounded(width: int) -> None:
    out = render_text(hostile(), width=width)
    # No terminal control: no ESC, BEL, CR, no bidi override, nothing in Cc/Cf but \n.
    assert "\x1b" not in out
    assert "\x07" not in out and "\r" not in out
    assert "\u202e" not in out and "\u202c" not in out
    assert all(ch == "\n" or ch.isprintable() for ch in out)
    # Markup and emoji codes stay literal text: not interpreted, not eaten.
    assert "[bold]bold[/bold]" in out
    assert "[link=http://evil.invalid]click[/link]" in out
    assert ":thumbs_up:" in out and "\N{THUMBS UP SIGN}" not in out
    assert "mx[bold].hostile.example" in out
    # 10 kB of server text per field shrinks to a bounded view.
    assert "A" * 300 not in out.replace("\n", "").replace(" ", "")
    assert len(out) < 12_000
    assert len(out.splitlines()) < 120
    _assert_bounded(out, width)


def test_hostile_text_with_colour_keeps_only_our_own_escapes() -> None:
    out = render_text(hostile(), width=100, color=True)
    assert ANSI.search(out)  # our styles are there
    plain = ANSI.sub("", out)
    assert "\x1b" not in plain  # and they are the only escapes
    assert "\u202e" not in out
    assert "[bold]bold[/bold]" in plain
    # The server's own colour code survives only as inert text, never as an escape.
    assert "\x1b[31mRED" not in out


def test_unsanitized_multiline_reply_is_one_line_per_field() -> None:
    r = greeting_421()
    rec = r.routes[0].phases[1]
    assert rec.reply is not None
    evil = replace(rec, reply=replace(rec.reply, text="line one\r\nline two\n\x1b]0;title\x07x"))
    route = replace(r.routes[0], phases=(r.routes[0].phases[0], evil))
    out = render_text(replace(r, routes=(route,)), width=100)
    assert "line one | line two | x" in out  # the whole OSC sequence is gone
    assert "\x1b" not in out and "\x07" not in out


# -------------------------------------------------------------------- determinism


def test_colour_off_has_no_escapes_and_colour_on_has_them() -> None:
    report = diagnosed_421()
    plain = render_text(report, width=100)
    coloured = render_text(report, width=100, color=True)
    assert "\x1b" not in plain
    assert "\x1b[" in coloured
    # Same words either way.
    stripped = "\n".join(line.rstrip() for line in ANSI.sub("", coloured).split("\n"))
    assert stripped == plain


def test_environment_does_not_change_the_output(monkeypatch: pytest.MonkeyPatch) -> None:
    report = diagnosed_421()
    before = render_text(report, width=100)
    for name, value in {
        "FORCE_COLOR": "1",
        "COLUMNS": "50",
        "LINES": "10",
        "TERM": "dumb",
        "NO_COLOR": "1",
        "TTY_COMPATIBLE": "1",
        "TTY_INTERACTIVE": "1",
    }.items():
        monkeypatch.setenv(name, value)
    assert render_text(report, width=100) == before


def test_width_none_follows_the_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "72")
    out = render_text(dead_primary())
    assert max(len(line) for line in out.splitlines()) <= 72
    assert out == render_text(dead_primary(), width=72)


def test_width_is_clamped() -> None:
    assert render_text(healthy(), width=5) == render_text(healthy(), width=40)


@pytest.mark.parametrize("width", [40, 60, 80, 100, 160])
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_every_scenario_fits_every_width(name: str, width: int) -> None:
    report = SCENARIOS[name]()
    out = render_text(report, width=width)
    _assert_bounded(out, width)
    assert out.endswith("\n") and not out.endswith("\n\n\n")
    assert report.domain in out.splitlines()[0] or width < 60


def test_lazy_export_is_the_same_function() -> None:
    assert lazy_render_text is render_text


# ------------------------------------------------------------------------ content


def test_probe_only_view_says_so_and_still_shows_evidence() -> None:
    out = render_text(dead_primary(), width=100)
    assert (
        "Verdict: not diagnosed (probe only). 3 of 6 routes work (2 MX hosts, 2 addresses)." in out
    )
    assert "FINDINGS" not in out
    assert "MX mx1.deadprimary.example [198.51.100.21]  preference 10, rank 1, ipv4  0/3 ok" in out
    assert re.search(r"^\s+25 starttls \[5,001\]\s+-", out, re.M)
    assert (
        "mx1.deadprimary.example[198.51.100.21]:25,587,465: connect timeout after 5,001 ms" in out
    )


def test_diagnosed_view_leads_with_verdict_and_findings() -> None:
    out = render_text(diagnosed_421(), width=100)
    lines = out.splitlines()
    assert lines[1].startswith(
        "Verdict: FAILED, persistence transient   primary: 4.3.2 System not accepting"
    )
    assert out.index("FINDINGS") < out.index("DNS") < out.index("ROUTES")
    assert "1. 4.3.2  System not accepting network messages  [soft bounce]" in out
    assert re.search(
        r"\[done\] Test the connection manually\n\s+-> 3 of 3 routes connect, then get 421", out
    )
    assert "[todo] Contact the recipient's IT" in out
    assert re.search(r"retry 1 2026-11-23T07:00:02Z \+1 h after the bounce\s+\(1 h in total\)", out)
    assert re.search(
        r"retry 4 2026-11-24T23:00:02Z \+24 h after the previous \(41 h in total, last\)", out
    )
    assert "If every retry fails: Mark the address temporarily unavailable." in out
    assert "Related codes: 4.7.0" in out


def test_unknown_persistence_is_explained() -> None:
    r = diagnosed_421()
    assert r.diagnosis is not None
    from smtpdiag.model import Persistence

    r = replace(r, diagnosis=replace(r.diagnosis, persistence=Persistence.UNKNOWN))
    out = render_text(r, width=100)
    assert "one probe cannot tell transient from permanent" in out
    assert "Verdict: FAILED, persistence unknown" in out
    # The finding knows more than the verdict: its own persistence is shown.
    assert "[soft bounce; persistence transient]" in out


def test_tls_mismatch_shows_the_certificate_and_the_reason() -> None:
    out = render_text(tls_mismatch(), width=100)
    assert "ok, cert untrusted" in out
    assert "NOT verified: self-signed certificate (X509 error 18)" in out
    assert "name match NO: does not name mx.badcert.example" in out
    assert "EXPIRED 12 d ago" in out
    assert "issuer     CN=localhost.localdomain (self-signed)" in out


def test_no_route_views() -> None:
    assert 'null MX "0 .": the domain accepts no mail (RFC 7505)' in render_text(
        null_mx(), width=100
    )
    out = render_text(nxdomain(), width=100)
    assert "no MX and no address records" in out and "nxdomain" in out
    out = render_text(servfail(), width=100)
    assert "DNS could not answer (MX query: servfail, SERVFAIL from 127.0.0.1@5353)" in out
    assert "No routes probed: DNS failed" in out


def test_mx_without_address_is_visible() -> None:
    out = render_text(mx_no_address(), width=100)
    assert re.search(r"10\s+1 mx-old.noaddr.example no-address \(none\)", out)
    assert re.search(r"A\s+mx-old.noaddr.example nxdomain", out)


def test_failed_quit_is_marked_but_not_the_failure() -> None:
    r = healthy()
    first = r.routes[0]
    quit_rec = first.phases[-1]
    assert quit_rec.phase is Phase.QUIT
    bad_quit = PhaseRecord(Phase.QUIT, Outcome.RESET, quit_rec.start_ms, 1.5, None, "reset")
    route = replace(first, phases=(*first.phases[:-1], bad_quit))
    out = render_text(replace(r, routes=(route,)), width=100)
    assert "Failures" not in out
    assert re.search(r"^\s+25 starttls .* ok$", out, re.M)


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (None, "-"),
        (0.0, "0.00"),
        (0.388, "0.39"),
        (9.994, "9.99"),
        (48.912, "48.9"),
        (999.94, "999.9"),
        (5000.912, "5,001"),
        (123456.0, "123,456"),
    ],
)
def test_format_ms(ms: float | None, text: str) -> None:
    assert format_ms(ms) == text
