"""The service's pure parts and its state file: target validation, drift signatures,
failing-since and counts, reopening, and a SIGKILL in the middle of writes."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from smtpdiag.errors import ConfigError
from smtpdiag.serve.drift import DriftKind, Signatures
from smtpdiag.serve.state import ProbeResultKind, StateStore
from smtpdiag.serve.targets import parse_query, validate_target

R = ProbeResultKind


@pytest.mark.parametrize(
    "text",
    [
        "",
        " ",
        "198.51.100.1",
        "::1",
        "[::1]",
        "a.test,b.test",
        "a.test:25",
        "http://a.test/",
        "user@a.test",
        "a" * 254,
        "a..test",
        "a test",
        "a\x00.test",
        "-a.test",
    ],
)
def test_bad_targets_are_refused(text: str) -> None:
    with pytest.raises(ConfigError):
        validate_target(text)


def test_targets_are_canonical() -> None:
    assert validate_target("Example.ORG.") == "example.org"
    assert validate_target("bücher.example") == "xn--bcher-kva.example"


def test_query_parsing() -> None:
    assert parse_query("target=a.test&module=default") == {"target": "a.test", "module": "default"}
    for bad in ("target=a&target=b", "x" * 2000, "&&&", "a=1&" * 20):
        with pytest.raises(ConfigError):
            parse_query(bad)


def _sigs(
    mx: str | None = "mx:10 mx1", sts: str | None = None, cert: str | None = "aa"
) -> Signatures:
    return Signatures(mx, sts, cert)


def test_failing_since_and_counts(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    store.record("a.test", R.OK, _sigs(), now=100.0)
    s = store.record("a.test", R.CRITICAL, _sigs(), now=200.0)
    assert s.failing_since == 200.0
    s = store.record("a.test", R.UNTESTABLE, _sigs(), now=250.0)  # no evidence either way
    assert s.failing_since == 200.0
    s = store.record("a.test", R.CRITICAL, _sigs(), now=300.0)
    assert s.failing_since == 200.0
    assert s.counts == {R.OK: 1, R.CRITICAL: 2, R.UNTESTABLE: 1}
    assert s.first_seen == 100.0 and s.last_probe == 300.0
    s = store.record("a.test", R.WARNING, _sigs(), now=400.0)
    assert s.failing_since is None
    store.close()
    with StateStore(tmp_path) as reopened:
        assert reopened.get("a.test") == s


def test_drift_only_between_two_seen_values(tmp_path: Path) -> None:
    store = StateStore(None)
    s = store.record("a.test", R.OK, _sigs(sts="id=1 mode=enforce"), now=1.0)
    assert s.changed == {}
    # a round that saw no certificate (route down) is not a change, nor a new baseline
    s = store.record("a.test", R.CRITICAL, _sigs(cert=None, sts="id=1 mode=enforce"), now=2.0)
    assert s.changed == {}
    s = store.record("a.test", R.OK, _sigs(sts="id=2 mode=testing"), now=3.0)
    assert s.changed == {DriftKind.STS_POLICY: 3.0}
    s = store.record(
        "a.test", R.OK, _sigs(mx="mx:10 mx2", sts="id=2 mode=testing", cert="bb"), now=4.0
    )
    assert s.changed == {DriftKind.STS_POLICY: 3.0, DriftKind.MX: 4.0, DriftKind.CERT: 4.0}


def test_rows_are_bounded(tmp_path: Path) -> None:
    with StateStore(tmp_path, max_targets=3) as store:
        for i in range(10):
            store.record(f"t{i}.test", R.OK, None, now=float(i))
        assert store.count() == 3
        assert store.get("t9.test") is not None and store.get("t0.test") is None


def test_the_least_recently_probed_go_first_and_a_smaller_bound_prunes_on_open(
    tmp_path: Path,
) -> None:
    with StateStore(tmp_path, max_targets=3) as store:
        for i in range(3):
            store.record(f"t{i}.test", R.OK, None, now=float(i))
        store.record("t0.test", R.CRITICAL, None, now=10.0)  # probed again: now the newest
        store.record("t3.test", R.OK, None, now=11.0)
        assert store.get("t1.test") is None and store.get("t0.test") is not None
        kept = {t: store.get(t) for t in ("t0.test", "t2.test", "t3.test")}
    with StateStore(tmp_path, max_targets=2) as reopened:
        assert reopened.count() == 2
        assert reopened.get("t2.test") is None
        assert {t: reopened.get(t) for t in ("t0.test", "t3.test")} == {
            t: kept[t] for t in ("t0.test", "t3.test")
        }
    rows = sqlite3.connect(tmp_path / StateStore.FILENAME).execute("SELECT COUNT(*) FROM target")
    assert rows.fetchone()[0] == 2


def test_hand_edited_rows_read_as_empty(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    store.record("a.test", R.OK, _sigs(), now=1.0)
    store.close()
    db = sqlite3.connect(tmp_path / StateStore.FILENAME)
    db.execute("UPDATE target SET counts = 'not json', changed = '[1]'")
    db.commit()
    db.close()
    with StateStore(tmp_path) as reopened:
        s = reopened.record("a.test", R.OK, _sigs(), now=2.0)
    assert s.counts == {R.OK: 1}


_WRITER = """
import sys
from pathlib import Path
from smtpdiag.serve.drift import Signatures
from smtpdiag.serve.state import ProbeResultKind, StateStore
store = StateStore(Path(sys.argv[1]))
print("ready", flush=True)
for i in range(10_000_000):
    store.record(f"t{i % 50}.test", ProbeResultKind.OK, Signatures(f"mx:{i}", None, None))
"""


def test_sigkill_during_writes_leaves_a_state_that_loads(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        time.sleep(0.5)  # hundreds of transactions in
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()
    store = StateStore(tmp_path)
    try:
        assert store.count() == 50
        states = [store.get(f"t{i}.test") for i in range(50)]
        assert all(s is not None and s.counts[R.OK] >= 1 for s in states)
    finally:
        store.close()
    db = sqlite3.connect(tmp_path / StateStore.FILENAME)
    try:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        db.close()


def test_history_is_thinned_to_span_the_persistence_window() -> None:
    from smtpdiag.diagnosis.facts import PERSIST_MIN_SPAN
    from smtpdiag.serve.exporter import HISTORY, HISTORY_SPACING, keep_in_history

    assert keep_in_history(None, 0.0, None, "ok")
    assert not keep_in_history(0.0, 60.0, "critical", "critical")
    assert keep_in_history(0.0, 60.0, "ok", "critical")  # a change always joins
    assert keep_in_history(0.0, HISTORY_SPACING, "critical", "critical")
    # the kept reports can span the window in which a failure becomes persistent
    assert PERSIST_MIN_SPAN.total_seconds() <= (HISTORY - 1) * HISTORY_SPACING
