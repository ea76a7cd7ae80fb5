"""The verdict and code policy in words: what each row of
:data:`smtpdiag.diagnosis.decision.POLICY` covers, who fails and what it logs. Rendered
into the README's "Diagnosis rules" (:data:`POLICY_DOC`)."""

from __future__ import annotations

from ..diagnosis.decision import POLICY, SERVER_OWN_CODE

__all__ = ["POLICY_DOC", "POLICY_WORDS"]

#: Row id -> (the situation, who fails and what it logs).
POLICY_WORDS: dict[str, tuple[str, str]] = {
    "null-mx": (
        "the domain publishes a null MX (RFC 7505)",
        "every sender bounces (Postfix: 5.1.10)",
    ),
    "no-route": (
        "no such domain, or no MX and no address",
        "every sender bounces (Postfix: 5.4.4, host or domain name not found)",
    ),
    "dns-failed": (
        "the MX query fails (SERVFAIL, REFUSED)",
        "every sender defers (Postfix: 4.4.3, name service error)",
    ),
    "server-reply": (
        "no delivery-port route works; the servers reply with an enhanced code (421 4.3.2, "
        "454 4.7.0 to STARTTLS, 554 5.7.1)",
        "opportunistic senders log the server's own reply; 4xx: retry; 5xx: fix (hold and "
        "probe again: one 5xx greeting may be about the prober's address), never suppress",
    ),
    "no-reply": (
        "no delivery-port route works and no server replied (refused, unreachable, dropped, "
        "no TLS in common)",
        "opportunistic senders defer (Postfix logs 4.4.1 or 4.4.2 and retries); the guide's "
        "code names the event; a hard one: hold and probe again, suppress only once it persists",
    ),
    "published-policy": (
        "a delivery route works, but the domain's own policy (MTA-STS enforce, DANE) "
        "refuses every MX host",
        "MTA-STS and DANE senders defer: Postfix (dane level, or an MTA-STS policy map) logs "
        "4.7.5 'Server certificate not verified' (also for an MX the policy does not cover) "
        "or 4.7.4 'TLS is required, but was not offered'; Exim defers with its TLS error",
    ),
    "stricter-sender": (
        "a delivery route works; its certificate does not verify or name the MX, or it "
        "offers no STARTTLS, and no published policy asks for either",
        "only senders verifying by local policy (Postfix verify, secure or encrypt levels) "
        "defer, logging 4.7.5 or 4.7.4; opportunistic senders deliver",
    ),
    "fallback": (
        "a delivery route works, but another MX host, address, family or port fails, or a "
        "misconfiguration that affects no sender (an alias MX target, MTA-STS testing mode, "
        "an unusable policy)",
        "nobody: MTAs use the next address or MX (RFC 5321 5.1), so nobody logs a code",
    ),
    "healthy": (
        "every delivery route works; only informational findings (TLSA records in an "
        "unsigned zone, a certificate expiring soon, routes not attempted)",
        "nobody",
    ),
    "unknown": (
        "the probe could not run (no nameserver answered, or the --timeout deadline passed) "
        "or probed nothing",
        "not known: probe again",
    ),
}


def _policy_doc() -> str:
    lines = [
        "| situation | verdict | primary code | action | who fails, and what it logs |",
        "|---|---|---|---|---|",
    ]
    for r in POLICY:
        situation, who = POLICY_WORDS[r.id]
        codes = (
            ", ".join("the server's own" if c == SERVER_OWN_CODE else c for c in r.codes) or "none"
        )
        actions = ", ".join(a.value for a in r.actions)
        lines.append(f"| {situation} | {r.verdict.value} | {codes} | {actions} | {who} |")
    return "\n".join(lines)


#: :data:`~smtpdiag.diagnosis.decision.POLICY` as Markdown.
POLICY_DOC = _policy_doc()
