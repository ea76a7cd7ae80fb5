"""Assertions for users' test suites: "our mail routes are healthy".

    from smtpdiag.testing.assertions import assert_deliverable

    def test_mail_routes():
        assert_deliverable("example.org", ports=(25,), require_tls=True)

On failure an :class:`AssertionError` lists the status, every problem, and each
route's state, so the CI log says which MX, address, port and phase failed and why.

Importing this module is cheap; the probe machinery loads when an assertion runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from ..config import (
    LOOPBACK_NETWORKS,
    Nameserver,
    ProbeConfig,
    ResolverConfig,
    Timeouts,
    TlsConfig,
)
from ..errors import ConfigError
from ..model import AddressFamily
from .offline import is_offline

if TYPE_CHECKING:
    from ..health.evaluation import HealthResult
    from ..health.thresholds import Thresholds

__all__ = ["assert_deliverable", "assert_healthy", "failure_message", "probe_config"]

#: Route and problem lines shown at most in one assertion message.
_MAX_LINES = 40


def _nameservers(nameservers: Iterable[str | Nameserver] | None) -> tuple[Nameserver, ...]:
    """Parse ``nameservers``; ``None`` is the system resolver, an empty list a mistake.

    An empty list usually means a setting that came out empty (an unset environment
    variable, a filtered list): quietly asking the system resolver instead would test
    something else than meant, so it is refused.
    """
    if nameservers is None:
        return ()
    servers = tuple(n if isinstance(n, Nameserver) else Nameserver.parse(n) for n in nameservers)
    if not servers:
        raise ConfigError(
            "nameservers is empty: pass at least one 'IP[:PORT]', "
            "or leave it out (None) to use the system resolver"
        )
    return servers


def _skip_if_offline() -> None:
    """Under ``pytest --smtpdiag-offline`` no check reaches the network: skip the test."""
    if is_offline():
        import pytest  # only here: set only inside a pytest run

        pytest.skip("smtpdiag checks disabled by --smtpdiag-offline")


def probe_config(
    *,
    ports: Sequence[int] = (25,),
    nameservers: Iterable[str | Nameserver] | None = None,
    timeout: float = 20.0,
    ca_file: str | None = None,
    families: Sequence[AddressFamily | str] = (AddressFamily.IPV4, AddressFamily.IPV6),
    implicit_tls_ports: Sequence[int] = (465,),
    allow_targets: Sequence[str] = LOOPBACK_NETWORKS,
) -> ProbeConfig:
    """A :class:`ProbeConfig` from the few settings a test cares about.

    ``timeout`` is the overall deadline in seconds; the per-phase limits are derived
    from it (at most 10 s each). ``nameservers`` are ``"IP"``, ``"IP:PORT"`` or
    :class:`Nameserver` objects; ``None`` means the system resolver, an empty list is a
    :class:`~smtpdiag.errors.ConfigError`. ``allow_targets`` are the non-global
    networks that may be probed: by default loopback, where the test kit's own servers
    (:mod:`smtpdiag.testing.smtpserver`) listen; add a lab's or a private mail
    network's, or pass ``()`` to probe like the CLI does.
    """
    per_phase = min(10.0, timeout)
    servers = _nameservers(nameservers)
    return ProbeConfig(
        ports=tuple(ports),
        families=tuple(AddressFamily(f) for f in families),
        timeouts=Timeouts(
            dns=min(5.0, timeout),
            connect=per_phase,
            greeting=per_phase,
            command=per_phase,
            tls=per_phase,
            total=timeout,
        ),
        resolver=ResolverConfig(servers),
        tls=TlsConfig(ca_file=ca_file),
        implicit_tls_ports=tuple(implicit_tls_ports),
        allow_targets=tuple(allow_targets),
    )


def failure_message(result: HealthResult, what: str) -> str:
    """The assertion message for ``result``: status, problems, routes (bounded)."""
    lines = [f"{what} (status {result.status.value.upper()})", f"summary: {result.summary}"]
    if result.problems:
        lines.append("problems:")
        lines += [f"  - [{p.level.value}] {p.reason}" for p in result.problems[:_MAX_LINES]]
        if len(result.problems) > _MAX_LINES:
            lines.append(f"  ... and {len(result.problems) - _MAX_LINES} more")
    if result.routes:
        lines.append("routes:")
        for r in result.routes[:_MAX_LINES]:
            state = "healthy" if r.healthy else ("up, requirement not met" if r.up else "down")
            extra = f" ({r.failure})" if r.failure else ""
            lines.append(f"  - {r.label}: {state}{extra}")
    if result.primary:
        lines.append(
            f"diagnosis: {result.verdict.value if result.verdict else '?'} "
            f"({result.primary}); run `smtpdiag probe {result.domain}` for details"
        )
    return "\n".join(lines)


def assert_healthy(
    domain: str,
    config: ProbeConfig | None = None,
    thresholds: Thresholds | None = None,
    *,
    allow_warnings: bool = False,
) -> HealthResult:
    """Check ``domain`` and raise AssertionError unless the status is ok (or warning,
    when ``allow_warnings``). Returns the result for further assertions."""
    __tracebackhide__ = True  # pytest: show the message, not this function's source
    from ..health.checking import check_sync
    from ..health.evaluation import HealthStatus

    _skip_if_offline()
    result = check_sync(domain, config, thresholds)
    accepted = {HealthStatus.OK} | ({HealthStatus.WARNING} if allow_warnings else set())
    if result.status not in accepted:
        raise AssertionError(failure_message(result, f"mail routes of {result.domain} unhealthy"))
    return result


def assert_deliverable(
    domain: str,
    *,
    ports: Sequence[int] = (25,),
    require_tls: bool = True,
    nameservers: Iterable[str | Nameserver] | None = None,
    timeout: float = 20.0,
    ca_file: str | None = None,
    families: Sequence[AddressFamily | str] = (AddressFamily.IPV4, AddressFamily.IPV6),
    implicit_tls_ports: Sequence[int] = (465,),
    require_all_mx: bool = False,
    config: ProbeConfig | None = None,
    allow_targets: Sequence[str] = LOOPBACK_NETWORKS,
) -> HealthResult:
    """Assert that mail for ``domain`` can be delivered: at least one route (every route
    with ``require_all_mx``) accepts an SMTP session on ``ports`` and, with
    ``require_tls``, completes TLS (STARTTLS, or implicit TLS on ``implicit_tls_ports``).

    Latency and certificate lifetime are not judged here (they are monitoring
    concerns, see :func:`assert_healthy` with :class:`~smtpdiag.health.Thresholds`),
    except that an expired certificate fails when TLS is required.

    Args:
        domain: The mail domain.
        ports: Ports to probe.
        require_tls: Every counted route must complete TLS.
        nameservers: DNS servers (``"IP"`` / ``"IP:PORT"``); ``None`` = the system
            resolver. An empty list raises :class:`~smtpdiag.errors.ConfigError`.
        timeout: Overall deadline, seconds.
        ca_file: PEM bundle to verify certificates against (not required to verify).
        families: Address families to probe.
        implicit_tls_ports: Ports that speak TLS from the first byte.
        require_all_mx: Every route must work, not just one.
        config: A complete probe config instead of the settings above.
        allow_targets: Non-global networks that may be probed (default: loopback,
            where the test kit's servers listen); see :func:`probe_config`.

    Returns:
        The health result (for further assertions).

    Under ``pytest --smtpdiag-offline`` the test is skipped (after the arguments are
    checked, so a mistake there still shows).

    Raises:
        ConfigError: ``nameservers`` is an empty list, or another setting is invalid.
        AssertionError: The domain is not deliverable as required; the message lists
            the problems and every route's state.
    """
    __tracebackhide__ = True  # pytest: show the message, not this function's source
    from ..health.checking import check_sync
    from ..health.evaluation import HealthStatus, ProblemKind
    from ..health.thresholds import Limit, Thresholds

    _nameservers(nameservers)  # an empty list is refused even when ``config`` is given
    cfg = config or probe_config(
        ports=ports,
        nameservers=nameservers,
        timeout=timeout,
        ca_file=ca_file,
        families=families,
        implicit_tls_ports=implicit_tls_ports,
        allow_targets=allow_targets,
    )
    _skip_if_offline()
    off = Limit(None, None)
    thresholds = Thresholds(
        connect=off,
        tls_handshake=off,
        greeting=off,
        ehlo=off,
        starttls=off,
        cert_warn_days=None,
        cert_crit_days=0 if require_tls else None,
        require_starttls=require_tls,
        min_tls_version=None,
        require_all_mx=require_all_mx,
    )
    result = check_sync(domain, cfg, thresholds)
    # Critical (or unknown) = not deliverable; warnings here are unhealthy secondary
    # routes, which the sender would skip, unless every MX is required.
    failed = result.status in (HealthStatus.CRITICAL, HealthStatus.UNKNOWN)
    if require_all_mx and any(p.kind is ProblemKind.ROUTE_DOWN for p in result.problems):
        failed = True
    if require_tls and not any(
        r.up and r.tls_version is not None and (r.cert_days_left is None or r.cert_days_left >= 0)
        for r in result.routes
    ):
        # TLS required: some route must complete it with a certificate that has not
        # expired (a degraded domain is only a warning for the health check).
        failed = True
    if failed:
        tls = " with TLS" if require_tls else ""
        raise AssertionError(
            failure_message(
                result,
                f"{result.domain} is not deliverable{tls} on ports "
                f"{', '.join(map(str, cfg.ports))}",
            )
        )
    return result
