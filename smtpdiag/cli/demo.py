"""``smtpdiag demo``: run the pipeline against built-in local servers, offline."""

from __future__ import annotations

import argparse
import sys

from . import common
from .probe import want_color

# typing is not imported at run time on the start-up path (it costs milliseconds);
# mypy treats a module-level TYPE_CHECKING constant like typing.TYPE_CHECKING.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["HELP", "register"]

#: One line for ``smtpdiag --help``.
HELP = "probe built-in local demo domains (no internet needed)"


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "demo",
        help=HELP,
        description="Start a local DNS server and scripted SMTP servers with real TLS on "
        "127.77.0.x, probe four demo domains (healthy, dead primary MX, 421 greeting, bad "
        "certificate) and print each diagnosis. Exit 0 when every demo domain got the "
        "verdict it should.",
    )
    p.add_argument("--json", action="store_true", help="print the reports as JSON lines")
    p.add_argument("--width", type=int, default=None, help="text width (default: terminal)")
    p.add_argument("--color", choices=("auto", "always", "never"), default="auto")
    p.add_argument(
        "--serve",
        type=float,
        metavar="SECONDS",
        default=None,
        help="after the demo, keep the servers up this long (at most 3600) and print the "
        "commands to probe them by hand; Ctrl-C stops early",
    )
    p.set_defaults(run=run)


async def run(args: argparse.Namespace) -> int:
    if args.serve is not None and not 0 < args.serve <= 3600:
        common.error("--serve takes 1-3600 seconds")
        return common.EXIT_USAGE
    if args.width is not None and not 40 <= args.width <= 400:
        common.error("--width must be 40-400")
        return common.EXIT_USAGE
    from ..api import probe
    from ..demo import DEMO_DOMAINS, demo_lab, program_name
    from ..report.jsonout import dumps
    from ..report.text import render_text

    mismatches: list[str] = []
    color = want_color(args)
    with demo_lab() as lab:
        if not args.json:
            p25, p587, p465 = lab.ports
            print(
                f"smtpdiag demo: DNS on {lab.nameserver.address}:{lab.nameserver.port}; "
                f"SMTP on 127.77.0.x ports {p25} (as 25), {p587} (as 587), "
                f"{p465} (as 465, implicit TLS)\n"
            )
        for demo in DEMO_DOMAINS:
            report = await probe(demo.name, lab.config())
            verdict = report.diagnosis.verdict if report.diagnosis else None
            if verdict is not demo.expect:
                mismatches.append(f"{demo.name}: expected {demo.expect}, got {verdict}")
            if args.json:
                sys.stdout.write(dumps(report, indent=None) + "\n")
            else:
                print(f"=== {demo.name}: {demo.story}\n")
                sys.stdout.write(render_text(report, width=args.width, color=color))
                print()
        if not args.serve and not args.json:
            # The servers stop when the demo ends; --serve keeps them up for trying by hand.
            print(f"To probe these servers by hand, run: {program_name()} demo --serve 600")
        sys.stdout.flush()
        if args.serve:
            print(f"Servers stay up for {args.serve:g} s (Ctrl-C to stop). Try:")
            for demo in DEMO_DOMAINS:
                print(f"  {lab.command(demo.name)}")
            sys.stdout.flush()
            # Ctrl-C cancels this sleep; leaving the `with` stops the servers.
            import asyncio

            await asyncio.sleep(args.serve)
    for line in mismatches:
        common.error(f"demo self-check: {line}")
    return 1 if mismatches else 0
