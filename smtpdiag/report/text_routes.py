"""The ROUTES section of the human report: per-route phase timings, TLS, certificates
and failures (lay-out only)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from ..model import (
    CertInfo,
    Outcome,
    Phase,
    PhaseRecord,
    ProbeReport,
    ResolutionKind,
    RouteResult,
    TlsInfo,
    TlsMode,
)
from ..narrate.units import days_left
from .text_common import (
    _LIMIT_SHORT,
    _MAX_LIST,
    _PHASE_COLUMNS,
    _Fit,
    _indented,
    _safe,
    _t,
    _table,
    format_ms,
)

__all__ = ["routes_section"]


# ------------------------------------------------------------------------- routes


def _legend(full: bool) -> Text:
    legend = (
        "Durations in ms; [n] = the phase that failed; - = not run. stls = the STARTTLS "
        "command, tls = the TLS handshake, ehlo2 = EHLO inside TLS."
        if full
        else "ms; [n] = failed phase; - = not run; stls = STARTTLS, tls = handshake, "
        "ehlo2 = EHLO in TLS"
    )
    return Text(legend, style="dim")


def _address_blocks(report: ProbeReport, full: bool) -> Iterable[RenderableType]:
    """Per MX address a heading and its phase timings (with ``full`` its banners)."""
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
        banners = _banners(results) if full else None
        if banners is not None:
            yield _indented(banners, 4)
        yield _indented(_Fit(_phase_table(results)), 4)


def _tls_blocks(tls_results: Sequence[RouteResult]) -> Iterable[RenderableType]:
    """The TLS table and each distinct certificate in full."""
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


def routes_section(report: ProbeReport, *, full: bool = True) -> Iterable[RenderableType]:
    """Per address the phase timings; with ``full`` also banners, the TLS table, each
    certificate and each failure's details, else one line per certificate."""
    yield _indented(_legend(full), 2)
    yield from _address_blocks(report, full)
    tls_results = [r for r in report.routes if r.tls is not None or r.starttls_offered is False]
    if tls_results and not full:
        for cert, labels, tls in _distinct_certs(tls_results):
            yield _indented(_cert_line(cert, labels, tls), 2)
        return
    if tls_results:
        yield from _tls_blocks(tls_results)
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


def _cert_line(cert: CertInfo, results: list[RouteResult], tls: TlsInfo) -> Text:
    """One certificate in one line: who it names, whether it verifies, when it expires."""
    line = Text("certificate ", style="bold")
    line.append(_safe(cert.subject, _LIMIT_SHORT))
    line.append(": ")
    if tls.verified:
        line.append("verified", style="green")
    else:
        line.append("NOT verified", style="bold red")
        if tls.verify_error:
            line.append(f" ({_safe(tls.verify_error, _LIMIT_SHORT)})")
    if tls.hostname_match is False:
        line.append(", does not name the MX", style="bold red")
    line.append(", ")
    line.append(days_left(cert.days_left), style="bold red" if cert.days_left < 0 else "")
    line.append(f"; on {_labels(results)}")
    return line
