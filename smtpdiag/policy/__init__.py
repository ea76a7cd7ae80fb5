"""The policy stage: a domain's MTA-STS, DANE and TLS-RPT, as typed observations.

Called by :func:`smtpdiag.api.probe` between resolve and probe. Order, all under the
probe's one deadline:

1. DANE first: the DNSSEC status of the MX RRset and the TLSA records of each MX host
   (:mod:`.dane`). They are a few DNS questions, and the probe needs them: the chain a
   route presents is matched against the usable records right after its handshake.
2. Then the probe runs concurrently with the MTA-STS lookup (:mod:`.mtasts`, a TXT
   question and an HTTPS fetch that may take seconds) and the TLS-RPT lookup
   (:mod:`.tlsrpt`), so a slow policy host does not delay the routes.

With ``config.policy.enabled`` false nothing is looked up and the policy is ``None``.
A domain that names no mail server (null MX, NXDOMAIN, a failed MX lookup) gets no
lookups either: its policy says ``not-checked``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, TypeVar

from ..config import ProbeConfig
from ..model import (
    DnssecStatus,
    MtaSts,
    MxTargetKind,
    Resolution,
    ResolutionKind,
    StsStatus,
    TlsaLookup,
    TlsPolicy,
    TlsRpt,
    TlsRptStatus,
)
from .tlsrpt import lookup_tls_rpt, parse_tls_rpt

__all__ = ["NOT_CHECKED", "DaneInputs", "lookup_policy", "lookup_tls_rpt", "parse_tls_rpt"]

T = TypeVar("T")

#: The policy of a domain whose lookups were not made (it names no mail server).
NOT_CHECKED = TlsPolicy(
    mta_sts=MtaSts(StsStatus.NOT_CHECKED), tls_rpt=TlsRpt(TlsRptStatus.NOT_CHECKED)
)

#: Share of the time left that the DANE lookups (before the probe) may take.
_DANE_SHARE = 1 / 3

#: MX targets that have addresses: the ones a sender connects to and looks TLSA up for.
_CONNECTABLE = (MxTargetKind.HOSTNAME, MxTargetKind.CNAME)


@dataclass(frozen=True, slots=True)
class DaneInputs:
    """What the probe takes from the DANE lookups, to match each chain as a DANE
    sender would.

    Attributes:
        tlsa: TLSA lookups by MX host name; empty when policy lookups are off or the
            domain names no mail server.
        nexthop: The domain, when its MX RRset is DNSSEC-secure: a DANE-TA
            certificate may then name it instead of the MX host (RFC 7672 3.2.2, as
            Postfix matches DANE-TA certificates); ``None`` for an insecure, bogus or
            unanswered MX RRset and for an implicit MX (whose host is the domain).
    """

    tlsa: Mapping[str, TlsaLookup] = field(default_factory=lambda: MappingProxyType({}))
    nexthop: str | None = None


def _ms(start: float) -> float:
    return round((time.monotonic() - start) * 1000.0, 3)


async def lookup_policy(
    domain: str,
    resolution: Resolution,
    config: ProbeConfig,
    *,
    deadline: float,
    during: Callable[[DaneInputs], Coroutine[Any, Any, T]],
    dnssec_resolver: Any = None,
    resolver: Any = None,
) -> tuple[TlsPolicy | None, T]:
    """Look the domain's TLS policy up and run ``during`` (the probe) alongside.

    Args:
        domain: The normalized domain.
        resolution: What the resolve stage found (the MX hosts).
        config: ``config.policy`` (on/off, fetch limits), the resolver, the timeouts.
        deadline: ``loop.time()`` by which every lookup ends.
        during: Called once with the TLSA lookups by MX host name and the secure
            next-hop domain (:class:`DaneInputs`; empty when policy lookups are off);
            it runs concurrently with the MTA-STS and TLS-RPT lookups.
        dnssec_resolver: A resolver asking with DO and AD set for the MX DNSSEC and
            TLSA lookups (a bulk run's cache, so each MX host is asked once per run);
            default: one built from ``config``.
        resolver: A plain resolver for the MTA-STS and TLS-RPT records (a service's
            answer cache); default: one built from ``config`` per lookup.

    Returns:
        The policy (``None`` when ``config.policy.enabled`` is false) and what
        ``during`` returned. Never raises on a network or DNS outcome.
    """
    if not config.policy.enabled:
        return None, await during(DaneInputs())
    if resolution.kind not in (ResolutionKind.MX, ResolutionKind.IMPLICIT):
        return NOT_CHECKED, await during(DaneInputs())
    # Imported here: these load cryptography/h11, which the CLI's --no-policy paths
    # and the plain report readers need not pay for. All of them now, before any route
    # is timed: an import on the event loop mid-probe (h11, the fetch) would stall the
    # routes' phases for a few hundred ms and show up as the servers' latency.
    import h11  # noqa: F401  # the fetch's HTTP parser, imported by it lazily

    from .. import certmatch  # noqa: F401
    from ..probing import connect, tls  # noqa: F401  # the fetch's lazy imports
    from . import fetch  # noqa: F401
    from .dane import lookup_dnssec_mx, lookup_tlsa
    from .mtasts import lookup_mta_sts

    start = time.monotonic()
    now = asyncio.get_running_loop().time()
    # The probe waits for these: they may use a third of the time left, so a resolver
    # that drops TLSA questions costs the routes some time but never all of it.
    dane_deadline = min(deadline, now + max(0.0, deadline - now) * _DANE_SHARE)
    mx_names = tuple(h.name for h in resolution.hosts)
    connectable = tuple(h.name for h in resolution.hosts if h.kind in _CONNECTABLE)
    mx_dnssec = DnssecStatus.UNKNOWN
    async with asyncio.TaskGroup() as group:
        if resolution.kind is ResolutionKind.MX:  # an implicit MX has no MX RRset
            mx_task = group.create_task(
                lookup_dnssec_mx(domain, config, deadline=dane_deadline, resolver=dnssec_resolver)
            )
        tlsa_task = group.create_task(
            lookup_tlsa(
                connectable,
                config.delivery_port,
                config,
                deadline=dane_deadline,
                resolver=dnssec_resolver,
            )
        )
    if resolution.kind is ResolutionKind.MX:
        mx_dnssec = mx_task.result()
    tlsa = tlsa_task.result()
    ends = [_ms(start)]

    async def sts() -> MtaSts:
        result = await lookup_mta_sts(
            domain, mx_names, config, deadline=deadline, resolver=resolver
        )
        ends.append(_ms(start))
        return result

    async def rpt() -> TlsRpt:
        result = await lookup_tls_rpt(domain, config, deadline=deadline, resolver=resolver)
        ends.append(_ms(start))
        return result

    # RFC 7672 3.2.2: only a secure MX RRset vouches that the domain's name may stand
    # for its MX hosts on a DANE-TA certificate.
    nexthop = domain if mx_dnssec is DnssecStatus.SECURE else None
    dane = DaneInputs({t.mx: t for t in tlsa}, nexthop)
    async with asyncio.TaskGroup() as group:
        sts_task = group.create_task(sts())
        rpt_task = group.create_task(rpt())
        probe_task = group.create_task(during(dane))
    policy = TlsPolicy(
        mta_sts=sts_task.result(),
        mx_dnssec=mx_dnssec,
        dane=tlsa,
        tls_rpt=rpt_task.result(),
        duration_ms=max(ends),
    )
    return policy, probe_task.result()
