"""The --json document: the generic walker, derived keys, key order, and reading back."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import replace
from typing import Any

import pytest
from factories.report_cases import SCENARIOS, greeting_421, handmade_diagnosis_421, healthy

from smtpdiag.errors import ConfigError
from smtpdiag.model import (
    SCHEMA_VERSION,
    Outcome,
    Phase,
    PhaseRecord,
    ProbeReport,
    SmtpReply,
)
from smtpdiag.report.jsonout import (
    DERIVED_KEYS,
    REPORT_KEY_ORDER,
    dumps,
    loads,
    report_from_dict,
    report_to_dict,
    to_jsonable,
)


def diagnosed() -> ProbeReport:
    r = greeting_421()
    return replace(r, diagnosis=handmade_diagnosis_421(r))


ALL = {**{name: fn() for name, fn in SCENARIOS.items()}, "diagnosed": diagnosed()}


def test_walker_converts_enums_tuples_floats_and_keeps_none() -> None:
    rec = PhaseRecord(Phase.TLS_HANDSHAKE, Outcome.TLS_FAILURE, 1.23456789, 2.0004, None, "x")
    out = to_jsonable(rec)
    assert out == {
        "phase": "tls-handshake",
        "outcome": "tls-failure",
        "start_ms": 1.235,
        "duration_ms": 2.0,
        "reply": None,
        "detail": "x",
        "error_type": None,
        "errno": None,
        "tls_reason": None,
        "tls_alert": None,
        "skip_reason": None,
    }
    # Declaration order, not alphabetical.
    assert list(out) == [f.name for f in dataclasses.fields(PhaseRecord)]
    assert type(out["phase"]) is str  # the plain value, not the StrEnum member
    assert to_jsonable((1, (2.5, None), [True])) == [1, [2.5, None], [True]]
    assert to_jsonable({"a": Phase.QUIT}) == {"a": "quit"}


def test_walker_refuses_what_json_cannot_hold_and_nulls_non_finite() -> None:
    with pytest.raises(TypeError, match="set"):
        to_jsonable({1, 2})
    with pytest.raises(TypeError, match="bytes"):
        to_jsonable(b"x")
    assert to_jsonable(float("nan")) is None
    assert to_jsonable(float("inf")) is None


def test_route_results_carry_label_and_failure() -> None:
    doc = report_to_dict(greeting_421())
    route = doc["routes"][0]
    assert route["label"] == "mx.busy.example[198.51.100.31]:25"
    assert route["failure"]["phase"] == "greeting"
    assert route["failure"]["reply"] == {
        "code": 421,
        "enhanced": "4.3.2",
        "text": "4.3.2 Service currently unavailable, too many connections",
        "hint": None,
    }
    # The derived keys come after the declared ones, and only where documented.
    assert list(route)[-2:] == ["label", "failure"]
    ok_route = report_to_dict(healthy())["routes"][0]
    assert ok_route["failure"] is None
    assert set(DERIVED_KEYS) == {type(healthy().routes[0])}


def test_top_level_order_covers_every_report_field() -> None:
    fields = {f.name for f in dataclasses.fields(ProbeReport)}
    assert sorted(REPORT_KEY_ORDER) == sorted(fields)
    doc = report_to_dict(healthy())
    assert list(doc) == list(REPORT_KEY_ORDER)
    assert doc["schema_version"] == SCHEMA_VERSION
    assert doc["diagnosis"] is None


def test_schema_version_is_the_writers_version() -> None:
    old = replace(healthy(), schema_version="1.0")
    assert report_to_dict(old)["schema_version"] == SCHEMA_VERSION


def test_dumps_is_strict_json_and_keeps_unicode() -> None:
    r = replace(healthy(), domain="bücher.example")
    text = dumps(r)
    assert "bücher.example" in text
    assert json.loads(text) == report_to_dict(r)
    assert "\n" not in dumps(r, indent=None)


@pytest.mark.parametrize("name", sorted(ALL))
def test_round_trip(name: str) -> None:
    report = ALL[name]
    text = dumps(report)
    back = loads(text)
    assert back == report  # the factories use 3-decimal floats, so nothing is lost
    assert dumps(back) == text


def test_round_trip_rounds_floats_once() -> None:
    r = healthy()
    r = replace(r, duration_ms=123.456789)
    back = report_from_dict(report_to_dict(r))
    assert back.duration_ms == 123.457
    assert report_to_dict(back) == report_to_dict(r)


def _doc() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(dumps(diagnosed()))
    return doc


def test_reader_accepts_same_major_and_ignores_unknown_keys() -> None:
    doc = _doc()
    doc["schema_version"] = SCHEMA_VERSION.split(".")[0] + ".99"
    doc["added_later"] = {"x": 1}
    doc["routes"][0]["new_field"] = 3
    back = report_from_dict(doc)
    assert back.routes[0] == diagnosed().routes[0]
    assert back.schema_version.endswith(".99")


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.pop("schema_version"), "no schema_version"),
        (lambda d: d.update(schema_version="1.0"), "unsupported schema_version '1.0'"),
        (lambda d: d.update(schema_version="99.0"), "unsupported schema_version"),
        (lambda d: d.pop("domain"), "missing 'domain'"),
        (lambda d: d.update(duration_ms="12"), r"\$\.duration_ms: expected number, got str"),
        (lambda d: d.update(ports=[25, True]), r"\$\.ports\[1\]: expected integer, got bool"),
        (
            lambda d: d["routes"][1]["phases"][0].update(outcome="exploded"),
            "'exploded' is not one of",
        ),
        (
            lambda d: d["routes"][0].update(ok=None),
            r"\$\.routes\[0\]\.ok: expected boolean, got null",
        ),
        (lambda d: d["diagnosis"].update(findings={}), r"findings: expected array, got dict"),
        (lambda d: d["resolution"].update(mx_query=[]), r"mx_query: expected object, got list"),
    ],
)
def test_reader_rejects_bad_documents(mutate: Any, message: str) -> None:
    doc = _doc()
    mutate(doc)
    with pytest.raises(ConfigError, match=message):
        report_from_dict(doc)


def test_reader_rejects_non_objects_and_bad_json() -> None:
    with pytest.raises(ConfigError, match="not a JSON object"):
        report_from_dict([1, 2])  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="not a JSON document"):
        loads("{not json")


def test_optional_fields_come_back_as_none() -> None:
    r = greeting_421()
    rec = r.routes[0].failure
    assert rec is not None and rec.reply is not None
    assert rec.reply == SmtpReply(421, "4.3.2", rec.reply.text)
    back = loads(dumps(r))
    assert back.routes[0].tls is None
    assert back.routes[2].tls is not None  # 465: the handshake ran before the 421
    assert back.diagnosis is None
