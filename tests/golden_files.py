"""Golden files: compare, or in update mode (``SMTPDIAG_UPDATE_GOLDEN=1``) rewrite.

Update mode writes and reports only the files whose content actually changed (or did
not exist), so the failure message lists exactly what to review in ``git diff``;
an unchanged golden passes untouched.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import pytest

__all__ = ["UPDATE", "check_goldens", "update_goldens"]

UPDATE = os.environ.get("SMTPDIAG_UPDATE_GOLDEN") == "1"


def update_goldens(pairs: Iterable[tuple[Path, str]]) -> list[Path]:
    """Write each (path, text) whose file is missing or different; return those written."""
    changed: list[Path] = []
    for path, actual in pairs:
        if path.exists() and path.read_text(encoding="utf-8") == actual:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
        changed.append(path)
    return changed


def check_goldens(*pairs: tuple[Path, str], update: bool = UPDATE, hint: str = "") -> None:
    """Assert each golden equals its text; in update mode rewrite the changed ones and
    fail naming only them (so that they get reviewed)."""
    if update:
        changed = update_goldens(pairs)
        if changed:
            names = ", ".join(p.name for p in changed)
            pytest.fail(
                f"updated {names}: review the diff, then run without SMTPDIAG_UPDATE_GOLDEN"
            )
        return
    for path, actual in pairs:
        if not path.exists():
            pytest.fail(f"missing golden {path}: run with SMTPDIAG_UPDATE_GOLDEN=1 to create it")
        expected = path.read_text(encoding="utf-8")
        assert actual == expected, (
            f"{path.name} differs. If the change is intended, run SMTPDIAG_UPDATE_GOLDEN=1 "
            f"pytest {hint or 'tests'} and review git diff fixtures/golden"
        )
