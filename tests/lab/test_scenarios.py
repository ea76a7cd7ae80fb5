"""End-to-end scenarios against the lab: the CLI's JSON for real Postfix, NSD and faults.

Each test runs ``python -m smtpdiag probe DOMAIN --json`` in a subprocess (with the lab's
nameserver and CA, short timeouts, and a network guard that ends the process if it tries
to reach anything outside loopback and the lab ranges), then asserts the observations
(which route, which phase, which outcome) and the diagnosis (verdict and code).

The fault behind each scenario is made for real: see ``labctl.HOSTS`` and
``fixtures/lab/``.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped,unused-ignore]
import pytest

from smtpdiag.report.jsonout import load_schema

from . import labctl

pytestmark = pytest.mark.lab

REPO = Path(__file__).resolve().parents[2]
GUARD_DIR = Path(__file__).resolve().parent / "netguard"
GUARD_EXIT = 86
SCHEMA = jsonschema.Draft202012Validator(load_schema())

EXIT = {"healthy": 0, "degraded": 1, "failed": 3, "no-mail": 4}
PORTS = (25, 587, 465)

Doc = dict[str, Any]


def probe(
    lab: labctl.LabInfo,
    domain: str,
    *extra: str,
    connect: float = 1.0,
    total: float = 8.0,
    allow: bool = True,
) -> tuple[int, Doc]:
    """Run the CLI against the lab; returns (exit code, JSON document). ``allow``:
    pass ``--allow-targets`` for the lab's networks (without it nothing is probed)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(GUARD_DIR), str(REPO), env.get("PYTHONPATH", "")) if p
    )
    env.pop("NO_COLOR", None)
    cmd = [
        sys.executable,
        "-m",
        "smtpdiag",
        "probe",
        domain,
        "--json",
        "--nameserver",
        lab.nameserver,
        "--ca-file",
        lab.ca_file,
        # The lab's networks (documentation ranges, not global): probed only when allowed.
        *(
            ["--allow-targets", str(labctl.NET4), "--allow-targets", str(labctl.NET6)]
            if allow
            else []
        ),
        "--timeout",
        str(total),
        "--dns-timeout",
        "2",
        "--connect-timeout",
        str(connect),
        "--greeting-timeout",
        "2",
        "--command-timeout",
        "2",
        "--tls-timeout",
        "2",
        *extra,
    ]
    proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=total + 20, env=env, cwd=REPO, check=False
    )
    assert proc.returncode != GUARD_EXIT, proc.stderr
    assert proc.stdout.strip(), f"no JSON on stdout (exit {proc.returncode}): {proc.stderr}"
    try:
        doc: Doc = json.loads(proc.stdout)
    except ValueError:
        pytest.fail(f"not JSON (exit {proc.returncode}): {proc.stdout[:500]!r} {proc.stderr}")
    # Every lab report matches the committed schema (issue 8: "hostile codes included").
    SCHEMA.validate(doc)
    return proc.returncode, doc


# ------------------------------------------------------------------- helpers


def routes(doc: Doc, mx: str | None = None) -> list[Doc]:
    return [r for r in doc["routes"] if mx is None or r["route"]["mx"] == mx]


def failure(route: Doc) -> Doc | None:
    """The phase that ended the route unsuccessfully (QUIT does not count)."""
    rec: Doc
    for rec in reversed(route["phases"]):
        if rec["phase"] != "quit" and rec["outcome"] != "ok":
            return rec
    return None


def phase_names(route: Doc) -> list[str]:
    return [rec["phase"] for rec in route["phases"]]


def label(route: Doc) -> str:
    r = route["route"]
    return f"{r['mx']}[{r['address']}]:{r['port']}"


def addresses(host: labctl.LabHost) -> set[str]:
    return {host.v4, host.v6}


def host(key: str) -> labctl.LabHost:
    return next(h for h in labctl.HOSTS if h.key == key)


