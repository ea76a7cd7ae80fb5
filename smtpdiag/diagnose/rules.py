"""Observations -> findings: ONE ordered table of rules (``RULES``).

Invariants (tests in ``tests/unit/diagnose`` check them):

* Pure. This module imports no I/O module (no asyncio, socket, ssl, dns, aiosmtplib);
  it reads model objects and returns model objects. "Now" comes in through ``Facts``.
* All-match semantics. Every rule whose predicate holds contributes exactly one
  finding; the table order is the importance order, so findings come out most
  important first. Rules that must not fire together say so in their predicates
  (e.g. the prober's own port-25 block, suspected when every port-25 connect times
  out while another port connects, silences every rule that would blame the
  destination for unanswered connects; a refusal by RST/ICMP blames the destination).
* Deliverability. MTAs deliver on the delivery port and fall back to the next
  address/MX (RFC 5321 5.1, 5.4.4). When a delivery-port route works, findings of hard
  codes bounce nothing: they are ``info`` and their action is FIX, never SUPPRESS;
  a primary MX that fails while a secondary delivers leads with
  ``primary-down-secondary-ok`` (no code) and the MX-level finding follows.
* Total. Every ``ResolutionKind``, every ``MxTargetKind``, every ``DnsOutcome`` (through
  those two kinds) and every (``Phase``, ``Outcome``) a failed route can end in is
  covered: :func:`classify` maps each failed route to a :class:`RouteState`, and for
  each state at least one failure rule fires. A report always yields at least one
  finding.
* Codes. The four seed codes (4.4.2, 5.4.2, 4.3.2, 5.4.3) are the ones this tool is
  built around; neighbours (4.4.1, 4.4.3, 5.4.4, 5.1.10) are named where RFC 3463 or
  common MTAs use them. Soft codes retry on the seed schedule; hard codes suppress
  unless another route still delivers (then the recipient has something to fix).
* Ports. The *delivery port* is 25 when probed, else the first probed port (tests use
  unprivileged ports). Failures on the other ports of an address whose delivery port
  works are informational: an MX need not offer submission (587/465). The verdict
  follows the delivery port too (``VERDICT_DOC``): 587/465 answering does not make a
  domain whose port 25 fails everywhere "degraded".
* Families. The resolve stage asks A and AAAA whatever ``-4``/``-6`` say; an MX whose
  addresses are all in an excluded family (:attr:`Facts.filtered_hosts`) was not probed
  and is no fault: rules about MX hosts without a working route leave it out, and it
  gets the code-less ``family-filtered`` finding (or ``nothing-probed`` when no route
  was probed at all).

The rule table with the observations behind each code is in ``RULE_TABLE_DOC`` (and
in the final report of issue 3).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from ..model import (
    Action,
    ActionKind,
    AddressFamily,
    CertInfo,
    DnsOutcome,
    DnsQuery,
    Evidence,
    Finding,
    MxHost,
    MxTargetKind,
    Outcome,
    Persistence,
    Phase,
    PhaseRecord,
    ProbeReport,
    ResolutionKind,
    RetryAttempt,
    RouteResult,
    Severity,
    SmtpReply,
    Step,
    StepStatus,
    TlsMode,
)
from ..timefmt import utc_iso
from ..wording import days_left, plural
from . import knowledge
from .codes import lookup
from .knowledge import CodeKnowledge, RetrySchedule

__all__ = [
    "MAX_EVIDENCE",
    "RULES",
    "RULE_TABLE_DOC",
    "VERDICT_DOC",
    "Facts",
    "Rule",
    "RuleKind",
    "RouteState",
    "RouteView",
    "aware_now",
    "build_facts",
    "classify",
    "delivery_port_of",
    "describe",
    "family_of",
    "fmt_ms",
    "fmt_reply",
    "iso",
    "local_deny",
    "make_action",
    "make_steps",
    "schedule_from",
    "silent_or_local",
]

#: At most this many evidence entries per finding (a domain with many addresses).
MAX_EVIDENCE = 24
#: A certificate expiring within this many days is reported (info).
CERT_EXPIRY_WARN_DAYS = 21


#: Rules whose condition is transient by definition when no history says otherwise.
_TRANSIENT_BY_NATURE = frozenset({"dns-failed", "mx-lookup-failed"})


class RouteState(StrEnum):
    """What a route's probe amounts to, for the rules."""

    OK = "ok"
    NO_CONNECT = "no-connect"  #: the TCP connect failed (refused, unreachable, timed out)
    DROPPED = "dropped"  #: connected, then closed/reset/timed out or a transient TLS failure
    DEFERRED = "deferred"  #: 421 anywhere, or 4xx to greeting/EHLO/HELO (server not accepting)
    TLS_MISMATCH = "tls-mismatch"  #: no version/cipher in common, bad certificate, 5xx STARTTLS
    REJECTED = "rejected"  #: 5xx greeting/EHLO+HELO, or a peer that does not speak SMTP


class RuleKind(StrEnum):
    """What a rule's finding means for the verdict and for history."""

    FAILURE = "failure"  #: something fails; history decides its persistence
    FEATURE = "feature"  #: mail flows, but a feature is missing or broken (degrades)
    INFO = "info"  #: an observation only


@dataclass(frozen=True, slots=True)
class RouteView:
    """A route result with its classification.

    Attributes:
        result: The route result.
        state: Its classification.
        failure: The failing phase record, ``None`` when ok.
        delivery: The route is on the delivery port.
    """

    result: RouteResult
    state: RouteState
    failure: PhaseRecord | None
    delivery: bool

    @property
    def connected(self) -> bool:
        """A TCP connection was established."""
        return self.state is not RouteState.NO_CONNECT

    @property
    def label(self) -> str:
        """The route's ``mx[address]:port``."""
        return self.result.route.label


# --------------------------------------------------------------------- classify

_TLS_PHASES = (Phase.STARTTLS, Phase.TLS_HANDSHAKE, Phase.EHLO_TLS)
_SESSION_PHASES = (Phase.GREETING, Phase.EHLO, Phase.HELO, Phase.EHLO_TLS)
# TLS reasons that mean a configuration mismatch rather than a broken connection
# (OpenSSL reason strings; RFC 8446 6.2 alerts protocol_version, handshake_failure,
# insufficient_security; certificate verification per RFC 5280 / RFC 6125).
_TLS_VERSION_RE = re.compile(
    r"version|unsupported protocol|no protocols available|protocol_version", re.I
)
_TLS_CIPHER_RE = re.compile(
    r"cipher|handshake failure|handshake_failure|insufficient.security|no shared", re.I
)
_TLS_CERT_RE = re.compile(
    r"certificate|verify|self[- ]signed|expired|unknown ca|hostname mismatch", re.I
)


def _tls_mismatch_kind(detail: str | None, tls_verify_error: str | None) -> str | None:
    """``"version"``, ``"cipher"``, ``"certificate"`` or ``None`` (not a mismatch)."""
    text = detail or ""
    if _TLS_VERSION_RE.search(text):
        return "version"
    if _TLS_CIPHER_RE.search(text):
        return "cipher"
    if _TLS_CERT_RE.search(text) or tls_verify_error:
        return "certificate"
    return None


def classify(result: RouteResult) -> tuple[RouteState, PhaseRecord | None]:
    """Classify a route result. Total over every (phase, outcome) a failure can have."""
    f = result.failure
    if result.ok:
        return RouteState.OK, None
    if f is None:
        # Not ok, yet no failed phase recorded (e.g. the deadline ended it between
        # phases): the connection did not complete, like a drop.
        last = result.phases[-1] if result.phases else None
        if last is None:
            return RouteState.NO_CONNECT, None
        return RouteState.DROPPED, last
    if f.phase is Phase.CONNECT:
        return RouteState.NO_CONNECT, f
    verify_error = result.tls.verify_error if result.tls else None
    if f.outcome is Outcome.REPLY:
        code = f.reply.code if f.reply else 0
        if code == 421 or (400 <= code < 500 and f.phase in _SESSION_PHASES):
            return RouteState.DEFERRED, f
        if 400 <= code < 500:
            return RouteState.DROPPED, f  # e.g. 454 to STARTTLS: TLS temporarily unavailable
        if f.phase is Phase.STARTTLS:
            return RouteState.TLS_MISMATCH, f
        return RouteState.REJECTED, f
    if f.outcome is Outcome.TLS_FAILURE:
        if _tls_mismatch_kind(f.detail, verify_error):
            return RouteState.TLS_MISMATCH, f
        return RouteState.DROPPED, f
    if f.outcome is Outcome.ERROR:
        if f.phase in _TLS_PHASES:
            if _tls_mismatch_kind(f.detail, verify_error):
                return RouteState.TLS_MISMATCH, f
            return RouteState.DROPPED, f
        return RouteState.REJECTED, f  # the peer did not speak SMTP
    # TIMEOUT, CLOSED, RESET (and REFUSED/UNREACHABLE/OK, which cannot follow a connect).
    return RouteState.DROPPED, f


# --------------------------------------------------------------------- formatting


def fmt_ms(ms: float | None) -> str:
    """``0.4 ms`` / ``12 ms``: stable text for reports and golden files."""
    if ms is None:
        return "? ms"
    return f"{ms:.1f} ms" if ms < 10 else f"{ms:.0f} ms"


def fmt_reply(reply: SmtpReply | None) -> str | None:
    """``"421 4.3.2 text"`` (first lines joined by " / ")."""
    if reply is None:
        return None
    text = " / ".join(line for line in reply.text.splitlines() if line)
    if reply.enhanced and not text.startswith(reply.enhanced):
        text = f"{reply.enhanced} {text}"
    return f"{reply.code} {text}".rstrip()


_CONNECT_WORDS = {
    Outcome.REFUSED: "refused",
    Outcome.UNREACHABLE: "unreachable",
    Outcome.TIMEOUT: "timed out",
    Outcome.RESET: "reset",
    Outcome.CLOSED: "closed",
    Outcome.ERROR: "failed",
}


def describe(view: RouteView) -> str:
    """One line: what happened on the route (``connect to mx[ip]:25 refused in 0.4 ms``)."""
    rr, f = view.result, view.failure
    if view.state is RouteState.OK:
        tls = f", {rr.tls.version}" if rr.tls and rr.tls.version else ""
        return f"{view.label} works ({fmt_ms(rr.total_ms)}{tls})"
    if f is None:
        return f"{view.label}: no phase completed"
    if f.phase is Phase.CONNECT:
        word = _CONNECT_WORDS.get(f.outcome, f.outcome.value)
        extra = f" ({f.detail})" if f.detail and f.outcome is Outcome.ERROR else ""
        return f"connect to {view.label} {word} in {fmt_ms(f.duration_ms)}{extra}"
    if f.outcome is Outcome.REPLY:
        what = f"answered {fmt_reply(f.reply)}"
    elif f.outcome is Outcome.TLS_FAILURE:
        what = f"TLS handshake failed ({f.detail or 'no reason given'})"
    elif f.outcome is Outcome.CLOSED:
        what = "connection closed by the server without a reply"
    elif f.outcome is Outcome.RESET:
        what = "connection reset by the server"
    elif f.outcome is Outcome.TIMEOUT:
        what = "timed out"
    elif f.outcome is Outcome.ERROR:
        what = f"protocol error ({f.detail or 'unexpected data'})"
    else:
        what = f.outcome.value
    return f"{f.phase.value} on {view.label}: {what} after {fmt_ms(f.duration_ms)}"


