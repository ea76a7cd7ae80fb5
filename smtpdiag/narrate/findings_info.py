"""Narrators of the feature and info rules (mail flows), and of ``healthy``."""

from __future__ import annotations

from collections.abc import Sequence

from ..diagnosis.facts import Facts, RouteState, RouteView
from ..diagnosis.predicates import Match
from ..model import (
    Action,
    ActionKind,
    AddressFamily,
    Evidence,
    FindingPayload,
    Outcome,
    Phase,
    TlsMode,
    TlsReason,
)
from .actions import make_steps
from .common import (
    Draft,
    alt_ports_step,
    cert_facts,
    describe,
    draft,
    evidence,
    in_probe_order,
    routes_brief,
    tls_step,
    verify_text,
)
from .findings_policy import results_text, who_fails
from .units import join, plural, ports_word

__all__ = [
    "alt_ports_failing",
    "cert_expiring",
    "cert_unverified",
    "healthy",
    "no_ipv6_here",
    "observation_capped",
    "routes_not_attempted",
    "starttls_missing",
]


def _unverified_why(v: RouteView) -> list[str]:
    """What a verifying sender objects to on one route (a wrong name is said once)."""
    t = v.result.tls
    assert t is not None
    wrong_name = t.verify_reason is TlsReason.CERT_WRONG_NAME
    why = []
    if not t.verified and not wrong_name:
        why.append(f"verification failed: {verify_text(t, v.result.route.mx)}")
    if t.hostname_match is False or wrong_name:
        why.append(f"the certificate does not name {v.result.route.mx}")
    return why


def _cert_notes(views: Sequence[RouteView]) -> list[Evidence]:
    """One note per distinct certificate the routes presented, in first-seen order."""
    certs: dict[str, str] = {}
    for v in views:
        cert = v.result.tls.certificate if v.result.tls else None
        if cert is not None:
            certs.setdefault(cert.sha256, cert_facts(cert) or "")
    return [Evidence(note=text) for text in certs.values()]


def _who(m: Match, *, plaintext: bool = False) -> str:
    # Without policy lookups nothing is known about who enforces: the caller's general words.
    if not m.senders:
        return ""
    parts = (who_fails(m.senders, plaintext=plaintext), results_text(m.results))
    return " ".join(x for x in parts if x)


def _unverified_steps(f: Facts, views: Sequence[RouteView]) -> dict[str, str]:
    done = {
        "test-connection": join(describe(v) for v in views),
        "check-tls": tls_step(views) or "",
    }
    alt = alt_ports_step(f, views)
    if alt is not None:
        done["alternative-ports"] = alt
    return done


def _tls_reasons(views: Sequence[RouteView]) -> tuple[TlsReason, ...]:
    return tuple(
        dict.fromkeys(
            v.result.tls.verify_reason for v in views if v.result.tls and v.result.tls.verify_reason
        )
    )


def cert_unverified(f: Facts, m: Match) -> Draft:
    views = list(m.views)
    whys = [_unverified_why(v) for v in views]
    reasons = sorted({reason for why in whys for reason in why})
    ev = [evidence(v, "; ".join(why)) for v, why in zip(views, whys, strict=True)]
    return draft(
        f"TLS works on {routes_brief(views)}, but {'; '.join(reasons)}. "
        + (
            _who(m)
            or "Opportunistic senders deliver anyway (RFC 7435); senders that verify "
            "certificates defer (Postfix logs 4.7.5)."
        ),
        [*ev, *_cert_notes(views)],
        # Every route connects: firewall, IP blocking and other ports are not the cause.
        steps=make_steps("5.4.2", _unverified_steps(f, views), only=("contact-support",)),
        title="Certificate not verified",
        action=Action(
            ActionKind.FIX,
            "The recipient's administrators should install a certificate that verifies "
            "and names the MX host.",
        ),
        payload=FindingPayload(
            routes=tuple(v.label for v in views),
            tls_reasons=_tls_reasons(views),
        ),
    )


def starttls_missing(f: Facts, m: Match) -> Draft:
    views = list(m.views)
    who = _who(m, plaintext=True)
    return draft(
        f"{routes_brief(views)} {'does' if len(views) == 1 else 'do'} not offer STARTTLS "
        "(RFC 3207): mail to it travels unencrypted"
        + (f". {who}" if who else ", and senders that require TLS defer or bounce."),
        [
            Evidence(
                mx=v.result.route.mx,
                address=v.result.route.address,
                port=v.result.route.port,
                phase=Phase.EHLO,
                outcome=Outcome.OK,
                note="EHLO keywords: " + (" ".join(v.result.extensions) or "none"),
            )
            for v in views
        ],
        action=Action(ActionKind.FIX, "The recipient's administrators should enable STARTTLS."),
        title="STARTTLS not offered",
    )


def cert_expiring(f: Facts, m: Match) -> Draft:
    views = list(m.views)
    days = min(
        v.result.tls.certificate.days_left
        for v in views
        if v.result.tls and v.result.tls.certificate
    )
    return draft(
        f"The TLS certificate of {routes_brief(views)} expires in {plural(days, 'day')}.",
        [
            evidence(v, cert_facts(v.result.tls.certificate if v.result.tls else None))
            for v in views
        ],
        action=Action(ActionKind.NONE, "The recipient should renew the certificate in time."),
        title="Certificate expires soon",
    )


