"""Narrators of the DNS- and MX-level rules: the finding's words from its match."""

from __future__ import annotations

from collections.abc import Sequence

from ..diagnosis.facts import Facts, RouteState, RouteView
from ..diagnosis.predicates import Match
from ..model import (
    Action,
    ActionKind,
    AddressClass,
    DnsOutcome,
    Evidence,
    FindingPayload,
    MxHost,
    MxTargetKind,
    RuleId,
)
from .actions import make_action, make_steps
from .common import (
    Draft,
    draft,
    evidence,
    filter_reason,
    filtered_note,
    host_line,
    host_outcome,
    q_evidence,
    routes_brief,
    state_word,
    steps_543,
)
from .units import join, plural

__all__ = [
    "could_not_run",
    "dns_failed",
    "family_filtered",
    "implicit",
    "mx_cname",
    "mx_down",
    "mx_lookup_failed",
    "mx_no_address",
    "mx_not_global",
    "no_route",
    "nothing_probed",
    "null_mx",
    "primary_down",
]


def null_mx(f: Facts, m: Match) -> Draft:
    domain = f.report.resolution.domain
    return draft(
        f"{domain} publishes a null MX ('0 .', RFC 7505): it accepts no mail; every "
        "address at it bounces with 5.1.10.",
        [q_evidence(f.report.resolution.mx_query, "answer '0 .' (RFC 7505 section 3)")],
        action=Action(
            ActionKind.SUPPRESS,
            "The domain accepts no mail: never retry, suppress every address at "
            f"{domain} (RFC 7505).",
        ),
    )


def dns_failed(f: Facts, m: Match) -> Draft:
    q = f.report.resolution.mx_query
    domain = f.report.resolution.domain
    failing = [x for x in f.report.resolution.queries if x.outcome is not DnsOutcome.OK] or [q]
    return draft(
        f"The MX lookup for {domain} failed ({q.outcome.value}): a transient DNS "
        "(directory server) failure, not a hard bounce. Retry; nothing is known about "
        "the mail servers yet.",
        [q_evidence(x) for x in failing],
        action=make_action("4.4.3", f),
        neighbours=("5.4.3",),
    )


def no_route(f: Facts, m: Match) -> Draft:
    res = f.report.resolution
    q = res.mx_query
    why = (
        "the domain does not exist (NXDOMAIN)"
        if q.outcome is DnsOutcome.NXDOMAIN
        else "it has no MX record and no address record (no implicit MX, RFC 5321 5.1)"
    )
    return draft(
        f"No mail route to {res.domain}: {why}. MTAs bounce this as 5.4.4 (unable to "
        "route); the 5.4.3 guide's cause 'DNS records point at servers that no longer "
        "exist' is the nearest explanation.",
        [q_evidence(x) for x in res.queries],
        action=make_action("5.4.4", f),
        neighbours=("5.1.2", "5.4.3"),
    )


def _no_address_evidence(bad: Sequence[MxHost]) -> list[Evidence]:
    ev = []
    for h in bad:
        if h.kind is MxTargetKind.IP_LITERAL:
            ev.append(
                Evidence(
                    mx=h.name,
                    target_kind=h.kind,
                    note="RFC 5321 5.1 / RFC 7505: an MX target must be a host name; "
                    "MTAs look the literal up as a name and fail",
                )
            )
        ev += [
            q_evidence(q, f"MX target {h.name} (preference {h.preference})")
            for q in h.queries
            if q.outcome is not DnsOutcome.OK
        ]
    return ev


def _no_address_parts(bad: Sequence[MxHost]) -> list[str]:
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
    return parts


def _another_mx(f: Facts, working: Sequence[RouteView], delivering: bool) -> str:
    another = f"; another MX works: {routes_brief(working)}" if working else "; no other MX works"
    if delivering:
        return another + ", so MTAs skip the broken MX and deliver (no bounce)"
    if f.filtered_hosts:
        return (
            f"; no other probed MX works ({', '.join(h.name for h in f.filtered_hosts)} "
            "not probed: -4/-6)"
        )
    return another


