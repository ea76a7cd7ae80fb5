"""``diagnose()``: run the rule table over a probe report and sum it up.

Pure: reads a :class:`~smtpdiag.model.ProbeReport` (and earlier reports of the same
domain from watch mode), returns a :class:`~smtpdiag.model.Diagnosis`.

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
from datetime import datetime, timedelta

from ..model import (
    Diagnosis,
    Finding,
    Persistence,
    ProbeReport,
    ResolutionKind,
    Verdict,
)
from ..timefmt import parse_utc_iso
from .rules import RULES, Facts, RuleKind, aware_now, build_facts, delivery_port_of, iso

__all__ = ["MAX_HISTORY", "PERSIST_MIN_PROBES", "PERSIST_MIN_SPAN", "diagnose", "verdict_for"]

#: Probes (history plus the current one) a failure must be seen in to count as persistent.
PERSIST_MIN_PROBES = 3
#: ... spanning at least this long: the seed's first 4.4.2 retry comes after 30 minutes,
#: so a failure that outlasts it is no longer a blip.
PERSIST_MIN_SPAN = timedelta(minutes=30)
#: Only the most recent earlier probes are considered (bounded work for long watches).
MAX_HISTORY = 500

_FAILURE_RULES = tuple(r for r in RULES if r.kind is RuleKind.FAILURE)


def _span_text(span: timedelta | None) -> str:
    if span is None:
        return "an unknown time"
    minutes = int(span.total_seconds() // 60)
    if minutes < 120:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min"


def _fired(facts: Facts) -> frozenset[str]:
    return frozenset(r.id for r in _FAILURE_RULES if r.when(facts))


def _persistence(
    rule_id: str, earlier: Sequence[frozenset[str]], times: Sequence[datetime | None]
) -> tuple[Persistence, str]:
    seq = [rule_id in s for s in earlier] + [True]
    n = len(seq)
    first, last = times[0], times[-1]
    span = last - first if first is not None and last is not None else None
    if all(seq):
        if n >= PERSIST_MIN_PROBES and span is not None and span >= PERSIST_MIN_SPAN:
            return (
                Persistence.PERMANENT,
                f"seen in all {n} probes over {_span_text(span)}: it persists",
            )
        return (
            Persistence.UNKNOWN,
            f"seen in all {n} probes over {_span_text(span)}; calling it persistent needs "
            f">= {PERSIST_MIN_PROBES} probes over >= {_span_text(PERSIST_MIN_SPAN)}",
        )
    start = seq.index(True)
    if not all(seq[start:]):
        return (
            Persistence.TRANSIENT,
            f"intermittent: seen in {sum(seq)} of {n} probes, cleared in between",
        )
    when = times[start]
    return (
        Persistence.UNKNOWN,
        f"new: first seen at {iso(when) if when else 'an unknown time'}, absent in the "
        f"{start} earlier probe(s)",
    )


def verdict_for(report: ProbeReport, findings: Sequence[Finding]) -> Verdict:
    """The domain verdict from the resolution, the routes and the findings.

    The verdict follows the delivery port (25 when probed, else the first port given),
    because that is where MTAs deliver (RFC 5321 5.1): ``healthy`` when the ``healthy``
    rule fired (every delivery-port route works, no other problem); ``degraded`` when
    at least one delivery-port route works but something else fails; ``failed`` when
    no delivery-port route works, even if 587/465 answer (the findings name them as
    alternatives). One exception: when the prober's own network seems to block the
    delivery port (``own-port-blocked``) while another port works, the destination
    was not really tested on it, and the verdict stays ``degraded`` rather than
    blaming it.
    """
    if report.resolution.kind is ResolutionKind.NULL_MX:
        return Verdict.NO_MAIL
    if any(f.rule == "healthy" for f in findings):
        return Verdict.HEALTHY
    port = delivery_port_of(report)
    if any(r.ok and r.route.port == port for r in report.routes):
        return Verdict.DEGRADED
    if any(f.rule == "own-port-blocked" for f in findings) and any(r.ok for r in report.routes):
        return Verdict.DEGRADED
    return Verdict.FAILED


def diagnose(
    report: ProbeReport,
    *,
    now: datetime | None = None,
    history: Sequence[ProbeReport] = (),
) -> Diagnosis:
    """Diagnose one probe report.

    Args:
        report: What the probe saw.
        now: The instant retry schedules are counted from (default: the current UTC
            time); a naive datetime is taken as UTC.
        history: Earlier reports of the same domain, oldest first (watch mode); reports
            of other domains are ignored.

    Returns:
        The verdict, its persistence, the leading code and the findings, most
        important first.
    """
    now = aware_now(now)
    domain = report.resolution.domain
    earlier_reports = [h for h in history if h.resolution.domain == domain][-MAX_HISTORY:]
    earlier = [_fired(build_facts(h, now)) for h in earlier_reports]
    times = [parse_utc_iso(h.started_at) for h in [*earlier_reports, report]]
    current = build_facts(report, now)
    fired_now = _fired(current)
    persistence: dict[str, tuple[Persistence, str]] = {}
    if earlier:
        for rule_id in fired_now:
            persistence[rule_id] = _persistence(rule_id, earlier, times)
    if report.resolution.kind is ResolutionKind.NULL_MX:
        persistence["null-mx"] = (
            Persistence.PERMANENT,
            "the domain publishes it in DNS (RFC 7505): it lasts until the domain changes it",
        )
    recovered = sorted(set().union(*earlier) - fired_now) if earlier else []
    facts = build_facts(report, now, persistence, len(earlier), recovered)
    findings = tuple(rule.build(facts) for rule in RULES if rule.when(facts))
    verdict = verdict_for(report, findings)
    if verdict is Verdict.NO_MAIL:
        overall = Persistence.PERMANENT
    elif verdict is Verdict.HEALTHY:
        overall = Persistence.TRANSIENT if recovered else Persistence.UNKNOWN
    else:
        failures = [f for f in findings if f.rule in {r.id for r in _FAILURE_RULES}]
        overall = failures[0].persistence if failures else Persistence.UNKNOWN
    primary = None
    if verdict is not Verdict.HEALTHY and findings:
        primary = findings[0].code
    return Diagnosis(
        verdict=verdict,
        persistence=overall,
        primary=primary,
        findings=findings,
        generated_at=iso(now),
    )
