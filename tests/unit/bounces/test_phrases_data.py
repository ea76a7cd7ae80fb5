"""The phrase table is data (issue 18, item 5): ``bounces/phrases.json``, read by
:mod:`smtpdiag.bounces.reasons`; every row names a known reason and a status code."""

from __future__ import annotations

import json
import re
from pathlib import Path

from smtpdiag.bounces import reasons
from smtpdiag.model.bounce import Reason

DATA = Path(reasons.__file__).with_name("phrases.json")


def test_phrases_come_from_the_data_file() -> None:
    doc = json.loads(DATA.read_text(encoding="utf-8"))
    rows = [
        (r["lang"], r["pattern"], r["code"], r["reason"])
        for s in doc["sections"]
        for r in s["phrases"]
    ]
    assert [(lang, pat, code, Reason[name]) for lang, pat, code, name in rows] == list(
        reasons.PHRASES
    )
    for _lang, pattern, code, _name in rows:
        re.compile(pattern)
        assert re.fullmatch(r"[45]\.\d{1,3}\.\d{1,3}", code), code


def test_the_module_holds_no_phrase_literal() -> None:
    source = Path(reasons.__file__).read_text(encoding="utf-8")
    assert "_P.EXPIRED" not in source and '"bezorgtijd' not in source
