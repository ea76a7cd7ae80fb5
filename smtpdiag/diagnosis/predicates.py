"""Named predicates over :class:`~smtpdiag.diagnosis.facts.Facts`, one per rule.

Each returns a :class:`Match` (the routes and hosts it is about) or ``None`` when the
rule does not apply. Predicates decide; they never write a sentence.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from ..model import (
    ActionKind,
    DaneState,
    DnssecStatus,
    MxHost,
    MxTargetKind,
    Outcome,
    Phase,
    ReplyHint,
    ResolutionKind,
    SenderImpact,
    StsMode,
    StsStatus,
    TlsMode,
    TlsRptResult,
    TlsRptStatus,
)
from .facts import CERT_EXPIRY_WARN_DAYS, Facts, RouteState, RouteView
from .senders import (
    Problem,
    anyone_fails,
    cert_result,
    defers,
    enforced_mode,
    impacts,
    sts_covers,
    tlsa_of,
    webpki_fails,
)
from .vantage import (
    delayed_greetings,
    differing_names,
    listed_zones,
    resolver_validates,
    tlsa_hosts,
    unconfirmed_names,
)

__all__ = [
    "Match",
    "all_mx_unreachable",
    "all_routes_refused",
    "alt_ports_failing",
    "cert_expiring",
    "dane_bogus",
    "dane_mismatch",
    "dane_not_usable",
    "connection_dropped",
    "could_not_run",
    "dns_failed",
    "egress_listed",
    "fcrdns_missing",
    "greeting_delayed",
    "greylisted",
    "host_name_differs",
    "resolver_not_validating",
    "family_filtered",
    "family_unreachable",
    "greeting_deferred",
    "implicit_mx",
    "mta_sts_cert_invalid",
    "mta_sts_fetch_failed",
    "mta_sts_invalid",
    "mta_sts_mx_not_covered",
    "mta_sts_webpki_invalid",
    "mx_cname",
    "mx_down",
    "mx_lookup_failed",
    "mx_no_address",
    "mx_not_global",
    "mx_not_listening",
    "no_ipv6_here",
    "no_route",
    "nothing_probed",
    "null_mx",
    "observation_capped",
    "own_port_blocked",
    "path_mtu_black_hole",
    "port_blocked",
    "primary_down_secondary_ok",
    "routes_not_attempted",
    "server_rejected",
    "starttls_not_offered",
    "starttls_required",
    "tls_cert_unverified",
    "tls_mismatch",
    "tls_rpt_invalid",
]


@dataclass(frozen=True, slots=True)
class Match:
    """What a rule matched.

    Attributes:
        views: The routes the finding is about (may be empty for DNS-level rules).
        hosts: The MX hosts it is about.
        senders: What each kind of sender does about it (TLS and TLS-policy rules).
        results: The RFC 8460 result types a TLS report would carry.
        enforced: For rows whose code applies only when a policy is enforced
            (:class:`~smtpdiag.diagnosis.table.Enforced`): whether some kind of sender
            defers the message.
        degrades: For feature rows: whether the finding moves the verdict. ``False``
            when it affects no sender and is no misconfiguration of what the domain
            meant to publish (TLSA records in an unsigned zone: every sender ignores
            them); the finding is then informational.
        action: The action kind the finding asks for when it depends on the facts
            (decided here, worded by the narration); ``None``: the rule's fixed one.
    """

    views: tuple[RouteView, ...] = ()
    hosts: tuple[MxHost, ...] = ()
    senders: tuple[SenderImpact, ...] = ()
    results: tuple[TlsRptResult, ...] = ()
    enforced: bool = True
    degrades: bool = True
    action: ActionKind | None = None


def _when(
    cond: bool, views: tuple[RouteView, ...] = (), hosts: tuple[MxHost, ...] = ()
) -> Match | None:
    return Match(views, hosts) if cond else None


def _views(views: tuple[RouteView, ...]) -> Match | None:
    return Match(views) if views else None


def _hosts(hosts: tuple[MxHost, ...]) -> Match | None:
    return Match(hosts=hosts) if hosts else None


# ------------------------------------------------------------------------ DNS level


def null_mx(f: Facts) -> Match | None:
    """The domain publishes "0 ." (RFC 7505)."""
    return _when(f.report.resolution.kind is ResolutionKind.NULL_MX)


def could_not_run(f: Facts) -> Match | None:
    """No nameserver answered at all: nothing is known about the domain."""
    return _when(f.could_not_run)


def dns_failed(f: Facts) -> Match | None:
    """The MX lookup failed with an answer (SERVFAIL, REFUSED)."""
    return _when(f.report.resolution.kind is ResolutionKind.FAILED)


def no_route(f: Facts) -> Match | None:
    """NXDOMAIN, or no MX and no address."""
    return _when(f.report.resolution.kind is ResolutionKind.NONE)


def implicit_mx(f: Facts) -> Match | None:
    """No MX: the domain's own address is the mail server."""
    return _when(f.report.resolution.kind is ResolutionKind.IMPLICIT)


