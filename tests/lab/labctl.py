"""The smtpdiag lab: real Postfix in network namespaces, real NSD, real network faults.

Run as root::

    python -m tests.lab.labctl up      # build the lab and leave it running
    python -m tests.lab.labctl status  # what is running
    python -m tests.lab.labctl down    # stop what `up` started, remove namespaces/links

Topology (see ``fixtures/lab/README.md``):

* a host bridge ``sdlab-br0`` with 198.51.100.1/24 and 2001:db8:51::1/64;
* one network namespace per mail host (``sdlab-mx1`` ... ``sdlab-mx8``), joined to the
  bridge by a veth pair (``sdlab-vN`` on the host, ``eth0`` inside), addresses
  198.51.100.10+N-1 and 2001:db8:51::10+N-1, loopback up and **no default route**;
* one Postfix instance per namespace (its own config, queue and data directories, master
  run in the foreground so we hold its PID) on 25, 587 and 465;
* NSD on 127.53.0.1 port 5353 serving ``lab.test`` (and a broken ``servfail.lab.test``),
  and the DANE zones made at run time (:mod:`tests.lab.dane_zones`): ``dane.test`` signed,
  ``bogus.test`` signed with expired signatures, ``unsigned.test`` not signed;
* unbound on 127.53.0.2 port 5353, a validating resolver that trusts the test keys and
  asks only NSD (stub zones; everything else refused, root hints pointing at NSD's
  address: it never reaches a real root server);
* faults made by the kernel (nftables in the namespace) or by Postfix's own policies;
* a router namespace ``sdlab-rt`` on the bridge (198.51.100.5, 2001:db8:51::5) and,
  behind it, hosts on 198.18.0.0/24 and 2001:db8:18::/64 (``mx-mtu``): the router's
  bridge-side link has an MTU of 1280 and nftables drops the ICMP "fragmentation
  needed" / ICMPv6 "packet too big" it would send, so full-size packets from behind it
  vanish (a path MTU black hole). The host reaches those networks by two routes via
  the router, on the bridge (gone with it).

Safety (non-negotiable): only 198.51.100.0/24, 2001:db8:51::/64 and 127.53.0.1 are used;
before anything is created the machine's addresses, routes, /etc/hosts and resolv.conf
are checked not to use them; before any server starts ``ip route get`` must show every
lab address on the lab bridge (or lo for the DNS server) and no namespace may have a
default route. Every wait is bounded. ``down`` stops only the process groups ``up``
started (recorded by PID in the state file) and processes inside namespaces it created,
then deletes every ``sdlab-*`` namespace and link it made.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import fcntl
import ipaddress
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import dane_zones

__all__ = [
    "BRIDGE",
    "DNS_ADDRESS",
    "DNS_PORT",
    "HOSTS",
    "RESOLVER_ADDRESS",
    "RESOLVER_PORT",
    "LabError",
    "LabHost",
    "LabInfo",
    "down",
    "lab_lock",
    "lab_unavailable_reason",
    "process_alive",
    "main",
    "status",
    "up",
]

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "fixtures" / "lab"
DEFAULT_STATE_DIR = Path(os.environ.get("SMTPDIAG_LAB_DIR", "/tmp/sdlab"))

PREFIX = "sdlab"
BRIDGE = f"{PREFIX}-br0"
NET4 = ipaddress.IPv4Network("198.51.100.0/24")  # RFC 5737 TEST-NET-2
NET6 = ipaddress.IPv6Network("2001:db8:51::/64")  # RFC 3849 documentation prefix
# Behind the router (RFC 2544 benchmarking range, RFC 3849 documentation prefix).
FAR4 = ipaddress.IPv4Network("198.18.0.0/24")
FAR6 = ipaddress.IPv6Network("2001:db8:18::/64")
ROUTER_NETNS = f"{PREFIX}-rt"
ROUTER_VETH = f"{PREFIX}-vrt"  # its host end, in the bridge
ROUTER4 = "198.51.100.5"  # the router on the bridge
ROUTER6 = "2001:db8:51::5"
ROUTER_FAR4 = "198.18.0.1"  # the router on the far link
ROUTER_FAR6 = "2001:db8:18::1"
#: MTU of the router's bridge-side link: what the path from behind it to the host fits.
ROUTER_MTU = 1280
BRIDGE4 = "198.51.100.1"
BRIDGE6 = "2001:db8:51::1"
DEAD4 = "198.51.100.99"  # in the lab subnet, owned by nobody
DEAD6 = "2001:db8:51::99"
DNS_ADDRESS = "127.53.0.1"
DNS_PORT = 5353
RESOLVER_ADDRESS = "127.53.0.2"  # unbound, validating (the DANE scenarios ask it)
RESOLVER_PORT = 5353
ZONE = "lab.test"
#: Reverse DNS of NET4 (PTR records of the mail hosts), served by NSD as well.
REVERSE_ZONE = "100.51.198.in-addr.arpa"

# Ranges the lab must never route or touch: RFC 5737's TEST-NET-1 (this machine's
# uplink) and TEST-NET-3 (where the package registries are reached). Written as
# integers so that no address of those ranges appears in the code as a literal.
FORBIDDEN = (
    ipaddress.IPv4Network((0xC0000200, 24)),  # TEST-NET-1
    ipaddress.IPv4Network((0xCB007100, 24)),  # TEST-NET-3
)

MASTER = "/usr/lib/postfix/sbin/master"
TOOLS = (
    "ip",
    "ss",
    "nft",
    "postfix",
    "nsd",
    "nsd-checkconf",
    "nsd-checkzone",
    "unbound",
    "unbound-checkconf",
    "sysctl",  # forwarding in the router namespace
)

CMD_TIMEOUT = 20.0  # any single helper command
READY_TIMEOUT = 20.0  # servers listening
STOP_TIMEOUT = 5.0  # SIGTERM -> gone, before SIGKILL
LOCK_WAIT = 90.0  # another session's bring-up + tests + teardown take ~20 s


class LabError(RuntimeError):
    """The lab cannot be built or checked; the message says why."""


@dataclass(frozen=True, slots=True)
class LabHost:
    """One mail host: a namespace, its addresses, its Postfix and its fault.

    Attributes:
        key: Short id used in templates (``mx1``, ``mx421``, ...).
        index: 1-based; namespace ``sdlab-mx<index>``, addresses .10+index-1 / ::10+index-1.
        fqdn: The host's name in the lab zone (also its Postfix ``myhostname``).
        cert: ``good`` (names the host), ``wrongname``, ``expired``, or ``dane`` (names
            the host, issued by an intermediate CA that the server sends with it).
        cert_names: Extra DNS names on a ``good`` certificate.
        nft: File under ``fixtures/lab/nft`` loaded into the namespace, or ``None``.
        postfix_extra: Extra main.cf lines (``{{conf_dir}}`` is filled in).
        role: One line for humans.
        behind_router: The host sits behind the router namespace (on 198.18.0.0/24 and
            2001:db8:18::/64) instead of on the bridge.
    """

    key: str
    index: int
    fqdn: str
    cert: str = "good"
    cert_names: tuple[str, ...] = ()
    nft: str | None = None
    postfix_extra: str = ""
    role: str = ""
    behind_router: bool = False

    @property
    def netns(self) -> str:
        return f"{PREFIX}-mx{self.index}"

    @property
    def veth(self) -> str:
        return f"{PREFIX}-v{self.index}"

    @property
    def v4(self) -> str:
        net = FAR4 if self.behind_router else NET4
        return str(net.network_address + 9 + self.index)

    @property
    def v6(self) -> str:
        prefix = "2001:db8:18" if self.behind_router else "2001:db8:51"
        return f"{prefix}::{9 + self.index}"


HOSTS: tuple[LabHost, ...] = (
    LabHost(
        "mx1",
        1,
        "mx1.lab.test",
        cert_names=("implicit.lab.test", "mx-v6dead.lab.test"),
        role="healthy on 25/587/465, IPv4 and IPv6",
    ),
    LabHost(
        "mx421",
        2,
        "mx-421.lab.test",
        postfix_extra=(
            "smtpd_delay_reject = no\n"
            "smtpd_client_restrictions = check_client_access cidr:{{conf_dir}}/client_access.cidr"
        ),
        role="Postfix check_client_access answers 421 4.3.2 instead of the greeting",
    ),
    LabHost(
        "mxresetehlo",
        3,
        "mx-resetehlo.lab.test",
        nft="reset-ehlo.nft",
        role="nftables resets the connection when the client sends EHLO (25, 587)",
    ),
    LabHost("mxdrop", 4, "mx-drop.lab.test", nft="drop-syn.nft", role="nftables drops every SYN"),
    LabHost(
        "mxport25",
        5,
        "mx-port25.lab.test",
        nft="port25-reset.nft",
        role="nftables answers SYN to port 25 with RST; 587/465 work",
    ),
    LabHost(
        "mxport25icmp",
        6,
        "mx-port25icmp.lab.test",
        nft="port25-icmp.nft",
        role="nftables answers SYN to port 25 with ICMP port unreachable; 587/465 work",
    ),
    LabHost(
        "mxwrongname",
        7,
        "mx-wrongname.lab.test",
        cert="wrongname",
        role="certificate from the lab CA for another name",
    ),
    LabHost(
        "mxexpired",
        8,
        "mx-expired.lab.test",
        cert="expired",
        role="certificate from the lab CA, right name, expired",
    ),
    LabHost(
        "mxrefuse",
        9,
        "mx-refuse.lab.test",
        nft="refuse-all.nft",
        role="host up, every SYN to 25/587/465 answered with RST (nothing listens)",
    ),
    LabHost(
        "mxdane",
        10,
        "mx-dane.lab.test",
        cert="dane",
        cert_names=(
            "mx-ee.dane.test",
            "mx-ta.dane.test",
            "mx-wrong.dane.test",
            "mx-none.dane.test",
            "mx.unsigned.test",
            "mx.bogus.test",
            "tadomain.dane.test",
        ),
        # Every DANE scenario's MX name but mx-taname (the DANE-TA name mismatch), and
        # one recipient domain (a DANE-TA reference identifier when its MX is secure).
        role="leaf + intermediate of the lab CA; the MX of the DANE scenarios (*.dane.test)",
    ),
    LabHost(
        "mxmtu",
        11,
        "mx-mtu.lab.test",
        cert="longchain",
        behind_router=True,
        role=(
            "behind sdlab-rt (link MTU 1280, ICMP frag-needed / packet-too-big dropped); "
            "leaf + 4 intermediates: its TLS flight needs full-size packets"
        ),
    ),
)

#: Scenario domain -> what it shows (the zone file is the source of the records).
SCENARIOS: dict[str, str] = {
    "healthy.lab.test": "MX mx1: every route works, IPv4 and IPv6",
    "deadprimary.lab.test": "MX 10 dead (198.51.100.99, owned by nobody), MX 20 mx1",
    "greet421.lab.test": "MX mx-421: 421 4.3.2 greeting",
    "resetehlo.lab.test": "MX mx-resetehlo: RST when EHLO is sent on 25/587",
    "drop.lab.test": "MX mx-drop: SYN silently dropped on all ports",
    "port25.lab.test": "MX mx-port25: RST on 25, 587/465 work",
    "port25icmp.lab.test": "MX mx-port25icmp: ICMP port unreachable on 25, 587/465 work",
    "wrongname.lab.test": "MX mx-wrongname: certificate for another name",
    "expired.lab.test": "MX mx-expired: expired certificate",
    "refuse.lab.test": "MX mx-refuse: every port refuses (RST), IPv4 and IPv6",
    "v6dead.lab.test": "MX mx-v6dead: A of mx1 works, AAAA owned by nobody (no route to host)",
    "nxmx.lab.test": "MX target does not exist (NXDOMAIN)",
    "noaddr.lab.test": "MX target exists without A/AAAA (NODATA)",
    "nullmx.lab.test": "null MX (RFC 7505)",
    "implicit.lab.test": "no MX, A/AAAA of mx1 (implicit MX)",
    "servfail.lab.test": "zone fails to load: SERVFAIL",
    # DANE (ask the validating resolver, RESOLVER_ADDRESS): see tests/lab/dane_zones.py
    "ee.dane.test": "signed; TLSA 3 1 1 of mx-dane's key: matches (DANE-EE)",
    "ta.dane.test": "signed; TLSA 2 1 1 of the intermediate: matches (DANE-TA)",
    "taname.dane.test": "signed; TLSA 2 1 1, but the certificate does not name the MX",
    "tadomain.dane.test": "signed; MX mx-taname, TLSA 2 1 1; the certificate names the domain",
    "wrong.dane.test": "signed; TLSA 3 1 1 of another key: tlsa-invalid",
    "none.dane.test": "signed; no TLSA: DANE does not apply",
    "unsigned.test": "TLSA that would match, in an unsigned zone: not usable",
    "bogus.test": "signed, signatures expired: the resolver answers SERVFAIL (bogus)",
    "mtu.lab.test": "MX mx-mtu behind a path MTU black hole: SMTP works, TLS stalls",
}


@dataclass(slots=True)
class LabInfo:
    """A running lab, as recorded in ``state.json``.

    Attributes:
        state_dir: Where configs, certificates, logs and the state file live.
        nameserver: ``IP:PORT`` to give ``smtpdiag --nameserver``.
        resolver: ``IP:PORT`` of the validating resolver (unbound), for DANE.
        ca_file: The lab CA (PEM) to give ``--ca-file``.
        pids: Process-group leaders started by ``up``: name -> PID.
        netns: Namespaces created.
        links: Host links created.
        started_at: Unix time ``up`` began (guards against PID reuse).
        bringup_s: Seconds ``up`` took.
    """

    state_dir: str
    nameserver: str = f"{DNS_ADDRESS}:{DNS_PORT}"
    resolver: str = f"{RESOLVER_ADDRESS}:{RESOLVER_PORT}"
    ca_file: str = ""
    pids: dict[str, int] = field(default_factory=dict)
    netns: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    started_at: float = 0.0
    bringup_s: float = 0.0

    def save(self) -> None:
        path = Path(self.state_dir) / "state.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2))
        tmp.replace(path)

    @classmethod
    def load(cls, state_dir: Path) -> LabInfo | None:
        try:
            data = json.loads((state_dir / "state.json").read_text())
        except (OSError, ValueError):
            return None
        return cls(**data)


# ----------------------------------------------------------------------- helpers


def _log(msg: str) -> None:
    print(f"[lab] {msg}", file=sys.stderr, flush=True)


def _run(
    args: Sequence[str], *, check: bool = True, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    try:
        proc = subprocess.run(
            list(args),
            capture_output=True,
            text=True,
            timeout=CMD_TIMEOUT,
            input=input,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise LabError(f"command timed out after {CMD_TIMEOUT:g}s: {' '.join(args)}") from None
    if check and proc.returncode != 0:
        raise LabError(
            f"command failed ({proc.returncode}): {' '.join(args)}\n{proc.stderr.strip()}"
        )
    return proc


def _ns(netns: str, *args: str) -> list[str]:
    return ["ip", "netns", "exec", netns, *args]


def _render(template: Path, values: dict[str, str]) -> str:
    text = template.read_text()

    def sub(m: re.Match[str]) -> str:
        key = m.group(1)
        if key not in values:
            raise LabError(f"{template.name}: no value for {{{{{key}}}}}")
        return values[key]

    # Two passes: values may themselves contain placeholders (postfix_extra).
    for _ in range(2):
        text = re.sub(r"\{\{(\w+)\}\}", sub, text)
    return text


def lab_unavailable_reason() -> str | None:
    """Why the lab cannot run here (not root, tools missing), or ``None``."""
    if os.geteuid() != 0:
        return "the lab needs root (network namespaces, Postfix, nftables)"
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if not os.access(MASTER, os.X_OK):
        missing.append(MASTER)
    if missing:
        return (
            "missing tools: "
            + ", ".join(missing)
            + " (apt-get install postfix nsd unbound nftables iproute2 procps)"
        )
    # Can we make a namespace and use nftables in it? (A throw-away namespace with a
    # name `up`/`down` never match, so a concurrent session is not disturbed.)
    probe_ns = f"sdlabchk{os.getpid()}"[:15]
    try:
        proc = subprocess.run(
            ["ip", "netns", "add", probe_ns], capture_output=True, text=True, timeout=10
        )
        if proc.returncode != 0:
            return f"cannot create network namespaces: {proc.stderr.strip()}"
        proc = subprocess.run(
            _ns(probe_ns, "nft", "list", "tables"), capture_output=True, text=True, timeout=10
        )
        if proc.returncode != 0:
            return f"nftables unusable in a namespace: {proc.stderr.strip()}"
    except subprocess.TimeoutExpired:
        return "namespace check timed out"
    finally:
        subprocess.run(["ip", "netns", "delete", probe_ns], capture_output=True, timeout=10)
    try:
        import trustme  # noqa: F401
    except ImportError:
        return "the lab needs the trustme package"
    return None


# ------------------------------------------------------------- safety checks


def _lab_networks() -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return (
        NET4,
        NET6,
        FAR4,
        FAR6,
        ipaddress.ip_network(f"{DNS_ADDRESS}/32"),
        ipaddress.ip_network(f"{RESOLVER_ADDRESS}/32"),
    )


def _overlaps(text: str) -> bool:
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return False
    return any(net.version == lab.version and net.overlaps(lab) for lab in (NET4, NET6, FAR4, FAR6))


# `ip route` prints a route type before the destination for everything but unicast.
_ROUTE_TYPES = frozenset(
    {
        "default",
        "local",
        "broadcast",
        "multicast",
        "anycast",
        "unreachable",
        "blackhole",
        "prohibit",
        "throw",
        "nat",
    }
)


def _preflight() -> None:
    """Check that nothing this machine uses lies in the lab ranges (before creating anything)."""
    for net in _lab_networks():
        for bad in FORBIDDEN:
            if net.version == bad.version and net.overlaps(bad):  # pragma: no cover - constants
                raise LabError(f"lab range {net} overlaps forbidden {bad}")
    # Existing addresses and routes (all tables) must not touch the lab subnets.
    for family in ("-4", "-6"):
        for line in _run(["ip", family, "-o", "addr", "show"]).stdout.splitlines():
            parts = line.split()
            if "inet" in parts or "inet6" in parts:
                i = parts.index("inet" if "inet" in parts else "inet6")
                if _overlaps(parts[i + 1]):
                    raise LabError(f"an address in the lab range is already in use: {line}")
        for line in _run(["ip", family, "route", "show", "table", "all"]).stdout.splitlines():
            dest = line.split()[0]
            if dest in _ROUTE_TYPES:
                dest = line.split()[1] if len(line.split()) > 1 else ""
            if dest and _overlaps(dest):
                raise LabError(f"a route into the lab range already exists: {line}")
    # /etc/hosts (getent hosts enumerates it) and resolv.conf must not point into the lab.
    hosts = _run(["getent", "hosts"], check=False).stdout.split()
    resolv = Path("/etc/resolv.conf").read_text() if Path("/etc/resolv.conf").exists() else ""
    for word in [*hosts, *resolv.split()]:
        if _overlaps(word):
            raise LabError(f"the machine uses a lab address ({word}) in /etc/hosts or resolv.conf")
    # The DNS addresses must route to lo and their ports must be free.
    for address, port in ((DNS_ADDRESS, DNS_PORT), (RESOLVER_ADDRESS, RESOLVER_PORT)):
        route = _run(["ip", "route", "get", address]).stdout
        if " dev lo " not in f" {route} ":
            raise LabError(f"{address} does not route to lo: {route.strip()}")
        for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
            with socket.socket(socket.AF_INET, kind) as s:
                try:
                    s.bind((address, port))
                except OSError as exc:
                    raise LabError(f"{address}:{port} is in use: {exc}") from None


def _check_routes() -> None:
    """Every lab address must route via the lab bridge; namespaces have no default route."""
    addrs = [h.v4 for h in HOSTS] + [h.v6 for h in HOSTS] + [DEAD4, DEAD6]
    for addr in addrs:
        out = _run(["ip", "route", "get", addr]).stdout
        if f" dev {BRIDGE} " not in f" {out} ":
            raise LabError(f"{addr} does not route via {BRIDGE}: {out.strip()}")
    for netns in [ROUTER_NETNS, *(h.netns for h in HOSTS)]:
        for family in ("-4", "-6"):
            out = _run(_ns(netns, "ip", family, "route", "show", "default")).stdout.strip()
            if out:
                raise LabError(f"{netns} has a default route: {out}")
    for h in HOSTS:
        for addr in (BRIDGE4, BRIDGE6):
            out = _run(_ns(h.netns, "ip", "route", "get", addr)).stdout
            if " dev eth0 " not in f" {out} ":
                raise LabError(f"in {h.netns}, {addr} does not route via eth0: {out.strip()}")
    for address in (DNS_ADDRESS, RESOLVER_ADDRESS):
        out = _run(["ip", "route", "get", address]).stdout
        if " dev lo " not in f" {out} ":
            raise LabError(f"{address} does not route via lo: {out.strip()}")


# ------------------------------------------------------------------- network


def _build_network(info: LabInfo) -> None:
    _run(["ip", "link", "add", BRIDGE, "type", "bridge", "stp_state", "0", "forward_delay", "0"])
    info.links.append(BRIDGE)
    info.save()
    # An unowned address must fail fast and for real: one neighbour probe of 200 ms, then
    # EHOSTUNREACH (the defaults take ~3 s). Per-interface, gone with the bridge.
    for fam in ("ipv4", "ipv6"):
        neigh = Path(f"/proc/sys/net/{fam}/neigh/{BRIDGE}")
        (neigh / "mcast_solicit").write_text("1\n")
        (neigh / "retrans_time_ms").write_text("200\n")
    for h in HOSTS:
        if h.behind_router:
            continue  # see _build_router
        _run(["ip", "netns", "add", h.netns])
        info.netns.append(h.netns)
        info.save()
        _run(
            ["ip", "link", "add", h.veth, "type", "veth", "peer", "name", "eth0", "netns", h.netns]
        )
        info.links.append(h.veth)
        info.save()
        _run(["ip", "link", "set", h.veth, "master", BRIDGE])
        _run(["ip", "link", "set", h.veth, "up"])
        inside = [
            ["ip", "link", "set", "lo", "up"],
            ["ip", "addr", "add", f"{h.v4}/24", "dev", "eth0"],
            ["ip", "-6", "addr", "add", f"{h.v6}/64", "dev", "eth0", "nodad"],
            ["ip", "link", "set", "eth0", "up"],
        ]
        for cmd in inside:
            _run(_ns(h.netns, *cmd))
    _run(["ip", "addr", "add", f"{BRIDGE4}/24", "dev", BRIDGE])
    _run(["ip", "-6", "addr", "add", f"{BRIDGE6}/64", "dev", BRIDGE, "nodad"])
    _run(["ip", "link", "set", BRIDGE, "up"])
    _build_router(info)


def _build_router(info: LabInfo) -> None:
    """The router namespace and the hosts behind it (a path MTU black hole).

    The router's bridge-side link (``eth0``) has an MTU of :data:`ROUTER_MTU`, the rest
    of the path 1500: a full-size packet from behind the router cannot be forwarded to
    the host, and the ICMP that would say so (RFC 1191 "fragmentation needed", RFC 8201
    "packet too big") is dropped by nftables on the router's output
    (``nft/router-icmp-drop.nft``). The host's end of the link keeps 1500, so the host
    announces the full MSS and never learns of the smaller MTU.
    """
    _run(["ip", "netns", "add", ROUTER_NETNS])
    info.netns.append(ROUTER_NETNS)
    info.save()
    _run(
        [
            "ip",
            "link",
            "add",
            ROUTER_VETH,
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            ROUTER_NETNS,
        ]
    )
    info.links.append(ROUTER_VETH)
    info.save()
    _run(["ip", "link", "set", ROUTER_VETH, "master", BRIDGE])
    _run(["ip", "link", "set", ROUTER_VETH, "up"])
    router = [
        ["ip", "link", "set", "lo", "up"],
        ["ip", "link", "set", "eth0", "mtu", str(ROUTER_MTU)],
        ["ip", "addr", "add", f"{ROUTER4}/24", "dev", "eth0"],
        ["ip", "-6", "addr", "add", f"{ROUTER6}/64", "dev", "eth0", "nodad"],
        ["ip", "link", "set", "eth0", "up"],
        ["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"],
        ["sysctl", "-q", "-w", "net.ipv6.conf.all.forwarding=1"],
    ]
    for cmd in router:
        _run(_ns(ROUTER_NETNS, *cmd))
    for h in HOSTS:
        if not h.behind_router:
            continue
        _run(["ip", "netns", "add", h.netns])
        info.netns.append(h.netns)
        info.save()
        # Both ends live in namespaces: the link goes with them.
        _run(
            _ns(
                ROUTER_NETNS,
                "ip",
                "link",
                "add",
                h.veth,
                "type",
                "veth",
                "peer",
                "name",
                "eth0",
                "netns",
                h.netns,
            )
        )
        for cmd in (
            ["ip", "addr", "add", f"{ROUTER_FAR4}/24", "dev", h.veth],
            ["ip", "-6", "addr", "add", f"{ROUTER_FAR6}/64", "dev", h.veth, "nodad"],
            ["ip", "link", "set", h.veth, "up"],
        ):
            _run(_ns(ROUTER_NETNS, *cmd))
        for cmd in (
            ["ip", "link", "set", "lo", "up"],
            ["ip", "addr", "add", f"{h.v4}/24", "dev", "eth0"],
            ["ip", "-6", "addr", "add", f"{h.v6}/64", "dev", "eth0", "nodad"],
            ["ip", "link", "set", "eth0", "up"],
            # Back to the bridge's networks only, via the router: no default route.
            ["ip", "route", "add", str(NET4), "via", ROUTER_FAR4, "dev", "eth0"],
            ["ip", "-6", "route", "add", str(NET6), "via", ROUTER_FAR6, "dev", "eth0"],
        ):
            _run(_ns(h.netns, *cmd))
    _run(_ns(ROUTER_NETNS, "nft", "-f", str(FIXTURES / "nft" / "router-icmp-drop.nft")))
    # The host reaches the far networks through the router, on the bridge only.
    _run(["ip", "route", "add", str(FAR4), "via", ROUTER4, "dev", BRIDGE])
    _run(["ip", "-6", "route", "add", str(FAR6), "via", ROUTER6, "dev", BRIDGE])


def _load_faults() -> None:
    for h in HOSTS:
        if h.nft:
            _run(_ns(h.netns, "nft", "-f", str(FIXTURES / "nft" / h.nft)))


# ------------------------------------------------------------------ certificates


def _make_certs(state: Path) -> dict[str, tuple[Path, Path]]:
    """A lab CA and one leaf per host; returns host key -> (key file, cert chain file)."""
    import trustme

    certs = state / "certs"
    certs.mkdir(mode=0o755, exist_ok=True)
    ca = trustme.CA(organization_name="smtpdiag lab CA")
    ca.cert_pem.write_to_path(str(certs / "ca.pem"))
    now = dt.datetime.now(dt.UTC)
    out: dict[str, tuple[Path, Path]] = {}
    for h in HOSTS:
        if h.cert == "good":
            leaf = ca.issue_cert(h.fqdn, *h.cert_names)
        elif h.cert == "dane":
            # An intermediate, sent with the leaf: the DANE-TA(2) record pins it.
            leaf = ca.create_child_ca().issue_cert(h.fqdn, *h.cert_names)
        elif h.cert == "longchain":
            # Four intermediates: the server's first TLS flight needs several full-size
            # segments, so it cannot pass a path that drops large packets.
            issuer = ca
            for _ in range(4):
                issuer = issuer.create_child_ca()
            leaf = issuer.issue_cert(h.fqdn, *h.cert_names)
        elif h.cert == "wrongname":
            leaf = ca.issue_cert("other-host.lab.test")
        elif h.cert == "expired":
            leaf = ca.issue_cert(
                h.fqdn,
                not_before=now - dt.timedelta(days=30),
                not_after=now - dt.timedelta(days=1),
            )
        else:  # pragma: no cover - constants
            raise LabError(f"unknown cert kind {h.cert}")
        key_file = certs / f"{h.key}.key.pem"
        chain_file = certs / f"{h.key}.chain.pem"
        leaf.private_key_pem.write_to_path(str(key_file))
        os.chmod(key_file, 0o600)
        chain_file.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
        out[h.key] = (key_file, chain_file)
    return out


# ---------------------------------------------------------------------- servers


def _write_postfix(state: Path, h: LabHost, key: Path, chain: Path) -> Path:
    base = state / "postfix" / h.key
    conf, queue, data = base / "conf", base / "queue", base / "data"
    for d in (conf, queue, data):
        d.mkdir(parents=True, exist_ok=True)
    shutil.chown(data, "postfix", "postfix")
    values = {
        "name": h.netns,
        "fqdn": h.fqdn,
        "queue_dir": str(queue),
        "data_dir": str(data),
        "conf_dir": str(conf),
        "v4": h.v4,
        "v6": h.v6,
        "tls_key": str(key),
        "tls_cert": str(chain),
        "log_file": str(base / "maillog"),
        "state_dir": str(state),
        "extra": h.postfix_extra,
    }
    src = FIXTURES / "postfix"
    (conf / "main.cf").write_text(_render(src / "main.cf.in", values))
    (conf / "master.cf").write_text(_render(src / "master.cf.in", {}))
    shutil.copy(src / "client_access_421.cidr", conf / "client_access.cidr")
    return conf


# Popen objects of servers this process started: kept so they can be waited for (reaped)
# at ``down``, and so no ResourceWarning fires while they run.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


def _spawn(name: str, args: list[str], log: Path, info: LabInfo) -> int:
    with open(log, "ab") as fh:
        proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: we stop the group, by id
        )
    _CHILDREN[proc.pid] = proc
    info.pids[name] = proc.pid
    info.save()
    return proc.pid


def process_alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _listening(netns: str) -> set[tuple[str, int]]:
    out = _run(_ns(netns, "ss", "-Hltn"), check=False).stdout
    found: set[tuple[str, int]] = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 4:
            local = parts[3]
            host, _, port = local.rpartition(":")
            found.add((host.strip("[]"), int(port)))
    return found


def _start_postfix(state: Path, certs: dict[str, tuple[Path, Path]], info: LabInfo) -> None:
    confs = {}
    for h in HOSTS:
        key, chain = certs[h.key]
        confs[h.key] = _write_postfix(state, h, key, chain)
    # Postfix's own installer creates the queue directories (owners, modes, the postdrop
    # group) for the first instance; the others get a copy with ownership preserved
    # (`post-install` is a long shell script: ~0.7 s each instead of ~3 s for all).
    first = HOSTS[0]
    _run(_ns(first.netns, "postfix", "-c", str(confs[first.key]), "post-install", "create-missing"))
    template = state / "postfix" / first.key / "queue"
    for h in HOSTS[1:]:
        queue = state / "postfix" / h.key / "queue"
        queue.rmdir()
        _run(["cp", "-a", str(template), str(queue)])
    for h in HOSTS:
        # `ip netns exec` execs the command: the PID we hold is master's own.
        _spawn(
            f"postfix-{h.key}",
            _ns(h.netns, MASTER, "-c", str(confs[h.key]), "-d"),
            state / "postfix" / h.key / "master.out",
            info,
        )


#: Hosts whose reverse DNS is the scenario: mx-421's PTR points elsewhere, mx-expired
#: has none. The DANE host is named in the DANE zones, not in lab.test: no PTR either.
PTR_SCENARIOS = frozenset({"mx421", "mxexpired"})


def matching_ptrs() -> str:
    """PTR lines of the reverse zone naming each other lab.test host (and the dead
    address), each forward-confirmed by the host's A record."""
    lines = [f"{DEAD4.rsplit('.', 1)[1]} PTR dead.lab.test."]
    for h in HOSTS:
        if h.key not in PTR_SCENARIOS and h.cert != "dane":
            lines.append(f"{h.v4.rsplit('.', 1)[1]} PTR {h.fqdn}.")
    return "\n".join(lines)


