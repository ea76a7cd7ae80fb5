"""``check`` and ``watch`` print text like ``probe``: ``--width`` and ``--color``."""

from __future__ import annotations

import pytest
from factories import health_cases as f
from health_lab import HealthLab

from smtpdiag.cli import main
from smtpdiag.health import evaluate
from smtpdiag.report.health_text import render_health_text


@pytest.mark.parametrize("width", [40, 60, 80])
def test_health_text_wraps_without_cutting(width: int) -> None:
    result = evaluate(f.one_route_down())
    out = render_health_text(result, width=width)
    words = render_health_text(result).split()
    assert out.split() == words  # the same words in the same order: nothing cut
    for line in out.splitlines():
        assert len(line) <= width or " " not in line.strip(), line


def test_check_width_and_color(lab: HealthLab, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["check", "degraded.health.test", *lab.cli_args()]
    assert main([*base, "--width", "40", "--color", "never"]) == 1
    plain = capsys.readouterr().out
    assert "\x1b[" not in plain
    assert all(len(line) <= 40 or " " not in line.strip() for line in plain.splitlines())
    assert main([*base, "--color", "always"]) == 1
    assert "\x1b[33mWARNING\x1b[0m" in capsys.readouterr().out
    assert main([*base, "--width", "10"]) == 2


def test_watch_width_and_color(lab: HealthLab, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["watch", "ok.health.test", "--count", "1", "--interval", "0.1", *lab.cli_args()]
    assert main([*base, "--width", "40", "--color", "always"]) == 0
    out = capsys.readouterr().out
    assert "health \x1b[32mok\x1b[0m" in out
    visible = out.replace("\x1b[32m", "").replace("\x1b[0m", "")
    assert all(len(line) <= 40 or " " not in line.strip() for line in visible.splitlines())
    assert main([*base, "--color", "never"]) == 0
    assert "\x1b[" not in capsys.readouterr().out
