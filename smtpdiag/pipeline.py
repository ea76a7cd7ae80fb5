"""The pipeline: resolve -> plan -> policy + probe -> diagnose, under one deadline.

Re-exported by the facade, :mod:`smtpdiag.api`. It lives in a layer of its own, right
above the stages it runs, so that the uses of a probe below the facade (a health check,
probing the domains of bounces or of TLS reports) run this same pipeline without
importing the facade.

``await smtpdiag.probe("example.org", config)`` returns a :class:`ProbeReport` that
holds everything observed (and, by default, the diagnosis). Network outcomes never
raise; misuse raises :class:`ConfigError`.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from .blocking import run_blocking
from .certmatch import load_trust_store
from .config import ProbeConfig
from .errors import ConfigError, ProbeError
from .model import AddressFamily, PhaseRecord, ProbeReport, Route, RouteResult, Vantage
from .narrate.narrator import diagnose as _diagnose
from .policy import DaneInputs, lookup_policy
from .probing import plan_routes, probe_routes
from .probing.gates import AddressGates
from .resolve import normalize_domain, resolve_domain
from .resolve.reverse import lookup_names
from .resolve.vantage import check_blocklists, check_resolver
from .timefmt import utc_iso
from .version import __version__

__all__ = ["check_config", "could_not_run", "egress_addresses", "probe", "probe_sync"]

# Stages end by the deadline themselves; this margin only guards against a bug there.
_SAFETY_MARGIN_S = 2.0


def check_config(config: ProbeConfig) -> None:
    """Refuse local mistakes that would otherwise be diagnosed as the destination's fault.

    :class:`ProbeConfig` checks what it can without touching the machine (the source
    address's family is one of ``families``); this checks the environment: the
    source address is one this machine owns (a ``bind`` to port 0, nothing is sent)
    and the CA file holds a certificate that parses. Both used to fail every route
    or every verification and surface as a 5.4.2 against the recipient.
    :func:`probe` calls it; the CLI calls it to print one usage line.

    Raises:
        ConfigError: With a one-line message.
    """
    if config.source_address is not None:
        address = ipaddress.ip_address(config.source_address)
        af = socket.AF_INET6 if address.version == 6 else socket.AF_INET
        try:
            with socket.socket(af, socket.SOCK_STREAM) as sock:
                sock.bind((str(address), 0))
        except OSError as exc:
            raise ConfigError(
                f"source address {address} cannot be used here: {exc.strerror or exc}"
            ) from None
    ca_file = config.tls.ca_file
    if ca_file is not None and load_trust_store(ca_file) is None:
        raise ConfigError(f"CA file {ca_file!r} holds no certificate that can be parsed")


async def probe(
    domain: str,
    config: ProbeConfig | None = None,
    *,
    diagnose: bool = True,
    history: Sequence[ProbeReport] = (),
    now: datetime | None = None,
    trace: Callable[[Route, PhaseRecord], None] | None = None,
    gates: AddressGates | None = None,
    resolver: Any = None,
    dnssec_resolver: Any = None,
) -> ProbeReport:
    """Probe every route of ``domain`` and (by default) diagnose what was seen.

    Args:
        domain: The mail domain (a recipient address's part after ``@``).
        config: Ports, timeouts, resolver, TLS settings, TLS policy lookups
            (``config.policy``: MTA-STS, DANE, TLS-RPT; on by default); defaults to
            ``ProbeConfig()``.
        diagnose: Add the diagnosis (``report.diagnosis``); ``False`` for raw observations.
        history: Earlier reports of the same domain, oldest first (from watch mode):
            evidence of whether a failure persists.
        now: The instant retry schedules count from (default: the diagnosis time).
        trace: Called with each route's phase record as soon as the phase ends (live
            progress; it runs on the event loop, so keep it quick).
        gates: Per-address politeness gates shared with other probes running in the
            same event loop (a service probing many domains whose MX hosts share
            addresses); default: this probe's own, ``config.per_address_limit`` each.
        resolver: A resolver shared with other probes (a service's answer cache,
            :func:`~smtpdiag.resolve.caching_resolver`) for the plain questions: MX,
            addresses, MTA-STS and TLS-RPT records, reverse names, blocklists; default:
            one built from ``config`` for this probe.
        dnssec_resolver: The same, asking with DO and AD set: the MX DNSSEC, TLSA and
            resolver-validation questions.

    Returns:
        The report. It ends within ``config.timeouts.total`` seconds (plus a little
        for QUIT), whatever the servers and the DNS do.

    Raises:
        ConfigError: ``domain`` is not a valid domain name, or the configuration
            does not fit this machine (see :func:`check_config`).
        ProbeError: A stage overran the deadline by more than the safety margin.
    """
    config = config or ProbeConfig()
    name = normalize_domain(domain)
    check_config(config)
    loop = asyncio.get_running_loop()
    started = loop.time()
    started_at = utc_iso()
    deadline = started + config.timeouts.total
    try:
        async with asyncio.timeout(config.timeouts.total + _SAFETY_MARGIN_S):
            # The resolver's DNSSEC check asks nothing about the domain: it runs from the
            # start, alongside everything, so that a nameserver that does not answer
            # costs one --dns-timeout, not two. The reverse DNS of the MX addresses runs
            # alongside the policy stage and the probe.
            async with asyncio.TaskGroup() as group:
                validation = (
                    group.create_task(
                        check_resolver(config, deadline=deadline, resolver=dnssec_resolver)
                    )
                    if config.policy.enabled
                    else None
                )
                resolution = await resolve_domain(
                    name, config, deadline=deadline, resolver=resolver
                )
                routes = plan_routes(resolution, config)

                async def run(dane: DaneInputs) -> tuple[RouteResult, ...]:
                    return await probe_routes(
                        routes,
                        config,
                        deadline=deadline,
                        trace=trace,
                        tlsa=dane.tlsa,
                        nexthop=dane.nexthop,
                        gates=gates,
                    )

                names = group.create_task(
                    lookup_names(resolution, config, deadline=deadline, resolver=resolver)
                )
                # The policy stage runs the probe itself: after the TLSA lookups (the
                # probe matches chains against them), alongside MTA-STS and TLS-RPT.
                policy, results = await lookup_policy(
                    name,
                    resolution,
                    config,
                    deadline=deadline,
                    during=run,
                    dnssec_resolver=dnssec_resolver,
                    resolver=resolver,
                )
            egress = egress_addresses(results)
            # Blocklists need the egress addresses, known once the probe connected.
            listings = await check_blocklists(egress, config, deadline=deadline, resolver=resolver)
    except TimeoutError:
        raise ProbeError(
            f"probe of {name} overran its {config.timeouts.total:g} s deadline"
        ) from None
    report = ProbeReport(
        domain=name,
        resolution=resolution,
        routes=results,
        started_at=started_at,
        duration_ms=round((loop.time() - started) * 1000.0, 3),  # 1 µs, as the JSON writes
        ports=config.ports,
        families=config.probe_families,
        policy=policy,
        tool_version=__version__,
        names=names.result(),
        vantage=Vantage(
            egress=egress,
            blocklists=listings,
            resolver=validation.result() if validation is not None else None,
        ),
    )
    if diagnose:
        report = replace(report, diagnosis=_diagnose(report, now=now, history=history))
    return report


def egress_addresses(results: Sequence[RouteResult]) -> tuple[str, ...]:
    """The probe's own local addresses, the first one seen per address family (IPv4
    first): the address a server sees the probe, and a sender here, connect from."""
    found: dict[AddressFamily, str] = {}
    for r in results:
        if r.local_address is not None:
            family = (
                AddressFamily.IPV6
                if ipaddress.ip_address(r.local_address).version == 6
                else AddressFamily.IPV4
            )
            found.setdefault(family, r.local_address)
    return tuple(found[f] for f in (AddressFamily.IPV4, AddressFamily.IPV6) if f in found)


def probe_sync(
    domain: str,
    config: ProbeConfig | None = None,
    *,
    diagnose: bool = True,
    history: Sequence[ProbeReport] = (),
    now: datetime | None = None,
) -> ProbeReport:
    """Blocking twin of :func:`probe`.

    Works from plain code and also from code that already runs an event loop in this
    thread (the probe then runs on its own loop in a worker thread), like
    :func:`smtpdiag.health.check_sync`.
    """
    return run_blocking(
        lambda: probe(domain, config, diagnose=diagnose, history=history, now=now),
        name="smtpdiag-probe",
    )


def could_not_run(report: ProbeReport) -> bool:
    """True when no nameserver answered at all (see :attr:`ProbeReport.could_not_run`)."""
    return report.could_not_run