# Failure details that only restate the outcome ("connection refused" for REFUSED):
# the evidence keeps them out of ``error`` so a reader sees each fact once.
_RESTATED = {
    Outcome.REFUSED: frozenset({"connection refused"}),
    Outcome.TIMEOUT: frozenset({"timed out", "connection timed out", "timeout"}),
    Outcome.RESET: frozenset({"connection reset by peer", "connection reset"}),
    Outcome.CLOSED: frozenset({"connection closed by peer", "connection closed"}),
}


def _error_detail(f: PhaseRecord) -> str | None:
    """The failure's detail when it adds to the outcome, else ``None``."""
    if f.detail and f.detail.strip().lower() in _RESTATED.get(f.outcome, frozenset()):
        return None
    return f.detail


def _evidence(view: RouteView, note: str | None = None) -> Evidence:
    rt, f = view.result.route, view.failure
    if f is None:
        tls = view.result.tls
        if note is None and tls is not None and tls.version:
            note = f"{tls.version} {tls.cipher or ''}".rstrip()
        return Evidence(
            mx=rt.mx,
            address=rt.address,
            port=rt.port,
            outcome="ok",
            duration_ms=view.result.total_ms,
            note=note,
        )
    return Evidence(
        mx=rt.mx,
        address=rt.address,
        port=rt.port,
        phase=f.phase.value,
        outcome=f.outcome.value,
        reply=fmt_reply(f.reply),
        error=_error_detail(f),
        duration_ms=f.duration_ms,
        note=note,
    )


def _cap(items: Sequence[Evidence]) -> tuple[Evidence, ...]:
    if len(items) <= MAX_EVIDENCE:
        return tuple(items)
    rest = len(items) - MAX_EVIDENCE + 1
    return (*items[: MAX_EVIDENCE - 1], Evidence(note=f"... and {rest} more"))


def _join(lines: Iterable[str], limit: int = 8) -> str:
    items = list(dict.fromkeys(lines))
    if len(items) > limit:
        items = [*items[:limit], f"... and {len(items) - limit} more"]
    return "; ".join(items)


def _cert_facts(cert: CertInfo | None) -> str | None:
    if cert is None:
        return None
    sans = ", ".join(cert.sans[:6]) or "none"
    parts = [
        f"subject {cert.subject}",
        f"issuer {cert.issuer}",
        f"SANs {sans}",
        f"valid {cert.not_before} to {cert.not_after} ({days_left(cert.days_left)})",
        f"key {cert.key_type}{'' if cert.key_bits is None else f' {cert.key_bits}'}",
        f"sha256 {cert.sha256}",
    ]
    if cert.self_signed:
        parts.append("self-signed")
    return "certificate: " + "; ".join(parts)


def iso(dt: datetime) -> str:
    """ISO 8601 UTC with a ``Z``, to the second."""
    return utc_iso(dt, "seconds")


def aware_now(now: datetime | None) -> datetime:
    """``now`` as an aware instant (naive means UTC); the current time when ``None``."""
    if now is None:
        return datetime.now(UTC)
    return now if now.tzinfo is not None else now.replace(tzinfo=UTC)


# --------------------------------------------------------------------- facts


@dataclass(frozen=True, slots=True)
class Facts:
    """What the rules read: the report, its classified routes, the time and history.

    Attributes:
        report: The probe report.
        now: The instant retry times are counted from (UTC).
        views: Classified route results, in report order.
        delivery_port: 25 if probed, else the first probed port; ``None`` without ports.
        own_port_block: The prober's own network seems to block the delivery port.
        persistence: Rule id -> (persistence, why) from watch-mode history.
        history_len: Number of earlier probes considered.
        recovered: Failure rules that fired in earlier probes but not in this one.
    """

    report: ProbeReport
    now: datetime
    views: tuple[RouteView, ...]
    delivery_port: int | None
    own_port_block: bool
    persistence: Mapping[str, tuple[Persistence, str]] = field(default_factory=dict)
    history_len: int = 0
    recovered: tuple[str, ...] = ()

    @property
    def ok_views(self) -> tuple[RouteView, ...]:
        """Routes that work."""
        return tuple(v for v in self.views if v.state is RouteState.OK)

    @property
    def delivery_ok_views(self) -> tuple[RouteView, ...]:
        """Working routes on the delivery port (where MTAs deliver)."""
        return tuple(v for v in self.views if v.delivery and v.state is RouteState.OK)

    @property
    def delivery_ok(self) -> bool:
        """An MTA can deliver now: at least one delivery-port route works."""
        return bool(self.delivery_ok_views)

    @property
    def any_ok(self) -> bool:
        """At least one route works (on any port)."""
        return any(v.state is RouteState.OK for v in self.views)

    @property
    def alt_only(self) -> tuple[RouteView, ...]:
        """Failed non-delivery-port routes that say nothing about delivery: any failure
        where the address's delivery port works, and unanswered connects where the
        delivery port at least connects (an MX need not offer 587/465)."""
        good = {
            (v.result.route.mx, v.result.route.address)
            for v in self.views
            if v.delivery and v.state is RouteState.OK
        }
        answering = {
            (v.result.route.mx, v.result.route.address)
            for v in self.views
            if v.delivery and v.connected
        }
        out = []
        for v in self.views:
            key = (v.result.route.mx, v.result.route.address)
            if v.delivery or v.state is RouteState.OK:
                continue
            if key in good or (v.state is RouteState.NO_CONNECT and key in answering):
                out.append(v)
        return tuple(out)

    @property
    def no_local_ipv6(self) -> tuple[RouteView, ...]:
        """IPv6 routes, when every one failed with ENETUNREACH while IPv4 connects: the
        prober has no IPv6 route, which says nothing about the destination."""
        v6 = [v for v in self.views if v.result.route.family is AddressFamily.IPV6]
        if not v6 or not any(
            v.connected for v in self.views if v.result.route.family is AddressFamily.IPV4
        ):
            return ()
        for v in v6:
            f = v.failure
            if (
                v.state is not RouteState.NO_CONNECT
                or f is None
                or f.outcome is not Outcome.UNREACHABLE
                or not _NETUNREACH_RE.search(f.detail or "")
            ):
                return ()
        return tuple(v6)

    @property
    def relevant_failed(self) -> tuple[RouteView, ...]:
        """Failed routes that matter for delivery (not :attr:`alt_only`, not
        :attr:`no_local_ipv6`)."""
        skip = {id(v) for v in self.alt_only} | {id(v) for v in self.no_local_ipv6}
        return tuple(v for v in self.views if v.state is not RouteState.OK and id(v) not in skip)

    def failed_in(self, *states: RouteState) -> tuple[RouteView, ...]:
        """Relevant failed routes in one of ``states``."""
        return tuple(v for v in self.relevant_failed if v.state in states)

    @property
    def hosts_with_routes(self) -> tuple[str, ...]:
        """MX host names that have probed routes, in report order."""
        return tuple(dict.fromkeys(v.result.route.mx for v in self.views))

    def host_views(self, mx: str) -> tuple[RouteView, ...]:
        """Every route of MX host ``mx``."""
        return tuple(v for v in self.views if v.result.route.mx == mx)

    @property
    def down_hosts(self) -> tuple[str, ...]:
        """MX hosts none of whose routes got a TCP connection (IPv6 routes the prober
        cannot reach at all do not count)."""
        skip = {id(v) for v in self.no_local_ipv6}
        out = []
        for mx in self.hosts_with_routes:
            hv = [v for v in self.host_views(mx) if id(v) not in skip]
            if hv and all(v.state is RouteState.NO_CONNECT for v in hv):
                out.append(mx)
        return tuple(out)

    def hosts(self, *kinds: MxTargetKind) -> tuple[MxHost, ...]:
        """MX hosts of the given target kinds."""
        return tuple(h for h in self.report.resolution.hosts if h.kind in kinds)

    @property
    def filtered_hosts(self) -> tuple[MxHost, ...]:
        """MX hosts with addresses, none of them in a probed family (``-4``/``-6``).

        They were not probed by the user's choice: nothing is known about them, and
        they are no fault of the domain's (the resolve stage asks A and AAAA whatever
        the filter, so such a host does have addresses). Rules that reason about "an
        MX without a working route" must leave them out.
        """
        probed = set(self.report.families)
        if not probed:
            return ()
        return tuple(
            h
            for h in self.report.resolution.hosts
            if h.kind in (MxTargetKind.HOSTNAME, MxTargetKind.CNAME)
            and h.addresses
            and not any(family_of(a) in probed for a in h.addresses)
        )

    def working_other_than(self, mxs: Iterable[str]) -> tuple[RouteView, ...]:
        """Working routes of MX hosts not in ``mxs``."""
        names = set(mxs)
        return tuple(v for v in self.ok_views if v.result.route.mx not in names)

    def persistence_of(self, rule_id: str) -> tuple[Persistence, str]:
        """Persistence of a rule's finding and why (history, nature, or unknown)."""
        if rule_id in self.persistence:
            return self.persistence[rule_id]
        if rule_id in _TRANSIENT_BY_NATURE:
            return (
                Persistence.TRANSIENT,
                "a DNS server failure (SERVFAIL, no answer) is transient by nature "
                "(RFC 3463 X.4.3: a persistent transient error)",
            )
        return (
            Persistence.UNKNOWN,
            "a single probe cannot tell whether this lasts; repeat the probe "
            "(smtpdiag watch) to see whether it persists",
        )


# EPERM / EACCES from connect(): this host's own firewall (e.g. an OUTPUT rule) refused
# to send the SYN; nothing left the machine.
_LOCAL_DENY_RE = re.compile(
    r"operation not permitted|permission denied|errno 1\b|errno 13\b|eperm|eacces", re.I
)


def local_deny(v: RouteView) -> bool:
    """The connect failed on the prober's own host (EPERM/EACCES: a local firewall)."""
    f = v.failure
    return (
        v.state is RouteState.NO_CONNECT
        and f is not None
        and f.outcome is Outcome.ERROR
        and bool(_LOCAL_DENY_RE.search(f.detail or ""))
    )


def silent_or_local(v: RouteView) -> bool:
    """The connect got no answer at all (timed out, or the deadline ended it) or was
    denied on the prober's own host: what an outbound port block looks like."""
    if v.state is not RouteState.NO_CONNECT:
        return False
    f = v.failure
    return f is None or f.outcome is Outcome.TIMEOUT or local_deny(v)


