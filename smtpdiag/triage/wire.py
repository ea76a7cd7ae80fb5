"""What a bulk run and its worker processes say to each other: one JSON array per
line, ``[kind, items]``, over the worker's stdin and stdout.

Parent to worker:
    ``["unit", WorkUnit]``     first line: probe config, settings, ``now`` (no domains)
    ``["d", [[tag, name], ...]]``                    domains to resolve and diagnose
    ``["r", [[req, RouteResult | null, shared], ...]]`` route results (``null``: the run
    was stopped before the route's turn came; the domain is not done)

Worker to parent:
    ``["p", [[req, Route], ...]]``   a route result is needed (the parent answers when
    the route is probed, however long its turn takes: the worker applies the domain's
    deadline itself, and keeps the result for its later domains)
    ``["rec", [[tag, DomainRecord | null, detail], ...]]``  a domain's record (``null``
    with detail ``"interrupted"``: not done; any other detail: an internal error)

Items are batched per event-loop turn, so a line carries as many as were ready.
Everything travels as :func:`~.work.to_plain` data; the worker's domain records are
decoded by :func:`record_from_plain`, a direct reader of one known shape.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from ..bounces.reasons import Decision, Reason
from ..model import Persistence, Severity, TlsMode, Verdict
from .model import DomainRecord, FindingBrief, RouteUse

__all__ = ["INTERRUPTED", "LINE_LIMIT", "Outbox", "encode", "record_from_plain", "record_to_plain"]

#: Longest line either side reads (a route result with a long certificate chain).
LINE_LIMIT = 16 << 20
#: The detail of a domain that was not done because the run was stopped.
INTERRUPTED = "interrupted"


def encode(kind: str, items: Any) -> bytes:
    """One protocol line."""
    return json.dumps([kind, items], separators=(",", ":"), allow_nan=False).encode() + b"\n"


class Outbox:
    """Items queued per kind and written together at the end of the loop's turn."""

    def __init__(self, write: Callable[[bytes], None]) -> None:
        self._write = write
        self._items: dict[str, list[Any]] = {}
        self._scheduled = False

    def put(self, kind: str, item: Any) -> None:
        self._items.setdefault(kind, []).append(item)
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self.flush)

    def flush(self) -> None:
        self._scheduled = False
        items, self._items = self._items, {}
        for kind, batch in items.items():
            self._write(encode(kind, batch))


def _opt_str(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise ValueError(f"expected a string or null: {value!r}")


def _str(value: Any) -> str:
    if isinstance(value, str):
        return value
    raise ValueError(f"expected a string: {value!r}")


def _use(d: dict[str, Any]) -> RouteUse:
    port = d["port"]
    if not isinstance(port, int) or isinstance(port, bool):
        raise ValueError(f"bad port: {port!r}")
    return RouteUse(
        _str(d["mx"]),
        _str(d["address"]),
        port,
        TlsMode(d["tls_mode"]),
        d["ok"] is True,
        _opt_str(d["phase"]),
        _opt_str(d["outcome"]),
        d["shared"] is True,
    )


def record_to_plain(r: DomainRecord) -> dict[str, Any]:
    """``to_plain(r)`` for a :class:`DomainRecord`, written out (one per domain, twice
    with workers: the generic walk over the fields was a tenth of a domain's cost)."""
    return {
        "domain": r.domain,
        "verdict": r.verdict.value,
        "primary": r.primary,
        "persistence": r.persistence.value,
        "findings": [
            {"rule": f.rule, "code": f.code, "severity": f.severity.value, "action": f.action}
            for f in r.findings
        ],
        "decision": r.decision.value,
        "retry_at": r.retry_at,
        "reason": r.reason.value,
        "provider": r.provider,
        "routes": [
            {
                "mx": u.mx,
                "address": u.address,
                "port": u.port,
                "tls_mode": u.tls_mode.value,
                "ok": u.ok,
                "phase": u.phase,
                "outcome": u.outcome,
                "shared": u.shared,
            }
            for u in r.routes
        ],
        "could_not_run": r.could_not_run,
        "duration_ms": r.duration_ms,
    }


def record_from_plain(d: dict[str, Any]) -> DomainRecord:
    """The inverse of ``to_plain(record)`` for a :class:`DomainRecord` (what
    :func:`~.work.from_plain` does for any type, about ten times faster: the parent
    decodes one per domain). Raises ``ValueError``/``KeyError``/``TypeError`` on
    another shape."""
    findings = tuple(
        FindingBrief(
            _str(f["rule"]), _opt_str(f["code"]), Severity(f["severity"]), _str(f["action"])
        )
        for f in d["findings"]
    )
    duration = d["duration_ms"]
    if not isinstance(duration, int | float) or isinstance(duration, bool):
        raise ValueError(f"bad duration: {duration!r}")
    return DomainRecord(
        domain=_str(d["domain"]),
        verdict=Verdict(d["verdict"]),
        primary=_opt_str(d["primary"]),
        persistence=Persistence(d["persistence"]),
        findings=findings,
        decision=Decision(d["decision"]),
        retry_at=_opt_str(d["retry_at"]),
        reason=Reason(d["reason"]),
        provider=_str(d["provider"]),
        routes=tuple(_use(u) for u in d["routes"]),
        could_not_run=d["could_not_run"] is True,
        duration_ms=float(duration),
    )
