"""The exporter's own families, in OpenMetrics 1.0 or Prometheus text 0.0.4. Pure.

``/probe`` answers with the health check's exposition
(:func:`smtpdiag.report.openmetrics.render_openmetrics`, gauges only, valid in both
formats) followed by the service's families for the target; ``/metrics`` with the
service's own. Counters are the one thing the two formats write differently (the
``# TYPE`` line names ``x`` in OpenMetrics and ``x_total`` in 0.0.4), so the format is
negotiated from the scraper's ``Accept`` header, as Prometheus' client libraries do:
Prometheus asks for OpenMetrics, ``curl`` and ``promtool`` get 0.0.4.

Families added to ``/probe`` (label ``domain``):

- ``smtpdiag_probes_total{result}`` counter: probes of this target by result (ok,
  warning, critical, unknown, untestable), kept across restarts.
- ``smtpdiag_first_seen_timestamp_seconds``, ``smtpdiag_last_probe_timestamp_seconds``.
- ``smtpdiag_failing_since_seconds``: Unix time since which every probe was critical
  (absent when not failing); alert on ``time() - smtpdiag_failing_since_seconds > 600``.
- ``smtpdiag_change_timestamp_seconds{what}``: when the MX set (``mx``), the MTA-STS
  policy id or mode (``sts_policy``), the certificate fingerprints (``cert``) or their
  match with the TLSA records (``cert_tlsa``) last changed between two rounds (absent
  until a change is seen).
- ``smtpdiag_cert_tlsa_match{state}``: 1 for the state of the latest certificates read
  against the published TLSA records (``match``, ``mismatch``, ``no-tlsa``), 0 for the
  others; absent until a certificate was read. A renewal that breaks DANE shows as
  ``what="cert"`` changing together with ``state="mismatch"``.
- ``smtpdiag_untestable{reason}`` (1 while backing off: ``smtp-421``, ``smtp-450`` or
  ``tarpit``) and ``smtpdiag_backoff_remaining_seconds``.
- ``smtpdiag_result_cached`` (0/1) and ``smtpdiag_result_age_seconds``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from ..report.openmetrics import CONTENT_TYPE as OPENMETRICS_TYPE
from ..report.openmetrics import escape_label_value, render_openmetrics
from ..textsafe import clean
from .drift import DriftKind, TlsaMatch
from .exporter import ProbeAnswer, Stats
from .state import ProbeResultKind
from .tlsrpt import Outcome, TlsrptStore

__all__ = [
    "OPENMETRICS_TYPE",
    "TEXT_TYPE",
    "content_type",
    "render_probe",
    "render_self",
    "service_json",
]

#: Prometheus text format 0.0.4.
TEXT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_Labels = Sequence[tuple[str, str]]


def wants_openmetrics(accept: str) -> bool:
    """Whether the ``Accept`` header asks for OpenMetrics."""
    return "application/openmetrics-text" in accept.lower()


def content_type(openmetrics: bool) -> str:
    return OPENMETRICS_TYPE if openmetrics else TEXT_TYPE


def _num(v: float) -> str:
    if isinstance(v, int):
        return str(v)
    return repr(round(v, 3))


class _Writer:
    def __init__(self, openmetrics: bool) -> None:
        self.om = openmetrics
        self.lines: list[str] = []

    def family(
        self,
        name: str,
        kind: str,
        help_text: str,
        samples: Iterable[tuple[_Labels, float]],
        unit: str | None = None,
    ) -> None:
        rows = list(samples)
        if not rows:
            return
        sample_name = name
        if kind == "counter":
            sample_name = f"{name}_total"
            name = name if self.om else sample_name
        self.lines.append(f"# TYPE {name} {kind}")
        if unit and self.om:
            self.lines.append(f"# UNIT {name} {unit}")
        self.lines.append(f"# HELP {name} {help_text}")
        for labels, value in rows:
            inner = ",".join(f'{k}="{escape_label_value(clean(v, 300))}"' for k, v in labels)
            label_text = "{" + inner + "}" if inner else ""
            self.lines.append(f"{sample_name}{label_text} {_num(value)}")

    def text(self) -> str:
        if self.om:
            self.lines.append("# EOF")
        return "\n".join(self.lines) + "\n" if self.lines else ""


def render_probe(answer: ProbeAnswer, openmetrics: bool) -> str:
    """The ``/probe`` body: the health exposition, then the service's target families."""
    health = render_openmetrics(answer.result)
    # The health renderer ends with "# EOF"; the service's families go before it.
    health = health.removesuffix("# EOF\n")
    w = _Writer(openmetrics)
    dom = [("domain", answer.result.domain)]
    st = answer.state
    w.family(
        "smtpdiag_probes",
        "counter",
        "Probes of the target by result, across restarts of the service.",
        (([*dom, ("result", k.value)], st.counts.get(k, 0)) for k in ProbeResultKind),
    )
    w.family(
        "smtpdiag_first_seen_timestamp_seconds",
        "gauge",
        "Unix time of the service's first probe of the target.",
        [(dom, st.first_seen)],
        unit="seconds",
    )
    w.family(
        "smtpdiag_last_probe_timestamp_seconds",
        "gauge",
        "Unix time of the latest probe of the target.",
        [(dom, st.last_probe)],
        unit="seconds",
    )
    if st.failing_since is not None:
        w.family(
            "smtpdiag_failing_since_seconds",
            "gauge",
            "Unix time since which every probe of the target was critical.",
            [(dom, st.failing_since)],
            unit="seconds",
        )
    w.family(
        "smtpdiag_change_timestamp_seconds",
        "gauge",
        "Unix time the MX set, MTA-STS policy or certificate last changed between rounds.",
        (([*dom, ("what", k.value)], st.changed[k]) for k in DriftKind if k in st.changed),
        unit="seconds",
    )
    match = st.signatures.get(DriftKind.CERT_TLSA)
    if match is not None:
        w.family(
            "smtpdiag_cert_tlsa_match",
            "gauge",
            "1 for how the latest certificates read compare with the TLSA records "
            "(match, mismatch, no-tlsa).",
            (([*dom, ("state", m.value)], int(m.value == match)) for m in TlsaMatch),
        )
    reason = answer.backoff_reason.value if answer.backoff_reason is not None else ""
    if not reason and answer.backoff_code is not None:
        reason = f"smtp-{answer.backoff_code}"
    w.family(
        "smtpdiag_untestable",
        "gauge",
        "1 while the service backs off a server that rate-limits, is busy (421/450) or tarpits.",
        [([*dom, ("reason", reason)], 1)] if reason else [(dom, 0)],
    )
    w.family(
        "smtpdiag_backoff_remaining_seconds",
        "gauge",
        "Seconds until the target is probed again while backing off (0 otherwise).",
        [(dom, round(answer.backoff_remaining, 3))],
        unit="seconds",
    )
    w.family(
        "smtpdiag_result_cached",
        "gauge",
        "1 when this scrape was answered from the cache (no probe of its own).",
        [(dom, int(answer.cached))],
    )
    w.family(
        "smtpdiag_result_age_seconds",
        "gauge",
        "Seconds since the probe that made this result.",
        [(dom, round(answer.age, 3))],
        unit="seconds",
    )
    return health + w.text()