def _start_nsd(state: Path, info: LabInfo) -> None:
    dns = state / "dns"
    dns.mkdir(exist_ok=True)
    values = {"dns_address": DNS_ADDRESS, "dns_port": str(DNS_PORT), "dns_dir": str(dns)}
    (dns / "nsd.conf").write_text(_render(FIXTURES / "dns" / "nsd.conf.in", values))
    zone_values = dict(values, serial=str(int(time.time())), dead_v4=DEAD4, dead_v6=DEAD6)
    zone_values["bridge_v4"] = BRIDGE4
    zone_values["bridge_v4_reversed"] = ".".join(reversed(BRIDGE4.split(".")))
    for h in HOSTS:
        zone_values[f"{h.key}_v4"] = h.v4
        zone_values[f"{h.key}_v6"] = h.v6
        zone_values[f"{h.key}_ptr"] = h.v4.rsplit(".", 1)[1]
    zone_values["matching_ptrs"] = matching_ptrs()
    (dns / "lab.test.zone").write_text(_render(FIXTURES / "dns" / "lab.test.zone.in", zone_values))
    (dns / f"{REVERSE_ZONE}.zone").write_text(
        _render(FIXTURES / "dns" / f"{REVERSE_ZONE}.zone.in", zone_values)
    )
    shutil.copy(FIXTURES / "dns" / "servfail.lab.test.zone", dns / "servfail.lab.test.zone")
    dane_host = next(h for h in HOSTS if h.cert == "dane")
    chain = state / "certs" / f"{dane_host.key}.chain.pem"
    zones = dane_zones.write_zones(dns, chain, dane_host.v4, dane_host.v6)
    _run(["nsd-checkconf", str(dns / "nsd.conf")])
    _run(["nsd-checkzone", ZONE, str(dns / "lab.test.zone")])
    _run(["nsd-checkzone", REVERSE_ZONE, str(dns / f"{REVERSE_ZONE}.zone")])
    for origin, path in zones.items():
        _run(["nsd-checkzone", origin, str(path)])
    _spawn("nsd", ["nsd", "-c", str(dns / "nsd.conf"), "-d"], dns / "nsd.out", info)


