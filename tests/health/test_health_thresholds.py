"""Thresholds: defaults, validation (ConfigError with one line), phase mapping."""

from __future__ import annotations

import pytest

from smtpdiag.errors import ConfigError
from smtpdiag.health import Limit, Thresholds, tls_version_rank
from smtpdiag.model import Phase


def test_defaults_are_sane() -> None:
    th = Thresholds()
    assert th.greeting == Limit(2.0, 5.0)
    assert (th.cert_warn_days, th.cert_crit_days) == (21, 7)
    assert th.require_starttls and not th.require_all_mx and not th.require_implicit_tls
    assert th.min_tls_version == "TLSv1.2"


def test_phase_limits_map_helo_and_ehlo_tls_to_ehlo() -> None:
    th = Thresholds(ehlo=Limit(0.5, 0.9))
    assert th.limit(Phase.HELO) == th.limit(Phase.EHLO_TLS) == Limit(0.5, 0.9)
    assert th.limit(Phase.QUIT) is None
    assert th.limit(Phase.TLS_HANDSHAKE) == th.tls_handshake


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"greeting": Limit(5.0, 2.0)}, "greeting warning limit (5 s) must not exceed"),
        ({"connect": Limit(-1.0, None)}, "connect warning limit must be"),
        ({"connect": Limit(None, float("nan"))}, "connect critical limit must be"),
        ({"ehlo": Limit(True, None)}, "ehlo warning limit"),  # type: ignore[arg-type]
        ({"cert_warn_days": 5, "cert_crit_days": 7}, "must not be fewer"),
        ({"cert_crit_days": -1}, "cert crit days must be 0-3650"),
        ({"min_tls_version": "TLSv9"}, "minimum TLS version must be one of"),
        ({"require_all_mx": "yes"}, "require_all_mx must be True or False"),
        ({"starttls": (1, 2)}, "starttls limits must be a Limit"),
    ],
)
def test_invalid_thresholds_raise_config_error(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        Thresholds(**kwargs)  # type: ignore[arg-type]
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_frozen() -> None:
    th = Thresholds()
    with pytest.raises(AttributeError):
        th.require_all_mx = True  # type: ignore[misc]


def test_tls_version_rank() -> None:
    assert tls_version_rank("TLSv1.3") > tls_version_rank("TLSv1.2") > tls_version_rank("TLSv1")  # type: ignore[operator]
    assert tls_version_rank("QUIC") is None
    assert tls_version_rank(None) is None


def test_every_threshold_field_has_one_row_and_every_judged_phase_one_limit() -> None:
    from dataclasses import fields

    from smtpdiag.health.thresholds import DAYS_ROWS, LATENCY_ROWS

    th = Thresholds()
    limit_fields = {f.name for f in fields(th) if isinstance(getattr(th, f.name), Limit)}
    assert limit_fields == {row.field for row in LATENCY_ROWS}
    assert {f.name for f in fields(th) if f.name.startswith("cert_")} == {
        row.field for row in DAYS_ROWS
    }
    for row in LATENCY_ROWS:  # the defaults are the rows'
        assert getattr(th, row.field) == Limit(row.warn, row.crit)
    phases = [p for row in LATENCY_ROWS for p in row.phases]
    assert len(phases) == len(set(phases))  # a phase has one limit
    timed = {p for p in Phase if p is not Phase.QUIT}
    assert {p for p in Phase if th.limit(p) is not None} == timed
