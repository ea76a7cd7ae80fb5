"""Which senders fail: the TLS policy facts the rule predicates read.

Pure. Three kinds of sending MTA treat a TLS problem differently:

* opportunistic senders (RFC 7435) use TLS when offered and accept any certificate; they
  deliver whatever the certificate, and in plaintext without STARTTLS;
* MTA-STS senders (RFC 8461) apply the domain's policy on the delivery port: with mode
  ``enforce`` they do not deliver to an MX host whose certificate does not chain to a
  WebPKI root and name the host, that offers no STARTTLS, or that the policy's mx
  patterns do not cover, and treat it as a temporary failure (RFC 8461 5, 4.1): the
  message is deferred; with ``testing`` they deliver and report (RFC 8460);
* DANE senders (RFC 7672) require TLS to an MX host with secure TLSA records and a chain
  that matches one of the usable records; a TLSA lookup that fails validation, or a
  chain that matches no record, makes them defer (RFC 7672 2.1.1, 2.2, 3.1). Secure
  TLSA records none of which is usable still oblige TLS, without authentication
  (RFC 7672 2.2).

The RFC 8460 result type a sender's TLS report carries for each problem comes from the
same typed observations (``TlsReason``, :class:`~smtpdiag.model.DaneCheck`,
:class:`~smtpdiag.model.StsStatus`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from enum import StrEnum

from ..model import (
    DaneState,
    DnssecStatus,
    SenderImpact,
    SenderKind,
    SenderOutcome,
    StsMode,
    StsStatus,
    TlsaLookup,
    TlsInfo,
    TlsPolicy,
    TlsReason,
    TlsRptResult,
)
from .facts import Facts, RouteView

__all__ = [
    "Problem",
    "anyone_fails",
    "cert_result",
    "defers",
    "enforced_mode",
    "impacts",
    "sts_covers",
    "tlsa_of",
    "verifying_defers",
    "webpki_fails",
]


class Problem(StrEnum):
    """What is wrong, as the sender sees it (each has its own consequences)."""

    CERT = "cert"  #: the certificate fails WebPKI validation or does not name the MX
    NO_STARTTLS = "no-starttls"  #: EHLO offers no STARTTLS
    DANE_MISMATCH = "dane-mismatch"  #: no usable TLSA record matches the chain
    DANE_BOGUS = "dane-bogus"  #: the TLSA (or MX) lookup failed DNSSEC validation
    TLSA_UNUSABLE = "tlsa-unusable"  #: TLSA records present, none usable
    STS_MX = "sts-mx"  #: the MX host is not covered by the policy's mx patterns
    STS_POLICY = "sts-policy"  #: the policy could not be fetched, or is invalid


#: Worse first: a finding states each sender's worst outcome over its routes.
_RANK = {
    SenderOutcome.DEFER: 0,
    SenderOutcome.OTHER_MX: 1,
    SenderOutcome.REPORT: 2,
    SenderOutcome.DELIVER: 3,
    SenderOutcome.UNKNOWN: 4,
    SenderOutcome.NOT_APPLICABLE: 5,
}


def _policy(f: Facts) -> TlsPolicy | None:
    return f.report.policy


def enforced_mode(f: Facts) -> StsMode | None:
    """The MTA-STS mode senders apply: ``enforce`` or ``testing`` from a valid policy."""
    p = _policy(f)
    mode = p.mta_sts.mode if p is not None else None
    return mode if mode in (StsMode.ENFORCE, StsMode.TESTING) else None


def sts_covers(f: Facts, mx: str) -> bool:
    """The valid policy's mx patterns cover ``mx`` (RFC 8461 4.1)."""
    p = _policy(f)
    if p is None:
        return False
    return any(m.mx == mx and m.pattern is not None for m in p.mta_sts.matches)


def tlsa_of(f: Facts, mx: str) -> TlsaLookup | None:
    """The TLSA lookup of MX host ``mx`` (on the delivery port), if one was made."""
    p = _policy(f)
    if p is None:
        return None
    key = mx.rstrip(".").lower()
    for lookup in p.dane:
        if lookup.mx.rstrip(".").lower() == key:
            return lookup
    return None