def family_of(address: str) -> AddressFamily | None:
    """The family of an IP address given as text, or ``None`` if it is not one."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    return AddressFamily.IPV6 if ip.version == 6 else AddressFamily.IPV4


def delivery_port_of(report: ProbeReport) -> int | None:
    """The port MTAs deliver on: 25 if probed, else the first probed port (tests use
    unprivileged ports); ``None`` when nothing says."""
    ports = report.ports
    port = 25 if 25 in ports else (ports[0] if ports else None)
    if port is None and report.routes:
        port = report.routes[0].route.port
    return port


def build_facts(
    report: ProbeReport,
    now: datetime,
    persistence: Mapping[str, tuple[Persistence, str]] | None = None,
    history_len: int = 0,
    recovered: Sequence[str] = (),
) -> Facts:
    """Classify every route and work out the port facts."""
    delivery_port = delivery_port_of(report)
    views = []
    for rr in report.routes:
        state, failure = classify(rr)
        views.append(RouteView(rr, state, failure, rr.route.port == delivery_port))
    delivery = [v for v in views if v.delivery]
    # RFC 5321 delivery is on 25; consumer ISPs and cloud providers commonly block
    # outbound 25, and they do it silently (the SYN is dropped, the connect times out)
    # for every destination, or the prober's own host firewall refuses to send (EPERM).
    # Only when every delivery-port route failed that way while another port of the
    # same destinations connects is the prober's own network the likelier cause. An
    # active refusal (RST, ICMP) comes from the destination or a firewall on its path.
    own_block = bool(
        delivery
        and all(silent_or_local(v) for v in delivery)
        and any(v.connected for v in views if not v.delivery)
    )
    return Facts(
        report=report,
        now=now,
        views=tuple(views),
        delivery_port=delivery_port,
        own_port_block=own_block,
        persistence=dict(persistence or {}),
        history_len=history_len,
        recovered=tuple(recovered),
    )


# --------------------------------------------------------------------- building blocks


def schedule_from(schedule: RetrySchedule, now: datetime) -> tuple[RetryAttempt, ...]:
    """Concrete retry instants counted from ``now``."""
    out = []
    offsets = schedule.offsets_s
    for i, (delay, offset) in enumerate(zip(schedule.delays_s, offsets, strict=True)):
        out.append(
            RetryAttempt(
                number=i + 1,
                after_previous_s=delay,
                offset_s=offset,
                at=iso(now + timedelta(seconds=offset)),
                final=i == len(offsets) - 1,
            )
        )
    return tuple(out)


def _k(code: str) -> CodeKnowledge:
    k = knowledge.get(code)
    if k is None:  # pragma: no cover - every code the rules use has knowledge
        raise KeyError(code)
    return k


def make_action(
    code: str,
    facts: Facts,
    *,
    deliverable_via: Sequence[RouteView] = (),
    fix: str | None = None,
    persistence: Persistence = Persistence.UNKNOWN,
) -> Action:
    """The code's action: retry on its schedule, or suppress; FIX when a route still works.

    ``deliverable_via`` are the working routes. Only those on the delivery port are
    where MTAs deliver (RFC 5321); working submission ports (587/465) are named as
    such, and they too rule out "suppress": a host that answers is not gone.
    """
    k = _k(code)
    mta = [v for v in deliverable_via if v.delivery]
    alt = [v for v in deliverable_via if not v.delivery]
    port = facts.delivery_port
    if k.action_kind is ActionKind.RETRY and k.retry is not None:
        summary = k.action_summary
        if mta:
            summary += f" Meanwhile mail is deliverable via {_routes_brief(mta)}."
        elif alt:
            summary += f" Only {_routes_brief(alt)} answers, but MTAs deliver on port {port} only."
        return Action(
            ActionKind.RETRY, summary, schedule_from(k.retry, facts.now), k.retry.after_schedule
        )
    what = fix or "the recipient's administrators should fix the failing route"
    if mta:
        return Action(
            ActionKind.FIX,
            f"Do not suppress: mail is still deliverable via {_routes_brief(mta)}; {what}.",
        )
    if alt:
        return Action(
            ActionKind.FIX,
            f"Do not suppress yet: {_routes_brief(alt)} still answers, though MTAs deliver "
            f"on port {port} only; {what}. Confirm it persists (smtpdiag watch) before "
            "suppressing.",
        )
    if facts.filtered_hosts:
        # An MX the family filter kept from being probed may still deliver: nothing
        # here justifies suppressing an address until it has been tested.
        names = ", ".join(h.name for h in facts.filtered_hosts)
        return Action(
            ActionKind.FIX,
            f"Do not suppress yet: {names} was not probed (-4/-6) and may deliver; probe "
            f"again without -4/-6 before deciding. {what[0].upper()}{what[1:]}.",
        )
    summary = k.action_summary
    if persistence is not Persistence.PERMANENT:
        summary += (
            " This probe alone does not show that the failure persists: confirm with "
            "repeated probes (smtpdiag watch) before suppressing."
        )
    return Action(ActionKind.SUPPRESS, summary)


def make_steps(code: str, done: Mapping[str, str]) -> tuple[Step, ...]:
    """The code's checklist; steps in ``done`` (slug -> result) are DONE, the rest HUMAN."""
    k = _k(code)
    out = []
    prefix = f"{code}/"
    for spec in k.all_steps:
        slug = spec.id.removeprefix(prefix)
        if slug in done:
            out.append(Step(spec.id, spec.text, StepStatus.DONE, done[slug]))
        else:
            out.append(Step(spec.id, spec.text, StepStatus.HUMAN))
    unknown = set(done) - {s.id.removeprefix(prefix) for s in k.all_steps}
    if unknown:  # pragma: no cover - a typo in a rule
        raise KeyError(f"unknown steps for {code}: {sorted(unknown)}")
    return tuple(out)


def _causes(code: str, slugs: Iterable[str]) -> tuple[str, ...]:
    k = _k(code)
    return tuple(k.cause(s).text for s in dict.fromkeys(slugs))


def _routes_brief(views: Sequence[RouteView], limit: int = 3) -> str:
    """``mx[addr]:25,587,465, mx2[addr2]:25``: routes grouped by address."""
    groups: dict[tuple[str, str], list[str]] = {}
    for v in views:
        rt = v.result.route
        ports = groups.setdefault((rt.mx, rt.address), [])
        if str(rt.port) not in ports:
            ports.append(str(rt.port))
    labels = [f"{mx}[{addr}]:{','.join(ports)}" for (mx, addr), ports in groups.items()]
    if len(labels) > limit:
        return ", ".join(labels[:limit]) + f" and {len(labels) - limit} more"
    return ", ".join(labels)


def _title(code: str) -> str:
    k = knowledge.get(code)
    if k is not None:
        return k.title
    sc = lookup(code)
    return sc.title if sc else code


def _severity(code: str) -> Severity:
    sc = lookup(code)
    return sc.severity if sc else Severity.INFO


def _neighbours(code: str) -> tuple[str, ...]:
    return tuple(n for n, _ in _k(code).neighbours)


def _ports_result(facts: Facts, views: Sequence[RouteView] | None = None) -> str:
    """Per-port result: ``25: refused on 2 routes; 587: works on 1 route``."""
    views = facts.views if views is None else views
    if len(facts.report.ports) < 2 and len({v.result.route.port for v in views}) < 2:
        return ""
    by_port: dict[int, list[RouteView]] = {}
    for v in views:
        by_port.setdefault(v.result.route.port, []).append(v)
    parts = []
    order = {p: i for i, p in enumerate(facts.report.ports)}
    for port in sorted(by_port, key=lambda p: (p != facts.delivery_port, order.get(p, p))):
        states: dict[str, int] = {}
        for v in by_port[port]:
            word = _state_word(v)
            states[word] = states.get(word, 0) + 1
        desc = ", ".join(
            f"{w} ({n} route{'s' if n != 1 else ''})" if len(by_port[port]) > 1 else w
            for w, n in states.items()
        )
        parts.append(f"{port}: {desc}")
    return "; ".join(parts)


def _in_probe_order(facts: Facts, ports: Iterable[int]) -> list[int]:
    order = {p: i for i, p in enumerate(facts.report.ports)}
    return sorted(set(ports), key=lambda p: (order.get(p, len(order)), p))


def _state_word(v: RouteView) -> str:
    f = v.failure
    if v.state is RouteState.OK:
        return "works"
    if f is None:
        return "incomplete"
    if f.phase is Phase.CONNECT:
        return _CONNECT_WORDS.get(f.outcome, f.outcome.value)
    if f.outcome is Outcome.REPLY and f.reply is not None:
        return f"{f.reply.code} to {f.phase.value}"
    return f"{f.outcome.value} in {f.phase.value}"


def _alt_ports_step(facts: Facts, views: Sequence[RouteView]) -> str | None:
    """Result of "try the other SMTP ports" for the addresses in ``views``."""
    addrs = {(v.result.route.mx, v.result.route.address) for v in views}
    related = [v for v in facts.views if (v.result.route.mx, v.result.route.address) in addrs]
    if len({v.result.route.port for v in related}) < 2:
        return None
    return _ports_result(facts, related)


def _tls_step(views: Sequence[RouteView]) -> str | None:
    """Result of "check TLS" from the routes that reached TLS; ``None`` if none did."""
    lines = []
    same: dict[str, list[RouteView]] = {}
    for v in views:
        rr, f = v.result, v.failure
        if f is not None and (f.phase in _TLS_PHASES or f.outcome is Outcome.TLS_FAILURE):
            lines.append(describe(v))
        elif rr.tls is not None and rr.tls.version:
            ver = "verified" if rr.tls.verified else f"not verified ({rr.tls.verify_error})"
            same.setdefault(f"{rr.tls.version} {rr.tls.cipher}, certificate {ver}", []).append(v)
    lines.extend(f"{_routes_brief(vs, 6)}: {text}" for text, vs in same.items())
    return _join(lines) if lines else None


def _ip_block_text(views: Sequence[RouteView]) -> str | None:
    for v in views:
        f = v.failure
        if f is not None and f.reply is not None and _IP_BLOCK_RE.search(f.reply.text):
            return f"{v.label} said: {fmt_reply(f.reply)}"
    return None


_IP_BLOCK_RE = re.compile(
    r"block|black ?list|listed|spamhaus|barracuda|\brbl\b|dnsbl|reputation|banned|"
    r"your ip|client host|access denied|not allowed to connect",
    re.I,
)
_RATE_RE = re.compile(
    r"too many (?:connections|concurrent|sessions)|connection (?:limit|rate)|rate.?limit|"
    r"too fast|throttl|slow down|4\.7\.28|concurrency",
    re.I,
)
_BUSY_RE = re.compile(r"\bbusy\b|overload|high load|resources|congest", re.I)
# Host names and addresses in a reply ("mx.busy.example") must not match cause words.
# ENETUNREACH: no route on the prober's side (vs EHOSTUNREACH, an ICMP from the path).
_NETUNREACH_RE = re.compile(r"network is unreachable|errno 101|enetunreach", re.I)
_DOTTED_RE = re.compile(r"\S+\.\S+")


def _without_names(text: str) -> str:
    return _DOTTED_RE.sub(" ", text)


_MAINT_RE = re.compile(r"maintenance|shutting down|restart|upgrade", re.I)
_NET_RE = re.compile(r"network|dns|lookup", re.I)


# --------------------------------------------------------------------- the rule type


@dataclass(frozen=True, slots=True)
class Rule:
    """One row of the rule table.

    Attributes:
        id: Stable identifier (appears in findings and JSON).
        code: The status code its findings carry, ``None`` for code-less observations.
        kind: Failure, feature or info (see :class:`RuleKind`).
        when: Predicate over the facts.
        build: Builds the finding (only called when ``when`` holds).
        observes: What observations lead to it, in words (for the rule table).
    """

    id: str
    code: str | None
    kind: RuleKind
    when: Callable[[Facts], bool]
    build: Callable[[Facts], Finding]
    observes: str


