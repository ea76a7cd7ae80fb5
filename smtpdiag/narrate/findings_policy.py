"""Narrators of the TLS policy rules (MTA-STS, DANE, TLS-RPT) and the words for "who
fails": what each kind of sender does, from the typed :class:`SenderImpact` values the
predicates decided."""

from __future__ import annotations

from collections.abc import Sequence

from ..diagnosis.facts import Facts, RouteView
from ..diagnosis.predicates import Match
from ..model import (
    Action,
    ActionKind,
    DnssecStatus,
    Evidence,
    SenderImpact,
    SenderKind,
    SenderOutcome,
    StsStatus,
    TlsaLookup,
    TlsRptResult,
)
from .actions import make_steps
from .common import Draft, cert_facts, draft, evidence, q_evidence, routes_brief, verify_text
from .units import join

__all__ = [
    "dane_bogus",
    "dane_mismatch",
    "dane_not_usable",
    "mta_sts_cert_invalid",
    "mta_sts_fetch_failed",
    "mta_sts_invalid",
    "mta_sts_mx_not_covered",
    "mta_sts_webpki_invalid",
    "results_text",
    "sender_text",
    "starttls_required",
    "tls_rpt_invalid",
    "who_fails",
]

_NAMES = {
    SenderKind.OPPORTUNISTIC: "opportunistic senders",
    SenderKind.MTA_STS: "MTA-STS senders",
    SenderKind.DANE: "DANE senders",
    SenderKind.VERIFYING: "senders that verify certificates by local policy",
}


def sender_text(
    impact: SenderImpact, *, plaintext: bool = False, tlsa_ignored: bool = False
) -> str:
    """One clause: what one kind of sender does (``MTA-STS senders (enforce) defer ...``).
    ``tlsa_ignored``: the MX host's TLSA records are not usable, so a DANE sender that
    delivers does so without checking them (no TLSA match decided anything)."""
    name = _NAMES[impact.sender]
    if impact.mode is not None and impact.outcome in (
        SenderOutcome.DEFER,
        SenderOutcome.REPORT,
        SenderOutcome.OTHER_MX,
    ):
        name += f" ({impact.mode.value})"
    o = impact.outcome
    if o is SenderOutcome.DELIVER:
        if impact.sender is SenderKind.OPPORTUNISTIC:
            return f"{name} deliver anyway{' in plaintext' if plaintext else ''}"
        if impact.sender is SenderKind.MTA_STS:
            return f"{name} deliver as without a policy (unless they cached one)"
        if tlsa_ignored:
            return f"{name} deliver as without DANE (the TLSA records are ignored)"
        return f"{name} deliver (the TLSA match decides, not WebPKI)"
    if o is SenderOutcome.REPORT:
        return f"{name} deliver and report it"
    if o is SenderOutcome.DEFER:
        if impact.sender is SenderKind.VERIFYING:
            return f"{name} defer (their own policy, stricter than the domain's)"
        rfc = "RFC 8461 5" if impact.sender is SenderKind.MTA_STS else "RFC 7672"
        return f"{name} defer: a temporary failure, retried ({rfc})"
    if o is SenderOutcome.OTHER_MX:
        return (
            f"{name} skip the routes concerned and deliver through another MX host or "
            "address that passes (they defer only when none does)"
        )
    if o is SenderOutcome.NOT_APPLICABLE:
        return f"{name} are not affected"
    return f"{name}: unknown"


def who_fails(
    senders: Sequence[SenderImpact], *, plaintext: bool = False, tlsa_ignored: bool = False
) -> str:
    """``Opportunistic senders deliver anyway; MTA-STS senders (enforce) defer ...``: the
    senders concerned (the payload lists them all); empty without senders."""
    concerned = [
        s for s in senders if s.outcome not in (SenderOutcome.NOT_APPLICABLE, SenderOutcome.UNKNOWN)
    ]
    if not concerned:
        return ""
    text = (
        "; ".join(sender_text(s, plaintext=plaintext, tlsa_ignored=tlsa_ignored) for s in concerned)
        + "."
    )
    return text[0].upper() + text[1:]


