"""``smtpdiag worker --broker URL``: a bulk worker of a cluster (a thin wrapper over
``celery -A smtpdiag.triage.cluster.app worker``)."""

from __future__ import annotations

import argparse
from typing import Any

from . import common

__all__ = ["register"]

_EPILOG = """\
A worker takes batches of domains that 'smtpdiag bulk --engine celery --broker URL'
submits to the same broker, diagnoses them with the submitter's probe settings
(ports, timeouts, nameservers, TLS trust, politeness limits travel with each batch),
and shares with every other worker, through the same Redis, one probe per route per
run and one politeness budget per destination address. Start one or more per machine;
a worker killed mid-batch loses nothing (the batch is delivered again after
--visibility-timeout). The same worker, with Celery's own options:
  SMTPDIAG_BROKER=redis://... celery -A smtpdiag.triage.cluster.app worker

The broker URL may come from $SMTPDIAG_BROKER instead of --broker (keeps the password
out of the process list); its password is never printed.

Ctrl-C or SIGTERM: finish the batches in hand, then exit (a second one: at once; the
unfinished batches go to the other workers).

exit codes: 0 stopped, 2 usage error (or the smtpdiag[celery] extra is missing).
"""


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "worker",
        help="run a bulk worker (Celery, Redis) for 'bulk --engine celery' on several machines",
        description="Run a Celery worker that diagnoses the batches of 'smtpdiag bulk "
        "--engine celery' runs submitted to the broker.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--broker",
        metavar="URL",
        default=None,
        help="the Redis broker, redis://[:PASSWORD@]HOST:PORT/DB or rediss://... "
        "(default: $SMTPDIAG_BROKER)",
    )
    p.add_argument(
        "--processes",
        type=_count,
        default=None,
        metavar="N",
        help="worker processes, each running one batch at a time (default: one per core)",
    )
    p.add_argument(
        "--threads",
        type=_count,
        default=None,
        metavar="N",
        help="instead of processes: one process running N batches at a time (Celery's "
        "thread pool); a batch waiting for a destination's politeness then holds up no "
        "other batch",
    )
    p.add_argument(
        "--visibility-timeout",
        type=common.seconds_arg,
        default=300.0,
        metavar="SECONDS",
        help="a batch unacknowledged this long (its worker lost) is delivered again (300)",
    )
    p.add_argument(
        "--name",
        metavar="NAME",
        default=None,
        help="the worker's node name (default: smtpdiag-PID@HOST)",
    )
    p.add_argument(
        "--log-level",
        choices=("debug", "info", "warning", "error"),
        default="warning",
        help="Celery's log level on stderr (warning)",
    )
    p.set_defaults(run=run)


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 256:
        raise argparse.ArgumentTypeError(f"must be 1-256: {text!r}")
    return value


def run(args: argparse.Namespace) -> int:
    import os

    from ..errors import ConfigError

    broker = args.broker or os.environ.get("SMTPDIAG_BROKER")
    if not broker:
        raise ConfigError("worker needs --broker URL (or $SMTPDIAG_BROKER)")
    try:
        from ..triage.cluster import ClusterOptions

        ClusterOptions(broker)  # the URL's form, before Celery sees it
        from ..triage.cluster.app import app, configure
    except ImportError as exc:
        raise ConfigError(
            f"smtpdiag worker needs the smtpdiag[celery] extra ({exc.name} is missing)"
        ) from None
    configure(app, broker, args.visibility_timeout)
    argv = [
        "worker",
        f"--loglevel={args.log_level}",
        f"--hostname={args.name or f'smtpdiag-{os.getpid()}@%h'}",
        "--without-mingle",
        "--without-gossip",
    ]
    if args.threads is not None:
        if args.processes is not None:
            raise ConfigError("--threads and --processes exclude each other")
        argv += ["--pool=threads", f"--concurrency={args.threads}"]
    elif args.processes is not None:
        argv.append(f"--concurrency={args.processes}")
    app.worker_main(argv=argv)
    return 0