def webpki_fails(tls: TlsInfo | None) -> bool:
    """A completed handshake whose certificate does not verify or does not name the MX."""
    return (
        tls is not None
        and tls.version is not None
        and (not tls.verified or tls.hostname_match is False)
    )


def cert_result(tls: TlsInfo) -> TlsRptResult:
    """How a TLS report names a certificate that fails WebPKI validation (RFC 8460 4.3.1)."""
    reason = tls.verify_reason
    if reason is TlsReason.CERT_EXPIRED:
        return TlsRptResult.CERTIFICATE_EXPIRED
    if tls.verified and tls.hostname_match is False:
        return TlsRptResult.CERTIFICATE_HOST_MISMATCH
    if reason is TlsReason.CERT_WRONG_NAME:
        return TlsRptResult.CERTIFICATE_HOST_MISMATCH
    if reason is TlsReason.CERT_UNTRUSTED:
        return TlsRptResult.CERTIFICATE_NOT_TRUSTED
    return TlsRptResult.VALIDATION_FAILURE


# ------------------------------------------------------------------ per sender


def _sts(f: Facts, delivery: bool, problem: Problem) -> SenderImpact:
    p = _policy(f)
    if p is None:
        return SenderImpact(SenderKind.MTA_STS, SenderOutcome.UNKNOWN)
    sts = p.mta_sts
    status = sts.status
    if status in (StsStatus.NOT_CHECKED, StsStatus.DNS_ERROR):
        return SenderImpact(SenderKind.MTA_STS, SenderOutcome.UNKNOWN)
    if status in (StsStatus.FETCH_ERROR, StsStatus.WEBPKI_INVALID, StsStatus.POLICY_INVALID):
        # RFC 8461 3.3/5.1: without a valid policy (and none cached) the sender delivers
        # as if the domain had none.
        outcome = (
            SenderOutcome.DELIVER if problem is Problem.STS_POLICY else SenderOutcome.NOT_APPLICABLE
        )
        return SenderImpact(SenderKind.MTA_STS, outcome)
    mode = enforced_mode(f)
    if status is not StsStatus.VALID or mode is None:
        return SenderImpact(SenderKind.MTA_STS, SenderOutcome.NOT_APPLICABLE, sts.mode)
    if not delivery or problem not in (Problem.CERT, Problem.NO_STARTTLS, Problem.STS_MX):
        # MTA-STS binds MX delivery only, and does not read TLSA records.
        return SenderImpact(SenderKind.MTA_STS, SenderOutcome.NOT_APPLICABLE, mode)
    # An MX host the patterns do not cover is refused in enforce mode whatever its
    # certificate (RFC 8461 4.1), so coverage does not change the outcome here.
    outcome = SenderOutcome.DEFER if mode is StsMode.ENFORCE else SenderOutcome.REPORT
    return SenderImpact(SenderKind.MTA_STS, outcome, mode)


def _dane(f: Facts, view: RouteView | None, mx: str | None, problem: Problem) -> SenderImpact:
    p = _policy(f)
    if p is None:
        return SenderImpact(SenderKind.DANE, SenderOutcome.UNKNOWN)
    if p.mx_dnssec is DnssecStatus.BOGUS:
        return SenderImpact(SenderKind.DANE, SenderOutcome.DEFER)
    if problem in (Problem.STS_MX, Problem.STS_POLICY):
        return SenderImpact(SenderKind.DANE, SenderOutcome.NOT_APPLICABLE)
    if view is not None and not view.delivery:
        return SenderImpact(SenderKind.DANE, SenderOutcome.NOT_APPLICABLE)
    lookup = tlsa_of(f, mx) if mx is not None else None
    if lookup is None:
        return SenderImpact(SenderKind.DANE, SenderOutcome.UNKNOWN)
    state = lookup.state
    if state is DaneState.NONE:
        return SenderImpact(SenderKind.DANE, SenderOutcome.NOT_APPLICABLE)
    if state is DaneState.UNKNOWN:
        return SenderImpact(SenderKind.DANE, SenderOutcome.UNKNOWN)
    if state is DaneState.BOGUS:
        return SenderImpact(SenderKind.DANE, SenderOutcome.DEFER)
    if state is DaneState.NOT_USABLE:
        # Secure but unusable records still require TLS (RFC 7672 2.2); an unsigned
        # zone's records are ignored: opportunistic TLS.
        mandatory_tls = lookup.dnssec is DnssecStatus.SECURE
        if problem is Problem.NO_STARTTLS and mandatory_tls:
            return SenderImpact(SenderKind.DANE, SenderOutcome.DEFER)
        return SenderImpact(SenderKind.DANE, SenderOutcome.DELIVER)
    # usable
    if problem in (Problem.NO_STARTTLS, Problem.DANE_MISMATCH, Problem.DANE_BOGUS):
        return SenderImpact(SenderKind.DANE, SenderOutcome.DEFER)
    check = view.result.tls.dane if view is not None and view.result.tls is not None else None
    if check is None:
        return SenderImpact(SenderKind.DANE, SenderOutcome.UNKNOWN)
    # DANE authenticates by the TLSA match alone: WebPKI does not matter (RFC 7672 3.1).
    return SenderImpact(
        SenderKind.DANE, SenderOutcome.DELIVER if check.matched else SenderOutcome.DEFER
    )