def alt_ports_failing(f: Facts, m: Match) -> Draft:
    views = list(m.views)
    delivery_ok = all(
        o.state is RouteState.OK
        for v in views
        for o in f.views
        if o.delivery
        and (o.result.route.mx, o.result.route.address)
        == (v.result.route.mx, v.result.route.address)
    )
    return draft(
        f"Port {f.delivery_port} {'works' if delivery_ok else 'answers'}; other ports fail "
        "on the same addresses "
        f"({join((describe(v) for v in views), 4)}). An MX need not offer submission "
        "ports (587/465), so this does not affect delivery.",
        [evidence(v) for v in views],
        title="Alternative ports not available",
    )


def no_ipv6_here(f: Facts, m: Match) -> Draft:
    views = list(m.views)
    return draft(
        f"The IPv6 routes ({routes_brief(views)}) could not be tried: this network has no "
        "IPv6 route (network unreachable), while IPv4 connects. This says nothing about "
        "the destination's IPv6; probe from an IPv6-capable network, or use -4.",
        [evidence(v) for v in views],
        title="No IPv6 from the prober's network",
    )


def healthy(f: Facts, m: Match) -> Draft:
    hosts = f.hosts_with_routes
    delivery = [v for v in f.views if v.delivery]
    ev = [evidence(v) for v in delivery]
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
        others = in_probe_order(f, (v.result.route.port for v in f.views if not v.delivery))
        good = len(f.ok_views)
        summary += (
            f" With {ports_word(others)} as well, {good} of {plural(len(f.views), 'route')} "
            f"{'works' if good == 1 else 'work'}."
        )
    verified = _verified_line(f, delivery)
    if verified:
        summary += f" Verified: {verified}."
    return draft(summary, ev, title="Healthy")


def _verified_line(f: Facts, delivery: list[RouteView]) -> str:
    """What the probe verified on the delivery routes: STARTTLS, TLS version, the
    certificate (trusted, naming the MX), IPv6."""
    return ", ".join([*_tls_parts(f, delivery), _ipv6_part(f, delivery)])


def _tls_parts(f: Facts, delivery: list[RouteView]) -> list[str]:
    parts = []
    starttls = [
        v
        for v in delivery
        if v.result.route.tls_mode is TlsMode.STARTTLS and v.result.starttls_offered
    ]
    if starttls:
        parts.append(f"STARTTLS on port {f.delivery_port} ({plural(len(starttls), 'route')})")
    elif any(v.result.route.tls_mode is TlsMode.IMPLICIT for v in delivery):
        parts.append(f"implicit TLS on port {f.delivery_port}")
    tls = [v.result.tls for v in delivery if v.result.tls and v.result.tls.version]
    versions = sorted({t.version for t in tls if t.version})
    if versions:
        parts.append("/".join(versions))
    if tls and all(t.verified and t.hostname_match is not False for t in tls):
        parts.append("certificate trusted and naming the MX")
    return parts


def _ipv6_part(f: Facts, delivery: list[RouteView]) -> str:
    v6 = [v for v in delivery if v.result.route.family is AddressFamily.IPV6]
    if v6:
        return f"IPv6 reached ({plural(len(v6), 'route')})"
    if AddressFamily.IPV6 not in f.report.families:
        return "IPv6 not probed"
    return "no IPv6 address published"


def routes_not_attempted(f: Facts, m: Match) -> Draft:
    views = list(m.views)
    return draft(
        f"{plural(len(views), 'route')} ({routes_brief(views)}) "
        f"{'was' if len(views) == 1 else 'were'} not attempted: the overall deadline passed "
        "before their turn. Nothing is known about them; this is no evidence against the "
        "server. Probe again with a longer --timeout to test them.",
        [
            Evidence(
                mx=v.result.route.mx,
                address=v.result.route.address,
                port=v.result.route.port,
                phase=v.failure.phase if v.failure else None,
                outcome=Outcome.NOT_ATTEMPTED,
                note=f"skip reason: {v.skip_reason or 'unknown'}",
            )
            for v in views
        ],
        action=Action(ActionKind.NONE, "Probe again with a longer --timeout to test these routes."),
        title="Routes not attempted (deadline)",
        payload=FindingPayload(
            routes=tuple(v.label for v in views),
            skip_reasons=tuple(dict.fromkeys(v.skip_reason for v in views if v.skip_reason)),
        ),
    )


def observation_capped(f: Facts, m: Match) -> Draft:
    res = f.report.resolution
    lines = []
    if res.hosts_omitted:
        lines.append(
            f"{plural(res.hosts_omitted, 'MX host')} beyond the cap of {len(res.hosts)} "
            "not resolved nor probed"
        )
    for h in res.hosts:
        if h.addresses_omitted:
            lines.append(
                f"{h.name}: {plural(h.addresses_omitted, 'address', 'addresses')} beyond the "
                f"cap of {len(h.addresses)} not listed nor probed"
            )
    seen: set[str] = set()
    for v in f.views:
        t = v.result.tls
        if t is None:
            continue
        cert = t.certificate
        if cert is not None and cert.sans_omitted and cert.sha256 not in seen:
            seen.add(cert.sha256)
            lines.append(
                f"{v.result.route.mx}: certificate lists {plural(cert.sans_omitted, 'more SAN')} "
                f"than the {len(cert.sans)} kept"
            )
        if t.chain_truncated and v.label not in seen:
            seen.add(v.label)
            lines.append(
                f"{v.label}: the server sent more certificates than the {t.chain_length} kept; "
                "the chain was cut"
            )
    return draft(
        f"Some observations were cut at the probe's limits: {join(lines, 6)}.",
        [Evidence(note=line) for line in lines],
        title="Observations cut at limits",
    )
