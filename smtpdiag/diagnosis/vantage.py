"""Facts about defences, names and the prober's own side (pure).

What the informational rules read: greylisting replies and held-back greetings (normal
defences), the MX addresses' reverse DNS and the names the servers announce, the
probe's own blocklistings and whether its resolver validates DNSSEC. Typed values
only: the reply text was classified by the probe (:attr:`SmtpReply.hint`), the names
extracted there (:attr:`RouteResult.greeting_name`, ``ehlo_name``).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..certmatch import label_match
from ..limits import GREETING_S
from ..model import (
    AddressNames,
    DaneState,
    DnsOutcome,
    DnssecStatus,
    FcrdnsStatus,
    ListingStatus,
    Outcome,
    Phase,
)
from .facts import Facts, RouteView

__all__ = [
    "GREETING_DELAY_S",
    "NameView",
    "delayed_greetings",
    "differing_names",
    "listed_zones",
    "resolver_validates",
    "tlsa_hosts",
    "unconfirmed_names",
]

#: A 220 greeting that took at least this long (seconds) was held back on purpose (a
#: tarpit, Sendmail's greet_pause, Exim's delay in the connect ACL, ...): the health
#: check's warning limit for the greeting, one definition (:mod:`smtpdiag.limits`).
GREETING_DELAY_S = GREETING_S[0]


@dataclass(frozen=True, slots=True)
class NameView:
    """The names one delivery-port route's server uses, next to the MX host name.

    Attributes:
        view: The route.
        greeting_differs: The greeting names a host other than the MX host.
        ehlo_differs: The EHLO (or HELO) reply names a host other than the MX host.
        cert_names_greeting: The certificate names the greeting's (or EHLO's) host
            name although it does not name the MX host: what a strict sender that
            checks the MX name sees as a certificate name mismatch.
    """

    view: RouteView
    greeting_differs: bool
    ehlo_differs: bool
    cert_names_greeting: bool


def delayed_greetings(f: Facts) -> tuple[RouteView, ...]:
    """Routes whose 220 greeting came, but only after :data:`GREETING_DELAY_S`."""
    out = []
    for v in f.views:
        rec = v.result.phase(Phase.GREETING)
        if (
            rec is not None
            and rec.outcome is Outcome.OK
            and rec.duration_ms >= GREETING_DELAY_S * 1000.0
        ):
            out.append(v)
    return tuple(out)


def unconfirmed_names(f: Facts) -> tuple[AddressNames, ...]:
    """Probed MX addresses without forward-confirmed reverse DNS (no PTR, or no PTR
    name resolving back to the address)."""
    probed = {(v.result.route.mx, v.result.route.address) for v in f.views}
    return tuple(
        n
        for n in f.report.names
        if (n.mx, n.address) in probed and n.fcrdns in (FcrdnsStatus.NO_PTR, FcrdnsStatus.MISMATCH)
    )


def differing_names(f: Facts) -> tuple[NameView, ...]:
    """Delivery-port routes whose greeting or EHLO reply names another host than the
    MX host (address literals included: they name no host)."""
    out = []
    for v in f.views:
        r = v.result
        if not v.delivery:
            continue
        mx = r.route.mx.rstrip(".").lower()
        names = [n for n in (r.greeting_name, r.ehlo_name) if n is not None and n != mx]
        if not names:
            continue
        cert = r.tls.certificate if r.tls is not None else None
        explains = (
            cert is not None
            and r.tls is not None
            and r.tls.hostname_match is False
            and any(label_match(san.rstrip(".").lower(), n) for san in cert.sans for n in names)
        )
        out.append(
            NameView(
                v,
                r.greeting_name is not None and r.greeting_name != mx,
                r.ehlo_name is not None and r.ehlo_name != mx,
                explains,
            )
        )
    return tuple(out)


def listed_zones(f: Facts) -> tuple[str, ...]:
    """Configured blocklist zones that list one of the probe's egress addresses."""
    vantage = f.report.vantage
    if vantage is None:
        return ()
    return tuple(
        dict.fromkeys(b.zone for b in vantage.blocklists if b.status is ListingStatus.LISTED)
    )


def resolver_validates(f: Facts) -> bool | None:
    """Whether the resolver in use validates DNSSEC: ``True`` when any answer of this
    probe carried the AD bit (the root's SOA, the MX RRset, a TLSA or address lookup),
    ``False`` when the root's SOA (signed) came back without it, ``None`` when it is
    not known (policy lookups off, no answer)."""
    p = f.report.policy
    if p is not None and (
        p.mx_dnssec is DnssecStatus.SECURE
        or any(DnssecStatus.SECURE in (t.dnssec, t.address_dnssec) for t in p.dane)
    ):
        return True
    vantage = f.report.vantage
    check = vantage.resolver if vantage is not None else None
    if check is None or check.query.outcome is not DnsOutcome.OK:
        return None
    return check.authenticated


def tlsa_hosts(f: Facts) -> tuple[str, ...]:
    """MX hosts that publish TLSA records (whatever their DNSSEC status)."""
    p = f.report.policy
    if p is None:
        return ()
    return tuple(dict.fromkeys(t.mx for t in p.dane if t.state is not DaneState.NONE and t.records))