def _verifying(view: RouteView | None, problem: Problem) -> SenderImpact:
    """A sender that verifies certificates by its own local policy (Postfix
    ``verify``/``secure``, Exim ``tls_verify_hosts``) defers on a certificate that does
    not verify or name the MX, and on a route without STARTTLS; it ignores the domain's
    published policies."""
    if view is not None and not view.delivery:
        return SenderImpact(SenderKind.VERIFYING, SenderOutcome.NOT_APPLICABLE)
    if problem in (Problem.CERT, Problem.NO_STARTTLS):
        return SenderImpact(SenderKind.VERIFYING, SenderOutcome.DEFER)
    return SenderImpact(SenderKind.VERIFYING, SenderOutcome.NOT_APPLICABLE)


def _verify_passes(f: Facts, view: RouteView) -> bool:
    """A verifying sender delivers over this working delivery route: TLS negotiated and
    the certificate verifies and names the MX host."""
    return _tls_done(view) and not webpki_fails(view.result.tls)


def _tls_done(view: RouteView) -> bool:
    tls = view.result.tls
    return tls is not None and tls.version is not None


def _sts_passes(f: Facts, view: RouteView) -> bool:
    """An enforcing MTA-STS sender delivers over this working delivery route: the policy
    covers its MX host, TLS was negotiated and the certificate passes WebPKI."""
    return (
        sts_covers(f, view.result.route.mx)
        and _tls_done(view)
        and not webpki_fails(view.result.tls)
    )


def _dane_passes(f: Facts, view: RouteView) -> bool:
    """A DANE sender delivers over this working delivery route: no TLSA records (or
    ignored ones: opportunistic), TLS where secure records oblige it, a TLSA match where
    usable records exist."""
    if _policy_mx_bogus(f):
        return False  # no MX host can be trusted: nothing to fall back on
    lookup = tlsa_of(f, view.result.route.mx)
    if lookup is None or lookup.state is DaneState.NONE:
        return True
    if lookup.state is DaneState.NOT_USABLE:
        return lookup.dnssec is not DnssecStatus.SECURE or _tls_done(view)
    if lookup.state is DaneState.USABLE:
        tls = view.result.tls
        return tls is not None and tls.dane is not None and tls.dane.matched
    return False  # bogus or unknown: not a host the sender can use


def _elsewhere(
    f: Facts, impact: SenderImpact, hosts: set[str], routes: set[tuple[str, int]]
) -> SenderImpact:
    """A sender that would defer on the MX ``hosts`` and the (address, port) ``routes``
    concerned tries the next address of the host, then the next MX host (RFC 5321 5.1,
    RFC 8461 5, RFC 7672 2.2, and Postfix's behaviour after a failed TLS check): when
    one of the others passes its checks, the message is delivered there and nothing is
    deferred."""
    if impact.outcome is not SenderOutcome.DEFER:
        return impact
    passes = {
        SenderKind.MTA_STS: _sts_passes,
        SenderKind.DANE: _dane_passes,
        SenderKind.VERIFYING: _verify_passes,
    }[impact.sender]
    for v in f.ok_views:
        route = v.result.route
        if (
            v.delivery
            and route.mx not in hosts
            and (route.address, route.port) not in routes
            and passes(f, v)
        ):
            return SenderImpact(impact.sender, SenderOutcome.OTHER_MX, impact.mode)
    return impact


