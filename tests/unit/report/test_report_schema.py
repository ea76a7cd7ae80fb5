"""The committed JSON Schema: valid, in step with the model, and true of real documents."""

from __future__ import annotations

import dataclasses
import enum
import inspect
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped,unused-ignore]
import pytest
from factories.report_cases import SCENARIOS, greeting_421, handmade_diagnosis_421, hostile

import smtpdiag.report
from smtpdiag import model
from smtpdiag.report.jsonout import DERIVED_KEYS, load_schema, report_to_dict, schema_path

SCHEMA = load_schema()
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def _model_classes(kind: type) -> dict[str, type]:
    out = {}
    for name in model.__all__:
        obj = getattr(model, name)
        if inspect.isclass(obj) and (
            issubclass(obj, enum.Enum) if kind is enum.Enum else dataclasses.is_dataclass(obj)
        ):
            out[name] = obj
    return out


def test_schema_is_valid_draft_2020_12() -> None:
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


def test_schema_ships_inside_the_package() -> None:
    path = schema_path()
    assert path.parent == Path(smtpdiag.report.__file__).parent
    assert json.loads(path.read_text(encoding="utf-8")) == SCHEMA


def test_schema_version_matches_the_model() -> None:
    assert SCHEMA["properties"]["schema_version"]["const"] == model.SCHEMA_VERSION


@pytest.mark.parametrize("name", sorted(_model_classes(enum.Enum)))
def test_every_enum_matches_the_model(name: str) -> None:
    cls: Any = _model_classes(enum.Enum)[name]
    assert SCHEMA["$defs"][name]["enum"] == [m.value for m in cls]


@pytest.mark.parametrize("name", sorted(_model_classes(type)))
def test_every_dataclass_has_exactly_its_fields(name: str) -> None:
    cls = _model_classes(type)[name]
    derived = [key for key, _ in DERIVED_KEYS.get(cls, ())]
    fields = [f.name for f in dataclasses.fields(cls)] + derived
    node = SCHEMA if name == "ProbeReport" else SCHEMA["$defs"][name]
    assert node["additionalProperties"] is False
    assert sorted(node["properties"]) == sorted(fields)
    assert sorted(node["required"]) == sorted(fields)


def _docs() -> dict[str, dict[str, Any]]:
    docs = {name: report_to_dict(fn()) for name, fn in SCENARIOS.items()}
    r = greeting_421()
    docs["diagnosed"] = report_to_dict(replace(r, diagnosis=handmade_diagnosis_421(r)))
    docs["hostile"] = report_to_dict(hostile())
    return docs


@pytest.mark.parametrize(("name", "doc"), sorted(_docs().items()))
def test_documents_validate(name: str, doc: dict[str, Any]) -> None:
    errors = [e.message for e in VALIDATOR.iter_errors(doc)]
    assert errors == [], name


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.update(extra=1),
        lambda d: d["routes"][0]["phases"][0].update(outcome="exploded"),
        lambda d: d["routes"][0].update(port=25),
        lambda d: d["resolution"]["mx_query"].update(duration_ms=-1),
        lambda d: d.update(schema_version="1.0"),
        lambda d: d["diagnosis"]["findings"][0].update(code="4.3"),
        lambda d: d["diagnosis"].update(verdict="fine"),
        lambda d: d["routes"][0].pop("label"),
    ],
)
def test_schema_rejects_wrong_documents(mutate: Any) -> None:
    doc = _docs()["diagnosed"]
    assert VALIDATOR.is_valid(doc)
    mutate(doc)
    assert not VALIDATOR.is_valid(doc)


GOLDEN_JSON = sorted((Path(__file__).resolve().parents[3] / "fixtures" / "golden").glob("*.json"))


@pytest.mark.parametrize("path", GOLDEN_JSON, ids=lambda p: p.name)
def test_golden_documents_validate_and_reload(path: Path) -> None:
    """The diagnosed goldens (real diagnoses) match the schema and survive a reload."""
    from smtpdiag.report.jsonout import dumps, loads

    text = path.read_text(encoding="utf-8")
    doc = json.loads(text)
    assert [e.message for e in VALIDATOR.iter_errors(doc)] == []
    assert doc["diagnosis"] is not None
    assert dumps(loads(text)) + "\n" == text


def test_there_are_golden_documents() -> None:
    assert len(GOLDEN_JSON) >= 6
