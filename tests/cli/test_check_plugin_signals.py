"""``check --plugin`` interrupted by SIGINT or SIGTERM: one status line, exit 3.

A monitoring system that stops a plugin (its own timeout, a reload, Ctrl-C by hand)
must still get exactly one ``SMTPDIAG UNKNOWN - ...`` line and an exit code 0-3; a
bare exit 130 with nothing on stdout reads as a broken plugin. Real subprocess, real
signal, against a scripted server that accepts and never greets; every wait bounded.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from smtpdiag.testing.dnsserver import ThreadedDnsServer
from smtpdiag.testing.smtpserver import Behaviour, ServerSet, ServerSpec


@pytest.fixture(scope="module")
def stall() -> Iterator[tuple[ServerSet, ThreadedDnsServer]]:
    specs = [ServerSpec("silent", Behaviour.SILENT, host="127.0.0.1", hostname="mx.stall.test")]
    zones = {"stall.test": {"@": ["MX 10 mx"], "mx": ["A 127.0.0.1"]}}
    with ServerSet(specs) as servers, ThreadedDnsServer(zones=zones) as dns:
        yield servers, dns


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_during_check_prints_one_unknown_line(
    stall: tuple[ServerSet, ThreadedDnsServer], sig: signal.Signals
) -> None:
    servers, dns = stall
    server = servers.server("silent")
    before = len(server.sessions) + server.active
    argv = [
        sys.executable,
        "-m",
        "smtpdiag",
        "check",
        "stall.test",
        "--plugin",
        "--nameserver",
        f"{dns.address}:{dns.port}",
        "--ports",
        str(servers.port("silent")),
        "-4",
        "--allow-targets",
        "127.0.0.0/8",
        "--greeting-timeout",
        "60",
        "--timeout",
        "90",
    ]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # Wait (bounded) until the probe is connected and waiting for the greeting.
        deadline = time.monotonic() + 30
        while len(server.sessions) + server.active <= before and time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate(timeout=30)
            time.sleep(0.05)
        assert len(server.sessions) + server.active > before, "the probe never connected"
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 3, (proc.returncode, out, err)
    lines = out.splitlines()
    assert len(lines) == 1, out
    assert lines[0].startswith(f"SMTPDIAG UNKNOWN - interrupted by {sig.name}"), lines[0]
    assert "Traceback" not in err
