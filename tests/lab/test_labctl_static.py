"""Static checks of the lab's definition: no root, no network, no servers needed.

They guard the network-safety promises before anything is ever built: every lab address
is inside the documentation ranges the project may use, nothing touches the uplink or the
registry ranges, interface names fit the kernel's limit, and the templates render.
"""

from __future__ import annotations

import ipaddress
import shutil
import subprocess
from pathlib import Path

import pytest

from . import dane_zones, labctl

ALLOWED = tuple(
    ipaddress.ip_network(n) for n in ("198.51.100.0/24", "198.18.0.0/24", "2001:db8::/32")
)


def _addresses() -> list[str]:
    return [
        labctl.BRIDGE4,
        labctl.BRIDGE6,
        labctl.DEAD4,
        labctl.DEAD6,
        labctl.ROUTER4,
        labctl.ROUTER6,
        labctl.ROUTER_FAR4,
        labctl.ROUTER_FAR6,
        *(h.v4 for h in labctl.HOSTS),
        *(h.v6 for h in labctl.HOSTS),
    ]


def test_every_lab_address_is_in_an_allowed_range() -> None:
    for text in _addresses():
        addr = ipaddress.ip_address(text)
        assert any(addr in net for net in ALLOWED), text
        assert not any(addr in bad for bad in labctl.FORBIDDEN if bad.version == addr.version)
        nets = (labctl.NET4, labctl.FAR4) if addr.version == 4 else (labctl.NET6, labctl.FAR6)
        assert any(addr in net for net in nets), text
    assert ipaddress.ip_address(labctl.DNS_ADDRESS).is_loopback
    assert len(set(_addresses())) == len(_addresses()), "two hosts share an address"


def test_names_are_ours_and_fit_ifnamsiz() -> None:
    names = [
        labctl.BRIDGE,
        labctl.ROUTER_NETNS,
        labctl.ROUTER_VETH,
        *(h.netns for h in labctl.HOSTS),
        *(h.veth for h in labctl.HOSTS),
    ]
    assert len(set(names)) == len(names)
    for name in names:
        assert name.startswith("sdlab-"), name
        assert len(name) <= 15, name  # IFNAMSIZ - 1


def test_overlap_detection() -> None:
    assert labctl._overlaps("198.51.100.0/24")
    assert labctl._overlaps("198.51.0.0/16")  # a wider route covering the lab
    assert labctl._overlaps("198.51.100.7")
    assert labctl._overlaps("2001:db8:51::5/128")
    assert labctl._overlaps("2001:db8::/32")
    assert labctl._overlaps("198.18.0.0/15")  # a route covering the far side of the router
    assert labctl._overlaps("2001:db8:18::20")
    assert not labctl._overlaps(str(labctl.FORBIDDEN[0]))  # the uplink is not the lab
    assert not labctl._overlaps("fd00::/64")
    assert not labctl._overlaps("localhost")


def test_render_refuses_unknown_placeholders(tmp_path: Path) -> None:
    template = tmp_path / "t.in"
    template.write_text("a {{known}} b {{unknown}}\n")
    with pytest.raises(labctl.LabError, match="unknown"):
        labctl._render(template, {"known": "x"})


def _zone_values() -> dict[str, str]:
    values = {
        "dns_address": labctl.DNS_ADDRESS,
        "serial": "1",
        "dead_v4": labctl.DEAD4,
        "dead_v6": labctl.DEAD6,
        "bridge_v4": labctl.BRIDGE4,
        "bridge_v4_reversed": ".".join(reversed(labctl.BRIDGE4.split("."))),
    }
    for h in labctl.HOSTS:
        values[f"{h.key}_v4"] = h.v4
        values[f"{h.key}_v6"] = h.v6
        values[f"{h.key}_ptr"] = h.v4.rsplit(".", 1)[1]
    values["matching_ptrs"] = labctl.matching_ptrs()
    return values


