"""What "healthy" means: latency limits, certificate lifetime limits, required features.

A :class:`Thresholds` object is frozen and validated on construction (a bad value raises
:class:`~smtpdiag.errors.ConfigError` with a one-line message). The defaults suit a mail
domain's MX hosts checked from a monitoring system: the greeting is the slow phase of
SMTP (servers delay it on purpose to catch pipelining spammers, RFC 5321 4.3.1 and
postscreen's "greet pause"), so its limits are wider than the per-command ones.

Semantics, shared by :func:`smtpdiag.health.evaluate` and the Nagios perfdata:

- A latency limit is exceeded when a phase *that succeeded* took strictly longer than
  the limit (``duration > warn``). Failed phases have no meaningful latency; they make
  the route unhealthy instead.
- A certificate limit is crossed when strictly fewer days are left than the limit
  (``days_left < warn_days``); an expired certificate (negative days) is critical
  whenever at least one of the two day limits is set (both ``None``: not judged).
- Requirements (STARTTLS, implicit TLS, minimum TLS version, valid certificate) decide
  whether a route counts as *healthy*; ``require_all_mx`` decides whether one unhealthy
  route is critical (every route must work) or only a warning (as long as one works).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, fields

from .. import limits
from ..errors import ConfigError
from ..model import Phase, StsMode

__all__ = [
    "DAYS_ROWS",
    "LATENCY_ROWS",
    "TLS_VERSIONS",
    "DaysRow",
    "LatencyRow",
    "Limit",
    "Thresholds",
    "tls_version_rank",
]

#: TLS protocol versions as ``ssl.SSLObject.version()`` names them, oldest first.
TLS_VERSIONS: tuple[str, ...] = ("SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")


def tls_version_rank(version: str | None) -> int | None:
    """Position of ``version`` in :data:`TLS_VERSIONS`, or ``None`` if unknown."""
    if version is None:
        return None
    try:
        return TLS_VERSIONS.index(version)
    except ValueError:
        return None


def _check_seconds(name: str, value: float | None) -> None:
    if value is None:
        return
    if (
        not isinstance(value, int | float)
        or isinstance(value, bool)
        or not math.isfinite(value)
        or not 0 < value <= 3600
    ):
        raise ConfigError(f"{name} must be a number of seconds in (0, 3600], got {value!r}")


@dataclass(frozen=True, slots=True)
class Limit:
    """Warning and critical limits for one phase's latency, in seconds.

    Attributes:
        warn: Warn when the phase took longer than this; ``None`` for no warning limit.
        crit: Critical when the phase took longer than this; ``None`` for no critical limit.
    """

    warn: float | None = None
    crit: float | None = None

    def validate(self, name: str) -> None:
        """Raise ConfigError unless both limits are sane and ``warn <= crit``."""
        _check_seconds(f"{name} warning limit", self.warn)
        _check_seconds(f"{name} critical limit", self.crit)
        if self.warn is not None and self.crit is not None and self.warn > self.crit:
            raise ConfigError(
                f"{name} warning limit ({self.warn:g} s) must not exceed "
                f"the critical limit ({self.crit:g} s)"
            )


@dataclass(frozen=True, slots=True)
class LatencyRow:
    """One latency threshold: the :class:`Thresholds` field, the phases it limits and
    its default limits.

    Attributes:
        field: The :class:`Thresholds` field holding the :class:`Limit`.
        phases: The phases it limits.
        warn: Default warning limit, seconds.
        crit: Default critical limit, seconds.
    """

    field: str
    phases: tuple[Phase, ...]
    warn: float
    crit: float


@dataclass(frozen=True, slots=True)
class DaysRow:
    """One certificate lifetime threshold.

    Attributes:
        field: The :class:`Thresholds` field holding the number of days.
        critical: Crossing it is critical (else a warning).
        default: Default number of days.
    """

    field: str
    critical: bool
    default: int


#: Latency thresholds, one row each (default numbers in :mod:`smtpdiag.limits`). HELO is
#: the fallback of EHLO and EHLO inside TLS is the same command again (RFC 3207 4.2): one
#: limit. QUIT is never judged (the model ignores QUIT failures). The greeting is the
#: slow phase (see the module docstring).
LATENCY_ROWS: tuple[LatencyRow, ...] = (
    LatencyRow("connect", (Phase.CONNECT,), *limits.CONNECT_S),
    LatencyRow("tls_handshake", (Phase.TLS_HANDSHAKE,), *limits.TLS_HANDSHAKE_S),
    LatencyRow("greeting", (Phase.GREETING,), *limits.GREETING_S),
    LatencyRow("ehlo", (Phase.EHLO, Phase.HELO, Phase.EHLO_TLS), *limits.EHLO_S),
    LatencyRow("starttls", (Phase.STARTTLS,), *limits.STARTTLS_S),
)

#: Certificate lifetime thresholds, most severe first (the first one crossed applies).
DAYS_ROWS: tuple[DaysRow, ...] = (
    DaysRow("cert_crit_days", critical=True, default=limits.CERT_CRIT_DAYS),
    DaysRow("cert_warn_days", critical=False, default=limits.CERT_WARN_DAYS),
)

_PHASE_FIELD: dict[Phase, str] = {p: row.field for row in LATENCY_ROWS for p in row.phases}
_LATENCY: dict[str, LatencyRow] = {row.field: row for row in LATENCY_ROWS}
_DAYS: dict[str, DaysRow] = {row.field: row for row in DAYS_ROWS}


def _limits(name: str) -> Callable[[], Limit]:
    """The default factory of a latency field: its row's limits."""
    row = _LATENCY[name]
    return lambda: Limit(row.warn, row.crit)


