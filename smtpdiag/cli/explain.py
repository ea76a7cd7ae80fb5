"""``smtpdiag explain TEXT``: explain a bounce line or DSN; ``--probe`` checks it live."""

from __future__ import annotations

import argparse
import sys

from ..errors import ConfigError
from . import common

# typing is not imported at run time on the start-up path (it costs milliseconds);
# mypy treats a module-level TYPE_CHECKING constant like typing.TYPE_CHECKING.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Coroutine
    from typing import Any

    from ..config import ProbeConfig
    from ..diagnose.bounce import Explanation

__all__ = ["EXIT_FOUND", "EXIT_NOT_FOUND", "HELP", "register"]

#: One line for ``smtpdiag --help``.
HELP = "explain a bounce line or delivery status notification"

EXIT_FOUND = 0
EXIT_NOT_FOUND = 1

EXPLAIN_EXIT_HELP = """\
exit codes (explain):
  0  a status code was found and explained
  1  no status code found in the text
  2  usage error (bad argument, unreadable file, nothing to read)
with --probe, once a code was found, the probe's exit code instead:
  0 healthy, 1 degraded, 3 failed, 4 no-mail, 5 the probe could not run"""


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "explain",
        help=HELP,
        description="Extract the SMTP reply code and the enhanced status code (RFC 3463) "
        "from a bounce line, a transcript or a DSN (RFC 3464 multipart/report) and explain "
        "it: meaning, soft or hard, causes, investigation steps, what to do. With --probe, "
        "also probe the recipient's domain and say whether what it sees now confirms the "
        "bounce.",
        epilog=EXPLAIN_EXIT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "text",
        nargs="?",
        metavar="TEXT",
        help="the bounce text; '-' or nothing: read standard input",
    )
    p.add_argument("--file", metavar="PATH", help="read the bounce from a file (e.g. a .eml)")
    from .probe import add_output_options

    add_output_options(p)
    p.add_argument(
        "--probe",
        action="store_true",
        help="probe the recipient's domain now and compare with the bounce",
    )
    p.add_argument(
        "--domain", metavar="DOMAIN", help="domain to probe (default: the recipient's domain)"
    )
    common.add_probe_options(p)
    p.set_defaults(run=run)


def _read_input(args: argparse.Namespace) -> bytes | str:
    from ..diagnose.bounce import MAX_INPUT

    if args.file is not None:
        if args.text not in (None, "-"):
            raise ConfigError("give either TEXT or --file, not both")
        try:
            with open(args.file, "rb") as fh:
                return fh.read(MAX_INPUT + 1)
        except OSError as exc:
            raise ConfigError(f"cannot read {args.file!r}: {exc.strerror or exc}") from None
    if args.text not in (None, "-"):
        text: str = args.text
        return text
    stdin = sys.stdin
    if stdin is None or (args.text is None and stdin.isatty()):
        raise ConfigError("nothing to explain: give TEXT, --file PATH, or pipe the bounce in")
    buffer = getattr(stdin, "buffer", None)
    if buffer is not None:
        data: bytes = buffer.read(MAX_INPUT + 1)
        return data
    return stdin.read(MAX_INPUT + 1)


def run(args: argparse.Namespace) -> int | Coroutine[Any, Any, int]:
    """Explain the bounce; with ``--probe``, a coroutine that also probes.

    Synchronous unless ``--probe``: explaining a bounce needs no event loop, and the
    probe stack (asyncio, ssl, dnspython, aiosmtplib, cryptography) is most of a
    process's start-up cost.
    """
    if args.width is not None and not 40 <= args.width <= 400:
        common.error("--width must be 40-400")
        return common.EXIT_USAGE
    config = common.config_from_args(args) if args.probe else None
    if args.domain and not args.probe:
        raise ConfigError("--domain only makes sense with --probe")
    data = _read_input(args)

    from ..diagnose.bounce import explain

    expl = explain(data)
    if args.probe and expl.found:
        assert config is not None
        return _probe_and_print(args, expl, config)
    _print(args, expl)
    return EXIT_FOUND if expl.found else EXIT_NOT_FOUND


def _print(args: argparse.Namespace, expl: Explanation) -> None:
    from ..report.explain import dumps_explanation, render_explanation
    from .probe import want_color

    if args.json:
        sys.stdout.write(dumps_explanation(expl) + "\n")
    else:
        sys.stdout.write(render_explanation(expl, width=args.width, color=want_color(args)))


async def _probe_and_print(args: argparse.Namespace, expl: Explanation, config: ProbeConfig) -> int:
    domain = args.domain or expl.bounce.domain
    if not domain:
        common.error("the bounce names no recipient domain; pass --domain DOMAIN to probe")
        return common.EXIT_USAGE
    from ..api import could_not_run, probe
    from ..diagnose.bounce import confirm
    from ..errors import ProbeError
    from ..resolve import normalize_domain

    normalize_domain(domain)
    try:
        report = await probe(domain, config)
    except ProbeError as exc:
        common.error(str(exc))
        return common.EXIT_COULD_NOT_RUN
    from dataclasses import replace

    expl = replace(expl, probe=report, confirmation=confirm(expl, report))
    verdict = report.diagnosis.verdict if report.diagnosis else None
    _print(args, expl)
    return common.exit_code_for_verdict(verdict, could_not_run(report))
