"""``smtpdiag bulk FILE|-``: triage many domains or bounces, every shared route probed once."""

from __future__ import annotations

import argparse
import sys
from typing import Any, TextIO

from . import common

__all__ = ["register"]

_EPILOG = """\
input (detected from the first bytes, or --input-format):
  a list of domains or email addresses, one per line ('#' comments allowed, also
  after the item; an address may be 'Name <user@x>' or 'mailto:user@x'), or
  bounces in every form 'explain --batch' reads: mbox, maildir, a directory of .eml
  files, Postfix or Exim logs, 'postqueue -j' output.

output: NDJSON on stdout (or --output), one line per record, streamed:
  {"type":"domain", "domain", "verdict", "primary", "findings", "decision",
   "retry_at", "reason", "provider", "routes", ...}      one per distinct domain
  {"type":"error", "input", "error", "detail"}          one per unusable input item
  with --recipients FILE, one line per input item there:
  {"type":"recipient", "input", "recipient", "domain", "decision" (suppress, retry,
   keep, fix), "retry_at", "code", "reason", "source" (probe or bounce)}
  at the end a summary by provider (MX set) and by code: a table on stderr when it is
  a terminal; with --json also as the last NDJSON line ({"type":"summary", ...}).

politeness (defaults): each distinct (address, port, TLS mode) is probed once per
  run; at most 2 connections at a time and 30 new connections per minute to one
  address; 64 connections overall; every probe ends with QUIT and never sends mail.
  With --workers N (default: one per core, at most 3) the workers resolve and diagnose; this
  process alone connects, so the limits above hold for the whole run.

example: a day's bounces in, a suppression list out
  smtpdiag bulk /var/mail/bounces.mbox --recipients decisions.ndjson -o domains.ndjson
  jq -r 'select(.decision=="suppress") | .recipient' decisions.ndjson > suppress.txt

Ctrl-C or SIGTERM: stop reading at once; the domains in flight get a grace of
--domain-deadline capped at 8 s to finish; write those that finished, give up the rest,
say on stderr how many of each, exit 130/143. A second Ctrl-C or SIGTERM stops at once.
--resume skips the domains already in --output (not those whose verdict was unknown).

several machines: --engine celery --broker redis://... hands the domains to the
  'smtpdiag worker' processes on that broker (the smtpdiag[celery] extra); each route
  is probed once per run over all workers, the politeness limits above hold over all
  of them, and the records are the same as a local run's. The broker URL may come from
  $SMTPDIAG_BROKER instead (keeps the password out of the process list). With
  --resume, give the same --run-id to reuse what the workers finished.

exit codes: 0 the run finished, 2 usage error, 5 could not run (no nameserver answered
  for any domain; with --engine celery, the broker unreachable or no worker
  answering), 130 interrupted (SIGINT), 143 terminated (SIGTERM).
"""


def _positive_int(low: int, high: int) -> Any:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be {low}-{high}: {text!r}")
        return value

    return parse


