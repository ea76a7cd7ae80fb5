"""The HTML report: one self-contained page a sender can attach to a ticket. Pure.

Layout, top to bottom (the order a recipient's administrator needs it): the verdict,
who fails and the primary code, what to do, the findings with their evidence, per
route a phase waterfall (an inline SVG bar per phase on one time axis, the failed or
not-attempted phase marked in words too), the TLS policy, the certificates as
presented, the DNS answers, the SMTP replies per route, and the JSON report embedded
for tools (a ``application/json`` data block, never executed).

This module only lays out: the decision record (verdict, primary code, action, who
fails) comes from :mod:`smtpdiag.diagnosis.decision` through the report, the words from
:mod:`smtpdiag.narrate`, and the template makes no decision.

Safety: remote text (banners, replies, certificate and DNS names) is cleaned by
:func:`smtpdiag.textsafe.clean` and reaches the page only through Jinja2 with
autoescaping on, so ``<script>`` in a banner is shown as those characters. The page
loads nothing: a Content-Security-Policy meta allows no source at all except the one
inline stylesheet (by its hash) and ``data:`` images, so even injected markup could
neither run nor fetch. Jinja2 is the optional extra ``smtpdiag[html]``.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from ..model import (
    CertInfo,
    Diagnosis,
    Evidence,
    Finding,
    Outcome,
    PhaseRecord,
    ProbeReport,
    RouteResult,
    TlsInfo,
    Verdict,
)
from ..narrate.common import fmt_reply, tls_reason_text
from ..narrate.findings_vantage import fault_side_text
from ..narrate.policy import failing_sender_rows, policy_rows, sender_rows, senders_line
from ..textsafe import clean

if TYPE_CHECKING:
    from ..bounces.bounce import Explanation
    from ..health.evaluation import HealthResult

__all__ = [
    "JINJA_MISSING",
    "content_security_policy",
    "environment",
    "render_health_html",
    "render_html",
    "require_jinja",
    "script_json",
    "stylesheet",
]

#: The one line a user without the extra sees.
JINJA_MISSING = "the HTML report needs Jinja2: pip install 'smtpdiag[html]' (or pip install jinja2)"

_SHORT, _LINE, _PARA = 120, 300, 2000
_AXIS = 1000.0  # the waterfall's viewBox width
_MIN_BAR = 2.0  # a 0.1 ms phase still shows as a sliver

_PHASE_LABEL = {
    "connect": "TCP connect",
    "tls-handshake": "TLS handshake",
    "greeting": "greeting (220)",
    "ehlo": "EHLO",
    "helo": "HELO",
    "starttls": "STARTTLS",
    "ehlo-tls": "EHLO in TLS",
    "quit": "QUIT",
}
_VERDICT_LABEL = {
    Verdict.HEALTHY: "Healthy",
    Verdict.DEGRADED: "Degraded",
    Verdict.FAILED: "Failed",
    Verdict.NO_MAIL: "Accepts no mail",
    Verdict.UNKNOWN: "No verdict",
}


def _ms(ms: float) -> str:
    if ms >= 1000:
        return f"{ms / 1000:.2f} s"
    return f"{ms:.1f} ms"


@dataclass(frozen=True, slots=True)
class _Bar:
    label: str
    outcome: str
    state: str  # ok | failed | skipped
    x: float
    width: float
    duration: str
    note: str


@dataclass(frozen=True, slots=True)
class _RouteView:
    label: str
    state: str
    total: str
    axis: str
    bars: list[_Bar]
    banner: str
    extensions: str
    tls: list[tuple[str, str]]
    cert: list[tuple[str, str]]
    transcript: list[str]


@dataclass(slots=True)
class _Page:
    domain: str
    title: str
    verdict: str
    verdict_class: str
    primary: str
    primary_title: str
    persistence: str
    action: str
    schedule: list[tuple[str, str]]
    who_fails: list[tuple[str, str, bool]]
    health: tuple[str, str] | None
    meta: str
    bounce: list[tuple[str, str]] = field(default_factory=list)
    findings: list[dict[str, Any]] = field(default_factory=list)
    routes: list[_RouteView] = field(default_factory=list)
    policy: list[tuple[str, str]] = field(default_factory=list)
    dns: list[tuple[str, str, str, str]] = field(default_factory=list)
    report_json: str = ""
    fault_side: str = ""


def _c(text: object, limit: int = _LINE) -> str:
    return clean(None if text is None else str(text), limit)


def _evidence(e: Evidence) -> str:
    parts = []
    if e.mx:
        where = _c(e.mx, _SHORT)
        if e.address:
            where += f"[{_c(e.address, 60)}]"
        if e.port is not None:
            where += f":{e.port}"
        parts.append(where)
    if e.query:
        parts.append(_c(e.query, _SHORT))
    if e.phase is not None:
        parts.append(e.phase.value)
    if e.outcome is not None:
        parts.append(e.outcome.value)
    if e.dns_outcome is not None:
        parts.append(e.dns_outcome.value)
    if e.duration_ms is not None:
        parts.append(_ms(e.duration_ms))
    for text in (e.reply, e.error, e.note):
        if text:
            parts.append(_c(text))
    return " \u00b7 ".join(parts)


def _finding(f: Finding) -> dict[str, Any]:
    return {
        "code": _c(f.code or "", 16),
        "title": _c(f.title, _SHORT),
        "severity": f.severity.value,
        "summary": _c(f.summary, _PARA),
        "senders": _c(senders_line(f) or "", _PARA),
        "evidence": [_evidence(e) for e in f.evidence],
        "causes": [_c(c, _PARA) for c in f.causes],
        "steps": [(s.status.value, _c(s.text, _PARA), _c(s.result or "", _PARA)) for s in f.steps],
        "action": _c(f.action.summary, _PARA),
    }


def _bar(rec: PhaseRecord, origin: float, span: float) -> _Bar:
    label = _PHASE_LABEL.get(rec.phase.value, rec.phase.value)
    if rec.outcome is Outcome.NOT_ATTEMPTED:
        why = rec.skip_reason.value if rec.skip_reason is not None else ""
        return _Bar(label, "not attempted", "skipped", 0.0, 0.0, "\u2013", _c(why, _SHORT))
    x = (rec.start_ms - origin) / span * _AXIS
    width = max(rec.duration_ms / span * _AXIS, _MIN_BAR)
    x = min(max(x, 0.0), _AXIS - _MIN_BAR)
    width = min(width, _AXIS - x)
    state = "ok" if rec.outcome is Outcome.OK else "failed"
    note = ""
    if rec.outcome is Outcome.TLS_FAILURE:
        note = tls_reason_text(rec)
    elif rec.reply is not None and rec.outcome is not Outcome.OK:
        note = fmt_reply(rec.reply) or ""
    elif rec.detail and rec.outcome is not Outcome.OK:
        note = rec.detail
    outcome = "ok" if state == "ok" else f"failed: {rec.outcome.value}"
    return _Bar(label, outcome, state, round(x, 2), round(width, 2), _ms(rec.duration_ms), _c(note))


def _route_state(rr: RouteResult) -> str:
    failure = rr.failure
    if rr.ok:
        return "ok"
    if failure is not None and failure.outcome is Outcome.NOT_ATTEMPTED:
        return "not attempted"
    if failure is not None:
        return f"failed at {_PHASE_LABEL.get(failure.phase.value, failure.phase.value)}"
    return "failed"


def _tls_rows(t: TlsInfo) -> list[tuple[str, str]]:
    rows = [
        ("version", _c(t.version or "\u2013", 40)),
        ("cipher", _c(t.cipher or "\u2013", 80)),
        ("verified", "yes" if t.verified else f"no: {_c(t.verify_error or 'unverified')}"),
        ("name matches MX", {True: "yes", False: "no", None: "\u2013"}[t.hostname_match]),
        ("chain length as presented", str(t.chain_length)),
    ]
    if t.chain_truncated:
        rows.append(("chain", "truncated in this report"))
    return rows


def _cert_rows(c: CertInfo) -> list[tuple[str, str]]:
    names = ", ".join(_c(n, _SHORT) for n in c.sans)
    if c.sans_omitted:
        names += f" (+{c.sans_omitted} more)"
    key = c.key_type + (f" {c.key_bits} bits" if c.key_bits else "")
    return [
        ("subject", _c(c.subject)),
        ("issuer", _c(c.issuer)),
        ("names", names or "\u2013"),
        ("valid", f"{_c(c.not_before, 40)} to {_c(c.not_after, 40)}"),
        ("days left", str(c.days_left)),
        ("key", _c(key, 40)),
        ("SHA-256", _c(c.sha256, 120)),
        ("self-signed", "yes" if c.self_signed else "no"),
        ("serial", _c(c.serial, 80)),
    ]


def _route(rr: RouteResult) -> _RouteView:
    run = [p for p in rr.phases if p.outcome is not Outcome.NOT_ATTEMPTED]
    origin = min((p.start_ms for p in run), default=0.0)
    end = max((p.start_ms + p.duration_ms for p in run), default=0.0)
    span = max(end - origin, 0.001)
    t = rr.tls
    transcript = [
        f"[{p.phase.value}] S: "
        + clean(f"{p.reply.code} {p.reply.text}", _PARA, keep_newlines=True)
        for p in rr.phases
        if p.reply is not None
    ]
    return _RouteView(
        label=_c(rr.route.label, _SHORT),
        state=_route_state(rr),
        total=_ms(span if run else 0.0),
        axis=_ms(span) if run else "",
        bars=[_bar(p, origin, span) for p in rr.phases],
        banner=_c(rr.banner or "", _PARA),
        extensions=", ".join(_c(x, 60) for x in rr.extensions),
        tls=_tls_rows(t) if t is not None else [],
        cert=_cert_rows(t.certificate) if t is not None and t.certificate is not None else [],
        transcript=transcript,
    )


def script_json(text: str) -> str:
    """JSON safe inside a ``<script type="application/json">`` element: ASCII only (no
    bidi override or line separator from a banner reaches the page raw), and no ``<``,
    ``>`` or ``&`` can end the element or open a comment (JSON \\u escapes)."""
    import json

    text = json.dumps(json.loads(text), ensure_ascii=True, separators=(",", ":"))
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def _lead(d: Diagnosis) -> Finding | None:
    """The finding that gives the primary code."""
    return next((f for f in d.findings if f.code and f.code == d.primary), None)


def _who(d: Diagnosis) -> list[tuple[str, str, bool]]:
    lead = _lead(d) or next((f for f in d.findings if f.payload.senders), None)
    who = [(_c(a, 80), _c(b, 120), fails) for a, b, fails in sender_rows(lead)] if lead else []
    # The finding names no sender kinds: the record's "who fails" alone.
    return who or failing_sender_rows(d.who_fails)


def _meta(report: ProbeReport) -> str:
    ports = ", ".join(str(p) for p in report.ports) or "\u2013"
    meta = f"Probed {_c(report.started_at, 40)} in {_ms(report.duration_ms)}; ports {ports}"
    if report.tool_version:
        meta += f"; smtpdiag {_c(report.tool_version, 20)}"
    return meta


def _dns_rows(report: ProbeReport) -> list[tuple[str, str, str, str]]:
    res = report.resolution
    queries = (res.mx_query, *res.queries, *(q for h in res.hosts for q in h.queries))
    return [
        (
            _c(q.name, _SHORT),
            _c(q.rdtype, 12),
            q.outcome.value,
            "; ".join(_c(a, _SHORT) for a in q.answers) or _c(q.detail or "", _LINE),
        )
        for q in queries
    ]


def _page(report: ProbeReport, health: HealthResult | None) -> _Page:
    from .jsonout import dumps

    d = report.diagnosis
    lead = _lead(d) if d is not None else None
    return _Page(
        domain=_c(report.domain, _SHORT),
        title=f"smtpdiag report: {_c(report.domain, _SHORT)}",
        verdict=_VERDICT_LABEL[d.verdict] if d is not None else "Not diagnosed",
        verdict_class=d.verdict.value if d is not None else "unknown",
        primary=_c(d.primary or "", 16) if d is not None else "",
        primary_title=_c(lead.title, _SHORT) if lead is not None else "",
        persistence=d.persistence.value if d is not None else "",
        action=_c(d.action.summary, _PARA) if d is not None else "",
        schedule=[(f"attempt {a.number}", _c(a.at, 40)) for a in (d.action.schedule if d else ())],
        who_fails=_who(d) if d is not None else [],
        health=(health.status.value, _c(health.summary, _PARA)) if health else None,
        meta=_meta(report),
        findings=[_finding(f) for f in d.findings] if d is not None else [],
        routes=[_route(r) for r in report.routes],
        policy=[(_c(a, 40), _c(b, _PARA)) for a, b in policy_rows(report)],
        dns=_dns_rows(report),
        report_json=script_json(dumps(report, indent=None)),
        fault_side=(fault_side_text(d.fault_side) or "") if d is not None else "",
    )


@cache
def environment() -> Any:
    try:
        import jinja2
    except ImportError:
        raise ConfigError(JINJA_MISSING) from None
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("smtpdiag.report", "templates"),
        autoescape=True,  # every {{ }} is escaped; nothing is marked safe but the JSON block
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env


def require_jinja() -> None:
    """Raise :class:`ConfigError` (one line) now if Jinja2 is not installed."""
    environment()


@cache
def stylesheet() -> tuple[str, str]:
    """The inline CSS and its CSP hash (``'sha256-...'``)."""
    css = resources.files("smtpdiag.report").joinpath("templates/report.css").read_text("utf-8")
    digest = base64.b64encode(hashlib.sha256(css.encode("utf-8")).digest()).decode("ascii")
    return css, f"'sha256-{digest}'"


def _bounce(expl: Explanation) -> list[tuple[str, str]]:
    """The bounce that ``explain --probe`` compared with the probe, as label/text rows."""
    rows = [
        ("code", _c(expl.code.code if expl.code is not None else "none found", 40)),
        ("explained", _c(expl.summary, _PARA)),
    ]
    if expl.action is not None:
        rows.append(("what to do", _c(expl.action.summary, _PARA)))
    if expl.confirmation is not None:
        rows.append(
            (f"probe now: {expl.confirmation.status.value}", _c(expl.confirmation.summary, _PARA))
        )
    return rows


def content_security_policy(css_hash: str) -> str:
    """Nothing may load or run but the page's own stylesheet (by its hash)."""
    return (
        f"default-src 'none'; style-src {css_hash}; img-src data:; "
        "base-uri 'none'; form-action 'none'"
    )


def render_html(
    report: ProbeReport,
    *,
    health: HealthResult | None = None,
    explanation: Explanation | None = None,
) -> str:
    """The self-contained HTML page of ``report`` (with ``health``: its status first;
    with ``explanation``: the bounce it was probed for, before the verdict).

    Raises:
        ConfigError: Jinja2 (the ``smtpdiag[html]`` extra) is not installed.
    """
    env = environment()
    from markupsafe import Markup

    css, css_hash = stylesheet()
    page = _page(report, health)
    if explanation is not None:
        page.bounce = _bounce(explanation)
    csp = content_security_policy(css_hash)
    text: str = env.get_template("report.html.j2").render(
        page=page,
        css=Markup(css),  # our own file, not remote text
        csp=csp,
        report_json=Markup(page.report_json),  # escaped for a data block above
    )
    return text


def render_health_html(result: HealthResult) -> str:
    """The HTML page of a health check: its status and summary, then the probe report."""
    if result.report is None:
        raise ConfigError("the HTML report needs a probe report (this check has none)")
    return render_html(result.report, health=result)
