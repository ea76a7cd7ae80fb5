"""Render an :class:`~smtpdiag.bounces.bounce.Explanation` as text or JSON.

Text: the one-line summary first, then the bounce as parsed, the meaning (registry and
seed), the causes, the investigation steps, the action with concrete retry times,
notes, and (``explain --probe``) whether the probe confirms the bounce plus the probe
report. Everything printed was sanitized when it was parsed; widths are fixed when
``width`` is given (golden-testable).
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..bounces.bounce import Explanation
from ..model import SCHEMA_VERSION, Severity
from ..model.bounce import Notice
from ..narrate import bounce as words

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from ..bounces.bounce import ParsedBounce
    from ..bounces.confirm import DomainConfirmation
    from ..bounces.model import BatchItem, BatchSummary
    from ..model import Action

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
    from .jsonable import plain

    body = plain(replace(expl, probe=None))  # no derived keys: nothing of a probe's routes
    assert isinstance(body, dict)
    body["probe"] = None
    if expl.probe is not None:
        from .jsonout import report_to_dict  # with --probe only: it loads the whole model

        body["probe"] = report_to_dict(expl.probe)
    return {"kind": "explanation", "schema_version": EXPLAIN_SCHEMA_VERSION, **body}


def dumps_explanation(expl: Explanation) -> str:
    """``explanation_to_dict`` as indented JSON."""
    return json.dumps(explanation_to_dict(expl), indent=2, ensure_ascii=False)


def _wrap(text: str, width: int, indent: str = "  ", hang: str | None = None) -> list[str]:
    import textwrap  # the text only: --json does not compile its word-splitting patterns

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


class _Page:
    """Lines of the text rendering: wrapped at ``width``, headings bold with ``color``."""

    def __init__(self, width: int, color: bool) -> None:
        self.width = width
        self.color = color
        self.lines: list[str] = []

    def head(self, title: str) -> None:
        self.lines.append("")
        self.lines.append(f"{_BOLD}{title}{_RESET}" if self.color else title)

    def wrap(self, text: str, indent: str = "  ", hang: str | None = None) -> None:
        self.lines.extend(_wrap(text, self.width, indent, hang))

    def numbered(self, items: Iterable[str]) -> None:
        for i, text in enumerate(items, 1):
            self.wrap(f"{i}. {text}", "  ", "     ")


def _summary(page: _Page, expl: Explanation) -> None:
    lines = _wrap(expl.summary, page.width, "", "")
    if page.color and expl.severity is not None:
        tint = {Severity.HARD: _RED, Severity.SOFT: _YELLOW}.get(expl.severity, _GREEN)
        lines = [f"{tint}{line}{_RESET}" for line in lines]
    page.lines.extend(lines)


def _read_from(b: ParsedBounce) -> str:
    source = {"dsn": "delivery status notification (RFC 3464)", "text": "bounce text"}.get(
        b.source, "nothing recognised"
    )
    source += f"; code from: {b.code_source.value}"
    if b.confidence is not None:
        source += f" (confidence {b.confidence.value})"
    if b.action:
        source += f", action {b.action}"
    return source


def _bounce(page: _Page, b: ParsedBounce) -> None:
    page.head("Bounce")
    if b.text:
        page.wrap(f"text: {b.text}")
    if b.recipient:
        page.wrap(f"recipient: {b.recipient} (domain {b.domain})")
    if b.remote_mta or b.remote_address:
        address = f"[{b.remote_address}]" if b.remote_address else None
        page.wrap(f"remote MTA: {' '.join(x for x in (b.remote_mta, address) if x)}")
    page.wrap(f"read from: {_read_from(b)}")
    if b.notice is not Notice.FAILED:
        page.wrap(f"notice: {b.notice.value} ({words.NOTICE_TITLES[b.notice]})")
    if len(b.codes) > 1:
        page.wrap(f"codes seen: {', '.join(b.codes)}")
    if b.truncated:
        page.wrap("input was longer than 1 MiB and was cut")
    if b.limits.any:
        page.wrap(words.note_limits(b.limits))


def _decision(page: _Page, expl: Explanation) -> None:
    page.head("Reason and decision")
    page.wrap(f"reason: {expl.reason.value} ({words.REASON_TITLES[expl.reason]})")
    page.wrap(f"decision: {expl.decision.value} ({words.DECISION_TITLES[expl.decision]})")


def _meaning(page: _Page, expl: Explanation) -> None:
    page.head("Meaning")
    c = expl.code
    if c is not None:
        ref = f" ({c.reference})" if c.reference else ""
        page.wrap(f"{c.code} {c.title}: {c.description}{ref}")
        page.wrap(f"class {c.klass}: {c.class_title}; subject {c.subject}: {c.subject_title}")
    if expl.basic is not None:
        page.wrap(f"reply code {expl.basic.code}: {expl.basic.title} ({expl.basic.reference})")
    k = expl.knowledge
    if k is not None:
        origin = (
            "one of the four guides this tool is built on"
            if k.from_seed
            else "RFC 3463 and common MTA usage"
        )
        page.wrap(f"{k.code} {k.title} ({origin}, {k.category}): {k.meaning}")
        if k.distinction:
            page.wrap(k.distinction)


def _causes_and_steps(page: _Page, expl: Explanation) -> None:
    if expl.matched_causes:
        page.head("What the text points at")
        for cause in expl.matched_causes:
            page.wrap(f"- {cause}")
    k = expl.knowledge
    if k is not None and k.causes:
        page.head(f"Possible causes (the {k.code} guide)")
        page.numbered(c.text for c in k.causes)
    if k is not None and k.all_steps:
        page.head("Investigation steps")
        if k.steps_derived:
            page.wrap(
                f"(the {k.code} guide has no investigation section; derived from its "
                "developer and best-practice lists)"
            )
        page.numbered(step.text for step in k.all_steps)


def _action(page: _Page, a: Action | None) -> None:
    if a is None:
        return
    page.head(f"Action: {a.kind.value}")
    page.wrap(a.summary)
    for attempt in a.schedule:
        last = " (last try)" if attempt.final else ""
        page.lines.append(
            f"  retry {attempt.number}: {attempt.at}  (+{_dur(attempt.after_previous_s)}){last}"
        )
    if a.after_schedule:
        page.wrap(f"then: {a.after_schedule}")


def _notes_and_probe(page: _Page, expl: Explanation, full: bool) -> None:
    if expl.notes:
        page.head("Notes")
        for note in expl.notes:
            page.wrap(f"- {note}")
    if expl.confirmation is not None:
        page.head(f"Probe now: {expl.confirmation.status.value}")
        page.wrap(expl.confirmation.summary)
    if expl.probe is not None:
        from .text import render_text

        page.lines.append("")
        text = render_text(expl.probe, width=page.width, color=page.color, full=full)
        page.lines.append(text.rstrip("\n"))


def render_explanation(
    expl: Explanation, *, width: int | None = None, color: bool = False, full: bool = True
) -> str:
    """Render ``expl`` for humans; ``width`` defaults to 100 columns; ``full``: the probe's
    report (``--probe``) with its full evidence."""
    page = _Page(max(40, min(width or 100, 400)), color)
    _summary(page, expl)
    _bounce(page, expl.bounce)
    if expl.found:
        _decision(page, expl)
        _meaning(page, expl)
        _causes_and_steps(page, expl)
        _action(page, expl.action)
        _notes_and_probe(page, expl, full)
    return "\n".join(page.lines) + "\n"


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
    from ..narrate.units import plural

    out = [
        "",
        f"probed now ({plural(len(confirmations), 'domain')} of network or routing bounces)",
    ]
    for c in confirmations:
        head = (
            f"{c.domain} ({plural(c.records, 'record')}, {c.code or 'no code'}): {c.status.value}"
        )
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
    """The batch summary as tables: by notice, code, reason, decision and recipient domain."""
    w = max(40, min(width or 100, 400))
    from ..narrate.units import plural

    out = [
        f"{plural(summary.inputs, 'input')}: {summary.inputs_with_records} with records "
        f"({plural(summary.records, 'record')}), {plural(summary.errors, 'error')}, "
        f"{summary.not_understood} not understood"
    ]
    if summary.inputs_cut:
        out.append(words.limits_line(summary.inputs_cut))

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

    def notice_label(key: str) -> str:
        return next((t for n, t in words.NOTICE_TITLES.items() if n.value == key), "")

    table("by notice", summary.by_notice, notice_label)
    table("by code", summary.by_code)
    table("by reason", summary.by_reason, reason_label)
    table("by decision", summary.by_decision, decision_label)
    table("by recipient domain", summary.by_domain)
    table("by code source", summary.by_source)
    return "\n".join(out) + "\n"
