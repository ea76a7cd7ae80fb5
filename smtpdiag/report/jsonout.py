"""The ``--json`` document: model objects to JSON and back.

The document is a contract (``schema.json`` next to this module describes it; its
version is :data:`smtpdiag.model.SCHEMA_VERSION`). It is produced by one generic walker,
:func:`to_jsonable`, so the JSON follows the model field by field:

* dataclass fields appear in declaration order, under their field names;
* ``StrEnum`` members become their values (``"tls-failure"``), tuples become lists,
  ``None`` stays ``null`` (keys are never omitted, so ``jq`` paths always exist);
* floats (durations and offsets in milliseconds) are rounded to 3 decimals (1 µs):
  the clocks are not more precise than that, and it keeps documents diffable.
  Non-finite floats (which the model never produces) become ``null``, because JSON
  cannot represent them.

A few *derived keys* are added where users script against them; they duplicate data
that is already in the document, are listed in :data:`DERIVED_KEYS`, and are ignored
by :func:`report_from_dict`:

* every route result gets ``"label"`` (``Route.label``, ``mx[address]:port``) and
  ``"failure"`` (a copy of the phase record that ended the probe unsuccessfully, as
  ``RouteResult.failure``, or ``null``), so
  ``jq '.routes[] | select(.ok | not) | [.label, .failure.phase, .failure.outcome]'``
  needs no logic of its own.

The top-level object leads with ``schema_version`` and ``tool_version``, then the small
facts (domain, start, duration, ports, families), then ``policy`` (the TLS policy, 3.1),
``resolution``, ``routes`` and ``diagnosis`` (see :data:`REPORT_KEY_ORDER`), so a
reader sees the version first.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Callable, Mapping
from enum import Enum
from typing import TYPE_CHECKING, Any

from .. import model
from ..errors import ConfigError
from ..model import SCHEMA_VERSION, ProbeReport, RouteResult
from .jsonable import FLOAT_DECIMALS, plain

if TYPE_CHECKING:
    from pathlib import Path

__all__ = [
    "DERIVED_KEYS",
    "FLOAT_DECIMALS",
    "REPORT_KEY_ORDER",
    "SCHEMA_FILE",
    "dumps",
    "load_schema",
    "loads",
    "report_from_dict",
    "report_to_dict",
    "schema_path",
    "to_jsonable",
]

#: File name of the JSON Schema shipped inside this package (package data).
SCHEMA_FILE = "schema.json"

#: Keys added to the plain field mapping of a model type: type -> ((key, getter), ...).
#: They are appended after the declared fields. Readers ignore them.
DERIVED_KEYS: Mapping[type, tuple[tuple[str, Callable[[Any], Any]], ...]] = {
    RouteResult: (
        ("label", lambda r: r.route.label),
        ("failure", lambda r: r.failure),
    ),
}

#: Top-level key order: versions, then the small facts, then the bulky parts. Every
#: ProbeReport field appears exactly once (a test checks it).
REPORT_KEY_ORDER = (
    "schema_version",
    "tool_version",
    "domain",
    "started_at",
    "duration_ms",
    "ports",
    "families",
    "policy",
    "resolution",
    "names",
    "routes",
    "vantage",
    "diagnosis",
)


def to_jsonable(obj: Any) -> Any:
    """Return ``obj`` (any model object, or a tuple/list/dict of them) as plain JSON data,
    with the :data:`DERIVED_KEYS` of the model types.

    Raises:
        TypeError: for a value that has no JSON form (e.g. a ``set`` or ``bytes``).
    """
    return plain(obj, DERIVED_KEYS)


def report_to_dict(report: ProbeReport) -> dict[str, Any]:
    """The JSON document of ``report`` (see ``schema.json``).

    ``schema_version`` is always :data:`~smtpdiag.model.SCHEMA_VERSION`, the version of
    the shape this code writes, whatever ``report.schema_version`` says.
    """
    body = to_jsonable(report)
    assert isinstance(body, dict)
    body["schema_version"] = SCHEMA_VERSION
    ordered = {key: body.pop(key) for key in REPORT_KEY_ORDER}
    ordered.update(body)  # a field added to the model without updating the order
    return ordered


def dumps(report: ProbeReport, *, indent: int | None = 2) -> str:
    """``report`` as a JSON text (UTF-8 safe, no NaN), keys in document order."""
    return json.dumps(report_to_dict(report), indent=indent, ensure_ascii=False, allow_nan=False)


def schema_path() -> Path:
    """Path of the committed JSON Schema (draft 2020-12) of the document."""
    # Imported here: pathlib and importlib.resources cost every --json process
    # milliseconds, and only schema checks need them.
    import importlib.resources
    from pathlib import Path

    resource = importlib.resources.files(__package__ or "smtpdiag.report") / SCHEMA_FILE
    # The package is installed as plain files (wheel or editable), never zipped.
    return Path(str(resource))


def load_schema() -> dict[str, Any]:
    """The JSON Schema of the document, parsed."""
    schema: dict[str, Any] = json.loads(schema_path().read_text(encoding="utf-8"))
    return schema


# ----------------------------------------------------------------------- reading


def _major(version: str) -> str:
    return version.split(".", 1)[0]


def report_from_dict(data: Mapping[str, Any]) -> ProbeReport:
    """Rebuild a :class:`~smtpdiag.model.ProbeReport` from a document written by
    :func:`report_to_dict` (e.g. a saved ``--json`` output), checking types on the way.

    Documents of the same major ``schema_version`` are accepted (a minor version only
    adds keys; unknown keys and the derived keys are ignored). Floats come back rounded
    as they were written.

    Raises:
        ConfigError: the document is not a report, has another major schema version, or
            a value has the wrong type (the message names the JSON path).
    """
    if not isinstance(data, Mapping):
        raise ConfigError("not a smtpdiag report: the document is not a JSON object")
    version = data.get("schema_version")
    if not isinstance(version, str):
        raise ConfigError("not a smtpdiag report: no schema_version")
    if _major(version) != _major(SCHEMA_VERSION):
        raise ConfigError(
            f"unsupported schema_version {version!r}: this smtpdiag reads {SCHEMA_VERSION}"
        )
    report: ProbeReport = _build(ProbeReport, data, "$")
    return report


def loads(text: str | bytes) -> ProbeReport:
    """Parse a JSON text written by :func:`dumps`; see :func:`report_from_dict`."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"not a JSON document: {exc}") from None
    return report_from_dict(data)


