"""``smtpdiag watch DOMAIN``: probe repeatedly, show changes, summarize.

Bounded: ``--count N`` rounds and/or ``--duration SECONDS`` (no round starts after it);
with neither, 10 rounds. ``--interval`` is the time from one round's start to the next's.
Each round's diagnosis gets the earlier rounds as history, so it can tell a failure that
persists from a transient one.

Output: one line per round (plus a line per transition), then a summary: per-route
success rate and p50/p90/max latency per phase, the transitions, the verdict counts.
``--json`` prints JSON lines instead: ``{"type": "round", ...}`` per round (with the
full report) and a final ``{"type": "summary", ...}``.

Ctrl-C (SIGINT) or SIGTERM stops the watch: a round in progress is dropped, the summary
so far is printed, and the exit code is the last completed round's (smtpdiag's usual
codes: 0 healthy, 1 degraded, 3 failed, 4 no-mail, 5 could not run); 130 if no round
completed.
"""

from __future__ import annotations

import argparse
import sys

from . import common

# typing is not imported at run time on the start-up path (it costs milliseconds);
# mypy treats a module-level TYPE_CHECKING constant like typing.TYPE_CHECKING.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["DEFAULT_COUNT", "HELP", "register", "run"]

#: One line for ``smtpdiag --help``.
HELP = "probe repeatedly: success rates, latency percentiles, routes going down/up"

#: Rounds when neither --count nor --duration is given.
DEFAULT_COUNT = 10


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0: {text!r}")
    return value


def _count(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"count must be a positive integer: {text!r}")
    return int(text)


def register(subparsers: Any) -> None:
    """Add the ``watch`` subcommand."""
    p = subparsers.add_parser(
        "watch",
        help=HELP,
        description="Probe DOMAIN every --interval seconds, bounded by --count and/or "
        "--duration (default: 10 rounds). Reports each round, every transition (route down "
        "or back up, MX set changed), and a summary. Ctrl-C prints the summary so far.",
        epilog=common.EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("domain", metavar="DOMAIN", help="mail domain (the part after @)")
    p.add_argument(
        "--interval",
        type=_positive_float,
        default=60.0,
        metavar="SECONDS",
        help="seconds from one round's start to the next (default: 60)",
    )
    p.add_argument("--count", type=_count, metavar="N", help="number of rounds")
    p.add_argument(
        "--duration",
        type=_positive_float,
        metavar="SECONDS",
        help="start no round after this many seconds",
    )
    p.add_argument("--json", action="store_true", help="JSON lines: one per round, then a summary")
    p.add_argument("--width", type=int, default=None, help="wrap text lines at this width, 40-400")
    p.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        help="colour the health status in the text output (default: auto: off when not a "
        "terminal, NO_COLOR or TERM=dumb)",
    )
    common.add_probe_options(p)
    p.set_defaults(run=run)


def _ms(ms: float) -> str:
    return f"{ms:.1f} ms" if ms < 1000 else f"{ms / 1000:.2f} s"


def _round_line(rnd: Any) -> list[str]:
    from ..textsafe import clean

    report, health = rnd.report, rnd.health
    diag = report.diagnosis
    verdict = diag.verdict.value if diag else "not diagnosed"
    if diag and diag.primary:
        verdict += f" ({diag.primary}, {diag.persistence.value})"
    up = sum(rr.ok for rr in report.routes)
    line = (
        f"round {rnd.number} {report.started_at}: {verdict}; {up}/{len(report.routes)} routes up; "
        f"health {health.status.value}; {_ms(report.duration_ms)}"
    )
    lines = [clean(line, 400)]
    lines += [f"  ! {clean(t.detail, 400)}" for t in rnd.transitions]
    return lines


def _summary_text(summary: Any) -> str:
    from ..narrate.units import plural
    from ..textsafe import clean

    head = f"watch {summary.domain}: {plural(summary.rounds, 'round')}"
    if summary.interrupted:
        head += " (interrupted)"
    lines = [head]
    if summary.verdicts:
        lines.append("verdicts: " + ", ".join(f"{v.value} {n}" for v, n in summary.verdicts))
    if summary.routes:
        lines.append("routes:")
        for r in summary.routes:
            lines.append(
                f"  {clean(r.label, 300)}: up {r.up}/{r.rounds} ({r.success_rate:.0%})"
                + ("" if r.last_up else ", down in its last round")
            )
            for ph in r.phases:
                if ph.phase.value == "quit":
                    continue
                lines.append(
                    f"    {ph.phase.value:<13} p50 {_ms(ph.p50_ms):>9}  p90 {_ms(ph.p90_ms):>9}"
                    f"  max {_ms(ph.max_ms):>9}  (n={ph.samples})"
                )
    if summary.transitions:
        lines.append("transitions:")
        lines += [f"  round {t.round} {t.at}: {clean(t.detail, 400)}" for t in summary.transitions]
    last = summary.last
    if last is not None and last.report.diagnosis is not None:
        d = last.report.diagnosis
        primary = f" ({d.primary})" if d.primary else ""
        lines.append(f"last verdict: {d.verdict.value}{primary}, persistence {d.persistence.value}")
    return "\n".join(lines) + "\n"


