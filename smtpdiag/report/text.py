"""The human-readable report (rich), leading with the verdict and the findings.

Layout, top to bottom:

1. header: domain, verdict and persistence, the primary code, what was probed;
2. findings (when diagnosed): code, title, soft/hard, summary, evidence, causes, the
   investigation checklist (``[done]`` with the probe's result, ``[todo]`` for a human),
   and the action (a retry schedule with concrete times, or suppress);
3. DNS: the MX table (preference, host, kind, addresses) and the notable queries;
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
import shutil
from collections.abc import Iterable, Sequence

from rich import box
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.measure import Measurement
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from ..model import (
    ActionKind,
    CertInfo,
    Diagnosis,
    DnsOutcome,
    DnsQuery,
    Evidence,
    Finding,
    MxHost,
    Outcome,
    Persistence,
    Phase,
    PhaseRecord,
    ProbeReport,
    Resolution,
    ResolutionKind,
    RetryAttempt,
    RouteResult,
    Severity,
    StepStatus,
    TlsInfo,
    TlsMode,
    Verdict,
)
from ..textsafe import clean
from ..wording import days_left, plural

__all__ = ["DEFAULT_WIDTH", "format_ms", "render_text"]

#: Width used when ``width`` is ``None`` and no terminal size is known.
DEFAULT_WIDTH = 100
_MIN_WIDTH, _MAX_WIDTH = 40, 400

# Display limits for remote text (characters). The model already caps fields at
# textsafe.MAX_TEXT; these keep one route's details to a few lines.
_LIMIT_SHORT = 80  # host names, cipher names, key types
_LIMIT_LINE = 200  # replies, banners, error details, certificate names
_LIMIT_PARA = 400  # seed texts, step results, summaries
_MAX_LIST = 12  # items shown from a list (SANs, evidence lines, extensions)

_VERDICT_STYLE = {
    Verdict.HEALTHY: "bold green",
    Verdict.DEGRADED: "bold yellow",
    Verdict.FAILED: "bold red",
    Verdict.NO_MAIL: "bold blue",
    Verdict.UNKNOWN: "bold magenta",
}
_SEVERITY_STYLE = {Severity.SOFT: "yellow", Severity.HARD: "red", Severity.INFO: "cyan"}
_SEVERITY_TEXT = {Severity.SOFT: "soft bounce", Severity.HARD: "hard bounce", Severity.INFO: "info"}

# Phase columns of the routes table: (phase(s), header). HELO shares the EHLO column
# (it only runs when EHLO was rejected; the failure details name it). QUIT has no
# column: it says nothing about deliverability, and its time is in the total.
_PHASE_COLUMNS: tuple[tuple[tuple[Phase, ...], str], ...] = (
    ((Phase.CONNECT,), "connect"),
    ((Phase.GREETING,), "greet"),
    ((Phase.EHLO, Phase.HELO), "ehlo"),
    ((Phase.STARTTLS,), "stls"),
    ((Phase.TLS_HANDSHAKE,), "tls"),
    ((Phase.EHLO_TLS,), "ehlo2"),
)


def _safe(value: object, limit: int = _LIMIT_LINE) -> str:
    """Sanitize remote text for display: no control/format characters, bounded, one line."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    # Multi-line replies become one line; clean() then drops every other control char.
    text = " | ".join(part.strip() for part in text[: limit * 4 + 16].splitlines() if part.strip())
    return clean(text, limit)


def _t(value: object, style: str = "", limit: int = _LIMIT_LINE) -> Text:
    """A ``Text`` of sanitized ``value``: never interpreted as markup."""
    return Text(_safe(value, limit), style=style, overflow="fold")


def format_ms(ms: float | None) -> str:
    """Milliseconds with sensible precision: ``0.41``, ``48.9``, ``5,001``."""
    if ms is None:
        return "-"
    if ms < 10:
        return f"{ms:.2f}"
    if ms < 1000:
        return f"{ms:.1f}"
    return f"{ms:,.0f}"


def _format_seconds(seconds: int) -> str:
    """A delay as ``30 min``, ``1 h``, ``1 h 30 min``, ``2 d``."""
    if seconds % 86400 == 0 and seconds >= 2 * 86400:
        return f"{seconds // 86400} d"
    hours, rest = divmod(seconds, 3600)
    minutes = rest // 60
    if hours and minutes:
        return f"{hours} h {minutes} min"
    if hours:
        return f"{hours} h"
    if minutes:
        return f"{minutes} min"
    return f"{seconds} s"