#: Senders that apply a policy the domain itself publishes (MTA-STS, DANE).
_PUBLISHED = frozenset({SenderKind.MTA_STS, SenderKind.DANE})


def defers(senders: Iterable[SenderImpact]) -> bool:
    """Some kind of sender applying the domain's own published policy (MTA-STS, DANE)
    defers the message (an :class:`~.table.Enforced` code then applies)."""
    return any(s.outcome is SenderOutcome.DEFER and s.sender in _PUBLISHED for s in senders)


def verifying_defers(senders: Iterable[SenderImpact]) -> bool:
    """A sender verifying by local policy defers (and no other MX host passes)."""
    return any(
        s.outcome is SenderOutcome.DEFER and s.sender is SenderKind.VERIFYING for s in senders
    )


def anyone_fails(senders: Iterable[SenderImpact]) -> bool:
    """Some kind of sender defers: the finding affects a sender."""
    return any(s.outcome is SenderOutcome.DEFER for s in senders)


def _worst(items: Iterable[SenderImpact]) -> SenderImpact | None:
    best: SenderImpact | None = None
    for item in items:
        if best is None or _RANK[item.outcome] < _RANK[best.outcome]:
            best = item
    return best


_Target = tuple[RouteView | None, str | None, bool]


def _targets(views: Sequence[RouteView], hosts: Sequence[str]) -> list[_Target]:
    """(route view, MX host, on the delivery port) for each route and each named host;
    one target of nothing for a domain-wide problem."""
    targets: list[_Target] = [(v, v.result.route.mx, v.delivery) for v in views]
    targets += [(None, h, True) for h in hosts]
    return targets or [(None, None, True)]


def _seen(targets: Sequence[_Target]) -> set[tuple[str, int]]:
    """The (address, port) of every route among the targets."""
    return {(v.result.route.address, v.result.route.port) for v, _, _ in targets if v}


def _without_policy(
    f: Facts, problem: Problem, targets: Sequence[_Target]
) -> tuple[SenderImpact, ...]:
    """Policy lookups off: only the opportunistic and the verifying sender are judged."""
    verifying = _worst(_verifying(view, problem) for view, _, _ in targets)
    assert verifying is not None
    seen = _seen(targets)
    if seen:
        verifying = _elsewhere(f, verifying, set(), seen)
    if verifying.outcome is SenderOutcome.NOT_APPLICABLE:
        return ()
    return (SenderImpact(SenderKind.OPPORTUNISTIC, SenderOutcome.DELIVER), verifying)


def impacts(
    f: Facts,
    problem: Problem,
    views: Sequence[RouteView] = (),
    hosts: Sequence[str] = (),
) -> tuple[SenderImpact, ...]:
    """What each kind of sender does about ``problem`` on ``views`` (or, for DNS-level
    problems, on MX ``hosts``): the worst outcome over them, opportunistic first.
    When policy lookups were off nothing is known about the published policies: then
    only the opportunistic and the verifying sender (which read none) are judged."""
    targets = _targets(views, hosts)
    if _policy(f) is None:
        return _without_policy(f, problem, targets)
    sts = _worst(_sts(f, delivery, problem) for _, _, delivery in targets)
    dane = _worst(_dane(f, view, mx, problem) for view, mx, _ in targets)
    verifying = _worst(_verifying(view, problem) for view, _, _ in targets)
    assert sts is not None and dane is not None and verifying is not None
    # A problem seen on a route concerns that address; one of a DNS name (an MX host
    # the policy does not cover, its TLSA records) concerns every address of the host.
    named = {mx for view, mx, _ in targets if view is None and mx is not None}
    seen = _seen(targets)
    if named or seen:
        sts, dane = _elsewhere(f, sts, named, seen), _elsewhere(f, dane, named, seen)
        verifying = _elsewhere(f, verifying, named, seen)
    return (
        SenderImpact(SenderKind.OPPORTUNISTIC, SenderOutcome.DELIVER),
        sts,
        dane,
        verifying,
    )


def _policy_mx_bogus(f: Facts) -> bool:
    p = _policy(f)
    return p is not None and p.mx_dnssec is DnssecStatus.BOGUS
