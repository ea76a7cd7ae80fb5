"""Untrusted text is cleaned once: no escapes, no controls, bounded length."""

from __future__ import annotations

import pytest

from smtpdiag.textsafe import clean


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("plain", "plain"),
        ("a\x1b[31mred\x1b[0m", "ared"),
        ("x\x1b]0;pwned title\x07y", "xy"),
        ("x\x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\", "xlink"),
        ("bidi \u202eevil", "bidi evil"),
        ("nul\x00bell\x07cr\r", "nulbellcr"),
        ("tab\there", "tab here"),
        (b"bytes \xff ok", "bytes \ufffd ok"),
        (None, ""),
    ],
)
def test_clean(raw: str | bytes | None, expected: str) -> None:
    assert clean(raw) == expected


def test_newlines_kept_only_on_request() -> None:
    assert clean("a\nb") == "ab"
    assert clean("a\nb", keep_newlines=True) == "a\nb"


def test_bounded() -> None:
    out = clean("x" * 1_000_000, 100)
    assert len(out) == 100 and out.endswith("...")
