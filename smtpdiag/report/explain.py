"""Render an :class:`~smtpdiag.diagnose.bounce.Explanation` as text or JSON.

Text: the one-line summary first, then the bounce as parsed, the meaning (registry and
seed), the causes, the investigation steps, the action with concrete retry times,
notes, and (``explain --probe``) whether the probe confirms the bounce plus the probe
report. Everything printed was sanitized when it was parsed; widths are fixed when
``width`` is given (golden-testable).
"""

from __future__ import annotations

import json
import textwrap
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..diagnose.bounce import Explanation
from ..model import SCHEMA_VERSION, Severity
from ..narrate import bounce as words

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ..bounces.confirm import DomainConfirmation
    from ..bounces.model import BatchItem, BatchSummary

__all__ = [
    "EXPLAIN_SCHEMA_VERSION",
    "dumps_confirmation",
    "dumps_explanation",
    "dumps_item",
    "explanation_to_dict",
    "item_to_dict",
    "render_confirmations",
    "render_explanation",
    "render_summary",
    "summary_to_dict",
]

#: JSON document version of ``smtpdiag explain --json`` and of ``--batch`` records: the
#: release's schema version (see ``explain_schema.json``).
EXPLAIN_SCHEMA_VERSION = SCHEMA_VERSION

_BOLD = "\x1b[1m"
_RED = "\x1b[31m"
_YELLOW = "\x1b[33m"
_GREEN = "\x1b[32m"
_RESET = "\x1b[0m"


def explanation_to_dict(expl: Explanation) -> dict[str, Any]:
    """The JSON form: every field of the explanation; the probe as the probe's own
    versioned JSON document (``report_to_dict``)."""
    from .jsonout import report_to_dict, to_jsonable

    body = to_jsonable(replace(expl, probe=None))
    assert isinstance(body, dict)
    body["probe"] = report_to_dict(expl.probe) if expl.probe is not None else None
    return {"kind": "explanation", "schema_version": EXPLAIN_SCHEMA_VERSION, **body}


def dumps_explanation(expl: Explanation) -> str:
    """``explanation_to_dict`` as indented JSON."""
    return json.dumps(explanation_to_dict(expl), indent=2, ensure_ascii=False)


def _wrap(text: str, width: int, indent: str = "  ", hang: str | None = None) -> list[str]:
    return textwrap.wrap(
        text,
        width=width,
        initial_indent=indent,
        subsequent_indent=hang if hang is not None else indent + "  ",
        break_long_words=True,
        break_on_hyphens=False,
    ) or [indent.rstrip()]


def _dur(seconds: int) -> str:
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    return f"{seconds // 60} min"


def render_explanation(expl: Explanation, *, width: int | None = None, color: bool = False) -> str:
    """Render ``expl`` for humans; ``width`` defaults to 100 columns."""
    w = max(40, min(width or 100, 400))
    out: list[str] = []

    def head(title: str) -> None:
        out.append("")
        out.append(f"{_BOLD}{title}{_RESET}" if color else title)

    summary = expl.summary
    if color and expl.severity is not None:
        tint = {Severity.HARD: _RED, Severity.SOFT: _YELLOW}.get(expl.severity, _GREEN)
        out.extend(f"{tint}{line}{_RESET}" for line in _wrap(summary, w, "", ""))
    else:
        out.extend(_wrap(summary, w, "", ""))

    b = expl.bounce
    head("Bounce")
    if b.text:
        out.extend(_wrap(f"text: {b.text}", w))
    if b.recipient:
        out.extend(_wrap(f"recipient: {b.recipient} (domain {b.domain})", w))
    if b.remote_mta or b.remote_address:
        where = " ".join(
            x for x in (b.remote_mta, f"[{b.remote_address}]" if b.remote_address else None) if x
        )
        out.extend(_wrap(f"remote MTA: {where}", w))
    source = {"dsn": "delivery status notification (RFC 3464)", "text": "bounce text"}.get(
        b.source, "nothing recognised"
    )
    source += f"; code from: {b.code_source.value}"
    if b.confidence is not None:
        source += f" (confidence {b.confidence.value})"
    if b.action:
        source += f", action {b.action}"
    out.extend(_wrap(f"read from: {source}", w))
    if len(b.codes) > 1:
        out.extend(_wrap(f"codes seen: {', '.join(b.codes)}", w))
    if b.truncated:
        out.extend(_wrap("input was longer than 1 MiB and was cut", w))
    if not expl.found:
        return "\n".join(out) + "\n"

    head("Reason and decision")
    out.extend(_wrap(f"reason: {expl.reason.value} ({words.REASON_TITLES[expl.reason]})", w))
    out.extend(
        _wrap(f"decision: {expl.decision.value} ({words.DECISION_TITLES[expl.decision]})", w)
    )

    head("Meaning")
    if expl.code is not None:
        c = expl.code
        ref = f" ({c.reference})" if c.reference else ""
        out.extend(_wrap(f"{c.code} {c.title}: {c.description}{ref}", w))
        out.extend(
            _wrap(f"class {c.klass}: {c.class_title}; subject {c.subject}: {c.subject_title}", w)
        )
    if expl.basic is not None:
        out.extend(
            _wrap(f"reply code {expl.basic.code}: {expl.basic.title} ({expl.basic.reference})", w)
        )
    k = expl.knowledge
    if k is not None:
        origin = "seed" if k.from_seed else "not from the seeds"
        out.extend(_wrap(f"{k.code} {k.title} ({origin}, {k.category}): {k.meaning}", w))
        if k.distinction:
            out.extend(_wrap(k.distinction, w))

    if expl.matched_causes:
        head("What the text points at")
        for cause in expl.matched_causes:
            out.extend(_wrap(f"- {cause}", w))
    if k is not None and k.causes:
        head("Possible causes (seed list)")
        for i, seed_cause in enumerate(k.causes, 1):
            out.extend(_wrap(f"{i}. {seed_cause.text}", w, "  ", "     "))
    if k is not None and k.all_steps:
        head("Investigation steps")
        if k.steps_derived:
            out.extend(
                _wrap(
                    "(the seed has no investigation section; derived from its developer and "
                    "best-practice lists)",
                    w,
                )
            )
        for i, step in enumerate(k.all_steps, 1):
            out.extend(_wrap(f"{i}. {step.text}", w, "  ", "     "))

    a = expl.action
    if a is not None:
        head(f"Action: {a.kind.value}")
        out.extend(_wrap(a.summary, w))
        for attempt in a.schedule:
            last = " (last try)" if attempt.final else ""
            out.append(
                f"  retry {attempt.number}: {attempt.at}  (+{_dur(attempt.after_previous_s)}){last}"
            )
        if a.after_schedule:
            out.extend(_wrap(f"then: {a.after_schedule}", w))

    if expl.notes:
        head("Notes")
        for note in expl.notes:
            out.extend(_wrap(f"- {note}", w))

    if expl.confirmation is not None:
        c2 = expl.confirmation
        head(f"Probe now: {c2.status.value}")
        out.extend(_wrap(c2.summary, w))
    if expl.probe is not None:
        from .text import render_text

        out.append("")
        out.append(render_text(expl.probe, width=w, color=color).rstrip("\n"))
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------- batch


