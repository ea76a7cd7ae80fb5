"""Probe options from flags, SMTPDIAG_* variables and a TOML config file.

One precedence (flag, environment, file, default), bad files and values as one line
and exit 2, the profile ``demo --serve`` writes, and ``bulk`` taking every probe
option ``probe`` takes. Real ``smtpdiag`` subprocesses against the demo's servers
(DNS, SMTP with TLS, the MTA-STS host) on loopback; every wait is bounded.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from smtpdiag.cli.options import profile_text
from smtpdiag.demo import DEMO_DOMAINS, DemoLab, demo_lab

PROBE_COMMANDS = ("probe", "check", "watch", "explain", "bulk", "tlsrpt")


@pytest.fixture(scope="module")
def lab() -> Iterator[DemoLab]:
    with demo_lab() as running:  # random ports: other test runs may share loopback
        yield running


def _env(tmp: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMTPDIAG_")}
    env.update(XDG_CONFIG_HOME=str(tmp / "xdg"), NO_COLOR="1", **extra)
    env.pop("PYTHONWARNINGS", None)
    return env


def _run(tmp: Path, *argv: str, env: dict[str, str] | None = None, stdin: str = "") -> Any:
    return subprocess.run(
        [sys.executable, "-m", "smtpdiag", *argv],
        capture_output=True,
        text=True,
        timeout=90,
        input=stdin,
        env=_env(tmp) if env is None else env,
    )


def _write(path: Path, values: dict[str, object]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(profile_text(values), encoding="utf-8")
    return path


def _probed_ports(stdout: str) -> set[int]:
    report = json.loads(stdout)
    return {int(route["label"].rsplit(":", 1)[1]) for route in report["routes"]}


# ----------------------------------------------------------------------------- precedence


def test_flag_beats_environment_beats_file_beats_default(lab: DemoLab, tmp_path: Path) -> None:
    p25, p587, p465 = lab.ports
    profile = lab.profile()
    # The file: every demo setting but the ports, and a nameserver nobody answers on
    # (the environment's must win).
    file_values = {k: v for k, v in profile.items() if k not in ("ports", "nameserver")}
    file_values["nameserver"] = ["127.0.0.1:9"]
    config = _write(tmp_path / "smtpdiag.toml", file_values)
    ns = f"{lab.nameserver.address}:{lab.nameserver.port}"
    probe = ("probe", "healthy.demo.test", "--json", "--config", str(config))

    # default: no ports anywhere -> 25, 587, 465 (nothing listens there on 127.77.0.1)
    proc = _run(tmp_path, *probe, env=_env(tmp_path, SMTPDIAG_NAMESERVER=ns))
    assert proc.returncode in (1, 3), proc.stderr
    assert _probed_ports(proc.stdout) == {25, 587, 465}

    # file beats default
    _write(config, {**file_values, "ports": [p25]})
    proc = _run(tmp_path, *probe, env=_env(tmp_path, SMTPDIAG_NAMESERVER=ns))
    assert proc.returncode == 0, proc.stderr
    assert _probed_ports(proc.stdout) == {p25}

    # environment beats file (and the environment's nameserver beat the file's above)
    env = _env(tmp_path, SMTPDIAG_NAMESERVER=ns, SMTPDIAG_PORTS=f"{p587},{p465}")
    proc = _run(tmp_path, *probe, env=env)
    assert proc.returncode == 0, proc.stderr
    assert _probed_ports(proc.stdout) == {p587, p465}

    # flag beats environment
    proc = _run(tmp_path, *probe, "--ports", str(p465), env=env)
    assert proc.returncode == 0, proc.stderr
    assert _probed_ports(proc.stdout) == {p465}


def test_the_xdg_file_is_read_and_no_config_skips_it(lab: DemoLab, tmp_path: Path) -> None:
    xdg = tmp_path / "xdg" / "smtpdiag" / "config.toml"
    # First the file's own error (a loopback nameserver by flag: nothing leaves the host
    # whatever the code under test does with the file).
    xdg.parent.mkdir(parents=True)
    xdg.write_text("colour = 1\n", encoding="utf-8")
    proc = _run(tmp_path, "probe", "badcert.demo.test", "--nameserver", "127.0.0.1:9")
    _one_line_usage_error(proc, str(xdg), "unknown key 'colour'")
    _write(xdg, lab.profile())
    proc = _run(tmp_path, "probe", "badcert.demo.test", "--json")
    assert proc.returncode == 1, proc.stderr  # degraded: the expired certificate
    assert _probed_ports(proc.stdout) == set(lab.ports)
    # --no-config: the file is not read, the system resolver is never asked because
    # the environment names a nameserver (that does not answer: could not run, 5).
    env = _env(tmp_path, SMTPDIAG_NAMESERVER="127.0.0.1:9", SMTPDIAG_TIMEOUT="1")
    proc = _run(tmp_path, "probe", "badcert.demo.test", "--json", "--no-config", env=env)
    assert proc.returncode == 5, proc.stderr


def test_profile_gives_the_demo_config(lab: DemoLab, tmp_path: Path) -> None:
    """The written profile, read back by the CLI, is the configuration the demo used."""
    from smtpdiag.cli import build_parser
    from smtpdiag.cli.options import config_from_args

    config = _write(tmp_path / "p.toml", lab.profile())
    args = build_parser().parse_args(["probe", "x.demo.test", "--config", str(config)])
    assert config_from_args(args, environ={}) == lab.config()


# ----------------------------------------------------------------------------- errors


def _one_line_usage_error(proc: Any, *expected: str) -> str:
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    for text in expected:
        assert text in lines[0], lines[0]
    assert proc.stdout == ""
    return str(lines[0])


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('namserver = ["127.0.0.1:5353"]\n', ("unknown key 'namserver'", "'nameserver'")),
        ("[probe]\nports = [25]\n", ("unknown key 'probe'",)),
        ('timeout = "soon"\n', ("timeout", "not a number of seconds")),
        ("ports = [25, 99999]\n", ("ports", "1-65535")),
        ('nameserver = "not-an-ip"\n', ("nameserver", "IP address")),
        ("family = 5\n", ("family", "4, 6 or any")),
        ("ports = [25\n", ("not valid TOML",)),
    ],
    ids=["typo", "table", "timeout", "port", "nameserver", "family", "syntax"],
)
@pytest.mark.parametrize("how", ["flag", "env", "xdg"])
def test_bad_config_file_is_one_line(
    tmp_path: Path, content: str, expected: tuple[str, ...], how: str
) -> None:
    path = tmp_path / "xdg" / "smtpdiag" / "config.toml"
    path.parent.mkdir(parents=True)
    path.write_text(content, encoding="utf-8")
    # A loopback nameserver by flag: the file is read (and rejected) all the same.
    argv = ["probe", "example.test", "--nameserver", "127.0.0.1:9", "--timeout", "2"]
    env = _env(tmp_path)
    if how == "flag":
        argv += ["--config", str(path)]
    elif how == "env":
        env["SMTPDIAG_CONFIG"] = str(path)
    line = _one_line_usage_error(_run(tmp_path, *argv, env=env), *expected)
    assert str(path) in line


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("SMTPDIAG_TIMEOUT", "abc", "not a number of seconds"),
        ("SMTPDIAG_DNS_TIMEOUT", "-1", "seconds must be > 0"),
        ("SMTPDIAG_NAMESERVER", "dns.example", "IP address"),
        ("SMTPDIAG_PORTS", "25,x", "port must be 1-65535"),
        ("SMTPDIAG_NO_POLICY", "maybe", "true or false"),
        ("SMTPDIAG_CA_FILE", "/nonexistent/ca.pem", "cannot read CA file"),
        ("SMTPDIAG_CONFIG", "/nonexistent/smtpdiag.toml", "does not exist"),
    ],
)
@pytest.mark.parametrize("command", ["probe", "check", "watch", "bulk", "explain"])
def test_bad_environment_value_is_one_line(
    tmp_path: Path, name: str, value: str, expected: str, command: str
) -> None:
    argv = {
        "probe": ["probe", "example.test"],
        "check": ["check", "example.test"],
        "watch": ["watch", "example.test", "--count", "1"],
        "bulk": ["bulk", "-"],
        "explain": ["explain", "451 4.4.2 <a@example.test>: Connection failure", "--probe"],
    }[command]
    # The other settings from a file that names a loopback nameserver (never the
    # system resolver, whatever the code under test does with the variable).
    if name == "SMTPDIAG_CONFIG":
        argv += ["--nameserver", "127.0.0.1:9", "--timeout", "2"]
    else:
        safe = _write(tmp_path / "safe.toml", {"nameserver": ["127.0.0.1:9"], "timeout": 2})
        argv += ["--config", str(safe)]
    proc = _run(tmp_path, *argv, env=_env(tmp_path, **{name: value}), stdin="example.test\n")
    _one_line_usage_error(proc, name, expected)


def test_config_and_no_config_together_is_a_usage_error(tmp_path: Path) -> None:
    proc = _run(tmp_path, "probe", "example.test", "--config", "x.toml", "--no-config")
    _one_line_usage_error(proc, "give either --config or --no-config, not both")


# ----------------------------------------------------------------------------- one definition


def _probe_option_strings(command: str) -> set[str]:
    from smtpdiag.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices[command]  # type: ignore[index]
    return {
        option
        for group in sub._action_groups
        if group.title in ("configuration", "probe options", "timeouts (seconds)")
        for action in group._group_actions
        for option in action.option_strings
    }


def test_every_probing_command_takes_the_same_probe_options() -> None:
    expected = _probe_option_strings("probe")
    assert {"--config", "--no-config", "--mta-sts-port", "--ca-file"} <= expected
    for command in PROBE_COMMANDS:
        assert _probe_option_strings(command) == expected, command


def test_bulk_takes_the_probe_commands_options(lab: DemoLab, tmp_path: Path) -> None:
    """What `demo` printed for probe (seven options, --mta-sts-port among them) works
    for bulk as well, with the same meaning (bulk runs the policy stage as probe does)."""
    printed = shlex.split(lab.command("x.demo.test"))
    options = printed[printed.index("x.demo.test") + 1 :]
    assert "--mta-sts-port" in options and "--ca-file" in options
    domains = "".join(f"{d.name}\n" for d in DEMO_DOMAINS)
    proc = _run(tmp_path, "bulk", "-", *options, "--no-policy", "--timeout", "20", stdin=domains)
    assert proc.returncode == 0, proc.stderr
    records = [json.loads(line) for line in proc.stdout.splitlines()]
    verdicts = {r["domain"]: r["verdict"] for r in records if r["type"] == "domain"}
    assert verdicts == {d.name: d.expect.value for d in DEMO_DOMAINS}
    help_text = " ".join(_run(tmp_path, "bulk", "--help").stdout.split())
    assert "no effect" not in help_text


# ----------------------------------------------------------------------------- demo --serve


@pytest.fixture
def serving(tmp_path: Path) -> Iterator[list[str]]:
    """``demo --serve`` running; yields its stdout lines up to the last hint."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "smtpdiag", "demo", "--serve", "120", "--color", "never"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(tmp_path, TMPDIR=str(tmp_path), COLUMNS="120"),
    )
    assert proc.stdout is not None
    stdout = proc.stdout
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(
        target=lambda: [lines.put(line) for line in iter(stdout.readline, "")], daemon=True
    ).start()
    seen: list[str] = []
    deadline = time.monotonic() + 60
    try:
        while (left := deadline - time.monotonic()) > 0:
            try:
                seen.append(lines.get(timeout=left))
            except queue.Empty:
                break
            if " bulk -" in seen[-1]:
                break
        else:
            pytest.fail("demo --serve did not get ready: " + "".join(seen))
        yield seen
    finally:
        proc.send_signal(signal.SIGTERM)  # the documented way to stop it early
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        stdout.close()
        assert proc.stderr is not None
        proc.stderr.close()


