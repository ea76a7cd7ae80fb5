"""``smtpdiag check DOMAIN``: a health check with thresholds, for monitoring and CI.

Formats: ``text`` (default), ``json`` (health + thresholds + the full report), ``nagios``
(monitoring-plugin output), ``junit``, ``markdown``, ``openmetrics``. ``--plugin`` is
``--format nagios``.

Exit codes:

* monitoring-plugin mode (``--plugin`` / ``--format nagios``): 0 OK, 1 WARNING,
  2 CRITICAL, 3 UNKNOWN. A usage or configuration error is UNKNOWN too (one
  ``SMTPDIAG UNKNOWN - ...`` line on stdout, exit 3), as the monitoring-plugins
  guidelines ask, so that a typo in a command definition shows up as UNKNOWN instead
  of being read as CRITICAL. Any unexpected internal error is also reported as UNKNOWN,
  and so is SIGINT or SIGTERM before the check finished (``SMTPDIAG UNKNOWN -
  interrupted by SIGTERM ...``, exit 3): a plugin always prints one status line.
* every other format: smtpdiag's usual codes (``smtpdiag --help``), mapped from the
  health status: ok 0, warning 1 (like "degraded"), critical 3 (like "failed"),
  unknown 5 ("could not run"); a usage error is 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from ..errors import ConfigError
from . import common

# typing is not imported at run time on the start-up path (it costs milliseconds);
# mypy treats a module-level TYPE_CHECKING constant like typing.TYPE_CHECKING.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Coroutine
    from typing import Any, NoReturn

__all__ = [
    "FORMATS",
    "HELP",
    "exit_code",
    "interrupted_before_run",
    "plugin_requested",
    "register",
    "run",
]

#: One line for ``smtpdiag --help``.
HELP = "health check with thresholds (monitoring plugin, JUnit, Markdown, OpenMetrics)"

#: Output formats of ``check``.
FORMATS = ("text", "json", "nagios", "junit", "markdown", "openmetrics", "html")

_CHECK_HELP = """\
exit codes:
  --plugin / --format nagios: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN
      (usage errors are UNKNOWN 3 too, per the monitoring-plugins guidelines)
  other formats: 0 ok, 1 warning, 3 critical, 5 unknown (probe could not run),
      2 usage error

Latency limits are seconds ("off" disables one); a limit is crossed when a phase that
succeeded took longer. Certificate limits are days left ("off" disables one)."""

_LEVEL_WORD = {"warn": "warning", "crit": "critical"}

# (flag suffix, Thresholds field, what)
_PHASE_FLAGS = (
    ("connect", "connect", "TCP connect"),
    ("tls", "tls_handshake", "TLS handshake"),
    ("greeting", "greeting", "220 greeting"),
    ("ehlo", "ehlo", "EHLO/HELO reply"),
    ("starttls", "starttls", "STARTTLS reply"),
)


def plugin_requested(args: Sequence[str]) -> bool:
    """Whether ``check``'s arguments ask for plugin mode (before they are parsed)."""
    items = list(args)
    for i, arg in enumerate(items):
        if arg == "--plugin" or arg == "--format=nagios":
            return True
        if arg == "--format" and i + 1 < len(items) and items[i + 1] == "nagios":
            return True
        if arg == "--":
            break
    return False


class _CheckParser(common.Parser):
    """The ``check`` parser: in plugin mode, a usage error is UNKNOWN (exit 3)."""

    _argv: Sequence[str] = ()

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        self._argv = list(args) if args is not None else sys.argv[1:]
        ns, extras = super().parse_known_args(args, namespace)
        if extras:
            # Report unknown options here, not in the top-level parser, so that plugin
            # mode can answer UNKNOWN for them too.
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return ns, extras

    def error(self, message: str) -> NoReturn:
        if plugin_requested(self._argv):
            from ..report.nagios import render_plugin_error

            sys.stdout.write(render_plugin_error(f"usage error: {message}"))
            raise common.UsageExit(3)
        super().error(message)


def _limit(text: str) -> float | None:
    if text.lower() in ("off", "none"):
        return None
    return common.seconds_arg(text)


def _days(text: str) -> int | None:
    if text.lower() in ("off", "none"):
        return None
    if not text.isdigit() or int(text) > 3650:
        raise argparse.ArgumentTypeError(f"days must be 0-3650 or 'off': {text!r}")
    return int(text)


