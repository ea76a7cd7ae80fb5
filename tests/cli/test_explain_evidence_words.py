"""Issue 18: ``explain`` says what the evidence supports, in words users know.

A code guessed from words is no hard bounce; 4.3.2 never advises removing the address;
the guides are cited by their codes, never as "seeds".
"""

from __future__ import annotations

import pytest

from smtpdiag.cli import main


def _explain(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(["explain", "--width", "100", *argv]) == 0
    out, _ = capsys.readouterr()
    return out


def test_guessed_mailbox_full_is_not_called_a_hard_bounce(
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = _explain(capsys, "Delivery failed: mailbox full")
    head = " ".join(out.split("\n\n", 1)[0].split())
    assert "low confidence" in head
    assert "): hard bounce" not in head
    assert "soft or a hard bounce is not known" in head


def test_432_never_advises_removing_the_address(capsys: pytest.CaptureFixture[str]) -> None:
    out = _explain(capsys, "421 4.3.2 Service not available")
    assert "4.3.2" in out
    assert "removing the address" not in out and "remove the address" not in out.lower()


@pytest.mark.parametrize(
    "text", ["421 4.3.2 Service not available", "550 5.4.3 Routing server failure", "554 5.7.1 no"]
)
def test_no_seed_vocabulary(capsys: pytest.CaptureFixture[str], text: str) -> None:
    out = _explain(capsys, text)
    assert "seed" not in out.lower()
