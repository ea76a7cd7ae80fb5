"""The path MTU black hole rule over typed facts (issue 23): a stalled TLS handshake and
its small-MSS retry (``RouteResult.mss_retry``) -> ``path-mtu-black-hole`` proven, or
the MTU cause unlikely, or nothing concluded."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from factories import failed, host, report, resolution, route

from smtpdiag import diagnose
from smtpdiag.diagnosis import predicates
from smtpdiag.diagnosis.facts import build_facts
from smtpdiag.model import (
    ActionKind,
    CauseId,
    Finding,
    MssRetry,
    MssRetryResult,
    Outcome,
    Phase,
    PhaseRecord,
    ProbeReport,
    RouteResult,
    StepStatus,
    TlsReason,
    Verdict,
)

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
MX = host("mx1.example.org", 10, ("198.51.100.5", "2001:db8::5"))
MTU = CauseId("4.4.2/mtu")


def stalled(address: str, port: int, retry: MssRetryResult | None = None) -> RouteResult:
    rr = failed(
        route(address=address, port=port),
        Phase.TLS_HANDSHAKE,
        Outcome.TIMEOUT,
        duration_ms=10000.0,
        detail="no TLS handshake within 10 s",
        tls_reason=TlsReason.TIMEOUT,
    )
    if retry is None:
        return rr
    mss = 1220 if ":" in address else 536
    completed = retry is MssRetryResult.COMPLETED
    handshake = PhaseRecord(
        Phase.TLS_HANDSHAKE,
        Outcome.OK if completed else Outcome.TIMEOUT,
        3.0,
        4.2 if completed else 5000.0,
        tls_reason=None if completed else TlsReason.TIMEOUT,
    )
    return replace(
        rr,
        mss_retry=MssRetry(
            mss=mss,
            result=retry,
            start_ms=10010.0,
            duration_ms=8.0 if completed else 5003.0,
            handshake_ms=handshake.duration_ms,
            limit_s=5.0,
            chain_bytes=6120 if completed else None,
            phases=(PhaseRecord(Phase.CONNECT, Outcome.OK, 0.0, 0.3), handshake),
        ),
    )


def probe(v4: MssRetryResult | None, v6: MssRetryResult | None = None) -> ProbeReport:
    """Every port of both addresses stalls at the handshake; port 25 of each address
    carries the retry given (the runner makes one per address)."""
    rrs = []
    for address, result in (("198.51.100.5", v4), ("2001:db8::5", v6)):
        rrs += [stalled(address, 25, result), stalled(address, 587), stalled(address, 465)]
    return report(resolution([MX]), rrs)


def finding(d: object, rule: str) -> Finding | None:
    return next((f for f in d.findings if f.rule.value == rule), None)  # type: ignore[attr-defined]


def test_the_predicate_reads_typed_facts_only() -> None:
    facts = build_facts(probe(MssRetryResult.COMPLETED), NOW)
    match = predicates.path_mtu_black_hole(facts)
    assert match is not None
    # Every stalled route of the proven address, none of the other.
    assert sorted(v.label for v in match.views) == [
        "mx1.example.org[198.51.100.5]:25",
        "mx1.example.org[198.51.100.5]:465",
        "mx1.example.org[198.51.100.5]:587",
    ]
    dropped = predicates.connection_dropped(facts)
    assert dropped is not None
    assert {v.result.route.address for v in dropped.views} == {"2001:db8::5"}
    assert predicates.path_mtu_black_hole(build_facts(probe(None), NOW)) is None


def test_a_completed_retry_proves_the_black_hole() -> None:
    d = diagnose(probe(MssRetryResult.COMPLETED, MssRetryResult.COMPLETED), now=NOW)
    assert d.verdict is Verdict.FAILED and d.primary == "4.4.2"
    assert [f.rule.value for f in d.findings] == ["path-mtu-black-hole"]
    f = d.findings[0]
    assert f.code == "4.4.2"
    assert f.cause_ids == (MTU,) and len(f.causes) == 1 and "MTU" in f.causes[0]
    assert f.payload.causes_proven == (MTU,) and f.payload.causes_unlikely == ()
    assert len(f.payload.routes) == 6
    # Both observations: six stalled handshakes, and the two retries that completed.
    stalls = [
        e for e in f.evidence if e.phase is Phase.TLS_HANDSHAKE and e.outcome is Outcome.TIMEOUT
    ]
    proofs = [e for e in f.evidence if e.phase is Phase.TLS_HANDSHAKE and e.outcome is Outcome.OK]
    assert len(stalls) == 6
    assert [(e.address, e.port, e.duration_ms) for e in proofs] == [
        ("198.51.100.5", 25, 4.2),
        ("2001:db8::5", 25, 4.2),
    ]
    assert proofs[0].note is not None and "536" in proofs[0].note and "6,120" in proofs[0].note
    assert proofs[1].note is not None and "1220" in proofs[1].note
    steps = {s.id: s for s in f.steps}
    assert steps["4.4.2/network-diagnostics"].status is StepStatus.DONE
    assert f.action.kind is ActionKind.FIX and d.action.kind is ActionKind.FIX
    for words in ("MSS", "fragmentation needed", "packet too big", "Do not suppress"):
        assert words in f.action.summary, words
    assert "proven" in f.summary and "536" in f.summary


def test_a_retry_that_stalls_too_makes_mtu_unlikely() -> None:
    d = diagnose(probe(MssRetryResult.STALLED, MssRetryResult.STALLED), now=NOW)
    assert [f.rule.value for f in d.findings] == ["connection-dropped"]
    f = d.findings[0]
    assert MTU not in f.cause_ids
    assert f.payload.causes_unlikely == (MTU,) and f.payload.causes_proven == ()
    assert "unlikely" in f.summary
    assert any(e.outcome is Outcome.TIMEOUT and e.note and "1220" in e.note for e in f.evidence)
    assert d.action.kind is ActionKind.RETRY  # nothing proven: the guide's retries


def test_one_unlikely_address_does_not_clear_another_unknown_one() -> None:
    d = diagnose(probe(MssRetryResult.STALLED, None), now=NOW)
    f = finding(d, "connection-dropped")
    assert f is not None
    # The IPv6 address had no retry: MTU is still a possible cause there.
    assert MTU in f.cause_ids
    assert f.payload.causes_unlikely == ()


def test_a_retry_without_a_conclusion_changes_nothing() -> None:
    for result in (MssRetryResult.FAILED, MssRetryResult.CUT, None):
        d = diagnose(probe(result, result), now=NOW)
        assert [f.rule.value for f in d.findings] == ["connection-dropped"], result
        f = d.findings[0]
        assert MTU in f.cause_ids, result
        assert f.payload.causes_proven == () and f.payload.causes_unlikely == ()


def test_a_proof_on_one_address_and_a_stall_on_another() -> None:
    d = diagnose(probe(MssRetryResult.COMPLETED, None), now=NOW)
    assert [f.rule.value for f in d.findings] == ["path-mtu-black-hole", "connection-dropped"]
    proven, dropped = d.findings
    assert all("198.51.100.5" in label for label in proven.payload.routes)
    assert all("2001:db8::5" in label for label in dropped.payload.routes)
