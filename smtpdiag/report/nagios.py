"""Monitoring-plugin output (Nagios, Icinga, Naemon, Shinken, Sensu, ...). Pure.

Follows the monitoring-plugins development guidelines
(https://www.monitoring-plugins.org/doc/guidelines.html):

* One status line ``SMTPDIAG <STATUS> - <text> | <perfdata>``, then long output lines
  (the problems, then one line per route); the last long-output line carries ``|`` and
  the per-route performance data follows, one item per line (the Nagios 3 multi-line
  format). Text never contains ``|``: remote strings have it replaced by ``/``.
* Exit codes: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (:func:`plugin_exit_code`).
* Perfdata items are ``'label'=value[UOM];[warn];[crit];[min];[max]``: labels are
  quoted (``'`` and ``=`` cannot appear in them), latencies are in ``ms`` with the
  warning and critical limits in ``ms`` too (the same unit as the value). A phase that
  failed or never ran is emitted with the value ``U`` ("could not be determined"),
  never as a fake zero, so graphs keep every series and show the gap.
* Certificate lifetime is emitted unitless in days (``d`` is not a valid UOM) with
  ranges ``21:`` and ``7:``: alert when *fewer* days are left, as the guidelines' range
  syntax ``N:`` means "outside N..infinity".
* Labels are short and unique in their first 19 characters (RRD-based graphers such as
  PNP4Nagios cut data-source names there): ``probe_duration``, ``routes_healthy``, and
  per route ``r<N>_<phase>`` where ``N`` is the route's position in the report (MX
  preference, then address, then port; the long output starts each route's line with
  ``[rN]``) and ``<phase>`` is one of :data:`PHASE_LABELS` or ``cert_days``.
* With the TLS policy looked up, the summary perfdata adds ``mta_sts_mode`` (0 no valid
  policy or mode none, 1 testing, 2 enforce) and ``dane_usable_mx`` (MX hosts with usable
  TLSA records, max = MX hosts), and the long output a ``TLS policy:`` line.
* How much perfdata: :class:`PerfdataDetail` (``--perfdata none|summary|routes``).

Every value printed is taken from the JSON report (durations as rounded there).
"""

from __future__ import annotations

from enum import StrEnum

from ..health.evaluation import (
    HealthResult,
    HealthStatus,
    RouteHealth,
    expected_phases,
    route_facts,
)
from ..health.thresholds import Thresholds
from ..model import DaneState, Outcome, Phase, StsMode
from ..narrate.health import policy_line
from ..narrate.policy import looked_up
from ..textsafe import clean

__all__ = [
    "PHASE_LABELS",
    "PLUGIN_EXIT_CODES",
    "SERVICE",
    "PerfdataDetail",
    "perfdata_label",
    "route_key",
    "plugin_exit_code",
    "render_nagios",
    "render_plugin_error",
]

#: Service name at the start of the status line.
SERVICE = "SMTPDIAG"

#: Health status -> monitoring-plugin exit code.
PLUGIN_EXIT_CODES: dict[HealthStatus, int] = {
    HealthStatus.OK: 0,
    HealthStatus.WARNING: 1,
    HealthStatus.CRITICAL: 2,
    HealthStatus.UNKNOWN: 3,
}

_WORD = {
    HealthStatus.OK: "OK",
    HealthStatus.WARNING: "WARNING",
    HealthStatus.CRITICAL: "CRITICAL",
    HealthStatus.UNKNOWN: "UNKNOWN",
}


class PerfdataDetail(StrEnum):
    """How much performance data the plugin output carries."""

    NONE = "none"  #: status and text only
    SUMMARY = "summary"  #: probe_duration and routes_healthy
    ROUTES = "routes"  #: the summary plus every route's phase times and certificate days


#: Phase -> its perfdata label part: short, so ``r<N>_<part>`` stays far below 19
#: characters, and stable (a renamed label starts a new graph).
PHASE_LABELS: dict[Phase, str] = {
    Phase.CONNECT: "conn",
    Phase.TLS_HANDSHAKE: "tls",
    Phase.GREETING: "greet",
    Phase.EHLO: "ehlo",
    Phase.HELO: "helo",
    Phase.STARTTLS: "stls",
    Phase.EHLO_TLS: "ehlo2",
    Phase.QUIT: "quit",
}


def route_key(index: int) -> str:
    """The label prefix of the ``index``-th route (0-based): ``r1``, ``r2``, ..."""
    return f"r{index + 1}"


def plugin_exit_code(status: HealthStatus) -> int:
    """The monitoring-plugin exit code of ``status`` (0/1/2/3)."""
    return PLUGIN_EXIT_CODES[status]


def _text(value: str | None, limit: int = 300) -> str:
    # '|' separates text from perfdata: it must not appear in text.
    return clean(value, limit).replace("|", "/")


def _num(value: float) -> str:
    # Fixed-point, at most 3 decimals (the JSON's precision); no exponent notation,
    # which perfdata parsers do not accept.
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def perfdata_label(*parts: str | int) -> str:
    """A quoted perfdata label from ``parts`` joined by ``_``.

    ``'`` and ``=`` are not allowed inside a label (a quote would end it, ``=`` starts
    the value); they and control characters are replaced by ``_``.
    """
    raw = "_".join(str(p) for p in parts)
    safe = clean(raw, 200).replace("'", "_").replace("=", "_").replace("|", "_")
    return f"'{safe}'"


