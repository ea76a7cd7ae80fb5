"""``smtpdiag tlsrpt PATH...``: read TLS reports (RFC 8460), one NDJSON record per
report, the summary per policy and route; ``--probe`` checks each reported failure
against the servers now.

Without ``--probe`` nothing here imports asyncio, ssl, dnspython or rich.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..errors import ConfigError
from . import common

__all__ = ["EXIT_ERRORS", "EXIT_OK", "EXIT_REPRODUCED", "HELP", "register"]

#: One line for ``smtpdiag --help``.
HELP = "read TLS reports (RFC 8460): failures per route; --probe checks them now"
EXIT_OK = 0
#: Some inputs gave error records (the run went on).
EXIT_ERRORS = 1
#: ``--probe``: at least one reported failure is reproduced now.
EXIT_REPRODUCED = 3

TLSRPT_EXIT_HELP = """\
exit codes (tlsrpt):
  0  every input gave a report (duplicates included)
  1  some inputs gave error records (the run went on)
  2  usage error (bad argument, no such path, nothing piped in)
  3  with --probe: at least one reported failure is reproduced now"""


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "tlsrpt",
        help="read TLS reports (RFC 8460): failures per route; --probe checks them now",
        description="Read SMTP TLS reports (RFC 8460): .json and .json.gz files, mail "
        "messages with the report attached (application/tlsrpt+gzip or +json), mboxes, "
        "maildirs and directories. Each report is validated (RFC 8460 4.4); one NDJSON "
        "line per report or error on stdout (duplicates, the same report-id from the same "
        "organization, are marked and counted once), then the summary: sessions per "
        "policy domain, type and organization, failures per MX host, address and result "
        "type (a table on stderr; the last JSON line with --json). With --probe, each "
        "reported route is probed now (once per domain) and a check line says whether "
        "the failure is reproduced, not reproduced, or not testable from here.",
        epilog=TLSRPT_EXIT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="report file, message, mbox, maildir or directory; '-' reads standard input",
    )
    p.add_argument("--json", action="store_true", help="the summary as the last JSON line")
    p.add_argument("--width", type=int, default=None, help="text width (default: terminal)")
    p.add_argument(
        "--probe",
        action="store_true",
        help="probe each reported route now and say whether its failure is reproduced",
    )
    common.add_probe_options(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:

    from ..report.tlsrpt import (
        dumps_check,
        dumps_item,
        dumps_summary,
        render_checks,
        render_summary,
    )
    from ..tlsreports import SummaryBuilder, read_tls_reports

    if args.width is not None and not 40 <= args.width <= 400:
        raise ConfigError("--width must be 40-400")
    config = common.config_from_args(args) if args.probe else None
    stdin = common.batch_inputs(args.paths, "tlsrpt")
    builder = SummaryBuilder()
    out = sys.stdout
    for item in read_tls_reports(args.paths, stdin=stdin):
        builder.add(item)
        out.write(dumps_item(item) + "\n")
    summary = builder.summary()
    checks = []
    if args.probe:
        import asyncio  # only --probe needs an event loop

        from ..tlsreports import check_tls_reports

        checks = asyncio.run(check_tls_reports(summary.failures, config))
        for check in checks:
            out.write(dumps_check(check) + "\n")
    if args.json:
        out.write(dumps_summary(summary) + "\n")
    else:
        out.flush()
        sys.stderr.write(render_summary(summary, width=args.width))
        if args.probe:
            sys.stderr.write(render_checks(checks, width=args.width))
    if any(c.status == "reproduced" for c in checks):
        return EXIT_REPRODUCED
    return EXIT_ERRORS if summary.errors else EXIT_OK