def _finding(
    facts: Facts,
    rule_id: str,
    code: str | None,
    summary: str,
    evidence: Sequence[Evidence],
    *,
    causes: Sequence[str] = (),
    steps: Sequence[Step] = (),
    action: Action | None = None,
    neighbours: Sequence[str] = (),
    title: str | None = None,
    severity: Severity | None = None,
    kind: RuleKind = RuleKind.FAILURE,
) -> Finding:
    persistence, why = facts.persistence_of(rule_id)
    if kind is not RuleKind.FAILURE:
        persistence, why = (Persistence.UNKNOWN, "")
    ev = list(evidence)
    sev = severity or (_severity(code) if code else Severity.INFO)
    if kind is RuleKind.FAILURE and sev is Severity.HARD and facts.delivery_ok:
        # MTAs fall back to the next address or MX (RFC 5321 5.1, 5.4.4) and deliver on
        # the route that works: this failure bounces nothing (Severity.INFO: no bounce
        # implied), and its title must not promise a permanent one.
        sev = Severity.INFO
        if title is None and code:
            title = _title(code).replace(" (permanent)", "")
    if kind is RuleKind.FAILURE and (facts.history_len or sev is Severity.HARD):
        ev.append(Evidence(note=f"persistence: {why}"))
    return Finding(
        rule=rule_id,
        code=code,
        title=title or (_title(code) if code else rule_id),
        severity=sev,
        summary=summary,
        evidence=_cap(ev),
        causes=tuple(causes),
        steps=tuple(steps),
        action=action or Action(ActionKind.NONE, ""),
        neighbours=tuple(neighbours),
        persistence=persistence,
    )


# =====================================================================================
# DNS-level rules
# =====================================================================================


def _q_evidence(q: DnsQuery, note: str | None = None) -> Evidence:
    return Evidence(
        mx=None,
        phase=f"dns {q.rdtype} {q.name}",
        outcome=q.outcome.value,
        error=q.detail,
        duration_ms=q.duration_ms,
        note=note or (f"nameserver {q.nameserver}" if q.nameserver else "no nameserver answered"),
    )


def _null_mx(f: Facts) -> Finding:
    domain = f.report.resolution.domain
    return _finding(
        f,
        "null-mx",
        "5.1.10",
        f"{domain} publishes a null MX ('0 .', RFC 7505): it accepts no mail; every "
        "address at it bounces with 5.1.10.",
        [_q_evidence(f.report.resolution.mx_query, "answer '0 .' (RFC 7505 section 3)")],
        action=Action(
            ActionKind.SUPPRESS,
            "The domain accepts no mail: never retry, suppress every address at "
            f"{domain} (RFC 7505).",
        ),
    )


def _dns_failed(f: Facts) -> Finding:
    q = f.report.resolution.mx_query
    domain = f.report.resolution.domain
    failing = [x for x in f.report.resolution.queries if x.outcome is not DnsOutcome.OK] or [q]
    return _finding(
        f,
        "dns-failed",
        "4.4.3",
        f"The MX lookup for {domain} failed ({q.outcome.value}): a transient DNS "
        "(directory server) failure, not a hard bounce. Retry; nothing is known about "
        "the mail servers yet.",
        [_q_evidence(x) for x in failing],
        action=make_action("4.4.3", f),
        neighbours=("5.4.3",),
    )


def _no_route(f: Facts) -> Finding:
    res = f.report.resolution
    q = res.mx_query
    why = (
        "the domain does not exist (NXDOMAIN)"
        if q.outcome is DnsOutcome.NXDOMAIN
        else "it has no MX record and no address record (no implicit MX, RFC 5321 5.1)"
    )
    return _finding(
        f,
        "no-route",
        "5.4.4",
        f"No mail route to {res.domain}: {why}. MTAs bounce this as 5.4.4 (unable to "
        "route); the seed's 5.4.3 cause 'DNS records point at servers that no longer "
        "exist' is the nearest seed explanation.",
        [_q_evidence(x) for x in res.queries],
        action=make_action("5.4.4", f),
        neighbours=("5.1.2", "5.4.3"),
    )


# =====================================================================================
# Route-level rules
# =====================================================================================


def _own_block(f: Facts) -> Finding:
    port = f.delivery_port
    domain = f.report.resolution.domain
    blocked = [v for v in f.views if v.delivery]
    answering = [v for v in f.views if not v.delivery and v.connected]
    alt_ports = _in_probe_order(f, (v.result.route.port for v in answering))
    local = [v for v in blocked if local_deny(v)]
    if local:
        how = (
            f"{plural(len(local), 'connect')} to port {port} failed on this machine itself "
            "('operation not permitted': a local firewall refused to send the SYN)"
        )
        if len(local) < len(blocked):
            how += f", the other {plural(len(blocked) - len(local), 'route')} timed out"
        favoured = f"your own host or network blocks outbound port {port}"
        if len(local) == len(blocked):
            favoured += f"; this says nothing about {domain}"
        else:
            favoured += f"; less likely, {domain}'s firewall drops it"
    else:
        how = (
            f"port {port} timed out on every MX address ({plural(len(blocked), 'route')}, "
            "no answer to the SYN)"
        )
        favoured = (
            f"most likely your own network blocks outbound port {port} (ISPs and clouds "
            f"drop it silently, for every destination); less likely, {domain}'s firewall "
            "drops it"
        )
    done = {
        "test-connection": _join(describe(v) for v in blocked + answering),
        "alternative-ports": _ports_result(f),
    }
    return _finding(
        f,
        "own-port-blocked",
        None,
        f"{_cap1(how)}, while {_ports_word(alt_ports)} of the same addresses connect: "
        f"{favoured}. Confirm by probing another domain's port {port} from here.",
        [_evidence(v) for v in blocked + answering],
        steps=make_steps("5.4.2", done),
        action=Action(
            ActionKind.FIX,
            f"Check the network this probe ran from: probe another domain's MX on port {port} "
            f"(smtpdiag probe <domain> --ports {port}). If that times out too, allow outbound "
            f"TCP {port} or probe from a host that may send mail, then probe {domain} again. "
            f"If it connects, {domain} drops port {port} itself (5.4.2 'port permanently "
            f"blocked' candidate): MTAs deliver on {port} only, so its administrators must "
            "open it.",
        ),
        title=f"Outbound port {port} blocked on the prober's network (suspected)",
        severity=Severity.INFO,
        kind=RuleKind.FEATURE,
    )


def _connect_steps_542(f: Facts, views: Sequence[RouteView]) -> dict[str, str]:
    done: dict[str, str] = {"test-connection": _join(describe(v) for v in views)}
    alt = _alt_ports_step(f, views)
    if alt:
        done["alternative-ports"] = alt
    tls = _tls_step(views)
    if tls:
        done["check-tls"] = tls
    block = _ip_block_text(views)
    if block:
        done["check-ip-block"] = block
    return done


def _all_unreachable(f: Facts) -> Finding:
    views = list(f.views)
    hosts = f.hosts_with_routes
    return _finding(
        f,
        "all-mx-unreachable",
        "5.4.3",
        f"Every MX of {f.report.resolution.domain} ({', '.join(hosts)}) is unreachable "
        "on every address and port while DNS answers: the MX records point at servers "
        "that cannot be reached (routing server failure). Nothing connected at all, so "
        "MTAs report this as 4.4.1 until they give up." + _filtered_note(f),
        [_evidence(v) for v in views],
        causes=_causes("5.4.3", ["mx-records", "server-shut-down", "infrastructure"]),
        steps=make_steps("5.4.3", _steps_543(f, hosts, views)),
        action=make_action("5.4.3", f, persistence=f.persistence_of("all-mx-unreachable")[0]),
        neighbours=_neighbours("5.4.3"),
    )


def _all_refused(f: Facts) -> Finding:
    views = list(f.views)
    refused = [v for v in views if v.failure and v.failure.outcome is Outcome.REFUSED]
    dropped = [v for v in views if v.failure and v.failure.outcome is Outcome.TIMEOUT]
    causes = ["port-blocked", "firewall-rules"]
    if refused:
        causes.append("connection-policy")
    if len(views) != len(refused) + len(dropped):
        causes.append("network-path")  # some were unreachable: no route to the host
    how = []
    if refused:
        how.append(f"{len(refused)} refused (TCP RST: the host answers but rejects the port)")
    if dropped:
        how.append(f"{len(dropped)} timed out (SYN silently dropped: a firewall DROP)")
    other = len(views) - len(refused) - len(dropped)
    if other:
        how.append(f"{other} unreachable or failed")
    return _finding(
        f,
        "all-routes-refused",
        "5.4.2",
        f"No address of any MX of {f.report.resolution.domain} accepts a TCP connection "
        f"on any probed port ({'; '.join(how)}): a 5.4.2 bad-connection candidate. "
        "Permanent only if it persists."
        + (
            " If other domains time out from here too, suspect your own network's "
            "outbound filter instead."
            if dropped and len(dropped) == len(views)
            else ""
        )
        + _filtered_note(f),
        [_evidence(v) for v in views],
        causes=_causes("5.4.2", causes),
        steps=make_steps("5.4.2", _connect_steps_542(f, views)),
        action=make_action("5.4.2", f, persistence=f.persistence_of("all-routes-refused")[0]),
        neighbours=("4.4.1",),
    )


def _deferred(f: Facts) -> Finding:
    views = list(f.failed_in(RouteState.DEFERRED))
    texts = _without_names(
        " ".join(v.failure.reply.text for v in views if v.failure and v.failure.reply)
    )
    slugs = []
    if _MAINT_RE.search(texts):
        slugs.append("maintenance")
    if _RATE_RE.search(texts) or _BUSY_RE.search(texts):
        slugs.append("overload")
    if _NET_RE.search(texts):
        slugs.append("network-problems")
    stated = bool(slugs)
    if not slugs:
        slugs = ["maintenance", "network-problems", "overload"]
    rate = _RATE_RE.search(texts)
    working = f.ok_views
    servers = sorted({v.result.route.mx for v in views})
    identify = f"not accepting: {_routes_brief(views, 6)}"
    if working:
        identify += f"; accepting: {_routes_brief(working, 6)}"
    done = {
        "identify-servers": identify,
        "respect-rate-limits": (
            f"the reply names a connection/rate limit ({rate.group(0)!r}): lower the "
            "number of parallel connections and stagger retries"
            if rate
            else "the reply does not mention a connection or rate limit"
        ),
    }
    if f.history_len:
        done["track-metrics"] = f.persistence_of("greeting-deferred")[1]
    replies = sorted({fmt_reply(v.failure.reply) or "" for v in views if v.failure})
    own_codes = sorted(
        {
            v.failure.reply.enhanced
            for v in views
            if v.failure and v.failure.reply and v.failure.reply.enhanced
        }
        - {"4.3.2"}
    )
    # One reply quoted (they usually differ only in the client address they echo); the
    # evidence has every one.
    shown = [r for r in replies if r]
    quoted = (shown[0][:200] if shown else "a deferral") + (
        f" (and {plural(len(shown) - 1, 'other reply', 'other replies')})" if len(shown) > 1 else ""
    )
    summary = (
        f"{', '.join(servers)} answered {quoted}: the "
        "server is up but temporarily not accepting messages (4.3.2, soft bounce)"
    )
    if own_codes:
        summary += f"; the server itself said {', '.join(own_codes)}"
    if not stated:
        summary += (
            "; the reply does not say why (the seed names maintenance, network problems, overload)"
        )
    return _finding(
        f,
        "greeting-deferred",
        "4.3.2",
        summary + ".",
        [_evidence(v) for v in views],
        causes=_causes("4.3.2", slugs),
        steps=make_steps("4.3.2", done),
        action=make_action("4.3.2", f, deliverable_via=working),
        neighbours=tuple(own_codes),
    )


def _tls_kind_text(v: RouteView) -> str:
    f = v.failure
    rr = v.result
    verify = rr.tls.verify_error if rr.tls else None
    if f is not None and f.outcome is Outcome.REPLY:
        return f"STARTTLS refused with {fmt_reply(f.reply)}"
    kind = _tls_mismatch_kind(f.detail if f else None, verify)
    if kind == "version":
        if f and f.detail and "wrong version number" in f.detail.lower():
            return "the server does not speak TLS where TLS is expected (wrong version number)"
        return "no TLS protocol version in common"
    if kind == "cipher":
        return "no cipher suite in common"
    return f"certificate fails verification ({verify or (f.detail if f else None) or 'unknown'})"


