"""``smtpdiag probe DOMAIN``: probe every route, print the diagnosis and the evidence."""

from __future__ import annotations

import argparse
import sys

from . import common

# typing is not imported at run time on the start-up path (it costs milliseconds);
# mypy treats a module-level TYPE_CHECKING constant like typing.TYPE_CHECKING.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["FORMATS", "HELP", "output_format", "register"]

#: Output formats of ``probe --format``.
FORMATS = ("text", "json", "html")

#: One line for ``smtpdiag --help``.
HELP = "resolve a domain's MX and probe every route on 25/587/465"


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "probe",
        help=HELP,
        description="Resolve DOMAIN's mail exchangers and probe every (MX, address, port) "
        "route: TCP connect, greeting, EHLO, STARTTLS or implicit TLS, EHLO again, QUIT. "
        "Never sends mail. Prints the diagnosis, then the evidence.",
        epilog=common.EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("domain", metavar="DOMAIN", help="mail domain (the part after @)")
    add_output_options(p)
    p.add_argument(
        "--format",
        choices=FORMATS,
        default=None,
        help="output format: text (default), json (as --json) or html (one self-contained "
        "page to attach to a ticket; needs the smtpdiag[html] extra)",
    )
    p.add_argument(
        "--no-diagnose",
        action="store_true",
        help="observations only, no diagnosis (exit code then only tells ran / could not run)",
    )
    p.add_argument(
        "--trace",
        action="store_true",
        help="print every phase on stderr as it ends (live progress; stdout is unchanged)",
    )
    common.add_probe_options(p)
    p.set_defaults(run=run)


def add_output_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print only the JSON report")
    p.add_argument("--width", type=int, default=None, help="text width (default: terminal)")
    p.add_argument(
        "--full",
        action="store_true",
        help="text report with every finding's evidence, causes and investigation steps, "
        "banners, TLS and certificate details (the JSON report always has them)",
    )
    p.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        help="colour in the text report (default: auto: off when not a terminal, "
        "NO_COLOR or TERM=dumb)",
    )


def want_color(args: argparse.Namespace) -> bool:
    """``--color``: always, never, or auto (a terminal that is not ``TERM=dumb``, no NO_COLOR)."""
    import os

    if args.color == "always":
        return True
    if args.color == "never" or os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("TERM") == "dumb":
        return False
    return sys.stdout.isatty()


def output_format(args: argparse.Namespace) -> str:
    """``--format``, with ``--json`` as ``--format json``; HTML checks its extra now, before
    a probe that would be wasted (one line, exit 2)."""
    from ..errors import ConfigError

    fmt: str = args.format or ("json" if args.json else "text")
    if args.json and fmt != "json":
        raise ConfigError(f"--json and --format {fmt} contradict each other: give one")
    if fmt == "html":
        from ..report.html import require_jinja

        require_jinja()
    return fmt


async def run(args: argparse.Namespace) -> int:
    # Validate the user's input before importing the heavy stages.
    fmt = output_format(args)
    config = common.config_from_args(args)
    if args.width is not None and not 40 <= args.width <= 400:
        common.error("--width must be 40-400")
        return common.EXIT_USAGE
    from ..resolve import normalize_domain

    normalize_domain(args.domain)

    from ..api import could_not_run, probe
    from ..errors import ProbeError

    try:
        report = await probe(
            args.domain,
            config,
            diagnose=not args.no_diagnose,
            trace=common.stderr_trace if args.trace else None,
        )
    except ProbeError as exc:
        common.error(str(exc))
        return common.EXIT_COULD_NOT_RUN
    # Import only the renderer asked for: rich is most of the text path's start-up cost.
    if fmt == "json":
        from ..report.jsonout import dumps

        sys.stdout.write(dumps(report) + "\n")
    elif fmt == "html":
        from ..report.html import render_html

        sys.stdout.write(render_html(report))
    else:
        from ..report.text import render_text

        sys.stdout.write(
            render_text(report, width=args.width, color=want_color(args), full=args.full)
        )
    verdict = report.diagnosis.verdict if report.diagnosis else None
    return common.exit_code_for_verdict(verdict, could_not_run(report))