def _round_json(rnd: Any) -> dict[str, Any]:
    from ..report.jsonout import report_to_dict, to_jsonable

    return {
        "type": "round",
        "round": rnd.number,
        "status": rnd.health.status.value,
        "transitions": to_jsonable(rnd.transitions),
        "health": rnd.health.to_dict(),
        "report": report_to_dict(rnd.report),
    }


def _summary_json(summary: Any) -> dict[str, Any]:
    from ..report.jsonout import to_jsonable

    last = summary.last
    diag = last.report.diagnosis if last is not None else None
    return {
        "type": "summary",
        "domain": summary.domain,
        "rounds": summary.rounds,
        "interrupted": summary.interrupted,
        "verdicts": {v.value: n for v, n in summary.verdicts},
        "last_verdict": diag.verdict.value if diag else None,
        "last_primary": diag.primary if diag else None,
        "last_persistence": diag.persistence.value if diag else None,
        "last_status": last.health.status.value if last is not None else None,
        "routes": to_jsonable(summary.routes),
        "transitions": to_jsonable(summary.transitions),
    }


def _emit(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


_ANSI = {"ok": "\x1b[32m", "warning": "\x1b[33m", "critical": "\x1b[31m", "unknown": "\x1b[35m"}


def _layout(lines: list[str], width: int | None, color: bool) -> str:
    """Wrap lines at ``width`` (words never cut) and colour the health status words."""
    import textwrap

    out: list[str] = []
    for line in lines:
        if width is None:
            out.append(line)
            continue
        indent = " " * (len(line) - len(line.lstrip(" ")))
        out += textwrap.wrap(
            line,
            width=width,
            subsequent_indent=indent + "  ",
            break_long_words=False,
            break_on_hyphens=False,
        ) or [line]
    text = "\n".join(out) + "\n"
    if color:
        for word, code in _ANSI.items():
            text = text.replace(f"health {word}", f"health {code}{word}\x1b[0m")
    return text


async def run(args: argparse.Namespace) -> int:
    """Run ``watch``; returns the last round's exit code."""
    import asyncio
    import contextlib
    import json
    import signal

    from .probe import want_color

    if args.width is not None and not 40 <= args.width <= 400:
        common.error("--width must be 40-400")
        return common.EXIT_USAGE
    color = want_color(args)
    config = common.config_from_args(args)
    count = args.count
    if count is None and args.duration is None:
        count = DEFAULT_COUNT
    from ..resolve import normalize_domain

    domain = normalize_domain(args.domain)
    from ..api import could_not_run
    from ..errors import ProbeError
    from ..watch import Watcher, watch

    watcher = Watcher(domain)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
    failed: str | None = None
    try:
        async for rnd in watch(
            domain,
            config,
            interval=args.interval,
            count=count,
            duration=args.duration,
            watcher=watcher,
            stop=stop,
        ):
            if args.json:
                _emit(json.dumps(_round_json(rnd), ensure_ascii=False) + "\n")
            else:
                _emit(_layout(_round_line(rnd), args.width, color))
    except ProbeError as exc:
        failed = str(exc)
    except (KeyboardInterrupt, asyncio.CancelledError):
        stop.set()  # no signal handler could be installed: still print the summary
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
    summary = watcher.summary(interrupted=stop.is_set() or failed is not None)
    if args.json:
        _emit(json.dumps(_summary_json(summary), ensure_ascii=False) + "\n")
    else:
        _emit(_layout(_summary_text(summary).splitlines(), args.width, color=False))
    if failed is not None:
        common.error(failed)
    last = summary.last
    if last is None:
        return 130 if stop.is_set() else common.EXIT_COULD_NOT_RUN
    verdict = last.report.diagnosis.verdict if last.report.diagnosis else None
    return common.exit_code_for_verdict(verdict, could_not_run(last.report))
