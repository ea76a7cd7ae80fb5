"""The ``smtpdiag`` command: parse, build a config, call the library, render, exit.

Each subcommand lives in its own module with a ``register(subparsers)`` function that
adds its parser and sets ``run`` (a function ``(args) -> int``, or a coroutine function).
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import sys
from collections.abc import Sequence

from .. import __version__
from ..errors import ConfigError
from . import common

__all__ = ["main"]


def build_parser() -> argparse.ArgumentParser:
    parser = common.Parser(
        prog="smtpdiag",
        description="SMTP connection diagnostics: resolve MX, probe 25/587/465 with TLS, "
        "time every phase, diagnose 4.4.2 / 5.4.2 / 4.3.2 / 5.4.3.",
        epilog=common.EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"smtpdiag {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=common.Parser)
    sub.required = True
    for module in _subcommands():
        module.register(sub)
    return parser


def _subcommands() -> list[common.SubcommandModule]:
    import importlib

    names = ["probe", "explain", "check", "watch", "bulk", "demo"]
    modules: list[common.SubcommandModule] = []
    for name in names:
        try:
            modules.append(importlib.import_module(f"{__name__}.{name}"))
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
    return modules


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (see ``smtpdiag --help``)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        run = args.run
        if inspect.iscoroutinefunction(run):
            code: int = asyncio.run(run(args))
        else:
            code = run(args)
        return code
    except common.UsageExit as exc:
        return exc.code
    except ConfigError as exc:
        common.error(str(exc))
        return common.EXIT_USAGE
    except KeyboardInterrupt:
        common.error("interrupted")
        return 130
    except BrokenPipeError:
        # Output piped into `head` and closed early: not an error of ours.
        sys.stderr.close()
        return 0
