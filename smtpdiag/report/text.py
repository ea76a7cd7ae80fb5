"""The human-readable report (rich), leading with the verdict and the findings.

Layout, top to bottom:

1. header: domain, verdict and persistence, the primary code, what was probed;
2. findings (when diagnosed): code, title, soft/hard, summary, evidence, causes, the
   investigation checklist (``[done]`` with the probe's result, ``[todo]`` for a human),
   and the action (a retry schedule with concrete times, or suppress);
3. DNS: the MX table (preference, host, kind, addresses) and the notable queries;
   then the TLS policy when it was looked up (MTA-STS, DANE per MX host, TLS-RPT);
4. routes: per MX host and address, one row per port with each phase's duration in
   milliseconds (the failed phase in brackets), then TLS facts per route, the distinct
   certificates, and the details of every failure.

Safety: every string that came from outside (banners, replies, DNS data, certificate
fields, error texts) is passed through :func:`smtpdiag.textsafe.clean` again here with a
display limit, and is only ever rendered as a rich ``Text`` object, never parsed as
markup or emoji codes. The console has markup, emoji and highlighting switched off, so
a server cannot style, hide or reorder the output (ANSI escapes and bidi overrides are
removed, ``[bold]`` stays literal text).

Determinism: the width is fixed (``width`` or, when ``None``, the terminal width clamped
to 40-400), no terminal detection happens when ``color`` is false, and nothing depends
on the current time: the output depends only on ``report``.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence

from rich.console import Console, Group, RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from ..model import (
    ActionKind,
    Diagnosis,
    DnsOutcome,
    DnsQuery,
    Evidence,
    Finding,
    MxHost,
    Outcome,
    Persistence,
    ProbeReport,
    Resolution,
    ResolutionKind,
    RetryAttempt,
    Severity,
    StepStatus,
    Verdict,
)
from ..narrate.findings_vantage import fault_side_text, vantage_rows
from ..narrate.policy import policy_rows, senders_line
from ..narrate.units import plural

__all__ = ["DEFAULT_WIDTH", "format_ms", "render_text"]
from .text_common import (
    _LIMIT_LINE,
    _LIMIT_PARA,
    _LIMIT_SHORT,
    _MAX_LIST,
    _SEVERITY_STYLE,
    _SEVERITY_TEXT,
    _VERDICT_STYLE,
    DEFAULT_WIDTH,
    _Fit,
    _format_seconds,
    _indented,
    _safe,
    _t,
    _table,
    _width,
    format_ms,
)
from .text_routes import routes_section


def render_text(
    report: ProbeReport, *, width: int | None = None, color: bool = False, full: bool = True
) -> str:
    """Render ``report`` for humans.

    Args:
        report: A probe report, diagnosed or not (``diagnosis`` may be ``None``).
        width: Columns; ``None`` = the terminal's width (clamped), or 100 if unknown.
        color: Emit ANSI styles. When false the output is plain text.
        full: Every finding's evidence, causes, investigation steps and related codes,
            every DNS query of note, banners, the TLS table, each certificate and each
            failure's details (the default, as before). False: the operator's report the
            CLI prints by default (``--full`` for the rest): each fact once, who fails,
            with which code, what to do, and the route timings.

    Returns:
        The report, ending in a newline.
    """
    buf = io.StringIO()
    console = Console(
        file=buf,
        width=_width(width),
        color_system="standard" if color else None,
        force_terminal=color,
        force_interactive=False,
        no_color=not color,
        markup=False,
        emoji=False,
        highlight=False,
        soft_wrap=False,
        legacy_windows=False,
        record=False,
    )
    for block in _blocks(report, full):
        console.print(block)
    # rich pads padded blocks to the full width; trailing blanks only make diffs noisy.
    return "\n".join(line.rstrip() for line in buf.getvalue().split("\n"))


def _blocks(report: ProbeReport, full: bool) -> Iterable[RenderableType]:
    yield _header(report, full)
    if report.diagnosis is not None and report.diagnosis.findings:
        yield Text("")
        yield _section("Findings")
        for index, finding in enumerate(report.diagnosis.findings, 1):
            yield _finding(index, finding, report.diagnosis.persistence, full)
    yield Text("")
    yield _section("DNS")
    yield from _dns(report.resolution, full)
    rows = policy_rows(report)
    if rows and not full:
        # Each mechanism's status, in one paragraph; the per-MX details are in --full.
        yield Text("")
        line = Text("TLS policy: ", style="bold")
        line.append(
            "; ".join(f"{label} {_safe(text, _LIMIT_PARA)}" for label, text in rows if label)
        )
        yield line
    elif rows:
        yield Text("")
        yield _section("TLS policy")
        yield _indented(_Fit(_policy_table(rows)), 2)
    names = vantage_rows(report) if full else []
    if names:
        yield Text("")
        yield _section("Vantage point and names")
        yield _indented(_Fit(_policy_table(names)), 2)
    yield Text("")
    yield _section("Routes")
    if not report.routes:
        yield _indented(_t(_no_routes_reason(report)), 2)
    else:
        yield from routes_section(report, full=full)
    if not full and _has_more(report):
        yield Text(
            "More (evidence, causes, every step, TLS and certificate details): --full or --json.",
            style="dim",
        )


def _has_more(report: ProbeReport) -> bool:
    """Whether ``--full`` would show anything the default report leaves out."""
    if report.routes:
        return True
    diagnosis = report.diagnosis
    return diagnosis is not None and any(
        f.evidence or f.causes or f.steps or f.neighbours for f in diagnosis.findings
    )


def _section(title: str) -> Text:
    return Text(title.upper(), style="bold underline")


# ------------------------------------------------------------------------- header


def _verdict_line(report: ProbeReport) -> Text:
    """The verdict, persistence and primary code (or why there is no verdict)."""
    diagnosis = report.diagnosis
    verdict = Text("Verdict: ")
    if diagnosis is None:
        verdict.append("not diagnosed", style="bold")
        verdict.append(" (probe only). ")
        verdict.append(_route_summary(report))
        return verdict
    if diagnosis.verdict is Verdict.UNKNOWN:
        # Nothing about delivery was verified: no verdict on the domain, say why instead.
        lead = diagnosis.findings[0].title if diagnosis.findings else "nothing was probed"
        verdict = Text(_safe(lead, _LIMIT_SHORT), style=_VERDICT_STYLE[Verdict.UNKNOWN])
        verdict.append(" - no verdict on the domain: nothing about its mail was verified.")
        return verdict
    verdict.append(diagnosis.verdict.value.upper(), style=_VERDICT_STYLE[diagnosis.verdict])
    if diagnosis.verdict is not Verdict.HEALTHY:
        verdict.append(f", persistence {diagnosis.persistence.value}")
    primary = _primary_finding(diagnosis)
    if primary is not None and primary.code is not None:
        verdict.append("   primary: ")
        verdict.append(primary.code, style="bold")
        verdict.append(" ")
        verdict.append(_safe(primary.title, _LIMIT_SHORT))
    elif diagnosis.primary is not None:
        verdict.append("   primary: ")
        verdict.append(_safe(diagnosis.primary, 16), style="bold")
    return verdict


def _meta_lines(report: ProbeReport, full: bool) -> list[Text]:
    """When and how the probe ran; when it was diagnosed (retry times count from it)."""
    diagnosis = report.diagnosis
    meta = Text(style="dim")
    meta.append(f"Probed {_safe(report.started_at, 40)} in {format_ms(report.duration_ms)} ms")
    ports = ", ".join(str(p) for p in report.ports) or "-"
    families = ", ".join(f.value for f in report.families) or "-"
    meta.append(f"; ports {ports}; {families}")
    if report.tool_version:
        meta.append(f"; smtpdiag {_safe(report.tool_version, 20)}")
    lines = [meta]
    if diagnosis is not None and diagnosis.generated_at and (full or _has_schedule(diagnosis)):
        lines.append(
            Text(
                f"Diagnosed {_safe(diagnosis.generated_at, 40)}; retry times count from it.", "dim"
            )
        )
    return lines


def _header(report: ProbeReport, full: bool) -> RenderableType:
    lines: list[Text] = []
    title = Text()
    title.append("smtpdiag report: ", style="bold")
    title.append(_safe(report.domain, _LIMIT_SHORT), style="bold")
    lines.append(title)

    diagnosis = report.diagnosis
    verdict = _verdict_line(report)
    lines.append(verdict)
    if (
        full
        and diagnosis is not None
        and diagnosis.verdict not in (Verdict.HEALTHY, Verdict.UNKNOWN)
        and diagnosis.persistence is Persistence.UNKNOWN
    ):
        lines.append(
            Text(
                "Persistence: one probe cannot tell transient from permanent; "
                "repeat it (smtpdiag watch) for evidence."
            )
        )
    side = fault_side_text(diagnosis.fault_side) if diagnosis is not None else None
    if side is not None:
        lines.append(Text(side, style="bold"))
    if diagnosis is not None:
        summary = _route_summary(report)
        if not full and len(verdict.plain) + 2 + len(summary) <= _HEADER_FIT:
            verdict.append(f". {summary}")
        else:
            lines.append(Text(summary))
    lines.extend(_meta_lines(report, full))
    return Group(*lines)


#: The longest verdict line the default report joins the route count to (it fits 100 columns).
_HEADER_FIT = 100


def _has_schedule(diagnosis: Diagnosis) -> bool:
    return any(f.action.schedule for f in diagnosis.findings)


def _primary_finding(diagnosis: Diagnosis) -> Finding | None:
    for finding in diagnosis.findings:
        if finding.code == diagnosis.primary and diagnosis.primary is not None:
            return finding
    return None


def _route_summary(report: ProbeReport) -> str:
    total = len(report.routes)
    if total == 0:
        return "No route was probed."
    ok = sum(1 for r in report.routes if r.ok)
    hosts = len({r.route.mx for r in report.routes})
    addresses = len({r.route.address for r in report.routes})
    # A route never attempted (deadline, address policy) is counted apart: it neither
    # works nor fails.
    skipped = sum(
        1
        for r in report.routes
        if r.failure is not None and r.failure.outcome is Outcome.NOT_ATTEMPTED
    )
    tried = total - skipped
    head = (
        f"{ok} of {plural(tried, 'route')} {'works' if tried == 1 else 'work'}"
        if tried
        else "No route was tried"
    )
    tail = f"; {skipped} not attempted" if skipped else ""
    return (
        f"{head}{tail} ({plural(hosts, 'MX host')}, {plural(addresses, 'address', 'addresses')})."
    )


# ----------------------------------------------------------------------- findings


def _finding(index: int, finding: Finding, overall: Persistence, full: bool) -> RenderableType:
    parts: list[RenderableType] = []
    head = Text(f"{index}. ")
    head.append(_safe(finding.code, 16) if finding.code else "(no code)", style="bold")
    head.append("  ")
    head.append(_safe(finding.title, _LIMIT_SHORT), style="bold")
    head.append("  [")
    head.append(_SEVERITY_TEXT[finding.severity], style=_SEVERITY_STYLE[finding.severity])
    if finding.persistence is not overall and finding.severity is not Severity.INFO:
        # Only where it differs from the verdict's (e.g. one finding is known transient).
        head.append(f"; persistence {finding.persistence.value}")
    head.append("]")
    parts.append(head)

    # The sender's view first: who fails (with the code, in the head line), what to do;
    # then why.
    body: list[RenderableType] = []
    senders = senders_line(finding)
    if senders is not None:
        line = Text("Who fails: ", style="bold")
        line.append(_safe(senders, _LIMIT_PARA))
        body.append(line)
    if full or finding.action.kind is not ActionKind.NONE or finding.action.summary:
        body.append(_action(finding, full))
    body.append(_t(finding.summary, limit=_LIMIT_PARA))
    if full:
        body.extend(_finding_details(finding))
    parts.append(Padding(Group(*body), (0, 0, 0, 3)))
    return Group(*parts)


def _finding_details(finding: Finding) -> list[RenderableType]:
    """Evidence, causes, the investigation checklist and related codes (``--full``)."""
    body: list[RenderableType] = []
    if finding.evidence:
        body.append(Text("Evidence:", style="bold"))
        body.append(_bullets([_evidence(e) for e in finding.evidence], total=len(finding.evidence)))
    if finding.causes:
        body.append(Text("Likely causes:", style="bold"))
        body.append(_bullets([_t(c, limit=_LIMIT_PARA) for c in finding.causes]))
    if finding.steps:
        body.append(Text("Investigation:", style="bold"))
        steps = _table(header=False)
        steps.add_column(no_wrap=True)
        steps.add_column(overflow="fold")
        for step in finding.steps[: _MAX_LIST * 2]:
            text = _t(step.text, limit=_LIMIT_PARA)
            if step.status is StepStatus.DONE:
                mark = Text("[done]", style="green")
                if step.result:
                    text.append("\n-> ")
                    text.append(_safe(step.result, _LIMIT_PARA), style="italic")
            else:
                mark = Text("[todo]", style="yellow")
            steps.add_row(mark, text)
        body.append(_indented(steps, 2))
    if finding.neighbours:
        related = Text("Related codes: ", style="bold")
        related.append(_safe(", ".join(finding.neighbours), _LIMIT_PARA), style="")
        body.append(related)
    return body


def _bullets(items: Sequence[Text], *, total: int | None = None) -> RenderableType:
    shown = list(items[:_MAX_LIST])
    table = _table(header=False)
    table.add_column(no_wrap=True)
    table.add_column(overflow="fold")
    for item in shown:
        table.add_row(Text("-"), item)
    count = total if total is not None else len(items)
    if count > len(shown):
        table.add_row(Text(""), Text(f"... and {count - len(shown)} more", style="dim"))
    return _indented(table, 2)


def _evidence(e: Evidence) -> Text:
    line = Text()
    where = ""
    if e.mx:
        where = _safe(e.mx, _LIMIT_SHORT)
    if e.address:
        where += f"[{_safe(e.address, 60)}]"
    if e.port is not None:
        where += f":{e.port}"
    if where:
        line.append(where, style="bold")
    facts: list[str] = []
    if e.query:
        dns = f"dns {_safe(e.query, _LIMIT_SHORT)}"
        facts.append(dns + (f" {e.dns_outcome.value}" if e.dns_outcome else ""))
    if e.target_kind:
        facts.append(f"dns MX target {e.target_kind.value}")
    if e.phase:
        facts.append(e.phase.value + (f" {e.outcome.value}" if e.outcome else ""))
    elif e.outcome:
        facts.append(e.outcome.value)
    if e.reply:
        facts.append(f'"{_safe(e.reply)}"')
    if e.error:
        facts.append(_safe(e.error))
    if e.duration_ms is not None:
        facts.append(f"after {format_ms(e.duration_ms)} ms")
    if e.note:
        facts.append(_safe(e.note, _LIMIT_PARA))
    if facts:
        if where:
            line.append(": ")
        line.append(", ".join(facts))
    return line


def _action(finding: Finding, full: bool) -> RenderableType:
    action = finding.action
    head = Text("Action: ", style="bold")
    head.append(action.kind.value.upper(), style="bold")
    if action.summary:
        head.append(" - ")
        head.append(_safe(action.summary, _LIMIT_PARA))
    rows: list[RenderableType] = [head]
    if action.kind is ActionKind.RETRY and action.schedule:
        # The default report names the first and the last retry; --full every one.
        shown = (
            action.schedule
            if full or len(action.schedule) <= 2
            else (
                action.schedule[0],
                action.schedule[-1],
            )
        )
        rows.append(Padding(_Fit(_schedule(shown)), (0, 0, 0, 2)))
    if action.after_schedule:
        after = Text("If every retry fails: ")
        after.append(_safe(action.after_schedule, _LIMIT_PARA))
        rows.append(Padding(after, (0, 0, 0, 2)))
    return Group(*rows)


def _schedule(schedule: Sequence[RetryAttempt]) -> Table:
    table = _table(header=False)
    table.add_column(no_wrap=True)
    table.add_column(no_wrap=True)
    table.add_column(no_wrap=True)
    table.add_column()
    for attempt in schedule:
        when = "after the bounce" if attempt.number == 1 else "after the previous"
        table.add_row(
            Text(f"retry {attempt.number}"),
            _t(attempt.at, limit=40),
            Text(f"+{_format_seconds(attempt.after_previous_s)} {when}"),
            Text(
                f"({_format_seconds(attempt.offset_s)} in total"
                + (", last)" if attempt.final else ")")
            ),
        )
    return table


# ---------------------------------------------------------------------------- DNS


_KIND_TEXT = {
    ResolutionKind.MX: "MX records",
    ResolutionKind.IMPLICIT: "no MX records: implicit MX, the domain's own addresses "
    "(RFC 5321 5.1)",
    ResolutionKind.NULL_MX: 'null MX "0 .": the domain accepts no mail (RFC 7505)',
    ResolutionKind.NONE: "no MX and no address records: there is no mail route",
    ResolutionKind.FAILED: "DNS could not answer",
}


def _policy_table(rows: Sequence[tuple[str, str]]) -> Table:
    table = _table(header=False)
    table.add_column(no_wrap=True, style="bold")
    table.add_column(overflow="fold")
    for label, text in rows:
        table.add_row(Text(label), _t(text, limit=_LIMIT_PARA))
    return table


def _dns(res: Resolution, full: bool) -> Iterable[RenderableType]:
    line = Text()
    line.append(_safe(res.domain, _LIMIT_SHORT), style="bold")
    line.append(": ")
    line.append(_KIND_TEXT[res.kind])
    mxq = res.mx_query
    if res.kind in (ResolutionKind.NONE, ResolutionKind.FAILED):
        line.append(f" (MX query: {mxq.outcome.value}")
        if mxq.detail and mxq.detail.lower() != mxq.outcome.value:
            line.append(f", {_safe(mxq.detail)}")
        line.append(")")
    # The count and the list come from one sequence: the header counts what was asked,
    # the list heading says how many of those it shows and why the rest are left out.
    made = res.queries or (res.mx_query,)
    line.append(f"; {plural(len(made), 'query', 'queries')} in {format_ms(res.duration_ms)} ms")
    yield _indented(line, 2)
    if res.hosts:
        yield _indented(_Fit(_mx_table(res.hosts)), 2)
    notable = _notable_queries(made, res)
    if not full:
        # The default report lists only the queries that did not simply answer: the MX
        # table already shows what the others said.
        notable = [q for q in notable if q.outcome is not DnsOutcome.OK or q.cname]
    if notable:
        heading = "  Queries:"
        if len(notable) < len(made):
            left = len(made) - len(notable)
            heading = (
                f"  Queries: {len(notable)} of {len(made)} listed; "
                f"the other {left} answered as the MX table shows"
            )
        yield Text(heading, style="bold")
        yield _indented(_Fit(_query_table(notable)), 2)


def _mx_table(hosts: Sequence[MxHost]) -> Table:
    table = _table()
    table.add_column("pref", justify="right", no_wrap=True)
    table.add_column("rank", justify="right", no_wrap=True)
    table.add_column("host", overflow="fold")
    table.add_column("kind", no_wrap=True)
    table.add_column("addresses", overflow="fold")
    for host in hosts:
        addresses = ", ".join(_safe(a, 60) for a in host.addresses[:_MAX_LIST])
        if len(host.addresses) > _MAX_LIST:
            addresses += f", ... (+{len(host.addresses) - _MAX_LIST})"
        problem = host.kind.value not in ("hostname",)
        table.add_row(
            Text(str(host.preference)),
            Text(str(host.rank)),
            _t(host.name, limit=_LIMIT_SHORT),
            Text(host.kind.value, style="yellow" if problem else ""),
            Text(addresses or "(none)", style="" if addresses else "yellow"),
        )
    return table


def _notable_queries(made: Sequence[DnsQuery], res: Resolution) -> list[DnsQuery]:
    """Of the queries ``made``, the MX query and every one that did not simply answer.

    A NODATA for one address family of a host that has addresses of the other is
    ordinary (an IPv4-only MX) and left out.
    """
    with_addresses = {h.name for h in res.hosts if h.addresses}
    out: list[DnsQuery] = []
    for query in made:
        if query.rdtype == "MX" and query.name == res.mx_query.name:
            out.append(query)
        elif query.outcome is DnsOutcome.OK:
            if query.cname:
                out.append(query)
        elif not (query.outcome is DnsOutcome.NODATA and query.name in with_addresses):
            out.append(query)
    return out[: _MAX_LIST * 2]


def _query_table(queries: Sequence[DnsQuery]) -> Table:
    table = _table()
    table.add_column("type", no_wrap=True)
    table.add_column("name", overflow="fold")
    table.add_column("outcome", no_wrap=True)
    table.add_column("answer / detail", overflow="fold")
    table.add_column("server", overflow="fold")
    table.add_column("ms", justify="right", no_wrap=True)
    for q in queries:
        answer = "; ".join(_safe(a, _LIMIT_SHORT) for a in q.answers[:_MAX_LIST])
        if q.cname:
            answer = f"(CNAME {_safe(q.cname, _LIMIT_SHORT)}) {answer}".strip()
        if q.detail and q.detail.lower() != q.outcome.value:
            answer = f"{answer} {_safe(q.detail)}".strip()
        table.add_row(
            _t(q.rdtype, limit=10),
            _t(q.name, limit=_LIMIT_SHORT),
            Text(q.outcome.value, style="" if q.outcome is DnsOutcome.OK else "yellow"),
            Text(_safe(answer, _LIMIT_LINE) or "-", overflow="fold"),
            _t(q.nameserver or "(none answered)", limit=60),
            Text(format_ms(q.duration_ms)),
        )
    return table


def _no_routes_reason(report: ProbeReport) -> str:
    kind = report.resolution.kind
    if kind is ResolutionKind.NULL_MX:
        return "No routes probed: the domain publishes a null MX (RFC 7505) and accepts no mail."
    if kind is ResolutionKind.NONE:
        return "No routes probed: the DNS publishes no MX and no address for the domain."
    if kind is ResolutionKind.FAILED:
        return "No routes probed: DNS failed, so the mail exchangers are unknown."
    return "No routes probed: no MX host has an address in the families asked for."
