"""``diagnose()``: fire the rule table over a probe report and sum it up.

Pure: reads a :class:`~smtpdiag.model.ProbeReport` (and earlier reports of the same
domain from watch mode), returns a :class:`~smtpdiag.model.Diagnosis`. The engine is
the one place that decides: which rows fire (:mod:`.table`), which are suppressed, the
severity of each finding (:func:`severity_for`), "healthy" (derived) and the verdict
(:func:`verdict_for`, reading rule ids). Words come from :mod:`smtpdiag.narrate`,
through the :class:`~.words.Narrator` the caller passes.

Persistence. One probe cannot tell a permanent failure from a passing one; the seeds'
hard codes (5.4.2, 5.4.3) are "permanent" by definition, so a single probe only ever
calls them *candidates*. With ``history`` (oldest first), a failure rule that fired in
every one of at least :data:`PERSIST_MIN_PROBES` probes spanning at least
:data:`PERSIST_MIN_SPAN` is reported as permanent; one that came and went is
transient; one that appeared only recently stays unknown. A domain that is healthy now
after failures in its history recovered: transient.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from ..model import (
    Action,
    ActionKind,
    Diagnosis,
    Evidence,
    Finding,
    FindingPayload,
    Persistence,
    ProbeReport,
    ResolutionKind,
    RuleId,
    SenderKind,
    SenderOutcome,
    Severity,
    Verdict,
)
from ..timefmt import parse_utc_iso
from .causes import cause_ids, cause_tests
from .decision import decide
from .facts import (
    PERSIST_MIN_PROBES,
    PERSIST_MIN_SPAN,
    Facts,
    PersistenceFact,
    aware_now,
    build_facts,
    delivery_port_of,
    greylisted,
    iso,
    server_code,
)
from .predicates import Match
from .table import RULES, Enforced, Row, RuleKind, ServerOwn
from .words import Narrator

__all__ = [
    "MAX_HISTORY",
    "PERSIST_MIN_PROBES",
    "PERSIST_MIN_SPAN",
    "condition_codes",
    "diagnose",
    "fire",
    "kind_of",
    "severity_for",
    "verdict_for",
]

#: Only the most recent earlier probes are considered (bounded work for long watches).
MAX_HISTORY = 500


def fire(facts: Facts) -> list[tuple[Row, Match]]:
    """The rows whose predicate holds, in table order, without the suppressed ones."""
    fired = [(r, m) for r in RULES if (m := r.predicate(facts)) is not None]
    return [(r, m) for r, m in fired if not _suppressed(r, m, fired)]


def _hosts_of(match: Match) -> frozenset[str]:
    return frozenset(v.result.route.mx for v in match.views)


def _suppressed(row: Row, match: Match, fired: Sequence[tuple[Row, Match]]) -> bool:
    """Whether a row that fired names the same fact as another. A row suppresses only
    what it covers: when both name MX hosts, a suppressed row that names a host the
    other does not still reports (a dead primary and a dead second MX)."""
    for r, m in fired:
        if row.id not in r.suppresses:
            continue
        mine, theirs = _hosts_of(match), _hosts_of(m)
        if not mine or not theirs or mine <= theirs:
            return True
    return False


def condition_codes(report: ProbeReport) -> frozenset[str]:
    """The codes (and their neighbour codes) of every condition the probe observed,
    suppressed rows included: suppression keeps one finding per cause in the report, it
    does not make a condition go away (a dead primary leads with the fallback finding,
    yet the host still fails as an MX that is down does). Bounce confirmation compares
    with these, so it does not depend on which row carries a code."""
    from .knowledge import get  # the code data loads only when confirming a bounce

    facts = build_facts(report, aware_now(None))
    out: set[str] = set()
    for row in RULES:
        match = row.predicate(facts)
        code = None if match is None else _code(row, match)
        if code is None:
            continue
        out.add(code)
        k = get(code)
        out.update(n for n, _ in (k.neighbours if k else ()))
    return frozenset(out)


def _failures(facts: Facts) -> frozenset[RuleId]:
    return frozenset(r.id for r, _ in fire(facts) if r.kind is RuleKind.FAILURE)


_FAILURE_RULES = frozenset(r.id for r in RULES if r.kind is RuleKind.FAILURE)


def _failures_of(earlier: ProbeReport, now: datetime) -> frozenset[RuleId]:
    """The failure rules an earlier probe found: its own diagnosis says (decided once,
    at its time; a service keeps eight reports per target and would otherwise judge
    them all again every round); a report without one is judged here, at ``now``."""
    if earlier.diagnosis is not None:
        return frozenset(f.rule for f in earlier.diagnosis.findings if f.rule in _FAILURE_RULES)
    return _failures(build_facts(earlier, now))


def kind_of(row: Row, match: Match) -> RuleKind:
    """The row's kind, except that a feature finding that affects no sender and is no
    misconfiguration of what the domain meant to publish (``match.degrades`` false)
    only informs: a finding that affects nobody does not move the verdict."""
    if row.kind is RuleKind.FEATURE and not match.degrades:
        return RuleKind.INFO
    return row.kind


def healthy(facts: Facts, fired: Sequence[tuple[Row, Match]]) -> bool:
    """Delivery works and no failure or feature rule fired."""
    return (
        facts.dns_ok
        and facts.delivery_ok
        and not any(kind_of(r, m) is not RuleKind.INFO for r, m in fired)
    )


def severity_for(kind: RuleKind, code: str | None, facts: Facts) -> Severity:
    """The one severity policy: the code's class; none without a code; and a failure
    or feature finding whose hard code bounces nothing because a delivery-port route
    works (MTAs fall back to the next address or MX, RFC 5321 5.1, 5.4.4; an
    unverifiable certificate stops only senders that enforce MTA-STS or DANE) is
    ``info``: a sender must not suppress addresses that are receiving mail."""
    if code is None:
        return Severity.INFO
    from .codes import lookup  # the registry loads with the first code (none when healthy)

    sc = lookup(code)
    sev = sc.severity if sc else Severity.INFO
    if kind in (RuleKind.FAILURE, RuleKind.FEATURE) and sev is Severity.HARD and facts.delivery_ok:
        return Severity.INFO
    return sev


def _code(row: Row, match: Match) -> str | None:
    if isinstance(row.code, ServerOwn):
        return server_code(match.views) or row.code.fallback
    if isinstance(row.code, Enforced):
        return row.code.code if match.enforced else None
    return row.code


def _finding(
    words: Narrator,
    facts: Facts,
    rule: RuleId,
    kind: RuleKind,
    code: str | None,
    match: Match,
) -> Finding:
    d = words.draft(rule, facts, match)
    causes = cause_ids(rule, facts, match)
    sev = severity_for(kind, code, facts)
    pf = (
        facts.persistence_of(rule)
        if kind is RuleKind.FAILURE
        else PersistenceFact(Persistence.UNKNOWN)
    )
    ev = list(d.evidence)
    if kind is RuleKind.FAILURE and (facts.history_len or sev is Severity.HARD):
        ev.append(Evidence(note=words.persistence_note(pf)))
    payload = d.payload
    if payload == FindingPayload() and (match.views or match.hosts):
        payload = FindingPayload(
            routes=tuple(v.label for v in match.views),
            hosts=tuple(h.name for h in match.hosts),
        )
    if match.senders or match.results:
        # Who fails is the predicate's decision; the narration only words it.
        payload = replace(payload, senders=match.senders, tls_rpt_results=match.results)
    proven, unlikely = cause_tests(rule, facts, match, causes)
    if proven or unlikely:
        payload = replace(payload, causes_proven=proven, causes_unlikely=unlikely)
    return Finding(
        rule=rule,
        code=code,
        title=d.title
        or words.title(code, rule, no_bounce=kind is RuleKind.FAILURE and facts.delivery_ok),
        severity=sev,
        summary=d.summary,
        evidence=words.cap_evidence(ev),
        causes=words.causes(causes),
        steps=tuple(d.steps),
        action=d.action or Action(ActionKind.NONE, ""),
        neighbours=tuple(d.neighbours),
        persistence=pf.persistence,
        cause_ids=causes,
        payload=payload,
    )


def _persistence(
    rule_id: RuleId, earlier: Sequence[frozenset[RuleId]], times: Sequence[datetime | None]
) -> PersistenceFact:
    seq = [rule_id in s for s in earlier] + [True]
    n = len(seq)
    first, last = times[0], times[-1]
    span = last - first if first is not None and last is not None else None
    span_s = span.total_seconds() if span is not None else None
    if all(seq):
        permanent = n >= PERSIST_MIN_PROBES and span is not None and span >= PERSIST_MIN_SPAN
        return PersistenceFact(
            Persistence.PERMANENT if permanent else Persistence.UNKNOWN, n, n, span_s
        )
    start = seq.index(True)
    if not all(seq[start:]):
        return PersistenceFact(Persistence.TRANSIENT, sum(seq), n, span_s, intermittent=True)
    when = times[start]
    return PersistenceFact(
        Persistence.UNKNOWN, sum(seq), n, span_s, first_seen=iso(when) if when else None
    )


def _published_defers(f: Finding) -> bool:
    """A finding on which a sender applying the domain's published policy defers."""
    return f.code is not None and any(
        s.outcome is SenderOutcome.DEFER and s.sender in (SenderKind.MTA_STS, SenderKind.DANE)
        for s in f.payload.senders
    )


