"""Lab regression: the greeting latency on 465 is Postfix's, not our delayed ACK's.

STYLE habit 6: on 465 Postfix writes the 220 right after the handshake; with the
client's delayed ACK meeting the server's Nagle, a client that only waits sees it
~40 ms late. ``TCP_QUICKACK`` (set before every read, :func:`smtpdiag.probing.connect.quickack`)
makes it well under a millisecond on the lab's veth links. Without the flag this test's
median is ~40 ms.
"""

from __future__ import annotations

import statistics

import pytest

from . import labctl
from .test_scenarios import probe, routes

pytestmark = pytest.mark.lab

PROBES = 5


def test_greeting_on_465_is_not_delayed_by_our_ack(lab: labctl.LabInfo) -> None:
    greetings: list[float] = []
    ehlos: list[float] = []
    for _ in range(PROBES):
        code, doc = probe(lab, "healthy.lab.test", "--ports", "465", "-4")
        assert code == 0, doc
        (route,) = routes(doc)
        phases = {rec["phase"]: rec for rec in route["phases"]}
        assert phases["greeting"]["outcome"] == "ok", route
        greetings.append(phases["greeting"]["duration_ms"])
        ehlos.append(phases["ehlo"]["duration_ms"])
    assert statistics.median(greetings) < 20.0, greetings
    assert statistics.median(ehlos) < 20.0, ehlos
