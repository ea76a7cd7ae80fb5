"""``smtpdiag serve`` as a real subprocess on a loopback port, and a small HTTP client.

The service prints ``smtpdiag serve: listening on HOST:PORT`` on stderr once it listens
(``--listen 127.0.0.1:0`` picks a free port); every wait here is bounded.
"""

from __future__ import annotations

import os
import re
import selectors
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

__all__ = ["Reply", "ServeProcess", "get", "serve_process"]

_LISTENING = re.compile(r"listening on (\S+):(\d+)")


@dataclass(frozen=True)
class Reply:
    status: int
    content_type: str
    body: str


def get(url: str, accept: str | None = None, timeout: float = 15.0) -> Reply:
    """GET ``url``; an HTTP error status is a reply too, not an exception."""
    request = urllib.request.Request(url)
    if accept is not None:
        request.add_header("Accept", accept)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            body = resp.read().decode("utf-8")
            return Reply(resp.status, resp.headers.get("Content-Type", ""), body)
    except urllib.error.HTTPError as exc:
        body = exc.read().decode("utf-8", "replace")
        return Reply(exc.code, exc.headers.get("Content-Type", ""), body)


@dataclass
class ServeProcess:
    proc: subprocess.Popen[str]
    port: int

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def probe(self, target: str, accept: str | None = None) -> Reply:
        return get(f"{self.base}/probe?target={target}", accept)

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 15.0) -> int:
        """Send ``sig`` and wait for the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            raise


@contextmanager
def serve_process(args: Sequence[str], timeout: float = 20.0) -> Iterator[ServeProcess]:
    """Start ``smtpdiag serve --listen 127.0.0.1:0 ARGS``; stopped (SIGKILL) after."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMTPDIAG_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "smtpdiag", "serve", "--listen", "127.0.0.1:0", *args],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        port = _wait_listening(proc, timeout)
        yield ServeProcess(proc, port)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        if proc.stderr is not None:
            proc.stderr.close()


def _wait_listening(proc: subprocess.Popen[str], timeout: float) -> int:
    assert proc.stderr is not None
    deadline = time.monotonic() + timeout
    seen = []
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stderr, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if not sel.select(max(0.0, deadline - time.monotonic())):
                break
            line = proc.stderr.readline()
            if not line:
                break
            seen.append(line)
            match = _LISTENING.search(line)
            if match:
                return int(match.group(2))
    raise AssertionError(f"smtpdiag serve did not start: {''.join(seen)[-2000:]}")
