"""Per-target history that survives a restart: an SQLite file under ``--state-dir``.

One row per target: first seen, last probe, failing since, counts of probes by result,
the last drift signatures and when each last changed. Each round is one transaction in
WAL mode, so a process killed mid-write leaves the previous round's state, never a torn
file. Without a directory the same store lives in memory (forgotten at exit).

The rows are bounded by ``max_targets`` (the least recently probed are dropped). Each
round writes one row: the rows are also kept in memory (as many as the file, so the
same bound), and the oldest are pruned only when a new target takes the count over the
bound, through an index: a round costs the same with 10 targets or 10,000.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path

from .drift import DriftKind, Signatures

__all__ = ["ProbeResultKind", "StateStore", "TargetState", "default_state_dir"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS target (
    target TEXT PRIMARY KEY,
    first_seen REAL NOT NULL,
    last_probe REAL NOT NULL,
    failing_since REAL,
    counts TEXT NOT NULL,
    signatures TEXT NOT NULL,
    changed TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS target_last_probe ON target (last_probe)
"""


class ProbeResultKind(StrEnum):
    """How one probe ended (the ``result`` label of ``smtpdiag_probes_total``)."""

    OK = "ok"
    WARNING = "warning"
    CRITICAL = "critical"
    UNKNOWN = "unknown"
    UNTESTABLE = "untestable"  #: the server rate-limited us (421/450): no verdict


@dataclass(frozen=True, slots=True)
class TargetState:
    """What the service remembers about one target.

    Attributes:
        target: The domain (canonical form).
        first_seen: Unix time of the first probe.
        last_probe: Unix time of the latest probe.
        failing_since: Unix time since which every probe was critical (untestable and
            unknown rounds neither start nor end it); ``None`` when not failing.
        counts: Probes so far by result.
        signatures: The latest drift signature seen of each kind.
        changed: Unix time each kind last changed (absent: never seen to change).
    """

    target: str
    first_seen: float
    last_probe: float
    failing_since: float | None = None
    counts: dict[ProbeResultKind, int] = field(default_factory=dict)
    signatures: dict[DriftKind, str] = field(default_factory=dict)
    changed: dict[DriftKind, float] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def default_state_dir() -> Path:
    """``$XDG_STATE_HOME/smtpdiag`` (default ``~/.local/state/smtpdiag``)."""
    import os

    base = os.environ.get("XDG_STATE_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "state"
    )
    return Path(base) / "smtpdiag"


def _dump(mapping: dict[str, object]) -> str:
    import json

    return json.dumps(mapping, sort_keys=True)


_RESULTS = {k.value: k for k in ProbeResultKind}
_KINDS = {k.value: k for k in DriftKind}


def _load(text: str) -> dict[str, object]:
    """A JSON object from a row; anything else (a file edited by hand) reads as empty."""
    import json

    try:
        raw = json.loads(text)
    except (ValueError, TypeError):
        return {}
    return raw if isinstance(raw, dict) else {}


def _load_counts(text: str) -> dict[ProbeResultKind, int]:
    return {_RESULTS[k]: v for k, v in _load(text).items() if k in _RESULTS and isinstance(v, int)}


def _load_kinds(text: str, cast: type | tuple[type, ...]) -> dict[DriftKind, object]:
    return {_KINDS[k]: v for k, v in _load(text).items() if k in _KINDS and isinstance(v, cast)}


class StateStore:
    """The history of every target; one SQLite connection, used from the event loop."""

    FILENAME = "serve-state.sqlite3"

    def __init__(self, directory: Path | None, max_targets: int = 10_000) -> None:
        self.path = None if directory is None else directory / self.FILENAME
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._db = sqlite3.connect(":memory:" if self.path is None else str(self.path))
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._db.commit()
        self._max = max_targets
        # What the file holds, read once: every later read is from memory, and every
        # write goes to both (this connection is the file's only writer).
        self._rows: dict[str, TargetState] = {}
        self._count = int(self._db.execute("SELECT COUNT(*) FROM target").fetchone()[0])
        with self._db:
            self._forget(self._prune(self._count))

    @property
    def db(self) -> sqlite3.Connection:
        """The connection, for the other tables of the state (received TLS reports)."""
        return self._db

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> StateStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(self, target: str) -> TargetState | None:
        state = self._rows.get(target)
        if state is None:
            state = self._read(target)
            if state is not None:
                self._rows[target] = state
        return state

    def _read(self, target: str) -> TargetState | None:
        row = self._db.execute(
            "SELECT target, first_seen, last_probe, failing_since, counts, signatures, "
            "changed FROM target WHERE target = ?",
            (target,),
        ).fetchone()
        if row is None:
            return None
        return TargetState(
            target=row[0],
            first_seen=row[1],
            last_probe=row[2],
            failing_since=row[3],
            counts=_load_counts(row[4]),
            signatures={k: str(v) for k, v in _load_kinds(row[5], str).items()},
            changed={k: float(str(v)) for k, v in _load_kinds(row[6], (int, float)).items()},
        )

    def record(
        self,
        target: str,
        result: ProbeResultKind,
        sigs: Signatures | None,
        now: float | None = None,
    ) -> TargetState:
        """Add one probe's outcome and signatures; returns the new state (committed)."""
        now = time.time() if now is None else now
        old = self.get(target) or TargetState(target, first_seen=now, last_probe=now)
        counts = dict(old.counts)
        counts[result] = counts.get(result, 0) + 1
        failing_since = old.failing_since
        if result is ProbeResultKind.CRITICAL:
            failing_since = failing_since if failing_since is not None else now
        elif result in (ProbeResultKind.OK, ProbeResultKind.WARNING):
            failing_since = None
        signatures = dict(old.signatures)
        changed = dict(old.changed)
        for kind in DriftKind:
            new = sigs.get(kind) if sigs is not None else None
            if new is None:
                continue  # nothing seen this round: neither a change nor a baseline
            before = signatures.get(kind)
            if before is not None and before != new:
                changed[kind] = now
            signatures[kind] = new
        state = replace(
            old,
            last_probe=now,
            failing_since=failing_since,
            counts=counts,
            signatures=signatures,
            changed=changed,
        )
        with self._db:  # one transaction: the whole round or nothing
            self._db.execute(
                "INSERT OR REPLACE INTO target VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    target,
                    state.first_seen,
                    state.last_probe,
                    state.failing_since,
                    _dump({k.value: v for k, v in counts.items()}),
                    _dump({k.value: v for k, v in signatures.items()}),
                    _dump({k.value: v for k, v in changed.items()}),
                ),
            )
            count = self._count + (target not in self._rows)
            dropped = self._prune(count)
        # Memory follows the file only once the transaction is in.
        self._count = count
        self._rows[target] = state
        self._forget(dropped)
        return state

    def _prune(self, count: int) -> list[str]:
        """Delete the least recently probed rows beyond ``max_targets`` of ``count`` (in
        the caller's transaction); returns their targets."""
        excess = count - self._max
        if excess <= 0:
            return []
        dropped = [
            str(row[0])
            for row in self._db.execute(
                "SELECT target FROM target ORDER BY last_probe LIMIT ?", (excess,)
            )
        ]
        self._db.executemany("DELETE FROM target WHERE target = ?", [(t,) for t in dropped])
        return dropped

    def _forget(self, dropped: list[str]) -> None:
        for target in dropped:
            self._rows.pop(target, None)
        self._count -= len(dropped)

    def count(self) -> int:
        return self._count