def item_to_dict(item: BatchItem) -> dict[str, Any]:
    """One ``--batch`` record (``kind: record``) or error record (``kind: error``)."""
    from ..bounces.model import BatchError
    from .jsonout import to_jsonable

    body = to_jsonable(item)
    assert isinstance(body, dict)
    kind = "error" if isinstance(item, BatchError) else "record"
    return {"kind": kind, "schema_version": EXPLAIN_SCHEMA_VERSION, **body}


def dumps_item(item: BatchItem) -> str:
    """One NDJSON line (no line end)."""
    return json.dumps(item_to_dict(item), ensure_ascii=False, separators=(",", ":"))


def dumps_confirmation(confirmation: DomainConfirmation) -> str:
    """One ``--batch --probe`` line (``kind: confirmation``): a domain probed once."""
    from .jsonout import to_jsonable

    body = to_jsonable(confirmation)
    assert isinstance(body, dict)
    doc = {"kind": "confirmation", "schema_version": EXPLAIN_SCHEMA_VERSION, **body}
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"))


def render_confirmations(
    confirmations: Sequence[DomainConfirmation], skipped: int, *, width: int | None = None
) -> str:
    """The ``--batch --probe`` results, one paragraph per domain."""
    w = max(40, min(width or 100, 400))
    out = ["", f"probed now ({len(confirmations)} domains of network or routing bounces)"]
    for c in confirmations:
        head = f"{c.domain} ({c.records} records, {c.code or 'no code'}): {c.status.value}"
        out.extend(_wrap(head, w))
        out.extend(_wrap(c.summary, w, "    "))
    if skipped:
        out.extend(_wrap(words.probe_limit_note(skipped), w))
    return "\n".join(out) + "\n"


def summary_to_dict(summary: BatchSummary) -> dict[str, Any]:
    """The batch summary (``kind: summary``), the last NDJSON line with ``--json``."""
    from .jsonout import to_jsonable

    body = to_jsonable(summary)
    assert isinstance(body, dict)
    return {"kind": "summary", "schema_version": EXPLAIN_SCHEMA_VERSION, **body}


def dumps_summary(summary: BatchSummary) -> str:
    """The summary NDJSON line (no line end), compact like the record lines."""
    return json.dumps(summary_to_dict(summary), ensure_ascii=False, separators=(",", ":"))


def render_summary(summary: BatchSummary, *, width: int | None = None) -> str:
    """The batch summary as tables: by code, reason, decision and recipient domain."""
    w = max(40, min(width or 100, 400))
    out = [
        f"{summary.inputs} inputs: {summary.inputs_with_records} with records "
        f"({summary.records} records), {summary.errors} errors"
    ]

    def table(title: str, counts: dict[str, int], label: Any = None) -> None:
        if not counts:
            return
        out.append("")
        out.append(title)
        key_w = min(max(len(k) for k in counts), w // 2)
        for key, n in counts.items():
            extra = f"  {label(key)}" if label is not None else ""
            line = f"  {key[:key_w]:<{key_w}}  {n:>7}{extra}"
            out.append(line[:w])

    def reason_label(key: str) -> str:
        return next((t for r, t in words.REASON_TITLES.items() if r.value == key), "")

    def decision_label(key: str) -> str:
        return next((t for d, t in words.DECISION_TITLES.items() if d.value == key), "")

    table("by code", summary.by_code)
    table("by reason", summary.by_reason, reason_label)
    table("by decision", summary.by_decision, decision_label)
    table("by recipient domain", summary.by_domain)
    table("by code source", summary.by_source)
    return "\n".join(out) + "\n"