def _tls_mismatch(f: Facts) -> Finding:
    views = list(f.failed_in(RouteState.TLS_MISMATCH))
    working = f.working_other_than(())
    ev = []
    certs: dict[str, str] = {}
    for v in views:
        ev.append(_evidence(v, _tls_kind_text(v)))
        cert = v.result.tls.certificate if v.result.tls else None
        if cert is not None:
            certs.setdefault(cert.sha256, _cert_facts(cert) or "")
    ev.extend(Evidence(note=text) for text in certs.values())
    reasons = sorted({_tls_kind_text(v) for v in views})
    done = {
        "test-connection": _join(describe(v) for v in views),
        "check-tls": _join(f"{v.label}: {_tls_kind_text(v)}" for v in views),
    }
    alt = _alt_ports_step(f, views)
    if alt:
        done["alternative-ports"] = alt
    causes = ["tls-mismatch"]
    if any("wrong version number" in (v.failure.detail or "").lower() for v in views if v.failure):
        causes.append("server-configuration")
    return _finding(
        f,
        "tls-mismatch",
        "5.4.2",
        f"TLS configuration mismatch on {_routes_brief(views)}: {'; '.join(reasons)}. "
        "Senders that require TLS fail permanently here (5.4.2).",
        ev,
        causes=_causes("5.4.2", causes),
        steps=make_steps("5.4.2", done),
        action=make_action(
            "5.4.2",
            f,
            deliverable_via=working,
            fix="the recipient's administrators should fix the TLS configuration",
            persistence=f.persistence_of("tls-mismatch")[0],
        ),
    )


def _drop_causes(v: RouteView) -> list[str]:
    f = v.failure
    if f is None:
        return ["connection-dropped"]
    tls_phase = f.phase in _TLS_PHASES or (
        v.result.route.tls_mode is TlsMode.IMPLICIT and f.phase is Phase.TLS_HANDSHAKE
    )
    if f.outcome is Outcome.TIMEOUT:
        if f.phase is Phase.TLS_HANDSHAKE:
            # Small packets pass (TCP handshake, greeting), the large certificate
            # flight vanishes: the seed's MTU symptom.
            return ["tls-problems", "handshake-timeout", "mtu"]
        if tls_phase:
            return ["tls-problems", "handshake-timeout"]
        return ["handshake-timeout", "server-overloaded"]
    if f.outcome in (Outcome.CLOSED, Outcome.RESET):
        if tls_phase:
            return ["tls-problems", "connection-dropped"]
        if f.phase is Phase.GREETING:
            return ["connection-dropped", "connection-limit", "server-overloaded", "firewall"]
        return ["connection-dropped", "firewall", "proxy"]
    if f.outcome in (Outcome.TLS_FAILURE, Outcome.REPLY, Outcome.ERROR):
        return ["tls-problems"]
    return ["connection-dropped", "network-instability"]


def _dropped(f: Facts) -> Finding:
    views = list(f.failed_in(RouteState.DROPPED))
    working = f.ok_views
    slugs: list[str] = []
    for v in views:
        slugs.extend(_drop_causes(v))
    hosts = sorted({v.result.route.mx for v in views})
    total = len(f.views)
    pattern = f"fails on {len(views)} of {total} routes (hosts: {', '.join(hosts)})"
    if working:
        pattern += f"; works on {_routes_brief(working)}"
    done = {
        "log-failure": _join(describe(v) for v in views),
        "timeouts": _join(
            f"{v.failure.phase.value} on {v.label} ended after {fmt_ms(v.failure.duration_ms)}"
            for v in views
            if v.failure
        ),
        "patterns": pattern,
    }
    tls = _tls_step(views) or _tls_step(list(f.ok_views))
    if tls:
        done["check-tls"] = tls
    alt = _alt_ports_step(f, views)
    if alt:
        done["alternative-ports"] = alt
    phases = sorted({v.failure.phase.value for v in views if v.failure})
    return _finding(
        f,
        "connection-dropped",
        "4.4.2",
        f"Connected to {_routes_brief(views)}, then the session failed during "
        f"{', '.join(phases)} before a message could be sent: connection failure "
        "(4.4.2, soft bounce).",
        [_evidence(v) for v in views],
        causes=_causes("4.4.2", slugs),
        steps=make_steps("4.4.2", done),
        action=make_action("4.4.2", f, deliverable_via=working),
        neighbours=_neighbours("4.4.2"),
    )


def _rejected(f: Facts) -> Finding:
    views = list(f.failed_in(RouteState.REJECTED))
    slugs: list[str] = []
    lines = []
    for v in views:
        fr = v.failure
        if fr is None or fr.outcome is Outcome.ERROR or fr.reply is None:
            slugs.append("protocol-incompatibility")
            lines.append(f"{v.label} does not speak SMTP as expected")
        elif fr.phase is Phase.GREETING:
            slugs.append("connection-policy")
            if _IP_BLOCK_RE.search(fr.reply.text):
                slugs.append("ip-blocked")
            lines.append(f"{v.label} refuses sessions: {fmt_reply(fr.reply)}")
        else:
            slugs.append("protocol-incompatibility")
            slugs.append("server-configuration")
            lines.append(f"{v.label} rejects {fr.phase.value}: {fmt_reply(fr.reply)}")
    working = f.ok_views
    own_codes = sorted(
        {
            v.failure.reply.enhanced
            for v in views
            if v.failure and v.failure.reply and v.failure.reply.enhanced
        }
        - {"5.4.2"}
    )
    return _finding(
        f,
        "server-rejected",
        "5.4.2",
        f"{'; '.join(lines[:4])}: the server refuses the connection permanently "
        "(5.4.2 candidate: bad connection by policy or protocol).",
        [_evidence(v) for v in views],
        causes=_causes("5.4.2", slugs),
        steps=make_steps("5.4.2", _connect_steps_542(f, views)),
        action=make_action(
            "5.4.2", f, deliverable_via=working, persistence=f.persistence_of("server-rejected")[0]
        ),
        neighbours=tuple(own_codes),
    )


def _partial_no_connect(f: Facts) -> tuple[RouteView, ...]:
    if f.own_port_block:
        return ()
    down = set(f.down_hosts)
    return tuple(v for v in f.failed_in(RouteState.NO_CONNECT) if v.result.route.mx not in down)


def _cap1(text: str) -> str:
    """First letter upper case, the rest untouched (host names keep their case)."""
    return text[:1].upper() + text[1:]


def _ports_word(ports: Sequence[int]) -> str:
    """``port 25`` / ``ports 587, 465``."""
    return f"port{'' if len(ports) == 1 else 's'} {', '.join(map(str, ports))}"


def _refusal_words(views: Sequence[RouteView]) -> str:
    """How the connects were turned away: ``refused (TCP RST or ICMP port unreachable)``."""
    outcomes = {v.failure.outcome for v in views if v.failure is not None}
    words = []
    if Outcome.REFUSED in outcomes:
        words.append("refused (TCP RST or ICMP port unreachable)")
    if Outcome.UNREACHABLE in outcomes:
        words.append("rejected with an ICMP unreachable")
    if Outcome.TIMEOUT in outcomes:
        words.append("timed out")
    if outcomes - {Outcome.REFUSED, Outcome.UNREACHABLE, Outcome.TIMEOUT}:
        words.append("failed")
    return " or ".join(words) or "failed"


def _port_blocked(f: Facts) -> Finding:
    views = list(_partial_no_connect(f))
    answering = []
    for v in views:
        same = [
            o
            for o in f.views
            if o.result.route.address == v.result.route.address
            and o.result.route.mx == v.result.route.mx
            and o.connected
        ]
        answering.extend(same)
    alt_ports = _in_probe_order(f, (o.result.route.port for o in answering))
    working_alt = _in_probe_order(
        f, (o.result.route.port for o in answering if o.state is RouteState.OK)
    )
    blocked_ports = _in_probe_order(f, (v.result.route.port for v in views))
    slugs = ["port-blocked", "firewall-rules"]
    if not answering:
        slugs.append("network-path")
    delivery = [v for v in f.views if v.delivery]
    mta_ok = f.delivery_ok
    port = f.delivery_port
    everywhere = bool(delivery) and all(v.state is RouteState.NO_CONNECT for v in delivery)
    severity: Severity | None = None if not mta_ok else Severity.INFO
    if everywhere and alt_ports:
        # Every MX address turns the delivery port away actively while another port of
        # the same addresses answers: the host is up, the destination (or a firewall on
        # its path) refuses the delivery port. An outbound block on the prober's side
        # would time out silently instead (see own-port-blocked).
        worked = (
            f"{_ports_word(working_alt)} on the same addresses "
            f"{'works' if len(working_alt) == 1 else 'work'}"
            if working_alt
            else f"{_ports_word(alt_ports)} on the same addresses connect but fail later "
            "(see the other findings)"
        )
        summary = (
            f"Port {port} is {_refusal_words(delivery)} on every MX address "
            f"({plural(len(delivery), 'route')}), while {worked}: the destination, or a "
            f"firewall on its path, refuses port {port} (an outbound block on your side would "
            f"more likely time out). MTAs deliver on port {port} only (RFC 5321): they retry "
            "(4.4.1) and bounce if it persists."
        )
        alt_text = (
            f" {_cap1(_ports_word(working_alt))} answer (seed step 'try the other "
            "ports'), usually for authenticated submission only."
            if working_alt
            else ""
        )
        action = Action(
            ActionKind.FIX,
            f"The recipient's administrators should open port {port} to the MX. Do not "
            "suppress on one probe: confirm it persists (smtpdiag watch) first; suppress only "
            f"when it does.{alt_text}",
        )
    elif alt_ports:
        advice = (
            f"try the alternative {_ports_word(working_alt)} (seed step 'try the other ports')"
            if working_alt
            else "but they fail as well (see the other findings)"
        )
        summary = (
            f"{_cap1(_ports_word(blocked_ports))} {_refusal_words(views)} on "
            f"{_routes_brief(views)}, but {_ports_word(alt_ports)} of the same address "
            f"answer: {advice}."
        )
        action = None
    else:
        summary = (
            f"{_routes_brief(views)} {'accepts' if len(views) == 1 else 'accept'} no "
            "connection while other addresses of the same MX do: an address-specific "
            "network path or firewall problem."
        )
        action = None
    if mta_ok and not everywhere:
        summary += (
            f" MTAs move on to the next address or MX (RFC 5321 5.4.4) and deliver via "
            f"{_routes_brief(f.delivery_ok_views)}: no bounce."
        )
    return _finding(
        f,
        "port-blocked",
        "5.4.2",
        summary,
        [_evidence(v) for v in views]
        + ([_evidence(o) for o in dict.fromkeys(answering)] if everywhere else []),
        causes=_causes("5.4.2", slugs),
        steps=make_steps("5.4.2", _connect_steps_542(f, views)),
        action=action
        or make_action(
            "5.4.2",
            f,
            deliverable_via=f.ok_views,
            fix="the recipient's administrators should open the blocked port or address",
            persistence=f.persistence_of("port-blocked")[0],
        ),
        neighbours=("4.4.1",),
        severity=severity,
        title=(
            "Bad connection: port or address refused"
            if mta_ok
            else f"Bad connection: port {port} refused"
            if everywhere and alt_ports
            else None
        ),
    )


