"""Agreement of ``explain --batch`` with the bounce corpus (fixtures/bounces/corpus).

Run: ``python scripts/corpus_score.py [CORPUS_DIR] [--misses]``. With ``SMTPDIAG_TREE=DIR``
(a tree holding another version's ``smtpdiag/``, e.g. ``git archive main | tar -x -C DIR``)
that version is scored instead, so before and after come from the same corpus and the
same scorer. Works with versions that have no ``notice`` on their records (those read
every notification as a failure).

A message agrees when every expected label holds for its record (the first record, or
the record of each named recipient): ``enhanced`` (the code), ``basic``, ``reason`` and ``kind`` (the
record's ``notice``: ``failed`` unless the manifest says otherwise). Expected labels were written with each
message, not from smtpdiag's rules (see scripts/make_corpus.py).
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import Counter
from pathlib import Path

if os.environ.get("SMTPDIAG_TREE"):
    sys.path.insert(0, os.environ["SMTPDIAG_TREE"])

from smtpdiag.bounces import explain_batch
from smtpdiag.bounces.model import BatchRecord

DEFAULT = Path(__file__).resolve().parent.parent / "fixtures" / "bounces" / "corpus"


def _allowed(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _kind(rec: BatchRecord) -> str:
    kind = getattr(rec, "notice", None)
    return str(kind) if kind is not None else "failed"


def _check(rec: BatchRecord, expect: dict[str, object]) -> list[str]:
    bad = []
    if "enhanced" in expect and str(rec.enhanced) not in _allowed(expect["enhanced"]):
        bad.append(f"enhanced {rec.enhanced} != {expect['enhanced']}")
    if "basic" in expect and rec.basic != expect["basic"]:
        bad.append(f"basic {rec.basic} != {expect['basic']}")
    if "reason" in expect and str(rec.reason) not in _allowed(expect["reason"]):
        bad.append(f"reason {rec.reason} != {expect['reason']}")
    want_kind = str(expect.get("kind", "failed"))
    if _kind(rec) != want_kind:
        bad.append(f"kind {_kind(rec)} != {want_kind}")
    return bad


def score(corpus: Path) -> tuple[dict[str, Counter[str]], list[tuple[str, str, list[str]]], float]:
    manifest = json.loads((corpus / "manifest.json").read_text(encoding="utf-8"))
    per_group: dict[str, Counter[str]] = {}
    misses: list[tuple[str, str, list[str]]] = []
    spent = 0.0
    for entry in manifest["messages"]:
        path = corpus / entry["file"]
        t0 = time.perf_counter()
        items = list(explain_batch([path], input_format="eml"))
        spent += time.perf_counter() - t0
        records = [i for i in items if isinstance(i, BatchRecord)]
        expect = entry["expect"]
        bad: list[str] = []
        if not records:
            bad.append("no record: " + "; ".join(getattr(i, "detail", "") for i in items))
        elif "recipients" in expect:
            for addr, code in expect["recipients"].items():
                rec = next((r for r in records if r.recipient == addr), None)
                if rec is None:
                    bad.append(f"no record for {addr}")
                else:
                    bad += [f"{addr}: {b}" for b in _check(rec, {"enhanced": code})]
        else:
            bad = _check(records[0], expect)
        c = per_group.setdefault(entry["group"], Counter())
        c["total"] += 1
        c["agree"] += not bad
        if bad:
            misses.append((entry["file"], entry["source"], bad))
    return per_group, misses, spent


def main(argv: list[str]) -> int:
    corpus = Path(next((a for a in argv if not a.startswith("-")), DEFAULT))
    per_group, misses, spent = score(corpus)
    total = sum(c["total"] for c in per_group.values())
    agree = sum(c["agree"] for c in per_group.values())
    print(
        f"corpus {corpus.name}: {agree}/{total} agree ({100 * agree / total:.1f}%), {total / spent:.0f} msg/s"
    )
    for group, c in per_group.items():
        print(f"  {group:20} {c['agree']:4}/{c['total']:<4} ({100 * c['agree'] / c['total']:.1f}%)")
    if "--misses" in argv:
        for name, source, bad in misses:
            print(f"MISS {name}: {'; '.join(bad)}  [{source}]")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
