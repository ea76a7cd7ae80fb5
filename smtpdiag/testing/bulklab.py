"""Many domains over a few SMTP servers, on loopback: the lab of ``smtpdiag bulk`` tests
and of its benchmark.

One local DNS server holds every name (a single zone ``test``); each listening
address runs scripted servers on three shared ports (stand-ins for 25, 587 and 465)
with real TLS from a throwaway PKI whose certificate names the given host names::

    hosts = {"mx.p1.test": "127.88.0.1", "mx.p2.test": "127.88.0.2"}
    domains = {f"d{i}.test": ("mx.p1.test",) for i in range(100)}
    with bulk_lab(hosts, domains) as lab:
        config = lab.config()
        ...
        lab.connections()  # {"127.88.0.1:p25": 1, ...}: sessions each server received
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from ..config import Nameserver, ProbeConfig, ResolverConfig, Timeouts, TlsConfig
from .certs import TestPki
from .dnsserver import ThreadedDnsServer
from .ports import pick_shared_ports
from .smtpserver import Behaviour, ServerSet

__all__ = ["BulkLab", "bulk_lab"]


@dataclass(frozen=True, slots=True)
class BulkLab:
    """A running bulk lab.

    Attributes:
        nameserver: The local DNS server.
        ports: The (25, 587, 465) stand-in ports, the same on every address.
        ca_file: PEM of the test CA.
        servers: The scripted servers, named ``"ADDRESS:PORT"``.
        dns: The DNS server (``dns.server.asked(name, "MX")`` tells what was asked).
    """

    nameserver: Nameserver
    ports: tuple[int, int, int]
    ca_file: str
    servers: ServerSet
    dns: ThreadedDnsServer

    def config(self, **overrides: object) -> ProbeConfig:
        """A probe config for the lab: its nameserver, ports, CA, loopback allowed."""
        values: dict[str, object] = {
            "ports": self.ports,
            "implicit_tls_ports": (self.ports[2],),
            "resolver": ResolverConfig((self.nameserver,)),
            "tls": TlsConfig(ca_file=self.ca_file),
            "allow_targets": ("127.0.0.0/8",),
            "timeouts": Timeouts(
                dns=2.0, connect=2.0, greeting=3.0, command=3.0, tls=3.0, total=8.0
            ),
            "ehlo_name": "bulk.test",
        }
        values.update(overrides)
        return ProbeConfig(**values)  # type: ignore[arg-type]

    def connections(self) -> dict[str, int]:
        """Sessions each server received so far (the last 1000 per server)."""
        return {s.name: len(self.servers.server(s.name).sessions) for s in self.servers.specs}

    def peaks(self) -> dict[str, int]:
        """Most sessions each server had open at once."""
        return {s.name: self.servers.server(s.name).peak for s in self.servers.specs}

    def address_peaks(self) -> dict[str, int]:
        """Most sessions open at once to each address, over all its ports (from the
        servers' session spans)."""
        events: dict[str, list[tuple[float, int]]] = {}
        for spec in self.servers.specs:
            address = spec.name.rpartition(":")[0]
            for began, ended in list(self.servers.server(spec.name).spans):
                events.setdefault(address, []).extend(((began, 1), (ended, -1)))
        peaks: dict[str, int] = {}
        for address, marks in events.items():
            level = peak = 0
            for _, step in sorted(marks):  # an end sorts before a start at the same instant
                level += step
                peak = max(peak, level)
            peaks[address] = peak
        return peaks

    def session_starts(self, address: str) -> list[float]:
        """When each finished session to ``address`` began (``time.monotonic()``), sorted."""
        return sorted(
            began
            for spec in self.servers.specs
            if spec.name.rpartition(":")[0] == address
            for began, _ in list(self.servers.server(spec.name).spans)
        )

    def per_address(self, counts: Mapping[str, int]) -> dict[str, int]:
        """``counts`` (per server) summed per address."""
        out: dict[str, int] = {}
        for name, count in counts.items():
            address = name.rpartition(":")[0]
            out[address] = out.get(address, 0) + count
        return out


@contextlib.contextmanager
def bulk_lab(
    hosts: Mapping[str, str],
    domains: Mapping[str, Sequence[str]],
    *,
    behaviours: Mapping[str, Behaviour] | None = None,
    cert_names: Sequence[str] | None = None,
    seed: int | None = None,
    greeting_delay: float = 0.0,
) -> Iterator[BulkLab]:
    """Start the lab; stop it on exit.

    Args:
        hosts: MX host name -> IPv4 loopback address (its A record). Several names
            may share an address (one server behind many names).
        domains: Domain -> its MX host names (preferences 10, 20, ...); an empty
            sequence publishes no MX (and no address: the domain has no mail).
            Every name must end in ``.test``.
        behaviours: Address -> scripted behaviour (default healthy).
        cert_names: The names the servers' certificate carries (default: every host).
        seed: For the port choice.
        greeting_delay: Seconds every server waits before its greeting (sessions
            long enough to overlap).
    """
    behaviours = behaviours or {}
    records: dict[str, list[str]] = {"@": ["NS ns.test."], "ns": ["A 127.0.0.1"]}
    for name, address in hosts.items():
        records.setdefault(_relative(name), []).append(f"A {address}")
    for domain, mx_hosts in domains.items():
        entry = records.setdefault(_relative(domain), [])
        for rank, host in enumerate(mx_hosts, 1):
            entry.append(f"MX {rank * 10} {host}.")
        if not mx_hosts:
            entry.append('TXT "no mail here"')
    addresses = sorted(set(hosts.values()))
    p25, p587, p465 = pick_shared_ports(addresses, random.Random(seed))
    pki = TestPki(names=tuple(cert_names or hosts))
    from .smtpserver import ServerSpec

    specs = [
        ServerSpec(
            name=f"{address}:{port}",
            behaviour=behaviours.get(address, Behaviour.HEALTHY),
            implicit_tls=port == p465,
            host=address,
            hostname=next(n for n, a in hosts.items() if a == address),
            port=port,
            greeting_delay=greeting_delay,
        )
        for address in addresses
        for port in (p25, p587, p465)
    ]
    try:
        with (
            ServerSet(specs, pki=pki) as servers,
            ThreadedDnsServer(zones={"test": records}) as dns,
        ):
            yield BulkLab(dns.nameserver, (p25, p587, p465), str(pki.ca_file), servers, dns)
    finally:
        pki.cleanup()


def _relative(name: str) -> str:
    name = name.rstrip(".").lower()
    if not name.endswith(".test"):
        raise ValueError(f"lab names end in .test: {name!r}")
    return name[: -len(".test")]
