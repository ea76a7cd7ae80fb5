"""OpenMetrics text exposition of a health check, for Prometheus textfile collectors. Pure.

Follows the OpenMetrics 1.0 text format (https://openmetrics.io, also accepted by
Prometheus' ``text/plain`` parser when written to a ``*.prom`` file for node_exporter's
textfile collector): every family has ``# TYPE`` and ``# HELP`` (and ``# UNIT`` where it
has a unit, with the unit as the name's suffix), samples of one family are contiguous,
label values are escaped (``\\``, ``"``, newline), and the exposition ends with
``# EOF``. No sample carries a timestamp: the collector stamps the scrape.

Families (labels in braces):

- ``smtpdiag_health{domain,state}``: 1 for the current state (ok / warning / critical /
  unknown), 0 for the others.
- ``smtpdiag_verdict{domain,verdict}``: the same for the diagnosis verdict (only when
  diagnosed).
- ``smtpdiag_probe_duration_seconds{domain}`` and
  ``smtpdiag_probe_start_timestamp_seconds{domain}`` gauges.
- ``smtpdiag_problems{domain,level}`` gauge: number of problems per level.
- ``smtpdiag_route_up{domain,mx,address,port}`` and ``smtpdiag_route_healthy{...}`` gauges (0/1).
- ``smtpdiag_phase_duration_seconds{domain,mx,address,port,phase}`` gauge: only for phases
  that succeeded (a failed phase has no latency; see ``smtpdiag_route_failure``).
- ``smtpdiag_route_failed{domain,mx,address,port,phase,outcome}`` gauge (always 1): the
  phase that failed on a down route, and how.
- ``smtpdiag_cert_expires_in_seconds{domain,mx,address,port}`` gauge (seconds from the
  probe's start to the certificate's ``notAfter``, negative when expired) and
  ``smtpdiag_cert_expiry_timestamp_seconds{...}`` gauge (``notAfter`` as Unix time).
- With the TLS policy looked up: ``smtpdiag_mta_sts_mode{domain,mode}`` (1 for the mode
  senders apply: ``enforce``, ``testing``, ``none``; all 0 without a valid policy),
  ``smtpdiag_mta_sts_status{domain,status}`` (1 for the lookup's status), and
  ``smtpdiag_dane_usable{domain,mx}`` (1 when the MX host has usable, validated TLSA
  records on the delivery port).
  Units are base units (seconds, not days) so that ``promtool check metrics`` accepts
  the file; alert on "less than 21 days" as ``< 21 * 86400``.

Every family is a ``gauge`` (the two state families are gauges shaped like OpenMetrics
statesets): the same file is then valid OpenMetrics *and* valid Prometheus text format
0.0.4, which is what node_exporter's textfile collector parses (it rejects the
OpenMetrics-only types ``stateset`` and ``info``; it reads ``# UNIT`` and ``# EOF`` as
comments).

Every value comes from the JSON report (durations as rounded there, in seconds here).
Seconds are rounded to the microsecond (the JSON's millisecond values carry three
decimals) and printed as the shortest repr, so no float noise such as
``0.013746000000000001`` reaches the file.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from ..health.evaluation import HealthResult, HealthStatus, RouteHealth
from ..model import DaneState, Outcome, StsMode, StsStatus, Verdict
from ..textsafe import clean
from ..timefmt import parse_utc_iso

__all__ = ["CONTENT_TYPE", "escape_label_value", "render_openmetrics"]

#: The HTTP content type of this exposition.
CONTENT_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"

_Labels = Sequence[tuple[str, str]]


def escape_label_value(value: str) -> str:
    """Escape a label value: backslash, double quote and line feed (OpenMetrics ABNF)."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _value(v: float) -> str:
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, int):
        return str(v)
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return repr(v)


def _seconds(ms: float) -> float:
    """Milliseconds -> seconds, rounded to the microsecond (no float noise in repr)."""
    return round(ms / 1000.0, 6)


def _labels(labels: _Labels) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{k}="{escape_label_value(clean(v, 300))}"' for k, v in labels)
    return "{" + inner + "}"


class _Writer:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def family(
        self,
        name: str,
        kind: str,
        help_text: str,
        samples: Iterable[tuple[str, _Labels, float]],
        unit: str | None = None,
    ) -> None:
        rows = list(samples)
        if not rows:
            return
        self.lines.append(f"# TYPE {name} {kind}")
        if unit:
            self.lines.append(f"# UNIT {name} {unit}")
        self.lines.append(f"# HELP {name} {_help(help_text)}")
        for suffix, labels, value in rows:
            self.lines.append(f"{name}{suffix}{_labels(labels)} {_value(value)}")


def _route_labels(domain: str, r: RouteHealth) -> list[tuple[str, str]]:
    return [("domain", domain), ("mx", r.mx), ("address", r.address), ("port", str(r.port))]


def _unix(iso: str) -> float | None:
    moment = parse_utc_iso(iso)
    return None if moment is None else moment.timestamp()


