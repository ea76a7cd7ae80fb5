"""The RFC 3463 / IANA registry and its lookup."""

from __future__ import annotations

import pytest

from smtpdiag.diagnosis import codes
from smtpdiag.model import Severity


def test_registry_covers_the_required_subjects() -> None:
    keys = set(codes.REGISTRY)
    assert "X.0.0" in keys
    assert {f"X.1.{d}" for d in range(11)} <= keys  # incl. X.1.10 (RFC 7505)
    assert {f"X.2.{d}" for d in range(5)} <= keys
    assert {f"X.3.{d}" for d in range(7)} <= keys
    assert {f"X.4.{d}" for d in range(8)} <= keys
    assert {f"X.5.{d}" for d in range(7)} <= keys
    assert {f"X.6.{d}" for d in range(10)} <= keys
    assert {f"X.7.{d}" for d in range(31)} <= keys
    for entry in codes.REGISTRY.values():
        assert entry.title and entry.description and entry.reference
        assert set(entry.classes) <= {"2", "4", "5"} and entry.classes


@pytest.mark.parametrize(
    ("code", "title", "severity", "allowed"),
    [
        ("4.4.2", "Bad connection", Severity.SOFT, True),
        ("5.4.2", "Bad connection", Severity.HARD, False),  # RFC 3463: transient only
        ("5.4.3", "Directory server failure", Severity.HARD, False),
        ("4.3.2", "System not accepting network messages", Severity.SOFT, True),
        ("5.1.10", "Recipient address has null MX", Severity.HARD, True),
        ("2.0.0", "Other undefined Status", Severity.INFO, True),
        ("5.7.1", "Delivery not authorized, message refused", Severity.HARD, True),
    ],
)
def test_lookup_registered(code: str, title: str, severity: Severity, allowed: bool) -> None:
    sc = codes.lookup(code)
    assert sc is not None
    assert sc.registered
    assert sc.title == title
    assert sc.severity is severity
    assert sc.class_allowed is allowed


def test_scope_notes_name_the_differences() -> None:
    for key in ("X.4.2", "X.4.3"):
        note = codes.REGISTRY[key].note
        assert note is not None and "transient" in note
    assert "5.4.4" in (codes.REGISTRY["X.4.4"].note or "")
    assert "4.4.1" in (codes.REGISTRY["X.4.1"].note or "")


def test_unregistered_well_formed_code_gets_class_and_subject() -> None:
    sc = codes.lookup("5.4.316")
    assert sc is not None
    assert not sc.registered
    assert sc.subject_title == "Network and Routing Status"
    assert sc.class_title == "Permanent Failure"
    assert sc.severity is Severity.HARD
    assert "not registered" in sc.title
    odd = codes.lookup("4.9.1")
    assert odd is not None and odd.subject_title == "Unknown subject"


@pytest.mark.parametrize("bad", ["", "5.4", "6.4.2", "5.4.2.1", "5.4.1234", "5 .4.2", "x.4.2"])
def test_lookup_rejects_malformed(bad: str) -> None:
    assert codes.lookup(bad) is None
    assert codes.parse_code(bad) is None


def test_lookup_normalises_leading_zeros() -> None:
    sc = codes.lookup("5.04.002")
    assert sc is not None and sc.code == "5.4.2"


def test_basic_codes() -> None:
    b = codes.lookup_basic(550)
    assert b is not None and b.severity is Severity.HARD and "mailbox unavailable" in b.title
    assert codes.lookup_basic(556) is not None
    odd = codes.lookup_basic(459)
    assert odd is not None and odd.severity is Severity.SOFT
    assert codes.lookup_basic(650) is None
