"""What every subcommand shares: the parser class, probe options, exit codes."""

from __future__ import annotations

import argparse
import sys

from ..errors import ConfigError

# typing is not imported at run time on the start-up path (it costs milliseconds);
# mypy treats a module-level TYPE_CHECKING constant like typing.TYPE_CHECKING.
TYPE_CHECKING = False

if TYPE_CHECKING:
    import re
    from collections.abc import Sequence
    from typing import Any, NoReturn, Protocol

    from ..config import ProbeConfig
    from ..model import PhaseRecord, Route, Verdict

# The config and model types are imported inside the functions that need them: this
# module is on every path, including ``smtpdiag --version`` and ``--help``.

__all__ = [
    "EXIT_CODES_HELP",
    "EXIT_COULD_NOT_RUN",
    "EXIT_DEGRADED",
    "EXIT_FAILED",
    "EXIT_HEALTHY",
    "EXIT_NO_MAIL",
    "EXIT_USAGE",
    "Parser",
    "UsageExit",
    "add_probe_options",
    "config_from_args",
    "error",
    "check_output_path",
    "exit_code_for_verdict",
    "notice",
    "parse_ports",
    "seconds_arg",
]

EXIT_HEALTHY = 0
EXIT_DEGRADED = 1
EXIT_USAGE = 2
EXIT_FAILED = 3
EXIT_NO_MAIL = 4
EXIT_COULD_NOT_RUN = 5

EXIT_CODES_HELP = """\
exit codes (probe, explain --probe, watch):
  0  healthy: every route works
  1  degraded: mail is deliverable, but some route or feature fails
  2  usage error (bad argument, unreadable file)
  3  failed: no route delivers
  4  no-mail: the domain publishes a null MX (RFC 7505)
  5  the probe could not run or probed nothing (no nameserver answered at all, or no
     route in the probed address families): verdict unknown
`check --plugin` follows the monitoring-plugins convention instead: 0 OK, 1 WARNING,
2 CRITICAL, 3 UNKNOWN."""


if TYPE_CHECKING:

    class SubcommandModule(Protocol):
        """What ``smtpdiag.cli`` needs of a subcommand module."""

        def register(self, subparsers: Any) -> None: ...


class UsageExit(Exception):
    """Raised by :class:`Parser` instead of ``sys.exit`` so ``main`` returns a code."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def error(message: str) -> None:
    """Print one sanitized line on stderr."""
    from ..textsafe import clean

    print(f"smtpdiag: error: {clean(message, 400)}", file=sys.stderr)


def notice(message: str) -> None:
    """Print one sanitized line on stderr that is not an error (what the run does)."""
    from ..textsafe import clean

    print(f"smtpdiag: {clean(message, 400)}", file=sys.stderr, flush=True)


# A value that reads as a negative number ("-1", "-0.5", "-1e3").
_NEGATIVE: re.Pattern[str] | None = None


def _negative(text: str) -> bool:
    global _NEGATIVE
    if _NEGATIVE is None:
        import re

        _NEGATIVE = re.compile(r"-(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|-inf(?:inity)?|-nan", re.I)
    return _NEGATIVE.fullmatch(text) is not None


class Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line and exit code 2.

    An option that takes a value also takes a negative-looking one (``--timeout -1``),
    so that its own check names the allowed range: argparse alone reads ``-1`` as an
    option once the parser has options like ``-4``/``-6``, and says "expected one
    argument".
    """

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        if args is not None:
            args = self._join_negative_values(list(args))
        return super().parse_known_args(args, namespace)

    def _join_negative_values(self, args: list[str]) -> list[str]:
        takes_one = {
            flag
            for action in self._actions
            if action.option_strings and action.nargs is None
            for flag in action.option_strings
        }
        out: list[str] = []
        index = 0
        while index < len(args):
            arg = args[index]
            if arg == "--":
                out += args[index:]
                break
            if arg in takes_one and index + 1 < len(args) and _negative(args[index + 1]):
                value = args[index + 1]
                # "--timeout=-1"; a short option takes its value attached ("-o-1").
                out.append(f"{arg}={value}" if arg.startswith("--") else arg + value)
                index += 2
                continue
            out.append(arg)
            index += 1
        return out

    def error(self, message: str) -> NoReturn:
        error(f"{message} (see '{self.prog} --help')")
        raise UsageExit(EXIT_USAGE)

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            print(message, end="", file=sys.stderr)
        raise UsageExit(status)


