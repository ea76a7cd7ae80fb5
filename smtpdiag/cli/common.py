"""What every subcommand shares: the parser class, probe options, exit codes."""

from __future__ import annotations

import argparse
import os
import sys
from typing import BinaryIO

from ..errors import ConfigError

# typing is not imported at run time on the start-up path (it costs milliseconds);
# mypy treats a module-level TYPE_CHECKING constant like typing.TYPE_CHECKING.
TYPE_CHECKING = False

if TYPE_CHECKING:
    import re
    from collections.abc import Callable, Collection, Sequence
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
    "EXIT_OUTPUT",
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
#: The output could not be written (a full disk, a quota): sysexits' EX_IOERR, a code
#: no command gives for anything else.
EXIT_OUTPUT = 74

EXIT_CODES_HELP = """\
exit codes (probe, explain --probe, watch):
  0  healthy: every route works
  1  degraded: mail is deliverable, but some route or feature fails
  2  usage error (bad argument, unreadable file)
  3  failed: no route delivers
  4  no-mail: the domain publishes a null MX (RFC 7505)
  5  the probe could not run or probed nothing (no nameserver answered at all, or no
     route in the probed address families): verdict unknown
  74 the output could not be written (disk full, quota): one line on stderr (every
     command)
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


def _help_width() -> int:
    """The width argparse gives help: ``shutil.get_terminal_size().columns - 2``."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0 and sys.__stdout__ is not None:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns
        except (AttributeError, ValueError, OSError):
            columns = 0
    return (columns or 80) - 2


class Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line and exit code 2.

    An option that takes a value also takes a negative-looking one (``--timeout -1``),
    so that its own check names the allowed range: argparse alone reads ``-1`` as an
    option once the parser has options like ``-4``/``-6``, and says "expected one
    argument".
    """

    #: Arguments added only when needed (see :meth:`defer_arguments`): each adder and
    #: the options that do not need it.
    _deferred: list[tuple[Callable[[Parser], None], frozenset[str]]]

    def defer_arguments(self, add: Callable[[Parser], None], unless: Collection[str]) -> None:
        """Add arguments with ``add(self)`` only when they can matter.

        They are added before any help or usage is formatted, and before parsing a
        command line whose options are not all exactly one of ``unless`` (``--name`` or
        ``--name=value``; ``-`` is a value). An abbreviation, any other value that looks
        like an option, ``-h`` or ``--`` adds them, so argparse decides on such a line
        with every option, as it always did. Arguments added last come last in the help
        either way: the help is the same.
        """
        if not hasattr(self, "_deferred"):
            self._deferred = []
        self._deferred.append((add, frozenset(unless)))

    def complete(self) -> None:
        """Add every deferred argument now (a parser that tests or documents options)."""
        deferred = getattr(self, "_deferred", None)
        while deferred:
            add, _unless = deferred.pop(0)
            add(self)

    def _complete_for(self, args: Sequence[str]) -> None:
        options = [a.split("=", 1)[0] for a in args if a.startswith("-") and a != "-"]
        for add, unless in list(getattr(self, "_deferred", ())):
            if any(option not in unless for option in options):
                self._deferred.remove((add, unless))
                add(self)

    def format_usage(self) -> str:
        self.complete()
        return super().format_usage()

    def format_help(self) -> str:
        self.complete()
        return super().format_help()

    def _get_formatter(self) -> argparse.HelpFormatter:
        # argparse makes a formatter for every add_argument (to check its metavar), and
        # the default width comes from shutil, whose import (with bz2, lzma and zlib)
        # is a fortieth of a one-bounce process. Same width, from the same sources.
        # Every HelpFormatter takes width; typeshed's protocol names prog only.
        return self.formatter_class(prog=self.prog, width=_help_width())  # type: ignore[call-arg]

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        if args is None:
            self.complete()
        else:
            self._complete_for(args)
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


def parse_ports(text: str, flag: str = "--ports") -> tuple[int, ...]:
    """``"25,587,465"`` -> ``(25, 587, 465)``; raises ConfigError on anything else."""
    ports: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if not part.isdigit() or not 0 < int(part) < 65536:
            raise ConfigError(f"bad port {part!r} in {flag} {text!r}: expected 1-65535")
        if int(part) in ports:
            raise ConfigError(f"port {part} given twice in {flag}")
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


def per_minute_arg(text: str) -> float:
    """argparse type: a rate of new connections per minute, 0.1-6000 (bulk's and the
    exporter's per-address rate)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.1 <= value <= 6000:
        raise argparse.ArgumentTypeError(f"must be 0.1-6000 per minute: {text!r}")
    return value


def add_probe_options(
    parser: argparse.ArgumentParser,
    *,
    defaults: dict[str, object] | None = None,
) -> None:
    """The probe options every probing subcommand shares; declared once, in
    :mod:`smtpdiag.cli.options` (flags, environment variables, config file)."""
    from .options import add_probe_options as add

    add(parser, defaults=defaults)


def config_from_args(args: argparse.Namespace) -> ProbeConfig:
    """Build a validated :class:`ProbeConfig` from the flags, the environment and the
    config file (:func:`smtpdiag.cli.options.config_from_args`); raises ConfigError."""
    from .options import config_from_args as build

    config = build(args)
    _check_local_inputs(config)
    return config


def check_local_inputs(config: ProbeConfig) -> None:
    """:func:`_check_local_inputs` for configs built elsewhere (``serve``'s modules)."""
    _check_local_inputs(config)


def _check_local_inputs(config: ProbeConfig) -> None:
    """The library's environment checks (:func:`smtpdiag.api.check_config`), run before
    any output so a local mistake is one usage line (exit 2)."""
    from ..api import check_config  # lazy: keep `smtpdiag --help` light

    check_config(config)


def batch_inputs(paths: list[str], what: str) -> BinaryIO | None:
    """Check a batch command's PATHs before reading any: each exists, and ``-`` has a
    pipe behind it. Returns standard input's bytes when ``-`` is among them.

    ``what`` names the option or command in the error (``--batch``, ``tlsrpt``).
    """
    stdin = None
    for path in paths:
        if path == "-":
            stdin = getattr(sys.stdin, "buffer", None)
            if stdin is None or sys.stdin.isatty():
                raise ConfigError(f"{what} -: nothing piped into standard input")
        elif not os.path.exists(path):
            raise ConfigError(f"{what}: no such file or directory: {path!r}")
    return stdin


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
