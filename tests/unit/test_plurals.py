"""Counts in user-facing text take the right number: "1 input", "1 record", never
"1 inputs" or "domain(s)" (the project's ``plural()`` everywhere)."""

from __future__ import annotations

from smtpdiag.bounces import BatchSummary
from smtpdiag.bounces.confirm import DomainConfirmation
from smtpdiag.bounces.confirmation import ConfirmStatus
from smtpdiag.diagnosis.facts import PersistenceFact
from smtpdiag.model import Persistence
from smtpdiag.narrate.bounce import probe_limit_note
from smtpdiag.narrate.persistence import persistence_text
from smtpdiag.report.explain import render_confirmations, render_summary


def test_explain_batch_summary_line() -> None:
    one = BatchSummary(inputs=1, records=1, errors=1, inputs_with_records=1)
    assert render_summary(one).splitlines()[0] == (
        "1 input: 1 with records (1 record), 1 error, 0 not understood"
    )
    two = BatchSummary(inputs=2, records=3, errors=0, inputs_with_records=2)
    assert render_summary(two).splitlines()[0].startswith("2 inputs: 2 with records (3 records)")


def test_confirmations_and_probe_limit() -> None:
    c = DomainConfirmation("x.test", "4.4.1", 1, ConfirmStatus.CONFIRMED, "s", None, None)
    text = render_confirmations([c], 1, width=200)
    assert "probed now (1 domain of network or routing bounces)" in text
    assert "x.test (1 record, 4.4.1)" in text
    assert probe_limit_note(1) == (
        "1 more record named a domain beyond the probe limit; it was not probed"
    )
    assert probe_limit_note(2).startswith("2 more records named domains")


def test_persistence_counts() -> None:
    new = PersistenceFact(Persistence.TRANSIENT, seen=1, probes=2, first_seen="t")
    assert persistence_text(new).endswith("absent in the 1 earlier probe")
    assert "(s)" not in persistence_text(PersistenceFact(Persistence.TRANSIENT, 1, 3))