# ---------------------------------------------------------------------- route level


def own_port_blocked(f: Facts) -> Match | None:
    """Every delivery-port route silent or locally denied while another port connects."""
    return _when(f.own_port_block, tuple(v for v in f.views if v.delivery))


def mx_not_global(f: Facts) -> Match | None:
    """MX addresses that are not global unicast (loopback, private, ...) were not
    connected to (address policy)."""
    return _views(f.policy_skipped)


def routes_not_attempted(f: Facts) -> Match | None:
    """Routes never attempted because the deadline passed first."""
    return _views(f.deadline_skipped)


def all_mx_unreachable(f: Facts) -> Match | None:
    """Every route of every MX fails at connect with an ICMP unreachable."""
    return _when(f.all_unreachable, f.views)


def mx_not_listening(f: Facts) -> Match | None:
    """Every route of every MX refused (ECONNREFUSED): up, but nothing listens."""
    return _when(f.all_refused, f.views)


def all_routes_refused(f: Facts) -> Match | None:
    """Every route of every MX fails at connect (a mix of refusals and timeouts)."""
    return _when(f.all_no_connect, f.views)


def greeting_deferred(f: Facts) -> Match | None:
    """421 anywhere, 4xx to greeting/EHLO/HELO."""
    return _views(f.failed_in(RouteState.DEFERRED))


def tls_mismatch(f: Facts) -> Match | None:
    """No version/cipher in common, plaintext on an implicit-TLS port, 5xx STARTTLS."""
    return _views(f.failed_in(RouteState.TLS_MISMATCH))


def connection_dropped(f: Facts) -> Match | None:
    """Connected, then closed/reset/timed out, or a transient TLS failure (a stall a
    small-MSS retry proved to be an MTU black hole is ``path-mtu-black-hole``'s)."""
    proven = {id(v) for v in f.mtu_proven}
    return _views(tuple(v for v in f.failed_in(RouteState.DROPPED) if id(v) not in proven))


def path_mtu_black_hole(f: Facts) -> Match | None:
    """A TLS handshake stalled, and the same handshake repeated with a small MSS on
    the same address completed: a path MTU black hole, proven."""
    return _views(f.mtu_proven)


def server_rejected(f: Facts) -> Match | None:
    """5xx greeting, 5xx EHLO and HELO, or a peer that does not speak SMTP."""
    return _views(f.failed_in(RouteState.REJECTED))


def port_blocked(f: Facts) -> Match | None:
    """Connect failures of MX hosts that are not down as a whole."""
    if f.own_port_block:
        return None
    down = set(f.down_hosts)
    return _views(
        tuple(v for v in f.failed_in(RouteState.NO_CONNECT) if v.result.route.mx not in down)
    )


def family_unreachable(f: Facts) -> Match | None:
    """One address family unreachable on the path while the other delivers."""
    return _views(f.family_unreachable)


def no_ipv6_here(f: Facts) -> Match | None:
    """Every IPv6 route ENETUNREACH while IPv4 connects: the prober has no IPv6."""
    return _views(f.no_local_ipv6)


def alt_ports_failing(f: Facts) -> Match | None:
    """Another port of an address fails while its delivery port works (or connects)."""
    return _views(f.alt_only)


# ------------------------------------------------------------------------- MX level


def mx_no_address(f: Facts) -> Match | None:
    """MX target without an address, or written as an IP literal."""
    return _hosts(f.hosts(MxTargetKind.NO_ADDRESS, MxTargetKind.IP_LITERAL))


def mx_cname(f: Facts) -> Match | None:
    """MX target is an alias."""
    return _hosts(f.hosts(MxTargetKind.CNAME))


def mx_lookup_failed(f: Facts) -> Match | None:
    """MX target's address lookups failed."""
    return _hosts(f.hosts(MxTargetKind.LOOKUP_FAILED))


