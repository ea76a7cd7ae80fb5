"""The words of fired rules: one narrator per :class:`~smtpdiag.model.RuleId`.

- :func:`narrate_rule`: the words of one fired rule (a :class:`~.common.Draft`).
- :func:`finding_title`: a finding's title from its code and severity.
"""

from __future__ import annotations

from collections.abc import Callable

from ..diagnosis.facts import Facts
from ..diagnosis.predicates import Match
from ..model import RuleId
from . import findings_dns as dns
from . import findings_info as info
from . import findings_policy as pol
from . import findings_routes as routes
from . import findings_vantage as vantage
from .common import Draft, code_title

__all__ = ["finding_title", "narrate_rule"]

_NARRATORS: dict[RuleId, Callable[[Facts, Match], Draft]] = {
    RuleId.NULL_MX: dns.null_mx,
    RuleId.COULD_NOT_RUN: dns.could_not_run,
    RuleId.DNS_FAILED: dns.dns_failed,
    RuleId.NO_ROUTE: dns.no_route,
    RuleId.PRIMARY_DOWN_SECONDARY_OK: dns.primary_down,
    RuleId.OWN_PORT_BLOCKED: routes.own_block,
    RuleId.MX_NOT_GLOBAL: dns.mx_not_global,
    RuleId.ALL_MX_UNREACHABLE: routes.all_unreachable,
    RuleId.MX_NOT_LISTENING: routes.mx_not_listening,
    RuleId.ALL_ROUTES_REFUSED: routes.all_refused,
    RuleId.GREETING_DEFERRED: routes.deferred,
    RuleId.TLS_MISMATCH: routes.tls_mismatch,
    RuleId.CONNECTION_DROPPED: routes.dropped,
    RuleId.PATH_MTU_BLACK_HOLE: routes.mtu_black_hole,
    RuleId.SERVER_REJECTED: routes.rejected,
    RuleId.PORT_BLOCKED: routes.port_blocked,
    RuleId.FAMILY_UNREACHABLE: routes.family_unreachable,
    RuleId.MX_NO_ADDRESS: dns.mx_no_address,
    RuleId.MX_CNAME: dns.mx_cname,
    RuleId.MX_LOOKUP_FAILED: dns.mx_lookup_failed,
    RuleId.MX_DOWN: dns.mx_down,
    RuleId.NOTHING_PROBED: dns.nothing_probed,
    RuleId.DANE_BOGUS: pol.dane_bogus,
    RuleId.DANE_MISMATCH: pol.dane_mismatch,
    RuleId.STARTTLS_REQUIRED: pol.starttls_required,
    RuleId.MTA_STS_CERT_INVALID: pol.mta_sts_cert_invalid,
    RuleId.MTA_STS_MX_NOT_COVERED: pol.mta_sts_mx_not_covered,
    RuleId.TLS_CERT_UNVERIFIED: info.cert_unverified,
    RuleId.STARTTLS_NOT_OFFERED: info.starttls_missing,
    RuleId.MTA_STS_FETCH_FAILED: pol.mta_sts_fetch_failed,
    RuleId.MTA_STS_WEBPKI_INVALID: pol.mta_sts_webpki_invalid,
    RuleId.MTA_STS_INVALID: pol.mta_sts_invalid,
    RuleId.DANE_NOT_USABLE: pol.dane_not_usable,
    RuleId.TLS_RPT_INVALID: pol.tls_rpt_invalid,
    RuleId.HEALTHY: info.healthy,
    RuleId.CERT_EXPIRING: info.cert_expiring,
    RuleId.ALT_PORTS_FAILING: info.alt_ports_failing,
    RuleId.FAMILY_FILTERED: dns.family_filtered,
    RuleId.NO_IPV6_HERE: info.no_ipv6_here,
    RuleId.ROUTES_NOT_ATTEMPTED: info.routes_not_attempted,
    RuleId.OBSERVATION_CAPPED: info.observation_capped,
    RuleId.IMPLICIT_MX: dns.implicit,
    RuleId.GREYLISTED: vantage.greylisted,
    RuleId.GREETING_DELAYED: vantage.greeting_delayed,
    RuleId.EGRESS_LISTED: vantage.egress_listed,
    RuleId.RESOLVER_NOT_VALIDATING: vantage.resolver_not_validating,
    RuleId.FCRDNS_MISSING: vantage.fcrdns_missing,
    RuleId.HOST_NAME_DIFFERS: vantage.host_name_differs,
}


def narrate_rule(rule: RuleId, facts: Facts, match: Match) -> Draft:
    """The words of a fired rule (every :class:`RuleId` has a narrator)."""
    return _NARRATORS[rule](facts, match)


def finding_title(code: str | None, rule: RuleId, *, no_bounce: bool) -> str:
    """The code's title; without "(permanent)" when the finding bounces nothing."""
    if code is None:
        return rule.value
    title = code_title(code)
    return title.replace(" (permanent)", "") if no_bounce else title
