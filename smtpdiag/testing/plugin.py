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
``--smtpdiag-timeout SECONDS``       overall deadline of one check (default 20).
``--smtpdiag-ca-file FILE``          PEM bundle to verify certificates against.
``--smtpdiag-offline``               skip every test that uses these fixtures.

Example::

    def test_mail_routes(smtp_check):
        smtp_check.assert_deliverable("example.org", ports=(25,), require_tls=True)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from ..config import ProbeConfig
    from ..health.evaluate import HealthResult
    from ..health.thresholds import Thresholds

__all__ = [
    "SmtpCheck",
    "pytest_addoption",
    "pytest_report_header",
    "smtp_check",
    "smtpdiag_config",
]

_DEFAULT_TIMEOUT = 20.0


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
        "--smtpdiag-offline",
        action="store_true",
        default=False,
        help="skip tests that use the smtp_check fixture (no network available)",
    )
    parser.addini("smtpdiag_nameservers", "DNS servers for smtp_check", type="linelist")
    parser.addini("smtpdiag_timeout", "overall deadline of one check, seconds", default="")
    parser.addini("smtpdiag_ca_file", "CA bundle (PEM) for smtp_check", default="")


def _settings(config: pytest.Config) -> dict[str, Any]:
    nameservers = list(config.getoption("smtpdiag_nameserver") or ()) or list(
        config.getini("smtpdiag_nameservers") or ()
    )
    timeout = config.getoption("smtpdiag_timeout")
    if timeout is None:
        ini = str(config.getini("smtpdiag_timeout") or "").strip()
        timeout = float(ini) if ini else _DEFAULT_TIMEOUT
    ca_file = config.getoption("smtpdiag_ca_file") or config.getini("smtpdiag_ca_file") or None
    return {"nameservers": nameservers, "timeout": float(timeout), "ca_file": ca_file}


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
    """

    def __init__(
        self, nameservers: Sequence[str] = (), timeout: float = 20.0, ca_file: str | None = None
    ) -> None:
        self.nameservers = tuple(nameservers)
        self.timeout = timeout
        self.ca_file = ca_file

    def config(self, ports: Sequence[int] = (25,), **kwargs: Any) -> ProbeConfig:
        """A ProbeConfig with this session's settings (``kwargs``: see
        :func:`smtpdiag.testing.assertions.probe_config`)."""
        from .assertions import probe_config

        kwargs.setdefault("nameservers", self.nameservers)
        kwargs.setdefault("timeout", self.timeout)
        kwargs.setdefault("ca_file", self.ca_file)
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
        from ..health.check import check_sync

        return check_sync(domain, self.config(ports, **config_kwargs), thresholds)

    def assert_deliverable(self, domain: str, **kwargs: Any) -> HealthResult:
        """:func:`smtpdiag.testing.assertions.assert_deliverable` with this session's
        nameservers, timeout and CA file as defaults."""
        __tracebackhide__ = True
        from .assertions import assert_deliverable

        kwargs.setdefault("nameservers", self.nameservers)
        kwargs.setdefault("timeout", self.timeout)
        kwargs.setdefault("ca_file", self.ca_file)
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