def assert_route_set(rs: list[Doc], mx: str, addrs: set[str]) -> None:
    """Exactly one route per (address, port): dual stack on all three ports."""
    got = sorted((r["route"]["address"], r["route"]["port"]) for r in rs)
    want = sorted((a, p) for a in addrs for p in PORTS)
    assert got == want, f"routes of {mx}: {got}"
    for r in rs:
        fam = "ipv6" if ":" in r["route"]["address"] else "ipv4"
        assert r["route"]["family"] == fam, label(r)
        mode = "implicit" if r["route"]["port"] == 465 else "starttls"
        assert r["route"]["tls_mode"] == mode, label(r)


def assert_all_fail(rs: list[Doc], phase: str, outcome: str) -> list[Doc]:
    fails = []
    for r in rs:
        assert r["ok"] is False, label(r)
        f = failure(r)
        assert f is not None, label(r)
        assert (f["phase"], f["outcome"]) == (phase, outcome), f"{label(r)}: {f}"
        fails.append(f)
    return fails


def assert_healthy_session(r: Doc) -> None:
    """Connected, greeted, EHLO, TLS verified for the MX name, EHLO again."""
    assert r["ok"] is True, f"{label(r)}: {failure(r)}"
    assert failure(r) is None, label(r)
    names = phase_names(r)
    if r["route"]["port"] == 465:
        # RFC 8314 3.3: TLS from the first byte, then the greeting inside TLS.
        assert names[:4] == ["connect", "tls-handshake", "greeting", "ehlo"], names
    else:
        # RFC 3207: plain greeting and EHLO, STARTTLS, handshake, EHLO again (4.2).
        assert names[:6] == [
            "connect",
            "greeting",
            "ehlo",
            "starttls",
            "tls-handshake",
            "ehlo-tls",
        ], names
        assert r["starttls_offered"] is True, label(r)
    greeting = next(p for p in r["phases"] if p["phase"] == "greeting")
    assert greeting["reply"]["code"] == 220, label(r)
    assert "smtpdiag-lab" in (r["banner"] or ""), r["banner"]
    tls = r["tls"]
    assert tls is not None and tls["version"] in ("TLSv1.2", "TLSv1.3"), tls
    assert tls["verified"] is True and tls["hostname_match"] is True, tls
    assert tls["certificate"]["issuer"].find("smtpdiag lab CA") >= 0, tls["certificate"]


def diagnosis(doc: Doc) -> Doc:
    d: Doc | None = doc.get("diagnosis")
    assert d is not None, "the probe returned no diagnosis"
    return d


def failed_evidence(finding: Doc) -> list[Doc]:
    """The finding's evidence items that record a failure (not notes or working routes)."""
    return [e for e in finding["evidence"] if e["outcome"] not in (None, "ok")]


def assert_verdict(code: int, doc: Doc, verdict: str, primary: str | None) -> Doc:
    d = diagnosis(doc)
    assert (d["verdict"], d["primary"]) == (verdict, primary), json.dumps(d, indent=1)[:3000]
    assert code == EXIT[verdict], f"exit code {code} for verdict {verdict}"
    return d


# ----------------------------------------------------------------- scenarios


def test_lab_is_isolated(lab: labctl.LabInfo) -> None:
    """The safety properties the lab promises hold while it runs."""
    for h in labctl.HOSTS:
        for fam in ("-4", "-6"):
            out = subprocess.run(
                ["ip", "netns", "exec", h.netns, "ip", fam, "route", "show", "default"],
                capture_output=True,
                text=True,
                timeout=10,
                check=True,
            ).stdout
            assert out.strip() == "", f"{h.netns} has a default route"
    for addr in [h.v4 for h in labctl.HOSTS] + [h.v6 for h in labctl.HOSTS]:
        out = subprocess.run(
            ["ip", "route", "get", addr], capture_output=True, text=True, timeout=10, check=True
        ).stdout
        assert f"dev {labctl.BRIDGE}" in out, out


