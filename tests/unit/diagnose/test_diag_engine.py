"""The engine: persistence from watch-mode history, verdicts, purity of the stage."""

from __future__ import annotations

import ast
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from factories import at, failed, host, ok, report, resolution, routes_for

from smtpdiag import diagnose
from smtpdiag.model import ActionKind, Outcome, Persistence, Phase, ProbeReport, Verdict

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
MX1 = host()


def refused(when: str) -> ProbeReport:
    rep = report(
        resolution([MX1]), [failed(r, Phase.CONNECT, Outcome.REFUSED) for r in routes_for(MX1)]
    )
    return at(rep, when)


def healthy(when: str) -> ProbeReport:
    return at(report(resolution([MX1]), [ok(r) for r in routes_for(MX1)]), when)


def test_failure_in_every_probe_over_30_min_is_permanent() -> None:
    hist = [refused("2026-01-01T11:00:00Z"), refused("2026-01-01T11:30:00Z")]
    d = diagnose(refused("2026-01-01T12:00:00Z"), now=NOW, history=hist)
    f = d.findings[0]
    assert f.rule == "mx-not-listening"
    assert f.persistence is Persistence.PERMANENT
    assert d.persistence is Persistence.PERMANENT
    assert f.evidence[-1].note == "persistence: seen in all 3 probes over 60 min: it persists"
    assert f.action.kind is ActionKind.SUPPRESS
    assert "smtpdiag watch" not in f.action.summary


def test_too_few_or_too_short_stays_unknown() -> None:
    d = diagnose(
        refused("2026-01-01T12:00:00Z"), now=NOW, history=[refused("2026-01-01T11:00:00Z")]
    )
    assert d.findings[0].persistence is Persistence.UNKNOWN
    assert "seen in all 2 probes over 60 min" in (d.findings[0].evidence[-1].note or "")
    short = [refused("2026-01-01T11:50:00Z"), refused("2026-01-01T11:55:00Z")]
    d2 = diagnose(refused("2026-01-01T12:00:00Z"), now=NOW, history=short)
    assert d2.findings[0].persistence is Persistence.UNKNOWN
    assert "over 10 min" in (d2.findings[0].evidence[-1].note or "")


def test_intermittent_failure_is_transient() -> None:
    hist = [refused("2026-01-01T11:00:00Z"), healthy("2026-01-01T11:30:00Z")]
    d = diagnose(refused("2026-01-01T12:00:00Z"), now=NOW, history=hist)
    assert d.findings[0].persistence is Persistence.TRANSIENT
    assert d.persistence is Persistence.TRANSIENT
    assert "intermittent: seen in 2 of 3 probes" in (d.findings[0].evidence[-1].note or "")


def test_new_failure_is_unknown_and_says_since_when() -> None:
    hist = [healthy("2026-01-01T11:00:00Z"), healthy("2026-01-01T11:30:00Z")]
    d = diagnose(refused("2026-01-01T12:00:00Z"), now=NOW, history=hist)
    assert d.findings[0].persistence is Persistence.UNKNOWN
    note = d.findings[0].evidence[-1].note or ""
    assert "first seen at 2026-01-01T12:00:00Z" in note and "2 earlier" in note


def test_recovered_domain_is_transient() -> None:
    hist = [refused("2026-01-01T11:00:00Z")]
    d = diagnose(healthy("2026-01-01T12:00:00Z"), now=NOW, history=hist)
    assert d.verdict is Verdict.HEALTHY
    assert d.persistence is Persistence.TRANSIENT
    assert d.primary is None
    assert "recovered: earlier probes saw mx-not-listening" in (
        d.findings[0].evidence[-1].note or ""
    )


def test_history_of_other_domains_is_ignored() -> None:
    other = report(resolution([MX1], domain="other.example"), [])
    d = diagnose(refused("2026-01-01T12:00:00Z"), now=NOW, history=[other, other, other])
    assert d.findings[0].persistence is Persistence.UNKNOWN
    assert "a single probe cannot tell" in (d.findings[0].evidence[-1].note or "")


def test_unparseable_times_do_not_break_persistence() -> None:
    hist = [refused("garbage"), refused("")]
    d = diagnose(refused("2026-01-01T12:00:00Z"), now=NOW, history=hist)
    assert d.findings[0].persistence is Persistence.UNKNOWN
    assert "an unknown time" in (d.findings[0].evidence[-1].note or "")


def test_null_mx_is_permanent_without_history() -> None:
    from smtpdiag.model import ResolutionKind

    d = diagnose(report(resolution(kind=ResolutionKind.NULL_MX)), now=NOW)
    assert d.persistence is Persistence.PERMANENT
    assert d.findings[0].persistence is Persistence.PERMANENT


# --------------------------------------------------------------------- purity

_IO_MODULES = {"asyncio", "socket", "ssl", "dns", "aiosmtplib", "selectors", "subprocess"}
DIAGNOSE_DIR = Path(__file__).resolve().parents[3] / "smtpdiag" / "diagnosis"


def test_diagnose_sources_import_no_io_module() -> None:
    for path in sorted(DIAGNOSE_DIR.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in _IO_MODULES, (path.name, name)


def test_importing_diagnose_loads_no_io_module() -> None:
    code = (
        "import sys, smtpdiag.diagnosis, smtpdiag.bounces.bounce; "
        f"print(sorted(m for m in {sorted(_IO_MODULES)!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_causes_are_chosen_in_the_diagnosis_not_by_the_narrators() -> None:
    # Which seed causes a finding names is a decision (diagnosis/causes.py, one chooser per
    # rule); the narration layer only words the ids it is given.
    import dataclasses
    import pathlib

    import smtpdiag.narrate as narrate
    from smtpdiag.diagnosis.causes import CAUSES
    from smtpdiag.diagnosis.table import RULES
    from smtpdiag.narrate.common import Draft

    for path in pathlib.Path(narrate.__file__).parent.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "CauseId(" not in text and "causes=" not in text, path.name
    assert "cause_ids" not in {f.name for f in dataclasses.fields(Draft)}
    assert set(CAUSES) <= {r.id for r in RULES}
