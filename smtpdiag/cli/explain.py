"""``smtpdiag explain TEXT``: explain a bounce line or DSN; ``--probe`` checks it live.
``smtpdiag explain --batch PATH...``: one NDJSON record per bounced recipient of mboxes,
maildirs, ``.eml`` directories, MTA logs and ``postqueue -j`` output.

Without ``--probe`` nothing here imports asyncio, ssl, dnspython or rich on the JSON path.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from typing import Any

from ..errors import ConfigError
from . import common

__all__ = ["EXIT_BATCH_ERRORS", "EXIT_FOUND", "EXIT_NOT_FOUND", "register"]

EXIT_FOUND = 0
EXIT_NOT_FOUND = 1
#: ``--batch``: the run went through, but some inputs gave error records.
EXIT_BATCH_ERRORS = 1
#: The options a bounce explained without --probe or --batch can take: a command line
#: with no other option is parsed without the probe options (``Parser.defer_arguments``).
_ONE_BOUNCE_OPTIONS = ("--file", "--json", "--width", "--full", "--color", "--format")
_FORMATS = ("auto", "mbox", "maildir", "eml-dir", "eml", "postfix-log", "exim-log", "postqueue")

EXPLAIN_EXIT_HELP = """\
exit codes (explain):
  0  a status code was found (or inferred from the words) and explained
  1  no status code found in the text
  2  usage error (bad argument, unreadable file, nothing to read)
with --batch: 0 every input gave records, 1 some inputs gave error records
(the run went on), 2 usage error, also when a forced --input-format matched nothing
in an input (the line names the format detected)
with --probe, once a code was found, the probe's exit code instead:
  0 healthy, 1 degraded, 3 failed, 4 no-mail, 5 the probe could not run
74 the output could not be written (disk full, quota): one line on stderr"""


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "explain",
        help="explain a bounce line or delivery status notification",
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
    p.add_argument(
        "--batch",
        nargs="+",
        metavar="PATH",
        help="explain every bounce in each PATH (mbox, maildir, directory of .eml files, "
        "Postfix or Exim log, postqueue -j output, '-' for stdin): one NDJSON record per "
        "recipient on stdout, then a summary (a table on stderr; the last JSON line "
        "with --json); with --probe, each recipient domain of a network or routing "
        "bounce is probed once and a confirmation line says whether it confirms the "
        "bounce now",
    )
    p.add_argument(
        "--input-format",
        choices=_FORMATS,
        default="auto",
        help="with --batch: the format of every PATH (default: detected per PATH)",
    )
    from .probe import add_output_options

    add_output_options(p)
    p.add_argument(
        "--format",
        choices=("text", "json", "html"),
        default=None,
        help="output format: text (default), json (as --json), or html with --probe (the "
        "probe's page with the bounce first; needs the smtpdiag[html] extra)",
    )
    p.add_argument(
        "--probe",
        action="store_true",
        help="probe the recipient's domain now and compare with the bounce",
    )
    p.add_argument(
        "--domain", metavar="DOMAIN", help="domain to probe (default: the recipient's domain)"
    )
    # The probe options (and their table, with its config types) only when the command
    # line can use them: one bounce explained without them is one process per bounce.
    p.defer_arguments(common.add_probe_options, unless=_ONE_BOUNCE_OPTIONS)
    p.set_defaults(run=run)


def _read_input(args: argparse.Namespace) -> bytes | str:
    from ..bounces.bounce import MAX_INPUT

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


def run(args: argparse.Namespace) -> int:
    """Synchronous unless ``--probe``: the explain path needs no event loop."""

    if args.width is not None and not 40 <= args.width <= 400:
        common.error("--width must be 40-400")
        return common.EXIT_USAGE
    from .probe import output_format

    fmt = output_format(args)
    if fmt == "html" and (not args.probe or args.batch is not None):
        raise ConfigError(
            "--format html needs --probe (the page lays out the probe) and no --batch"
        )
    if args.batch is not None:
        args.json = fmt == "json"
        return _run_batch(args)
    if args.input_format != "auto":
        raise ConfigError("--input-format only makes sense with --batch")
    config = common.config_from_args(args) if args.probe else None
    if args.domain and not args.probe:
        raise ConfigError("--domain only makes sense with --probe")
    data = _read_input(args)

    from ..bounces.bounce import explain

    expl = explain(data)
    code = EXIT_FOUND if expl.found else EXIT_NOT_FOUND
    if args.probe and expl.found:
        probed = _probe_and_confirm(args, expl, config)
        if isinstance(probed, int):
            return probed
        expl, code = probed
    return _write_explanation(args, fmt, expl, code)


def _probe_and_confirm(args: argparse.Namespace, expl: Any, config: Any) -> tuple[Any, int] | int:
    """Probe the bounce's recipient domain and judge the bounce against it: the
    explanation with the probe and the verdict's exit code, or an exit code alone."""
    import asyncio

    from ..api import could_not_run, probe
    from ..bounces.bounce import confirm
    from ..errors import ProbeError
    from ..resolve import normalize_domain

    domain = args.domain or expl.bounce.domain
    if not domain:
        common.error("the bounce names no recipient domain; pass --domain DOMAIN to probe")
        return common.EXIT_USAGE
    normalize_domain(domain)
    try:
        report = asyncio.run(probe(domain, config))
    except ProbeError as exc:
        common.error(str(exc))
        return common.EXIT_COULD_NOT_RUN
    expl = replace(expl, probe=report, confirmation=confirm(expl, report))
    verdict = report.diagnosis.verdict if report.diagnosis else None
    return expl, common.exit_code_for_verdict(verdict, could_not_run(report))