def test_healthy_dual_stack_all_ports(lab: labctl.LabInfo) -> None:
    code, doc = probe(lab, "healthy.lab.test")
    res = doc["resolution"]
    assert res["kind"] == "mx" and res["mx_query"]["outcome"] == "ok"
    assert [(h["name"], h["preference"]) for h in res["hosts"]] == [("mx1.lab.test", 10)]
    rs = routes(doc)
    assert_route_set(rs, "mx1.lab.test", addresses(host("mx1")))
    for r in rs:
        assert_healthy_session(r)
    assert_verdict(code, doc, "healthy", None)


def test_dead_primary_working_secondary(lab: labctl.LabInfo) -> None:
    code, doc = probe(lab, "deadprimary.lab.test")
    hosts = doc["resolution"]["hosts"]
    assert [(h["name"], h["rank"]) for h in hosts] == [("dead.lab.test", 1), ("mx1.lab.test", 2)]
    dead = routes(doc, "dead.lab.test")
    assert_route_set(dead, "dead.lab.test", {labctl.DEAD4, labctl.DEAD6})
    # Nobody owns the address: ARP / neighbour discovery fails, the kernel reports
    # EHOSTUNREACH (the lab bridge makes one 200 ms solicitation).
    assert_all_fail(dead, "connect", "unreachable")
    for r in routes(doc, "mx1.lab.test"):
        assert_healthy_session(r)
    # Degraded, not failed: senders fall back to the secondary (RFC 5321 5.1), so no
    # bounce code leads; the dead MX follows as a 5.4.3-class finding that bounces nothing.
    d = assert_verdict(code, doc, "degraded", None)
    # One finding per cause: the fallback finding suppresses mx-down.
    assert [f["rule"] for f in d["findings"]] == ["primary-down-secondary-ok"]
    lead = d["findings"][0]
    assert lead["action"]["kind"] == "fix" and "still deliverable" in lead["summary"], lead
    assert "dead.lab.test" in lead["summary"], lead
    assert all(f["action"]["kind"] != "suppress" for f in d["findings"])
    evidence = [e for f in d["findings"] for e in f["evidence"]]
    dead_ev = {(e["address"], e["port"], e["phase"], e["outcome"]) for e in evidence}
    for addr in (labctl.DEAD4, labctl.DEAD6):
        for port in PORTS:
            assert (addr, port, "connect", "unreachable") in dead_ev, sorted(map(str, dead_ev))
    # ... and none of the evidence blames the working secondary.
    # Notes about mx1 (no outcome) are no blame.
    blame = [e for e in evidence if e["mx"] == "mx1.lab.test" and e["outcome"] not in (None, "ok")]
    assert not blame, blame


def test_greeting_421(lab: labctl.LabInfo) -> None:
    code, doc = probe(lab, "greet421.lab.test")
    rs = routes(doc)
    assert_route_set(rs, "mx-421.lab.test", addresses(host("mx421")))
    for f in assert_all_fail(rs, "greeting", "reply"):
        assert f["reply"]["code"] == 421 and f["reply"]["enhanced"] == "4.3.2", f
        assert "not accepting network messages" in f["reply"]["text"], f
    for r in rs:
        if r["route"]["port"] == 465:  # the 421 comes inside TLS
            assert r["tls"]["verified"] is True, r["tls"]
    d = assert_verdict(code, doc, "failed", "4.3.2")
    lead = d["findings"][0]
    assert lead["severity"] == "soft" and lead["action"]["kind"] == "retry", lead
    ev = failed_evidence(lead)
    assert len(ev) == 6 and {e["reply"][:9] for e in ev} == {"421 4.3.2"}, ev
    assert d["persistence"] in ("transient", "unknown"), d["persistence"]