def results_text(results: Sequence[TlsRptResult]) -> str:
    """``RFC 8460 result type: certificate-expired.`` (empty without results). Said as the
    type, not as "TLS reports name it": a domain without a TLS-RPT record gets no reports."""
    if not results:
        return ""
    return f"RFC 8460 result type: {' / '.join(r.value for r in results)}."


def _tail(m: Match, *, plaintext: bool = False, tlsa_ignored: bool = False) -> str:
    parts = [
        who_fails(m.senders, plaintext=plaintext, tlsa_ignored=tlsa_ignored),
        results_text(m.results),
    ]
    return " ".join(p for p in parts if p)


def _sentence(head: str, m: Match, *, plaintext: bool = False, tlsa_ignored: bool = False) -> str:
    tail = _tail(m, plaintext=plaintext, tlsa_ignored=tlsa_ignored)
    return f"{head} {tail}" if tail else head


def _cert_evidence(views: Sequence[RouteView]) -> list[Evidence]:
    ev = []
    certs: dict[str, str] = {}
    for v in views:
        t = v.result.tls
        assert t is not None
        # A dane-mismatch route may verify fine (WebPKI): say so, not "unknown reason".
        ev.append(
            evidence(
                v,
                verify_text(t, v.result.route.mx)
                if not t.verified or t.hostname_match is False
                else "certificate verified (WebPKI) and names the MX host",
            )
        )
        if t.certificate is not None:
            certs.setdefault(t.certificate.sha256, cert_facts(t.certificate) or "")
    ev.extend(Evidence(note=text) for text in certs.values())
    return ev


def mta_sts_cert_invalid(f: Facts, m: Match) -> Draft:
    views = list(m.views)
    mode = f.report.policy.mta_sts.mode if f.report.policy else None
    head = (
        f"The domain's MTA-STS policy (mode {mode.value if mode else '?'}) requires a "
        f"certificate that chains to a WebPKI root and names the MX host (RFC 8461 4.2); "
        f"{routes_brief(views)} presents one that does not."
    )
    return draft(
        _sentence(head, m),
        _cert_evidence(views),
        steps=make_steps(
            "4.4.2",
            {
                "check-tls": join(
                    f"{v.label}: {verify_text(v.result.tls, v.result.route.mx)}"
                    for v in views
                    if v.result.tls
                )
            },
        )
        if m.enforced
        else (),
        action=Action(
            ActionKind.FIX,
            "The recipient's administrators should install a certificate from a public CA "
            "that names each MX host listed in the policy.",
        ),
        title=_sts_title(m, "certificate fails"),
    )


def _sts_title(m: Match, what: str) -> str | None:
    """The code's title when senders defer; else what happens instead: testing mode
    reports, enforce mode with another MX host that passes delivers there."""
    if m.enforced:
        return None
    if any(s.outcome is SenderOutcome.OTHER_MX for s in m.senders):
        return f"MTA-STS: {what} (another MX host delivers)"
    return f"MTA-STS (testing): {what}"


def mta_sts_mx_not_covered(f: Facts, m: Match) -> Draft:
    p = f.report.policy
    patterns = ", ".join(p.mta_sts.policy.mx) if p and p.mta_sts.policy else "none"
    names = ", ".join(h.name for h in m.hosts)
    head = (
        f"{names} {'is' if len(m.hosts) == 1 else 'are'} not covered by the MTA-STS "
        f"policy's mx patterns ({patterns}; RFC 8461 4.1)."
    )
    return draft(
        _sentence(head, m),
        [Evidence(mx=h.name, note=f"policy mx patterns: {patterns}") for h in m.hosts],
        action=Action(
            ActionKind.FIX,
            "The recipient's administrators should add the MX host to the policy's mx "
            "lines (and change the TXT record's id) or remove it from the MX records.",
        ),
        title=_sts_title(m, "MX not covered"),
    )