def register(subparsers: Any) -> None:
    """Add the ``check`` subcommand."""
    from ..health.thresholds import TLS_VERSIONS, Thresholds

    p = subparsers.add_parser(
        "check",
        help=HELP,
        description="Probe DOMAIN's mail routes (port 25 unless --ports says otherwise) and "
        "judge them against latency, certificate and feature thresholds. Never sends mail.",
        epilog=_CHECK_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.__class__ = _CheckParser
    p.add_argument("domain", metavar="DOMAIN", help="mail domain (the part after @)")
    out = p.add_argument_group("output")
    fmt = out.add_mutually_exclusive_group()
    fmt.add_argument("--format", choices=FORMATS, default="text", help="output format")
    fmt.add_argument(
        "--plugin",
        action="store_true",
        help="monitoring-plugin mode: --format nagios with exit codes 0/1/2/3",
    )
    out.add_argument(
        "--perfdata",
        choices=("none", "summary", "routes"),
        default="routes",
        help="plugin performance data: none; summary (probe_duration, routes_healthy); "
        "routes (the summary plus r<N>_<phase> times and r<N>_cert_days per route; "
        "default)",
    )
    out.add_argument(
        "--width", type=int, default=None, help="text width, 40-400 (default: terminal)"
    )
    out.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        help="colour in the text output (default: auto: off when not a terminal, "
        "NO_COLOR or TERM=dumb)",
    )
    out.add_argument(
        "--output",
        metavar="FILE",
        help="write the output to FILE (replaced atomically, e.g. for a textfile collector)",
    )

    d = Thresholds()
    th = p.add_argument_group("thresholds")
    for flag, field, what in _PHASE_FLAGS:
        limit = getattr(d, field)
        for level in ("warn", "crit"):
            default = getattr(limit, level)
            th.add_argument(
                f"--{level}-{flag}",
                dest=f"{level}_{field}",
                type=_limit,
                default=default,
                metavar="SECONDS",
                help=f"{_LEVEL_WORD[level]} when the {what} takes longer ({default:g})",
            )
    for level, word in (
        ("warn", "warn when fewer days are left on a certificate"),
        ("crit", "critical when fewer days are left"),
    ):
        days = getattr(d, f"cert_{level}_days")
        th.add_argument(
            f"--cert-{level}-days",
            type=_days,
            default=days,
            metavar="DAYS",
            help=f"{word} ({days})",
        )
    th.add_argument(
        "--require-starttls",
        action=argparse.BooleanOptionalAction,
        default=d.require_starttls,
        help="STARTTLS must be offered and work on STARTTLS ports (default: yes)",
    )
    th.add_argument(
        "--require-tls465",
        action="store_true",
        default=d.require_implicit_tls,
        help="implicit TLS (465) must work; adds port 465 to the probe if missing",
    )
    th.add_argument(
        "--min-tls",
        choices=(*TLS_VERSIONS, "any"),
        default=d.min_tls_version,
        help=f"lowest acceptable TLS version (default: {d.min_tls_version})",
    )
    th.add_argument(
        "--require-valid-cert",
        action="store_true",
        help="certificates must verify and name the MX host (see --ca-file)",
    )
    th.add_argument(
        "--require-all-mx",
        action="store_true",
        help="every route must be healthy (default: critical only when none is)",
    )
    th.add_argument(
        "--require-mta-sts",
        choices=("enforce", "testing"),
        default=None,
        help="the domain must publish a valid MTA-STS policy of this mode (enforce also "
        "meets testing) whose mx patterns cover every MX host (critical otherwise)",
    )
    th.add_argument(
        "--require-dane",
        action="store_true",
        help="every MX host must have usable DNSSEC-validated TLSA records and every "
        "probed chain must match them (critical otherwise)",
    )
    # A health check probes port 25 by default (MTA-to-MTA delivery); see DEFAULT_CHECK_PORTS.
    common.add_probe_options(p, defaults={"ports": (25,)})
    p.set_defaults(run=run)


def thresholds_from_args(args: argparse.Namespace) -> Any:
    """Build validated :class:`~smtpdiag.health.Thresholds`; raises ConfigError."""
    from ..health.thresholds import Limit, Thresholds
    from ..model import StsMode

    limits = {
        field: Limit(getattr(args, f"warn_{field}"), getattr(args, f"crit_{field}"))
        for _, field, _ in _PHASE_FLAGS
    }
    return Thresholds(
        connect=limits["connect"],
        tls_handshake=limits["tls_handshake"],
        greeting=limits["greeting"],
        ehlo=limits["ehlo"],
        starttls=limits["starttls"],
        cert_warn_days=args.cert_warn_days,
        cert_crit_days=args.cert_crit_days,
        require_starttls=args.require_starttls,
        require_implicit_tls=args.require_tls465,
        min_tls_version=None if args.min_tls == "any" else args.min_tls,
        require_valid_cert=args.require_valid_cert,
        require_all_mx=args.require_all_mx,
        require_mta_sts=StsMode(args.require_mta_sts) if args.require_mta_sts else None,
        require_dane=args.require_dane,
    )