def _item(
    label: str,
    value: str,
    uom: str = "",
    warn: str = "",
    crit: str = "",
    minimum: str = "",
    maximum: str = "",
) -> str:
    fields = [warn, crit, minimum, maximum]
    while fields and not fields[-1]:
        fields.pop()
    tail = "".join(f";{f}" for f in fields)
    unit = uom if value != "U" else ""
    return f"{label}={value}{unit}{tail}"


def _ms(seconds: float | None) -> str:
    return "" if seconds is None else _num(seconds * 1000.0)


def _route_perfdata(key: str, route: RouteHealth, th: Thresholds) -> list[str]:
    items: list[str] = []
    for phase in expected_phases(route.tls_mode):
        timing = route.timing(phase)
        limit = th.limit(phase)
        warn = _ms(limit.warn if limit else None)
        crit = _ms(limit.crit if limit else None)
        label = perfdata_label(key, PHASE_LABELS[phase])
        if timing is not None and timing.outcome is Outcome.OK:
            value = _num(round(timing.duration_ms, 3))
        else:
            value = "U"
        items.append(_item(label, value, "ms", warn, crit, "0"))
    days = route.cert_days_left
    items.append(
        _item(
            perfdata_label(key, "cert_days"),
            "U" if days is None else str(days),
            "",
            "" if th.cert_warn_days is None else f"{th.cert_warn_days}:",
            "" if th.cert_crit_days is None else f"{th.cert_crit_days}:",
        )
    )
    return items


def _domain_perfdata(result: HealthResult) -> list[str]:
    items: list[str] = []
    if result.report is not None:
        items.append(
            _item(
                perfdata_label("probe_duration"),
                _num(round(result.report.duration_ms, 3)),
                "ms",
                minimum="0",
            )
        )
    policy = result.report.policy if result.report is not None else None
    if policy is not None and result.report is not None and looked_up(result.report):
        mode = policy.mta_sts.mode
        value = _MODE_VALUE[mode] if mode is not None else 0
        items.append(_item(perfdata_label("mta_sts_mode"), str(value), "", "", "", "0", "2"))
        hosts = len(result.report.resolution.hosts) if result.report is not None else 0
        usable = sum(t.state is DaneState.USABLE for t in policy.dane)
        items.append(
            _item(perfdata_label("dane_usable_mx"), str(usable), "", "", "", "0", str(hosts))
        )
    total = len(result.routes)
    if total:
        healthy = sum(r.healthy for r in result.routes)
        # Range "N:" alerts below N: below all routes is a warning (or critical when
        # every MX must be healthy), below one route is critical.
        if result.thresholds.require_all_mx:
            warn, crit = "", f"{total}:"
        else:
            warn, crit = f"{total}:", "1:"
        items.append(
            _item(perfdata_label("routes_healthy"), str(healthy), "", warn, crit, "0", str(total))
        )
    return items


#: ``mta_sts_mode`` perfdata: the mode senders apply as a number.
_MODE_VALUE = {StsMode.NONE: 0, StsMode.TESTING: 1, StsMode.ENFORCE: 2}


def _route_line(key: str, route: RouteHealth) -> str:
    state = "healthy" if route.healthy else ("up, requirement not met" if route.up else "DOWN")
    bits = [f"[{key}] {route.label}: {state}", *route_facts(route)]
    times = [
        f"{t.phase.value} {_num(round(t.duration_ms, 3))} ms"
        for t in route.phases
        if t.outcome is Outcome.OK and t.phase is not Phase.QUIT
    ]
    if times:
        bits.append(", ".join(times))
    return _text("; ".join(bits), 600)


def render_nagios(result: HealthResult, perfdata: PerfdataDetail = PerfdataDetail.ROUTES) -> str:
    """The plugin output for ``result`` (ends with a newline).

    Exit with :func:`plugin_exit_code` of ``result.status``.
    """
    word = _WORD[result.status]
    first = f"{SERVICE} {word} - {_text(result.summary)}"
    head_perf = _domain_perfdata(result) if perfdata is not PerfdataDetail.NONE else []
    if head_perf:
        first += " | " + " ".join(head_perf)
    keys = [route_key(i) for i in range(len(result.routes))]
    long_lines = [f"[{_WORD[p.level]}] {_text(p.reason, 400)}" for p in result.problems]
    if result.report is not None and looked_up(result.report):
        long_lines.append(_text(policy_line(result.report), 400))
    long_lines += [_route_line(k, r) for k, r in zip(keys, result.routes, strict=True)]
    route_perf: list[str] = []
    if perfdata is PerfdataDetail.ROUTES:
        route_perf = [
            item
            for k, r in zip(keys, result.routes, strict=True)
            for item in _route_perfdata(k, r, result.thresholds)
        ]
    lines = [first]
    if route_perf and not long_lines:
        from ..narrate.units import plural

        long_lines = [plural(len(result.routes), "route")]
    if route_perf:
        lines += long_lines[:-1]
        lines.append(f"{long_lines[-1]} | {route_perf[0]}")
        lines += route_perf[1:]
    else:
        lines += long_lines
    return "\n".join(lines) + "\n"


def render_plugin_error(message: str) -> str:
    """The UNKNOWN status line for a usage or configuration error (exit code 3)."""
    return f"{SERVICE} UNKNOWN - {_text(message, 400)}\n"