def _sts_fetch_evidence(f: Facts) -> list[Evidence]:
    p = f.report.policy
    if p is None:
        return []
    sts = p.mta_sts
    ev = []
    if sts.record_query is not None:
        ev.append(q_evidence(sts.record_query))
    fe = sts.fetch
    if fe is not None:
        what = [fe.url]
        if fe.address:
            what.append(f"address {fe.address}")
        if fe.status is not None:
            what.append(f"HTTP {fe.status}")
        if fe.content_type:
            what.append(f"Content-Type {fe.content_type}")
        if fe.error is not None:
            what.append(f"error {fe.error.value}")
        if fe.detail:
            what.append(fe.detail)
        ev.append(Evidence(note="policy fetch: " + "; ".join(what)))
    return ev


_NO_POLICY_ACTION = Action(
    ActionKind.FIX,
    "The recipient's administrators should serve the policy at "
    "https://mta-sts.<domain>/.well-known/mta-sts.txt (text/plain, status 200, no redirect, "
    "a certificate from a public CA naming mta-sts.<domain>).",
)


def mta_sts_fetch_failed(f: Facts, m: Match) -> Draft:
    return draft(
        _sentence(
            "The domain publishes an _mta-sts TXT record, but its policy cannot be fetched.",
            m,
        ),
        _sts_fetch_evidence(f),
        action=_NO_POLICY_ACTION,
        title="MTA-STS policy cannot be fetched",
    )


def mta_sts_webpki_invalid(f: Facts, m: Match) -> Draft:
    return draft(
        _sentence(
            "The MTA-STS policy host's certificate does not verify (WebPKI), so senders "
            "ignore the policy it serves (RFC 8461 3.3).",
            m,
        ),
        _sts_fetch_evidence(f),
        action=_NO_POLICY_ACTION,
        title="MTA-STS policy host certificate invalid",
    )


def mta_sts_invalid(f: Facts, m: Match) -> Draft:
    p = f.report.policy
    sts = p.mta_sts if p else None
    problems: list[str] = []
    what = "policy"
    if sts is not None and sts.status is StsStatus.RECORD_INVALID and sts.record:
        what = "_mta-sts TXT record"
        problems = [x.value for x in sts.record.problems]
    elif sts is not None and sts.policy is not None:
        problems = [x.value for x in sts.policy.problems]
    ev = _sts_fetch_evidence(f)
    if problems:
        ev.append(Evidence(note="problems: " + ", ".join(problems)))
    return draft(
        _sentence(
            f"The MTA-STS {what} is malformed ({', '.join(problems) or 'see evidence'}): "
            "senders treat the domain as having no policy.",
            m,
        ),
        ev,
        action=Action(
            ActionKind.FIX,
            f"The recipient's administrators should correct the {what} (RFC 8461 3).",
        ),
        title=f"MTA-STS {what} invalid",
    )


def _tlsa_note(t: TlsaLookup) -> str:
    recs = "; ".join(
        f"{r.usage} {r.selector} {r.matching_type}{'' if r.usable else ' (unusable)'}"
        for r in t.records[:4]
    )
    # The evidence's query already names the TLSA owner name: not repeated here.
    return f"{t.state.value}, DNSSEC {t.dnssec.value}; {recs or 'no records'}"


def _tlsa_evidence(f: Facts, names: Sequence[str]) -> list[Evidence]:
    p = f.report.policy
    if p is None:
        return []
    wanted = {n.lower() for n in names}
    return [
        Evidence(
            mx=t.mx, query=f"TLSA {t.query.name}", dns_outcome=t.query.outcome, note=_tlsa_note(t)
        )
        for t in p.dane
        if t.mx.lower() in wanted
    ]