def test_demo_serve_prints_one_line_that_makes_short_commands_work(
    serving: list[str], tmp_path: Path
) -> None:
    exports = [line.strip() for line in serving if line.strip().startswith("export ")]
    assert len(exports) == 1, serving
    match = re.fullmatch(r"export SMTPDIAG_CONFIG=(\S+)", exports[0])
    assert match, exports[0]
    profile = shlex.split(match.group(1))[0]
    assert os.path.isabs(profile) and os.path.isfile(profile)
    hints = [line.strip() for line in serving if re.search(r" (probe|check) \S+\.demo\.test", line)]
    assert len(hints) == len(DEMO_DOMAINS) + 1
    assert all("--" not in hint.split(" probe ")[-1] for hint in hints if " probe " in hint)
    # The hints, as printed, with the variable the printed line sets.
    env = _env(tmp_path, SMTPDIAG_CONFIG=profile)
    expect = {d.name: d.expect for d in DEMO_DOMAINS}
    codes = {"healthy": 0, "degraded": 1, "failed": 3}
    for hint in hints:
        proc = subprocess.run(
            ["bash", "-c", hint], capture_output=True, text=True, timeout=60, env=env
        )
        domain = hint.split()[-1] if " probe " in hint else None
        if domain is not None:
            assert proc.returncode == codes[expect[domain].value], hint + proc.stderr
        else:
            assert proc.returncode == 0 and proc.stdout.startswith("SMTPDIAG OK"), proc.stdout
    # The bulk hint too, and the same profile through --config instead of the variable.
    bulk = next(line.strip() for line in serving if " bulk -" in line)
    proc = subprocess.run(
        ["bash", "-o", "pipefail", "-c", bulk], capture_output=True, text=True, timeout=90, env=env
    )
    assert proc.returncode == 0, proc.stderr
    verdicts = {
        r["domain"]: r["verdict"]
        for r in map(json.loads, proc.stdout.splitlines())
        if r["type"] == "domain"
    }
    assert verdicts == {name: verdict.value for name, verdict in expect.items()}
    proc = _run(tmp_path, "probe", "healthy.demo.test", "--config", profile)
    assert proc.returncode == 0, proc.stderr


def test_blocklist_zones_come_from_flag_environment_or_file(tmp_path: Path) -> None:
    from smtpdiag.cli import build_parser
    from smtpdiag.cli.options import config_from_args
    from smtpdiag.errors import ConfigError

    parser = build_parser()
    config = tmp_path / "config.toml"
    config.write_text('blocklist = ["File.Example."]\n', encoding="utf-8")

    def zones(argv: list[str], environ: dict[str, str]) -> tuple[str, ...]:
        args = parser.parse_args(["probe", "x.example", "--config", str(config), *argv])
        return config_from_args(args, environ=environ).blocklists

    assert zones([], {}) == ("file.example",)
    assert zones([], {"SMTPDIAG_BLOCKLIST": "a.example, b.example"}) == ("a.example", "b.example")
    assert zones(["--blocklist", "c.example", "--blocklist", "d.example."], {}) == (
        "c.example",
        "d.example",
    )
    no_file = parser.parse_args(["probe", "x.example", "--no-config"])
    assert config_from_args(no_file, environ={}).blocklists == ()  # nothing by default
    with pytest.raises(ConfigError, match="SMTPDIAG_BLOCKLIST"):
        zones([], {"SMTPDIAG_BLOCKLIST": "not a zone"})
