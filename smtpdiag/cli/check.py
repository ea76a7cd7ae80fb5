"""``smtpdiag check DOMAIN``: a health check with thresholds, for monitoring and CI.

Formats: ``text`` (default), ``json`` (health + thresholds + the full report), ``nagios``
(monitoring-plugin output), ``junit``, ``markdown``, ``openmetrics``. ``--plugin`` is
``--format nagios``.

Exit codes:

* monitoring-plugin mode (``--plugin`` / ``--format nagios``): 0 OK, 1 WARNING,
  2 CRITICAL, 3 UNKNOWN. A usage or configuration error is UNKNOWN too (one
  ``SMTPDIAG UNKNOWN - ...`` line on stdout, exit 3), as the monitoring-plugins
  guidelines ask, so that a typo in a command definition shows up as UNKNOWN instead
  of being read as CRITICAL. Any unexpected internal error is also reported as UNKNOWN.
* every other format: smtpdiag's usual codes (``smtpdiag --help``), mapped from the
  health status: ok 0, warning 1 (like "degraded"), critical 3 (like "failed"),
  unknown 5 ("could not run"); a usage error is 2.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Sequence
from typing import Any, NoReturn

from ..errors import ConfigError
from . import common

__all__ = ["FORMATS", "exit_code", "register", "run"]

#: Output formats of ``check``.
FORMATS = ("text", "json", "nagios", "junit", "markdown", "openmetrics")

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


def _plugin_requested(args: Sequence[str]) -> bool:
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
        if _plugin_requested(self._argv):
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
        help="health check with thresholds (monitoring plugin, JUnit, Markdown, OpenMetrics)",
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
    common.add_probe_options(p)
    # A health check probes port 25 by default (MTA-to-MTA delivery); see DEFAULT_CHECK_PORTS.
    for action in p._actions:
        if action.dest == "ports":
            action.default = "25"
            action.help = "ports to probe (default: 25)"
    p.set_defaults(run=run)


def thresholds_from_args(args: argparse.Namespace) -> Any:
    """Build validated :class:`~smtpdiag.health.Thresholds`; raises ConfigError."""
    from ..health.thresholds import Limit, Thresholds

    limits = {
        field: Limit(getattr(args, f"warn_{field}"), getattr(args, f"crit_{field}"))
        for _, field, _ in _PHASE_FLAGS
    }
    return Thresholds(
        **limits,
        cert_warn_days=args.cert_warn_days,
        cert_crit_days=args.cert_crit_days,
        require_starttls=args.require_starttls,
        require_implicit_tls=args.require_tls465,
        min_tls_version=None if args.min_tls == "any" else args.min_tls,
        require_valid_cert=args.require_valid_cert,
        require_all_mx=args.require_all_mx,
    )


def exit_code(status: Any, plugin: bool) -> int:
    """The exit code of a health status (plugin mode or smtpdiag's usual codes)."""
    from ..health.evaluate import HealthStatus

    if plugin:
        from ..report.nagios import plugin_exit_code

        return plugin_exit_code(status)
    return {
        HealthStatus.OK: common.EXIT_HEALTHY,
        HealthStatus.WARNING: common.EXIT_DEGRADED,
        HealthStatus.CRITICAL: common.EXIT_FAILED,
        HealthStatus.UNKNOWN: common.EXIT_COULD_NOT_RUN,
    }[status]


def render(result: Any, fmt: str) -> str:
    """Render a HealthResult in ``fmt`` (one of :data:`FORMATS`)."""
    if fmt == "json":
        from ..report.health_json import dumps_health

        return dumps_health(result) + "\n"
    if fmt == "nagios":
        from ..report.nagios import render_nagios

        return render_nagios(result)
    if fmt == "junit":
        from ..report.junit import render_junit

        return render_junit(result)
    if fmt == "markdown":
        from ..report.markdown import render_markdown

        return render_markdown(result)
    if fmt == "openmetrics":
        from ..report.openmetrics import render_openmetrics

        return render_openmetrics(result)
    from ..report.health_text import render_health_text

    return render_health_text(result)


def write_output(text: str, path: str | None) -> None:
    """Print ``text``, or replace ``path`` with it atomically (temp file + rename)."""
    if path is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
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


async def _check(args: argparse.Namespace, plugin: bool) -> int:
    thresholds = thresholds_from_args(args)
    config = common.config_from_args(args)
    from ..resolve import normalize_domain

    normalize_domain(args.domain)
    from ..health.check import check

    result = await check(args.domain, config, thresholds)
    write_output(render(result, "nagios" if plugin else args.format), args.output)
    return exit_code(result.status, plugin)


async def run(args: argparse.Namespace) -> int:
    """Run ``check``; returns the exit code."""
    plugin = bool(args.plugin or args.format == "nagios")
    if not plugin:
        return await _check(args, plugin)
    from ..report.nagios import render_plugin_error

    try:
        return await _check(args, plugin)
    except ConfigError as exc:
        sys.stdout.write(render_plugin_error(f"usage error: {exc}"))
    except Exception as exc:  # plugin mode: anything unexpected is UNKNOWN, never a crash
        sys.stdout.write(render_plugin_error(f"internal error: {type(exc).__name__}: {exc}"))
    return 3
