"""``smtpdiag render FILE.json``: lay a saved JSON report out again, in any format.

Probe once (``smtpdiag probe DOMAIN --json > report.json``), render later: an HTML page
for a ticket, Markdown for a CI summary, the text report. Nothing is probed and nothing
is decided again: the JSON carries the decision record, every format lays it out.
"""

from __future__ import annotations

import argparse
import sys

from . import common

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["FORMATS", "HELP", "MAX_BYTES", "register"]

#: One line for ``smtpdiag --help``.
HELP = "render a saved JSON probe report as html, text, markdown, ... (no probing)"
#: The formats of :func:`smtpdiag.report.render`.
FORMATS = ("text", "json", "html", "nagios", "junit", "markdown", "openmetrics")
#: A saved report larger than this is not one of ours (hostile input stays bounded).
MAX_BYTES = 64 * 1024 * 1024


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "render",
        help=HELP,
        description="Read a JSON report written by 'smtpdiag probe --json' (or '-' for "
        "standard input) and print it in another format. Exit 0 when rendered, 2 when "
        "FILE is not such a report.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("file", metavar="FILE", help="the JSON report ('-': standard input)")
    p.add_argument("--format", choices=FORMATS, default="html", help="output format")
    p.add_argument("--width", type=int, default=None, help="text width (default: terminal)")
    p.add_argument("--output", metavar="PATH", default=None, help="write to PATH instead of stdout")
    p.set_defaults(run=run)


def _read(path: str) -> bytes:
    from ..errors import ConfigError

    try:
        if path == "-":
            data: bytes = sys.stdin.buffer.read(MAX_BYTES + 1)
        else:
            with open(path, "rb") as fh:
                data = fh.read(MAX_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read {path!r}: {exc.strerror or exc}") from None
    if len(data) > MAX_BYTES:
        raise ConfigError(f"{path!r} is larger than {MAX_BYTES // (1024 * 1024)} MiB")
    return data


def run(args: argparse.Namespace) -> int:
    from ..errors import ConfigError

    if args.width is not None and not 40 <= args.width <= 400:
        raise ConfigError("--width must be 40-400")
    if args.format == "html":
        from ..report.html import require_jinja

        require_jinja()
    if args.output is not None:
        common.check_output_path(args.output, "--output")
    data = _read(args.file)
    from ..report.jsonout import loads
    from ..report.rendering import render

    try:
        report = loads(data)
    except ConfigError as exc:
        raise ConfigError(f"{args.file}: {exc}") from None
    text = render(report, args.format, width=args.width or 100)
    from .check import write_output

    write_output(text, args.output)
    return 0
