"""pytest plugin edges, each in a real pytest run on a throwaway project (subprocess):

- a non-numeric ``smtpdiag_timeout`` is a usage error (exit 4, one clear line), not an
  INTERNALERROR;
- ``assert_deliverable(..., nameservers=[])`` is refused instead of quietly asking the
  system resolver, also under ``--smtpdiag-offline``, which skips the call itself.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from smtpdiag.errors import ConfigError
from smtpdiag.testing.assertions import assert_deliverable, probe_config

PROJECT_TEST = """
import pytest
from smtpdiag.errors import ConfigError
from smtpdiag.testing.assertions import assert_deliverable


def test_empty_nameservers_refused():
    with pytest.raises(ConfigError, match="nameservers is empty"):
        assert_deliverable("nowhere.test", nameservers=[])


def test_network_call():
    # Under --smtpdiag-offline this is skipped before any packet; otherwise it fails
    # quickly (nothing listens on that loopback port).
    assert_deliverable("nowhere.test", nameservers=["127.0.0.1:9"], timeout=2)


def test_fixture(smtp_check):
    smtp_check.assert_deliverable("nowhere.test", nameservers=[])
"""


# The project runs outside this suite's network guard: this conftest keeps it on
# loopback even if a regression let a check fall back to the system resolver.
PROJECT_GUARD = """
import ipaddress
import socket

def _loopback_only(address):
    host = address[0] if isinstance(address, tuple) else address
    if isinstance(host, str) and not ipaddress.ip_address(host.split("%")[0]).is_loopback:
        raise OSError(f"test project: no traffic to {host}")

for _name in ("connect", "connect_ex"):
    def _wrap(orig):
        def guarded(self, address):
            _loopback_only(address)
            return orig(self, address)
        return guarded
    setattr(socket.socket, _name, _wrap(getattr(socket.socket, _name)))

_sendto = socket.socket.sendto

def _guarded_sendto(self, data, *args):
    _loopback_only(args[-1])
    return _sendto(self, data, *args)

socket.socket.sendto = _guarded_sendto
"""


def _project(tmp_path: Path, ini: str) -> Path:
    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts = -p no:cacheprovider\n" + ini)
    (tmp_path / "conftest.py").write_text(PROJECT_GUARD)
    (tmp_path / "test_mail.py").write_text(PROJECT_TEST)
    return tmp_path


def _pytest(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "--rootdir", str(project), *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("value", ["abc", "nan", "-1", "0", "1e9", "5s"])
def test_bad_ini_timeout_is_a_usage_error(tmp_path: Path, value: str) -> None:
    proc = _pytest(_project(tmp_path, f"smtpdiag_timeout = {value}\n"))
    output = proc.stdout + proc.stderr
    assert proc.returncode == pytest.ExitCode.USAGE_ERROR, output
    assert "INTERNALERROR" not in output and "Traceback" not in output
    assert "smtpdiag_timeout (ini) must be a number of seconds" in proc.stderr
    assert repr(value) in proc.stderr


def test_bad_option_timeout_is_a_usage_error(tmp_path: Path) -> None:
    proc = _pytest(_project(tmp_path, ""), "--smtpdiag-timeout", "-3")
    assert proc.returncode == pytest.ExitCode.USAGE_ERROR
    assert "--smtpdiag-timeout must be a number of seconds" in proc.stderr
    assert "INTERNALERROR" not in proc.stdout + proc.stderr


def test_good_ini_timeout_runs(tmp_path: Path) -> None:
    proc = _pytest(_project(tmp_path, "smtpdiag_timeout = 2.5\n"), "-k", "empty")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_offline_refuses_empty_nameservers_and_skips_the_network(tmp_path: Path) -> None:
    proc = _pytest(_project(tmp_path, ""), "--smtpdiag-offline")
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    # The empty list is still refused; the network call and the fixture test skip.
    assert "1 passed, 2 skipped" in out, out
    assert "disabled by --smtpdiag-offline" in out


def test_online_fixture_refuses_empty_nameservers(tmp_path: Path) -> None:
    proc = _pytest(_project(tmp_path, ""), "-k", "fixture or empty")
    assert "1 failed, 1 passed" in proc.stdout, proc.stdout
    assert "ConfigError: nameservers is empty" in proc.stdout


def test_empty_nameservers_refused_in_process() -> None:
    with pytest.raises(ConfigError, match="nameservers is empty"):
        assert_deliverable("nowhere.test", nameservers=[])
    with pytest.raises(ConfigError, match="nameservers is empty"):
        probe_config(nameservers=())
    # None (the default) still means the system resolver, by choice.
    assert probe_config().resolver.nameservers == ()
