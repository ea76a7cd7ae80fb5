"""Colour follows the terminal: ``TERM=dumb`` and ``NO_COLOR`` mean no escapes.

The command runs on a real pseudo-terminal (``--color auto`` only colours a terminal),
once with ``TERM=xterm`` to show that the check can see colour at all.
"""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time

import pytest

BOUNCE = "550 5.7.1 <a@example.test>: relaying denied"


def on_tty(argv: list[str], env: dict[str, str]) -> str:
    """Run ``smtpdiag argv`` with stdout on a pseudo-terminal; its output (bounded)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "smtpdiag", *argv],
        stdin=subprocess.DEVNULL,
        stdout=slave,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not data:
                    break
                chunks.append(data)
            elif proc.poll() is not None:
                break
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
    return b"".join(chunks).decode("utf-8", "replace")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "TERM")}
    return {**env, **extra}


@pytest.mark.parametrize(
    ("extra", "coloured"),
    [
        ({"TERM": "xterm"}, True),
        ({"TERM": "dumb"}, False),
        ({"TERM": "xterm", "NO_COLOR": "1"}, False),
    ],
    ids=["xterm", "dumb", "no-color"],
)
def test_auto_colour_follows_the_terminal(extra: dict[str, str], coloured: bool) -> None:
    out = on_tty(["explain", BOUNCE], _env(**extra))
    assert "5.7.1" in out
    assert ("\x1b[" in out) is coloured, out[:300]


def test_always_colours_even_a_dumb_terminal() -> None:
    out = on_tty(["explain", BOUNCE, "--color", "always"], _env(TERM="dumb"))
    assert "\x1b[" in out