def service_json(answer: ProbeAnswer) -> dict[str, Any]:
    """What the service adds to ``/report`` (the ``service`` object of the check
    document): module, cache, backoff, history and the TLSA match of the certificates."""
    st = answer.state
    report = answer.result.report
    routes = []
    if report is not None:
        for rr in report.routes:
            tls = rr.tls
            if tls is None or tls.certificate is None:
                continue
            dane = tls.dane
            routes.append(
                {
                    "mx": rr.route.mx,
                    "address": rr.route.address,
                    "port": rr.route.port,
                    "sha256": tls.certificate.sha256,
                    "tlsa_matched": None if dane is None else dane.matched,
                    "tlsa_failure": None
                    if dane is None or dane.failure is None
                    else dane.failure.value,
                }
            )
    return {
        "module": answer.module,
        "cached": answer.cached,
        "age_seconds": round(answer.age, 3),
        "untestable": answer.backoff_reason.value if answer.backoff_reason else None,
        "backoff_remaining_seconds": round(answer.backoff_remaining, 3),
        "first_seen": st.first_seen,
        "last_probe": st.last_probe,
        "failing_since": st.failing_since,
        "probes": {k.value: st.counts.get(k, 0) for k in ProbeResultKind},
        "changed": {k.value: st.changed[k] for k in DriftKind if k in st.changed},
        "cert_tlsa_match": st.signatures.get(DriftKind.CERT_TLSA),
        "certificates": routes,
    }


def render_self(
    stats: Stats,
    requests: dict[tuple[str, int], int],
    targets: int,
    backing_off: int,
    openmetrics: bool,
    tlsrpt: TlsrptStore | None = None,
) -> str:
    """The ``/metrics`` body: the service's own counters and gauges (and the received
    TLS reports' counts with ``--accept-tlsrpt``)."""
    w = _Writer(openmetrics)
    w.family("smtpdiag_exporter_probes", "counter", "Probes run.", [((), stats.probes)])
    w.family(
        "smtpdiag_exporter_cache_hits",
        "counter",
        "Scrapes answered from the cache (result younger than --min-interval).",
        [((), stats.cache_hits)],
    )
    w.family(
        "smtpdiag_exporter_shared_probes",
        "counter",
        "Scrapes that waited for a probe another scrape had started (single flight).",
        [((), stats.shared)],
    )
    w.family(
        "smtpdiag_exporter_backoff_skips",
        "counter",
        "Scrapes answered without probing because the target is backing off.",
        [((), stats.backoff_skips)],
    )
    w.family(
        "smtpdiag_exporter_probes_in_flight",
        "gauge",
        "Probes running now.",
        [((), stats.in_flight)],
    )
    w.family("smtpdiag_exporter_targets", "gauge", "Targets remembered.", [((), targets)])
    w.family(
        "smtpdiag_exporter_targets_backing_off",
        "gauge",
        "Targets the service backs off from now (rate limited or busy).",
        [((), backing_off)],
    )
    w.family(
        "smtpdiag_exporter_requests",
        "counter",
        "HTTP requests by path and status code.",
        (((("path", p), ("code", str(c))), n) for (p, c), n in sorted(requests.items())),
    )
    if tlsrpt is not None:
        _tlsrpt_families(w, tlsrpt)
    return w.text()


def _tlsrpt_families(w: _Writer, store: TlsrptStore) -> None:
    counts = store.counts()
    w.family(
        "smtpdiag_tlsrpt_reports",
        "counter",
        "TLS reports POSTed to /tlsrpt by outcome, across restarts of the service.",
        ((([("result", o.value)]), counts.get(o, 0)) for o in Outcome),
    )
    w.family(
        "smtpdiag_tlsrpt_failed_sessions",
        "counter",
        "Failed sessions in accepted TLS reports by policy domain, result type and "
        "receiving MX host (series past the cap are counted under other).",
        (
            (
                [
                    ("policy_domain", domain),
                    ("result_type", result_type),
                    ("receiving_mx_hostname", mx),
                ],
                n,
            )
            for domain, result_type, mx, n in store.series()
        ),
    )
    w.family(
        "smtpdiag_tlsrpt_reports_stored",
        "gauge",
        "TLS reports kept in the state (the oldest received are dropped past the cap).",
        [((), store.stored())],
    )