def _write_explanation(args: argparse.Namespace, fmt: str, expl: Any, code: int) -> int:
    from ..report.explain import dumps_explanation, render_explanation
    from .probe import want_color

    if fmt == "json":
        sys.stdout.write(dumps_explanation(expl) + "\n")
    elif fmt == "html":
        if expl.probe is None:  # no code found: nothing was probed, there is no page
            common.error("no status code found in the bounce: nothing probed, no HTML page")
            return code
        from ..report.html import render_html

        sys.stdout.write(render_html(expl.probe, explanation=expl))
    else:
        sys.stdout.write(
            render_explanation(expl, width=args.width, color=want_color(args), full=args.full)
        )
    return code


def _run_batch(args: argparse.Namespace) -> int:

    from ..bounces import (
        BatchRecord,
        BatchTally,
        DomainCollector,
        InputFormat,
        SummaryBuilder,
        confirm_domains,
        explain_batch,
    )
    from ..report.explain import (
        dumps_confirmation,
        dumps_item,
        dumps_summary,
        render_confirmations,
        render_summary,
    )

    if args.text is not None or args.file is not None:
        raise ConfigError("--batch reads its PATHs; give no TEXT or --file with it")
    if args.domain:
        raise ConfigError("--domain works on one bounce; with --batch, --probe probes each domain")
    config = common.config_from_args(args) if args.probe else None
    stdin = common.batch_inputs(args.batch, "--batch")
    builder = SummaryBuilder()
    domains = DomainCollector()
    tally = BatchTally()
    out = sys.stdout
    fmt = InputFormat(args.input_format)
    for item in explain_batch(args.batch, input_format=fmt, stdin=stdin, tally=tally):
        builder.add(item)
        if isinstance(item, BatchRecord):
            domains.add(item)
        out.write(dumps_item(item) + "\n")
    summary = builder.summary(tally=tally)
    confirmations = []
    if args.probe:
        import asyncio  # only --probe needs an event loop

        from ..api import probe

        confirmations = asyncio.run(confirm_domains(domains, config, probe))
        for confirmation in confirmations:
            out.write(dumps_confirmation(confirmation) + "\n")
    if args.json:
        out.write(dumps_summary(summary) + "\n")
    else:
        out.flush()
        sys.stderr.write(render_summary(summary, width=args.width))
        if args.probe:
            sys.stderr.write(render_confirmations(confirmations, domains.skipped, width=args.width))
    if tally.unmatched:
        # A wrong forced format reads as an empty success otherwise: nothing is lost
        # silently, so this is a usage error, one line per input it matched nothing of.
        from ..narrate.bounce import unmatched_format

        out.flush()
        for miss in tally.unmatched:
            common.error(unmatched_format(miss.forced, miss.input, miss.detected, miss.items))
        return common.EXIT_USAGE
    return EXIT_BATCH_ERRORS if summary.errors else EXIT_FOUND