def exit_code(status: Any, plugin: bool) -> int:
    """The exit code of a health status (plugin mode or smtpdiag's usual codes)."""
    from ..health.evaluation import HealthStatus

    if plugin:
        from ..report.nagios import plugin_exit_code

        return plugin_exit_code(status)
    return {
        HealthStatus.OK: common.EXIT_HEALTHY,
        HealthStatus.WARNING: common.EXIT_DEGRADED,
        HealthStatus.CRITICAL: common.EXIT_FAILED,
        HealthStatus.UNKNOWN: common.EXIT_COULD_NOT_RUN,
    }[status]


def render(
    result: Any,
    fmt: str,
    perfdata: str = "routes",
    width: int | None = None,
    color: bool = False,
) -> str:
    """Render a HealthResult in ``fmt`` (one of :data:`FORMATS`)."""
    if fmt == "json":
        from ..report.health_json import dumps_health

        return dumps_health(result) + "\n"
    if fmt == "nagios":
        from ..report.nagios import PerfdataDetail, render_nagios

        return render_nagios(result, PerfdataDetail(perfdata))
    if fmt == "junit":
        from ..report.junit import render_junit

        return render_junit(result)
    if fmt == "markdown":
        from ..report.markdown import render_markdown

        return render_markdown(result)
    if fmt == "openmetrics":
        from ..report.openmetrics import render_openmetrics

        return render_openmetrics(result)
    if fmt == "html":
        from ..report.html import render_health_html

        return render_health_html(result)
    from ..report.health_text import render_health_text

    return render_health_text(result, width=width, color=color)


def write_output(text: str, path: str | None) -> None:
    """Print ``text``, or replace ``path`` with it atomically (temp file + rename)."""
    if path is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    import tempfile

    directory = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(prefix=".smtpdiag-", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError as exc:
        raise ConfigError(f"cannot write {path!r}: {exc.strerror or exc}") from None


async def _check(args: argparse.Namespace, plugin: bool, done: list[bool] | None = None) -> int:
    from .probe import want_color

    if args.width is not None and not 40 <= args.width <= 400:
        raise ConfigError("--width must be 40-400")
    thresholds = thresholds_from_args(args)
    config = common.config_from_args(args)
    from ..resolve import normalize_domain

    normalize_domain(args.domain)
    if args.format == "html":
        from ..report.html import require_jinja

        require_jinja()  # one line now, not after a probe that would be wasted
    if args.output is not None:
        common.check_output_path(args.output, "--output")
    from ..health.checking import check

    result = await check(args.domain, config, thresholds)
    text = render(
        result,
        "nagios" if plugin else args.format,
        perfdata=args.perfdata,
        width=args.width,
        color=want_color(args),
    )
    if done is not None:
        done.append(True)  # from here on a signal no longer replaces the output
    write_output(text, args.output)
    return exit_code(result.status, plugin)


def run(args: argparse.Namespace) -> Coroutine[Any, Any, int]:
    """Run ``check``; returns the exit code."""
    plugin = bool(args.plugin or args.format == "nagios")
    return _plugin(args) if plugin else _check(args, plugin)


async def _plugin(args: argparse.Namespace) -> int:
    """Plugin mode: whatever happens, exactly one status line and an exit code 0-3."""
    import asyncio
    import signal

    from ..report.nagios import render_plugin_error

    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    received: list[str] = []
    done: list[bool] = []

    def on_signal(sig: signal.Signals) -> None:
        # The first signal cancels the check; the status line is printed below. Once
        # the result is being written, the signal is ignored: one line, not two.
        if not received and not done and task is not None:
            received.append(sig.name)
            task.cancel()

    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, on_signal, sig)
            installed.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread
            pass
    try:
        return await _check(args, True, done)
    except asyncio.CancelledError:
        if not received:
            raise
        message = f"interrupted by {received[0]} before the check finished"
    except ConfigError as exc:
        message = f"usage error: {exc}"
    except Exception as exc:  # plugin mode: anything unexpected is UNKNOWN, never a crash
        message = f"internal error: {type(exc).__name__}: {exc}"
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
    sys.stdout.write(render_plugin_error(message))
    sys.stdout.flush()
    return 3


def interrupted_before_run() -> int:
    """Plugin mode, interrupted before the check started: the status line, exit 3."""
    from ..report.nagios import render_plugin_error

    sys.stdout.write(render_plugin_error("interrupted before the check started"))
    sys.stdout.flush()
    return 3
