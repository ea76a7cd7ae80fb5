"""Whatever the server does, probe_routes returns by the deadline (+1 s at most)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest
from probe_helpers import phases

from smtpdiag.config import ProbeConfig
from smtpdiag.model import Outcome, Phase, Route, SkipReason
from smtpdiag.probing import probe_routes
from smtpdiag.testing.smtpserver import Blackhole

OK = Outcome.OK


@pytest.mark.parametrize("server", ["silent", "drip"])
async def test_deadline_bounds_hostile_server(
    server: str, route_to: Callable[..., Route], probe_config: Callable[..., ProbeConfig]
) -> None:
    """Phase limits far above the deadline: only the deadline can end the probe."""
    config = probe_config(greeting=30.0, command=30.0, total=30.0)
    loop = asyncio.get_running_loop()
    start = loop.time()
    deadline = start + 1.2
    (result,) = await probe_routes([route_to(server)], config, deadline=deadline)
    elapsed = loop.time() - start
    assert elapsed < 1.2 + 1.0
    assert elapsed >= 1.1
    assert phases(result) == [(Phase.CONNECT, OK), (Phase.GREETING, Outcome.TIMEOUT)]
    greeting = result.phase(Phase.GREETING)
    assert greeting is not None
    assert greeting.detail == "overall deadline reached while waiting for greeting"
    assert 1000 <= greeting.duration_ms <= 1300


async def test_drip_ends_by_the_phase_limit(
    route_to: Callable[..., Route], probe_config: Callable[..., ProbeConfig]
) -> None:
    """A server dripping a byte a second keeps the line alive, not the phase."""
    start = time.monotonic()
    (result,) = await probe_routes([route_to("drip")], probe_config(greeting=1.3))
    assert time.monotonic() - start < 2.3
    greeting = result.phase(Phase.GREETING)
    assert greeting is not None and greeting.outcome is Outcome.TIMEOUT
    assert 1250 <= greeting.duration_ms < 1800
    assert greeting.detail == "no greeting within 1.3 s"


async def test_deadline_with_queued_routes(
    route_to: Callable[..., Route],
    probe_config: Callable[..., ProbeConfig],
    blackhole: Blackhole,
) -> None:
    """Routes queued behind a per-address slot still end by the deadline."""
    routes = [route_to("silent"), route_to("drip"), route_to("healthy"), route_to("port25")]
    routes.append(
        Route("mx.test", 10, 1, "127.0.0.1", routes[0].family, blackhole.port, routes[0].tls_mode)
    )
    config = probe_config(connect=30.0, greeting=30.0, total=30.0)
    loop = asyncio.get_running_loop()
    start = loop.time()
    results = await probe_routes(routes, config, deadline=start + 1.0)
    assert loop.time() - start < 2.0
    assert len(results) == len(routes)
    assert [(r.route.address, r.route.port) for r in results] == [
        (r.address, r.port) for r in routes
    ]
    # The first route used the whole time; the rest waited for the address's slot and
    # were never attempted: not a timeout of the server (issue 8).
    assert results[0].phase(Phase.GREETING).outcome is Outcome.TIMEOUT  # type: ignore[union-attr]
    for result in results[1:]:
        assert phases(result) == [(Phase.CONNECT, Outcome.NOT_ATTEMPTED)]
        assert result.phases[0].skip_reason is SkipReason.DEADLINE
        assert result.phases[0].duration_ms == 0.0


async def test_deadline_already_passed(
    route_to: Callable[..., Route], probe_config: Callable[..., ProbeConfig]
) -> None:
    loop = asyncio.get_running_loop()
    start = loop.time()
    (result,) = await probe_routes([route_to("healthy")], probe_config(), deadline=start - 1)
    assert loop.time() - start < 0.5
    assert not result.ok
    # Never tried: not a timeout of the server (issue 8).
    assert result.phases[0].outcome is Outcome.NOT_ATTEMPTED
    assert result.phases[0].skip_reason is SkipReason.DEADLINE


async def test_cancellation_propagates(
    route_to: Callable[..., Route], probe_config: Callable[..., ProbeConfig]
) -> None:
    """Cancelling the caller cancels the probes (no orphan tasks, no swallowed cancel)."""
    task = asyncio.create_task(probe_routes([route_to("silent")], probe_config(greeting=10.0)))
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_no_routes(probe_config: Callable[..., ProbeConfig]) -> None:
    assert await probe_routes([], probe_config()) == ()
