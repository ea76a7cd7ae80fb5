"""One answer per lab domain, whichever front end asks: `probe`, `check` and `bulk`.

Every scenario of the lab (real Postfix, NSD, unbound and kernel faults; see
``labctl.SCENARIOS``) runs through the three commands as subprocesses with the same probe
options (the same ports too: `check` probes port 25 alone by default). They must agree on
the verdict and the primary code, `check` must carry the same action kind and a level no
lower than its verdict's, and `bulk`'s decision must be the one its policy derives from
that action. The DANE scenarios ask the lab's validating resolver, the others NSD.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from . import labctl
from .test_scenarios import GUARD_DIR, GUARD_EXIT, REPO

pytestmark = pytest.mark.lab

Doc = dict[str, Any]

#: check's least level for each verdict (the README's policy table).
LEAST_LEVEL = {"healthy": "ok", "degraded": "warning", "failed": "critical"}
LEVELS = ["ok", "warning", "critical", "unknown"]
#: bulk's decision for a failed domain, by the diagnosis's action kind; any other verdict
#: keeps its recipients.
BULK_DECISION = {"retry": "retry", "suppress": "suppress", "fix": "fix", "none": "keep"}


def _validating(domain: str) -> bool:
    return domain.endswith(".dane.test") or domain in {"unsigned.test", "bogus.test"}


def _options(lab: labctl.LabInfo, nameserver: str) -> list[str]:
    return [
        "--nameserver",
        nameserver,
        "--ca-file",
        lab.ca_file,
        "--allow-targets",
        str(labctl.NET4),
        "--allow-targets",
        str(labctl.NET6),
        "--ports",
        "25,587,465",
        "--timeout",
        "10",
        "--dns-timeout",
        "2",
        "--connect-timeout",
        "1",
        "--greeting-timeout",
        "2",
        "--command-timeout",
        "2",
        "--tls-timeout",
        "2",
    ]


def _run(args: list[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(GUARD_DIR), str(REPO), env.get("PYTHONPATH", "")) if p
    )
    proc = subprocess.run(
        [sys.executable, "-m", "smtpdiag", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=REPO,
        check=False,
    )
    assert proc.returncode != GUARD_EXIT, proc.stderr
    return proc


def _probe_and_check(lab: labctl.LabInfo, domain: str) -> tuple[Doc, Doc]:
    ns = lab.resolver if _validating(domain) else lab.nameserver
    opts = _options(lab, ns)
    probe = _run(["probe", domain, "--json", *opts])
    check = _run(["check", domain, "--format", "json", *opts])
    assert probe.stdout.strip(), (domain, probe.stderr)
    assert check.stdout.strip(), (domain, check.stderr)
    return json.loads(probe.stdout), json.loads(check.stdout)


def _bulk(lab: labctl.LabInfo, domains: list[str], nameserver: str) -> dict[str, Doc]:
    proc = _run(["bulk", "-", "--no-progress", *_options(lab, nameserver)], "\n".join(domains))
    assert proc.returncode in (0, 5), proc.stderr
    records = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    return {r["domain"]: r for r in records if r.get("type") == "domain"}


def test_probe_check_and_bulk_give_one_answer_for_every_lab_domain(
    lab: labctl.LabInfo,
) -> None:
    domains = list(labctl.SCENARIOS)
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = dict(
            zip(domains, pool.map(lambda d: _probe_and_check(lab, d), domains), strict=True)
        )
    in_bulk = _bulk(lab, [d for d in domains if not _validating(d)], lab.nameserver)
    in_bulk |= _bulk(lab, [d for d in domains if _validating(d)], lab.resolver)
    differ: list[str] = []
    for domain, (probe, check) in answers.items():
        d = probe["diagnosis"]
        verdict, primary, action = d["verdict"], d["primary"], d["action"]["kind"]
        health = check["health"]
        if (health["verdict"], health["primary"]) != (verdict, primary):
            differ.append(
                f"{domain}: probe {verdict} {primary}, check {health['verdict']} "
                f"{health['primary']}"
            )
        checked = check["report"]["diagnosis"]["action"]["kind"] if check["report"] else None
        if checked != action:
            differ.append(f"{domain}: probe action {action}, check {checked}")
        least = LEAST_LEVEL.get(verdict)
        if least and LEVELS.index(health["status"]) < LEVELS.index(least):
            differ.append(f"{domain}: {verdict} but check says {health['status']}")
        record = in_bulk.get(domain)
        if record is None:
            differ.append(f"{domain}: no bulk record")
            continue
        if (record["verdict"], record["primary"]) != (verdict, primary):
            differ.append(
                f"{domain}: probe {verdict} {primary}, bulk {record['verdict']} {record['primary']}"
            )
        want = BULK_DECISION[action] if verdict in ("failed", "no-mail") else "keep"
        if record["decision"] != want:
            differ.append(f"{domain}: action {action}, bulk decision {record['decision']}")
    assert not differ, "\n".join(differ)
