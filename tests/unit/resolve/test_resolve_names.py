"""normalize_domain and is_ip_literal: user input to the canonical domain form."""

from __future__ import annotations

import pytest

from smtpdiag.errors import ConfigError
from smtpdiag.resolve import normalize_domain
from smtpdiag.resolve.names import is_ip_literal


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("example.com", "example.com"),
        ("Example.COM", "example.com"),
        ("example.com.", "example.com"),
        ("  example.com \n", "example.com"),
        ("mail-1.sub.example.org", "mail-1.sub.example.org"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("BÜCHER.example", "xn--bcher-kva.example"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
        ("localhost", "localhost"),
        ("a" * 63 + ".test", "a" * 63 + ".test"),
        ("1.2.3.example", "1.2.3.example"),
    ],
)
def test_valid_domains_are_normalized(text: str, expected: str) -> None:
    assert normalize_domain(text) == expected


def test_normalized_form_is_a_fixed_point() -> None:
    once = normalize_domain("Bücher.Example.")
    assert normalize_domain(once) == once


def test_longest_allowed_name() -> None:
    name = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 61])
    assert len(name) == 253
    assert normalize_domain(name) == name
    with pytest.raises(ConfigError, match="longer than 253"):
        normalize_domain(name + "d")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        (".", "empty"),
        ("example..com", "empty label"),
        (".example.com", "empty label"),
        ("example.com..", "empty label"),
        ("a" * 64 + ".test", "label is longer than 63"),
        ("exa mple.com", "white space"),
        ("example.com\x1b[31m", "control"),
        ("exa\tmple.com", "white space"),
        ("ex_ample.com", "not a host name label"),
        ("-example.com", "not a host name label"),
        ("example-.com", "not a host name label"),
        ("exa/mple.com", "not a host name label"),
        ("198.51.100.1", "IP address"),
        ("[198.51.100.1]", "IP address"),
        ("::1", "IP address"),
        ("[IPv6:2001:db8::1]", "IP address"),
        ("1.2.3", "all digits"),
        ("user@example.com", "e-mail address"),
        ("☃.example", "internationalized"),
    ],
)
def test_invalid_domains_raise_one_line_config_errors(text: str, reason: str) -> None:
    with pytest.raises(ConfigError, match=reason) as info:
        normalize_domain(text)
    message = str(info.value)
    assert "\n" not in message
    assert "\x1b" not in message
    assert message.startswith("invalid domain")


def test_error_message_echo_is_bounded() -> None:
    with pytest.raises(ConfigError) as info:
        normalize_domain("x" * 5000)
    assert len(str(info.value)) < 200


def test_non_text_is_rejected() -> None:
    with pytest.raises(ConfigError, match="must be text"):
        normalize_domain(b"example.com")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "literal"),
    [
        ("198.51.100.1", True),
        ("198.51.100.1.", True),
        ("[198.51.100.1]", True),
        ("::1", True),
        ("[::1]", True),
        ("[IPv6:2001:db8::1]", True),
        ("mx1.example", False),
        ("1.2.3", False),
        ("[mx1.example]", False),
        ("", False),
    ],
)
def test_is_ip_literal(text: str, literal: bool) -> None:
    assert is_ip_literal(text) is literal
