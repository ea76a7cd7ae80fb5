"""Observations -> typed facts: what the rule predicates read.

Pure: imports no I/O module. Every fact comes from typed fields of the observations
(``Outcome``, ``errno``, ``TlsReason``, ``SkipReason``, ``AddressClass``, DNS outcomes);
the only text read here is text from outside - SMTP replies of the probed servers,
matched against cause words (rate limit, IP block, maintenance ...). Nothing here
parses ``PhaseRecord.detail`` or any other text our own adapters wrote.
"""

from __future__ import annotations

import errno as errnos
import functools
import ipaddress
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TypeVar

from ..limits import CERT_WARN_DAYS
from ..model import (
    AddressFamily,
    DnsOutcome,
    MssRetry,
    MssRetryResult,
    MxHost,
    MxTargetKind,
    Outcome,
    Persistence,
    Phase,
    PhaseRecord,
    ProbeReport,
    ReplyHint,
    ResolutionKind,
    RouteResult,
    RuleId,
    SkipReason,
    TlsReason,
)
from ..timefmt import aware_now, utc_iso

__all__ = [
    "CERT_EXPIRY_WARN_DAYS",
    "PERSIST_MIN_PROBES",
    "PERSIST_MIN_SPAN",
    "Facts",
    "PersistenceFact",
    "RouteState",
    "RouteView",
    "TlsFault",
    "aware_now",
    "build_facts",
    "classify",
    "delivery_port_of",
    "family_of",
    "greylisted",
    "handshake_stalled",
    "ip_block_reply",
    "iso",
    "local_deny",
    "reply_cause_slugs",
    "server_code",
    "silent_or_local",
    "tls_fault",
]

#: Probes (history plus the current one) a failure must be seen in to count as persistent.
PERSIST_MIN_PROBES = 3
#: ... spanning at least this long: the seed's first 4.4.2 retry comes after 30 minutes,
#: so a failure that outlasts it is no longer a blip.
PERSIST_MIN_SPAN = timedelta(minutes=30)
#: A certificate expiring within this many days is reported (info); the health check's
#: default warning limit is the same number (one definition, :mod:`smtpdiag.limits`).
CERT_EXPIRY_WARN_DAYS = CERT_WARN_DAYS


def greylisted(result: RouteResult) -> bool:
    """The route ended in a 450/451 whose text names greylisting (typed by the probe,
    :attr:`SmtpReply.hint`): a normal defence; the retry after the delay succeeds."""
    f = result.failure
    return (
        f is not None
        and f.outcome is Outcome.REPLY
        and f.reply is not None
        and f.reply.hint is ReplyHint.GREYLIST
    )


class RouteState(StrEnum):
    """What a route's probe amounts to, for the rules."""

    OK = "ok"
    NO_CONNECT = "no-connect"  #: the TCP connect failed (refused, unreachable, timed out)
    DROPPED = "dropped"  #: connected, then closed/reset/timed out or a transient TLS failure
    DEFERRED = "deferred"  #: 421 anywhere, or 4xx to greeting/EHLO/HELO (server not accepting)
    TLS_MISMATCH = "tls-mismatch"  #: no version/cipher in common, plaintext, 5xx STARTTLS
    REJECTED = "rejected"  #: 5xx greeting/EHLO+HELO, or a peer that does not speak SMTP
    SKIPPED = "skipped"  #: never attempted (deadline, address policy): no evidence at all


class TlsFault(StrEnum):
    """Which kind of TLS failure a route ended in (from ``TlsReason`` and the alert)."""

    NOT_TLS = "not-tls"  #: plaintext where TLS is expected (server configuration)
    VERSION = "version"  #: no protocol version in common
    CIPHER = "cipher"  #: no cipher suite in common
    CERTIFICATE = "certificate"  #: the certificate failed the handshake
    STARTTLS_REFUSED = "starttls-refused"  #: 5xx to STARTTLS
    TRANSIENT = "transient"  #: reset, closed, timeout, internal error alert ...: retry