# =====================================================================================
# MX-level rules
# =====================================================================================


_FAMILY_WORD = {AddressFamily.IPV4: "IPv4", AddressFamily.IPV6: "IPv6"}
_FAMILY_FLAG = {AddressFamily.IPV4: "-4", AddressFamily.IPV6: "-6"}
_FAMILY_RDTYPE = {AddressFamily.IPV4: "A", AddressFamily.IPV6: "AAAA"}


def _filter_reason(f: Facts, h: MxHost) -> str:
    """Why a host of :attr:`Facts.filtered_hosts` was not probed, e.g. "only IPv6
    addresses, and -4 was given"."""
    have = [
        fam
        for fam in (AddressFamily.IPV4, AddressFamily.IPV6)
        if any(family_of(a) is fam for a in h.addresses)
    ]
    probed = list(dict.fromkeys(f.report.families))
    flag = _FAMILY_FLAG[probed[0]] if len(probed) == 1 else "the family filter"
    text = f"only {' and '.join(_FAMILY_WORD[x] for x in have)} addresses, and {flag} was given"
    # A failed lookup of the probed family is no proof the host lacks such addresses.
    failed = sorted(
        {
            f"{q.rdtype} lookup {q.outcome.value}"
            for q in h.queries
            if q.rdtype in {_FAMILY_RDTYPE[p] for p in probed}
            and q.outcome not in (DnsOutcome.OK, DnsOutcome.NXDOMAIN, DnsOutcome.NODATA)
        }
    )
    if failed:
        text += f" ({', '.join(failed)})"
    return text


def _filtered_note(f: Facts) -> str:
    """A sentence naming the MX hosts the family filter kept from being probed."""
    hosts = f.filtered_hosts
    if not hosts:
        return ""
    them = "it" if len(hosts) == 1 else "them"
    return (
        " Not probed: "
        + "; ".join(f"{h.name} ({_filter_reason(f, h)})" for h in hosts)
        + f", so this says nothing about {them}."
    )


def _host_line(h: MxHost, f: Facts | None = None) -> str:
    if f is not None and h in f.filtered_hosts:
        return (
            f"{h.preference} {h.name}: {', '.join(h.addresses)}, not probed: {_filter_reason(f, h)}"
        )
    if h.kind is MxTargetKind.NO_ADDRESS:
        outs = sorted({q.outcome.value for q in h.queries if q.rdtype in ("A", "AAAA")})
        return f"{h.preference} {h.name}: no address ({'/'.join(outs) or 'no records'})"
    if h.kind is MxTargetKind.IP_LITERAL:
        return f"{h.preference} {h.name}: an IP literal, not a host name"
    if h.kind is MxTargetKind.CNAME:
        return f"{h.preference} {h.name}: an alias (CNAME) -> {', '.join(h.addresses) or '?'}"
    if h.kind is MxTargetKind.LOOKUP_FAILED:
        outs = sorted({q.outcome.value for q in h.queries if q.outcome is not DnsOutcome.OK})
        return f"{h.preference} {h.name}: address lookup failed ({'/'.join(outs)})"
    return f"{h.preference} {h.name}: {', '.join(h.addresses) or 'no address in probed families'}"


def _steps_543(
    f: Facts, failed_hosts: Sequence[str], failed_views: Sequence[RouteView]
) -> dict[str, str]:
    res = f.report.resolution
    mx_lines = [_host_line(h, f) for h in res.hosts]
    working = f.working_other_than(failed_hosts)
    alternatives = (
        f"working route{'' if len(working) == 1 else 's'}: {_routes_brief(working, 6)}"
        if working
        else "no MX gives a working route"
    )
    per_mx = []
    for h in res.hosts:
        hv = f.host_views(h.name)
        if not hv and h in f.filtered_hosts:
            per_mx.append(f"{h.name}: not probed: {_filter_reason(f, h)}")
        elif not hv:
            per_mx.append(f"{h.name}: not probed ({h.kind.value})")
        else:
            good = sum(1 for v in hv if v.state is RouteState.OK)
            verb = "works" if len(hv) == 1 else "work"
            per_mx.append(f"{h.name}: {good} of {plural(len(hv), 'route')} {verb}")
    failed_desc = ", ".join(failed_hosts) or "none"
    return {
        "check-mx": _join(mx_lines),
        "domain-status": (
            f"{res.domain} exists and publishes {plural(len(res.hosts), 'MX record')} "
            f"(MX query {res.mx_query.outcome.value})"
        ),
        "document-pattern": (
            f"the failure is in {res.domain}'s MX routing, so every address at "
            f"{res.domain} is affected"
        ),
        "alternative-routes": alternatives,
        "mx-preferences": _join(f"{h.preference} {h.name} (rank {h.rank})" for h in res.hosts),
        "mx-valid": _join(mx_lines),
        "mx-connectivity": _join(per_mx),
        "mx-identify-failed": failed_desc
        + (f" ({_join(describe(v) for v in failed_views[:4])})" if failed_views else ""),
        "path-failed-server": failed_desc,
        "path-alternatives": alternatives,
    }


def _mx_no_address(f: Facts) -> Finding:
    bad = f.hosts(MxTargetKind.NO_ADDRESS, MxTargetKind.IP_LITERAL)
    names = [h.name for h in bad]
    working = f.working_other_than(names)
    ev = []
    for h in bad:
        if h.kind is MxTargetKind.IP_LITERAL:
            ev.append(
                Evidence(
                    mx=h.name,
                    phase="dns MX target",
                    outcome=h.kind.value,
                    note="RFC 5321 5.1 / RFC 7505: an MX target must be a host name; "
                    "MTAs look the literal up as a name and fail",
                )
            )
        for q in h.queries:
            if q.outcome is not DnsOutcome.OK:
                ev.append(_q_evidence(q, f"MX target {h.name} (preference {h.preference})"))
    slugs = ["dns-invalid", "mx-records"]
    if any(h.kind is MxTargetKind.IP_LITERAL for h in bad):
        slugs.append("configuration")
    delivering = [v for v in f.delivery_ok_views if v.result.route.mx not in names]
    another = f"; another MX works: {_routes_brief(working)}" if working else "; no other MX works"
    if delivering:
        another += ", so MTAs skip the broken MX and deliver (no bounce)"
    elif f.filtered_hosts:
        another = (
            f"; no other probed MX works ({', '.join(h.name for h in f.filtered_hosts)} "
            "not probed: -4/-6)"
        )
    parts = []
    missing = [h.name for h in bad if h.kind is MxTargetKind.NO_ADDRESS]
    literal = [h.name for h in bad if h.kind is MxTargetKind.IP_LITERAL]
    if missing:
        parts.append(
            f"MX target{'' if len(missing) == 1 else 's'} {', '.join(missing)} "
            f"{'has' if len(missing) == 1 else 'have'} no address: the MX record points at a "
            "server that does not exist"
        )
    if literal:
        parts.append(
            f"MX target{'' if len(literal) == 1 else 's'} {', '.join(literal)} "
            f"{'is an IP address' if len(literal) == 1 else 'are IP addresses'}, not a host "
            "name (RFC 5321 5.1): MTAs look it up as a name and find nothing"
        )
    return _finding(
        f,
        "mx-no-address",
        "5.4.3",
        f"{'; '.join(parts)} (5.4.3; Postfix reports 5.4.4){another}.",
        ev,
        causes=_causes("5.4.3", slugs),
        steps=make_steps("5.4.3", _steps_543(f, names, ())),
        action=make_action(
            "5.4.3",
            f,
            deliverable_via=working,
            fix="the domain's administrators should remove or fix the broken MX record",
            persistence=f.persistence_of("mx-no-address")[0],
        ),
        neighbours=("5.4.4", "4.4.1"),
        # MTAs skip an MX target without an address when another MX answers: no bounce.
        severity=Severity.INFO if delivering else None,
        title="MX record points at no server" if delivering else None,
    )


def _mx_cname(f: Facts) -> Finding:
    bad = f.hosts(MxTargetKind.CNAME)
    names = [h.name for h in bad]
    views = [v for v in f.views if v.result.route.mx in names]
    ok = [v for v in views if v.state is RouteState.OK]
    return _finding(
        f,
        "mx-cname",
        "5.4.3",
        f"MX target{'' if len(names) == 1 else 's'} {', '.join(names)} "
        f"{'is an alias' if len(names) == 1 else 'are aliases'} (CNAME), which RFC 5321 5.1 and "
        "RFC 2181 10.3 forbid. Most MTAs follow the alias"
        + (f" (it works: {_routes_brief(ok)})" if ok else "")
        + "; strict ones fail with a routing error (5.4.3/5.4.4).",
        [
            Evidence(
                mx=h.name,
                phase="dns MX target",
                outcome=h.kind.value,
                note=_host_line(h),
            )
            for h in bad
        ],
        causes=_causes("5.4.3", ["configuration", "mx-records"]),
        steps=make_steps("5.4.3", _steps_543(f, names, ())),
        action=Action(
            ActionKind.FIX,
            "The domain's administrators should point the MX record at the canonical "
            "host name instead of an alias.",
        ),
        neighbours=("5.4.4",),
        kind=RuleKind.FEATURE,
    )


def _mx_lookup_failed(f: Facts) -> Finding:
    bad = f.hosts(MxTargetKind.LOOKUP_FAILED)
    names = [h.name for h in bad]
    working = f.working_other_than(names)
    ev = [
        _q_evidence(q, f"MX target {h.name}")
        for h in bad
        for q in h.queries
        if q.outcome is not DnsOutcome.OK
    ]
    return _finding(
        f,
        "mx-lookup-failed",
        "4.4.3",
        f"The address lookup of MX target{'' if len(names) == 1 else 's'} "
        f"{', '.join(names)} failed (SERVFAIL or no "
        "answer): a transient DNS failure (4.4.3), not a hard bounce"
        + (f"; meanwhile {_routes_brief(working)} works." if working else "."),
        ev,
        action=make_action("4.4.3", f, deliverable_via=working),
        neighbours=("5.4.3",),
    )


def _mx_down(f: Facts) -> Finding:
    down = list(f.down_hosts)
    views = [v for v in f.views if v.result.route.mx in down]
    working = [v for v in f.delivery_ok_views if v.result.route.mx not in down]
    unreachable_only = all(
        v.failure is not None and v.failure.outcome is Outcome.UNREACHABLE for v in views
    )
    slugs = ["mx-records", "server-shut-down"] + (["infrastructure"] if unreachable_only else [])
    hosts = f"MX host{'' if len(down) == 1 else 's'} {', '.join(down)}"
    how = ", ".join(dict.fromkeys(_state_word(v) for v in views))
    verb = "accepts" if len(down) == 1 else "accept"
    if working:
        # MTAs skip an MX that does not answer and try the next (RFC 5321 5.1), so a
        # sender sees no bounce: the code is the class of the problem, not a bounce.
        summary = (
            f"{hosts} {verb} no connection on any address or port ({how}): an MX record "
            f"pointing at an unavailable server. Another MX delivers "
            f"({', '.join(dict.fromkeys(v.result.route.mx for v in working))}), so MTAs skip "
            "this one: no bounce now. Senders would see 5.4.3 only if every MX failed for "
            "good (4.4.1 while they retry)."
        )
    else:
        summary = (
            f"{hosts} {verb} no connection on any address or port ({how}): an MX record "
            "pointing at an unavailable server; no other MX gives a working route."
            + _filtered_note(f)
        )
    return _finding(
        f,
        "mx-down",
        "5.4.3",
        summary,
        [_evidence(v) for v in views],
        causes=_causes("5.4.3", slugs),
        steps=make_steps("5.4.3", _steps_543(f, down, views)),
        action=make_action(
            "5.4.3",
            f,
            deliverable_via=working,
            fix="the domain's administrators should repair or remove the dead MX",
            persistence=f.persistence_of("mx-down")[0],
        ),
        neighbours=("4.4.1", "5.4.4"),
        severity=Severity.INFO if working else None,
        title="MX host down (routing server failure)" if working else None,
    )