def mx_down(f: Facts) -> Match | None:
    """Some, not all, MX hosts accept no connection anywhere."""
    down = f.down_hosts
    if f.own_port_block or not down or len(down) >= len(f.hosts_with_routes):
        return None
    return Match(tuple(v for v in f.views if v.result.route.mx in down))


def primary_down_secondary_ok(f: Facts) -> Match | None:
    """No delivery-port route of the rank-1 MX works, a secondary's does.

    A primary that accepts nothing on any port is the dead MX the suppressed mx-down
    finding would report: the domain's administrators have something to fix. One
    that fails only on the delivery port asks nothing of anyone yet.
    """
    rank1 = tuple(v for v in f.views if v.delivery and v.result.route.rank == 1)
    if not (
        f.dns_ok
        and bool(f.primaries)
        and all(v.state is not RouteState.OK for v in rank1)
        and any(v.result.route.rank > 1 for v in f.delivery_ok_views)
    ):
        return None
    dead = {h.name for h in f.primaries} & set(f.down_hosts)
    return Match(rank1, f.primaries, action=ActionKind.FIX if dead else ActionKind.NONE)


def nothing_probed(f: Facts) -> Match | None:
    """DNS fine, but no route was attempted."""
    return _when(
        f.dns_ok
        and not f.views
        and not f.hosts(
            MxTargetKind.NO_ADDRESS, MxTargetKind.IP_LITERAL, MxTargetKind.LOOKUP_FAILED
        )
    )


def family_filtered(f: Facts) -> Match | None:
    """An MX has addresses only in a family excluded by -4/-6."""
    return _hosts(f.filtered_hosts)


# -------------------------------------------------------------------- feature / info


def _cert_views(f: Facts) -> tuple[RouteView, ...]:
    return tuple(v for v in f.ok_views if webpki_fails(v.result.tls))


def _sts_cert_views(f: Facts) -> tuple[RouteView, ...]:
    """Delivery-port routes whose certificate an MTA-STS sender rejects (enforce or
    testing): the policy binds every MX delivery (RFC 8461 4.2)."""
    if enforced_mode(f) is None:
        return ()
    return tuple(v for v in _cert_views(f) if v.delivery)


def _results(items: Iterable[TlsRptResult]) -> tuple[TlsRptResult, ...]:
    return tuple(dict.fromkeys(items))


def _cert_match(f: Facts, views: tuple[RouteView, ...], enforced: bool = True) -> Match | None:
    if not views:
        return None
    results = _results([cert_result(v.result.tls) for v in views if v.result.tls is not None])
    senders = impacts(f, Problem.CERT, views)
    return Match(views, (), senders, results, enforced and anyone_fails(senders))


def tls_cert_unverified(f: Facts) -> Match | None:
    """A route works, but its certificate fails verification or does not name the MX
    (routes an MTA-STS policy binds are ``mta-sts-cert-invalid``'s)."""
    taken = set(_sts_cert_views(f))
    return _cert_match(f, tuple(v for v in _cert_views(f) if v not in taken))


def _no_starttls_views(f: Facts) -> tuple[RouteView, ...]:
    return tuple(
        v
        for v in f.ok_views
        if v.result.route.tls_mode is TlsMode.STARTTLS and v.result.starttls_offered is False
    )


def _requires_tls(f: Facts, v: RouteView) -> bool:
    """A delivery-port route whose MX an enforcing sender must reach over TLS: MTA-STS
    enforce, or secure TLSA records (usable, or secure but unusable: RFC 7672 2.2)."""
    if not v.delivery:
        return False
    if enforced_mode(f) is StsMode.ENFORCE:
        return True
    lookup = tlsa_of(f, v.result.route.mx)
    return lookup is not None and (
        lookup.state is DaneState.USABLE
        or (lookup.state is DaneState.NOT_USABLE and lookup.dnssec is DnssecStatus.SECURE)
    )


def _starttls_match(f: Facts, views: tuple[RouteView, ...]) -> Match | None:
    if not views:
        return None
    return Match(
        views, (), impacts(f, Problem.NO_STARTTLS, views), (TlsRptResult.STARTTLS_NOT_SUPPORTED,)
    )