# RFC 8446 6.2: the alerts that mean "no common parameters" rather than a broken peer.
_VERSION_ALERTS = frozenset({"protocol_version"})
_CIPHER_ALERTS = frozenset({"handshake_failure", "insufficient_security"})
_CERT_REASONS = frozenset(
    {
        TlsReason.CERT_UNTRUSTED,
        TlsReason.CERT_EXPIRED,
        TlsReason.CERT_WRONG_NAME,
        TlsReason.CERT_WEAK_KEY,
    }
)


def tls_fault(rec: PhaseRecord) -> TlsFault:
    """The kind of a TLS failure from the record's typed fields."""
    if rec.outcome is Outcome.REPLY and rec.phase is Phase.STARTTLS:
        return TlsFault.STARTTLS_REFUSED
    reason = rec.tls_reason
    if reason is TlsReason.NOT_TLS:
        return TlsFault.NOT_TLS
    if reason is TlsReason.PROTOCOL_VERSION or (
        reason is TlsReason.ALERT and rec.tls_alert in _VERSION_ALERTS
    ):
        return TlsFault.VERSION
    if reason is TlsReason.CIPHER or (
        reason is TlsReason.ALERT and rec.tls_alert in _CIPHER_ALERTS
    ):
        return TlsFault.CIPHER
    if reason in _CERT_REASONS:
        return TlsFault.CERTIFICATE
    return TlsFault.TRANSIENT


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
        return self.state not in (RouteState.NO_CONNECT, RouteState.SKIPPED)

    @property
    def label(self) -> str:
        """The route's ``mx[address]:port``."""
        return self.result.route.label

    @property
    def key(self) -> tuple[str, str]:
        """``(mx, address)``: the routes of one address of one MX share it."""
        return self.result.route.mx, self.result.route.address

    @property
    def skip_reason(self) -> SkipReason | None:
        """Why the route was not attempted (``skipped`` routes only)."""
        return self.failure.skip_reason if self.failure is not None else None


_TLS_PHASES = (Phase.STARTTLS, Phase.TLS_HANDSHAKE, Phase.EHLO_TLS)
_SESSION_PHASES = (Phase.GREETING, Phase.EHLO, Phase.HELO, Phase.EHLO_TLS)


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
    if f.outcome is Outcome.NOT_ATTEMPTED:
        return RouteState.SKIPPED, f
    if f.phase is Phase.CONNECT:
        return RouteState.NO_CONNECT, f
    if f.outcome is Outcome.REPLY:
        code = f.reply.code if f.reply else 0
        if code == 421 or (400 <= code < 500 and f.phase in _SESSION_PHASES):
            return RouteState.DEFERRED, f
        if 400 <= code < 500:
            return RouteState.DROPPED, f  # e.g. 454 to STARTTLS: TLS temporarily unavailable
        if f.phase is Phase.STARTTLS:
            return RouteState.TLS_MISMATCH, f
        return RouteState.REJECTED, f
    if f.outcome is Outcome.TLS_FAILURE or (f.outcome is Outcome.ERROR and f.phase in _TLS_PHASES):
        if tls_fault(f) is TlsFault.TRANSIENT:
            return RouteState.DROPPED, f
        return RouteState.TLS_MISMATCH, f
    if f.outcome is Outcome.ERROR:
        return RouteState.REJECTED, f  # the peer did not speak SMTP
    # TIMEOUT, CLOSED, RESET (and REFUSED/UNREACHABLE/OK, which cannot follow a connect).
    return RouteState.DROPPED, f


def iso(dt: datetime) -> str:
    """ISO 8601 UTC with a ``Z``, to the second."""
    return utc_iso(dt, "seconds")


# ------------------------------------------------------------------ server reply text
# Regular expressions over text from outside (the probed servers' replies) only.

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
_MAINT_RE = re.compile(r"maintenance|shutting down|restart|upgrade", re.I)
_NET_RE = re.compile(r"network|dns|lookup", re.I)
# Host names and addresses in a reply ("mx.busy.example") must not match cause words.
_DOTTED_RE = re.compile(r"\S+\.\S+")
# RFC 3463 2: class.subject.detail, subject and detail 1-3 digits without leading zeros.
_ENHANCED_RE = re.compile(r"[245]\.(?:0|[1-9]\d{0,2})\.(?:0|[1-9]\d{0,2})")


