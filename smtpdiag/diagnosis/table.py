"""The rule table: ONE ordered row per rule (``RULES``).

Invariants (tests in ``tests/unit/diagnose`` check them):

* Pure. Rules import no I/O module (no asyncio, socket, ssl, dns, aiosmtplib); a
  predicate reads typed facts (:mod:`.facts`) and returns a typed match
  (:mod:`.predicates`). Regular expressions only ever see server reply text.
* One row per rule: its :class:`~smtpdiag.model.RuleId`, its code (or
  :data:`SERVER_OWN`: the well-formed enhanced code the server stated, consistent with
  its reply class, else the seed code given), its kind, its predicate and the rules it
  suppresses. The engine fires the rows in order, drops suppressed ones, applies the
  one severity policy (:func:`smtpdiag.diagnosis.engine.severity_for`) and derives
  ``healthy``: delivery works and no failure or feature rule fired. Table order is
  importance order; the first finding's code is the primary code.
* Evidence. A route never attempted (deadline, address policy) is no evidence against
  a server: it is in no route-level predicate, only in ``routes-not-attempted`` and
  ``mx-not-global``.
* Deliverability. MTAs deliver on the delivery port and fall back to the next
  address/MX (RFC 5321 5.1, 5.4.4). When a delivery-port route works, a failure rule's
  hard code bounces nothing: severity ``info``, action FIX, never SUPPRESS.
* Total. Every ``ResolutionKind``, every ``MxTargetKind`` and every (``Phase``,
  ``Outcome``) a failed route can end in is covered: :func:`.facts.classify` maps each
  route to a :class:`~.facts.RouteState`, and for each state at least one row fires.
* Codes. The four seed codes (4.4.2, 5.4.2, 4.3.2, 5.4.3) are the ones this tool is
  built around; neighbours (4.4.1, 4.4.3, 5.4.4, 5.1.10) are named where RFC 3463 or
  common MTAs use them.
* Ports and families. The *delivery port* is 25 when probed, else the first probed
  port. An MX whose addresses are all in a family excluded by ``-4``/``-6`` was not
  probed and is no fault (``family-filtered``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from ..model import RuleId
from . import predicates as p
from .facts import CERT_EXPIRY_WARN_DAYS, Facts
from .predicates import Match
from .vantage import GREETING_DELAY_S

__all__ = [
    "RULES",
    "RULE_TABLE_DOC",
    "SERVER_OWN",
    "VERDICT_DOC",
    "Enforced",
    "Row",
    "RuleKind",
    "ServerOwn",
    "row",
]


class RuleKind(StrEnum):
    """What a rule's finding means for the verdict and for history."""

    FAILURE = "failure"  #: something fails; history decides its persistence
    FEATURE = "feature"  #: mail flows, but a feature is missing or broken (degrades)
    INFO = "info"  #: an observation only


@dataclass(frozen=True, slots=True)
class ServerOwn:
    """The code is the server's own enhanced code when it states a usable one.

    Attributes:
        fallback: The seed code used when it does not (also for causes, steps, action).
    """

    fallback: str


#: Shorthand for rows whose code is the server's own.
SERVER_OWN: Final = ServerOwn


@dataclass(frozen=True, slots=True)
class Enforced:
    """The code applies only when some kind of sender defers the message: for the TLS
    policy rows a sender applying the domain's published policy (MTA-STS mode
    ``enforce``, DANE; in ``testing`` mode they deliver and report), for a certificate
    or STARTTLS problem without a policy a sender verifying by local policy; when
    another MX host passes their checks they deliver there. Then the finding has no code.

    The code is what such a sender logs: Postfix defers with ``4.7.5`` ("Server
    certificate not verified", also for an MTA-STS or DANE check that fails, as
    postfix-mta-sts-resolver and Postfix's ``dane`` level both verify in the TLS layer)
    and ``4.7.4`` ("TLS is required, but was not offered by host"); Exim logs the TLS
    failure and defers (a 4xx retry), Exchange Online 4.4.317/4.7.5-style deferrals.

    Attributes:
        code: The code when some sender defers.
        guide: The guide (4.4.2, 5.4.2 ...) whose causes, steps and action the finding
            uses; ``None`` for none.
    """

    code: str
    guide: str | None = None