def test_reverse_zone_renders_with_matching_and_elsewhere_ptrs(tmp_path: Path) -> None:
    zone = labctl._render(
        labctl.FIXTURES / "dns" / f"{labctl.REVERSE_ZONE}.zone.in", _zone_values()
    )
    words = " ".join(zone.split())
    mx1 = next(h for h in labctl.HOSTS if h.key == "mx1")
    mx421 = next(h for h in labctl.HOSTS if h.key == "mx421")
    expired = next(h for h in labctl.HOSTS if h.key == "mxexpired")
    assert f"{mx1.v4.rsplit('.', 1)[1]} PTR mx1.lab.test." in words
    assert f"{mx421.v4.rsplit('.', 1)[1]} PTR mx1.lab.test." in words
    assert f"{expired.v4.rsplit('.', 1)[1]} PTR" not in words
    if shutil.which("nsd-checkzone") is None:
        pytest.skip("nsd-checkzone not installed")
    path = tmp_path / "reverse.zone"
    path.write_text(zone)
    proc = subprocess.run(
        ["nsd-checkzone", labctl.REVERSE_ZONE, str(path)],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_zone_renders_and_every_scenario_has_records(tmp_path: Path) -> None:
    zone = labctl._render(labctl.FIXTURES / "dns" / "lab.test.zone.in", _zone_values())
    for domain in labctl.SCENARIOS:
        if not domain.endswith(".lab.test"):
            continue  # the DANE zones, made at bring-up (dane_zones.py)
        label = domain.removesuffix(".lab.test")
        if label != "servfail":  # its own (broken) zone
            assert any(line.split()[:1] == [label] for line in zone.splitlines()), label
    words = " ".join(zone.split())
    for h in labctl.HOSTS:
        if h.cert == "dane":
            continue  # named in the DANE zones
        label = h.fqdn.removesuffix(".lab.test")
        assert f"{label} A {h.v4}" in words and f"{label} AAAA {h.v6}" in words, label
    if shutil.which("nsd-checkzone") is None:
        pytest.skip("nsd-checkzone not installed")
    path = tmp_path / "lab.test.zone"
    path.write_text(zone)
    proc = subprocess.run(
        ["nsd-checkzone", "lab.test", str(path)], capture_output=True, text=True, timeout=20
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_postfix_templates_never_deliver() -> None:
    h = labctl.HOSTS[0]
    main_cf = labctl._render(
        labctl.FIXTURES / "postfix" / "main.cf.in",
        {
            "name": h.netns,
            "fqdn": h.fqdn,
            "queue_dir": "/q",
            "data_dir": "/d",
            "conf_dir": "/c",
            "v4": h.v4,
            "v6": h.v6,
            "tls_key": "/k",
            "tls_cert": "/c",
            "log_file": "/l",
            "state_dir": "/s",
            "extra": "",
        },
    )
    settings = dict(
        (k.strip(), v.strip())
        for k, _, v in (line.partition("=") for line in main_cf.splitlines())
        if k.strip() and not k.startswith("#")
    )
    for key in (
        "smtpd_relay_restrictions",
        "smtpd_recipient_restrictions",
        "smtpd_data_restrictions",
    ):
        assert settings[key] == "reject", key
    for key in ("default_transport", "relay_transport", "local_transport", "virtual_transport"):
        assert settings[key].startswith("error:"), key
    assert settings["mydestination"] == "" and settings["relayhost"] == ""
    master_cf = (labctl.FIXTURES / "postfix" / "master.cf.in").read_text()
    services = [line.split()[0] for line in master_cf.splitlines() if line and line[0] not in "# "]
    assert "smtp" not in services and "relay" not in services and "lmtp" not in services
    assert {"25", "587", "465"} <= set(services)


def test_validating_resolver_stays_inside_the_lab(tmp_path: Path) -> None:
    """unbound: loopback only, lab zones only, no real root server, the test keys only."""
    conf = dane_zones.unbound_conf(tmp_path)
    lines = [line.strip() for line in conf.splitlines()]
    assert f"interface: {labctl.RESOLVER_ADDRESS}@{labctl.RESOLVER_PORT}" in lines
    assert f"outgoing-interface: {labctl.RESOLVER_ADDRESS}" in lines
    assert ipaddress.ip_address(labctl.RESOLVER_ADDRESS).is_loopback
    assert 'local-zone: "." refuse' in lines
    assert not any(line.startswith(("auto-trust-anchor-file", "forward-")) for line in lines)
    stubs = [line.split()[1] for line in lines if line.startswith("stub-addr:")]
    assert stubs and set(stubs) == {f"{labctl.DNS_ADDRESS}@{labctl.DNS_PORT}"}
    hints = (tmp_path / "root.hints").read_text().split()
    addresses = [w for w in hints if w[:1].isdigit() and w.count(".") == 3]
    assert addresses == [labctl.DNS_ADDRESS]
    if shutil.which("unbound-checkconf") is None:
        pytest.skip("unbound-checkconf not installed")
    (tmp_path / dane_zones.ANCHORS_FILE).write_text(
        "dane.test. 60 IN DS 1 13 2 " + "00" * 32 + "\n"
    )
    path = tmp_path / "unbound.conf"
    path.write_text(conf)
    proc = subprocess.run(
        ["unbound-checkconf", str(path)], capture_output=True, text=True, timeout=20
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
