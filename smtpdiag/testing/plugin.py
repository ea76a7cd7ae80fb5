"""pytest plugin: assert in your own test suite that your mail routes are healthy.

Installed with smtpdiag (entry point ``pytest11``), so every pytest run loads it. It is
therefore import-light: this module imports only pytest and the standard library; the
DNS and SMTP libraries load only when a test uses a fixture. Nothing happens unless a
test asks for a fixture (opt-in).

Fixtures:

``smtp_check``
    A :class:`SmtpCheck`: ``smtp_check("example.org")`` runs a health check and returns
    the :class:`~smtpdiag.health.HealthResult`; ``smtp_check.assert_deliverable(...)``
    and ``smtp_check.assert_healthy(...)`` raise AssertionError with the findings.
``smtpdiag_config``
    The :class:`~smtpdiag.config.ProbeConfig` built from the command-line options.

Options (also as ini keys ``smtpdiag_nameservers``, ``smtpdiag_timeout``,
``smtpdiag_ca_file``):

``--smtpdiag-nameserver IP[:PORT]``  DNS server for the checks (repeatable).
``--smtpdiag-timeout SECONDS``       overall deadline of one check (default 20; a value
                                     that is not a number in (0, 3600] is a usage error).
``--smtpdiag-ca-file FILE``          PEM bundle to verify certificates against.
``--smtpdiag-offline``               skip every test that uses these fixtures, and every
                                     call of :mod:`smtpdiag.testing.assertions`.

Example::

    def test_mail_routes(smtp_check):
        smtp_check.assert_deliverable("example.org", ports=(25,), require_tls=True)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pytest

# Light modules (no network stack): the plugin loads with every pytest run.
from ..config import LOOPBACK_NETWORKS, ProbeConfig
from ..errors import ConfigError

if TYPE_CHECKING:
    from ..health.evaluation import HealthResult
    from ..health.thresholds import Thresholds

__all__ = [
    "SmtpCheck",
    "pytest_addoption",
    "pytest_configure",
    "pytest_report_header",
    "pytest_unconfigure",
    "smtp_check",
    "smtpdiag_config",
]

_DEFAULT_TIMEOUT = 20.0
_MAX_TIMEOUT = 3600.0  # the probe's own upper bound on its overall deadline


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register the ``--smtpdiag-*`` options and ini keys."""
    group = parser.getgroup("smtpdiag", "smtpdiag mail route checks")
    group.addoption(
        "--smtpdiag-nameserver",
        action="append",
        default=[],
        metavar="IP[:PORT]",
        help="DNS server for smtp_check (repeatable; default: ini or the system resolver)",
    )
    group.addoption(
        "--smtpdiag-timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help=f"overall deadline of one check (default: ini or {_DEFAULT_TIMEOUT:g})",
    )
    group.addoption("--smtpdiag-ca-file", default=None, metavar="FILE", help="CA bundle (PEM)")
    group.addoption(
        "--smtpdiag-allow-target",
        action="append",
        default=[],
        metavar="CIDR",
        help="non-global network smtp_check may probe (repeatable; loopback always is)",
    )
    group.addoption(
        "--smtpdiag-offline",
        action="store_true",
        default=False,
        help="skip tests that use the smtp_check fixture (no network available)",
    )
    parser.addini("smtpdiag_nameservers", "DNS servers for smtp_check", type="linelist")
    parser.addini("smtpdiag_timeout", "overall deadline of one check, seconds", default="")
    parser.addini("smtpdiag_ca_file", "CA bundle (PEM) for smtp_check", default="")
    parser.addini(
        "smtpdiag_allow_targets",
        "non-global networks smtp_check may probe (besides loopback)",
        type="linelist",
    )


def _timeout(config: pytest.Config) -> float:
    """The overall deadline from the option or the ini key, or a usage error naming it."""
    option = config.getoption("smtpdiag_timeout")
    if option is not None:
        where, value = "--smtpdiag-timeout", str(option)
    else:
        where, value = "smtpdiag_timeout (ini)", str(config.getini("smtpdiag_timeout") or "")
        if not value.strip():
            return _DEFAULT_TIMEOUT
    try:
        seconds = float(value)
    except ValueError:
        seconds = float("nan")
    if not 0 < seconds <= _MAX_TIMEOUT:  # also rejects nan
        raise pytest.UsageError(
            f"{where} must be a number of seconds in (0, {_MAX_TIMEOUT:g}], got {value.strip()!r}"
        )
    return seconds


def _settings(config: pytest.Config) -> dict[str, Any]:
    nameservers = list(config.getoption("smtpdiag_nameserver") or ()) or list(
        config.getini("smtpdiag_nameservers") or ()
    )
    ca_file = config.getoption("smtpdiag_ca_file") or config.getini("smtpdiag_ca_file") or None
    extra = list(config.getoption("smtpdiag_allow_target") or ()) or list(
        config.getini("smtpdiag_allow_targets") or ()
    )
    allow = (*LOOPBACK_NETWORKS, *extra)
    try:
        ProbeConfig(allow_targets=allow)
    except ConfigError as exc:
        raise pytest.UsageError(f"--smtpdiag-allow-target: {exc}") from None
    return {
        "nameservers": nameservers,
        "timeout": _timeout(config),
        "ca_file": ca_file,
        "allow_targets": allow,
    }


