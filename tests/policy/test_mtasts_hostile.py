"""A hostile policy host cannot hold the probe past its deadline.

The policy is parsed inside the probe's event loop, where ``asyncio.timeout`` cannot
interrupt synchronous work: a parser that is quadratic in a 64 KiB policy (a line of
spaces once took 11 s) would stall every probe, bulk run and server sharing the loop.
These tests serve such policies from the real HTTPS test server and check both the
end of the lookup and that the loop kept turning while it ran.
"""

from __future__ import annotations

import asyncio

import pytest
from sts_kit import PolicyServerFactory, make_config, zones

from smtpdiag.model import StsProblem, StsStatus
from smtpdiag.policy.mtasts import lookup_mta_sts
from smtpdiag.testing.certs import TestPki
from smtpdiag.testing.httpsserver import PolicyResponse

LIMIT = 64 * 1024
HEAD = b"version: STSv1\nmode: enforce\nmx: a"


def _spaces() -> bytes:
    """An mx value with a run of inner spaces, filling the policy size limit."""
    return HEAD + b" " * (LIMIT - len(HEAD) - 2) + b"b\n"


def _many_lines() -> bytes:
    """Thousands of ``key:`` lines, each with trailing spaces and tabs."""
    line = b"x-ext: v \t \t \t \t \n"
    return HEAD + b".example.test\n" + line * ((LIMIT - len(HEAD) - 20) // len(line))


async def _ticker(gaps: list[float], stop: asyncio.Event) -> None:
    """Record the longest time the loop did not run this task."""
    loop = asyncio.get_running_loop()
    last = loop.time()
    while not stop.is_set():
        await asyncio.sleep(0.01)
        now = loop.time()
        gaps.append(now - last)
        last = now


@pytest.mark.parametrize("body", [_spaces(), _many_lines()], ids=["inner-spaces", "many-lines"])
async def test_hostile_policy_ends_by_the_deadline(
    body: bytes, dns_server, policy_server: PolicyServerFactory, pki: TestPki
) -> None:
    assert len(body) <= LIMIT
    dns = await dns_server(zones())
    web = await policy_server(PolicyResponse(body))
    config = make_config(dns, pki, web, max_policy_bytes=LIMIT)
    loop = asyncio.get_running_loop()
    budget = 3.0
    deadline = loop.time() + budget
    gaps: list[float] = []
    stop = asyncio.Event()
    ticker = asyncio.create_task(_ticker(gaps, stop))
    try:
        result = await lookup_mta_sts(
            "example.test", ("mx1.example.test",), config, deadline=deadline
        )
    finally:
        stop.set()
        await ticker
    ended = loop.time()
    assert ended <= deadline + 0.25, f"the lookup ended {ended - deadline:.2f} s past its deadline"
    # Nothing synchronous held the loop: the other task ran at least every half second.
    assert max(gaps) < 0.5, f"the loop was blocked for {max(gaps):.2f} s"
    assert result.fetch is not None and result.fetch.error is None
    assert result.status is StsStatus.POLICY_INVALID
    assert result.policy is not None
    if body == _spaces():
        assert StsProblem.POLICY_BAD_MX in result.policy.problems
