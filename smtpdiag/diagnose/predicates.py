"""Named predicates over :class:`~smtpdiag.diagnose.facts.Facts`, one per rule.

Each returns a :class:`Match` (the routes and hosts it is about) or ``None`` when the
rule does not apply. Predicates decide; they never write a sentence.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..model import MxHost, MxTargetKind, ResolutionKind
from .facts import CERT_EXPIRY_WARN_DAYS, Facts, RouteState, RouteView

__all__ = [
    "Match",
    "all_mx_unreachable",
    "all_routes_refused",
    "alt_ports_failing",
    "cert_expiring",
    "connection_dropped",
    "could_not_run",
    "dns_failed",
    "family_filtered",
    "family_unreachable",
    "greeting_deferred",
    "implicit_mx",
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
    "port_blocked",
    "primary_down_secondary_ok",
    "routes_not_attempted",
    "server_rejected",
    "starttls_not_offered",
    "tls_cert_unverified",
    "tls_mismatch",
]


@dataclass(frozen=True, slots=True)
class Match:
    """What a rule matched.

    Attributes:
        views: The routes the finding is about (may be empty for DNS-level rules).
        hosts: The MX hosts it is about.
    """

    views: tuple[RouteView, ...] = ()
    hosts: tuple[MxHost, ...] = ()


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
    """Connected, then closed/reset/timed out, or a transient TLS failure."""
    return _views(f.failed_in(RouteState.DROPPED))


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
    """No delivery-port route of the rank-1 MX works, a secondary's does."""
    rank1 = tuple(v for v in f.views if v.delivery and v.result.route.rank == 1)
    return _when(
        f.dns_ok
        and bool(f.primaries)
        and all(v.state is not RouteState.OK for v in rank1)
        and any(v.result.route.rank > 1 for v in f.delivery_ok_views),
        rank1,
        f.primaries,
    )


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


def tls_cert_unverified(f: Facts) -> Match | None:
    """A route works, but its certificate fails verification or does not name the MX."""
    return _views(
        tuple(
            v
            for v in f.ok_views
            if v.result.tls is not None
            and v.result.tls.version is not None
            and (not v.result.tls.verified or v.result.tls.hostname_match is False)
        )
    )


def starttls_not_offered(f: Facts) -> Match | None:
    """A STARTTLS-port route works, but EHLO does not advertise STARTTLS."""
    from ..model import TlsMode

    return _views(
        tuple(
            v
            for v in f.ok_views
            if v.result.route.tls_mode is TlsMode.STARTTLS and v.result.starttls_offered is False
        )
    )


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