def _domain_families(w: _Writer, result: HealthResult) -> None:
    dom = [("domain", result.domain)]
    w.family(
        "smtpdiag_health",
        "gauge",
        "Health check status of the domain's mail routes (1 for the current state).",
        (("", [*dom, ("state", s.value)], int(result.status is s)) for s in HealthStatus),
    )
    if result.verdict is not None:
        w.family(
            "smtpdiag_verdict",
            "gauge",
            "Diagnosis verdict of the domain (1 for the current verdict).",
            (("", [*dom, ("verdict", v.value)], int(result.verdict is v)) for v in Verdict),
        )
    report = result.report
    if report is not None:
        w.family(
            "smtpdiag_probe_duration_seconds",
            "gauge",
            "Wall time of the whole probe (DNS and all routes).",
            [("", dom, _seconds(report.duration_ms))],
            unit="seconds",
        )
        started = _unix(report.started_at)
        if started is not None:
            w.family(
                "smtpdiag_probe_start_timestamp_seconds",
                "gauge",
                "Unix time the probe started.",
                [("", dom, started)],
                unit="seconds",
            )
    levels = (HealthStatus.WARNING, HealthStatus.CRITICAL, HealthStatus.UNKNOWN)
    w.family(
        "smtpdiag_problems",
        "gauge",
        "Number of health problems by level.",
        (
            ("", [*dom, ("level", lv.value)], sum(p.level is lv for p in result.problems))
            for lv in levels
        ),
    )


def _route_families(w: _Writer, result: HealthResult) -> None:
    d, routes = result.domain, result.routes
    w.family(
        "smtpdiag_route_up",
        "gauge",
        "Whether the route accepted an SMTP session (1) or not (0).",
        (("", _route_labels(d, r), int(r.up)) for r in routes),
    )
    w.family(
        "smtpdiag_route_healthy",
        "gauge",
        "Whether the route is up and meets every requirement of the thresholds.",
        (("", _route_labels(d, r), int(r.healthy)) for r in routes),
    )
    w.family(
        "smtpdiag_phase_duration_seconds",
        "gauge",
        "Duration of a successful phase of the route probe.",
        (
            (
                "",
                [*_route_labels(d, r), ("phase", t.phase.value)],
                _seconds(t.duration_ms),
            )
            for r in routes
            for t in r.phases
            if t.outcome is Outcome.OK
        ),
        unit="seconds",
    )
    w.family(
        "smtpdiag_route_failed",
        "gauge",
        "The phase that failed on a route that is down, and how it ended (always 1).",
        (
            (
                "",
                [*_route_labels(d, r), ("phase", t.phase.value), ("outcome", t.outcome.value)],
                1,
            )
            for r in routes
            if (t := r.failed_phase) is not None
        ),
    )


def _cert_families(w: _Writer, result: HealthResult) -> None:
    d, routes, report = result.domain, result.routes, result.report
    certs = []
    expiry = []
    probe_start = _unix(report.started_at) if report is not None else None
    if report is not None:
        by_label = {rr.route.label: rr for rr in report.routes}
        for r in routes:
            rr = by_label.get(r.label)
            cert = rr.tls.certificate if rr is not None and rr.tls is not None else None
            if cert is None:
                continue
            ts = _unix(cert.not_after)
            if ts is not None:
                expiry.append(("", _route_labels(d, r), ts))
                if probe_start is not None:
                    certs.append(("", _route_labels(d, r), round(ts - probe_start, 3)))
    w.family(
        "smtpdiag_cert_expires_in_seconds",
        "gauge",
        "Seconds from the probe's start until the server certificate expires "
        "(negative when expired).",
        certs,
        unit="seconds",
    )
    w.family(
        "smtpdiag_cert_expiry_timestamp_seconds",
        "gauge",
        "Unix time the server certificate expires (notAfter).",
        expiry,
        unit="seconds",
    )


def _policy_families(w: _Writer, result: HealthResult) -> None:
    policy = result.report.policy if result.report is not None else None
    if policy is None:
        return
    dom = [("domain", result.domain)]
    mode = policy.mta_sts.mode
    w.family(
        "smtpdiag_mta_sts_mode",
        "gauge",
        "MTA-STS mode senders apply (1 for the current mode; all 0 without a valid policy).",
        (("", [*dom, ("mode", m.value)], int(mode is m)) for m in StsMode),
    )
    status = policy.mta_sts.status
    w.family(
        "smtpdiag_mta_sts_status",
        "gauge",
        "Outcome of the MTA-STS lookup (1 for the current status).",
        (("", [*dom, ("status", st.value)], int(status is st)) for st in StsStatus),
    )
    w.family(
        "smtpdiag_dane_usable",
        "gauge",
        "1 when the MX host has usable DNSSEC-validated TLSA records (RFC 7672).",
        (("", [*dom, ("mx", t.mx)], int(t.state is DaneState.USABLE)) for t in policy.dane),
    )


def render_openmetrics(result: HealthResult) -> str:
    """The OpenMetrics exposition of ``result`` (ends with ``# EOF`` and a newline)."""
    w = _Writer()
    _domain_families(w, result)
    _route_families(w, result)
    _cert_families(w, result)
    _policy_families(w, result)
    w.lines.append("# EOF")
    return "\n".join(w.lines) + "\n"