def reply_cause_slugs(texts: Iterable[str]) -> tuple[list[str], str | None]:
    """4.3.2 cause slugs the reply texts state, and the rate-limit words if any."""
    text = _DOTTED_RE.sub(" ", " ".join(texts))
    slugs = []
    if _MAINT_RE.search(text):
        slugs.append("maintenance")
    if _RATE_RE.search(text) or _BUSY_RE.search(text):
        slugs.append("overload")
    if _NET_RE.search(text):
        slugs.append("network-problems")
    rate = _RATE_RE.search(text)
    return slugs, rate.group(0) if rate else None


def ip_block_reply(views: Sequence[RouteView]) -> RouteView | None:
    """The first route whose failing reply says the client's IP is blocked."""
    for v in views:
        f = v.failure
        if f is not None and f.reply is not None and _IP_BLOCK_RE.search(f.reply.text):
            return v
    return None


def server_code(views: Sequence[RouteView]) -> str | None:
    """The enhanced code the servers state themselves, when they all agree on one that is
    well-formed (RFC 3463) and of the same class as its basic reply code (RFC 2034 3)."""
    codes = set()
    for v in views:
        f = v.failure
        if f is None or f.reply is None or not f.reply.enhanced:
            return None
        enhanced, code = f.reply.enhanced, f.reply.code
        if not _ENHANCED_RE.fullmatch(enhanced) or str(code)[:1] != enhanced[:1]:
            return None
        codes.add(enhanced)
    return codes.pop() if len(codes) == 1 else None


# --------------------------------------------------------------------- route facts


def handshake_stalled(v: RouteView) -> bool:
    """The route connected, then its TLS handshake timed out (the server's flight
    never arrived)."""
    f = v.failure
    return (
        v.state is RouteState.DROPPED
        and f is not None
        and f.phase is Phase.TLS_HANDSHAKE
        and f.outcome is Outcome.TIMEOUT
    )


def local_deny(v: RouteView) -> bool:
    """The connect failed on the prober's own host (EPERM/EACCES: a local firewall)."""
    f = v.failure
    return (
        v.state is RouteState.NO_CONNECT
        and f is not None
        and f.errno in (errnos.EPERM, errnos.EACCES)
    )


def silent_or_local(v: RouteView) -> bool:
    """The connect got no answer at all (timed out, or the deadline ended it) or was
    denied on the prober's own host: what an outbound port block looks like."""
    if v.state is not RouteState.NO_CONNECT:
        return False
    f = v.failure
    return f is None or f.outcome is Outcome.TIMEOUT or local_deny(v)


def _unreachable(v: RouteView, errno_: int | None = None) -> bool:
    f = v.failure
    if v.state is not RouteState.NO_CONNECT or f is None:
        return False
    if errno_ is not None:
        return f.errno == errno_
    return f.outcome is Outcome.UNREACHABLE or f.errno in (
        errnos.EHOSTUNREACH,
        errnos.ENETUNREACH,
    )


def _refused(v: RouteView) -> bool:
    f = v.failure
    return (
        v.state is RouteState.NO_CONNECT
        and f is not None
        and (f.outcome is Outcome.REFUSED or f.errno == errnos.ECONNREFUSED)
    )


@functools.lru_cache(maxsize=4096)  # pure; asked for the same few hosts per domain
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


@dataclass(frozen=True, slots=True)
class PersistenceFact:
    """What the watch history says about one rule.

    Attributes:
        persistence: The conclusion.
        seen: Probes it fired in (the current one included).
        probes: Probes considered (the current one included).
        span_s: Seconds from the first to the current probe, ``None`` if unknown.
        intermittent: It fired, cleared and fired again.
        first_seen: ISO instant it first fired in an unbroken run up to now (new ones).
        by_nature: No history: its persistence follows from what it is (DNS failures).
        published: Published in DNS (null MX): lasts until the domain changes it.
    """

    persistence: Persistence
    seen: int = 0
    probes: int = 0
    span_s: float | None = None
    intermittent: bool = False
    first_seen: str | None = None
    by_nature: bool = False
    published: bool = False


