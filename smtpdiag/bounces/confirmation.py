"""Whether what a probe of the recipient's domain sees now confirms a bounce.

Pure and wordless: :func:`judge` returns a :class:`ConfirmStatus` and the
:class:`ConfirmBasis` it rests on, checked in a fixed order (the first that applies
wins); :mod:`smtpdiag.narrate.bounce` writes the sentence for each basis.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..model import Severity
from ..model.bounce import ConfirmBasis, ConfirmFacts, ConfirmStatus

if TYPE_CHECKING:
    from ..model import Diagnosis, ProbeReport, Verdict
    from .bounce import Explanation

__all__ = ["ConfirmBasis", "ConfirmFacts", "ConfirmStatus", "Confirmation", "judge"]


_STATUS: dict[ConfirmBasis, ConfirmStatus] = {
    ConfirmBasis.NO_CODE: ConfirmStatus.NOT_CHECKABLE,
    ConfirmBasis.NULL_MX_NOW: ConfirmStatus.CONFIRMED,
    ConfirmBasis.NULL_MX_DIFFERENT: ConfirmStatus.DIFFERENT,
    ConfirmBasis.NOT_CONNECTION_LEVEL: ConfirmStatus.NOT_CHECKABLE,
    ConfirmBasis.PROBE_UNKNOWN: ConfirmStatus.NOT_CHECKABLE,
    ConfirmBasis.OWN_PORT_BLOCKED: ConfirmStatus.NOT_CHECKABLE,
    ConfirmBasis.SAME_CODE: ConfirmStatus.CONFIRMED,
    ConfirmBasis.SAME_CONDITION: ConfirmStatus.CONFIRMED,
    ConfirmBasis.PROBLEM_TOO: ConfirmStatus.CONFIRMED,
    ConfirmBasis.CLEARED: ConfirmStatus.NOT_REPRODUCED,
    ConfirmBasis.NOT_REPRODUCED: ConfirmStatus.NOT_REPRODUCED,
    ConfirmBasis.DIFFERENT: ConfirmStatus.DIFFERENT,
}


@dataclass(frozen=True, slots=True)
class Confirmation:
    """Whether what a probe sees now confirms the bounce.

    Attributes:
        status: See :class:`ConfirmStatus`.
        summary: One or two sentences.
        verdict: The probe's verdict, ``None`` if the probe was not diagnosed.
        primary: The probe's leading code, if any.
    """

    status: ConfirmStatus
    summary: str
    verdict: Verdict | None = None
    primary: str | None = None


def _connection_level(expl: Explanation) -> bool:
    """A connection-level probe can see the condition (subject 3 or 4, 421/554, 5.1.2)."""
    code = expl.code.code if expl.code else None
    if code in ("5.1.2", "5.1.10"):
        return True
    if expl.code is not None:
        return expl.code.subject in (3, 4)
    return expl.basic is not None and expl.basic.code in (421, 554)


def _seen(diag: Diagnosis, report: ProbeReport) -> set[str]:
    """Every code and neighbour code the probe's findings name, and those of every
    condition the probe observed (a row suppressed in the report still holds)."""
    from ..diagnosis.engine import condition_codes  # with a probe only

    seen: set[str] = set(condition_codes(report))
    for f in diag.findings:
        if f.code:
            seen.add(f.code)
        seen.update(f.neighbours)
    return seen


def _same_condition(code: str, seen: set[str]) -> bool:
    """Same subject and detail in either class (4.4.2 ~ 5.4.2: the same condition,
    transient or permanent)."""
    tail = code.split(".", 1)[1]
    return any(s.split(".", 1)[1] == tail for s in seen)


def _compare(code: str | None, report: ProbeReport, diag: Diagnosis, soft: bool) -> ConfirmBasis:
    """The probe's findings and conditions against a connection-level bounce."""
    from ..model import Verdict  # with a probe only: explain alone skips the probe's model

    seen = _seen(diag, report)
    if code is not None and code in seen:
        return ConfirmBasis.SAME_CODE
    if code is not None and _same_condition(code, seen):
        return ConfirmBasis.SAME_CONDITION
    if code is None and diag.verdict in (Verdict.FAILED, Verdict.DEGRADED):
        return ConfirmBasis.PROBLEM_TOO
    if diag.verdict is Verdict.HEALTHY:
        return ConfirmBasis.CLEARED if soft else ConfirmBasis.NOT_REPRODUCED
    return ConfirmBasis.DIFFERENT


def _basis(expl: Explanation, report: ProbeReport, diag: Diagnosis) -> ConfirmBasis:
    from ..model import ResolutionKind, RuleId, Verdict

    code = expl.code.code if expl.code else None
    if not expl.found:
        return ConfirmBasis.NO_CODE
    if report.resolution.kind is ResolutionKind.NULL_MX:
        return ConfirmBasis.NULL_MX_NOW if code == "5.1.10" else ConfirmBasis.NULL_MX_DIFFERENT
    if not _connection_level(expl):
        return ConfirmBasis.NOT_CONNECTION_LEVEL
    if diag.verdict is Verdict.UNKNOWN:
        return ConfirmBasis.PROBE_UNKNOWN
    if any(f.rule == RuleId.OWN_PORT_BLOCKED for f in diag.findings):
        return ConfirmBasis.OWN_PORT_BLOCKED
    return _compare(code, report, diag, expl.severity is Severity.SOFT)


def judge(expl: Explanation, report: ProbeReport) -> ConfirmFacts:
    """Compare a bounce with a probe of its recipient's domain (diagnosed here if the
    report carries no diagnosis)."""
    from ..model import RuleId, Verdict
    from ..narrate.narrator import diagnose

    diag = report.diagnosis or diagnose(report)
    basis = _basis(expl, report, diag)
    code = expl.code.code if expl.code else None
    return ConfirmFacts(
        basis=basis,
        status=_STATUS[basis],
        code=code,
        what=code or (str(expl.basic.code) if expl.basic else "this"),
        verdict=diag.verdict,
        primary=diag.primary,
        persistence=diag.persistence.value,
        fell_back=diag.verdict is Verdict.DEGRADED
        and any(f.rule == RuleId.PRIMARY_DOWN_SECONDARY_OK for f in diag.findings),
    )
