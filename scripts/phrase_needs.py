"""Write each phrase row's ``needs`` into smtpdiag/bounces/phrases.json.

``needs`` is a list of literal strings such that the row's pattern can only match a
text that contains one of them (``[]``: no such list could be derived). The phrase
reader skips a row whose needs are all absent, a substring test, instead of running its
regular expression over the text: most rows are for another language or another kind of
failure, and Python's regular expressions cost far more per character than ``in``.
Derived from the parsed pattern (the standard library's own parser), so they follow the
pattern; tests/unit/bounces/test_phrases_data.py checks that the file is up to date.

Run: ``python scripts/phrase_needs.py`` after editing a pattern.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

try:
    from re import _constants as C  # type: ignore[attr-defined]
    from re import _parser as P  # type: ignore[attr-defined]
except ImportError:  # Python < 3.11
    import sre_constants as C  # type: ignore[no-redef]
    import sre_parse as P  # type: ignore[no-redef]

DATA = Path(__file__).resolve().parent.parent / "smtpdiag" / "bounces" / "phrases.json"
#: Shorter literals are too common to filter anything (two CJK characters are a word).
MIN_LENGTH = 3


def _weight(literal: str) -> int:
    return len(literal) if literal.isascii() else 2 * len(literal)


def _best(sets: list[set[str]]) -> set[str] | None:
    """The most selective candidate: the one whose shortest literal is longest."""
    good = [s for s in sets if s and min(_weight(x) for x in s) >= MIN_LENGTH]
    if not good:
        return None
    return max(good, key=lambda s: (min(_weight(x) for x in s), -len(s)))


def _needs_of(seq: Any) -> set[str] | None:
    """Literals one of which every match of the sequence contains; ``None`` if unknown."""
    candidates: list[set[str]] = []
    run: list[str] = []

    def flush() -> None:
        if run:
            candidates.append({"".join(run)})
            run.clear()

    for op, av in seq:
        if op is C.LITERAL:
            run.append(chr(av))
            continue
        flush()
        if op is C.SUBPATTERN:
            inner = _needs_of(av[-1])
            if inner is not None:
                candidates.append(inner)
        elif op is C.BRANCH:
            alts = [_needs_of(alt) for alt in av[1]]
            if all(a is not None for a in alts):
                candidates.append(set().union(*alts))  # type: ignore[arg-type]
        elif op in (C.MAX_REPEAT, C.MIN_REPEAT) and av[0] >= 1:
            inner = _needs_of(av[2])
            if inner is not None:
                candidates.append(inner)
    flush()
    return _best(candidates)


def needs(pattern: str) -> list[str]:
    """The sorted needs of ``pattern`` (``[]`` when none can be derived)."""
    found = _needs_of(P.parse(pattern))
    return sorted(found) if found else []


def refreshed(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` with every row's ``needs`` recomputed (placed after ``pattern``)."""

    def row(r: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in r.items():
            if key == "needs":
                continue
            out[key] = value
            if key == "pattern":
                out["needs"] = needs(value)
        return out

    for section in doc["sections"]:
        section["phrases"] = [row(r) for r in section["phrases"]]
    doc["notices"] = [row(r) for r in doc["notices"]]
    return doc


def main() -> int:
    doc = json.loads(DATA.read_text(encoding="utf-8"))
    DATA.write_text(
        json.dumps(refreshed(doc), indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    rows = [r for s in doc["sections"] for r in s["phrases"]] + doc["notices"]
    print(f"{sum(1 for r in rows if r['needs'])} of {len(rows)} rows have needs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