@dataclass(frozen=True, slots=True)
class Row:
    """One row of the rule table.

    Attributes:
        id: The rule's id (appears in findings and JSON).
        code: The status code, :class:`ServerOwn`, or ``None`` for code-less findings.
        kind: Failure, feature or info.
        predicate: Named predicate over the facts returning a match or ``None``.
        suppresses: Rules whose findings are dropped when this one fires.
        observes: What observations lead to it, in words (for the rule table doc).
    """

    id: RuleId
    code: str | ServerOwn | Enforced | None
    kind: RuleKind
    predicate: Callable[[Facts], Match | None]
    suppresses: frozenset[RuleId]
    observes: str

    @property
    def seed_code(self) -> str | None:
        """The code whose seed knowledge (causes, steps, action) the finding uses."""
        if isinstance(self.code, ServerOwn):
            return self.code.fallback
        if isinstance(self.code, Enforced):
            return self.code.guide
        return self.code


F, X, INFO = RuleKind.FAILURE, RuleKind.FEATURE, RuleKind.INFO
R = RuleId


def _r(
    rid: RuleId,
    code: str | ServerOwn | Enforced | None,
    kind: RuleKind,
    predicate: Callable[[Facts], Match | None],
    observes: str,
    suppresses: tuple[RuleId, ...] = (),
) -> Row:
    return Row(rid, code, kind, predicate, frozenset(suppresses), observes)


