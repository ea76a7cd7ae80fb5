"""No address outside the ranges this project may send to appears in the tree: not the
build machine's uplink (TEST-NET-1), not the package registries' range (TEST-NET-3), not
a public resolver. A test or example that names one could reach it; documentation
addresses are TEST-NET-2 (198.51.100.0/24), 198.18.0.0/24 and 2001:db8::/32."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Built from parts so that this file does not name them itself.
_FORBIDDEN = re.compile(
    r"\b(?:"
    + "|".join(
        re.escape(".".join(parts)) for parts in (("192", "0", "2", ""), ("203", "0", "113", ""))
    )
    + r")\d"
    + r"|\b(?:"
    + "|".join(re.escape(".".join([n] * 4)) for n in ("8", "1"))
    + r")\b"
)


def _tracked_files() -> list[Path]:
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True, timeout=30
        ).stdout
    except (OSError, subprocess.SubprocessError):
        pytest.skip("not a git checkout")
    return [ROOT / name for name in out.decode().split("\0") if name]


def test_no_outside_address_literal_in_the_tree() -> None:
    hits = []
    for path in _tracked_files():
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if _FORBIDDEN.search(line):
                hits.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()[:100]}")
    assert not hits, "addresses outside the allowed ranges:\n" + "\n".join(hits)