def _primary_down(f: Facts) -> Finding:
    primaries = [h.name for h in _primaries(f)]
    rank1 = [v for v in f.views if v.delivery and v.result.route.rank == 1]
    working = [v for v in f.delivery_ok_views if v.result.route.rank > 1]
    secondaries = list(dict.fromkeys(v.result.route.mx for v in working))
    if rank1:
        how = ", ".join(dict.fromkeys(_state_word(v) for v in rank1))
        what = f"fails on port {f.delivery_port} ({how})"
    else:
        what = "has no usable address"
    return _finding(
        f,
        "primary-down-secondary-ok",
        None,
        f"The primary MX ({', '.join(primaries)}) {what}, but the secondary "
        f"({', '.join(secondaries)}) works: mail is still deliverable. MTAs fall back to "
        "the next MX (RFC 5321 5.1), so senders see no bounce. One probe cannot tell "
        "whether the primary's failure is transient or permanent.",
        [
            Evidence(
                mx=mx,
                outcome=_host_outcome(hv),
                note=f"preference {hv[0].result.route.preference}, rank "
                f"{hv[0].result.route.rank}: "
                f"{sum(1 for v in hv if v.state is RouteState.OK)} of "
                f"{plural(len(hv), 'route')} work",
            )
            for mx in f.hosts_with_routes
            if (hv := f.host_views(mx))
        ]
        + [
            Evidence(
                mx=h.name,
                phase="dns MX target",
                outcome=h.kind.value,
                note=f"preference {h.preference}, rank {h.rank}: not probed"
                + (f": {_filter_reason(f, h)}" if h in f.filtered_hosts else ""),
            )
            for h in f.report.resolution.hosts
            if h.rank == 1 and not f.host_views(h.name)
        ],
        action=Action(
            ActionKind.NONE,
            "Nothing to do for senders: do not suppress or resend; MTAs deliver via the "
            "secondary MX. The recipient's administrators should repair or remove the "
            "failing primary (see the findings below).",
        ),
        title="Primary MX down, secondary MX delivers",
        severity=Severity.INFO,
        kind=RuleKind.FEATURE,
    )


def _host_outcome(views: Sequence[RouteView]) -> str:
    """``ok`` (every route works), ``failed`` (none) or ``partial``."""
    good = sum(1 for v in views if v.state is RouteState.OK)
    return "ok" if good == len(views) else ("failed" if good == 0 else "partial")


def _nothing_probed(f: Facts) -> Finding:
    res = f.report.resolution
    filtered = f.filtered_hosts
    if filtered and len(filtered) == len(res.hosts):
        # Every MX has addresses, only in the family the user excluded: say exactly that,
        # and that it is no fault of the domain's (no code: nothing bounces because of it).
        every = "the MX" if len(res.hosts) == 1 else "every MX"
        reasons = list(dict.fromkeys(_filter_reason(f, h) for h in filtered))
        summary = (
            f"No route to {res.domain} was probed: {every} has {'; '.join(reasons)}. "
            "The DNS is fine; this says nothing about whether the domain accepts mail."
        )
        action = "Probe again without -4/-6 (from a host with that address family)."
    else:
        summary = (
            f"DNS names mail server(s) for {res.domain}, but no route was probed: no address "
            "in the probed address families (-4/-6), or the deadline ran out first."
            + _filtered_note(f)
        )
        action = "Probe again with both address families and a longer --timeout."
    return _finding(
        f,
        "nothing-probed",
        None,
        summary,
        [Evidence(mx=h.name, note=_host_line(h, f)) for h in res.hosts],
        action=Action(ActionKind.FIX, action),
        title="No route probed",
        severity=Severity.INFO,
    )


def _family_filtered(f: Facts) -> Finding:
    hosts = f.filtered_hosts
    lines = [f"{h.name}: not probed: {_filter_reason(f, h)}" for h in hosts]
    return _finding(
        f,
        "family-filtered",
        None,
        f"{'; '.join(lines)}. Its addresses exist in DNS, so this is no fault of "
        f"{f.report.resolution.domain}'s; the verdict covers only the probed MX hosts."
        if len(hosts) == 1
        else f"{'; '.join(lines)}. Their addresses exist in DNS, so this is no fault of "
        f"{f.report.resolution.domain}'s; the verdict covers only the probed MX hosts.",
        [Evidence(mx=h.name, phase="dns MX target", note=_host_line(h, f)) for h in hosts],
        action=Action(
            ActionKind.NONE,
            "Nothing to do for senders. To test these MX hosts too, probe again without -4/-6.",
        ),
        title="MX not probed (address family filter)",
        severity=Severity.INFO,
        kind=RuleKind.INFO,
    )


# =====================================================================================
# Feature / info rules (mail flows)
# =====================================================================================


def _unverified(f: Facts) -> tuple[RouteView, ...]:
    return tuple(
        v
        for v in f.ok_views
        if v.result.tls is not None
        and v.result.tls.version is not None
        and (not v.result.tls.verified or v.result.tls.hostname_match is False)
    )


def _cert_unverified(f: Facts) -> Finding:
    views = list(_unverified(f))
    ev = []
    reasons = []
    certs: dict[str, str] = {}
    for v in views:
        t = v.result.tls
        assert t is not None
        why = []
        if not t.verified:
            why.append(f"verification failed: {t.verify_error or 'unknown reason'}")
        if t.hostname_match is False:
            why.append(f"the certificate does not name {v.result.route.mx}")
        reasons.extend(why)
        ev.append(_evidence(v, "; ".join(why)))
        if t.certificate is not None:
            certs.setdefault(t.certificate.sha256, _cert_facts(t.certificate) or "")
    ev.extend(Evidence(note=text) for text in certs.values())
    return _finding(
        f,
        "tls-cert-unverified",
        "5.4.2",
        f"TLS works on {_routes_brief(views)}, but {'; '.join(sorted(set(reasons)))}. "
        "Opportunistic senders deliver anyway (RFC 7435); senders that verify "
        "(MTA-STS RFC 8461, DANE RFC 7672) fail with a TLS configuration mismatch (5.4.2).",
        ev,
        causes=_causes("5.4.2", ["tls-mismatch"]),
        steps=make_steps(
            "5.4.2",
            {
                "test-connection": _join(describe(v) for v in views),
                "check-tls": _tls_step(views) or "",
                **(
                    {"alternative-ports": alt}
                    if (alt := _alt_ports_step(f, views)) is not None
                    else {}
                ),
            },
        ),
        action=Action(
            ActionKind.FIX,
            "The recipient's administrators should install a certificate that verifies "
            "and names the MX host.",
        ),
        kind=RuleKind.FEATURE,
    )


def _no_starttls(f: Facts) -> tuple[RouteView, ...]:
    return tuple(
        v
        for v in f.ok_views
        if v.result.route.tls_mode is TlsMode.STARTTLS and v.result.starttls_offered is False
    )


def _starttls_missing(f: Facts) -> Finding:
    views = list(_no_starttls(f))
    return _finding(
        f,
        "starttls-not-offered",
        None,
        f"{_routes_brief(views)} {'does' if len(views) == 1 else 'do'} not offer STARTTLS "
        "(RFC 3207): mail to it travels unencrypted, and senders that require TLS defer or "
        "bounce.",
        [
            Evidence(
                mx=v.result.route.mx,
                address=v.result.route.address,
                port=v.result.route.port,
                phase=Phase.EHLO.value,
                outcome="ok",
                note="EHLO keywords: " + (" ".join(v.result.extensions) or "none"),
            )
            for v in views
        ],
        action=Action(ActionKind.FIX, "The recipient's administrators should enable STARTTLS."),
        title="STARTTLS not offered",
        severity=Severity.INFO,
        kind=RuleKind.FEATURE,
    )


def _expiring(f: Facts) -> tuple[RouteView, ...]:
    return tuple(
        v
        for v in f.ok_views
        if v.result.tls is not None
        and v.result.tls.certificate is not None
        and 0 <= v.result.tls.certificate.days_left <= CERT_EXPIRY_WARN_DAYS
    )


def _cert_expiring(f: Facts) -> Finding:
    views = list(_expiring(f))
    days = min(
        v.result.tls.certificate.days_left
        for v in views
        if v.result.tls and v.result.tls.certificate
    )
    return _finding(
        f,
        "cert-expiring",
        None,
        f"The TLS certificate of {_routes_brief(views)} expires in {plural(days, 'day')}.",
        [
            _evidence(v, _cert_facts(v.result.tls.certificate if v.result.tls else None))
            for v in views
        ],
        action=Action(ActionKind.NONE, "The recipient should renew the certificate in time."),
        title="Certificate expires soon",
        severity=Severity.INFO,
        kind=RuleKind.INFO,
    )


def _alt_ports_failing(f: Facts) -> Finding:
    views = list(f.alt_only)
    delivery_ok = all(
        o.state is RouteState.OK
        for v in views
        for o in f.views
        if o.delivery
        and (o.result.route.mx, o.result.route.address)
        == (v.result.route.mx, v.result.route.address)
    )
    return _finding(
        f,
        "alt-ports-failing",
        None,
        f"Port {f.delivery_port} {'works' if delivery_ok else 'answers'}; other ports fail "
        "on the same addresses "
        f"({_join((describe(v) for v in views), 4)}). An MX need not offer submission "
        "ports (587/465), so this does not affect delivery.",
        [_evidence(v) for v in views],
        title="Alternative ports not available",
        severity=Severity.INFO,
        kind=RuleKind.INFO,
    )


def _no_ipv6_here(f: Facts) -> Finding:
    views = list(f.no_local_ipv6)
    return _finding(
        f,
        "no-ipv6-here",
        None,
        f"The IPv6 routes ({_routes_brief(views)}) could not be tried: this network has no "
        "IPv6 route (network unreachable), while IPv4 connects. This says nothing about "
        "the destination's IPv6; probe from an IPv6-capable network, or use -4.",
        [_evidence(v) for v in views],
        title="No IPv6 from the prober's network",
        severity=Severity.INFO,
        kind=RuleKind.INFO,
    )


def _implicit(f: Facts) -> Finding:
    res = f.report.resolution
    return _finding(
        f,
        "implicit-mx",
        None,
        f"{res.domain} has no MX record; mail goes to the domain's own address "
        "(implicit MX, RFC 5321 5.1).",
        [_q_evidence(res.mx_query)],
        title="Implicit MX",
        severity=Severity.INFO,
        kind=RuleKind.INFO,
    )


def _healthy_when(f: Facts) -> bool:
    return (
        f.report.resolution.kind in (ResolutionKind.MX, ResolutionKind.IMPLICIT)
        and bool(f.views)
        and all(
            v.state is RouteState.OK
            for v in f.views
            if v.delivery and id(v) not in {id(x) for x in f.no_local_ipv6}
        )
        and not f.relevant_failed
        and not f.hosts(
            MxTargetKind.NO_ADDRESS,
            MxTargetKind.IP_LITERAL,
            MxTargetKind.CNAME,
            MxTargetKind.LOOKUP_FAILED,
        )
        and not _unverified(f)
        and not _no_starttls(f)
    )


