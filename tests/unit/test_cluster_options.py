"""The cluster's options and the broker URL's password (``bulk --engine celery``)."""

from __future__ import annotations

import pytest

from smtpdiag.errors import ConfigError
from smtpdiag.triage.cluster import ClusterOptions, mask_url


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("redis://:s3cret@redis.test:6379/0", "redis://:****@redis.test:6379/0"),
        ("rediss://user:s3cret@redis.test:6380/1", "rediss://user:****@redis.test:6380/1"),
        ("redis://:p@ss:w0rd@redis.test/0", "redis://:****@redis.test/0"),
        ("redis://redis.test:6379/0", "redis://redis.test:6379/0"),
        ("redis://user@redis.test/0", "redis://user@redis.test/0"),
        ("redis://redis.test/0?password=s3cret", "redis://redis.test/0?password=%2A%2A%2A%2A"),
    ],
)
def test_the_password_is_masked(url: str, masked: str) -> None:
    assert mask_url(url) == masked
    assert "s3cret" not in mask_url(url) and "w0rd" not in mask_url(url)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"broker": "amqp://guest:s3cret@rabbit.test//"},
        {"broker": "redis.test:6379"},
        {"broker": "redis://redis.test/0", "run_id": "../../etc"},
        {"broker": "redis://redis.test/0", "run_id": ""},
        {"broker": "redis://redis.test/0", "batch_size": 0},
        {"broker": "redis://redis.test/0", "throttle_backoff": -1.0},
    ],
)
def test_bad_options_are_one_clear_error_without_the_password(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError) as caught:
        ClusterOptions(**kwargs)  # type: ignore[arg-type]
    assert "s3cret" not in str(caught.value)


def test_the_options_repr_holds_no_password() -> None:
    assert "s3cret" not in repr(ClusterOptions("redis://:s3cret@redis.test/0"))


def test_each_run_gets_its_own_id() -> None:
    a, b = ClusterOptions("redis://redis.test/0"), ClusterOptions("redis://redis.test/0")
    assert a.run_id != b.run_id


def test_the_app_runs_json_only() -> None:
    pytest.importorskip("celery")
    from smtpdiag.triage.cluster.app import app

    conf = app.conf
    assert conf.task_serializer == conf.result_serializer == "json"
    assert list(conf.accept_content) == list(conf.result_accept_content) == ["json"]
    assert conf.task_acks_late and conf.task_reject_on_worker_lost
    assert conf.worker_prefetch_multiplier == 1