# Resolved type hints per dataclass (the model uses postponed annotations).
_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    hints = _HINTS.get(cls)
    if hints is None:
        # Globals: the module defining ``cls`` (the model package loads its names lazily,
        # so vars(model) alone may lack one); the package names come second.
        hints = typing.get_type_hints(cls, None, vars(model))
        _HINTS[cls] = hints
    return hints


def _fail(path: str, expected: str, value: object) -> ConfigError:
    got = "null" if value is None else type(value).__name__
    return ConfigError(f"bad report document at {path}: expected {expected}, got {got}")


def _build(tp: Any, value: Any, path: str) -> Any:
    """Convert JSON ``value`` to the model type ``tp``, or raise :class:`ConfigError`."""
    if isinstance(tp, typing.NewType):  # CauseId, StepId: read as their base type
        tp = tp.__supertype__
    origin = typing.get_origin(tp)
    if origin is types.UnionType or origin is typing.Union:
        return _build_optional(tp, value, path)
    if origin is tuple:
        if not isinstance(value, list):
            raise _fail(path, "array", value)
        (item_type, _ellipsis) = typing.get_args(tp)
        return tuple(_build(item_type, v, f"{path}[{i}]") for i, v in enumerate(value))
    if isinstance(tp, type) and issubclass(tp, Enum):
        return _build_enum(tp, value, path)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _build_dataclass(tp, value, path)
    return _build_scalar(tp, value, path)


def _build_optional(tp: Any, value: Any, path: str) -> Any:
    args = typing.get_args(tp)
    if value is None:
        if type(None) in args:
            return None
        raise _fail(path, _name(tp), value)
    (inner,) = [a for a in args if a is not type(None)]
    return _build(inner, value, path)


def _build_enum(tp: type[Enum], value: Any, path: str) -> Any:
    try:
        return tp(value)
    except ValueError:
        allowed = ", ".join(repr(m.value) for m in tp)
        raise ConfigError(
            f"bad report document at {path}: {value!r} is not one of {allowed}"
        ) from None


def _build_dataclass(tp: type, value: Any, path: str) -> Any:
    if not isinstance(value, Mapping):
        raise _fail(path, "object", value)
    hints = _hints(tp)
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(tp):
        if f.name in value:
            kwargs[f.name] = _build(hints[f.name], value[f.name], f"{path}.{f.name}")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"bad report document at {path}: missing {f.name!r}")
    return tp(**kwargs)


#: JSON scalar readers: (accepted Python types, JSON name); bool is never an int here.
_SCALARS: dict[Any, tuple[tuple[type, ...], str]] = {
    bool: ((bool,), "boolean"),
    int: ((int,), "integer"),
    float: ((int, float), "number"),
    str: ((str,), "string"),
}


def _build_scalar(tp: Any, value: Any, path: str) -> Any:
    if tp not in _SCALARS:
        raise TypeError(f"no reader for {tp!r} at {path}")  # a model type this code misses
    accepted, name = _SCALARS[tp]
    if (isinstance(value, bool) and tp is not bool) or not isinstance(value, accepted):
        raise _fail(path, name, value)
    if tp is float:
        return float(typing.cast(float, value))  # an int or a float, checked above
    return value


def _name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp)