# fmt: off
RULES: tuple[Row, ...] = (
    _r(R.NULL_MX, "5.1.10", F, p.null_mx, "resolution null-mx: MX '0 .' (RFC 7505)"),
    _r(R.COULD_NOT_RUN, None, F, p.could_not_run,
       "no nameserver answered the MX query at all (timeout, local error), or no address "
       "lookup of any MX target: the probe could not run; verdict unknown, exit 5",
       (R.DNS_FAILED, R.MX_LOOKUP_FAILED, R.NOTHING_PROBED)),
    _r(R.DNS_FAILED, "4.4.3", F, p.dns_failed,
       "resolution failed with an answer: MX query SERVFAIL / REFUSED"),
    _r(R.NO_ROUTE, "5.4.4", F, p.no_route, "resolution none: MX NXDOMAIN, or NODATA and no A/AAAA"),
    _r(R.PRIMARY_DOWN_SECONDARY_OK, None, X, p.primary_down_secondary_ok,
       "no delivery-port route of the rank-1 MX works (or it has no address), a secondary's "
       "does: leads, as mail is deliverable; it says what the MX-level finding would",
       (R.MX_DOWN,)),
    _r(R.OWN_PORT_BLOCKED, None, X, p.own_port_blocked,
       "every delivery-port route times out (silent drop) or is denied locally (errno "
       "EPERM/EACCES) while another port of the same servers connects",
       (R.ALL_ROUTES_REFUSED, R.MX_NOT_LISTENING, R.PORT_BLOCKED)),
    _r(R.MX_NOT_GLOBAL, "5.4.3", F, p.mx_not_global,
       "MX addresses not global unicast (loopback, private, link-local, unspecified ...): "
       "not attempted, skip_reason address-policy", (R.NOTHING_PROBED,)),
    _r(R.ALL_MX_UNREACHABLE, "5.4.3", F, p.all_mx_unreachable,
       "DNS fine, every route of every MX fails at connect with an ICMP unreachable",
       (R.ALL_ROUTES_REFUSED,)),
    _r(R.MX_NOT_LISTENING, "5.4.3", F, p.mx_not_listening,
       "DNS fine, every port of every MX refused (ECONNREFUSED): the hosts answer, nothing "
       "listens - a dead or decommissioned mail host", (R.ALL_ROUTES_REFUSED,)),
    _r(R.ALL_ROUTES_REFUSED, "5.4.2", F, p.all_routes_refused,
       "DNS fine, every route fails at connect (refusals and timeouts mixed, or timeouts)"),
    _r(R.GREETING_DEFERRED, SERVER_OWN("4.3.2"), F, p.greeting_deferred,
       "421 to any phase, or 4xx to greeting/EHLO/HELO; the server's own enhanced code "
       "when it states one"),
    _r(R.TLS_MISMATCH, "5.4.2", F, p.tls_mismatch,
       "TLS handshake fails: tls_reason not-tls (plaintext on an implicit-TLS port), "
       "protocol-version, cipher, alert protocol_version/handshake_failure/"
       "insufficient_security, a certificate reason; or 5xx to STARTTLS"),
    _r(R.PATH_MTU_BLACK_HOLE, "4.4.2", F, p.path_mtu_black_hole,
       "a TLS handshake stalled (timeout at its own limit) after plain SMTP worked on the "
       "address, and the handshake repeated once on a new connection with a small MSS (536 "
       "IPv4, 1220 IPv6; route mss_retry.result completed) went through: path MTU black hole, "
       "proven (payload causes_proven); these routes leave connection-dropped"),
    _r(R.CONNECTION_DROPPED, SERVER_OWN("4.4.2"), F, p.connection_dropped,
       "connected, then closed / reset / timed out; a TLS failure that is no mismatch "
       "(reset, closed, timeout, other alerts such as internal_error); 4xx to STARTTLS "
       "(then the server's own enhanced code: a reply, not a drop); a handshake stall whose "
       "small-MSS retry stalled too names no MTU cause (payload causes_unlikely)"),
    _r(R.SERVER_REJECTED, SERVER_OWN("5.4.2"), F, p.server_rejected,
       "5xx greeting, 5xx to EHLO and HELO, or a peer that does not speak SMTP; the "
       "server's own enhanced code when it states one"),
    _r(R.PORT_BLOCKED, "5.4.2", F, p.port_blocked,
       "some routes of an MX fail at connect while other ports/addresses of that MX "
       "connect; delivery port refused on every MX address while another port answers"),
    _r(R.FAMILY_UNREACHABLE, None, X, p.family_unreachable,
       "every route of one address family unreachable (EHOSTUNREACH/ENETUNREACH) while "
       "the other family delivers: degraded, never a firewall finding"),
    _r(R.MX_NO_ADDRESS, "5.4.3", F, p.mx_no_address,
       "MX target with no address (A/AAAA NXDOMAIN or NODATA) or written as an IP literal"),
    _r(R.MX_CNAME, None, X, p.mx_cname,
       "MX target is an alias (CNAME): MTAs deliver to it (no code), a misconfiguration "
       "(RFC 2181 10.3)"),
    _r(R.MX_LOOKUP_FAILED, "4.4.3", F, p.mx_lookup_failed,
       "MX target's A/AAAA lookup SERVFAIL / REFUSED / TIMEOUT / ERROR"),
    _r(R.MX_DOWN, "5.4.3", F, p.mx_down,
       "some (not all) MX hosts fail at connect on every address and port"),
    _r(R.NOTHING_PROBED, None, F, p.nothing_probed,
       "DNS fine, but no route was attempted (family filter, deadline): verdict unknown, "
       "no code, never a bounce", (R.FAMILY_FILTERED,)),
    _r(R.DANE_BOGUS, Enforced("4.4.3", "4.4.3"), X, p.dane_bogus,
       "an MX host's TLSA lookup (or the MX RRset) fails DNSSEC validation (the resolver "
       "answers SERVFAIL): DANE senders defer (RFC 7672 2.1.1; RFC 8460 dnssec-invalid)"),
    _r(R.DANE_MISMATCH, Enforced("4.7.5", "4.4.2"), X, p.dane_mismatch,
       "a delivery-port route's chain matches none of its MX host's usable TLSA records "
       "(tls.dane.matched false): DANE senders defer (RFC 7672 3.1; tlsa-invalid)"),
    _r(R.STARTTLS_REQUIRED, Enforced("4.7.4", "4.4.2"), X, p.starttls_required,
       "a delivery-port route works without STARTTLS while MTA-STS enforces or the MX host "
       "has secure TLSA records: those senders defer (starttls-not-supported)"),
    _r(R.MTA_STS_CERT_INVALID, Enforced("4.7.5", "4.4.2"), X, p.mta_sts_cert_invalid,
       "MTA-STS mode enforce or testing, and a delivery-port route's certificate does not "
       "chain to a WebPKI root or does not name the MX host (RFC 8461 4.2): enforce - "
       "MTA-STS senders defer (RFC 8461 5); testing - they deliver and report"),
    _r(R.MTA_STS_MX_NOT_COVERED, Enforced("4.7.5", "4.4.2"), X, p.mta_sts_mx_not_covered,
       "MTA-STS mode enforce or testing, and an MX host matches none of the policy's mx "
       "patterns (RFC 8461 4.1): enforce - MTA-STS senders do not use it"),
    _r(R.TLS_CERT_UNVERIFIED, Enforced("4.7.5", "5.4.2"), X, p.tls_cert_unverified,
       "route works, but the certificate fails verification (verify_reason untrusted, "
       "expired, wrong name, weak key) or does not name the MX (routes an MTA-STS policy "
       "binds are mta-sts-cert-invalid's): senders verifying by local policy defer "
       "unless another MX host verifies"),
    _r(R.STARTTLS_NOT_OFFERED, Enforced("4.7.4"), X, p.starttls_not_offered,
       "route works, EHLO does not advertise STARTTLS (where enforcing senders require "
       "TLS: starttls-required): senders requiring TLS by local policy defer unless "
       "another MX host offers it"),
    _r(R.MTA_STS_FETCH_FAILED, None, X, p.mta_sts_fetch_failed,
       "the _mta-sts TXT record is published, but the policy cannot be fetched over HTTPS "
       "(sts-policy-fetch-error): MTA-STS senders deliver as without a policy (RFC 8461 "
       "3.3) unless they cached one"),
    _r(R.MTA_STS_WEBPKI_INVALID, None, X, p.mta_sts_webpki_invalid,
       "the policy host's certificate fails WebPKI validation (sts-webpki-invalid)"),
    _r(R.MTA_STS_INVALID, None, X, p.mta_sts_invalid,
       "the policy file is malformed (sts-policy-invalid), or the _mta-sts TXT record is "
       "(then senders assume there is no policy)"),
    _r(R.DANE_NOT_USABLE, None, X, p.dane_not_usable,
       "TLSA records published but not usable: the zone is not DNSSEC-validated, or no "
       "record has a usable usage/selector/matching type (never a pass)"),
    _r(R.CERT_EXPIRING, None, INFO, p.cert_expiring,
       f"route works, certificate expires within {CERT_EXPIRY_WARN_DAYS} days"),
    _r(R.ALT_PORTS_FAILING, None, INFO, p.alt_ports_failing,
       "another port of an address fails while its delivery port works (or, for an "
       "unanswered connect, at least connects)"),
    _r(R.FAMILY_FILTERED, None, INFO, p.family_filtered,
       "an MX has addresses only in a family excluded by -4/-6: not probed, no fault"),
    _r(R.NO_IPV6_HERE, None, INFO, p.no_ipv6_here,
       "every IPv6 route fails with ENETUNREACH while IPv4 connects: the prober has no IPv6"),
    _r(R.ROUTES_NOT_ATTEMPTED, None, INFO, p.routes_not_attempted,
       "routes not attempted because the deadline passed first (skip_reason deadline): "
       "said, never evidence against the server"),
    _r(R.OBSERVATION_CAPPED, None, INFO, p.observation_capped,
       "hosts_omitted, addresses_omitted, sans_omitted or chain_truncated: the report says "
       "what was cut"),
    _r(R.IMPLICIT_MX, None, INFO, p.implicit_mx,
       "resolution implicit: no MX, the domain's own A/AAAA"),
    _r(R.TLS_RPT_INVALID, None, INFO, p.tls_rpt_invalid,
       "the _smtp._tls TXT record is published but invalid (RFC 8460 3): no TLS reports"),
    _r(R.GREYLISTED, None, INFO, p.greylisted,
       "450/451 whose text names greylisting (reply hint greylist): a normal defence, a "
       "retrying MTA delivers after the delay; never a failure (verdict at worst degraded)"),
    _r(R.GREETING_DELAYED, None, INFO, p.greeting_delayed,
       f"220 greeting received, but only after {GREETING_DELAY_S:g} s or more (a tarpit or "
       "greet pause): a normal defence, MTAs wait up to 5 minutes (RFC 5321 4.5.3.2)"),
    _r(R.EGRESS_LISTED, None, INFO, p.egress_listed,
       "the prober's egress address is listed on a blocklist zone the user configured "
       "(--blocklist; 127.0.0.2-127.0.0.255): a 5xx naming a listing, or a 554 greeting, is "
       "then about the sender (fault side vantage), not the recipient"),
    _r(R.RESOLVER_NOT_VALIDATING, None, INFO, p.resolver_not_validating,
       "the resolver answers the root's SOA (signed) without the AD bit and no answer was "
       "secure: it does not validate DNSSEC, so DANE results are unknown from here",
       (R.DANE_NOT_USABLE,)),
    _r(R.FCRDNS_MISSING, None, INFO, p.fcrdns_missing,
       "a probed MX address has no PTR record, or no PTR name resolves back to it "
       "(FCrDNS): information, senders do not reject a receiver for it"),
    _r(R.HOST_NAME_DIFFERS, None, INFO, p.host_name_differs,
       "a delivery-port route's greeting or EHLO names another host than the MX host; "
       "when the certificate names that host but not the MX host, this explains the "
       "name mismatch strict senders see"),
)
# fmt: on