def _start_unbound(state: Path, info: LabInfo) -> None:
    """unbound as a validating resolver trusting the test keys (tests/lab/dane_zones.py)."""
    dns = state / "dns"
    conf = dns / "unbound.conf"
    conf.write_text(dane_zones.unbound_conf(dns))
    _run(["unbound-checkconf", str(conf)])
    _spawn("unbound", ["unbound", "-d", "-c", str(conf)], dns / "unbound.out", info)


def _dns_ready(address: str = DNS_ADDRESS, port: int = DNS_PORT, flags: bytes = b"\x00") -> bool:
    """One SOA query over UDP to a lab server (a hand-built packet; no resolver)."""
    qid = os.getpid() & 0xFFFF
    header = qid.to_bytes(2, "big") + flags + b"\x00\x00\x01\x00\x00\x00\x00\x00\x00"
    qname = b"".join(bytes([len(p)]) + p.encode() for p in ZONE.split(".")) + b"\x00"
    packet = header + qname + b"\x00\x06\x00\x01"  # SOA IN
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.3)
        try:
            s.sendto(packet, (address, port))
            reply = s.recv(512)
        except OSError:
            return False
    return len(reply) > 12 and reply[:2] == packet[:2] and reply[3] & 0x0F == 0


def _resolver_ready() -> bool:
    # Recursion desired: unbound answers from NSD (the stub zone), so both are up.
    return _dns_ready(RESOLVER_ADDRESS, RESOLVER_PORT, b"\x01")


