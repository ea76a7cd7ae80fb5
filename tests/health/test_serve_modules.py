"""``smtpdiag serve --config FILE``: named modules (``/probe?target=...&module=NAME``).

The service runs as a real subprocess; the modules come from a TOML config file, the
same file ``check --config`` reads (its top-level keys are the probe options, its
``[modules.NAME]`` tables the service's modules). The scripted SMTP servers count
their sessions, so "this module probed that port, that one connected to nothing" is
checked at the server.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from health_lab import HealthLab
from serve_process import get, serve_process
from slow_servers import slow_servers

DOMAIN = "ok.health.test"
SLOW = "slow.modules.serve.test"


def _sessions(lab: HealthLab, name: str) -> int:
    return len(lab.servers.server(name).sessions)


def _route_up(body: str) -> float:
    """The value of the (one) ``smtpdiag_route_up`` sample."""
    (line,) = [x for x in body.splitlines() if x.startswith("smtpdiag_route_up{")]
    return float(line.rsplit(" ", 1)[1])


def _config(tmp_path: Path, lab: HealthLab, text: str) -> Path:
    path = tmp_path / "serve.toml"
    path.write_text(text.replace("TLS_PORT", str(lab.tls_port)), encoding="utf-8")
    return path


MODULES = """\
# the probe options at the top level make the default module (with the flags)
[modules.strict]
require_mta_sts = "enforce"

[modules.nolocal]
allow_targets = []

[modules.smtps]
ports = [TLS_PORT]
implicit_tls_ports = [TLS_PORT]

[modules.impatient]
greeting_timeout = 0.2
"""


def test_modules_probe_with_their_own_options(lab: HealthLab, tmp_path: Path) -> None:
    config = _config(tmp_path, lab, MODULES)
    args = [*lab.cli_args(), "--no-state", "--config", str(config)]
    with serve_process(args) as srv:
        base = f"{srv.base}/probe?target={DOMAIN}"
        default = get(base).body
        assert f'smtpdiag_health{{domain="{DOMAIN}",state="ok"}} 1' in default
        assert get(f"{base}&module=default").body.count('state="ok"} 1') >= 1

        # required policies: no MTA-STS policy is published, so "strict" is critical
        strict = get(f"{base}&module=strict").body
        assert f'smtpdiag_health{{domain="{DOMAIN}",state="critical"}} 1' in strict

        # address policy: without --allow-targets nothing on loopback is connected to
        before = _sessions(lab, "mx1.ok.health.test:25")
        nolocal = get(f"{base}&module=nolocal").body
        assert f'smtpdiag_health{{domain="{DOMAIN}",state="ok"}} 0' in nolocal
        assert _sessions(lab, "mx1.ok.health.test:25") == before

        # ports: the implicit-TLS port only
        before_465 = _sessions(lab, "mx1.ok.health.test:465")
        smtps = get(f"{base}&module=smtps").body
        assert f'smtpdiag_health{{domain="{DOMAIN}",state="ok"}} 1' in smtps
        assert _sessions(lab, "mx1.ok.health.test:465") == before_465 + 1
        assert _sessions(lab, "mx1.ok.health.test:25") == before

        # timeouts: a greeting limit the slow server (0.5 s) does not meet
        with slow_servers(lab, "127.78.1.3", [SLOW]):
            slow = f"{srv.base}/probe?target={SLOW}"
            assert _route_up(get(slow).body) == 1
            assert _route_up(get(f"{slow}&module=impatient").body) == 0

        # each module keeps its own cache and history: the default is still cached
        again = get(base).body
        assert f'smtpdiag_result_cached{{domain="{DOMAIN}"}} 1' in again
        assert f'smtpdiag_probes_total{{domain="{DOMAIN}",result="ok"}} 1' in again

        report = get(f"{srv.base}/report?target={DOMAIN}&module=strict")
        assert report.status == 200
        data = json.loads(report.body)
        assert data["health"]["status"] == "critical"
        assert data["thresholds"]["require_mta_sts"] == "enforce"
        assert data["service"]["module"] == "strict"
        default_report = json.loads(get(f"{srv.base}/report?target={DOMAIN}").body)
        assert default_report["thresholds"]["require_mta_sts"] is None

        unknown = get(f"{base}&module=nosuch")
        assert unknown.status == 400
        assert unknown.body.count("\n") == 1
        assert "unknown module 'nosuch'" in unknown.body
        assert "default, impatient, nolocal, smtps, strict" in unknown.body
        assert get(f"{srv.base}/report?target={DOMAIN}&module=nosuch").status == 400
        own = get(f"{srv.base}/metrics").body
        assert "smtpdiag_exporter_probes_total 6" in own


BAD = [
    ("[modules.x]\nports = [0]\n", "modules.x: ports"),
    ("[modules.x]\nportz = [25]\n", "unknown key 'portz' (did you mean 'ports'?)"),
    ('[modules.x]\nrequire_mta_sts = "always"\n', "require_mta_sts"),
    ("[modules.default]\nports = [25]\n", "'default' is the module"),
    ('[modules."a b"]\nports = [25]\n', "bad module name"),
    ("modules = 3\n", "must be a table of modules"),
    ('[modules.x]\nca_file = "/nonexistent.pem"\n', "modules.x: ca_file"),
    # a requirement the module cannot judge: MTA-STS with the policy lookups off
    ('[modules.x]\nno_policy = true\nrequire_mta_sts = "testing"\n', "module 'x'"),
]


def test_a_bad_module_is_one_line_and_exit_2(lab: HealthLab, tmp_path: Path) -> None:
    for text, expected in BAD:
        config = _config(tmp_path, lab, text)
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "smtpdiag",
                "serve",
                "--listen",
                "127.0.0.1:0",
                *lab.cli_args(),
                "--no-state",
                "--config",
                str(config),
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert proc.returncode == 2, (text, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
        assert expected in lines[0], (expected, lines[0])


def test_check_reads_the_same_file_and_ignores_its_modules(lab: HealthLab, tmp_path: Path) -> None:
    config = _config(tmp_path, lab, "greeting_timeout = 2\n" + MODULES)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "smtpdiag",
            "check",
            DOMAIN,
            "--format",
            "json",
            *lab.cli_args(),
            "--config",
            str(config),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["health"]["status"] == "ok"
