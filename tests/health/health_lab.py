"""A loopback lab for the health tests: a local DNS server and scripted SMTP servers.

Each MX host has its own loopback address (127.78.0.x) and every server listens on the
same two ports, stand-ins for 25 (STARTTLS) and 465 (implicit TLS), like real MX hosts.
Nothing here leaves loopback; every check gets the local nameserver explicitly.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from smtpdiag.config import (
    LOOPBACK_NETWORKS,
    Nameserver,
    ProbeConfig,
    ResolverConfig,
    Timeouts,
    TlsConfig,
)
from smtpdiag.model import AddressFamily
from smtpdiag.testing.certs import TestPki
from smtpdiag.testing.dnsserver import ThreadedDnsServer
from smtpdiag.testing.ports import pick_shared_ports
from smtpdiag.testing.smtpserver import Behaviour, ServerSet, ServerSpec

__all__ = ["DOMAINS", "HealthLab", "health_lab"]

# host -> (address, behaviour, certificate); None = nothing listens (connect refused)
HOSTS: dict[str, tuple[str, Behaviour | None, str]] = {
    "mx1.ok.health.test": ("127.78.0.1", Behaviour.HEALTHY, "good"),
    "mx1.degraded.health.test": ("127.78.0.2", None, "good"),
    "mx.busy.health.test": ("127.78.0.3", Behaviour.GREETING_421, "good"),
    "mx.nostarttls.health.test": ("127.78.0.4", Behaviour.NO_STARTTLS, "good"),
    "mx.expired.health.test": ("127.78.0.5", Behaviour.HEALTHY, "expired"),
}

ZONES: dict[str, dict[str, list[str]]] = {
    "ok.health.test": {"@": ["MX 10 mx1"], "mx1": ["A 127.78.0.1"]},
    # primary refuses, backup (the healthy server) works
    "degraded.health.test": {
        "@": ["MX 10 mx1", "MX 20 mx2"],
        "mx1": ["A 127.78.0.2"],
        "mx2": ["A 127.78.0.1"],
    },
    "busy.health.test": {"@": ["MX 10 mx"], "mx": ["A 127.78.0.3"]},
    "nostarttls.health.test": {"@": ["MX 10 mx"], "mx": ["A 127.78.0.4"]},
    "expired.health.test": {"@": ["MX 10 mx"], "mx": ["A 127.78.0.5"]},
    "nullmx.health.test": {"@": ["MX 0 ."]},
    "unanswered.health.test": {"@": ["MX 10 mx"], "mx": ["A 127.78.0.1"]},
}

#: domain -> expected health status (default thresholds, STARTTLS port only)
DOMAINS = {
    "ok.health.test": "ok",
    "degraded.health.test": "warning",
    "busy.health.test": "critical",
    "nostarttls.health.test": "warning",
    "expired.health.test": "warning",
    "nullmx.health.test": "critical",
    "unanswered.health.test": "unknown",
}


@dataclass(frozen=True, slots=True)
class HealthLab:
    """The running lab: nameserver, the two ports, the CA bundle, the DNS server."""

    dns: ThreadedDnsServer
    servers: ServerSet
    port: int  #: STARTTLS port (the "25")
    tls_port: int  #: implicit TLS port (the "465")
    ca_file: str

    @property
    def nameserver(self) -> Nameserver:
        return self.dns.nameserver

    def config(self, *, with_tls_port: bool = False, total: float = 5.0) -> ProbeConfig:
        """Probe config for the lab: short timeouts, IPv4, the lab CA."""
        ports = (self.port, self.tls_port) if with_tls_port else (self.port,)
        return ProbeConfig(
            ports=ports,
            families=(AddressFamily.IPV4,),
            implicit_tls_ports=(self.tls_port,),
            resolver=ResolverConfig((self.nameserver,)),
            tls=TlsConfig(ca_file=self.ca_file),
            timeouts=Timeouts(dns=0.5, connect=1, greeting=1, command=1, tls=1, total=total),
            allow_targets=LOOPBACK_NETWORKS,
        )

    def cli_args(self, *, with_tls_port: bool = False) -> list[str]:
        """The matching CLI probe options."""
        ports = f"{self.port},{self.tls_port}" if with_tls_port else str(self.port)
        ns = self.nameserver
        return [
            "--nameserver",
            f"{ns.address}:{ns.port}",
            "--ports",
            ports,
            "--implicit-tls-ports",
            str(self.tls_port),
            "-4",
            "--allow-targets",
            "127.0.0.0/8",
            "--ca-file",
            self.ca_file,
            "--dns-timeout",
            "0.5",
            "--connect-timeout",
            "1",
            "--greeting-timeout",
            "1",
            "--command-timeout",
            "1",
            "--tls-timeout",
            "1",
            "--timeout",
            "5",
        ]


@contextmanager
def health_lab(seed: int = 5) -> Iterator[HealthLab]:
    """Start the lab's DNS and SMTP servers on background threads; stop them after."""
    listening = sorted({a for a, b, _ in HOSTS.values() if b is not None})
    port, _, tls_port = pick_shared_ports([*listening, "127.78.0.9"], random.Random(seed))
    pki = TestPki(names=(*HOSTS, "mx2.degraded.health.test", "mx.watch.health.test"))
    specs = []
    for host, (address, behaviour, cert) in HOSTS.items():
        if behaviour is None:
            continue
        specs.append(ServerSpec(f"{host}:25", behaviour, False, cert, address, host, port))
        specs.append(ServerSpec(f"{host}:465", behaviour, True, cert, address, host, tls_port))
    dns = ThreadedDnsServer(ZONES, {"unanswered.health.test/MX": "drop"})
    servers = ServerSet(specs, pki)
    dns.start()
    try:
        servers.start()
        try:
            yield HealthLab(dns, servers, port, tls_port, str(pki.ca_file))
        finally:
            servers.stop()
    finally:
        dns.stop()
        pki.cleanup()