def mx_no_address(f: Facts, m: Match) -> Draft:
    bad = m.hosts
    names = [h.name for h in bad]
    working = f.working_other_than(names)
    delivering = any(v.result.route.mx not in names for v in f.delivery_ok_views)
    return draft(
        f"{'; '.join(_no_address_parts(bad))} (5.4.3; Postfix reports 5.4.4)"
        f"{_another_mx(f, working, delivering)}.",
        _no_address_evidence(bad),
        steps=make_steps("5.4.3", steps_543(f, names, ())),
        action=make_action(
            "5.4.3",
            f,
            deliverable_via=working,
            fix="the domain's administrators should remove or fix the broken MX record",
            persistence=f.persistence_of(RuleId.MX_NO_ADDRESS).persistence,
        ),
        neighbours=("5.4.4", "4.4.1"),
        title="MX record points at no server" if delivering else None,
    )


def mx_cname(f: Facts, m: Match) -> Draft:
    bad = m.hosts
    names = [h.name for h in bad]
    views = [v for v in f.views if v.result.route.mx in names]
    ok = [v for v in views if v.state is RouteState.OK]
    return draft(
        f"MX target{'' if len(names) == 1 else 's'} {', '.join(names)} "
        f"{'is an alias' if len(names) == 1 else 'are aliases'} (CNAME), which RFC 5321 5.1 and "
        "RFC 2181 10.3 forbid. Most MTAs follow the alias"
        + (f" (it works: {routes_brief(ok)})" if ok else "")
        + ", so no sender logs a code for it; it is a misconfiguration to fix.",
        [
            Evidence(
                mx=h.name,
                target_kind=h.kind,
                note=host_line(h),
            )
            for h in bad
        ],
        action=Action(
            ActionKind.FIX,
            "The domain's administrators should point the MX record at the canonical "
            "host name instead of an alias.",
        ),
        title="MX target is an alias (CNAME)",
    )


def mx_lookup_failed(f: Facts, m: Match) -> Draft:
    bad = m.hosts
    names = [h.name for h in bad]
    working = f.working_other_than(names)
    ev = [
        q_evidence(q, f"MX target {h.name}")
        for h in bad
        for q in h.queries
        if q.outcome is not DnsOutcome.OK
    ]
    return draft(
        f"The address lookup of MX target{'' if len(names) == 1 else 's'} "
        f"{', '.join(names)} failed (SERVFAIL or no "
        "answer): a transient DNS failure (4.4.3), not a hard bounce"
        + (f"; meanwhile {routes_brief(working)} works." if working else "."),
        ev,
        action=make_action("4.4.3", f, deliverable_via=working),
        neighbours=("5.4.3",),
    )


def mx_down(f: Facts, m: Match) -> Draft:
    views = list(m.views)
    down = list(dict.fromkeys(v.result.route.mx for v in views))
    working = [v for v in f.delivery_ok_views if v.result.route.mx not in down]
    hosts = f"MX host{'' if len(down) == 1 else 's'} {', '.join(down)}"
    how = ", ".join(dict.fromkeys(state_word(v) for v in views))
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
            + filtered_note(f)
        )
    return draft(
        summary,
        [evidence(v) for v in views],
        steps=make_steps("5.4.3", steps_543(f, down, views)),
        action=make_action(
            "5.4.3",
            f,
            deliverable_via=working,
            fix="the domain's administrators should repair or remove the dead MX",
            persistence=f.persistence_of(RuleId.MX_DOWN).persistence,
        ),
        neighbours=("4.4.1", "5.4.4"),
        title="MX host down (routing server failure)" if working else None,
    )


