"""``smtpdiag demo``: run the pipeline against built-in local servers, offline.

The output ends with a one-line-per-domain summary (the answer a newcomer is looking
for, on the last screen); ``--full`` prints each domain's full report before it.
``--serve`` keeps the servers up; Ctrl-C or SIGTERM stops them cleanly (exit as if
the time had run out) and the throwaway CA and keys are removed either way.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shlex
import signal
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from . import common
from .options import CONFIG_ENV, profile_text
from .probe import want_color

if TYPE_CHECKING:
    from ..demo import DemoLab

__all__ = ["register"]

# 128 + signal number: the shell's convention for "ended by this signal".
_EXIT_SIGNAL = {signal.SIGINT: 130, signal.SIGTERM: 143}


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "demo",
        help="probe built-in local demo domains (no internet needed)",
        description="Start a local DNS server and scripted SMTP servers with real TLS on "
        "127.77.0.x, probe four demo domains (healthy, dead primary MX, 421 greeting, bad "
        "certificate) and end with a one-line summary per domain (verdict, code, why, "
        "action). Exit 0 when every demo domain got the verdict it should.",
    )
    p.add_argument("--json", action="store_true", help="print the reports as JSON lines")
    p.add_argument(
        "--full",
        action="store_true",
        help="print each domain's full report (evidence, causes, steps) before the summary",
    )
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


@contextlib.contextmanager
def _signals_set(stop: asyncio.Event, received: list[signal.Signals]) -> Iterator[None]:
    """SIGINT and SIGTERM set ``stop`` instead of killing the process, so the servers
    stop and the temporary PKI is removed on every way out."""
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []

    def on_signal(sig: signal.Signals) -> None:
        received.append(sig)
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, on_signal, sig)
        except (NotImplementedError, RuntimeError, ValueError):
            continue  # not the main thread, or no signal support: default handling
        installed.append(sig)
    try:
        yield
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


async def run(args: argparse.Namespace) -> int:
    if args.serve is not None and not 0 < args.serve <= 3600:
        common.error("--serve takes 1-3600 seconds")
        return common.EXIT_USAGE
    if args.width is not None and not 40 <= args.width <= 400:
        common.error("--width must be 40-400")
        return common.EXIT_USAGE
    stop = asyncio.Event()
    received: list[signal.Signals] = []
    serving = asyncio.Event()
    with _signals_set(stop, received):
        body = asyncio.create_task(_demo(args, stop, serving))
        stopper = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait({body, stopper}, return_when=asyncio.FIRST_COMPLETED)
            if body.done() or serving.is_set():
                # Done, or stopped while serving: the documented way to end --serve.
                return await body
            # Stopped while probing: end the probes; leaving demo_lab cleans up.
            body.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await body
            common.error("interrupted")
            return _EXIT_SIGNAL.get(received[0], 130) if received else 130
        finally:
            stopper.cancel()


def _write_profile(lab: DemoLab) -> str:
    """Write the demo's profile next to its CA (removed with it) and return its path."""
    path = os.path.join(os.path.dirname(os.path.abspath(lab.ca_file)), "smtpdiag.toml")
    text = profile_text(
        lab.profile(),
        comment="smtpdiag profile for the servers of `smtpdiag demo --serve`; removed when\n"
        "they stop. Keys are the probe options' names (see `smtpdiag probe --help`).",
    )
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)
    return path


async def _demo(args: argparse.Namespace, stop: asyncio.Event, serving: asyncio.Event) -> int:
    import textwrap

    from ..api import probe
    from ..demo import DEMO_DOMAINS, demo_lab, program_name, summary_block, summary_width
    from ..report.jsonout import dumps
    from ..report.text import render_text

    mismatches: list[str] = []
    summary: list[str] = []
    color = want_color(args)
    prog = program_name()
    width = summary_width(args.width)

    def say(text: str) -> None:
        print(textwrap.fill(text, width, break_on_hyphens=False))

    with demo_lab() as lab:
        if not args.json:
            p25, p587, p465 = lab.ports
            say(
                f"smtpdiag demo: DNS on {lab.nameserver.address}:{lab.nameserver.port}; "
                f"SMTP on 127.77.0.x ports {p25} (as 25), {p587} (as 587), "
                f"{p465} (as 465, implicit TLS)"
            )
            print()
        for demo in DEMO_DOMAINS:
            report = await probe(demo.name, lab.config())
            verdict = report.diagnosis.verdict if report.diagnosis else None
            if verdict is not demo.expect:
                mismatches.append(f"{demo.name}: expected {demo.expect}, got {verdict}")
            if args.json:
                sys.stdout.write(dumps(report, indent=None) + "\n")
                continue
            if args.full:
                print(f"=== {demo.name}: {demo.story}\n")
                sys.stdout.write(render_text(report, width=args.width, color=color))
                print()
            summary.extend(summary_block(report, width))
        if not args.json:
            if not args.full:
                # Commands on their own line: copied whole, never wrapped.
                say("Each domain's full report (evidence, causes, steps):")
                print(f"  {prog} demo --full")
            if not args.serve:
                # The servers stop when the demo ends; --serve keeps them up for trying by hand.
                say("To probe these servers by hand:")
                print(f"  {prog} demo --serve 600")
            print()
            say("Summary: verdict, status code and domain; why; what to do")
            for line in summary:
                print(line)
        sys.stdout.flush()
        if args.serve:
            profile = _write_profile(lab)
            print()
            say(
                f"Servers stay up for {args.serve:g} s (Ctrl-C to stop). Their settings "
                "(nameserver, ports, CA, MTA-STS port) are in a profile; in another shell, "
                "use it with:"
            )
            print(f"  export {CONFIG_ENV}={shlex.quote(profile)}")
            say(f"(or add --config {profile} to each command). Then try:")
            for demo in DEMO_DOMAINS:
                print(f"  {prog} probe {demo.name}")
            print(f"  {prog} check healthy.demo.test --plugin")
            print(f"  printf '%s\\n' {' '.join(d.name for d in DEMO_DOMAINS)} | {prog} bulk -")
            sys.stdout.flush()
            serving.set()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(args.serve):
                    await stop.wait()
    for line in mismatches:
        common.error(f"demo self-check: {line}")
    return 1 if mismatches else 0
