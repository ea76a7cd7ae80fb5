"""The encoded seed knowledge must match the German seed documents.

The seeds are parsed here, independently of the data module: numbered cause lists,
the "Untersuchungsschritte" section, the 5.4.3 analysis bullets and the retry plans.
Editing a cause, a step or a delay in ``knowledge.py`` without the seed saying so
fails these tests.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from smtpdiag.diagnosis import knowledge
from smtpdiag.model import ActionKind, Severity

ROOT = Path(__file__).resolve().parents[3]
FIXTURE_SEEDS = ROOT / "fixtures" / "bounces" / "seeds"
SHARED_SEEDS = ROOT.parent / "shared" / "seeds"

SEED_FILES = {
    "4.4.2": "000_9535a186f0a30376.txt",
    "5.4.2": "001_680ccbc2858a7e52.txt",
    "4.3.2": "002_bc0807d36aeab382.txt",
    "5.4.3": "003_2140d5bcb7211fbd.txt",
}

# "  1. Verbindung abgebrochen: ..." or '  1. **Dauerhafte Netzwerkprobleme": ...'
_NUMBERED = re.compile(r'^\s*(\d+)\.\s+\**([^:*"]+?)"?\**:\s', re.M)
_BULLET = re.compile(r"^\s*•\s+(.+?)\s*$", re.M)
_RETRY = re.compile(
    r"^\s*(?:•\s*)?(Erster|Zweiter|Dritter|Vierter|Letzter) (?:Wiederholungsversuch|Versuch): "
    r"(\d+) (Minuten|Stunden?) nach",
    re.M,
)


def seed(code: str) -> str:
    return (FIXTURE_SEEDS / SEED_FILES[code]).read_text(encoding="utf-8")


def section(text: str, start: str, end: str | None) -> str:
    i = text.index(start) + len(start)
    j = text.index(end, i) if end else len(text)
    return text[i:j]


def numbered_labels(block: str) -> list[str]:
    items = _NUMBERED.findall(block)
    numbers = [int(n) for n, _ in items]
    assert numbers == list(range(1, len(items) + 1)), numbers
    return [label.strip() for _, label in items]


def retry_seconds(text: str) -> list[int]:
    unit = {"Minuten": 60, "Stunde": 3600, "Stunden": 3600}
    return [int(n) * unit[u] for _, n, u in _RETRY.findall(text)]


@pytest.mark.parametrize("code", sorted(SEED_FILES))
def test_fixture_copies_equal_shared_originals(code: str) -> None:
    original = SHARED_SEEDS / SEED_FILES[code]
    if not original.exists():
        pytest.skip("shared/seeds not present next to the repository")
    assert (FIXTURE_SEEDS / SEED_FILES[code]).read_bytes() == original.read_bytes()


@pytest.mark.parametrize("code", ["4.4.2", "5.4.2", "5.4.3"])
def test_causes_match_seed_list(code: str) -> None:
    labels = numbered_labels(section(seed(code), "Häufige Ursachen", "Wie zu beheben"))
    k = knowledge.KNOWLEDGE[code]
    assert len(labels) == 10
    assert [c.seed_label for c in k.causes] == labels


@pytest.mark.parametrize("code", ["5.4.2", "5.4.3"])
def test_investigation_steps_match_seed(code: str) -> None:
    labels = numbered_labels(section(seed(code), "Untersuchungsschritte", "Verwandte Bounce-Codes"))
    k = knowledge.KNOWLEDGE[code]
    assert len(labels) == 6
    assert [s.seed_label for s in k.steps] == labels
    assert not k.steps_derived
    assert [s.source for s in k.steps] == [f"Untersuchungsschritte {i}" for i in range(1, 7)]


def test_543_mx_and_routing_analysis_match_seed() -> None:
    text = seed("5.4.3")
    mx = _BULLET.findall(section(text, "MX-Record-Analyse", "Routing-Pfad-Analyse"))
    path = _BULLET.findall(section(text, "Verstehen des Routing-Pfads:", None))
    k = knowledge.KNOWLEDGE["5.4.3"]
    assert len(mx) == 4 and len(path) == 4
    assert [s.seed_label for s in k.mx_analysis] == mx
    assert [s.seed_label for s in k.routing_analysis] == path
    assert len(k.all_steps) == 14


@pytest.mark.parametrize("code", ["4.4.2", "4.3.2"])
def test_derived_checklists_cite_the_seed(code: str) -> None:
    text = seed(code)
    k = knowledge.KNOWLEDGE[code]
    assert "Untersuchungsschritte" not in text
    assert k.steps_derived
    assert k.steps
    for step in k.steps:
        assert step.seed_label is not None
        assert step.seed_label in text, step.id


def test_432_causes_come_from_the_meaning_sentence() -> None:
    text = seed("4.3.2")
    for cause in knowledge.KNOWLEDGE["4.3.2"].causes:
        assert cause.seed_label is not None and cause.seed_label in text


@pytest.mark.parametrize(("code", "count"), [("4.4.2", 5), ("4.3.2", 4)])
def test_retry_schedules_match_seed(code: str, count: int) -> None:
    from_seed = retry_seconds(seed(code))
    k = knowledge.KNOWLEDGE[code]
    assert k.retry is not None
    assert len(from_seed) == count
    assert list(k.retry.delays_s) == from_seed


def test_retry_schedule_values() -> None:
    r442 = knowledge.KNOWLEDGE["4.4.2"].retry
    r432 = knowledge.KNOWLEDGE["4.3.2"].retry
    assert r442 is not None and r432 is not None
    assert r442.offsets_s == (1800, 5400, 12600, 27000, 113400)
    assert r432.offsets_s == (3600, 18000, 61200, 147600)
    assert r432.after_schedule is not None and "unavailable" in r432.after_schedule
    assert r442.after_schedule is None


@pytest.mark.parametrize("code", ["5.4.2", "5.4.3"])
def test_hard_seed_codes_never_retry(code: str) -> None:
    k = knowledge.KNOWLEDGE[code]
    assert k.retry is None
    assert k.action_kind is ActionKind.SUPPRESS
    assert k.severity is Severity.HARD
    assert "Niemals erneut versuchen" in seed(code)


@pytest.mark.parametrize(
    ("code", "marketers", "developers", "best"),
    [("4.4.2", "Für E-Mail-Marketer", "Für Entwickler", "Best Practices")],
)
def test_audience_lists_have_seed_lengths(
    code: str, marketers: str, developers: str, best: str
) -> None:
    text = seed(code)
    k = knowledge.KNOWLEDGE[code]
    assert len(numbered_labels(section(text, marketers, developers))) == len(k.actions_marketers)
    assert len(numbered_labels(section(text, developers, "Wiederholungsstrategie"))) == len(
        k.actions_developers
    )
    assert len(numbered_labels(section(text, best, None))) == len(k.best_practices)


@pytest.mark.parametrize("code", ["5.4.2", "5.4.3"])
def test_audience_lists_have_seed_lengths_hard(code: str) -> None:
    text = seed(code)
    k = knowledge.KNOWLEDGE[code]
    assert len(numbered_labels(section(text, "Für E-Mail-Marketer", "Für Entwickler"))) == len(
        k.actions_marketers
    )
    assert len(numbered_labels(section(text, "Für Entwickler", "Untersuchungsschritte"))) == len(
        k.actions_developers
    )
    assert len(
        numbered_labels(
            section(text, "Best Practices", "Technische Details" if code == "5.4.3" else None)
        )
    ) == len(k.best_practices)


def test_432_lists_have_seed_lengths() -> None:
    text = seed("4.3.2")
    k = knowledge.KNOWLEDGE["4.3.2"]
    # The seed lost its list markers: items are "Label: text" lines.
    dev = section(text, "eingehenden Nachrichten akzeptiert.", "Für 4.3.2-Bounces implementieren")
    assert len([ln for ln in dev.splitlines() if re.match(r"^[A-ZÄÖÜ][^:]{3,60}: ", ln)]) == len(
        k.actions_developers
    )
    best = section(
        text, "von Ihrer aktiven Liste zu entfernen oder als nicht verfügbar zu markieren.", None
    )
    assert len([ln for ln in best.splitlines() if re.match(r"^[A-ZÄÖÜ][^:]{3,60}: ", ln)]) == len(
        k.best_practices
    )


@pytest.mark.parametrize("code", ["4.4.2", "5.4.2", "5.4.3"])
def test_typical_replies_are_quoted_in_seed(code: str) -> None:
    text = seed(code)
    k = knowledge.KNOWLEDGE[code]
    assert len(k.typical_replies) == 4
    for reply in k.typical_replies:
        assert f'"{reply}"' in text, reply


def test_ids_are_unique_and_prefixed() -> None:
    for code, k in knowledge.KNOWLEDGE.items():
        ids = [c.id for c in k.causes] + [s.id for s in k.all_steps]
        assert len(ids) == len(set(ids)), code
        assert all(i.startswith(code + "/") for i in ids), code


def test_neighbours_are_marked_not_from_seed() -> None:
    for code in ("4.4.1", "4.4.3", "5.4.4", "5.1.10"):
        k = knowledge.KNOWLEDGE[code]
        assert not k.from_seed
        assert not k.causes and not k.steps
    assert knowledge.KNOWLEDGE["4.4.3"].severity is Severity.SOFT
    assert knowledge.KNOWLEDGE["5.1.10"].action_kind is ActionKind.SUPPRESS
    assert set(knowledge.SEED_CODES) == {c for c, k in knowledge.KNOWLEDGE.items() if k.from_seed}


def test_cause_lookup() -> None:
    k = knowledge.KNOWLEDGE["4.4.2"]
    assert k.cause("mtu").seed_label == "MTU-Probleme"
    with pytest.raises(KeyError):
        k.cause("nope")
    assert knowledge.get(None) is None
    assert knowledge.get("9.9.9") is None
