"""Why a finding is called permanent, transient or unknown, in words."""

from __future__ import annotations

from datetime import timedelta

from ..diagnosis.facts import PERSIST_MIN_PROBES, PERSIST_MIN_SPAN, PersistenceFact
from ..model import Persistence
from .units import plural, span_text

__all__ = ["persistence_note", "persistence_text"]


def persistence_text(p: PersistenceFact) -> str:
    """One clause: what the history (or the nature of the finding) says."""
    if p.published:
        return "the domain publishes it in DNS (RFC 7505): it lasts until the domain changes it"
    if p.by_nature:
        return (
            "a DNS server failure (SERVFAIL, no answer) is transient by nature "
            "(RFC 3463 X.4.3: a persistent transient error)"
        )
    if p.probes == 0:
        return (
            "a single probe cannot tell whether this lasts; repeat the probe "
            "(smtpdiag watch) to see whether it persists"
        )
    span = timedelta(seconds=p.span_s) if p.span_s is not None else None
    if p.persistence is Persistence.PERMANENT:
        return f"seen in all {plural(p.probes, 'probe')} over {span_text(span)}: it persists"
    if p.intermittent:
        return f"intermittent: seen in {p.seen} of {plural(p.probes, 'probe')}, cleared in between"
    if p.seen == p.probes:
        return (
            f"seen in all {plural(p.probes, 'probe')} over {span_text(span)}; calling it "
            "persistent "
            f"needs >= {PERSIST_MIN_PROBES} probes over >= {span_text(PERSIST_MIN_SPAN)}"
        )
    return (
        f"new: first seen at {p.first_seen or 'an unknown time'}, absent in the "
        f"{plural(p.probes - p.seen, 'earlier probe')}"
    )


def persistence_note(p: PersistenceFact) -> str:
    """The evidence note a failure finding carries: ``persistence: <why>``."""
    return f"persistence: {persistence_text(p)}"