def primary_down(f: Facts, m: Match) -> Draft:
    primaries = [h.name for h in m.hosts]
    rank1 = [v for v in f.views if v.delivery and v.result.route.rank == 1]
    working = [v for v in f.delivery_ok_views if v.result.route.rank > 1]
    secondaries = list(dict.fromkeys(v.result.route.mx for v in working))
    if rank1:
        how = ", ".join(dict.fromkeys(state_word(v) for v in rank1))
        what = f"fails on port {f.delivery_port} ({how})"
    else:
        what = "has no usable address"
    return draft(
        f"The primary MX ({', '.join(primaries)}) {what}, but the secondary "
        f"({', '.join(secondaries)}) works: mail is still deliverable. MTAs fall back to "
        "the next MX (RFC 5321 5.1), so senders see no bounce. One probe cannot tell "
        "whether the primary's failure is transient or permanent.",
        [
            Evidence(
                mx=mx,
                note=f"{host_outcome(hv)}: preference {hv[0].result.route.preference}, rank "
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
                target_kind=h.kind,
                note=f"preference {h.preference}, rank {h.rank}: not probed"
                + (f": {filter_reason(f, h)}" if h in f.filtered_hosts else ""),
            )
            for h in f.report.resolution.hosts
            if h.rank == 1 and not f.host_views(h.name)
        ]
        # The primary's failed routes, one by one: the evidence the suppressed mx-down
        # finding would have carried (address, port, phase, outcome).
        + [
            evidence(v)
            for mx in primaries
            for v in f.host_views(mx)
            if v.state is not RouteState.OK
        ],
        # The kind (fix, or nothing) is the predicate's decision; only the words are here.
        action=Action(
            m.action or ActionKind.NONE,
            "Nothing to do for senders: do not suppress or resend; MTAs deliver via the "
            "secondary MX. The recipient's administrators should repair or remove the "
            "failing primary MX.",
        ),
        title="Primary MX down, secondary MX delivers",
    )


def nothing_probed(f: Facts, m: Match) -> Draft:
    res = f.report.resolution
    filtered = f.filtered_hosts
    if filtered and len(filtered) == len(res.hosts):
        # Every MX has addresses, only in the family the user excluded: say exactly that,
        # and that it is no fault of the domain's (no code: nothing bounces because of it).
        every = "the MX" if len(res.hosts) == 1 else "every MX"
        reasons = list(dict.fromkeys(filter_reason(f, h) for h in filtered))
        summary = (
            f"No route to {res.domain} was probed: {every} has {'; '.join(reasons)}. "
            "The DNS is fine; this says nothing about whether the domain accepts mail."
        )
        action = "Probe again without -4/-6 (from a host with that address family)."
    else:
        summary = (
            f"DNS names {plural(len(res.hosts), 'mail server')} for {res.domain}, but no route "
            "was probed: no address "
            "in the probed address families (-4/-6), or the deadline ran out first."
            + filtered_note(f)
        )
        action = "Probe again with both address families and a longer --timeout."
    return draft(
        summary,
        [Evidence(mx=h.name, note=host_line(h, f)) for h in res.hosts],
        action=Action(ActionKind.FIX, action),
        title="No route probed",
    )


def family_filtered(f: Facts, m: Match) -> Draft:
    hosts = m.hosts
    lines = [f"{h.name}: not probed: {filter_reason(f, h)}" for h in hosts]
    return draft(
        f"{'; '.join(lines)}. Its addresses exist in DNS, so this is no fault of "
        f"{f.report.resolution.domain}'s; the verdict covers only the probed MX hosts."
        if len(hosts) == 1
        else f"{'; '.join(lines)}. Their addresses exist in DNS, so this is no fault of "
        f"{f.report.resolution.domain}'s; the verdict covers only the probed MX hosts.",
        [Evidence(mx=h.name, target_kind=h.kind, note=host_line(h, f)) for h in hosts],
        action=Action(
            ActionKind.NONE,
            "Nothing to do for senders. To test these MX hosts too, probe again without -4/-6.",
        ),
        title="MX not probed (address family filter)",
    )


