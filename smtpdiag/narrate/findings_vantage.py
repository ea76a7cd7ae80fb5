"""Narrators of the defence, name and vantage rules (all informational).

Greylisting and tarpits are defences, not faults; names are what a recipient's admin
is asked about first, never a delivery failure; vantage findings are about the
prober's own side (its address, its resolver), not the recipient.
"""

from __future__ import annotations

from ..diagnosis.facts import Facts, RouteView
from ..diagnosis.predicates import Match
from ..diagnosis.vantage import GREETING_DELAY_S, differing_names, unconfirmed_names
from ..model import (
    Action,
    ActionKind,
    DnsOutcome,
    Evidence,
    FaultSide,
    FcrdnsStatus,
    FindingPayload,
    ListingStatus,
    Phase,
    ProbeReport,
)
from .common import Draft, draft, evidence, routes_brief
from .units import fmt_s, join, plural

__all__ = [
    "egress_listed",
    "fault_side_text",
    "fcrdns_missing",
    "greeting_delayed",
    "greylisted",
    "host_name_differs",
    "listing_text",
    "resolver_not_validating",
    "vantage_rows",
]


def greylisted(f: Facts, m: Match) -> Draft:
    views = list(m.views)
    return draft(
        f"{routes_brief(views)} greylisted this first contact: a normal defence, not a "
        "fault (RFC 6647). A retrying MTA (every MTA retries a 4xx) is accepted once the "
        "greylist delay, usually minutes, has passed: the mail arrives late, not lost. "
        "One probe cannot retry, so delivery here is not verified.",
        [evidence(v) for v in views],
        action=Action(
            ActionKind.NONE,
            "Nothing to fix: a retrying MTA delivers after the greylist delay. Probe again in "
            "a few minutes from the same address to see the retry accepted.",
        ),
        title="Greylisting (normal defence)",
    )


def greeting_delayed(f: Facts, m: Match) -> Draft:
    views = list(m.views)
    slowest = max(
        (rec.duration_ms for v in views if (rec := v.result.phase(Phase.GREETING))), default=0.0
    )
    return draft(
        f"The 220 greeting of {routes_brief(views)} came only after "
        f"{fmt_s(slowest / 1000.0)} (threshold {fmt_s(GREETING_DELAY_S)}): a tarpit or "
        "greet pause against bots. A normal defence, not a fault: an MTA waits up to 5 "
        "minutes for the greeting (RFC 5321 4.5.3.2) and delivers as usual; only clients "
        "with short timeouts give up.",
        [evidence(v, f"greeting after {fmt_s(_greeting_ms(v) / 1000.0)}") for v in views],
        title="Greeting delayed (tarpit)",
    )


def _greeting_ms(v: RouteView) -> float:
    rec = v.result.phase(Phase.GREETING)
    return rec.duration_ms if rec is not None else 0.0


_FCRDNS_WORDS = {
    FcrdnsStatus.NO_PTR: "no PTR record",
    FcrdnsStatus.MISMATCH: "PTR name does not resolve back to the address",
}


def fcrdns_missing(f: Facts, m: Match) -> Draft:
    names = unconfirmed_names(f)
    lines = []
    for n in names:
        ptr = f" (PTR {', '.join(n.ptr)})" if n.ptr else ""
        lines.append(f"{n.mx}[{n.address}]: {_FCRDNS_WORDS.get(n.fcrdns, n.fcrdns.value)}{ptr}")
    return draft(
        f"Reverse DNS of {plural(len(names), 'MX address', 'MX addresses')} is not "
        f"forward-confirmed: {join(lines, 3)}. Information only: senders do not reject a "
        "receiving MX for it (receivers check it of senders), but admins are often asked "
        "about it first.",
        [
            Evidence(
                mx=n.mx,
                address=n.address,
                query=f"PTR {n.ptr_query.name}",
                dns_outcome=n.ptr_query.outcome,
                note=line,
            )
            for n, line in zip(names, lines, strict=True)
        ],
        action=Action(
            ActionKind.NONE,
            "Optional: the owner of the address block can publish a PTR record naming the "
            "MX host, whose A/AAAA record points back to the address.",
        ),
        title="No forward-confirmed reverse DNS",
        payload=FindingPayload(
            routes=tuple(v.label for v in m.views), hosts=tuple(h.name for h in m.hosts)
        ),
    )


def host_name_differs(f: Facts, m: Match) -> Draft:
    names = differing_names(f)
    lines = []
    explains = False
    for n in names:
        r = n.view.result
        parts = []
        if n.greeting_differs:
            parts.append(f"greeting names {r.greeting_name}")
        if n.ehlo_differs and r.ehlo_name != r.greeting_name:
            parts.append(f"EHLO names {r.ehlo_name}")
        elif n.ehlo_differs:
            parts.append("EHLO too")
        lines.append(f"{n.view.label}: {', '.join(parts)}")
        explains = explains or n.cert_names_greeting
    summary = (
        f"The server names itself differently from the MX host: {join(lines, 3)}. "
        "Senders do not reject a receiver for it"
    )
    if explains:
        summary += (
            "; the certificate names that host, not the MX host: the greeting name differs "
            "from the MX name, which explains the certificate name mismatch strict senders "
            "see."
        )
    else:
        summary += "."
    return draft(
        summary,
        [evidence(n.view, line) for n, line in zip(names, lines, strict=True)],
        action=Action(
            ActionKind.NONE,
            "Optional: configure the server to announce its MX host name, and a certificate "
            "naming the MX host.",
        ),
        title="Server name differs from the MX name",
    )


