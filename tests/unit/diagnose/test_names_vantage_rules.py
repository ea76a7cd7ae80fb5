"""Pure rules of names, vantage and defences: reply text -> typed hints and names, DNS
answers -> listing and FCrDNS states, and what the diagnosis makes of them (never a
failing verdict on their own; the fault side in the one decision record)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from factories import route_to
from factories.report_cases import _resolution as resolution
from factories.report_cases import (
    greeting_421,
    healthy,
    mx_host,
    probe_report,
    route_result,
    tls_policy,
)

from smtpdiag.diagnosis.decision import decide
from smtpdiag.model import (
    AddressNames,
    BlocklistCheck,
    DnsOutcome,
    DnsQuery,
    DnssecStatus,
    FaultSide,
    FcrdnsStatus,
    ListingStatus,
    Outcome,
    Phase,
    ReplyHint,
    ResolverCheck,
    RuleId,
    Vantage,
    Verdict,
)
from smtpdiag.narrate.narrator import diagnose
from smtpdiag.probing.errors import parse_reply
from smtpdiag.probing.replytext import host_name_of, reply_hint
from smtpdiag.resolve.reverse import fcrdns_status, reverse_name
from smtpdiag.resolve.vantage import blocklist_name, listing_status

# ------------------------------------------------------------------ reply text


@pytest.mark.parametrize(
    ("code", "text", "hint"),
    [
        (
            450,
            "4.7.1 <a@b>: Recipient address rejected: Greylisted, see http://postgrey",
            "greylist",
        ),
        (451, "4.7.1 Greylisting in action, please come back later", "greylist"),
        (450, "4.2.0 graylisted, try again", "greylist"),
        (421, "4.7.0 greylisted", None),  # 421 closes: not a greylisting 450/451
        (
            550,
            "5.7.1 Service unavailable; Client host [198.51.100.1] blocked using zen.example",
            "listed",
        ),
        (554, "5.7.1 Your address is listed at dnsbl.example", "listed"),
        (550, "5.1.1 User unknown", None),
        (550, "5.7.1 Sender domain not listed in our directory", None),
        (250, "greylisted but fine", None),
    ],
)
def test_reply_hint(code: int, text: str, hint: str | None) -> None:
    assert reply_hint(code, text) == (ReplyHint(hint) if hint else None)
    assert parse_reply(code, text).hint == (ReplyHint(hint) if hint else None)


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("mx1.Example.ORG. ESMTP Postfix", "mx1.example.org"),
        ("mx1.example.org\nPIPELINING\nSTARTTLS", "mx1.example.org"),
        ("2.0.0 mx.example.org ready", "mx.example.org"),
        ("[198.51.100.7] ready", "[198.51.100.7]"),
        ("ESMTP ready", None),
        ("*** hello ***", None),
        ("", None),
        ("\x1b[31mmx.example.org", None),
        ("a" * 300 + ".example ESMTP", None),
        ("<script>x</script> ESMTP", None),
    ],
)
def test_host_name_of(text: str, name: str | None) -> None:
    assert host_name_of(text) == name


# ----------------------------------------------------------------- DNS answers


def _q(name: str, rdtype: str, outcome: DnsOutcome, *answers: str) -> DnsQuery:
    return DnsQuery(name, rdtype, outcome, tuple(answers))


def test_blocklist_names() -> None:
    assert blocklist_name("198.51.100.7", "bl.example") == "7.100.51.198.bl.example"
    v6 = blocklist_name("2001:db8::1", "bl.example.")
    assert v6.startswith("1.0.0.0.") and v6.endswith(".8.b.d.0.1.0.0.2.bl.example")
    assert len(v6.split(".")) == 32 + 2
    assert reverse_name("198.51.100.7") == "7.100.51.198.in-addr.arpa"


@pytest.mark.parametrize(
    ("outcome", "answers", "status"),
    [
        (DnsOutcome.OK, ("127.0.0.2",), ListingStatus.LISTED),
        (DnsOutcome.OK, ("127.0.0.11",), ListingStatus.LISTED),
        (DnsOutcome.OK, ("127.255.255.254",), ListingStatus.REFUSED),
        (DnsOutcome.OK, ("127.255.255.255", "127.0.0.2"), ListingStatus.REFUSED),
        (DnsOutcome.OK, ("127.0.0.1",), ListingStatus.ERROR),
        (DnsOutcome.OK, ("198.51.100.1",), ListingStatus.ERROR),
        (DnsOutcome.NXDOMAIN, (), ListingStatus.NOT_LISTED),
        (DnsOutcome.SERVFAIL, (), ListingStatus.ERROR),
        (DnsOutcome.TIMEOUT, (), ListingStatus.ERROR),
    ],
)
def test_listing_status(
    outcome: DnsOutcome, answers: tuple[str, ...], status: ListingStatus
) -> None:
    assert listing_status(_q("x.bl.example", "A", outcome, *answers)) is status


def test_fcrdns_status() -> None:
    ptr = _q("7.100.51.198.in-addr.arpa", "PTR", DnsOutcome.OK, "mx.example.org")
    back = _q("mx.example.org", "A", DnsOutcome.OK, "198.51.100.7")
    away = _q("mx.example.org", "A", DnsOutcome.OK, "198.51.100.8")
    lost = _q("mx.example.org", "A", DnsOutcome.TIMEOUT)
    none = _q("7.100.51.198.in-addr.arpa", "PTR", DnsOutcome.NXDOMAIN)
    a = "198.51.100.7"
    assert fcrdns_status(a, ptr, ["mx.example.org"], [back]) is FcrdnsStatus.MATCH
    assert fcrdns_status(a, ptr, ["mx.example.org"], [away]) is FcrdnsStatus.MISMATCH
    assert fcrdns_status(a, ptr, ["mx.example.org"], [lost]) is FcrdnsStatus.UNKNOWN
    assert fcrdns_status(a, none, [], []) is FcrdnsStatus.NO_PTR
    assert fcrdns_status(a, replace(none, outcome=DnsOutcome.SERVFAIL), [], []) is (
        FcrdnsStatus.UNKNOWN
    )


# ------------------------------------------------------------------- diagnosis


def _rules(report: object) -> list[RuleId]:
    d = diagnose(report)  # type: ignore[arg-type]
    return [f.rule for f in d.findings]


def _greylisted_report(code: int = 450, text: str = "4.7.1 Greylisted, come back later"):  # type: ignore[no-untyped-def]
    mx = mx_host("mx.grey.example", 10, ["198.51.100.50"])
    res = resolution("grey.example", [mx], ["10 mx.grey.example"])
    reply = parse_reply(code, text)
    routes = [
        route_result(
            route_to(mx, "198.51.100.50", 25), fail=Phase.EHLO, outcome=Outcome.REPLY, reply=reply
        )
    ]
    return probe_report("grey.example", res, routes, ports=(25,))


def test_greylisting_alone_never_fails_the_domain() -> None:
    d = diagnose(_greylisted_report())
    assert [f.rule for f in d.findings] == [RuleId.GREYLISTED]
    assert d.verdict is Verdict.DEGRADED
    assert d.primary is None and d.who_fails == () and d.fault_side is FaultSide.NONE


def test_a_4xx_without_greylisting_words_is_still_deferred() -> None:
    d = diagnose(_greylisted_report(451, "4.3.0 Temporary local problem"))
    assert d.findings[0].rule is RuleId.GREETING_DEFERRED
    assert d.verdict is Verdict.FAILED


def test_greeting_delay_threshold() -> None:
    report = healthy()
    slow = []
    for r in report.routes:
        phases = tuple(
            replace(p, duration_ms=2500.0) if p.phase is Phase.GREETING else p for p in r.phases
        )
        slow.append(replace(r, phases=phases))
    d = diagnose(replace(report, routes=tuple(slow)))
    assert RuleId.GREETING_DELAYED in [f.rule for f in d.findings]
    assert d.verdict is Verdict.HEALTHY
    assert RuleId.GREETING_DELAYED not in _rules(healthy())


def _names(report, status: FcrdnsStatus):  # type: ignore[no-untyped-def]
    out = []
    for h in report.resolution.hosts:
        for a in h.addresses:
            q = _q(reverse_name(a), "PTR", DnsOutcome.NXDOMAIN)
            out.append(AddressNames(h.name, a, q, (), (), status))
    return replace(report, names=tuple(out))


def test_names_findings_are_information() -> None:
    report = _names(healthy(), FcrdnsStatus.NO_PTR)
    renamed = tuple(replace(r, greeting_name="relay.other.example") for r in report.routes)
    d = diagnose(replace(report, routes=renamed))
    rules = [f.rule for f in d.findings]
    assert RuleId.FCRDNS_MISSING in rules and RuleId.HOST_NAME_DIFFERS in rules
    assert d.verdict is Verdict.HEALTHY and d.primary is None
    assert RuleId.FCRDNS_MISSING not in _rules(_names(healthy(), FcrdnsStatus.MATCH))


def _listed(report):  # type: ignore[no-untyped-def]
    check = BlocklistCheck(
        "bl.example",
        "198.51.100.200",
        _q("200.100.51.198.bl.example", "A", DnsOutcome.OK, "127.0.0.2"),
        ListingStatus.LISTED,
        ("127.0.0.2",),
    )
    return replace(report, vantage=Vantage(("198.51.100.200",), (check,)))


def test_rejection_while_listed_is_the_vantage_s_fault() -> None:
    base = greeting_421()
    reply = parse_reply(554, "5.7.1 Client host rejected: listed at bl.example")
    routes = tuple(
        replace(
            r,
            phases=tuple(
                replace(p, reply=reply) if p.phase is Phase.GREETING else p for p in r.phases
            ),
        )
        for r in base.routes
    )
    rejected = replace(base, routes=routes)
    plain = diagnose(rejected)
    assert plain.fault_side is FaultSide.RECIPIENT
    d = diagnose(_listed(rejected))
    assert d.fault_side is FaultSide.VANTAGE
    listed = next(f for f in d.findings if f.rule is RuleId.EGRESS_LISTED)
    assert d.action == listed.action
    assert d.primary == plain.primary == "5.7.1"


def test_decide_reads_the_findings_only() -> None:
    d = diagnose(_listed(healthy()))
    rec = decide(d.verdict, d.findings, delivers=True)
    assert rec.fault_side is FaultSide.NONE  # healthy: listed, but nobody rejected it
    assert decide(Verdict.UNKNOWN, (), delivers=False).fault_side is FaultSide.UNKNOWN


def test_resolver_that_does_not_validate() -> None:
    secure = tls_policy()  # MX RRset and TLSA answers came with the AD bit
    assert secure.policy is not None
    insecure_dane = tuple(
        replace(t, dnssec=DnssecStatus.INSECURE, address_dnssec=DnssecStatus.INSECURE)
        for t in secure.policy.dane
    )
    insecure = replace(
        secure,
        policy=replace(secure.policy, mx_dnssec=DnssecStatus.INSECURE, dane=insecure_dane),
    )
    root = _q(".", "SOA", DnsOutcome.OK, "a.root.example. hostmaster.root.example. 1 1 1 1 1")
    no_ad = Vantage(resolver=ResolverCheck(root, False))
    ad = Vantage(resolver=ResolverCheck(root, True))
    assert RuleId.RESOLVER_NOT_VALIDATING in _rules(replace(insecure, vantage=no_ad))
    assert RuleId.RESOLVER_NOT_VALIDATING not in _rules(replace(insecure, vantage=ad))
    # A secure answer of the probe proves validation, whatever the root check said.
    assert RuleId.RESOLVER_NOT_VALIDATING not in _rules(replace(secure, vantage=no_ad))
    # No answer to the root question: nothing known, nothing said.
    unanswered = Vantage(resolver=ResolverCheck(replace(root, outcome=DnsOutcome.TIMEOUT)))
    assert RuleId.RESOLVER_NOT_VALIDATING not in _rules(replace(insecure, vantage=unanswered))


def test_egress_is_the_first_local_address_per_family() -> None:
    from smtpdiag.pipeline import egress_addresses

    routes = healthy().routes
    with_local = [
        replace(r, local_address="2001:db8::99" if ":" in r.route.address else f"198.51.100.{i}")
        for i, r in enumerate(routes)
    ]
    # IPv4 first, one address per family, the first one seen; unconnected routes have none.
    assert egress_addresses([replace(with_local[0], local_address=None), *with_local[1:]]) == (
        "198.51.100.1",
        "2001:db8::99",
    )
    assert egress_addresses(routes) == ()