def implicit(f: Facts, m: Match) -> Draft:
    res = f.report.resolution
    return draft(
        f"{res.domain} has no MX record; mail goes to the domain's own address "
        "(implicit MX, RFC 5321 5.1).",
        [q_evidence(res.mx_query)],
        title="Implicit MX",
    )


def could_not_run(f: Facts, m: Match) -> Draft:
    q = f.report.resolution.mx_query
    domain = f.report.resolution.domain
    what = (
        f"the MX query for {domain} ({q.outcome.value})"
        if f.report.could_not_run
        else f"any address lookup of {domain}'s MX targets"
    )
    if q.deadline:
        # The user's own --timeout ended the query, not a silent nameserver.
        return draft(
            f"The probe could not run: its deadline (--timeout) passed before {what} was "
            f"answered. Nothing is known about {domain}'s mail servers; this is no verdict "
            "on the domain. Probe again with a longer --timeout.",
            [q_evidence(q)],
            action=Action(ActionKind.FIX, "Probe again with a longer --timeout."),
            title="Could not run: the deadline passed",
        )
    return draft(
        f"The probe could not run: no nameserver answered {what}. Nothing is known about "
        f"{domain}'s mail servers; this is no verdict on the domain. Check the resolver "
        "(--nameserver, network) and probe again.",
        [q_evidence(q)],
        action=Action(
            ActionKind.FIX,
            "Check that this machine reaches a nameserver (or pass --nameserver), then "
            "probe again.",
        ),
        title="Could not run: no nameserver answered",
    )


_CLASS_WORDS = {
    AddressClass.LOOPBACK: "loopback",
    AddressClass.PRIVATE: "private",
    AddressClass.LINK_LOCAL: "link-local",
    AddressClass.UNSPECIFIED: "unspecified",
    AddressClass.BROADCAST: "broadcast",
    AddressClass.MULTICAST: "multicast",
    AddressClass.DOCUMENTATION: "documentation",
    AddressClass.RESERVED: "reserved",
    AddressClass.GLOBAL: "global",
}


def mx_not_global(f: Facts, m: Match) -> Draft:
    views = list(m.views)
    by_addr = {(v.result.route.mx, v.result.route.address): v for v in views}
    classes = list(dict.fromkeys(v.result.route.address_class for v in by_addr.values()))
    words = "/".join(_CLASS_WORDS[c] for c in classes)
    lines = [
        f"{mx} -> {addr} ({_CLASS_WORDS[v.result.route.address_class]})"
        for (mx, addr), v in by_addr.items()
    ]
    hosts = list(dict.fromkeys(mx for mx, _ in by_addr))
    delivering = f.delivery_ok_views
    tail = (
        f" Another MX delivers ({routes_brief(delivering)}), so MTAs skip these addresses."
        if delivering
        else " No other MX address gives a working route."
    )
    return draft(
        f"MX points at {words} address{'es' if len(by_addr) > 1 else ''} ({join(lines, 6)}): "
        "mail from the Internet cannot arrive there. These addresses were not connected to "
        "(address policy; --allow-targets to probe them all the same)." + tail,
        [
            Evidence(
                mx=v.result.route.mx,
                address=v.result.route.address,
                note=f"{_CLASS_WORDS[v.result.route.address_class]} address: not attempted",
            )
            for v in by_addr.values()
        ],
        steps=make_steps("5.4.3", steps_543(f, hosts, ())),
        action=make_action(
            "5.4.3",
            f,
            deliverable_via=delivering,
            fix="the domain's administrators should point the MX at a public address",
            persistence=f.persistence_of(RuleId.MX_NOT_GLOBAL).persistence,
        ),
        neighbours=("5.4.4",),
        title="MX points at an address not reachable from the Internet",
        payload=FindingPayload(
            hosts=tuple(hosts),
            routes=tuple(v.label for v in views),
            address_classes=tuple(classes),
        ),
    )
