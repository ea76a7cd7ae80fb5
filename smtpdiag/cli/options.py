"""The probe options, declared once: flags, environment variables, the config file.

Every subcommand that probes (``probe``, ``check``, ``watch``, ``explain --probe``,
``bulk``) gets its probe options from :func:`add_probe_options` and its
:class:`~smtpdiag.config.ProbeConfig` from :func:`config_from_args`, so they accept the
same options and resolve them the same way. Each option's value comes from the first
of these that gives it (one precedence, documented in ``--help`` and the README):

1. its flag (``--nameserver``),
2. its environment variable, ``SMTPDIAG_`` + the key in capitals (``SMTPDIAG_NAMESERVER``),
3. its key in the config file (``nameserver = ["127.0.0.1:5353"]``): the file named by
   ``--config FILE``, else by ``SMTPDIAG_CONFIG``, else
   ``$XDG_CONFIG_HOME/smtpdiag/config.toml`` (``~/.config/...``) when it exists;
   ``--no-config`` reads no file,
4. its default (a subcommand may have its own: ``check`` probes port 25).

A bad value in the file or the environment is one line naming the file or variable
and the key (exit 2, as a bad flag); so is an unknown key in the file, since a typo
there would otherwise be silently ignored.

The file's ``[modules.NAME]`` tables are ``smtpdiag serve``'s modules
(:func:`modules_from_args`): each sets probe options (and the policies required) over
the values above. Every subcommand checks them; only ``serve`` uses them.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass

from ..defaults import TIMEOUTS
from ..errors import ConfigError

# typing is not imported at run time on the start-up path (see common.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from ..config import ProbeConfig

__all__ = [
    "CONFIG_ENV",
    "DEFAULT_MODULE",
    "ENV_PREFIX",
    "MODULES_KEY",
    "PROBE_OPTIONS",
    "REQUIREMENT_OPTIONS",
    "ModuleOptions",
    "ProbeOption",
    "add_probe_options",
    "config_from_args",
    "config_from_values",
    "default_config_path",
    "modules_from_args",
    "profile_text",
    "resolve",
]

#: The environment variable naming the config file (``--config`` wins over it).
CONFIG_ENV = "SMTPDIAG_CONFIG"
#: Every option's environment variable is this prefix and its key in capitals.
ENV_PREFIX = "SMTPDIAG_"
#: A config file longer than this is not a profile (hostile input stays bounded).
MAX_CONFIG_BYTES = 256 * 1024

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


# ----------------------------------------------------------------------------- values
# Each converter takes a value as the environment (text) or TOML (text, number, bool,
# array) gives it and returns the canonical value, or raises ConfigError with a message
# that the caller prefixes with where the value came from.


def _seconds(value: object) -> float:
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise ConfigError(f"not a number of seconds: {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"not a number of seconds: {value!r}")
    if not 0 < value <= 3600:
        raise ConfigError(f"seconds must be > 0 and <= 3600: {value!r}")
    return float(value)


def _port(value: object) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 65536:
        raise ConfigError(f"port must be 1-65535, got {value!r}")
    return value


def _items(value: object) -> list[object]:
    """A list from an array, or from comma-separated text (the environment's form)."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list):
        return list(value)
    raise ConfigError(f"expected a list or comma-separated text, got {value!r}")


def _ports(value: object) -> tuple[int, ...]:
    ports = tuple(_port(item) for item in _items(value))
    if not ports:
        raise ConfigError("at least one port is needed")
    if len(set(ports)) != len(ports):
        raise ConfigError(f"ports must not repeat: {value!r}")
    return ports


def _texts(value: object) -> tuple[str, ...]:
    items = _items(value)
    if not all(isinstance(item, str) for item in items):
        raise ConfigError(f"expected text items, got {value!r}")
    return tuple(str(item) for item in items)


def _nameservers(value: object) -> tuple[str, ...]:
    from ..config import Nameserver

    texts = _texts(value)
    for text in texts:
        Nameserver.parse(text)
    return texts


def _networks(value: object) -> tuple[str, ...]:
    from ..config import parse_network

    texts = _texts(value)
    for text in texts:
        parse_network(text)
    return texts


def _zones(value: object) -> tuple[str, ...]:
    from ..config import blocklist_zones

    return blocklist_zones(_texts(value))


def _text(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"expected non-empty text, got {value!r}")
    return value.strip()


def _ca_file(value: object) -> str:
    from ..config import TlsConfig

    path = _text(value)
    TlsConfig(ca_file=path)  # readable and holding a PEM certificate, named here
    return path


def _bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ConfigError(f"expected true or false, got {value!r}")


def _family(value: object) -> str:
    text = str(value).strip().lower() if isinstance(value, str | int) else ""
    if isinstance(value, bool):
        text = ""
    family = {"4": "4", "ipv4": "4", "6": "6", "ipv6": "6", "any": "any", "both": "any"}.get(text)
    if family is None:
        raise ConfigError(f"family must be 4, 6 or any, got {value!r}")
    return family


# ----------------------------------------------------------------------------- the table


@dataclass(frozen=True, slots=True)
class ProbeOption:
    """One probe option: its flag, key and environment variable, and its default.

    Attributes:
        key: Config-file key and argparse destination; the environment variable is
            ``SMTPDIAG_`` + ``KEY``.
        convert: Value as the environment or TOML gives it -> canonical value.
        default: Canonical default (a subcommand may override it).
    """

    key: str
    convert: Callable[[object], object]
    default: object

    @property
    def env(self) -> str:
        """The environment variable: ``SMTPDIAG_NAMESERVER`` for ``nameserver``."""
        return ENV_PREFIX + self.key.upper()


_TIMEOUT_FLAGS: tuple[tuple[str, str, str], ...] = (
    # flag, Timeouts field, what it limits
    ("--timeout", "total", "overall deadline"),
    ("--dns-timeout", "dns", "per DNS query"),
    ("--connect-timeout", "connect", "TCP connect"),
    ("--greeting-timeout", "greeting", "220 greeting"),
    ("--command-timeout", "command", "each command reply"),
    ("--tls-timeout", "tls", "TLS handshake"),
)

#: Every probe option, in ``--help`` order. Keys are the long flags without ``--``, with
#: ``_`` for ``-``; ``-4``/``-6`` are the key ``family`` (4, 6 or any).
PROBE_OPTIONS: tuple[ProbeOption, ...] = (
    ProbeOption("nameserver", _nameservers, ()),
    ProbeOption("ports", _ports, (25, 587, 465)),
    ProbeOption("implicit_tls_ports", _ports, (465,)),
    ProbeOption("family", _family, "any"),
    ProbeOption("ca_file", _ca_file, None),
    ProbeOption("ehlo_name", _text, "smtpdiag.invalid"),
    ProbeOption("allow_targets", _networks, ()),
    ProbeOption("no_policy", _bool, False),
    ProbeOption("mta_sts_port", _port, 443),
    ProbeOption("source_address", _text, None),
    ProbeOption("blocklist", _zones, ()),
    *(
        ProbeOption(flag[2:].replace("-", "_"), _seconds, TIMEOUTS[field])
        for flag, field, _ in _TIMEOUT_FLAGS
    ),
)

_BY_KEY = {option.key: option for option in PROBE_OPTIONS}


def _sts_mode(value: object) -> str:
    text = value.strip().lower() if isinstance(value, str) else ""
    if text not in ("testing", "enforce"):
        raise ConfigError(f"expected testing or enforce, got {value!r}")
    return text


#: Keys only a module (``[modules.NAME]``) may set besides the probe options: the
#: policies a domain must publish to be healthy (``check --require-mta-sts`` and
#: ``--require-dane``).
REQUIREMENT_OPTIONS: tuple[ProbeOption, ...] = (
    ProbeOption("require_mta_sts", _sts_mode, None),
    ProbeOption("require_dane", _bool, False),
)
_MODULE_KEYS = _BY_KEY | {option.key: option for option in REQUIREMENT_OPTIONS}

#: The config file's table of named modules (``[modules.NAME]``), read by ``serve``
#: (``/probe?module=NAME``); other subcommands check it and use none.
MODULES_KEY = "modules"
#: The module the flags, environment and top-level keys make.
DEFAULT_MODULE = "default"
MAX_MODULES = 64
MAX_MODULE_NAME = 64


@dataclass(frozen=True, slots=True)
class ModuleOptions:
    """One module of ``serve``: a probe config and the policies it requires.

    Attributes:
        name: ``default`` or the name of its ``[modules.NAME]`` table.
        config: The validated probe config.
        require_mta_sts: ``testing`` or ``enforce``: an MTA-STS policy of at least this
            mode is required; ``None``: not required.
        require_dane: Usable TLSA records for every MX host are required.
    """

    name: str
    config: ProbeConfig
    require_mta_sts: str | None = None
    require_dane: bool = False


@dataclass(frozen=True, slots=True)
class _Settings:
    """What a subcommand said when it added the options (kept on the namespace)."""

    defaults: Mapping[str, object]


_SETTINGS_DEST = "_probe_option_settings"

CONFIG_HELP = """\
Every probe option can also come from the environment, SMTPDIAG_ + its name
(SMTPDIAG_NAMESERVER, SMTPDIAG_CA_FILE, SMTPDIAG_DNS_TIMEOUT; -4/-6 are
SMTPDIAG_FAMILY=4|6|any; lists are comma-separated) or from a TOML config file, its
name as the key (nameserver = ["127.0.0.1:5353"], ports = [25], family = 4,
no_policy = true). The file is --config FILE, else $SMTPDIAG_CONFIG, else
$XDG_CONFIG_HOME/smtpdiag/config.toml (~/.config/smtpdiag/config.toml) if it exists.
Precedence: flag, then environment, then file, then default. An unknown key or a bad
value is an error naming the file or variable (exit 2). [modules.NAME] tables are
`smtpdiag serve`'s modules (see its --help); other subcommands check them only.
`smtpdiag demo --serve` writes a profile for its servers and prints the line that uses
it."""


def add_probe_options(
    parser: argparse.ArgumentParser,
    *,
    defaults: Mapping[str, object] | None = None,
) -> None:
    """Add the probe options, ``--config`` and ``--no-config`` to ``parser``.

    Args:
        parser: A subcommand's parser.
        defaults: This subcommand's own defaults by key, canonical values
            (``{"ports": (25,)}`` for check).
    """
    unknown = set(defaults or ()) - set(_BY_KEY)
    if unknown:
        raise ValueError(f"not probe options: {sorted(unknown)}")
    merged = {o.key: o.default for o in PROBE_OPTIONS} | dict(defaults or {})

    def shown(key: str) -> str:
        value = merged[key]
        if isinstance(value, tuple):
            return ",".join(str(v) for v in value)
        return str(value)

    c = parser.add_argument_group("configuration", CONFIG_HELP)
    c.add_argument(
        "--config",
        metavar="FILE",
        default=None,
        help="read probe options from this TOML file (see above)",
    )
    c.add_argument(
        "--no-config",
        action="store_true",
        help="read no config file (not $SMTPDIAG_CONFIG, not the default one); "
        "environment variables still apply",
    )
    # Flags default to None: "not given", so the environment and the file may decide.
    g = parser.add_argument_group("probe options")
    g.add_argument(
        "--nameserver",
        action="append",
        default=None,
        metavar="IP[:PORT]",
        help="DNS server to ask (repeatable; default: the system resolver)",
    )
    g.add_argument("--ports", default=None, help=f"ports to probe (default: {shown('ports')})")
    g.add_argument(
        "--implicit-tls-ports",
        default=None,
        metavar="PORTS",
        help=f"ports that use TLS from the first byte (default: {shown('implicit_tls_ports')}); "
        "others use STARTTLS",
    )
    fam = g.add_mutually_exclusive_group()
    fam.add_argument("-4", dest="family", action="store_const", const="4", help="IPv4 only")
    fam.add_argument("-6", dest="family", action="store_const", const="6", help="IPv6 only")
    g.add_argument("--ca-file", metavar="PEM", help="PEM bundle to verify certificates against")
    g.add_argument(
        "--ehlo-name",
        metavar="NAME",
        default=None,
        help=f"name to send in EHLO (default: {shown('ehlo_name')})",
    )
    g.add_argument(
        "--allow-targets",
        action="append",
        default=None,
        metavar="CIDR",
        help="a network whose non-global addresses (loopback, private, link-local, "
        "documentation) may be probed; repeatable. By default only global unicast "
        "MX addresses are connected to",
    )
    g.add_argument(
        "--no-policy",
        action="store_const",
        const=True,
        default=None,
        help="do not look up the TLS policy (MTA-STS, DANE TLSA, TLS-RPT): fewer DNS "
        "questions and no HTTPS fetch; findings then do not know which senders enforce",
    )
    g.add_argument(
        "--mta-sts-port",
        type=int,
        default=None,
        metavar="PORT",
        help=f"port of the MTA-STS policy host ({shown('mta_sts_port')}; for test setups "
        "such as the demo)",
    )
    g.add_argument(
        "--source-address",
        metavar="IP",
        help="local IP address to connect from (only routes of its address family are probed)",
    )
    g.add_argument(
        "--blocklist",
        action="append",
        default=None,
        metavar="ZONE",
        help="a DNS blocklist zone to look this prober's own egress address up in "
        "(repeatable; none by default: no list is queried unless named). Answers "
        "127.0.0.2-127.0.0.255 mean listed, 127.255.255.x the zone refused the query",
    )
    t = parser.add_argument_group(
        "timeouts (seconds)",
        "RFC 5321 4.5.3.2 has MTAs wait 5 minutes for the greeting and most replies; the "
        "defaults here suit interactive use. Use --greeting-timeout 300 --command-timeout 300 "
        "--timeout 600 to be as patient as an MTA.",
    )
    from .common import seconds_arg

    for flag, _field, what in _TIMEOUT_FLAGS:
        key = flag[2:].replace("-", "_")
        t.add_argument(
            flag,
            type=seconds_arg,
            default=None,
            metavar="SECONDS",
            help=f"{what} ({float(str(merged[key])):g})",
        )
    parser.set_defaults(**{_SETTINGS_DEST: _Settings(merged)})


# ----------------------------------------------------------------------------- layers


def default_config_path(environ: Mapping[str, str]) -> str:
    """``$XDG_CONFIG_HOME/smtpdiag/config.toml``; ``~/.config`` when the variable is
    unset, empty or relative (the XDG Base Directory rule)."""
    base = environ.get("XDG_CONFIG_HOME", "")
    if not os.path.isabs(base):
        base = os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(base, "smtpdiag", "config.toml")


def _config_file(args: argparse.Namespace, environ: Mapping[str, str]) -> tuple[str, bool] | None:
    """The config file to read and whether it must exist, ``None`` for no file."""
    if getattr(args, "no_config", False):
        if getattr(args, "config", None):
            raise ConfigError("give either --config or --no-config, not both")
        return None
    if getattr(args, "config", None):
        return str(args.config), True
    named = environ.get(CONFIG_ENV, "")
    if named:
        return named, True
    return default_config_path(environ), False


def _read_file(
    path: str, required: bool, source: str
) -> tuple[dict[str, object], dict[str, dict[str, object]]]:
    """The file's top-level keys and its modules' keys, converted; raises ConfigError
    naming the file."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        if not required:
            return {}, {}
        raise ConfigError(f"config file {path} ({source}) does not exist") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(f"config file {path} is longer than {MAX_CONFIG_BYTES // 1024} KiB")
    import tomllib  # only when there is a file: the start-up path stays light

    try:
        table = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"config file {path} is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    modules: dict[str, dict[str, object]] = {}
    if MODULES_KEY in table:
        modules = _read_modules(table.pop(MODULES_KEY), path)
    return _read_table(table, path, f"config file {path}", _BY_KEY), modules


def _read_table(
    table: Mapping[str, object], path: str, where: str, known: Mapping[str, ProbeOption]
) -> dict[str, object]:
    """One table's keys (the top level or a module), converted; raises ConfigError."""
    values: dict[str, object] = {}
    for key, raw in table.items():
        option = known.get(key)
        if option is None:
            raise ConfigError(f"{where}: unknown key {key!r}{_did_you_mean(key, known)}")
        if option.key == "ca_file" and isinstance(raw, str) and raw and not os.path.isabs(raw):
            # A relative CA file is relative to the config file, wherever one runs from.
            raw = os.path.join(os.path.dirname(os.path.abspath(path)), raw)
        values[key] = _converted(option, raw, f"{where}: {key}")
    return values


def _module_name(name: str) -> bool:
    return (
        0 < len(name) <= MAX_MODULE_NAME
        and name[0].isascii()
        and name[0].isalnum()
        and all(ch.isascii() and (ch.isalnum() or ch in "_.-") for ch in name)
    )


def _read_modules(raw: object, path: str) -> dict[str, dict[str, object]]:
    """``[modules.NAME]`` tables: each one's keys, converted; raises ConfigError."""
    where = f"config file {path}: {MODULES_KEY}"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be a table of modules ([{MODULES_KEY}.NAME])")
    if len(raw) > MAX_MODULES:
        raise ConfigError(f"{where}: at most {MAX_MODULES} modules")
    modules: dict[str, dict[str, object]] = {}
    for name, table in raw.items():
        if not _module_name(name):
            raise ConfigError(
                f"{where}: bad module name {name!r} (letters, digits, '_', '.', '-'; "
                f"at most {MAX_MODULE_NAME})"
            )
        if name == DEFAULT_MODULE:
            raise ConfigError(
                f"{where}: {DEFAULT_MODULE!r} is the module the flags and the top-level "
                "keys make; name yours differently"
            )
        if not isinstance(table, dict):
            raise ConfigError(f"{where}.{name} must be a table")
        modules[name] = _read_table(table, path, f"{where}.{name}", _MODULE_KEYS)
    return modules


def _did_you_mean(key: str, known: Mapping[str, ProbeOption] | None = None) -> str:
    import difflib

    keys = list(_BY_KEY if known is None else known)
    close = difflib.get_close_matches(key.replace("-", "_").lower(), keys, n=1)
    if close:
        return f" (did you mean {close[0]!r}?)"
    return f" (known keys: {', '.join(keys)})"


def _converted(option: ProbeOption, raw: object, where: str) -> object:
    try:
        return option.convert(raw)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _from_flag(option: ProbeOption, args: argparse.Namespace) -> object:
    """The flag's canonical value, ``None`` when the flag was not given."""
    from .common import parse_ports

    value = getattr(args, option.key, None)
    if value is None:
        return None
    if option.key in ("ports", "implicit_tls_ports"):
        return parse_ports(str(value), "--" + option.key.replace("_", "-"))
    if option.key in ("nameserver", "allow_targets"):
        return tuple(value)  # checked where they are used, as before
    if option.key == "blocklist":
        return _converted(option, list(value), "--blocklist")
    if option.key == "mta_sts_port":
        return _converted(option, value, "--mta-sts-port")
    return value


def resolve(
    args: argparse.Namespace, environ: Mapping[str, str] | None = None
) -> dict[str, object]:
    """Every probe option's value by key: flag, environment, config file, default.

    Raises ConfigError (one line naming the variable, or the file and key) on a bad
    value, an unknown key in the file, or a named config file that cannot be read.
    """
    return _resolve(args, environ)[0]


def _resolve(
    args: argparse.Namespace, environ: Mapping[str, str] | None
) -> tuple[dict[str, object], dict[str, dict[str, object]], str]:
    """:func:`resolve`'s values, the file's modules, and the file's name ("" for none)."""
    env = os.environ if environ is None else environ
    settings: _Settings | None = getattr(args, _SETTINGS_DEST, None)
    defaults = settings.defaults if settings else {o.key: o.default for o in PROBE_OPTIONS}
    found = _config_file(args, env)
    file_values: dict[str, object] = {}
    modules: dict[str, dict[str, object]] = {}
    path = ""
    if found is not None:
        path, required = found
        source = "--config" if getattr(args, "config", None) else CONFIG_ENV
        file_values, modules = _read_file(path, required, source)
    values: dict[str, object] = {}
    for option in PROBE_OPTIONS:
        value = _from_flag(option, args)
        if value is None and env.get(option.env, "").strip():
            value = _converted(option, env[option.env], option.env)
        if value is None and option.key in file_values:
            value = file_values[option.key]
        values[option.key] = defaults[option.key] if value is None else value
    return values, modules, path


def modules_from_args(
    args: argparse.Namespace, environ: Mapping[str, str] | None = None
) -> tuple[ModuleOptions, ...]:
    """The ``default`` module (the probe options resolved as for every subcommand) and
    the config file's ``[modules.NAME]`` tables, in file order.

    A module starts from the default module's values and sets its own keys over them
    (any probe option, plus :data:`REQUIREMENT_OPTIONS`). Raises ConfigError naming the
    file and the module on a bad value.
    """
    values, modules, path = _resolve(args, environ)
    out = [_module(DEFAULT_MODULE, values, "")]
    for name, own in modules.items():
        out.append(_module(name, values | own, f"config file {path}: {MODULES_KEY}.{name}: "))
    return tuple(out)


def _module(name: str, values: Mapping[str, object], where: str) -> ModuleOptions:
    try:
        config = config_from_values(values)
    except ConfigError as exc:
        raise ConfigError(f"{where}{exc}") from None
    mode = values.get("require_mta_sts")
    return ModuleOptions(
        name=name,
        config=config,
        require_mta_sts=None if mode is None else str(mode),
        require_dane=bool(values.get("require_dane", False)),
    )


def config_from_args(
    args: argparse.Namespace, environ: Mapping[str, str] | None = None
) -> ProbeConfig:
    """A validated :class:`ProbeConfig` from the resolved options; raises ConfigError."""
    return config_from_values(resolve(args, environ))


def config_from_values(values: Mapping[str, object]) -> ProbeConfig:
    """A validated :class:`ProbeConfig` from resolved option values (canonical, by key:
    what :func:`resolve` returns); raises ConfigError."""
    import ipaddress

    from ..config import (
        Nameserver,
        PolicyConfig,
        ProbeConfig,
        ResolverConfig,
        Timeouts,
        TlsConfig,
    )
    from ..model import AddressFamily

    source = values["source_address"]
    families: tuple[AddressFamily, ...] = (AddressFamily.IPV4, AddressFamily.IPV6)
    if values["family"] == "4":
        families = (AddressFamily.IPV4,)
    elif values["family"] == "6":
        families = (AddressFamily.IPV6,)
    elif isinstance(source, str):
        # One source address reaches only its own family; probing the other would fail
        # every such route locally and read as the destination's fault.
        version: int
        try:
            version = ipaddress.ip_address(source).version
        except ValueError:
            version = 0  # ProbeConfig reports the bad address
        if version:
            families = (AddressFamily.IPV6 if version == 6 else AddressFamily.IPV4,)

    def seconds(key: str) -> float:
        return float(str(values[key]))

    def ints(key: str) -> tuple[int, ...]:
        return tuple(int(str(v)) for v in _sequence(values[key]))

    def texts(key: str) -> tuple[str, ...]:
        return tuple(str(v) for v in _sequence(values[key]))

    config = ProbeConfig(
        ports=ints("ports"),
        families=families,
        timeouts=Timeouts(
            dns=seconds("dns_timeout"),
            connect=seconds("connect_timeout"),
            greeting=seconds("greeting_timeout"),
            command=seconds("command_timeout"),
            tls=seconds("tls_timeout"),
            total=seconds("timeout"),
        ),
        resolver=ResolverConfig(tuple(Nameserver.parse(ns) for ns in texts("nameserver"))),
        tls=TlsConfig(ca_file=_optional_text(values["ca_file"])),
        ehlo_name=str(values["ehlo_name"]),
        source_address=_optional_text(source),
        implicit_tls_ports=ints("implicit_tls_ports"),
        allow_targets=texts("allow_targets"),
        blocklists=texts("blocklist"),
        policy=PolicyConfig(
            enabled=not values["no_policy"],
            https_port=int(str(values["mta_sts_port"])),
        ),
    )
    return config


def _sequence(value: object) -> tuple[object, ...]:
    return tuple(value) if isinstance(value, tuple | list) else (value,)


def _optional_text(value: object) -> str | None:
    return None if value is None else str(value)


# ----------------------------------------------------------------------------- profiles


def profile_text(values: Mapping[str, object], comment: str = "") -> str:
    """A config file (TOML) setting ``values`` (keys of :data:`PROBE_OPTIONS`).

    Only the value types the options take are written: text, whole numbers, floats,
    booleans and lists of text or numbers.
    """
    lines = [f"# {line}".rstrip() for line in comment.splitlines()]
    for key, value in values.items():
        if key not in _BY_KEY:
            raise ValueError(f"not a probe option: {key!r}")
        lines.append(f"{key} = {_toml(value)}")
    return "\n".join(lines) + "\n"


def _toml(value: object) -> str:
    import json

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        # A JSON string of printable text is a TOML basic string (same escapes).
        return json.dumps(value)
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} as TOML")