def pytest_configure(config: pytest.Config) -> None:
    """Check the settings once, before any test: a bad value is a usage error (exit 4,
    one line), not an INTERNALERROR in the middle of the run."""
    from .offline import set_offline

    _settings(config)
    set_offline(bool(config.getoption("smtpdiag_offline")))


def pytest_unconfigure(config: pytest.Config) -> None:
    """Forget ``--smtpdiag-offline`` (in-process runs such as pytester reuse modules)."""
    from .offline import set_offline

    set_offline(False)


def pytest_report_header(config: pytest.Config) -> list[str]:
    """One header line when smtpdiag options are set, nothing otherwise."""
    s = _settings(config)
    if not s["nameservers"] and not config.getoption("smtpdiag_ca_file"):
        return []
    ns = ", ".join(s["nameservers"]) or "system resolver"
    return [f"smtpdiag: nameservers {ns}, timeout {s['timeout']:g} s"]


class SmtpCheck:
    """The ``smtp_check`` fixture: health checks with the session's DNS/timeout settings.

    Args:
        nameservers: ``"IP"`` / ``"IP:PORT"`` strings; empty = system resolver.
        timeout: Overall deadline of one check, seconds.
        ca_file: CA bundle to verify certificates against, or ``None``.
        allow_targets: Non-global networks that may be probed (loopback, plus
            ``--smtpdiag-allow-target`` / the ``smtpdiag_allow_targets`` ini key).
    """

    def __init__(
        self,
        nameservers: Sequence[str] = (),
        timeout: float = 20.0,
        ca_file: str | None = None,
        allow_targets: Sequence[str] = LOOPBACK_NETWORKS,
    ) -> None:
        self.nameservers = tuple(nameservers)
        self.timeout = timeout
        self.ca_file = ca_file
        self.allow_targets = tuple(allow_targets)

    def config(self, ports: Sequence[int] = (25,), **kwargs: Any) -> ProbeConfig:
        """A ProbeConfig with this session's settings (``kwargs``: see
        :func:`smtpdiag.testing.assertions.probe_config`)."""
        from .assertions import probe_config

        # The session's list may be empty (no option given): the system resolver.
        kwargs.setdefault("nameservers", self.nameservers or None)
        kwargs.setdefault("timeout", self.timeout)
        kwargs.setdefault("ca_file", self.ca_file)
        kwargs.setdefault("allow_targets", self.allow_targets)
        return probe_config(ports=ports, **kwargs)

    def __call__(
        self,
        domain: str,
        *,
        ports: Sequence[int] = (25,),
        thresholds: Thresholds | None = None,
        **config_kwargs: Any,
    ) -> HealthResult:
        """Run a health check of ``domain`` and return the result (never raises on
        network outcomes; assert on ``result.status`` / ``result.problems``)."""
        from ..health.checking import check_sync

        return check_sync(domain, self.config(ports, **config_kwargs), thresholds)

    def assert_deliverable(self, domain: str, **kwargs: Any) -> HealthResult:
        """:func:`smtpdiag.testing.assertions.assert_deliverable` with this session's
        nameservers, timeout and CA file as defaults."""
        __tracebackhide__ = True
        from .assertions import assert_deliverable

        kwargs.setdefault("nameservers", self.nameservers or None)
        kwargs.setdefault("timeout", self.timeout)
        kwargs.setdefault("ca_file", self.ca_file)
        kwargs.setdefault("allow_targets", self.allow_targets)
        return assert_deliverable(domain, **kwargs)

    def assert_healthy(
        self,
        domain: str,
        thresholds: Thresholds | None = None,
        *,
        ports: Sequence[int] = (25,),
        allow_warnings: bool = False,
        **config_kwargs: Any,
    ) -> HealthResult:
        """:func:`smtpdiag.testing.assertions.assert_healthy` with this session's settings."""
        __tracebackhide__ = True
        from .assertions import assert_healthy

        return assert_healthy(
            domain,
            self.config(ports, **config_kwargs),
            thresholds,
            allow_warnings=allow_warnings,
        )


@pytest.fixture
def smtp_check(request: pytest.FixtureRequest) -> SmtpCheck:
    """Health checks of mail domains with the ``--smtpdiag-*`` settings."""
    if request.config.getoption("smtpdiag_offline"):
        pytest.skip("smtpdiag checks disabled by --smtpdiag-offline")
    return SmtpCheck(**_settings(request.config))


@pytest.fixture
def smtpdiag_config(smtp_check: SmtpCheck) -> ProbeConfig:
    """The ProbeConfig (port 25) built from the ``--smtpdiag-*`` settings."""
    return smtp_check.config()