def _width(width: int | None) -> int:
    if width is None:
        # Only reached for interactive use: the CLI passes --width, tests pin it.
        width = shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns
    return max(_MIN_WIDTH, min(_MAX_WIDTH, width))


def render_text(report: ProbeReport, *, width: int | None = None, color: bool = False) -> str:
    """Render ``report`` for humans.

    Args:
        report: A probe report, diagnosed or not (``diagnosis`` may be ``None``).
        width: Columns; ``None`` = the terminal's width (clamped), or 100 if unknown.
        color: Emit ANSI styles. When false the output is plain text.

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
    for block in _blocks(report):
        console.print(block)
    # rich pads padded blocks to the full width; trailing blanks only make diffs noisy.
    return "\n".join(line.rstrip() for line in buf.getvalue().split("\n"))


def _blocks(report: ProbeReport) -> Iterable[RenderableType]:
    yield _header(report)
    if report.diagnosis is not None and report.diagnosis.findings:
        yield Text("")
        yield _section("Findings")
        for index, finding in enumerate(report.diagnosis.findings, 1):
            yield _finding(index, finding, report.diagnosis.persistence)
    yield Text("")
    yield _section("DNS")
    yield from _dns(report.resolution)
    yield Text("")
    yield _section("Routes")
    if not report.routes:
        yield _indented(_t(_no_routes_reason(report)), 2)
        return
    yield from _routes(report)


def _section(title: str) -> Text:
    return Text(title.upper(), style="bold underline")


# ------------------------------------------------------------------------- header


def _header(report: ProbeReport) -> RenderableType:
    lines: list[Text] = []
    title = Text()
    title.append("smtpdiag report: ", style="bold")
    title.append(_safe(report.domain, _LIMIT_SHORT), style="bold")
    lines.append(title)

    diagnosis = report.diagnosis
    verdict = Text("Verdict: ")
    if diagnosis is None:
        verdict.append("not diagnosed", style="bold")
        verdict.append(" (probe only). ")
        verdict.append(_route_summary(report))
    elif diagnosis.verdict is Verdict.UNKNOWN:
        # Nothing about delivery was verified: no verdict on the domain, say why instead.
        lead = diagnosis.findings[0].title if diagnosis.findings else "nothing was probed"
        verdict = Text(_safe(lead, _LIMIT_SHORT), style=_VERDICT_STYLE[Verdict.UNKNOWN])
        verdict.append(" - no verdict on the domain: nothing about its mail was verified.")
    else:
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
    lines.append(verdict)
    if (
        diagnosis is not None
        and diagnosis.verdict not in (Verdict.HEALTHY, Verdict.UNKNOWN)
        and diagnosis.persistence is Persistence.UNKNOWN
    ):
        lines.append(
            Text(
                "Persistence: one probe cannot tell transient from permanent; "
                "repeat it (smtpdiag watch) for evidence."
            )
        )
    if diagnosis is not None:
        lines.append(Text(_route_summary(report)))

    meta = Text(style="dim")
    meta.append(f"Probed {_safe(report.started_at, 40)} in {format_ms(report.duration_ms)} ms")
    ports = ", ".join(str(p) for p in report.ports) or "-"
    families = ", ".join(f.value for f in report.families) or "-"
    meta.append(f"; ports {ports}; {families}")
    if report.tool_version:
        meta.append(f"; smtpdiag {_safe(report.tool_version, 20)}")
    lines.append(meta)
    if diagnosis is not None and diagnosis.generated_at:
        lines.append(
            Text(
                f"Diagnosed {_safe(diagnosis.generated_at, 40)}; retry times count from it.", "dim"
            )
        )
    return Group(*lines)


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
    return (
        f"{ok} of {plural(total, 'route')} {'works' if total == 1 else 'work'} "
        f"({plural(hosts, 'MX host')}, {plural(addresses, 'address', 'addresses')})."
    )


# ----------------------------------------------------------------------- findings


def _finding(index: int, finding: Finding, overall: Persistence) -> RenderableType:
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

    body: list[RenderableType] = [_t(finding.summary, limit=_LIMIT_PARA)]
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
    body.append(_action(finding))
    if finding.neighbours:
        related = Text("Related codes: ", style="bold")
        related.append(_safe(", ".join(finding.neighbours), _LIMIT_PARA), style="")
        body.append(related)
    parts.append(Padding(Group(*body), (0, 0, 0, 3)))
    return Group(*parts)


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


def _action(finding: Finding) -> RenderableType:
    action = finding.action
    head = Text("Action: ", style="bold")
    head.append(action.kind.value.upper(), style="bold")
    if action.summary:
        head.append(" - ")
        head.append(_safe(action.summary, _LIMIT_PARA))
    rows: list[RenderableType] = [head]
    if action.kind is ActionKind.RETRY and action.schedule:
        rows.append(Padding(_Fit(_schedule(action.schedule)), (0, 0, 0, 2)))
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
    for i, attempt in enumerate(schedule):
        when = "after the bounce" if i == 0 else "after the previous"
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


def _dns(res: Resolution) -> Iterable[RenderableType]:
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
    line.append(
        f"; {plural(len(res.queries), 'query', 'queries')} in {format_ms(res.duration_ms)} ms"
    )
    yield _indented(line, 2)
    if res.hosts:
        yield _indented(_Fit(_mx_table(res.hosts)), 2)
    notable = _notable_queries(res)
    if notable:
        yield Text("  Queries:", style="bold")
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


def _notable_queries(res: Resolution) -> list[DnsQuery]:
    """The MX query, and every query that did not simply answer.

    A NODATA for one address family of a host that has addresses of the other is
    ordinary (an IPv4-only MX) and left out.
    """
    with_addresses = {h.name for h in res.hosts if h.addresses}
    out: list[DnsQuery] = []
    for query in res.queries or (res.mx_query,):
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


# ------------------------------------------------------------------------- routes


def _table(*, header: bool = True) -> Table:
    """A compact table: a rule under the header, one space between columns."""
    return Table(
        box=box.SIMPLE_HEAD if header else None,
        show_header=header,
        show_edge=False,
        pad_edge=False,
        padding=(0, 1, 0, 0) if not header else (0, 0),
        collapse_padding=True,
    )


class _Fit:
    """A table that never cuts a cell: stacked when its columns cannot all fit.

    rich shrinks a ``no_wrap`` column that does not fit and ends its cells with an
    ellipsis, which changes their meaning ("TLSv1" for TLSv1.3, a port as "45..."). At
    render time, when the width is known, this measures what the table needs without
    cutting (no-wrap columns their widest cell, the others their longest word) and, if
    that is more than the width, prints each row as a block of "header value" lines.
    """

    def __init__(self, table: Table) -> None:
        self.table = table

    def _needed(self, console: Console, options: ConsoleOptions) -> int:
        widths = []
        for column in self.table.columns:
            cells = [Text(str(column.header)), *column.cells]
            measures = [Measurement.get(console, options, cell) for cell in cells]
            if column.no_wrap:
                widths.append(max(m.maximum for m in measures))
            else:
                widths.append(max(m.minimum for m in measures))
        return sum(widths) + len(widths) - 1  # one space between columns

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        if self._needed(console, options) <= options.max_width:
            yield self.table
            return
        columns = self.table.columns
        rows = [list(column.cells) for column in columns]
        headed = self.table.show_header
        for index in range(self.table.row_count):
            if not headed:
                # No headers to name the values: the first cell, the rest indented.
                first, *rest = (cells[index] for cells in rows)
                yield first
                for cell in rest:
                    yield Padding(cell, (0, 0, 0, 2))
                continue
            block = Table(box=None, show_header=False, pad_edge=False, padding=(0, 1, 0, 0))
            block.add_column(no_wrap=True, style="dim")
            block.add_column(overflow="fold")
            for column, cells in zip(columns, rows, strict=True):
                block.add_row(Text(str(column.header)), cells[index])
            if index:
                yield Text("")
            yield block

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement.get(console, options, self.table)


def _routes(report: ProbeReport) -> Iterable[RenderableType]:
    yield _indented(
        Text(
            "Durations in ms; [n] = the phase that failed; - = not run. stls = the STARTTLS "
            "command, tls = the TLS handshake, ehlo2 = EHLO inside TLS.",
            style="dim",
        ),
        2,
    )
    groups: dict[tuple[int, str, str], list[RouteResult]] = {}
    for result in report.routes:
        key = (result.route.rank, result.route.mx, result.route.address)
        groups.setdefault(key, []).append(result)
    implicit = report.resolution.kind is ResolutionKind.IMPLICIT
    for (_rank, mx, address), results in groups.items():
        first = results[0].route
        head = Text("implicit MX " if implicit else "MX ")
        head.append(_safe(mx, _LIMIT_SHORT), style="bold")
        head.append(f" [{_safe(address, 60)}]", style="bold")
        head.append(f"  preference {first.preference}, rank {first.rank}, {first.family.value}  ")
        ok = sum(1 for r in results if r.ok)
        head.append(f"{ok}/{len(results)} ok", style="green" if ok == len(results) else "red")
        yield _indented(head, 2)
        banners = _banners(results)
        if banners is not None:
            yield _indented(banners, 4)
        yield _indented(_Fit(_phase_table(results)), 4)

    tls_results = [r for r in report.routes if r.tls is not None or r.starttls_offered is False]
    if tls_results:
        yield Text("")
        yield _indented(Text("TLS", style="bold"), 2)
        yield _indented(_Fit(_tls_table(tls_results)), 4)
        certs = _distinct_certs(tls_results)
        if certs:
            yield Text("")
            yield _indented(Text("Certificates", style="bold"), 2)
            for index, (cert, labels, tls) in enumerate(certs):
                if index:
                    yield Text("")
                yield _indented(_cert_block(cert, labels, tls), 4)

    failures = _grouped_failures(report.routes)
    if failures:
        yield Text("")
        yield _indented(Text("Failures", style="bold"), 2)
        for results in failures:
            yield _indented(_failure_block(results), 4)


def _banners(results: Sequence[RouteResult]) -> Table | None:
    """The distinct 220 greetings and EHLO keyword sets of one address, with their ports.

    They show the server software and what it offers (SIZE, SMTPUTF8, ...).
    """
    seen: dict[str, list[str]] = {}
    for result in results:
        greeting = result.phase(Phase.GREETING)
        if result.banner and greeting is not None and greeting.ok:
            seen.setdefault(_safe(result.banner), []).append(str(result.route.port))
    extensions: dict[str, list[str]] = {}
    for result in results:
        if result.extensions:
            shown = ", ".join(_safe(e, 40) for e in result.extensions[:_MAX_LIST])
            if len(result.extensions) > _MAX_LIST:
                shown += f", ... (+{len(result.extensions) - _MAX_LIST})"
            extensions.setdefault(shown, []).append(str(result.route.port))
    if not seen and not extensions:
        return None
    table = _table(header=False)
    table.add_column(no_wrap=True, style="dim")
    table.add_column(overflow="fold")
    for banner, ports in list(seen.items())[:_MAX_LIST]:
        table.add_row(Text(f"banner {','.join(ports)}:"), Text(banner, overflow="fold"))
    for shown, ports in list(extensions.items())[:_MAX_LIST]:
        table.add_row(Text(f"ehlo {','.join(ports)}:"), Text(shown, overflow="fold"))
    return table


def _indented(renderable: RenderableType, left: int) -> Padding:
    return Padding(renderable, (0, 0, 0, left))


def _endpoint(result: RouteResult) -> str:
    address = _safe(result.route.address, 60)
    if ":" in address:
        address = f"[{address}]"
    return f"{address}:{result.route.port}"


def _labels(results: Sequence[RouteResult]) -> str:
    """``mx[address]:25,587`` for routes, ports of one MX address folded together."""
    by_host: dict[tuple[str, str], list[str]] = {}
    for r in results:
        key = (_safe(r.route.mx, _LIMIT_SHORT), _safe(r.route.address, 60))
        by_host.setdefault(key, []).append(str(r.route.port))
    return "; ".join(f"{mx}[{addr}]:{','.join(ports)}" for (mx, addr), ports in by_host.items())


def _phase_table(results: Sequence[RouteResult]) -> Table:
    table = _table()
    table.add_column("port", justify="right", no_wrap=True)
    table.add_column("mode", no_wrap=True)
    for _phases, header in _PHASE_COLUMNS:
        table.add_column(header, justify="right", no_wrap=True)
    table.add_column("total", justify="right", no_wrap=True)
    table.add_column("result", overflow="fold")
    for result in results:
        failure = result.failure
        cells: list[Text] = [Text(str(result.route.port)), Text(_mode(result))]
        for phases, _header in _PHASE_COLUMNS:
            cells.append(_phase_cell(_last(result, phases), failure))
        skipped = result.failure is not None and result.failure.outcome is Outcome.NOT_ATTEMPTED
        cells.append(Text("-", style="dim") if skipped else Text(format_ms(result.total_ms)))
        cells.append(_result_cell(result))
        table.add_row(*cells)
    return table


def _mode(result: RouteResult) -> str:
    return "implicit" if result.route.tls_mode is TlsMode.IMPLICIT else "starttls"


def _last(result: RouteResult, phases: tuple[Phase, ...]) -> PhaseRecord | None:
    for rec in reversed(result.phases):
        if rec.phase in phases:
            return rec
    return None


def _phase_cell(rec: PhaseRecord | None, failure: PhaseRecord | None) -> Text:
    if rec is None or rec.outcome is Outcome.NOT_ATTEMPTED:
        return Text("-", style="dim")
    value = format_ms(rec.duration_ms)
    if rec is failure:
        return Text(f"[{value}]", style="bold red")
    if not rec.ok:  # e.g. a failed QUIT: not the route's failure, still not ok
        return Text(f"({value})", style="yellow")
    return Text(value)


def _result_cell(result: RouteResult) -> Text:
    failure = result.failure
    if failure is not None:
        return Text(_failure_short(failure), style="red", overflow="fold")
    text = Text("ok", style="green")
    tls = result.tls
    if result.starttls_offered is False:
        text.append(", no STARTTLS", style="yellow")
    elif tls is not None and tls.certificate is not None and not tls.verified:
        text.append(", cert untrusted", style="yellow")
    elif tls is not None and tls.hostname_match is False:
        text.append(", cert name", style="yellow")
    return text


def _failure_short(rec: PhaseRecord) -> str:
    if rec.outcome is Outcome.REPLY and rec.reply is not None:
        code = str(rec.reply.code)
        if rec.reply.enhanced:
            code += f" {_safe(rec.reply.enhanced, 12)}"
        return code
    return rec.outcome.value


def _tls_table(results: Sequence[RouteResult]) -> Table:
    table = _table()
    table.add_column("route", overflow="fold")
    table.add_column("STARTTLS", no_wrap=True)
    table.add_column("version", no_wrap=True)
    table.add_column("cipher", overflow="fold")
    table.add_column("trusted", no_wrap=True)
    table.add_column("name", no_wrap=True)
    table.add_column("expires", no_wrap=True)
    for result in results:
        tls = result.tls
        if result.route.tls_mode is TlsMode.IMPLICIT:
            offered = Text("n/a", style="dim")
        elif result.starttls_offered is None:
            offered = Text("-")
        elif result.starttls_offered:
            offered = Text("offered")
        else:
            offered = Text("NOT offered", style="bold yellow")
        row = [Text(_endpoint(result)), offered]
        if tls is None:
            row += [Text("-"), Text("-"), Text("-"), Text("-"), Text("-")]
        else:
            cert = tls.certificate
            row += [
                _t(tls.version or "failed", "" if tls.version else "red", 20),
                _t(tls.cipher or "-", limit=_LIMIT_SHORT),
                _yes_no(tls.verified if cert is not None else None),
                _yes_no(tls.hostname_match),
                _expiry(cert),
            ]
        table.add_row(*row)
    return table


def _yes_no(value: bool | None) -> Text:
    if value is None:
        return Text("-")
    return Text("yes", style="green") if value else Text("NO", style="bold red")


def _expiry(cert: CertInfo | None) -> Text:
    if cert is None:
        return Text("-")
    days = cert.days_left
    if days < 0:
        return Text(f"EXPIRED {-days} d ago", style="bold red")
    return Text(f"in {days} d", style="yellow" if days < 14 else "")


def _distinct_certs(
    results: Sequence[RouteResult],
) -> list[tuple[CertInfo, list[RouteResult], TlsInfo]]:
    """Certificates by fingerprint (and verification result), with the routes showing them."""
    seen: dict[tuple[str, str, bool | None], tuple[CertInfo, list[RouteResult], TlsInfo]] = {}
    for result in results:
        tls = result.tls
        if tls is None or tls.certificate is None:
            continue
        key = (tls.certificate.sha256, tls.verify_error or "", tls.hostname_match)
        if key not in seen:
            seen[key] = (tls.certificate, [], tls)
        seen[key][1].append(result)
    return list(seen.values())[:_MAX_LIST]


def _cert_block(cert: CertInfo, results: list[RouteResult], tls: TlsInfo) -> RenderableType:
    table = _table(header=False)
    table.add_column(no_wrap=True, style="bold")
    table.add_column(overflow="fold")
    sans = ", ".join(_safe(s, _LIMIT_SHORT) for s in cert.sans[:_MAX_LIST])
    if len(cert.sans) > _MAX_LIST:
        sans += f", ... (+{len(cert.sans) - _MAX_LIST})"
    key = _safe(cert.key_type, 20) + (f" {cert.key_bits}" if cert.key_bits else "")
    verify = Text("verified", style="green") if tls.verified else Text("NOT verified", "bold red")
    if tls.verify_error:
        verify.append(": ")
        verify.append(_safe(tls.verify_error))
    issuer = _safe(cert.issuer) + (" (self-signed)" if cert.self_signed else "")
    rows: list[tuple[str, Text]] = [
        ("subject", _t(cert.subject)),
        ("issuer", Text(issuer, overflow="fold")),
        ("names", Text(sans or "(none)", overflow="fold")),
    ]
    if tls.hostname_match is False:
        mxs = sorted({_safe(r.route.mx, _LIMIT_SHORT) for r in results})
        rows.append(("name match", Text(f"NO: does not name {', '.join(mxs)}", "bold red")))
    rows += [
        ("valid", _t(f"{cert.not_before} to {cert.not_after} ({days_left(cert.days_left)})")),
        ("key", Text(f"{key}; chain of {tls.chain_length} sent")),
        ("sha256", _t(cert.sha256, limit=120)),
        ("check", verify),
        ("seen on", Text(_labels(results), overflow="fold")),
    ]
    for name, value in rows:
        table.add_row(Text(name), value)
    return table


def _grouped_failures(results: Sequence[RouteResult]) -> list[list[RouteResult]]:
    """Failed routes grouped by what happened (same MX, phase, outcome, reply, detail)."""
    groups: dict[tuple[object, ...], list[RouteResult]] = {}
    for result in results:
        rec = result.failure
        if rec is None:
            continue
        reply = (rec.reply.code, rec.reply.text) if rec.reply else None
        key = (result.route.mx, rec.phase, rec.outcome, reply, rec.detail, rec.error_type)
        groups.setdefault(key, []).append(result)
    return list(groups.values())


def _failure_block(results: Sequence[RouteResult]) -> RenderableType:
    failure = results[0].failure
    assert failure is not None
    durations = [r.failure.duration_ms for r in results if r.failure is not None]
    low, high = min(durations), max(durations)
    took = (
        format_ms(low)
        if format_ms(low) == format_ms(high)
        else f"{format_ms(low)}-{format_ms(high)}"
    )
    head = Text()
    head.append(_labels(results), style="bold")
    head.append(": ")
    if failure.outcome is Outcome.NOT_ATTEMPTED:
        # Never tried: no duration, no blame (the skip reason says why).
        reason = failure.skip_reason.value if failure.skip_reason else "unknown"
        head.append(f"not attempted ({reason})", style="yellow")
    else:
        head.append(f"{failure.phase.value} {failure.outcome.value}", style="red")
        head.append(f" after {took} ms")
    table = _table(header=False)
    table.add_column(no_wrap=True)
    table.add_column(overflow="fold")
    if failure.reply is not None:
        reply = f"{failure.reply.code} {_safe(failure.reply.text)}"
        table.add_row(Text("reply"), Text(_safe(reply), overflow="fold"))
    if failure.detail:
        table.add_row(Text("detail"), _t(failure.detail))
    if failure.error_type:
        table.add_row(Text("error"), _t(failure.error_type, limit=_LIMIT_SHORT))
    banner = results[0].banner
    if banner and failure.phase is not Phase.GREETING:
        table.add_row(Text("banner"), _t(banner))
    if table.row_count:
        return Group(head, _indented(table, 2))
    return head
