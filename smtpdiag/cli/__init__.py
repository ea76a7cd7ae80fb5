"""The ``smtpdiag`` command: parse, build a config, call the library, render, exit.

Each subcommand lives in its own module with a ``register(subparsers)`` function that
adds its parser and sets ``run`` (a function ``(args) -> int``, or one returning a
coroutine that resolves to the code); its one-line help is in :data:`COMMANDS`.

Start-up cost is part of the interface: a monitoring system runs this command thousands
of times a minute. So only the subcommand being run is imported and registered in full
(its options' defaults need the config and threshold types); the others are one-line
stubs for the top-level ``--help``, and asyncio is imported only when a subcommand
returns a coroutine. A mail filter runs ``explain`` once per bounce: its parser adds the
probe options only for a command line that uses them (``Parser.defer_arguments``), and
the process defers the standard modules its imports pull in and it never calls
(:mod:`.deferred`). ``tests/cli/test_import_cost.py`` guards what each path imports.
"""

from __future__ import annotations

import argparse
import errno
import gc
import importlib
import os
import sys
import types
from collections.abc import Sequence

from ..errors import ConfigError
from ..version import __version__
from . import common

__all__ = ["COMMANDS", "build_parser", "main"]

#: The subcommands, in the order ``--help`` lists them, with their one-line help (the
#: same text their own ``register`` gives; a test keeps the two equal).
COMMANDS: dict[str, str] = {
    "probe": "resolve a domain's MX and probe every route on 25/587/465",
    "explain": "explain a bounce line or delivery status notification",
    "check": "health check with thresholds (monitoring plugin, JUnit, Markdown, OpenMetrics)",
    "watch": "probe repeatedly: success rates, latency percentiles, routes going down/up",
    "bulk": "triage many domains or bounces; one decision per domain and per recipient",
    "tlsrpt": "read TLS reports (RFC 8460): failures per route; --probe checks them now",
    "demo": "probe built-in local demo domains (no internet needed)",
    "render": "render a saved JSON probe report as html, text, markdown, ... (no probing)",
    "worker": "run a bulk worker (Celery, Redis) for 'bulk --engine celery' on several machines",
    "serve": "Prometheus exporter: /probe?target=DOMAIN with caching, backoff, history, drift",
}


#: The top-level help's pointer to where probe options come from (cli/options.py).
_CONFIG_LINE = """\
probe options also come from SMTPDIAG_<OPTION> environment variables and a TOML config
file (--config FILE, $SMTPDIAG_CONFIG, ~/.config/smtpdiag/config.toml); a flag wins over
the environment, which wins over the file: see 'smtpdiag probe --help'.

"""

#: Subcommands that probe one domain and exit (no repetition, no batch).
_ONE_SHOT = frozenset({"probe", "check"})
#: Subcommands that always resolve (explain does only with ``--probe``).
_RESOLVING = frozenset({"probe", "check", "watch", "bulk", "demo", "serve", "worker"})


def _selected(argv: Sequence[str]) -> str | None:
    """The subcommand ``argv`` runs: its first word that is not an option."""
    for arg in argv:
        if not arg.startswith("-"):
            return arg if arg in COMMANDS else None
    return None


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser; with ``argv``, only the subcommand it names is registered in full."""
    parser = common.Parser(
        prog="smtpdiag",
        description="SMTP connection diagnostics: resolve MX, probe 25/587/465 with TLS, "
        "time every phase, diagnose 4.4.2 / 5.4.2 / 4.3.2 / 5.4.3.",
        epilog=_CONFIG_LINE + common.EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"smtpdiag {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=common.Parser)
    sub.required = True
    selected = _selected(argv) if argv is not None else None
    # The stubs only serve the top-level help (it lists the commands). With the command
    # first, no top-level option comes before it, so that help cannot be asked for and
    # the stubs are left out: each is a parser whose set-up looks up its translated
    # titles in the locale directories (6 M instructions of a one-bounce process).
    stubs = argv is None or not argv or argv[0] != selected
    for name, help_line in COMMANDS.items():
        if argv is None or name == selected:
            module: common.SubcommandModule = importlib.import_module(f"{__name__}.{name}")
            module.register(sub)
        elif stubs:
            sub.add_parser(name, help=help_line)
    if argv is None:  # the whole parser, as the docs and the tests read it
        for choice in sub.choices.values():
            choice.complete()
    return parser


def _plugin_mode(args_in: Sequence[str]) -> bool:
    if _selected(args_in) != "check":
        return False
    from .check import plugin_requested

    return plugin_requested(args_in)


def _sigterm(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (see ``smtpdiag --help``)."""
    args_in = list(sys.argv[1:] if argv is None else argv)
    plugin = _plugin_mode(args_in)
    if plugin and argv is None:
        # A monitoring plugin prints a status line whatever happens: SIGTERM before the
        # check's own handlers are up is treated like Ctrl-C (the whole process only).
        import signal

        signal.signal(signal.SIGTERM, _sigterm)
    if argv is None:
        # Running as the command, so the process is ours to tune (see _own_process).
        _own_process(_selected(args_in), args_in)
    try:
        return _run(args_in, plugin)
    finally:
        if argv is None:
            # Whatever is alive now lives until exit: keep the shutdown collection from
            # walking every object of every imported module once more.
            gc.freeze()