def listing_text(status: ListingStatus) -> str:
    """One blocklist answer, in words (the Spamhaus-style convention)."""
    return {
        ListingStatus.LISTED: "listed",
        ListingStatus.NOT_LISTED: "not listed",
        ListingStatus.REFUSED: "query refused by the zone (127.255.255.x: error code, not a "
        "listing)",
        ListingStatus.ERROR: "no usable answer",
    }[status]


def egress_listed(f: Facts, m: Match) -> Draft:
    vantage = f.report.vantage
    checks = [
        b for b in (vantage.blocklists if vantage else ()) if b.status is ListingStatus.LISTED
    ]
    lines = [
        f"{b.address} listed on {b.zone} ({', '.join(b.codes)})"
        + (f": {b.reason}" if b.reason else "")
        for b in checks
    ]
    views = list(m.views)
    summary = f"This prober's own address is on a blocklist you configured: {join(lines, 2)}."
    if views:
        summary += (
            f" The rejections of {routes_brief(views, 2)} are then about the sender (this "
            "vantage point), not the recipient."
        )
    else:
        summary += " No server rejected this probe for it."
    return draft(
        summary,
        [
            Evidence(query=f"A {b.query.name}", dns_outcome=b.query.outcome, note=line)
            for b, line in zip(checks, lines, strict=True)
        ]
        + [evidence(v) for v in views],
        action=Action(
            ActionKind.FIX if views else ActionKind.NONE,
            "Get the address delisted (each zone documents how), or probe and send from an "
            "address that is not listed; the recipient has nothing to fix for this.",
        ),
        title="Prober's address is blocklisted",
        payload=FindingPayload(routes=tuple(v.label for v in views)),
    )


def resolver_not_validating(f: Facts, m: Match) -> Draft:
    vantage = f.report.vantage
    check = vantage.resolver if vantage else None
    server = check.query.nameserver if check and check.query.nameserver else "the resolver"
    hosts = [h.name for h in m.hosts]
    summary = (
        f"The resolver in use ({server}) does not validate DNSSEC: the signed root's SOA "
        "came without the AD bit and no answer was authenticated. DANE results are "
        "therefore unknown from here: TLSA records cannot be validated, nor a DNSSEC "
        "failure seen."
    )
    if hosts:
        summary += f" TLSA records found for {join(hosts, 3)} read as not usable."
    return draft(
        summary,
        [
            Evidence(
                query=f"SOA {check.query.name}",
                dns_outcome=check.query.outcome,
                note="answer without the AD bit",
            )
        ]
        if check
        else [],
        action=Action(
            ActionKind.NONE,
            "To judge DANE, probe with --nameserver pointing at a validating resolver "
            "(unbound, BIND with dnssec-validation) on this host or network.",
        ),
        title="Resolver does not validate DNSSEC",
    )


def fault_side_text(side: FaultSide) -> str | None:
    """The header line for a failure on the prober's own side; ``None`` otherwise."""
    if side is FaultSide.VANTAGE:
        return (
            "Fault side: this vantage point (the prober's own network or address), not the "
            "recipient; see the findings below."
        )
    return None


_FCRDNS_SHORT = {
    FcrdnsStatus.MATCH: "forward-confirmed",
    FcrdnsStatus.MISMATCH: "does not resolve back",
    FcrdnsStatus.NO_PTR: "no PTR record",
    FcrdnsStatus.UNKNOWN: "no answer",
}


def vantage_rows(report: ProbeReport) -> list[tuple[str, str]]:
    """The prober's own side and the MX addresses' names as (label, text) rows for the
    full text report; empty when nothing was observed."""
    rows: list[tuple[str, str]] = []
    v = report.vantage
    if v is not None:
        rows.append(("Egress", ", ".join(v.egress) or "no connection completed"))
        if v.resolver is not None:
            q = v.resolver.query
            if q.outcome is not DnsOutcome.OK:
                text = f"unknown (the root's SOA: {q.outcome.value})"
            elif v.resolver.authenticated:
                text = "validates DNSSEC (AD set on the root's SOA)"
            else:
                text = "does not validate DNSSEC (no AD on the root's SOA): DANE unknown"
            rows.append(("Resolver", f"{q.nameserver or '-'} {text}"))
        for b in v.blocklists[:8]:
            codes = f" ({', '.join(b.codes)})" if b.status is ListingStatus.LISTED else ""
            rows.append(("Blocklist", f"{b.zone}: {b.address} {listing_text(b.status)}{codes}"))
    for n in report.names[:8]:
        ptr = ", ".join(n.ptr) or "-"
        rows.append(("PTR", f"{n.mx}[{n.address}] {ptr}: {_FCRDNS_SHORT[n.fcrdns]}"))
    if len(report.names) > 8:
        rows.append(("PTR", f"and {len(report.names) - 8} more addresses (see --json)"))
    return rows