def verdict_for(report: ProbeReport, findings: Sequence[Finding]) -> Verdict:
    """The domain verdict from the resolution, the routes and the findings' rule ids.

    The verdict follows the delivery port (25 when probed, else the first port given),
    because that is where MTAs deliver (RFC 5321 5.1): ``unknown`` when the probe could
    not run or no route was probed; ``healthy`` when ``healthy`` was derived;
    ``degraded`` when at least one delivery-port route works but something else fails;
    ``failed`` when no delivery-port route works, even if 587/465 answer, or when a
    sender applying the domain's own published policy (MTA-STS enforce, DANE) defers
    (no MX host passes its check). One exception:
    when the prober's own network seems to block the delivery port (``own-port-blocked``)
    while another port works, the verdict stays ``degraded`` rather than blaming the
    destination. A delivery-port route that answered with a greylisting 450/451 counts
    as working here: a retrying MTA delivers after the delay (a normal defence, at
    worst ``degraded`` from one probe, never ``failed``).
    """
    rules = {f.rule for f in findings}
    if report.resolution.kind is ResolutionKind.NULL_MX:
        return Verdict.NO_MAIL
    if rules & {RuleId.COULD_NOT_RUN, RuleId.NOTHING_PROBED}:
        return Verdict.UNKNOWN
    if RuleId.HEALTHY in rules:
        return Verdict.HEALTHY
    port = delivery_port_of(report)
    if any((r.ok or greylisted(r)) and r.route.port == port for r in report.routes):
        # A sender applying the domain's own published policy (MTA-STS enforce, DANE)
        # that cannot deliver now makes the domain failed: it published that policy.
        if any(_published_defers(f) for f in findings):
            return Verdict.FAILED
        return Verdict.DEGRADED
    if RuleId.OWN_PORT_BLOCKED in rules and any(r.ok for r in report.routes):
        return Verdict.DEGRADED
    return Verdict.FAILED