def _workers(text: str) -> int | str:
    if text == "auto":
        return text
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 64:
        raise argparse.ArgumentTypeError(f"must be 0-64 or auto: {text!r}")
    return value


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "bulk",
        help="triage many domains or bounces; one decision per domain and per recipient",
        description="Read domains, addresses or bounces; resolve every domain (DNS cache, "
        "bounded concurrency); probe each distinct (address, port, TLS mode) once; "
        "diagnose every domain from the shared results (the certificate is checked "
        "against each domain's own MX name); stream NDJSON records.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("source", metavar="FILE|-", help="input file, directory, or - for stdin")
    p.add_argument(
        "-o", "--output", metavar="FILE", help="write domain records here (default: stdout)"
    )
    p.add_argument(
        "--recipients",
        metavar="FILE",
        help="write one decision per recipient (per input item) to FILE as NDJSON",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="skip the domains already in --output (and recipients already in "
        "--recipients); append to both",
    )
    p.add_argument(
        "--input-format",
        default="auto",
        metavar="FORMAT",
        help="auto (default), list, mbox, maildir, eml-dir, eml, postfix-log, exim-log, postqueue",
    )
    p.add_argument("--json", action="store_true", help="end the NDJSON with the summary record")
    p.add_argument(
        "--html",
        metavar="FILE",
        default=None,
        help="also write a summary page (totals, providers x codes, the failing domains, "
        "each domain's record) to FILE; needs the smtpdiag[html] extra",
    )
    p.add_argument(
        "--no-progress", action="store_true", help="no progress bar (there is none in a pipe)"
    )
    g = p.add_argument_group("politeness and bounds")
    g.add_argument(
        "--per-address-limit",
        type=_positive_int(1, 64),
        default=2,
        metavar="N",
        help="connections at a time to one address (2)",
    )
    g.add_argument(
        "--per-address-rate",
        type=common.per_minute_arg,
        default=30.0,
        metavar="PER_MIN",
        help="new connections per minute to one address (30)",
    )
    g.add_argument(
        "--concurrency",
        type=_positive_int(1, 4096),
        default=64,
        metavar="N",
        help="connections at a time overall (64)",
    )
    g.add_argument(
        "--domain-deadline",
        type=common.seconds_arg,
        default=90.0,
        metavar="SECONDS",
        help="per domain, from its resolution to its result, queueing included (90)",
    )
    g.add_argument(
        "--in-flight",
        type=_positive_int(1, 100_000),
        default=512,
        metavar="N",
        help="domains worked on at once; bounds memory (512)",
    )
    g.add_argument(
        "--workers",
        type=_workers,
        default="auto",
        metavar="N|auto",
        help="worker processes that resolve and diagnose (auto: one per core, at "
        "most 3; 0: all in this process); routes are still probed once, by "
        "this process",
    )
    c = p.add_argument_group("several machines (--engine celery)")
    c.add_argument(
        "--engine",
        choices=("local", "celery"),
        default="local",
        help="local (default): this machine; celery: the workers on --broker",
    )
    c.add_argument(
        "--broker",
        metavar="URL",
        default=None,
        help="the Redis broker of the workers, redis://[:PASSWORD@]HOST:PORT/DB or "
        "rediss://... (default: $SMTPDIAG_BROKER)",
    )
    c.add_argument(
        "--run-id",
        metavar="ID",
        default=None,
        help="names the run's shared state on the broker; the same id with --resume "
        "reuses what the workers finished (default: a new one, said on stderr)",
    )
    c.add_argument(
        "--batch-size",
        type=_positive_int(1, 1000),
        default=16,
        metavar="N",
        help="domains per task (16)",
    )
    c.add_argument(
        "--throttle-backoff",
        type=common.seconds_arg,
        default=60.0,
        metavar="SECONDS",
        help="after a rate-limit reply (421, 450) from an address, every worker waits "
        "this long before connecting to it again (60)",
    )
    common.add_probe_options(p)
    p.set_defaults(run=run)


def _open(path: str, append: bool) -> TextIO:
    try:
        fh = open(path, "a+" if append else "w", encoding="utf-8")  # noqa: SIM115
        if append and fh.tell() > 0:
            # A run killed mid-line left a partial record: end it, so that the next
            # record starts on its own line (the partial one is skipped on reading).
            fh.seek(fh.tell() - 1)
            last = fh.read(1)
            fh.seek(0, 2)
            if last != "\n":
                fh.write("\n")
        return fh
    except OSError as exc:
        from ..errors import ConfigError

        raise ConfigError(f"cannot write {path}: {exc.strerror or exc}") from None


def _read_existing(path: str | None, reader: Any) -> Any:
    import os

    if path is None or not os.path.exists(path):
        import io

        return reader(io.StringIO(""))
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return reader(fh)
    except OSError as exc:
        from ..errors import ConfigError

        raise ConfigError(f"cannot read {path} to resume: {exc.strerror or exc}") from None


def _same_file(a: str, b: str) -> bool:
    """Whether two paths name one file: by identity when both exist (symlinks, hard
    links, ``./`` forms), else by their real paths."""
    import os

    try:
        if os.path.exists(a) and os.path.exists(b):
            return os.path.samefile(a, b)
    except OSError:
        pass
    return os.path.realpath(a) == os.path.realpath(b)


def _clash(source: str, output: str | None, recipients: str | None) -> str | None:
    """Why the outputs would clobber the input or each other, ``None`` if they do not.

    Checked before anything is opened: opening an output truncates it (or, with
    ``--resume``, appends to it), and two writers on one file interleave their lines.
    stdin (``-``) and stdout (no ``-o``) never clash.
    """
    named = [("--output", output), ("--recipients", recipients)]
    for flag, path in named:
        if path is not None and source != "-" and _same_file(source, path):
            return f"{flag} {path} is the same file as the input {source}"
    if output is not None and recipients is not None and _same_file(output, recipients):
        return f"--output {output} and --recipients {recipients} are the same file"
    return None