def _wait_ready(state: Path, info: LabInfo) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    pending = {h.key for h in HOSTS}
    dns_ok = False
    resolver_ok = False
    while time.monotonic() < deadline:
        for name, pid in info.pids.items():
            if not process_alive(pid):
                raise LabError(f"{name} (pid {pid}) exited during start-up; see {state}")
        for h in HOSTS:
            if h.key in pending:
                want = {(a, p) for a in (h.v4, h.v6) for p in (25, 587, 465)}
                if want <= _listening(h.netns):
                    pending.discard(h.key)
        dns_ok = dns_ok or _dns_ready()
        resolver_ok = resolver_ok or (dns_ok and _resolver_ready())
        if not pending and dns_ok and resolver_ok:
            return
        time.sleep(0.1)
    raise LabError(
        f"not ready after {READY_TIMEOUT:g}s: postfix {sorted(pending)} dns={dns_ok} "
        f"resolver={resolver_ok}"
    )


# ------------------------------------------------------------------ up / down


def up(state_dir: Path = DEFAULT_STATE_DIR, *, verbose: bool = False) -> LabInfo:
    """Build the lab and start its servers; on any failure, tear down what was made."""
    reason = lab_unavailable_reason()
    if reason:
        raise LabError(reason)
    if (state_dir / "state.json").exists() or _existing_objects():
        raise LabError(f"a lab is already up (or left over): run `down` first ({state_dir})")
    t0 = time.monotonic()

    def step(what: str) -> None:
        if verbose:
            _log(f"{time.monotonic() - t0:5.2f}s {what}")

    _preflight()
    if state_dir.exists():
        shutil.rmtree(state_dir)
    state_dir.mkdir(mode=0o755, parents=True)
    info = LabInfo(state_dir=str(state_dir), started_at=time.time())
    info.save()
    try:
        step("preflight checks passed")
        _build_network(info)
        _load_faults()
        step(f"bridge, {len(HOSTS)} namespaces and nftables faults in place")
        _check_routes()  # before any server starts
        step("routes checked: lab addresses via the bridge, no default routes")
        certs = _make_certs(state_dir)
        info.ca_file = str(state_dir / "certs" / "ca.pem")
        info.save()
        step("CA and certificates made")
        _start_nsd(state_dir, info)
        _start_unbound(state_dir, info)
        _start_postfix(state_dir, certs, info)
        step("servers started")
        _wait_ready(state_dir, info)
        step("all servers answer")
    except BaseException:
        with contextlib.suppress(Exception):
            down(state_dir, quiet=True)
        raise
    info.bringup_s = round(time.monotonic() - t0, 2)
    info.save()
    return info


