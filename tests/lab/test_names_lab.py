"""Names and vantage against the lab: real NSD serving PTR records and a blocklist zone,
real Postfix announcing its own name, the CLI's JSON.

NSD serves ``100.51.198.in-addr.arpa``: mx1's address has a PTR naming mx1.lab.test
(whose A record is that address: forward-confirmed), mx-421's a PTR naming mx1.lab.test
too (pointing elsewhere), every other host none. ``bl.lab.test`` lists the lab bridge's
IPv4 address, which is the prober's own egress address into the lab.
"""

from __future__ import annotations

import pytest

from . import labctl
from .test_scenarios import host, probe

pytestmark = pytest.mark.lab


def _names(doc: dict[str, object], address: str) -> dict[str, object]:
    found = [n for n in doc["names"] if n["address"] == address]  # type: ignore[attr-defined,index]
    assert len(found) == 1, doc["names"]
    return found[0]  # type: ignore[no-any-return]


def test_forward_confirmed_ptr_and_listed_egress(lab: labctl.LabInfo) -> None:
    mx1 = host("mx1")
    _, doc = probe(lab, "healthy.lab.test", "--blocklist", "bl.lab.test")
    v4 = _names(doc, mx1.v4)
    assert v4["ptr"] == ["mx1.lab.test"] and v4["fcrdns"] == "match"
    # No reverse zone for the IPv6 prefix: NSD refuses, nothing is known.
    assert _names(doc, mx1.v6)["fcrdns"] == "unknown"
    for r in doc["routes"]:
        assert r["greeting_name"] == "mx1.lab.test"  # Postfix's myhostname
        assert r["ehlo_name"] == "mx1.lab.test"
    vantage = doc["vantage"]
    assert labctl.BRIDGE4 in vantage["egress"]
    by_address = {b["address"]: b for b in vantage["blocklists"]}
    listed = by_address[labctl.BRIDGE4]
    assert listed["zone"] == "bl.lab.test" and listed["status"] == "listed"
    assert listed["codes"] == ["127.0.0.2"]
    assert listed["reason"] == "listed in the smtpdiag lab: the prober's own address"
    assert all(b["status"] == "not-listed" for a, b in by_address.items() if a != labctl.BRIDGE4)
    d = doc["diagnosis"]
    rules = [f["rule"] for f in d["findings"]]
    assert "egress-listed" in rules and "fcrdns-missing" not in rules
    # Postfix accepted the probe: the listing changes nothing about the domain.
    assert d["verdict"] == "healthy" and d["fault_side"] == "none"


def test_ptr_pointing_elsewhere(lab: labctl.LabInfo) -> None:
    mx = host("mx421")
    _, doc = probe(lab, "greet421.lab.test")
    v4 = _names(doc, mx.v4)
    assert v4["ptr"] == ["mx1.lab.test"]
    assert v4["fcrdns"] == "mismatch"
    assert [q["answers"] for q in v4["forward"]] == [[host("mx1").v4]]


def test_missing_ptr_is_information(lab: labctl.LabInfo) -> None:
    mx = host("mxexpired")
    _, doc = probe(lab, "expired.lab.test")
    v4 = _names(doc, mx.v4)
    assert v4["ptr"] == [] and v4["fcrdns"] == "no-ptr"
    f = next(f for f in doc["diagnosis"]["findings"] if f["rule"] == "fcrdns-missing")
    assert f["severity"] == "info" and f["code"] is None