_BY_ID = {r.id: r for r in RULES}


def row(rule_id: RuleId) -> Row:
    """The row of ``rule_id`` (``healthy`` has none: it is derived)."""
    return _BY_ID[rule_id]


#: How :func:`smtpdiag.diagnosis.engine.verdict_for` sums the findings up (part of the doc).
VERDICT_DOC = (
    "Verdict (it follows the delivery port: 25 when probed, else the first port given): "
    "no-mail = null MX; unknown = the probe could not run (`could-not-run`, exit 5) or no "
    "route was probed (`nothing-probed`, e.g. -6 against an IPv4-only domain); healthy = "
    "derived: a delivery-port route works and no failure or feature rule fired; degraded "
    "= at least one delivery-port route works but something else fails; failed = no "
    "delivery-port route works, even if 587/465 answer, or a sender applying the domain's "
    "own published policy (MTA-STS enforce, DANE) defers. Exception: `own-port-blocked` "
    "with another port working stays degraded (the destination's port 25 was not really "
    "tested). Routes not attempted (deadline, address policy) count neither way."
)


def _table_doc() -> str:
    lines = ["| rule | code | kind | suppresses | observations |", "|---|---|---|---|---|"]
    for r in RULES:
        if isinstance(r.code, ServerOwn):
            code = f"server's own, else {r.code.fallback}"
        elif isinstance(r.code, Enforced):
            code = f"{r.code.code} when a sender defers, else -"
        else:
            code = r.code or "-"
        sup = ", ".join(sorted(r.suppresses)) or "-"
        lines.append(f"| {r.id} | {code} | {r.kind} | {sup} | {r.observes} |")
    lines.append(
        "| healthy | - | derived | - | a delivery-port route works and no failure or "
        "feature rule fired |"
    )
    lines += ["", VERDICT_DOC]
    return "\n".join(lines)


#: The rule table as Markdown (id, code, kind, suppresses, observations).
RULE_TABLE_DOC = _table_doc()
