"""Configuration: frozen dataclasses, validated on construction.

Invalid values raise :class:`smtpdiag.errors.ConfigError` (a ``ValueError``) with a
one-line message the CLI prints as it is.
"""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass, field

from .defaults import TIMEOUTS
from .errors import ConfigError
from .model import AddressFamily, TlsMode

__all__ = [
    "DEFAULT_PORTS",
    "LOOPBACK_NETWORKS",
    "MAX_BLOCKLISTS",
    "Nameserver",
    "PolicyConfig",
    "ProbeConfig",
    "ResolverConfig",
    "Timeouts",
    "TlsConfig",
    "blocklist_zones",
    "tls_mode_for_port",
]

#: Submission over implicit TLS (RFC 8314) on 465; STARTTLS (RFC 3207) elsewhere.
DEFAULT_PORTS: tuple[int, ...] = (25, 587, 465)


def tls_mode_for_port(port: int) -> TlsMode:
    """465 is implicit TLS (RFC 8314 3.3); every other port is plain + STARTTLS."""
    return TlsMode.IMPLICIT if port == 465 else TlsMode.STARTTLS


def _positive(name: str, value: float) -> None:
    if not isinstance(value, int | float) or isinstance(value, bool) or not value > 0:
        raise ConfigError(f"{name} must be a positive number of seconds, got {value!r}")
    if value > 3600:
        raise ConfigError(f"{name} must be at most 3600 seconds, got {value!r}")


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Per-phase limits and one overall deadline, in seconds.

    The defaults suit interactive use: a whole probe ends within ``total`` seconds.
    RFC 5321 4.5.3.2 asks a *sending MTA* to wait at least 5 minutes for the greeting
    and 5 minutes for most commands; a diagnostic wants an answer sooner. Raise
    ``greeting`` and ``command`` (and ``total``) to 300 to reproduce an MTA's patience.

    Attributes:
        dns: Lifetime of one DNS question across all nameservers and retries.
        connect: TCP connect.
        greeting: Waiting for the 220 banner.
        command: Each command's reply (EHLO, HELO, STARTTLS, QUIT).
        tls: The TLS handshake.
        total: Overall deadline of the whole probe (DNS and all routes).
    """

    dns: float = TIMEOUTS["dns"]
    connect: float = TIMEOUTS["connect"]
    greeting: float = TIMEOUTS["greeting"]
    command: float = TIMEOUTS["command"]
    tls: float = TIMEOUTS["tls"]
    total: float = TIMEOUTS["total"]

    def __post_init__(self) -> None:
        for name in ("dns", "connect", "greeting", "command", "tls", "total"):
            _positive(f"timeout {name}", getattr(self, name))


@dataclass(frozen=True, slots=True)
class Nameserver:
    """A DNS server to ask: an IP address and a port."""

    address: str
    port: int = 53

    def __post_init__(self) -> None:
        try:
            ipaddress.ip_address(self.address)
        except ValueError:
            raise ConfigError(f"nameserver must be an IP address, got {self.address!r}") from None
        if not 0 < self.port < 65536:
            raise ConfigError(f"nameserver port must be 1-65535, got {self.port!r}")

    @classmethod
    def parse(cls, text: str) -> Nameserver:
        """Parse ``IP``, ``IP:PORT``, ``[IPv6]:PORT`` or a bare IPv6 address."""
        text = text.strip()
        host, port = text, "53"
        if text.startswith("["):
            end = text.find("]")
            if end < 0:
                raise ConfigError(f"bad nameserver {text!r}: missing ']'")
            host, rest = text[1:end], text[end + 1 :]
            if rest:
                if not rest.startswith(":"):
                    raise ConfigError(f"bad nameserver {text!r}")
                port = rest[1:]
        elif text.count(":") == 1:
            host, port = text.split(":")
        if not port.isdigit():
            raise ConfigError(f"bad nameserver port in {text!r}")
        return cls(host, int(port))

    def __str__(self) -> str:
        if self.port == 53:
            return self.address
        return f"{self.address}@{self.port}"


@dataclass(frozen=True, slots=True)
class ResolverConfig:
    """Which DNS servers to ask.

    Attributes:
        nameservers: Servers to ask in order; empty means the system resolver
            (``/etc/resolv.conf``).
        resolv_conf: Alternative resolv.conf path when ``nameservers`` is empty.
    """

    nameservers: tuple[Nameserver, ...] = ()
    resolv_conf: str | None = None


@dataclass(frozen=True, slots=True)
class TlsConfig:
    """How to judge certificates.

    Attributes:
        ca_file: PEM bundle to verify against instead of the system trust store.
    """

    ca_file: str | None = None

    def __post_init__(self) -> None:
        if self.ca_file is not None:
            marker = b"-----BEGIN CERTIFICATE-----"
            found = False
            try:
                with open(self.ca_file, "rb") as fh:
                    # Small reads: a bundle is usually ~200 KiB; never preallocate a MiB.
                    tail = b""
                    for _ in range(64):  # at most 4 MiB scanned
                        chunk = fh.read(64 * 1024)
                        if not chunk:
                            break
                        if marker in tail + chunk:
                            found = True
                            break
                        tail = chunk[-len(marker) :]
            except OSError as exc:
                raise ConfigError(
                    f"cannot read CA file {self.ca_file!r}: {exc.strerror or exc}"
                ) from None
            if not found:
                raise ConfigError(f"CA file {self.ca_file!r} holds no PEM certificate")


@dataclass(frozen=True, slots=True)
class PolicyConfig:
    """How the policy stage looks up MTA-STS, DANE and TLS-RPT.

    Attributes:
        enabled: Look the policies up at all (``--no-policy`` turns it off).
        https_port: Port of the MTA-STS policy host (443; tests use another).
        fetch_timeout: Limit on one policy fetch: connect, TLS handshake and body.
        max_policy_bytes: Longest policy body read; a longer one is a fetch error
            (RFC 8461 3.3 lets senders limit it; 64 KiB is what common MTAs use).
    """

    enabled: bool = True
    https_port: int = 443
    fetch_timeout: float = 10.0
    max_policy_bytes: int = 64 * 1024

    def __post_init__(self) -> None:
        port = self.https_port
        if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
            raise ConfigError(f"policy HTTPS port must be 1-65535, got {port!r}")
        _positive("policy fetch timeout", self.fetch_timeout)
        if not 512 <= self.max_policy_bytes <= 1024 * 1024:
            raise ConfigError("policy size limit must be 512 bytes to 1 MiB")


#: Loopback, where the test kit's and the demo's own servers listen (their
#: ``allow_targets``).
LOOPBACK_NETWORKS: tuple[str, ...] = ("127.0.0.0/8", "::1/128")

#: At most this many ``allow_targets`` networks (each is checked per address).
MAX_ALLOW_TARGETS = 64


def parse_network(text: object) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """A CIDR network (``"10.0.0.0/8"``, ``"::1"``, an address alone is a /32 or /128).

    Host bits are cleared (``"10.1.2.3/8"`` is ``10.0.0.0/8``), as ``ip route`` does.
    Raises ConfigError on anything else.
    """
    if isinstance(text, ipaddress.IPv4Network | ipaddress.IPv6Network):
        return text
    if not isinstance(text, str):
        raise ConfigError(f"allowed target must be a CIDR network, got {text!r}")
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        raise ConfigError(
            f"bad allowed target {text!r}: expected a network like 10.0.0.0/8 or fd00::/8"
        ) from None


def _networks_text(values: object) -> tuple[str, ...]:
    if isinstance(values, str) or not isinstance(values, tuple | list):
        raise ConfigError(f"allow_targets must be a tuple of CIDR networks, got {values!r}")
    if len(values) > MAX_ALLOW_TARGETS:
        raise ConfigError(f"at most {MAX_ALLOW_TARGETS} allowed target networks")
    out: list[str] = []
    for value in values:
        text = str(parse_network(value))
        if text not in out:
            out.append(text)
    return tuple(out)


def _default_ehlo_name() -> str:
    # A fixed name: socket.getfqdn() may block on the (outside) system resolver.
    return "smtpdiag.invalid"


@dataclass(frozen=True, slots=True)
class ProbeConfig:
    """Everything one probe needs besides the domain.

    Attributes:
        ports: TCP ports to try on every address.
        families: Address families to resolve and probe.
        timeouts: Per-phase limits and the overall deadline.
        resolver: DNS servers.
        tls: Certificate verification settings.
        ehlo_name: Name sent in EHLO/HELO.
        source_address: Local address to bind outgoing connections to, or ``None``.
        per_address_limit: Concurrent connections to one destination address.
        max_routes: Upper bound on routes probed (hostile DNS can list hundreds of MX).
        implicit_tls_ports: Ports that speak TLS from the first byte (RFC 8314); every
            other port gets a plain greeting and STARTTLS (RFC 3207). Tests and the demo
            use unprivileged ports, so this is configurable.
        allow_targets: Networks (CIDR text, e.g. ``"127.0.0.0/8"``, ``"::1/128"``) whose
            addresses may be connected to although they are not global unicast (a lab,
            a private mail network, the test kit). Addresses outside global unicast and
            outside these networks are never connected to; unspecified, broadcast and
            multicast addresses never are, whatever this says. Normalized to network
            text (host bits cleared) on construction.
        policy: MTA-STS, DANE and TLS-RPT lookups (the policy stage).
        blocklists: DNS blocklist zones (``"zen.example"``) the probe's own egress
            addresses are looked up in, at most :data:`MAX_BLOCKLISTS`; empty by
            default: no list is queried unless the user names it. Normalized to lower
            case without a final dot on construction.
    """

    ports: tuple[int, ...] = DEFAULT_PORTS
    families: tuple[AddressFamily, ...] = (AddressFamily.IPV4, AddressFamily.IPV6)
    timeouts: Timeouts = field(default_factory=Timeouts)
    resolver: ResolverConfig = field(default_factory=ResolverConfig)
    tls: TlsConfig = field(default_factory=TlsConfig)
    ehlo_name: str = field(default_factory=_default_ehlo_name)
    source_address: str | None = None
    per_address_limit: int = 1
    max_routes: int = 120
    implicit_tls_ports: tuple[int, ...] = (465,)
    allow_targets: tuple[str, ...] = ()
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    blocklists: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for check in (_check_ports, _check_ehlo_name, _check_source_address, _check_limits):
            check(self)
        # frozen: normalize through object.__setattr__ (the documented idiom).
        object.__setattr__(self, "allow_targets", _networks_text(self.allow_targets))
        object.__setattr__(self, "blocklists", blocklist_zones(self.blocklists))

    @property
    def allowed_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        """:attr:`allow_targets` as network objects."""
        return tuple(ipaddress.ip_network(text) for text in self.allow_targets)

    @property
    def delivery_port(self) -> int:
        """The port MTAs deliver to: 25 if probed, else the first probed port (tests
        and the demo stand an unprivileged port in for 25)."""
        return 25 if 25 in self.ports else self.ports[0]

    @property
    def source_family(self) -> AddressFamily | None:
        """The family of :attr:`source_address`, ``None`` when there is none."""
        if self.source_address is None:
            return None
        version = ipaddress.ip_address(self.source_address).version
        return AddressFamily.IPV6 if version == 6 else AddressFamily.IPV4

    @property
    def probe_families(self) -> tuple[AddressFamily, ...]:
        """The families routes are planned for: :attr:`families`, narrowed to the
        source address's own family when one is set (a socket bound to an IPv4
        address cannot reach an IPv6 one; those routes would fail locally and read as
        the destination's fault)."""
        source = self.source_family
        if source is None:
            return self.families
        return tuple(f for f in self.families if f is source)

    def tls_mode(self, port: int) -> TlsMode:
        """Implicit TLS on ``implicit_tls_ports``, STARTTLS everywhere else."""
        return TlsMode.IMPLICIT if port in self.implicit_tls_ports else TlsMode.STARTTLS