def run(args: argparse.Namespace) -> int:
    # Validate the user's input before importing the heavy stages.
    config = common.config_from_args(args)
    if args.resume and not args.output:
        common.error("--resume needs --output FILE (the records to resume from)")
        return common.EXIT_USAGE
    clash = _clash(args.source, args.output, args.recipients)
    if clash is not None:
        common.error(clash)
        return common.EXIT_USAGE
    from ..errors import ConfigError
    from ..triage.input import input_format
    from ..triage.model import BulkSettings

    fmt = input_format(args.input_format)
    if args.html is not None:
        from ..report.html import require_jinja

        require_jinja()  # one line now, not after a run that would be wasted
        common.check_output_path(args.html, "--html")
    if args.workers == "auto":
        from ..triage.pool import default_workers

        args.workers = default_workers()
    args.cluster = _cluster_options(args)
    settings = BulkSettings(
        per_address_limit=args.per_address_limit,
        per_address_rate=args.per_address_rate,
        concurrency=args.concurrency,
        domain_deadline=args.domain_deadline,
        in_flight=args.in_flight,
    )
    if args.source != "-":
        import os

        if not os.path.exists(args.source):
            raise ConfigError(f"cannot read {args.source}: no such file or directory")
    import asyncio

    return asyncio.run(_run(args, config, settings, fmt))


def _cluster_options(args: argparse.Namespace) -> Any:
    """The cluster of ``--engine celery`` (``None`` for the local engine)."""
    import os

    if args.engine != "celery":
        return None
    from ..errors import ConfigError
    from ..triage.cluster import ClusterOptions, new_run_id

    broker = args.broker or os.environ.get("SMTPDIAG_BROKER")
    if not broker:
        raise ConfigError("--engine celery needs --broker URL (or $SMTPDIAG_BROKER)")
    run_id = args.run_id or new_run_id()
    options = ClusterOptions(broker, run_id, args.batch_size, args.throttle_backoff)
    if args.run_id is None:
        common.notice(f"run id {run_id} (to resume: --resume --run-id {run_id})")
    return options


class _Sink:
    """Where a run's records go: the output stream, the recipients stream (each input
    once), the HTML page's rows; counts the domains whose verdict is unknown."""

    def __init__(self, out: Any, rcpt: Any, written: set[str], html: bool) -> None:
        self.out = out
        self.rcpt = rcpt
        self.written = written
        self.page: list[tuple[Any, str]] | None = [] if html else None
        self.unknown = 0  # domains with verdict unknown
        self.no_dns = 0  # of them, without DNS

    def write(self, item: Any) -> bool:
        """Write one record; whether it was a domain or error record (progress moves)."""
        from ..model import Verdict
        from ..triage.model import DomainRecord, ErrorRecord, RecipientRecord
        from ..triage.output import dumps

        if isinstance(item, RecipientRecord):
            if self.rcpt is not None and item.input not in self.written:
                self.rcpt.write(dumps(item) + "\n")
            return False
        if isinstance(item, DomainRecord) and item.verdict is Verdict.UNKNOWN:
            self.unknown += 1
            self.no_dns += item.could_not_run
        line = dumps(item)
        self.out.write(line + "\n")
        self.out.flush()
        if self.page is not None and isinstance(item, DomainRecord):
            self.page.append((item, line))
        return isinstance(item, DomainRecord | ErrorRecord)

    def close(self, result: Any, args: argparse.Namespace) -> None:
        """The summary (JSON, terminal table, HTML page); close the files."""
        from ..triage.output import dumps, render_table

        if args.json:
            self.out.write(dumps(result) + "\n")
        self.out.flush()
        if self.out is not sys.stdout:
            self.out.close()
        if self.rcpt is not None:
            self.rcpt.close()
        if sys.stderr.isatty():
            sys.stderr.write(render_table(result))
        if self.page is not None:
            from ..report.html_bulk import render_bulk_html
            from .check import write_output

            html = render_bulk_html(
                [r for r, _ in self.page], result, [line for _, line in self.page]
            )
            write_output(html, args.html)