def test_reset_after_ehlo(lab: labctl.LabInfo) -> None:
    code, doc = probe(lab, "resetehlo.lab.test")
    rs = routes(doc)
    assert_route_set(rs, "mx-resetehlo.lab.test", addresses(host("mxresetehlo")))
    plain = [r for r in rs if r["route"]["port"] != 465]
    for r in plain:
        assert phase_names(r)[:3] == ["connect", "greeting", "ehlo"], label(r)
    assert_all_fail(plain, "ehlo", "reset")
    # 465 is encrypted from the first byte: the middlebox cannot see EHLO there.
    for r in rs:
        if r["route"]["port"] == 465:
            assert_healthy_session(r)
    # Only 465 answers; MTAs deliver on 25, so the verdict (which follows the delivery
    # port) is failed; the finding names 465 as the one that answers.
    d = assert_verdict(code, doc, "failed", "4.4.2")
    ev = failed_evidence(d["findings"][0])
    assert {(e["port"], e["phase"], e["outcome"]) for e in ev} == {
        (25, "ehlo", "reset"),
        (587, "ehlo", "reset"),
    }, ev
    # Port 25 alone (what a sending MTA uses): nothing works.
    code25, doc25 = probe(lab, "resetehlo.lab.test", "--ports", "25")
    assert_all_fail(routes(doc25), "ehlo", "reset")
    assert_verdict(code25, doc25, "failed", "4.4.2")


def test_silent_drop_everywhere(lab: labctl.LabInfo) -> None:
    code, doc = probe(lab, "drop.lab.test", connect=1.0)
    rs = routes(doc)
    assert_route_set(rs, "mx-drop.lab.test", addresses(host("mxdrop")))
    for f in assert_all_fail(rs, "connect", "timeout"):
        # It waited for the connect limit (1 s), not less: nothing answered.
        assert 900 <= f["duration_ms"] <= 3000, f
    d = assert_verdict(code, doc, "failed", "5.4.2")
    ev = failed_evidence(d["findings"][0])
    assert len(ev) == 6, ev
    assert {(e["phase"], e["outcome"]) for e in ev} == {("connect", "timeout")}, ev
    # One probe cannot tell a blackhole that lasts from one that does not.
    assert d["persistence"] == "unknown"


@pytest.mark.parametrize(
    ("domain", "key"),
    [("port25.lab.test", "mxport25"), ("port25icmp.lab.test", "mxport25icmp")],
    ids=["tcp-reset", "icmp-port-unreachable"],
)
def test_port25_rejected_submission_works(lab: labctl.LabInfo, domain: str, key: str) -> None:
    # Linux reports ICMP port unreachable on a connecting socket as ECONNREFUSED, like a
    # RST. (On the lab's sub-millisecond link the first ICMPv6 error can arrive while
    # connect() still holds the socket lock and is then only a soft error; the SYN
    # retransmission 1 s later gets the hard one: hence connect=2.5.)
    code, doc = probe(lab, domain, connect=2.5)
    rs = routes(doc)
    assert_route_set(rs, host(key).fqdn, addresses(host(key)))
    assert_all_fail([r for r in rs if r["route"]["port"] == 25], "connect", "refused")
    for r in rs:
        if r["route"]["port"] != 25:
            assert_healthy_session(r)
    # An active refusal (RST, or ICMP port unreachable) from this one destination on
    # every address points at the destination (or a firewall on its path), not at the
    # prober's own network (outbound blocks drop silently): a 5.4.2 candidate that
    # names the working alternatives (seed step "try the other ports"). The verdict
    # follows the delivery port: no port-25 route works, so failed, though 587/465 answer.
    d = assert_verdict(code, doc, "failed", "5.4.2")
    assert [f["rule"] for f in d["findings"]] == ["port-blocked"], d["findings"]
    lead = d["findings"][0]
    assert (lead["severity"], lead["action"]["kind"]) == ("hard", "fix"), lead
    ev = failed_evidence(lead)
    assert {(e["port"], e["phase"], e["outcome"]) for e in ev} == {(25, "connect", "refused")}, ev
    assert len(ev) == 2 and {e["error"] for e in ev} == {None}, ev
    route_ev = [e for e in lead["evidence"] if e["port"] is not None]  # not the notes
    assert {e["port"] for e in route_ev} == {25, 587, 465}, lead["evidence"]
    assert "refuses port 25" in lead["summary"], lead["summary"]
    assert "own network blocks" not in lead["summary"], lead["summary"]
    steps = {s["id"]: s for s in lead["steps"]}
    assert steps["5.4.2/alternative-ports"]["result"] == (
        "25: refused (2 routes); 587: works (2 routes); 465: works (2 routes)"
    ), steps["5.4.2/alternative-ports"]
    text = lead["summary"] + " " + lead["action"]["summary"]
    assert "587" in text and "465" in text, text