def dane_bogus(f: Facts, m: Match) -> Draft:
    names = [h.name for h in m.hosts]
    p = f.report.policy
    mx_bogus = p is not None and p.mx_dnssec is DnssecStatus.BOGUS
    what = "the domain's MX records" if mx_bogus else f"the TLSA records of {', '.join(names)}"
    return draft(
        _sentence(
            f"The validating resolver cannot validate {what} (DNSSEC bogus). DANE senders "
            "must not deliver to an MX host whose TLSA lookup fails validation "
            "(RFC 7672 2.1.1).",
            m,
        ),
        _tlsa_evidence(f, names),
        action=Action(
            ActionKind.FIX,
            "The recipient's administrators should fix the zone's DNSSEC signatures (or "
            "the delegation's DS records).",
        ),
        neighbours=("4.4.2",),
    )


def dane_mismatch(f: Facts, m: Match) -> Draft:
    views = list(m.views)
    return draft(
        _sentence(
            f"The certificate chain of {routes_brief(views)} matches none of the MX host's "
            "usable TLSA records (RFC 7672 3.1).",
            m,
        ),
        [*_tlsa_evidence(f, [v.result.route.mx for v in views]), *_cert_evidence(views)],
        steps=make_steps(
            "4.4.2", {"check-tls": "; ".join(v.label for v in views) + ": no TLSA match"}
        ),
        action=Action(
            ActionKind.FIX,
            "The recipient's administrators should publish TLSA records for the certificate "
            "in use (publish the new one before a key rollover), or serve the certificate "
            "the records name.",
        ),
    )


def starttls_required(f: Facts, m: Match) -> Draft:
    views = list(m.views)
    return draft(
        _sentence(
            f"{routes_brief(views)} {'does' if len(views) == 1 else 'do'} not offer STARTTLS "
            "(RFC 3207), but the domain's TLS policy requires TLS there.",
            m,
            plaintext=True,
        ),
        [evidence(v, "EHLO keywords: " + (" ".join(v.result.extensions) or "none")) for v in views],
        action=Action(ActionKind.FIX, "The recipient's administrators should enable STARTTLS."),
    )


def dane_not_usable(f: Facts, m: Match) -> Draft:
    names = [h.name for h in m.hosts]
    p = f.report.policy
    looks = [t for t in (p.dane if p else ()) if t.mx.lower() in {n.lower() for n in names}]
    unsigned = [t.mx for t in looks if t.dnssec is not DnssecStatus.SECURE]
    why = (
        "the zone is not DNSSEC-validated, so DANE senders ignore them"
        if unsigned
        else "no record has a usable usage (2 or 3), selector and matching type"
    )
    return draft(
        _sentence(
            f"TLSA records are published for {', '.join(names)}, but they are not usable: "
            f"{why} (RFC 7672 2.2). This is not a pass: the records protect nothing.",
            m,
            tlsa_ignored=True,
        ),
        _tlsa_evidence(f, names),
        action=Action(
            ActionKind.FIX,
            "The recipient's administrators should sign the zone (DNSSEC) and publish "
            "usage 3 or 2 records (e.g. 3 1 1), or remove the TLSA records.",
        ),
        title="DANE TLSA records not usable",
    )


def tls_rpt_invalid(f: Facts, m: Match) -> Draft:
    p = f.report.policy
    rpt = p.tls_rpt if p else None
    problems = ", ".join(x.value for x in rpt.problems) if rpt else ""
    ev = [q_evidence(rpt.query)] if rpt and rpt.query else []
    return draft(
        f"The _smtp._tls TXT record is invalid ({problems}): senders send no TLS reports "
        "(RFC 8460 3), so TLS failures of this domain go unreported.",
        ev,
        action=Action(
            ActionKind.FIX,
            "The recipient's administrators should publish one record "
            '"v=TLSRPTv1; rua=mailto:..." (mailto: or https: URIs).',
        ),
        title="TLS-RPT record invalid",
    )