def starttls_not_offered(f: Facts) -> Match | None:
    """A STARTTLS-port route works, but EHLO does not advertise STARTTLS (routes that
    enforcing senders require TLS on are ``starttls-required``'s)."""
    match = _starttls_match(f, tuple(v for v in _no_starttls_views(f) if not _requires_tls(f, v)))
    return None if match is None else replace(match, enforced=anyone_fails(match.senders))


def starttls_required(f: Facts) -> Match | None:
    """No STARTTLS on a delivery-port route while MTA-STS enforces or DANE applies."""
    match = _starttls_match(f, tuple(v for v in _no_starttls_views(f) if _requires_tls(f, v)))
    return None if match is None else replace(match, enforced=defers(match.senders))


def cert_expiring(f: Facts) -> Match | None:
    """A working route's certificate expires within the warning window."""
    return _views(
        tuple(
            v
            for v in f.ok_views
            if v.result.tls is not None
            and v.result.tls.certificate is not None
            and 0 <= v.result.tls.certificate.days_left <= CERT_EXPIRY_WARN_DAYS
        )
    )


def observation_capped(f: Facts) -> Match | None:
    """Some observation was cut at a cap: the report says so."""
    return _when(f.capped)


# ----------------------------------------------------------------- TLS policy


def mta_sts_cert_invalid(f: Facts) -> Match | None:
    """A delivery-port route's certificate fails as an MTA-STS sender judges it (chain to
    a WebPKI root, names the MX host) while the policy's mode is enforce or testing;
    the code applies in enforce mode only."""
    match = _cert_match(f, _sts_cert_views(f))
    return None if match is None else replace(match, enforced=defers(match.senders))


def mta_sts_mx_not_covered(f: Facts) -> Match | None:
    """MX hosts the valid policy's mx patterns do not cover (RFC 8461 4.1)."""
    mode = enforced_mode(f)
    if mode is None:
        return None
    hosts = tuple(h for h in f.report.resolution.hosts if not sts_covers(f, h.name))
    if not hosts:
        return None
    views = tuple(v for v in f.views if v.delivery and v.result.route.mx in {h.name for h in hosts})
    senders = impacts(f, Problem.STS_MX, views, [h.name for h in hosts])
    return Match(views, hosts, senders, (TlsRptResult.VALIDATION_FAILURE,), defers(senders))


def _sts_status(f: Facts, *statuses: StsStatus) -> bool:
    p = f.report.policy
    return p is not None and p.mta_sts.status in statuses


def _sts_policy_match(f: Facts, result: TlsRptResult | None) -> Match:
    return Match(
        senders=impacts(f, Problem.STS_POLICY), results=(result,) if result is not None else ()
    )


def mta_sts_fetch_failed(f: Facts) -> Match | None:
    """The TXT record says MTA-STS, but the policy could not be fetched."""
    if not _sts_status(f, StsStatus.FETCH_ERROR):
        return None
    return _sts_policy_match(f, TlsRptResult.STS_POLICY_FETCH_ERROR)


def mta_sts_webpki_invalid(f: Facts) -> Match | None:
    """The policy host's certificate fails WebPKI validation."""
    if not _sts_status(f, StsStatus.WEBPKI_INVALID):
        return None
    return _sts_policy_match(f, TlsRptResult.STS_WEBPKI_INVALID)


def mta_sts_invalid(f: Facts) -> Match | None:
    """The policy (or the TXT record) is malformed."""
    if _sts_status(f, StsStatus.POLICY_INVALID):
        return _sts_policy_match(f, TlsRptResult.STS_POLICY_INVALID)
    if _sts_status(f, StsStatus.RECORD_INVALID):
        # RFC 8461 3.1: senders treat an invalid record as no policy; nothing to report.
        return _sts_policy_match(f, None)
    return None


def _dane_hosts(f: Facts, *states: DaneState) -> tuple[MxHost, ...]:
    p = f.report.policy
    if p is None:
        return ()
    names = {t.mx.rstrip(".").lower() for t in p.dane if t.state in states}
    return tuple(h for h in f.report.resolution.hosts if h.name.lower() in names)


def dane_bogus(f: Facts) -> Match | None:
    """TLSA (or the MX RRset) failed DNSSEC validation: DANE senders defer."""
    p = f.report.policy
    if p is None:
        return None
    hosts = (
        f.report.resolution.hosts
        if p.mx_dnssec is DnssecStatus.BOGUS
        else _dane_hosts(f, DaneState.BOGUS)
    )
    if not hosts:
        return None
    names = {h.name for h in hosts}
    views = tuple(v for v in f.views if v.delivery and v.result.route.mx in names)
    senders = impacts(f, Problem.DANE_BOGUS, views, [h.name for h in hosts])
    return Match(views, tuple(hosts), senders, (TlsRptResult.DNSSEC_INVALID,), defers(senders))


