"""Scripted SMTP servers that greet slowly (:attr:`Behaviour.SLOW_GREETING`) on extra
loopback addresses of the health lab, on the lab's STARTTLS port, with one zone per
domain pointing at them. Their sessions last long enough to overlap, so a server's
``peak`` shows how many connections a client held open at once."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from health_lab import HealthLab

from smtpdiag.testing.smtpserver import Behaviour, ServerSet, ServerSpec

__all__ = ["slow_servers"]


@contextmanager
def slow_servers(
    lab: HealthLab, address: str, domains: list[str], behaviour: Behaviour = Behaviour.SLOW_GREETING
) -> Iterator[ServerSet]:
    """One server at ``address`` (name ``"slow"``); each domain's only MX points at it."""
    spec = ServerSpec("slow", behaviour, False, "good", address, f"mx.{domains[0]}", lab.port)
    with ServerSet([spec], lab.servers.pki) as servers:
        for domain in domains:
            lab.dns.server.add_zone(domain, {"@": ["MX 10 mx"], "mx": [f"A {address}"]})
        yield servers