def _own_process(selected: str | None, args_in: Sequence[str] = ()) -> None:
    """Start-up tuning of a process that runs one command and exits.

    Garbage collection: imports create tens of thousands of objects that live until
    exit; the collector walks them again and again as they pile up (about 8% of a
    whole ``probe --json`` process, 4% of ``explain --file``). ``probe`` and ``check``
    probe one domain, bounded by the deadline and the caps, and ``explain`` without
    ``--batch`` reads one bounce of at most ``MAX_INPUT`` bytes, so they run without
    the cyclic collector (reference counting still frees almost everything);
    long-running commands (``watch``, ``bulk``, ``demo --serve``, ``explain --batch``)
    keep it. argparse takes any prefix of ``--batch``, and no other option of explain
    starts with ``--b``.

    Imports: the one-bounce ``explain`` defers the standard modules that its modules
    import and it never calls (:data:`_UNUSED_BY_EXPLAIN`, see :mod:`.deferred`).
    """
    one_bounce = selected == "explain" and not any(a.startswith("--b") for a in args_in)
    if selected in _ONE_SHOT or one_bounce:
        gc.disable()
    if one_bounce and not any(a.startswith("--p") for a in args_in):
        # Without --probe (or any prefix of it argparse takes): the probe imports all
        # of these at once, so deferring them would gain nothing there.
        from .deferred import defer

        defer(_UNUSED_BY_EXPLAIN)
    if selected in _RESOLVING:
        from .dnsfeatures import prime

        prime()  # before the subcommand's imports reach dnspython


#: Standard modules that modules of the one-bounce ``explain`` path import and never call
#: there (see :mod:`.deferred`): ``dataclasses`` imports inspect; ``email.utils`` imports
#: socket, random and urllib.parse, ``email._parseaddr`` calendar; email's header codec
#: and body encoders serve writing mail (and decoding an 8-bit header), its errors a
#: malformed message (a defect found); copy is for
#: ``dataclasses.asdict``, struct for base64's base85 codecs.
_UNUSED_BY_EXPLAIN = (
    "inspect",
    "socket",
    "random",
    "urllib.parse",
    "calendar",
    "email.header",
    "email.quoprimime",
    "email.base64mime",
    "email.errors",
    "copy",
    "struct",
)

#: Errors only a write gives: the output (stdout, an --output file) could not be written.
_OUTPUT_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


def _output_failed(exc: OSError) -> int:
    """One line and :data:`~.common.EXIT_OUTPUT` when the output could not be written."""
    common.error(f"cannot write the output: {exc.strerror or type(exc).__name__}")
    try:
        # What is still buffered for stdout goes nowhere, so the interpreter's own flush
        # at exit does not fail again with a traceback.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass  # not a real file (a test's capture): nothing is flushed at exit
    return common.EXIT_OUTPUT


def _run(args_in: list[str], plugin: bool) -> int:
    try:
        code = _run_command(args_in, plugin)
        sys.stdout.flush()  # a full disk shows here, not in the interpreter's last flush
        return code
    except BrokenPipeError:
        # Output piped into `head` and closed early: not an error of ours.
        sys.stderr.close()
        return 0
    except OSError as exc:
        if exc.errno not in _OUTPUT_ERRNOS:
            raise
        return _output_failed(exc)


def _run_command(args_in: list[str], plugin: bool) -> int:
    parser = build_parser(args_in)
    try:
        args = parser.parse_args(args_in)
        result = args.run(args)
        if isinstance(result, types.CoroutineType):
            import asyncio  # only the paths that do I/O pay for the event loop

            result = asyncio.run(result)
        code: int = result
        return code
    except common.UsageExit as exc:
        return exc.code
    except ConfigError as exc:
        common.error(str(exc))
        return common.EXIT_USAGE
    except KeyboardInterrupt:
        if plugin:
            from .check import interrupted_before_run

            return interrupted_before_run()
        common.error("interrupted")
        return 130