def _existing_objects() -> list[str]:
    found = [n.split()[0] for n in _run(["ip", "netns", "list"]).stdout.splitlines() if n]
    found = [n for n in found if n.startswith(f"{PREFIX}-")]
    for line in _run(["ip", "-o", "link", "show"]).stdout.splitlines():
        name = line.split(":")[1].strip().split("@")[0]
        if name.startswith(f"{PREFIX}-"):
            found.append(name)
    return found


def _group_members(pgid: int, since: float) -> list[int]:
    """PIDs in process group ``pgid`` that started after ``since`` (guards PID reuse)."""
    boot = time.time() - float(Path("/proc/uptime").read_text().split()[0])
    hz = os.sysconf("SC_CLK_TCK")
    members: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # fields[0] = state (field 3), [2] = pgrp (field 5), [19] = starttime (field 22)
        if int(fields[2]) == pgid and fields[0] != "Z":
            started = boot + int(fields[19]) / hz
            if started >= since - 2:
                members.append(int(entry.name))
    return members


def _stop_group(name: str, pgid: int, since: float) -> None:
    for pid in _group_members(pgid, since):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    while time.monotonic() < deadline and _group_members(pgid, since):
        time.sleep(0.05)
        _reap(pgid)
    for pid in _group_members(pgid, since):
        _log(f"{name}: pid {pid} ignored SIGTERM, killing")
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    _reap(pgid)
    proc = _CHILDREN.pop(pgid, None)
    if proc is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=STOP_TIMEOUT)