_Sel = TypeVar("_Sel", bound=tuple[object, ...])


def _once(fn: Callable[[Facts], _Sel]) -> Callable[[Facts], _Sel]:
    """A selection (of routes, of hosts) computed once per :class:`Facts` (the rules
    ask for the same ones many times per report)."""

    @functools.wraps(fn)
    def get(self: Facts) -> _Sel:
        value = self._selections.get(fn.__name__)
        if value is None:
            value = self._selections[fn.__name__] = fn(self)
        return value  # type: ignore[return-value]  # stored by this same function

    return get


@dataclass(frozen=True, slots=True)
class Facts:
    """What the rules read: the report, its classified routes, the time and history.

    Attributes:
        report: The probe report.
        now: The instant retry times are counted from (UTC).
        views: Classified route results that were attempted, in report order.
        skipped: Routes never attempted (deadline, address policy); never evidence.
        delivery_port: 25 if probed, else the first probed port; ``None`` without ports.
        own_port_block: The prober's own network seems to block the delivery port.
        persistence: Rule id -> what the watch history says.
        history_len: Number of earlier probes considered.
        recovered: Failure rules that fired in earlier probes but not in this one.
    """

    report: ProbeReport
    now: datetime
    views: tuple[RouteView, ...]
    skipped: tuple[RouteView, ...]
    delivery_port: int | None
    own_port_block: bool
    persistence: Mapping[RuleId, PersistenceFact] = field(default_factory=dict)
    history_len: int = 0
    recovered: tuple[RuleId, ...] = ()
    _selections: dict[str, tuple[object, ...]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    @property
    def dns_ok(self) -> bool:
        """The DNS names mail servers (MX or implicit MX)."""
        return self.report.resolution.kind in (ResolutionKind.MX, ResolutionKind.IMPLICIT)

    @property
    def could_not_run(self) -> bool:
        """No nameserver answered at all: not the MX query (``ProbeReport.could_not_run``)
        or, with no route left, not one address lookup of any MX target. Nothing is
        known about the domain then."""
        if self.report.could_not_run:
            return True
        hosts = self.report.resolution.hosts
        unanswered = (DnsOutcome.TIMEOUT, DnsOutcome.ERROR)
        return (
            self.dns_ok
            and not self.report.routes
            and bool(hosts)
            and all(
                h.kind is MxTargetKind.LOOKUP_FAILED
                and all(
                    q.outcome in unanswered for q in h.queries if q.outcome is not DnsOutcome.OK
                )
                for h in hosts
            )
        )

    @property
    @_once
    def greylisted_views(self) -> tuple[RouteView, ...]:
        """Attempted routes that ended in a greylisting 450/451."""
        return tuple(v for v in self.views if greylisted(v.result))

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
    def policy_skipped(self) -> tuple[RouteView, ...]:
        """Routes not attempted because their address is not global unicast."""
        return tuple(v for v in self.skipped if v.skip_reason is SkipReason.ADDRESS_POLICY)

    @property
    def deadline_skipped(self) -> tuple[RouteView, ...]:
        """Routes not attempted for any reason but the address policy (deadline ...)."""
        return tuple(v for v in self.skipped if v.skip_reason is not SkipReason.ADDRESS_POLICY)

    @property
    @_once
    def alt_only(self) -> tuple[RouteView, ...]:
        """Failed non-delivery-port routes that say nothing about delivery: any failure
        where the address's delivery port works, and unanswered connects where the
        delivery port at least connects (an MX need not offer 587/465)."""
        good = {v.key for v in self.views if v.delivery and v.state is RouteState.OK}
        answering = {v.key for v in self.views if v.delivery and v.connected}
        out = []
        for v in self.views:
            if v.delivery or v.state is RouteState.OK:
                continue
            if v.key in good or (v.state is RouteState.NO_CONNECT and v.key in answering):
                out.append(v)
        return tuple(out)

    def _family_views(self, family: AddressFamily) -> list[RouteView]:
        return [v for v in self.views if v.result.route.family is family]

    @property
    @_once
    def no_local_ipv6(self) -> tuple[RouteView, ...]:
        """IPv6 routes, when every one failed with ENETUNREACH while IPv4 connects: the
        prober has no IPv6 route, which says nothing about the destination."""
        v6 = self._family_views(AddressFamily.IPV6)
        v4 = self._family_views(AddressFamily.IPV4)
        if not v6 or not any(v.connected for v in v4):
            return ()
        if all(_unreachable(v, errnos.ENETUNREACH) for v in v6):
            return tuple(v6)
        return ()

    @property
    @_once
    def family_unreachable(self) -> tuple[RouteView, ...]:
        """The routes of one address family, when every one of them is unreachable
        (EHOSTUNREACH/ENETUNREACH, ICMP) while the other family delivers: a degraded
        family, not a port blocked by a firewall. The prober-side case (ENETUNREACH
        everywhere) is :attr:`no_local_ipv6` instead."""
        if self.no_local_ipv6:
            return ()
        for family, other in (
            (AddressFamily.IPV6, AddressFamily.IPV4),
            (AddressFamily.IPV4, AddressFamily.IPV6),
        ):
            mine = self._family_views(family)
            if (
                mine
                and all(_unreachable(v) for v in mine)
                and any(v.delivery and v.state is RouteState.OK for v in self._family_views(other))
            ):
                return tuple(mine)
        return ()

    @property
    @_once
    def relevant_failed(self) -> tuple[RouteView, ...]:
        """Failed routes that matter for delivery (not :attr:`alt_only`, not a family the
        prober or the path cannot reach while the other family works, not a greylisting
        450/451: :attr:`greylisted_views`)."""
        skip = {
            id(v)
            for v in (
                *self.alt_only,
                *self.no_local_ipv6,
                *self.family_unreachable,
                *self.greylisted_views,
            )
        }
        return tuple(v for v in self.views if v.state is not RouteState.OK and id(v) not in skip)

    def failed_in(self, *states: RouteState) -> tuple[RouteView, ...]:
        """Relevant failed routes in one of ``states``."""
        return tuple(v for v in self.relevant_failed if v.state in states)

    @property
    def hosts_with_routes(self) -> tuple[str, ...]:
        """MX host names that have attempted routes, in report order."""
        return tuple(dict.fromkeys(v.result.route.mx for v in self.views))

    def host_views(self, mx: str) -> tuple[RouteView, ...]:
        """Every attempted route of MX host ``mx``."""
        return tuple(v for v in self.views if v.result.route.mx == mx)

    @property
    def down_hosts(self) -> tuple[str, ...]:
        """MX hosts none of whose routes got a TCP connection (routes of a family the
        prober or the path cannot reach do not count)."""
        skip = {id(v) for v in (*self.no_local_ipv6, *self.family_unreachable)}
        out = []
        for mx in self.hosts_with_routes:
            hv = [v for v in self.host_views(mx) if id(v) not in skip]
            if hv and all(v.state is RouteState.NO_CONNECT for v in hv):
                out.append(mx)
        return tuple(out)

    @property
    def all_no_connect(self) -> bool:
        """DNS fine, routes attempted, none connected, and not the prober's own block."""
        return (
            self.dns_ok
            and bool(self.views)
            and not self.own_port_block
            and all(v.state is RouteState.NO_CONNECT for v in self.views)
        )

    @property
    def all_unreachable(self) -> bool:
        """Every attempted route failed at connect with an ICMP unreachable."""
        return self.all_no_connect and all(_unreachable(v) for v in self.views)

    @property
    def all_refused(self) -> bool:
        """Every attempted route of every MX was refused (ECONNREFUSED): the hosts are up
        and nothing listens on any probed port."""
        return self.all_no_connect and all(_refused(v) for v in self.views)

    def hosts(self, *kinds: MxTargetKind) -> tuple[MxHost, ...]:
        """MX hosts of the given target kinds."""
        return tuple(h for h in self.report.resolution.hosts if h.kind in kinds)

    @property
    @_once
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

    @property
    def primaries(self) -> tuple[MxHost, ...]:
        """Rank-1 MX hosts, without those the family filter kept from being probed (a
        primary that was not probed is not a primary that is down)."""
        skip = self.filtered_hosts
        return tuple(h for h in self.report.resolution.hosts if h.rank == 1 and h not in skip)

    def working_other_than(self, mxs: Iterable[str]) -> tuple[RouteView, ...]:
        """Working routes of MX hosts not in ``mxs``."""
        names = set(mxs)
        return tuple(v for v in self.ok_views if v.result.route.mx not in names)

    @property
    def capped(self) -> bool:
        """Some observation was cut at a cap (hosts, addresses, SANs, chain)."""
        res = self.report.resolution
        return bool(
            res.hosts_omitted
            or any(h.addresses_omitted for h in res.hosts)
            or any(
                v.result.tls is not None
                and (
                    v.result.tls.chain_truncated
                    or (
                        v.result.tls.certificate is not None
                        and v.result.tls.certificate.sans_omitted > 0
                    )
                )
                for v in self.views
            )
        )

    def mss_retry_of(self, v: RouteView) -> MssRetry | None:
        """The small-MSS retry made on ``v``'s address, by whichever of its routes made
        it (one per address at most); ``None`` when there was none."""
        address = v.result.route.address
        for o in self.views:
            if o.result.route.address == address and o.result.mss_retry is not None:
                return o.result.mss_retry
        return None

    def _stalled_with(self, result: MssRetryResult) -> tuple[RouteView, ...]:
        out = []
        for v in self.failed_in(RouteState.DROPPED):
            retry = self.mss_retry_of(v) if handshake_stalled(v) else None
            if retry is not None and retry.result is result:
                out.append(v)
        return tuple(out)

    @property
    @_once
    def mtu_proven(self) -> tuple[RouteView, ...]:
        """Routes whose TLS handshake stalled while, on their address, the same
        handshake repeated with a small MSS completed: a path MTU black hole, proven
        (small segments pass, the server's full-size ones are lost, and the ICMP that
        would make it send smaller ones never reaches it: RFC 2923 2.1)."""
        return self._stalled_with(MssRetryResult.COMPLETED)

    @property
    @_once
    def mtu_unlikely(self) -> tuple[RouteView, ...]:
        """Routes whose TLS handshake stalled, and stalled again with a small MSS on
        their address: the large segments are not what is lost, so an MTU black hole
        is unlikely (not excluded: a path MTU below 576 octets would still drop them)."""
        return self._stalled_with(MssRetryResult.STALLED)

    def persistence_of(self, rule_id: RuleId) -> PersistenceFact:
        """Persistence of a rule's finding: from the history, else unknown. One probe
        cannot tell, whatever the failure (a SERVFAIL or REFUSED answer too: a 4.4.3
        code says "retry", not "this will pass")."""
        if rule_id in self.persistence:
            return self.persistence[rule_id]
        return PersistenceFact(Persistence.UNKNOWN)


def build_facts(
    report: ProbeReport,
    now: datetime,
    persistence: Mapping[RuleId, PersistenceFact] | None = None,
    history_len: int = 0,
    recovered: Sequence[RuleId] = (),
) -> Facts:
    """Classify every route and work out the port facts."""
    delivery_port = delivery_port_of(report)
    views: list[RouteView] = []
    skipped: list[RouteView] = []
    for rr in report.routes:
        state, failure = classify(rr)
        view = RouteView(rr, state, failure, rr.route.port == delivery_port)
        (skipped if state is RouteState.SKIPPED else views).append(view)
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
        skipped=tuple(skipped),
        delivery_port=delivery_port,
        own_port_block=own_block,
        persistence=dict(persistence or {}),
        history_len=history_len,
        recovered=tuple(recovered),
    )