def _healthy(f: Facts) -> Finding:
    hosts = f.hosts_with_routes
    delivery = [v for v in f.views if v.delivery]
    ev = [_evidence(v) for v in delivery]
    if f.recovered:
        ev.append(
            Evidence(
                note=f"recovered: earlier probes saw {', '.join(f.recovered)}; "
                "it cleared, so it was transient"
            )
        )
    summary = (
        f"Every delivery route works: {plural(len(delivery), 'route')} on port "
        f"{f.delivery_port} across {plural(len(hosts), 'MX host')} ({', '.join(hosts)})."
    )
    if len(f.views) > len(delivery):
        others = _in_probe_order(f, (v.result.route.port for v in f.views if not v.delivery))
        good = len(f.ok_views)
        summary += (
            f" With {_ports_word(others)} as well, {good} of {plural(len(f.views), 'route')} "
            f"{'works' if good == 1 else 'work'}."
        )
    return _finding(
        f,
        "healthy",
        None,
        summary,
        ev,
        title="Healthy",
        severity=Severity.INFO,
        kind=RuleKind.INFO,
    )


# =====================================================================================
# The table
# =====================================================================================


def _dns_ok(f: Facts) -> bool:
    return f.report.resolution.kind in (ResolutionKind.MX, ResolutionKind.IMPLICIT)


def _all_no_connect(f: Facts) -> bool:
    return (
        _dns_ok(f)
        and bool(f.views)
        and not f.own_port_block
        and all(v.state is RouteState.NO_CONNECT for v in f.views)
    )


def _all_unreachable_when(f: Facts) -> bool:
    return _all_no_connect(f) and all(
        v.failure is not None and v.failure.outcome is Outcome.UNREACHABLE for v in f.views
    )


def _mx_down_when(f: Facts) -> bool:
    return (
        not f.own_port_block and bool(f.down_hosts) and len(f.down_hosts) < len(f.hosts_with_routes)
    )


def _nothing_probed_when(f: Facts) -> bool:
    return (
        _dns_ok(f)
        and not f.views
        and not f.hosts(
            MxTargetKind.NO_ADDRESS, MxTargetKind.IP_LITERAL, MxTargetKind.LOOKUP_FAILED
        )
    )


def _primaries(f: Facts) -> tuple[MxHost, ...]:
    """Rank-1 MX hosts, without those the family filter kept from being probed (a
    primary that was not probed is not a primary that is down)."""
    skip = f.filtered_hosts
    return tuple(h for h in f.report.resolution.hosts if h.rank == 1 and h not in skip)


def _primary_down_when(f: Facts) -> bool:
    primaries = _primaries(f)
    rank1 = [v for v in f.views if v.delivery and v.result.route.rank == 1]
    return (
        _dns_ok(f)
        and bool(primaries)
        and all(v.state is not RouteState.OK for v in rank1)
        and any(v.result.route.rank > 1 for v in f.delivery_ok_views)
    )


RULES: tuple[Rule, ...] = (
    Rule(
        "null-mx",
        "5.1.10",
        RuleKind.FAILURE,
        lambda f: f.report.resolution.kind is ResolutionKind.NULL_MX,
        _null_mx,
        "resolution null-mx: MX '0 .' (RFC 7505)",
    ),
    Rule(
        "dns-failed",
        "4.4.3",
        RuleKind.FAILURE,
        lambda f: f.report.resolution.kind is ResolutionKind.FAILED,
        _dns_failed,
        "resolution failed: MX query SERVFAIL / REFUSED / TIMEOUT / ERROR",
    ),
    Rule(
        "no-route",
        "5.4.4",
        RuleKind.FAILURE,
        lambda f: f.report.resolution.kind is ResolutionKind.NONE,
        _no_route,
        "resolution none: MX NXDOMAIN, or NODATA and no A/AAAA",
    ),
    Rule(
        "primary-down-secondary-ok",
        None,
        RuleKind.FEATURE,
        _primary_down_when,
        _primary_down,
        "no delivery-port route of the rank-1 MX works (or it has no address), a "
        "secondary's does: leads, as mail is deliverable (the MX-level finding follows)",
    ),
    Rule(
        "own-port-blocked",
        None,
        RuleKind.FEATURE,
        lambda f: f.own_port_block,
        _own_block,
        "every delivery-port (25) route times out (silent drop) or is denied locally "
        "(EPERM) while another port of the same servers connects; a RST/ICMP refusal "
        "goes to port-blocked instead",
    ),
    Rule(
        "all-mx-unreachable",
        "5.4.3",
        RuleKind.FAILURE,
        _all_unreachable_when,
        _all_unreachable,
        "DNS fine, every route of every MX fails at connect with 'unreachable'",
    ),
    Rule(
        "all-routes-refused",
        "5.4.2",
        RuleKind.FAILURE,
        lambda f: _all_no_connect(f) and not _all_unreachable_when(f),
        _all_refused,
        "DNS fine, every route fails at connect (refused / timed out), not all unreachable",
    ),
    Rule(
        "greeting-deferred",
        "4.3.2",
        RuleKind.FAILURE,
        lambda f: bool(f.failed_in(RouteState.DEFERRED)),
        _deferred,
        "421 to any phase, or 4xx to greeting/EHLO/HELO (postscreen 421/450 4.3.2, "
        "'too many connections', 4.7.28)",
    ),
    Rule(
        "tls-mismatch",
        "5.4.2",
        RuleKind.FAILURE,
        lambda f: bool(f.failed_in(RouteState.TLS_MISMATCH)),
        _tls_mismatch,
        "TLS handshake fails with no common version/cipher, a certificate that fails "
        "verification, plaintext on an implicit-TLS port, or 5xx to STARTTLS",
    ),
    Rule(
        "connection-dropped",
        "4.4.2",
        RuleKind.FAILURE,
        lambda f: bool(f.failed_in(RouteState.DROPPED)),
        _dropped,
        "connected, then closed / reset / timed out in greeting, EHLO, STARTTLS, TLS "
        "handshake or EHLO after TLS; a TLS failure without a mismatch reason; 4xx to STARTTLS",
    ),
    Rule(
        "server-rejected",
        "5.4.2",
        RuleKind.FAILURE,
        lambda f: bool(f.failed_in(RouteState.REJECTED)),
        _rejected,
        "5xx greeting (554: connection policy / IP block), 5xx to EHLO and HELO, or a "
        "peer that does not speak SMTP",
    ),
    Rule(
        "port-blocked",
        "5.4.2",
        RuleKind.FAILURE,
        lambda f: bool(_partial_no_connect(f)),
        _port_blocked,
        "some routes of an MX fail at connect while other ports/addresses of that MX "
        "connect (names the alternative ports that answer); delivery port refused "
        "(RST/ICMP) on every MX address: the destination refuses it (hard); info when "
        "another delivery-port route works",
    ),
    Rule(
        "mx-no-address",
        "5.4.3",
        RuleKind.FAILURE,
        lambda f: bool(f.hosts(MxTargetKind.NO_ADDRESS, MxTargetKind.IP_LITERAL)),
        _mx_no_address,
        "MX target with no address (A/AAAA NXDOMAIN or NODATA) or written as an IP literal",
    ),
    Rule(
        "mx-cname",
        "5.4.3",
        RuleKind.FEATURE,
        lambda f: bool(f.hosts(MxTargetKind.CNAME)),
        _mx_cname,
        "MX target is an alias (CNAME)",
    ),
    Rule(
        "mx-lookup-failed",
        "4.4.3",
        RuleKind.FAILURE,
        lambda f: bool(f.hosts(MxTargetKind.LOOKUP_FAILED)),
        _mx_lookup_failed,
        "MX target's A/AAAA lookup SERVFAIL / REFUSED / TIMEOUT / ERROR",
    ),
    Rule(
        "mx-down",
        "5.4.3",
        RuleKind.FAILURE,
        _mx_down_when,
        _mx_down,
        "some (not all) MX hosts fail at connect on every address and port (info, no "
        "bounce, when another MX delivers)",
    ),
    Rule(
        "nothing-probed",
        None,
        RuleKind.FAILURE,
        _nothing_probed_when,
        _nothing_probed,
        "DNS fine, but no route was probed (family filter: every MX has addresses only in "
        "a family excluded by -4/-6; deadline): no code, never a bounce",
    ),
    Rule(
        "tls-cert-unverified",
        "5.4.2",
        RuleKind.FEATURE,
        lambda f: bool(_unverified(f)),
        _cert_unverified,
        "route works, but the certificate fails verification or does not name the MX",
    ),
    Rule(
        "starttls-not-offered",
        None,
        RuleKind.FEATURE,
        lambda f: bool(_no_starttls(f)),
        _starttls_missing,
        "route works, EHLO does not advertise STARTTLS",
    ),
    Rule(
        "healthy",
        None,
        RuleKind.INFO,
        _healthy_when,
        _healthy,
        "every delivery-port route works, no DNS or TLS problem",
    ),
    Rule(
        "cert-expiring",
        None,
        RuleKind.INFO,
        lambda f: bool(_expiring(f)),
        _cert_expiring,
        f"route works, certificate expires within {CERT_EXPIRY_WARN_DAYS} days",
    ),
    Rule(
        "alt-ports-failing",
        None,
        RuleKind.INFO,
        lambda f: bool(f.alt_only),
        _alt_ports_failing,
        "another port of an address fails while its delivery port works (or, for an "
        "unanswered connect, at least connects)",
    ),
    Rule(
        "family-filtered",
        None,
        RuleKind.INFO,
        lambda f: bool(f.filtered_hosts) and not _nothing_probed_when(f),
        _family_filtered,
        "an MX has addresses only in a family excluded by -4/-6: not probed, no fault "
        "(ignored by the rules about MX hosts without a working route)",
    ),
    Rule(
        "no-ipv6-here",
        None,
        RuleKind.INFO,
        lambda f: bool(f.no_local_ipv6),
        _no_ipv6_here,
        "every IPv6 route fails with 'network unreachable' while IPv4 connects",
    ),
    Rule(
        "implicit-mx",
        None,
        RuleKind.INFO,
        lambda f: f.report.resolution.kind is ResolutionKind.IMPLICIT,
        _implicit,
        "resolution implicit: no MX, the domain's own A/AAAA",
    ),
)


#: How :func:`smtpdiag.diagnose.engine.verdict_for` sums the findings up (part of the doc).
VERDICT_DOC = (
    "Verdict (it follows the delivery port: 25 when probed, else the first port given): "
    "no-mail = null MX; healthy = the `healthy` rule fired (every delivery-port route "
    "works, no other problem); degraded = at least one delivery-port route works but "
    "something else fails; failed = no delivery-port route works, even if 587/465 answer "
    "(the findings name them as alternatives). Exception: `own-port-blocked` with another "
    "port working stays degraded (the destination's port 25 was not really tested). MX "
    "hosts whose addresses are all in a family excluded by -4/-6 are not probed and count "
    "neither way (`family-filtered`); if no route at all was probed, `nothing-probed` "
    "(no code) leads and the verdict is failed (exit 3): nothing was verified."
)


def _table_doc() -> str:
    lines = ["| rule | code | observations |", "|---|---|---|"]
    for r in RULES:
        lines.append(f"| {r.id} | {r.code or '-'} | {r.observes} |")
    lines += ["", VERDICT_DOC]
    return "\n".join(lines)


#: The rule table as Markdown (id -> code -> observations).
RULE_TABLE_DOC = _table_doc()