def _reap(pid: int) -> None:
    proc = _CHILDREN.get(pid)
    if proc is not None:
        if proc.poll() is not None:
            del _CHILDREN[pid]
        return
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def down(state_dir: Path = DEFAULT_STATE_DIR, *, quiet: bool = False) -> float:
    """Stop what ``up`` started and remove every lab namespace and link; returns seconds."""
    t0 = time.monotonic()
    info = LabInfo.load(state_dir)
    if info is not None:
        for name, pid in info.pids.items():
            _stop_group(name, pid, info.started_at)
    # NSD and unbound run on the host; if the state file is gone, find them by their
    # exact command line (our own config path), never by name.
    ours = {
        "nsd": ["nsd", "-c", str(state_dir / "dns" / "nsd.conf"), "-d"],
        "unbound": ["unbound", "-d", "-c", str(state_dir / "dns" / "unbound.conf")],
    }
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")[:-1]
            except OSError:
                continue
            for name, cmd in ours.items():
                if [a.decode(errors="replace") for a in argv] == cmd:
                    _stop_group(name, int(entry.name), 0.0)
    # Anything still running inside a lab namespace was started there by the lab
    # (nothing else enters sdlab-* namespaces): stop it by PID before the namespace goes.
    netns = set(info.netns if info else []) | {h.netns for h in HOSTS} | {ROUTER_NETNS}
    present = {n.split()[0] for n in _run(["ip", "netns", "list"]).stdout.splitlines() if n}
    for ns in sorted(netns & present):
        for sig in (signal.SIGTERM, signal.SIGKILL):
            pids = [int(p) for p in _run(["ip", "netns", "pids", ns], check=False).stdout.split()]
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
            deadline = time.monotonic() + STOP_TIMEOUT
            while pids and time.monotonic() < deadline:
                for pid in pids:
                    _reap(pid)
                pids = [p for p in pids if process_alive(p)]
                time.sleep(0.05)
            if not pids:
                break
        _run(["ip", "netns", "delete", ns], check=False)
    links = set(info.links if info else []) | {BRIDGE, ROUTER_VETH}
    links |= {h.veth for h in HOSTS if not h.behind_router}
    for link in sorted(links, key=lambda n: n == BRIDGE):  # veths first, bridge last
        if _run(["ip", "link", "show", link], check=False).returncode == 0:
            _run(["ip", "link", "delete", link], check=False)
    leftovers = _existing_objects()
    if leftovers:
        raise LabError(f"could not remove: {', '.join(leftovers)}")
    with contextlib.suppress(FileNotFoundError):
        (state_dir / "state.json").unlink()
    took = time.monotonic() - t0
    if not quiet:
        _log(f"down in {took:.2f}s")
    return took