def test_wrong_name_certificate(lab: labctl.LabInfo) -> None:
    code, doc = probe(lab, "wrongname.lab.test")
    rs = routes(doc)
    assert_route_set(rs, "mx-wrongname.lab.test", addresses(host("mxwrongname")))
    for r in rs:
        tls = r["tls"]
        assert tls is not None and tls["version"] is not None, label(r)
        # Signed by the trusted lab CA, but for another name.
        assert tls["hostname_match"] is False, tls
        assert tls["certificate"]["sans"] == ["other-host.lab.test"], tls["certificate"]
    # Opportunistic TLS still carries mail (degraded), but a sender that verifies by
    # local policy cannot: it logs 4.7.5 (Postfix), with the name mismatch as evidence.
    d = assert_verdict(code, doc, "degraded", "4.7.5")
    assert "other-host.lab.test" in json.dumps(d["findings"][0]), d["findings"][0]["summary"]


def test_expired_certificate(lab: labctl.LabInfo) -> None:
    code, doc = probe(lab, "expired.lab.test")
    rs = routes(doc)
    assert_route_set(rs, "mx-expired.lab.test", addresses(host("mxexpired")))
    for r in rs:
        tls = r["tls"]
        assert tls is not None and tls["verified"] is False, tls
        assert tls["hostname_match"] is True, tls
        assert tls["certificate"]["days_left"] < 0, tls["certificate"]
        assert tls["verify_error"], tls
    d = assert_verdict(code, doc, "degraded", "4.7.5")
    lead = json.dumps(d["findings"][0])
    assert "not valid at validation time" in lead or "expired" in lead, lead[:1000]


@pytest.mark.parametrize(
    ("domain", "target"),
    [("nxmx.lab.test", "missing.nxmx.lab.test"), ("noaddr.lab.test", "host.noaddr.lab.test")],
    ids=["nxdomain", "nodata"],
)
def test_mx_target_without_address(lab: labctl.LabInfo, domain: str, target: str) -> None:
    code, doc = probe(lab, domain)
    res = doc["resolution"]
    assert res["kind"] == "mx"
    assert [(h["name"], h["kind"], h["addresses"]) for h in res["hosts"]] == [
        (target, "no-address", [])
    ]
    outcomes = {q["rdtype"]: q["outcome"] for q in res["queries"] if q["name"] == target}
    want = "nxdomain" if domain.startswith("nxmx") else "nodata"
    assert outcomes.get("A") == want and outcomes.get("AAAA") == want, res["queries"]
    assert doc["routes"] == []
    assert_verdict(code, doc, "failed", "5.4.3")


def test_null_mx(lab: labctl.LabInfo) -> None:
    code, doc = probe(lab, "nullmx.lab.test")
    res = doc["resolution"]
    assert res["kind"] == "null-mx" and res["hosts"] == []
    assert res["mx_query"]["answers"] == ["0 ."]
    assert doc["routes"] == []
    d = assert_verdict(code, doc, "no-mail", "5.1.10")
    assert d["persistence"] == "permanent"


