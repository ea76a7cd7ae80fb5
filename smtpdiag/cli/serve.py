"""``smtpdiag serve``: a Prometheus exporter (``/probe?target=DOMAIN``, ``/metrics``).

Runs until SIGTERM or SIGINT, then stops listening, cancels the probes still running,
closes the state file and exits 0. The probe options (flags, ``SMTPDIAG_*`` environment
variables, config file) make the ``default`` module, as for ``check``; the config
file's ``[modules.NAME]`` tables make the others (``/probe?module=NAME``).
"""

from __future__ import annotations

import argparse
import sys

from ..errors import ConfigError
from . import common

TYPE_CHECKING = False
if TYPE_CHECKING:
    import ssl
    from collections.abc import Coroutine
    from typing import Any

    from ..serve.exporter import Module

__all__ = ["HELP", "parse_listen", "register", "run"]

#: One line for ``smtpdiag --help``.
HELP = "Prometheus exporter: /probe?target=DOMAIN with caching, backoff, history, drift"

_EPILOG = """\
endpoints:
  /probe?target=DOMAIN[&module=NAME]
                         health check of DOMAIN as OpenMetrics (Prometheus text 0.0.4
                         unless the scraper asks for OpenMetrics); cached for
                         --min-interval, one probe at a time per domain and module;
                         an unknown module is 400
  /report?target=DOMAIN[&module=NAME]
                         the latest result of DOMAIN as JSON (as check --format json,
                         plus a "service" object); never probes
  /metrics               the service's own metrics (and the TLS report counts)
  /tlsrpt                with --accept-tlsrpt: POST a TLS report (RFC 8460 5.4,
                         application/tlsrpt+gzip or +json); 200 accepted or
                         duplicate, 400 malformed, 413 too large, 415 wrong type
  /-/healthy             200 while the service runs

modules: the probe options given here make the module "default"; each
[modules.NAME] table of the config file (--config) makes module NAME from the
default's values and its own keys: any probe option (ports, family, timeouts,
ca_file, allow_targets, ...) and require_mta_sts = "testing"|"enforce",
require_dane = true. Example:
  [modules.strict]
  ports = [25]
  family = 4
  greeting_timeout = 20
  require_mta_sts = "enforce"

exit codes: 0 stopped by SIGTERM/SIGINT, 2 usage error (bad flag, bad config file,
cannot listen)"""


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` or ``[IPv6]:PORT`` -> (host, port); raises ConfigError."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ConfigError(f"--listen must be HOST:PORT (e.g. 127.0.0.1:9125), got {text!r}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not host:
        raise ConfigError(f"--listen needs a host (e.g. 127.0.0.1:9125), got {text!r}")
    return host, int(port)


def _tls_context(cert: str | None, key: str | None) -> ssl.SSLContext | None:
    """The server context of ``--tls-cert``/``--tls-key`` (both or neither)."""
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise ConfigError("--tls-cert and --tls-key go together")
    import ssl

    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        ctx.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        detail = getattr(exc, "strerror", None) or getattr(exc, "reason", None) or exc
        raise ConfigError(f"cannot load --tls-cert/--tls-key: {detail}") from None
    return ctx


def _seconds(text: str) -> float:
    value = common.seconds_arg(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0: {text!r}")
    return value


def _count(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 100_000:
        raise argparse.ArgumentTypeError(f"must be 1-100000: {text!r}")
    return int(text)


def _limit(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 16:
        raise argparse.ArgumentTypeError(f"must be 1-16: {text!r}")
    return int(text)


def register(subparsers: Any) -> None:
    """Add the ``serve`` subcommand."""
    p = subparsers.add_parser(
        "serve",
        help=HELP,
        description="Serve health checks to Prometheus in the blackbox-exporter style. "
        "Each domain is probed at most once per --min-interval whatever the number of "
        "scrapers; a server answering 421/450 makes the domain untestable and backs off; "
        "per-domain history (failing since, probes by result, MX/MTA-STS/certificate "
        "changes) is kept in --state-dir across restarts. Never sends mail.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    s = p.add_argument_group("service")
    s.add_argument(
        "--listen",
        default="127.0.0.1:9125",
        metavar="HOST:PORT",
        help="address to listen on (default: 127.0.0.1:9125)",
    )
    s.add_argument(
        "--min-interval",
        type=_seconds,
        default=60.0,
        metavar="SECONDS",
        help="serve a domain's result from the cache for this long (default: 60)",
    )
    s.add_argument(
        "--max-backoff",
        type=_seconds,
        default=3600.0,
        metavar="SECONDS",
        help="longest wait before probing a rate-limiting server again (default: 3600)",
    )
    s.add_argument(
        "--max-concurrent",
        type=_count,
        default=8,
        metavar="N",
        help="probes running at the same time, over all domains (default: 8)",
    )
    s.add_argument(
        "--max-targets",
        type=_count,
        default=10_000,
        metavar="N",
        help="domains remembered (least recently probed are forgotten; default: 10000)",
    )
    s.add_argument(
        "--per-address-limit",
        type=_limit,
        default=1,
        metavar="N",
        help="connections open at a time to one MX address, over all domains and "
        "modules (default: 1)",
    )
    s.add_argument(
        "--per-address-rate",
        type=common.per_minute_arg,
        default=60.0,
        metavar="PER_MIN",
        help="new connections per minute to one MX address, over all domains and "
        "modules (default: 60)",
    )
    s.add_argument(
        "--tarpit-greeting",
        type=_seconds,
        default=8.0,
        metavar="SECONDS",
        help="a greeting slower than this is a tarpit's: when every route tried greets "
        "this slowly or times out, the domain is untestable (reason tarpit) and backed "
        "off like a 421 (default: 8)",
    )
    s.add_argument(
        "--state-dir",
        metavar="DIR",
        help="where the per-domain history is kept (default: $XDG_STATE_HOME/smtpdiag, "
        "i.e. ~/.local/state/smtpdiag)",
    )
    s.add_argument(
        "--no-state",
        action="store_true",
        help="keep the history in memory only (forgotten at exit)",
    )
    s.add_argument(
        "--tls-cert",
        metavar="FILE",
        help="serve HTTPS with this certificate chain (PEM; needs --tls-key)",
    )
    s.add_argument(
        "--tls-key",
        metavar="FILE",
        help="the private key of --tls-cert (PEM)",
    )
    s.add_argument(
        "--accept-tlsrpt",
        action="store_true",
        help="accept TLS reports (RFC 8460) POSTed to /tlsrpt, store them in the state "
        "and count their failures on /metrics (off by default; put the service behind "
        "an HTTPS reverse proxy: senders POST only to https:// URIs)",
    )
    s.add_argument(
        "--max-tlsrpt-reports",
        type=_count,
        default=10_000,
        metavar="N",
        help="TLS reports kept (oldest received dropped first; default: 10000)",
    )
    common.add_probe_options(p, defaults={"ports": (25,)})
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> Coroutine[Any, Any, int]:
    """Run ``serve`` until SIGTERM/SIGINT; returns the exit code."""
    return _serve(args)


def _modules(args: argparse.Namespace) -> dict[str, Module]:
    """The default module and the config file's modules, each checked as ``check``
    checks its config; raises ConfigError naming the module."""
    from ..health import Thresholds
    from ..model import StsMode
    from ..serve.exporter import Module
    from .options import DEFAULT_MODULE, modules_from_args

    modules: dict[str, Module] = {}
    for options in modules_from_args(args):
        where = "" if options.name == DEFAULT_MODULE else f"module {options.name!r}: "
        try:
            common.check_local_inputs(options.config)
            wanted = options.require_mta_sts is not None or options.require_dane
            if wanted and not options.config.policy.enabled:
                raise ConfigError(
                    "require_mta_sts and require_dane need the policy lookups (no_policy is set)"
                )
            thresholds = Thresholds(
                require_mta_sts=None
                if options.require_mta_sts is None
                else StsMode(options.require_mta_sts),
                require_dane=options.require_dane,
            )
        except ConfigError as exc:
            raise ConfigError(f"{where}{exc}") from None
        modules[options.name] = Module(options.config, thresholds)
    return modules


async def _serve(args: argparse.Namespace) -> int:
    import asyncio
    import signal
    from pathlib import Path

    from ..probing.gates import AddressGates
    from ..serve.exporter import Exporter
    from ..serve.http import Limits, Service
    from ..serve.state import StateStore, default_state_dir
    from ..serve.targets import DEFAULT_MODULE

    host, port = parse_listen(args.listen)
    tls = _tls_context(args.tls_cert, args.tls_key)
    modules = _modules(args)
    config = modules[DEFAULT_MODULE].config
    directory = None if args.no_state else Path(args.state_dir or default_state_dir())
    try:
        store = StateStore(directory, max_targets=args.max_targets)
    except Exception as exc:  # sqlite3.Error, OSError: one line, not a traceback
        raise ConfigError(f"cannot open the state in {directory}: {exc}") from None
    exporter = Exporter(
        config,
        modules[DEFAULT_MODULE].thresholds,
        store,
        min_interval=args.min_interval,
        max_backoff=args.max_backoff,
        max_concurrent=args.max_concurrent,
        max_targets=args.max_targets,
        modules=modules,
        gates=AddressGates(args.per_address_limit, args.per_address_rate),
        tarpit_greeting=args.tarpit_greeting,
    )
    # A scrape gets its answer within the probe's own deadline plus a margin.
    longest = max(m.config.timeouts.total for m in exporter.modules.values())
    limits = Limits(request_timeout=longest + 5.0)
    tlsrpt = None
    if args.accept_tlsrpt:
        from ..serve.tlsrpt import TlsrptStore

        try:
            tlsrpt = TlsrptStore(store.db, max_reports=args.max_tlsrpt_reports)
        except Exception as exc:  # sqlite3.Error: one line, not a traceback
            store.close()
            raise ConfigError(f"cannot open the TLS report tables in {directory}: {exc}") from None
    service = Service(exporter, limits, tlsrpt)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread
            pass
    try:
        try:
            server = await service.start(host, port, tls)
        except OSError as exc:
            raise ConfigError(f"cannot listen on {args.listen}: {exc.strerror or exc}") from None
        bound = server.sockets[0].getsockname() if server.sockets else (host, port)
        print(f"smtpdiag serve: listening on {bound[0]}:{bound[1]}", file=sys.stderr, flush=True)
        await stop.wait()
        return 0
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
        await service.aclose()
        await exporter.aclose()
        store.close()