def status(state_dir: Path = DEFAULT_STATE_DIR) -> dict[str, object]:
    """What is running: recorded PIDs and whether they live, objects present."""
    info = LabInfo.load(state_dir)
    return {
        "state": str(state_dir / "state.json") if info else None,
        "nameserver": info.nameserver if info else None,
        "ca_file": info.ca_file if info else None,
        "processes": {n: (p, process_alive(p)) for n, p in (info.pids.items() if info else [])},
        "objects": _existing_objects(),
    }


def usage_text(info: LabInfo) -> str:
    """How to point smtpdiag at a running lab."""
    lines = [
        f"lab up in {info.bringup_s:.1f}s (state: {info.state_dir})",
        "",
        "Try, for example:",
        f"  .venv/bin/smtpdiag probe healthy.lab.test --nameserver {info.nameserver} --ca-file {info.ca_file} --allow-targets {NET4} --allow-targets {NET6}",
        f"  (DANE scenarios: --nameserver {info.resolver}, the validating resolver)",
        "",
        "Scenarios:",
        *(f"  {d:<22} {what}" for d, what in SCENARIOS.items()),
        "",
        "Hosts:",
        *(f"  {h.netns:<10} {h.fqdn:<24} {h.v4:<15} {h.v6:<18} {h.role}" for h in HOSTS),
        f"  (nobody)   dead.lab.test            {DEAD4:<15} {DEAD6:<18} unowned address",
        "",
        "Take it down with: python -m tests.lab.labctl down   (or: make lab-down)",
    ]
    return "\n".join(lines)