def test_implicit_mx(lab: labctl.LabInfo) -> None:
    code, doc = probe(lab, "implicit.lab.test")
    res = doc["resolution"]
    assert res["kind"] == "implicit" and res["mx_query"]["outcome"] == "nodata"
    assert [(h["name"], h["preference"]) for h in res["hosts"]] == [("implicit.lab.test", 0)]
    rs = routes(doc)
    assert_route_set(rs, "implicit.lab.test", addresses(host("mx1")))
    for r in rs:
        assert_healthy_session(r)
    assert_verdict(code, doc, "healthy", None)


def test_servfail(lab: labctl.LabInfo) -> None:
    code, doc = probe(lab, "servfail.lab.test")
    res = doc["resolution"]
    assert res["kind"] == "failed"
    assert res["mx_query"]["outcome"] == "servfail"
    assert res["mx_query"]["nameserver"] == lab.nameserver.replace(":", "@")
    assert doc["routes"] == []
    d = assert_verdict(code, doc, "failed", "4.4.3")
    # Never a hard bounce: a soft finding whose action is to retry.
    lead = d["findings"][0]
    assert lead["severity"] == "soft" and lead["action"]["kind"] == "retry", lead
    assert d["persistence"] in ("transient", "unknown"), d["persistence"]
    assert "SERVFAIL" in json.dumps(lead["evidence"]), lead["evidence"]


# ----------------------------------------------------- typed observations (issue 8)


def test_every_port_refused_records_econnrefused(lab: labctl.LabInfo) -> None:
    """The host is up, nothing listens: every route's connect is refused, and the errno
    says so as a value (a dead mail host, not a port filter)."""
    code, doc = probe(lab, "refuse.lab.test")
    rs = routes(doc, "mx-refuse.lab.test")
    assert_route_set(rs, "mx-refuse.lab.test", addresses(host("mxrefuse")))
    for route in rs:
        f = failure(route)
        assert f is not None and f["phase"] == "connect", label(route)
        assert (f["outcome"], f["errno"]) == ("refused", errno.ECONNREFUSED), label(route)
    assert doc["diagnosis"]["verdict"] == "failed" and code == EXIT["failed"]


def test_ipv6_unreachable_ipv4_works(lab: labctl.LabInfo) -> None:
    """The AAAA is owned by nobody (neighbour discovery fails: "No route to host"); the
    A reaches mx1. The IPv6 routes carry the errno, the IPv4 routes work."""
    code, doc = probe(lab, "v6dead.lab.test")
    rs = routes(doc, "mx-v6dead.lab.test")
    assert len(rs) == 2 * len(PORTS)
    v4 = [r for r in rs if r["route"]["family"] == "ipv4"]
    v6 = [r for r in rs if r["route"]["family"] == "ipv6"]
    assert v4 and all(r["ok"] for r in v4), [failure(r) for r in v4]
    for route in v6:
        f = failure(route)
        assert f is not None and f["phase"] == "connect", label(route)
        assert f["outcome"] == "unreachable", f
        assert f["errno"] in (errno.EHOSTUNREACH, errno.ENETUNREACH), f
    assert doc["diagnosis"]["verdict"] in ("healthy", "degraded")
    assert code in (EXIT["healthy"], EXIT["degraded"])


def test_lab_addresses_are_not_probed_unless_allowed(lab: labctl.LabInfo) -> None:
    """198.51.100.0/24 and 2001:db8::/32 are documentation ranges: without
    --allow-targets the probe connects to neither (address policy)."""
    _, doc = probe(lab, "healthy.lab.test", allow=False)
    rs = routes(doc)
    assert rs
    for route in rs:
        (record,) = route["phases"]
        assert (record["outcome"], record["skip_reason"]) == ("not-attempted", "address-policy")
        assert route["route"]["address_class"] == "documentation"
        assert route["route"]["allowed"] is False
