"""A path MTU black hole made by the kernel, proven by the probe (issue 23).

``mx-mtu`` (netns ``sdlab-mx11``) sits behind the router namespace ``sdlab-rt``, whose
link towards the host has an MTU of 1280 while the rest of the path has 1500, and whose
nftables drops the ICMP "fragmentation needed" / ICMPv6 "packet too big" it would send
(``fixtures/lab/nft/router-icmp-drop.nft``). The host announces the full MSS, so the
real Postfix's first TLS flight (a leaf and four intermediates) goes out in full-size
packets that the router cannot forward, and the server never learns why: every
handshake stalls while the TCP handshake and the plain SMTP dialogue pass. The probe
repeats the stalled handshake once per address with ``TCP_MAXSEG`` 536 (IPv4) or 1220
(IPv6): that completes, and the diagnosis names the black hole as proven.
"""

from __future__ import annotations

import re
import subprocess
import time

import pytest

from . import labctl
from .test_scenarios import EXIT, Doc, failure, probe, routes

pytestmark = pytest.mark.lab

MX = "mx-mtu.lab.test"
FAR = ("--allow-targets", str(labctl.FAR4), "--allow-targets", str(labctl.FAR6))
TLS_TIMEOUT_S = 2.0  # what test_scenarios.probe passes as --tls-timeout


def _drops() -> dict[str, int]:
    """Packets the router's nftables dropped so far, per ICMP family."""
    out = subprocess.run(
        ["ip", "netns", "exec", labctl.ROUTER_NETNS, "nft", "list", "table", "inet", "sdlab_fault"],
        capture_output=True,
        text=True,
        timeout=20,
        check=True,
    ).stdout
    counts = {}
    for line in out.splitlines():
        m = re.search(r"counter packets (\d+)", line)
        if m:
            counts["icmpv6" if "icmpv6" in line else "icmp"] = int(m.group(1))
    return counts


def _finding(doc: Doc, rule: str) -> Doc | None:
    return next((f for f in doc["diagnosis"]["findings"] if f["rule"] == rule), None)


def test_a_path_mtu_black_hole_is_proven(lab: labctl.LabInfo) -> None:
    host = next(h for h in labctl.HOSTS if h.key == "mxmtu")
    before = _drops()
    start = time.monotonic()
    code, doc = probe(lab, "mtu.lab.test", *FAR, total=20.0)
    wall = time.monotonic() - start
    after = _drops()
    # The kernel made the black hole: the router dropped its own ICMP, both families.
    assert after["icmp"] > before["icmp"] and after["icmpv6"] > before["icmpv6"], after

    rs = routes(doc, MX)
    assert {(r["route"]["address"], r["route"]["port"]) for r in rs} == {
        (a, p) for a in (host.v4, host.v6) for p in (25, 587, 465)
    }
    for r in rs:
        # Small packets pass (TCP handshake, greeting, EHLO), the server's flight does not.
        f = failure(r)
        assert f is not None and (f["phase"], f["outcome"]) == ("tls-handshake", "timeout"), r
        assert not r["ok"]
    retries = {r["route"]["address"]: r for r in rs if r["mss_retry"] is not None}
    assert set(retries) == {host.v4, host.v6}  # one per address, no more
    for address, mss in ((host.v4, 536), (host.v6, 1220)):
        r = retries[address]
        assert r["route"]["port"] == 25  # the delivery port's route went first
        phases = [(p["phase"], p["outcome"]) for p in r["phases"]]
        assert phases[:4] == [
            ("connect", "ok"),
            ("greeting", "ok"),
            ("ehlo", "ok"),
            ("starttls", "ok"),
        ]
        retry = r["mss_retry"]
        assert retry["mss"] == mss
        assert retry["result"] == "completed", retry
        assert retry["handshake_ms"] < 1000
        # The flight that did not fit one packet: a leaf and four intermediates.
        assert retry["chain_bytes"] > labctl.ROUTER_MTU, retry
        assert [(p["phase"], p["outcome"]) for p in retry["phases"]][-1] == (
            "tls-handshake",
            "ok",
        )

    diagnosis = doc["diagnosis"]
    assert diagnosis["verdict"] == "failed" and code == EXIT["failed"]
    assert diagnosis["primary"] == "4.4.2"
    proven = _finding(doc, "path-mtu-black-hole")
    assert proven is not None, [f["rule"] for f in diagnosis["findings"]]
    assert diagnosis["findings"][0]["rule"] == "path-mtu-black-hole"
    assert proven["code"] == "4.4.2"
    assert proven["cause_ids"] == ["4.4.2/mtu"]
    assert proven["payload"]["causes_proven"] == ["4.4.2/mtu"]
    assert sorted(proven["payload"]["routes"]) == sorted(
        f"{MX}[{r['route']['address']}]:{r['route']['port']}" for r in rs
    )
    # Both observations are evidence: the stalled handshakes and the completed retries.
    ev = proven["evidence"]
    stalled = [e for e in ev if e["phase"] == "tls-handshake" and e["outcome"] == "timeout"]
    completed = [e for e in ev if e["phase"] == "tls-handshake" and e["outcome"] == "ok"]
    assert len(stalled) == 6 and len(completed) == 2, ev
    assert {e["address"] for e in completed} == {host.v4, host.v6}
    steps = {s["id"]: s for s in proven["steps"]}
    assert steps["4.4.2/network-diagnostics"]["status"] == "done"
    assert "536" in steps["4.4.2/network-diagnostics"]["result"]
    action = proven["action"]
    assert action["kind"] == "fix"
    assert "MSS" in action["summary"] and "packet too big" in action["summary"]
    assert "fragmentation needed" in action["summary"]
    # The routes it proves are not also "connection dropped" with MTU as one guess.
    assert _finding(doc, "connection-dropped") is None

    # Time to a verdict: the stall (one TLS timeout per address, addresses in parallel),
    # two confirmations per address, and the proof, which costs far less than a TLS
    # timeout: it is a handful of round trips on a path that works for small segments.
    cost = max(r["mss_retry"]["duration_ms"] for r in retries.values()) / 1000
    print(
        f"\n[mtu] verdict after {doc['duration_ms'] / 1000:.2f}s "
        f"(process {wall:.2f}s); the small-MSS proof cost {cost * 1000:.0f} ms "
        f"(tls timeout {TLS_TIMEOUT_S:g}s)"
    )
    assert cost < TLS_TIMEOUT_S
