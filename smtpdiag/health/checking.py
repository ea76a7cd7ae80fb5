"""Health checks as a library call: probe a domain and judge it against thresholds.

    >>> from smtpdiag.health import Thresholds, check_sync
    >>> result = check_sync("example.org", config, Thresholds(require_all_mx=True))
    >>> result.status, result.summary

The probe itself is :func:`smtpdiag.pipeline.probe`, what :func:`smtpdiag.probe` is
(imported when first used, so importing this module stays cheap); the judging is
:func:`smtpdiag.health.evaluate` (pure).
"""

from __future__ import annotations

from dataclasses import replace

from ..blocking import run_blocking
from ..config import ProbeConfig
from ..errors import ProbeError
from ..model import TlsMode
from .evaluation import HealthResult, evaluate, unknown_result
from .thresholds import Thresholds

__all__ = ["DEFAULT_CHECK_PORTS", "check", "check_config", "check_sync"]

#: Ports a health check probes when no config is given: MTA-to-MTA delivery happens on
#: port 25 (RFC 5321 2.3.5); 587 and 465 are submission ports that MX hosts often do
#: not serve, and probing them by default would turn every such domain into a warning.
DEFAULT_CHECK_PORTS: tuple[int, ...] = (25,)


def check_config(config: ProbeConfig | None, thresholds: Thresholds) -> ProbeConfig:
    """The probe config a check uses: ``config`` (default: port 25 only), plus the first
    implicit-TLS port when ``thresholds.require_implicit_tls`` asks for one that would
    not otherwise be probed."""
    if config is None:
        config = ProbeConfig(ports=DEFAULT_CHECK_PORTS)
    if thresholds.require_implicit_tls and not any(
        config.tls_mode(p) is TlsMode.IMPLICIT for p in config.ports
    ):
        extra = config.implicit_tls_ports[0] if config.implicit_tls_ports else 465
        config = replace(config, ports=(*config.ports, extra))
    return config


async def check(
    domain: str,
    config: ProbeConfig | None = None,
    thresholds: Thresholds | None = None,
    *,
    diagnose: bool = True,
) -> HealthResult:
    """Probe ``domain`` and judge the report against ``thresholds``.

    Args:
        domain: The mail domain.
        config: Probe settings; default ``ProbeConfig(ports=(25,))`` (see
            :data:`DEFAULT_CHECK_PORTS`). Pass explicit nameservers in tests.
        thresholds: Limits and requirements; default :class:`Thresholds`.
        diagnose: Also run the diagnosis (its verdict and primary code are copied
            into the result).

    Returns:
        The health result. Network outcomes never raise: a probe that could not run
        gives status ``unknown``.

    Raises:
        ConfigError: ``domain`` is not a valid domain name.
    """
    th = thresholds or Thresholds()
    cfg = check_config(config, th)
    from ..pipeline import probe  # the DNS and SMTP libraries load only when a check runs

    try:
        report = await probe(domain, cfg, diagnose=diagnose)
    except ProbeError as exc:
        return unknown_result(domain, str(exc), th)
    return evaluate(report, th)


def check_sync(
    domain: str,
    config: ProbeConfig | None = None,
    thresholds: Thresholds | None = None,
    *,
    diagnose: bool = True,
) -> HealthResult:
    """Blocking twin of :func:`check`.

    Works from plain code and also from code that already runs an event loop in this
    thread (an async test, a notebook): the check then runs on its own loop in a worker
    thread, because ``asyncio.run`` cannot nest.
    """
    return run_blocking(
        lambda: check(domain, config, thresholds, diagnose=diagnose), name="smtpdiag-check"
    )