#: Blocklist zones one probe asks at most (each is one or two questions per egress address).
MAX_BLOCKLISTS = 8
_ZONE_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?$")


def blocklist_zones(zones: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """Blocklist zones checked and normalized (lower case, no final dot, no repeats).

    Raises:
        ConfigError: A zone is not a domain name, or there are more than
            :data:`MAX_BLOCKLISTS`.
    """
    if isinstance(zones, str):
        zones = (zones,)
    out: list[str] = []
    for zone in zones:
        text = zone.strip().rstrip(".").lower() if isinstance(zone, str) else ""
        labels = text.split(".")
        if (
            not text
            or len(text) > 200
            or len(labels) < 2
            or not all(_ZONE_LABEL.match(label) for label in labels)
        ):
            raise ConfigError(f"bad blocklist zone {zone!r}: expected a DNS zone name")
        if text not in out:
            out.append(text)
    if len(out) > MAX_BLOCKLISTS:
        raise ConfigError(f"at most {MAX_BLOCKLISTS} blocklist zones, got {len(out)}")
    return tuple(out)


def _bad_port(port: object) -> bool:
    return not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536


def _check_ports(config: ProbeConfig) -> None:
    if not config.ports:
        raise ConfigError("at least one port is needed")
    for port in config.ports:
        if _bad_port(port):
            raise ConfigError(f"port must be 1-65535, got {port!r}")
    if len(set(config.ports)) != len(config.ports):
        raise ConfigError("ports must not repeat")
    if not config.families:
        raise ConfigError("at least one address family is needed")


def _check_ehlo_name(config: ProbeConfig) -> None:
    label = config.ehlo_name
    if (
        not label
        or len(label) > 253
        or any(c.isspace() or not c.isprintable() for c in label)
        or not all(ch.isalnum() or ch in "-.[]:" for ch in label)
    ):
        raise ConfigError(f"bad EHLO name {label!r}")


def _check_source_address(config: ProbeConfig) -> None:
    """The source address is an IP address of a probed family."""
    if config.source_address is None:
        return
    try:
        source = ipaddress.ip_address(config.source_address)
    except ValueError:
        raise ConfigError(
            f"source address must be an IP address, got {config.source_address!r}"
        ) from None
    family = AddressFamily.IPV6 if source.version == 6 else AddressFamily.IPV4
    if family not in config.families:
        raise ConfigError(
            f"source address {source} is {family.value} but only "
            f"{', '.join(f.value for f in config.families)} is probed"
        )


def _check_limits(config: ProbeConfig) -> None:
    if not 1 <= config.per_address_limit <= 16:
        raise ConfigError("per-address connection limit must be 1-16")
    if not 1 <= config.max_routes <= 10_000:
        raise ConfigError("max routes must be 1-10000")
    for port in config.implicit_tls_ports:
        if _bad_port(port):
            raise ConfigError(f"implicit TLS port must be 1-65535, got {port!r}")


def env_flag(name: str) -> bool:
    """True when an environment variable is set to a truthy value."""
    return os.environ.get(name, "").lower() in {"1", "true", "yes", "on"}
