"""Ports for scripted servers: three numbers free on every loopback address of a lab.

Real MX hosts all listen on 25, 587 and 465; a lab of several loopback addresses stands
in with the same three unprivileged numbers on each address.
"""

from __future__ import annotations

import random
import socket

__all__ = ["pick_shared_ports"]


def _free_on_all(port: int, addresses: list[str]) -> bool:
    for address in addresses:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((address, port))
            except OSError:
                return False
    return True


def pick_shared_ports(addresses: list[str], rng: random.Random) -> tuple[int, int, int]:
    """Three ports free on every address in ``addresses`` (stand-ins for 25/587/465)."""
    # Bounded: a handful of tries in the dynamic range; a busy machine gets an error.
    for _ in range(50):
        base = rng.randrange(20000, 60000, 10)
        ports = (base + 5, base + 7, base + 6)  # 25 / 587 / 465 stand-ins, like xx25/xx87/xx65
        if all(_free_on_all(p, addresses) for p in ports):
            return ports
    raise RuntimeError(f"no free ports for the servers on {', '.join(addresses)}")