def parse_ports(text: str) -> tuple[int, ...]:
    """``"25,587,465"`` -> ``(25, 587, 465)``; raises ConfigError on anything else."""
    ports: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if not part.isdigit() or not 0 < int(part) < 65536:
            raise ConfigError(f"bad port {part!r} in --ports {text!r}: expected 1-65535")
        if int(part) in ports:
            raise ConfigError(f"port {part} given twice in --ports")
        ports.append(int(part))
    return tuple(ports)


def seconds_arg(text: str) -> float:
    """argparse type: a number of seconds, > 0 and <= 3600."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 < value <= 3600:
        raise argparse.ArgumentTypeError(f"seconds must be > 0 and <= 3600: {text!r}")
    return value


def add_probe_options(parser: argparse.ArgumentParser, *, policy: bool = True) -> None:
    """Options every subcommand that probes shares (``policy``: it looks TLS policies up)."""
    from ..defaults import TIMEOUTS

    g = parser.add_argument_group("probe options")
    g.add_argument(
        "--nameserver",
        action="append",
        default=[],
        metavar="IP[:PORT]",
        help="DNS server to ask (repeatable; default: the system resolver)",
    )
    g.add_argument("--ports", default="25,587,465", help="ports to probe (default: 25,587,465)")
    g.add_argument(
        "--implicit-tls-ports",
        default="465",
        metavar="PORTS",
        help="ports that use TLS from the first byte (default: 465); others use STARTTLS",
    )
    fam = g.add_mutually_exclusive_group()
    fam.add_argument("-4", dest="family", action="store_const", const="4", help="IPv4 only")
    fam.add_argument("-6", dest="family", action="store_const", const="6", help="IPv6 only")
    g.add_argument("--ca-file", metavar="PEM", help="PEM bundle to verify certificates against")
    g.add_argument(
        "--ehlo-name", metavar="NAME", default="smtpdiag.invalid", help="name to send in EHLO"
    )
    g.add_argument(
        "--allow-targets",
        action="append",
        default=[],
        metavar="CIDR",
        help="a network whose non-global addresses (loopback, private, link-local, "
        "documentation) may be probed; repeatable. By default only global unicast "
        "MX addresses are connected to",
    )
    if policy:
        g.add_argument(
            "--no-policy",
            action="store_true",
            help="do not look up the TLS policy (MTA-STS, DANE TLSA, TLS-RPT): fewer DNS "
            "questions and no HTTPS fetch; findings then do not know which senders enforce",
        )
        g.add_argument(
            "--mta-sts-port",
            type=int,
            default=443,
            metavar="PORT",
            help="port of the MTA-STS policy host (443; for test setups such as the demo)",
        )
    g.add_argument(
        "--source-address",
        metavar="IP",
        help="local IP address to connect from (only routes of its address family are probed)",
    )
    t = parser.add_argument_group(
        "timeouts (seconds)",
        "RFC 5321 4.5.3.2 has MTAs wait 5 minutes for the greeting and most replies; the "
        "defaults here suit interactive use. Use --greeting-timeout 300 --command-timeout 300 "
        "--timeout 600 to be as patient as an MTA.",
    )
    for flag, dest, what in (
        ("--timeout", "total", "overall deadline"),
        ("--dns-timeout", "dns", "per DNS query"),
        ("--connect-timeout", "connect", "TCP connect"),
        ("--greeting-timeout", "greeting", "220 greeting"),
        ("--command-timeout", "command", "each command reply"),
        ("--tls-timeout", "tls", "TLS handshake"),
    ):
        default = TIMEOUTS[dest]
        t.add_argument(
            flag, type=seconds_arg, default=default, metavar="SECONDS", help=f"{what} ({default:g})"
        )


def config_from_args(args: argparse.Namespace) -> ProbeConfig:
    """Build a validated :class:`ProbeConfig`; raises ConfigError on bad input."""
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

    families: tuple[AddressFamily, ...] = (AddressFamily.IPV4, AddressFamily.IPV6)
    if args.family == "4":
        families = (AddressFamily.IPV4,)
    elif args.family == "6":
        families = (AddressFamily.IPV6,)
    elif args.source_address is not None:
        # One source address reaches only its own family; probing the other would fail
        # every such route locally and read as the destination's fault.
        version: int
        try:
            version = ipaddress.ip_address(args.source_address).version
        except ValueError:
            version = 0  # ProbeConfig reports the bad address
        if version:
            families = (AddressFamily.IPV6 if version == 6 else AddressFamily.IPV4,)
    config = ProbeConfig(
        ports=parse_ports(args.ports),
        families=families,
        timeouts=Timeouts(
            dns=args.dns_timeout,
            connect=args.connect_timeout,
            greeting=args.greeting_timeout,
            command=args.command_timeout,
            tls=args.tls_timeout,
            total=args.timeout,
        ),
        resolver=ResolverConfig(tuple(Nameserver.parse(ns) for ns in args.nameserver)),
        tls=TlsConfig(ca_file=args.ca_file),
        ehlo_name=args.ehlo_name,
        source_address=args.source_address,
        implicit_tls_ports=parse_ports(args.implicit_tls_ports),
        allow_targets=tuple(getattr(args, "allow_targets", None) or ()),
        # Subcommands without the flag (bulk) do not look policies up.
        policy=PolicyConfig(
            enabled=not getattr(args, "no_policy", True),
            https_port=getattr(args, "mta_sts_port", 443),
        ),
    )
    _check_local_inputs(config)
    return config


def _check_local_inputs(config: ProbeConfig) -> None:
    """The library's environment checks (:func:`smtpdiag.api.check_config`), run before
    any output so a local mistake is one usage line (exit 2)."""
    from ..api import check_config  # lazy: keep `smtpdiag --help` light

    check_config(config)


def check_output_path(path: str, flag: str) -> None:
    """Raise ConfigError now if ``path`` cannot be written, so that a mistyped output
    path costs one usage line before the probe, not the whole probe.

    Writing is the only test that holds (``os.access`` says yes to root on ``/proc``):
    a temporary file is made next to ``path`` and removed (the output replaces ``path``
    by a rename from such a file); ``path`` itself is not touched.
    """
    import os
    import tempfile

    if os.path.isdir(path):
        raise ConfigError(f"cannot write {flag} {path}: it is a directory")
    directory = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(prefix=".smtpdiag-", dir=directory)
    except OSError as exc:
        raise ConfigError(f"cannot write {flag} {path}: {exc.strerror or exc}") from None
    os.close(fd)
    os.unlink(tmp)


def stderr_trace(route: Route, record: PhaseRecord) -> None:
    """One line per finished phase on stderr: ``label phase outcome ms [reply|detail]``."""
    from ..textsafe import clean

    what = ""
    if record.reply is not None:
        enhanced = f" {record.reply.enhanced}" if record.reply.enhanced else ""
        what = f" {record.reply.code}{enhanced}"
    elif record.detail:
        what = f" ({record.detail})"
    line = f"{route.label} {record.phase} {record.outcome} {record.duration_ms:.1f} ms{what}"
    print(f"smtpdiag: trace: {clean(line, 300)}", file=sys.stderr, flush=True)


def exit_code_for_verdict(verdict: Verdict | None, could_not_run: bool = False) -> int:
    from ..model import Verdict

    if could_not_run:
        return EXIT_COULD_NOT_RUN
    return {
        Verdict.HEALTHY: EXIT_HEALTHY,
        Verdict.DEGRADED: EXIT_DEGRADED,
        Verdict.FAILED: EXIT_FAILED,
        Verdict.NO_MAIL: EXIT_NO_MAIL,
        Verdict.UNKNOWN: EXIT_COULD_NOT_RUN,
        None: EXIT_HEALTHY,
    }[verdict]