def _history(
    report: ProbeReport, history: Sequence[ProbeReport], now: datetime
) -> tuple[Facts, list[tuple[Row, Match]]]:
    """The facts of ``report`` with what the earlier probes of its domain say, and the
    rows that fire on them. The rules fire once: no predicate reads the history."""
    domain = report.resolution.domain
    earlier_reports = [h for h in history if h.resolution.domain == domain][-MAX_HISTORY:]
    earlier = [_failures_of(h, now) for h in earlier_reports]
    facts = build_facts(report, now)
    fired = fire(facts)
    persistence: dict[RuleId, PersistenceFact] = {}
    fired_now = frozenset(r.id for r, _ in fired if r.kind is RuleKind.FAILURE)
    if earlier:
        times = [parse_utc_iso(h.started_at) for h in [*earlier_reports, report]]
        for rule_id in fired_now:
            persistence[rule_id] = _persistence(rule_id, earlier, times)
    if report.resolution.kind is ResolutionKind.NULL_MX:
        persistence[RuleId.NULL_MX] = PersistenceFact(Persistence.PERMANENT, published=True)
    if not earlier and not persistence:
        return facts, fired
    recovered = sorted(set().union(*earlier) - fired_now) if earlier else []
    facts = replace(
        facts, persistence=persistence, history_len=len(earlier), recovered=tuple(recovered)
    )
    return facts, fired


def _findings(words: Narrator, facts: Facts, fired: list[tuple[Row, Match]]) -> list[Finding]:
    """Failure and feature findings in table order, then ``healthy``, then info."""
    first = [
        _finding(words, facts, r.id, r.kind, _code(r, m), m)
        for r, m in fired
        if kind_of(r, m) is not RuleKind.INFO
    ]
    if healthy(facts, fired):
        first.append(
            _finding(words, facts, RuleId.HEALTHY, RuleKind.INFO, None, Match(facts.views))
        )
    info = [
        _finding(words, facts, r.id, kind_of(r, m), _code(r, m), m)
        for r, m in fired
        if kind_of(r, m) is RuleKind.INFO
    ]
    return first + info


def _overall(verdict: Verdict, findings: Sequence[Finding], facts: Facts) -> Persistence:
    if verdict is Verdict.NO_MAIL:
        return Persistence.PERMANENT
    if verdict is Verdict.HEALTHY:
        return Persistence.TRANSIENT if facts.recovered else Persistence.UNKNOWN
    kinds = {r.id: r.kind for r in RULES}
    failures = [f for f in findings if kinds.get(f.rule) is RuleKind.FAILURE]
    return failures[0].persistence if failures else Persistence.UNKNOWN


def diagnose(
    report: ProbeReport,
    *,
    narrator: Narrator,
    now: datetime | None = None,
    history: Sequence[ProbeReport] = (),
) -> Diagnosis:
    """Diagnose one probe report (:func:`smtpdiag.diagnose` passes the narrator).

    Args:
        report: What the probe saw.
        narrator: The words of each finding (``smtpdiag.narrate.narrator.NARRATOR``):
            a parameter, because the narration layer sits above this one.
        now: The instant retry schedules are counted from (default: the current UTC
            time); a naive datetime is taken as UTC.
        history: Earlier reports of the same domain, oldest first (watch mode); reports
            of other domains are ignored.

    Returns:
        The verdict, its persistence, the leading code and the findings, most
        important first.
    """
    now = aware_now(now)
    facts, fired = _history(report, history, now)
    findings = _findings(narrator, facts, fired)
    verdict = verdict_for(report, findings)
    decision = decide(verdict, findings, delivers=facts.delivery_ok)
    return Diagnosis(
        verdict=verdict,
        persistence=_overall(verdict, findings, facts),
        primary=decision.primary,
        findings=tuple(findings),
        generated_at=iso(now),
        action=decision.lead.action if decision.lead else Action(ActionKind.NONE, ""),
        who_fails=decision.who_fails,
        fault_side=decision.fault_side,
    )