def _check_days(name: str, days: object) -> None:
    if days is not None and (
        not isinstance(days, int) or isinstance(days, bool) or not 0 <= days <= 3650
    ):
        raise ConfigError(f"{name.replace('_', ' ')} must be 0-3650 days, got {days!r}")


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Limits and requirements a health check judges a probe against.

    Attributes:
        connect: TCP connect latency limits.
        tls_handshake: TLS handshake latency limits (implicit TLS or after STARTTLS).
        greeting: Latency of the 220 greeting after connect (or after the handshake on 465).
        ehlo: Latency of EHLO (also HELO and the EHLO repeated inside TLS).
        starttls: Latency of the STARTTLS command's reply.
        cert_warn_days: Warn when fewer days than this are left on a certificate.
        cert_crit_days: Critical when fewer days than this are left.
        require_starttls: Every route on a STARTTLS port (25, 587) must offer STARTTLS and
            complete the handshake (RFC 3207); without it a route is unhealthy.
        require_implicit_tls: When port 465 (or another implicit-TLS port) is probed, every
            MX host must have at least one working implicit-TLS route (RFC 8314 3.3).
        min_tls_version: Lowest acceptable negotiated TLS version (``"TLSv1.2"``), or
            ``None`` to accept any.
        require_valid_cert: The certificate must verify against the trust store and name
            the MX host. Off by default: MX certificates are often self-signed, and SMTP
            between MTAs is opportunistic unless DANE or MTA-STS says otherwise (RFC 7672,
            RFC 8461). Expiry is judged regardless, through the day limits.
        require_all_mx: Every route must be healthy (critical otherwise). When ``False``,
            unhealthy routes are warnings as long as at least one route is healthy, and
            critical only when none is.
        require_mta_sts: The domain must publish a valid MTA-STS policy (RFC 8461) of at
            least this mode (``enforce``, or ``testing`` which ``enforce`` also meets)
            that covers every MX host; ``None`` (default): not required. Needs the
            policy lookups (``ProbeConfig.policy``).
        require_dane: Every MX host must have usable, DNSSEC-validated TLSA records on the
            delivery port (RFC 7672), and every probed delivery-port chain must match them.
    """

    connect: Limit = field(default_factory=_limits("connect"))
    tls_handshake: Limit = field(default_factory=_limits("tls_handshake"))
    greeting: Limit = field(default_factory=_limits("greeting"))
    ehlo: Limit = field(default_factory=_limits("ehlo"))
    starttls: Limit = field(default_factory=_limits("starttls"))
    cert_warn_days: int | None = _DAYS["cert_warn_days"].default
    cert_crit_days: int | None = _DAYS["cert_crit_days"].default
    require_starttls: bool = True
    require_implicit_tls: bool = False
    min_tls_version: str | None = "TLSv1.2"
    require_valid_cert: bool = False
    require_all_mx: bool = False
    require_mta_sts: StsMode | None = None
    require_dane: bool = False

    def __post_init__(self) -> None:
        for row in LATENCY_ROWS:
            limit = getattr(self, row.field)
            if not isinstance(limit, Limit):
                raise ConfigError(f"{row.field} limits must be a Limit, got {limit!r}")
            limit.validate(row.field.replace("_", "-"))
        for name in ("cert_warn_days", "cert_crit_days"):
            _check_days(name, getattr(self, name))
        if (
            self.cert_warn_days is not None
            and self.cert_crit_days is not None
            and self.cert_warn_days < self.cert_crit_days
        ):
            raise ConfigError(
                f"certificate warning days ({self.cert_warn_days}) must not be fewer than "
                f"the critical days ({self.cert_crit_days})"
            )
        if self.min_tls_version is not None and self.min_tls_version not in TLS_VERSIONS:
            raise ConfigError(
                f"minimum TLS version must be one of {', '.join(TLS_VERSIONS)}, "
                f"got {self.min_tls_version!r}"
            )
        if self.require_mta_sts not in (None, StsMode.ENFORCE, StsMode.TESTING):
            raise ConfigError(
                "require_mta_sts must be 'enforce', 'testing' or None, "
                f"got {self.require_mta_sts!r}"
            )
        for f in fields(self):
            if (
                f.name.startswith("require_")
                and f.name != "require_mta_sts"
                and not isinstance(getattr(self, f.name), bool)
            ):
                raise ConfigError(f"{f.name} must be True or False")

    def limit(self, phase: Phase) -> Limit | None:
        """The latency limits that apply to ``phase``, or ``None`` (QUIT is not judged)."""
        name = _PHASE_FIELD.get(phase)
        return None if name is None else getattr(self, name)

    def days(self, row: DaysRow) -> int | None:
        """The number of days set for a certificate lifetime row (``None``: not judged)."""
        value: int | None = getattr(self, row.field)
        return value