@contextlib.contextmanager
def lab_lock(state_dir: Path = DEFAULT_STATE_DIR, *, wait: float = 0.0) -> Iterator[None]:
    """Hold the lab's lock: one bring-up, test session or teardown at a time.

    The lab's names (``sdlab-*``, 198.51.100.0/24, the DNS port) are fixed, so two test
    sessions on one machine must not build or tear it down at the same time. Waits up to
    ``wait`` seconds (polling; bounded), then raises :class:`LabError`.
    """
    path = state_dir.with_name(state_dir.name + ".lock")
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LabError(f"another lab session holds {path} (waited {wait:g}s)") from None
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


@contextlib.contextmanager
def running(state_dir: Path = DEFAULT_STATE_DIR) -> Iterator[LabInfo]:
    """Context manager: a lab that is always torn down."""
    with lab_lock(state_dir, wait=LOCK_WAIT):
        info = up(state_dir)
        try:
            yield info
        finally:
            down(state_dir, quiet=True)


def main(argv: Sequence[str] | None = None) -> int:
    """``labctl up|down|status``; returns an exit code."""
    parser = argparse.ArgumentParser(prog="labctl", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["up", "down", "status"])
    parser.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR)
    args = parser.parse_args(argv)
    try:
        if args.command == "status":
            print(json.dumps(status(args.state_dir), indent=2))
            return 0
        with lab_lock(args.state_dir, wait=LOCK_WAIT):
            if args.command == "up":
                info = up(args.state_dir, verbose=True)
                print(usage_text(info))
            else:
                down(args.state_dir)
    except LabError as exc:
        print(f"labctl: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