def _unknown_exit(unknown: int, no_dns: int, domains: int) -> int:
    """Say how many domains could not be probed; the exit code."""
    from ..narrate.units import plural

    if not unknown:
        return 0
    # These domains' records say nothing about them; --resume probes them again.
    if no_dns == unknown:
        why = "no nameserver answered"
    elif no_dns == 0:
        why = "their deadline passed"
    else:
        why = "no nameserver answered, or their deadline passed"
    common.error(
        f"{unknown} of {plural(domains, 'domain')} could not be probed ({why}): their "
        "verdict is unknown and --resume probes them again"
    )
    return common.EXIT_COULD_NOT_RUN if no_dns == domains else 0


def _signal_exit(signals: list[int], stats: Any, grace: float) -> int:
    from ..narrate.stopping import stopped_at_once_line, stopped_line

    if len(signals) == 1:
        common.notice(stopped_line(stats.stopped_in_flight, stats.given_up, grace))
    else:
        common.notice(stopped_at_once_line())
    return 128 + signals[0]


async def _run(args: argparse.Namespace, config: Any, settings: Any, fmt: str) -> int:
    import asyncio
    import signal
    import time

    from ..errors import ProbeError
    from ..narrate.stopping import stopping_line
    from ..triage.output import SummaryBuilder, read_done, read_recipients
    from ..triage.run import RunStats, bulk, stop_grace

    done = _read_existing(args.output, read_done) if args.resume else {}
    written: set[str] = (
        _read_existing(args.recipients, lambda stream: read_recipients(stream, done))
        if args.resume and args.recipients
        else set()
    )
    out = _open(args.output, args.resume) if args.output else sys.stdout
    rcpt = _open(args.recipients, args.resume) if args.recipients else None
    sink = _Sink(out, rcpt, written, bool(args.html))
    stats = RunStats()
    summary = SummaryBuilder()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    main = asyncio.current_task()
    signals: list[int] = []

    grace = stop_grace(settings)

    def on_signal(signum: int) -> None:
        signals.append(signum)
        if len(signals) == 1:
            stop.set()  # stop reading; the domains in flight finish and are written
            common.notice(stopping_line(stats.in_flight, grace))
        elif main is not None:
            main.cancel()  # a second signal: stop at once

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_signal, signum)
    progress = _progress(args)
    started = time.monotonic()
    failed: str | None = None
    try:
        async for item in bulk(
            args.source,
            config,
            settings,
            input_format=fmt,
            recipients=rcpt is not None,
            done=done,
            stdin=sys.stdin.buffer,
            stop=stop,
            stats=stats,
            workers=args.workers,
            cluster=args.cluster,
        ):
            summary.add(item)
            if sink.write(item) and progress is not None:
                progress.update(stats)
    except asyncio.CancelledError:
        stats.interrupted = True
    except ProbeError as exc:
        failed = str(exc)
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        if progress is not None:
            progress.stop()
    sink.close(summary.summary(stats, time.monotonic() - started), args)
    if failed is not None:
        common.error(failed)
        return common.EXIT_COULD_NOT_RUN
    if signals:
        return _signal_exit(signals, stats, grace)
    return _unknown_exit(sink.unknown, sink.no_dns, stats.domains)


def _progress_text(stats: Any, elapsed: float) -> str:
    """The live line: domains done and their rate, routes, errors, skipped."""
    from rich.markup import escape

    from ..narrate.units import plural

    rate = stats.domains / max(elapsed, 1e-6)
    return escape(
        f"{plural(stats.domains, 'domain')} ({rate:.0f}/s), "
        f"{plural(stats.routes_probed, 'route')}, {plural(stats.errors, 'error')}, "
        f"{stats.skipped} skipped"
    )


class _Progress:
    """A live line on a terminal's stderr: domains done, rate, errors."""

    def __init__(self) -> None:
        import time

        from rich.console import Console
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self._started = time.monotonic()
        self._bar = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=Console(file=sys.stderr),
            transient=True,
        )
        self._task = self._bar.add_task("starting", total=None)
        self._bar.start()

    def update(self, stats: Any) -> None:
        import time

        self._bar.update(
            self._task, description=_progress_text(stats, time.monotonic() - self._started)
        )

    def stop(self) -> None:
        self._bar.stop()


def _progress(args: argparse.Namespace) -> _Progress | None:
    if args.no_progress or not sys.stderr.isatty():
        return None
    return _Progress()