def dane_mismatch(f: Facts) -> Match | None:
    """A delivery-port route's chain matches none of its MX host's usable TLSA records."""
    views = tuple(
        v
        for v in f.views
        if v.delivery
        and v.result.tls is not None
        and v.result.tls.dane is not None
        and not v.result.tls.dane.matched
    )
    if not views:
        return None
    results = _results(
        [
            (v.result.tls.dane.failure if v.result.tls and v.result.tls.dane else None)
            or TlsRptResult.TLSA_INVALID
            for v in views
        ]
    )
    senders = impacts(f, Problem.DANE_MISMATCH, views)
    return Match(views, (), senders, results, defers(senders))


def dane_not_usable(f: Facts) -> Match | None:
    """TLSA records are published, but the zone is not validated or no record is usable."""
    hosts = _dane_hosts(f, DaneState.NOT_USABLE)
    if not hosts:
        return None
    p = f.report.policy
    assert p is not None
    names = {h.name.lower() for h in hosts}
    secure = any(
        t.dnssec is DnssecStatus.SECURE for t in p.dane if t.mx.rstrip(".").lower() in names
    )
    views = tuple(v for v in f.views if v.delivery and v.result.route.mx.lower() in names)
    return Match(
        views,
        hosts,
        impacts(f, Problem.TLSA_UNUSABLE, views, [h.name for h in hosts]),
        # Secure records none of which is usable: what RFC 8460 calls tlsa-invalid. An
        # unsigned zone's records are not a DANE policy at all: nothing is reported,
        # every sender ignores them, and the verdict does not move.
        (TlsRptResult.TLSA_INVALID,) if secure else (),
        degrades=secure,
    )


def tls_rpt_invalid(f: Facts) -> Match | None:
    """The ``_smtp._tls`` record is published but unusable: senders send no reports."""
    p = f.report.policy
    return _when(p is not None and p.tls_rpt.status is TlsRptStatus.INVALID)


# ---------------------------------------------------------- defences, names, vantage


def greylisted(f: Facts) -> Match | None:
    """A 450/451 naming greylisting: a normal defence, the retry succeeds."""
    return _views(f.greylisted_views)


def greeting_delayed(f: Facts) -> Match | None:
    """The 220 greeting came, but held back for seconds (a tarpit)."""
    return _views(delayed_greetings(f))


def fcrdns_missing(f: Facts) -> Match | None:
    """Probed MX addresses without forward-confirmed reverse DNS."""
    names = unconfirmed_names(f)
    if not names:
        return None
    keys = {(n.mx, n.address) for n in names}
    views = tuple(v for v in f.views if v.delivery and v.key in keys)
    hosts = tuple(h for h in f.report.resolution.hosts if any(h.name == n.mx for n in names))
    return Match(views, hosts)


def host_name_differs(f: Facts) -> Match | None:
    """A delivery-port route's greeting or EHLO names another host than the MX host."""
    return _views(tuple(n.view for n in differing_names(f)))


def _rejected_for_listing(v: RouteView) -> bool:
    """A rejection that is about the client's address: a reply naming a blocklist, or
    a 554 greeting (RFC 5321 3.1: "no SMTP service here" for this client)."""
    rec = v.failure
    if rec is None or rec.outcome is not Outcome.REPLY or rec.reply is None:
        return False
    if rec.reply.hint is ReplyHint.LISTED:
        return True
    return rec.phase is Phase.GREETING and rec.reply.code == 554


def egress_listed(f: Facts) -> Match | None:
    """The probe's own egress address is on a configured blocklist; the routes are the
    rejections that are then about the sender (this vantage point), not the recipient."""
    if not listed_zones(f):
        return None
    return Match(tuple(v for v in f.views if _rejected_for_listing(v)))


def resolver_not_validating(f: Facts) -> Match | None:
    """The resolver in use does not validate DNSSEC: DANE cannot be judged from here."""
    p = f.report.policy
    if p is None or resolver_validates(f) is not False:
        return None
    names = set(tlsa_hosts(f))
    return Match(hosts=tuple(h for h in f.report.resolution.hosts if h.name in names))
