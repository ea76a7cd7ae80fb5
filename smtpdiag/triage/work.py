"""The unit of work of a bulk run as a plain value, and the core as a function of it.

A :class:`WorkUnit` (a batch of domains, the probe settings, the politeness settings
and the route results already known) converts to and from plain JSON data
(:meth:`WorkUnit.to_dict`, :meth:`WorkUnit.from_dict`), and :func:`run_batch` maps
such data to plain data. That is all an existing distributed task engine needs to
run batches on several machines (for example a Celery task whose body is
``return run_batch(unit)``, with the JSON serializer); the route results a batch
returns can seed the next batch, so a provider's routes are probed once per worker
rather than once per batch. Nothing here schedules, queues or distributes work.

Politeness holds per process: several workers probing the same provider each keep
their own per-address limits, so give each worker a share of the limit
(``per_address_limit=1``, a lower ``per_address_rate``) or split batches by provider.
On one machine, ``smtpdiag bulk --workers`` (:mod:`.pool`) does not split the limits:
its workers resolve and diagnose, and ask the main process for every route result.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from ..blocking import run_blocking
from ..config import ProbeConfig
from ..errors import ConfigError
from ..model import RouteResult
from .input import Target, parse_line
from .model import BulkItem, BulkSettings, DomainRecord, ErrorRecord
from .run import RunStats, run_targets

__all__ = ["WorkResult", "WorkUnit", "from_plain", "run_batch", "run_unit", "to_plain"]

#: Version of the plain-data shape of units and results.
WORK_VERSION = "1"
#: Largest batch accepted: a unit is meant to be one task's worth of work.
MAX_BATCH = 100_000


@dataclass(frozen=True, slots=True)
class WorkUnit:
    """A batch of domains and everything needed to triage it.

    Attributes:
        domains: Domains (or addresses: their domain is taken) to triage.
        config: Probe settings (ports, timeouts, resolver, TLS trust, address policy).
        settings: Politeness and memory bounds.
        routes: Route results already known (from earlier batches): not probed again.
        now: The instant retry schedules count from (ISO 8601 UTC), or ``None``.
    """

    domains: tuple[str, ...]
    config: ProbeConfig = dataclasses.field(default_factory=ProbeConfig)
    settings: BulkSettings = dataclasses.field(default_factory=BulkSettings)
    routes: tuple[RouteResult, ...] = ()
    now: str | None = None

    def __post_init__(self) -> None:
        if len(self.domains) > MAX_BATCH:
            raise ConfigError(f"a work unit holds at most {MAX_BATCH} domains")

    def to_dict(self) -> dict[str, Any]:
        """The unit as plain JSON data."""
        body = to_plain(self)
        assert isinstance(body, dict)
        return {"work_version": WORK_VERSION, **body}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WorkUnit:
        """A unit from :meth:`to_dict`'s data; raises :class:`ConfigError` if malformed."""
        if data.get("work_version") != WORK_VERSION:
            raise ConfigError(
                f"work unit version {data.get('work_version')!r} is not {WORK_VERSION}"
            )
        body = {k: v for k, v in data.items() if k != "work_version"}
        unit = from_plain(cls, body, "unit")
        assert isinstance(unit, WorkUnit)
        return unit


@dataclass(frozen=True, slots=True)
class WorkResult:
    """What a unit gave.

    Attributes:
        records: Domain records and error records, in completion order.
        routes: The route results known at the end (seed for the next batch).
        connections: Connections opened per address by this batch.
    """

    records: tuple[DomainRecord | ErrorRecord, ...]
    routes: tuple[RouteResult, ...]
    connections: dict[str, int] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The result as plain JSON data."""
        body = to_plain(self)
        assert isinstance(body, dict)
        return {"work_version": WORK_VERSION, **body}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WorkResult:
        """A result from :meth:`to_dict`'s data."""
        body = {k: v for k, v in data.items() if k != "work_version"}
        result = from_plain(cls, body, "result")
        assert isinstance(result, WorkResult)
        return result


async def run_unit(unit: WorkUnit) -> WorkResult:
    """Triage one unit: the same pipeline as :func:`smtpdiag.bulk`, collected."""
    records: list[DomainRecord | ErrorRecord] = []

    async def emit(item: BulkItem) -> None:
        if isinstance(item, DomainRecord | ErrorRecord):
            records.append(item)

    def targets() -> typing.Iterator[Target | ErrorRecord]:
        for number, text in enumerate(unit.domains, 1):
            item = parse_line(text.encode("utf-8", "replace"), f"unit:{number}")
            if item is not None:
                yield item

    stats = RunStats()
    now = datetime.fromisoformat(unit.now.replace("Z", "+00:00")) if unit.now else None
    routes = await run_targets(
        targets(), unit.config, unit.settings, emit, routes=unit.routes, stats=stats, now=now
    )
    return WorkResult(tuple(records), routes, dict(stats.connections))


def run_batch(unit: Mapping[str, Any]) -> dict[str, Any]:
    """Plain data in (:meth:`WorkUnit.to_dict`), plain data out (:meth:`WorkResult.to_dict`):
    the body of a task on a distributed task engine. Blocking."""
    work = WorkUnit.from_dict(unit)
    return run_blocking(lambda: run_unit(work), name="smtpdiag-batch").to_dict()


# ----------------------------------------------------------------- plain data codec


def to_plain(obj: Any) -> Any:
    """Frozen dataclasses, enums, tuples and dicts as JSON data (floats kept as is)."""
    if isinstance(obj, Enum):
        return obj.value
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, tuple | list):
        return [to_plain(item) for item in obj]
    if isinstance(obj, dict):
        return {str(k): to_plain(v) for k, v in obj.items()}
    raise TypeError(f"no plain form for {type(obj).__name__}")


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    hints = _HINTS.get(cls)
    if hints is None:
        hints = typing.get_type_hints(cls)
        _HINTS[cls] = hints
    return hints


def from_plain(tp: Any, value: Any, path: str) -> Any:
    """The inverse of :func:`to_plain` for type ``tp``; :class:`ConfigError` on a
    mismatch (the data may come from another machine)."""
    origin = typing.get_origin(tp)
    if origin is types.UnionType or origin is typing.Union:
        return _union_from(typing.get_args(tp), value, path)
    if origin is tuple:
        if not isinstance(value, list):
            raise ConfigError(f"bad data at {path}: expected a list")
        item_type = typing.get_args(tp)[0]
        return tuple(from_plain(item_type, v, f"{path}[{i}]") for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"bad data at {path}: expected an object")
        _key, item_type = typing.get_args(tp)
        return {str(k): from_plain(item_type, v, f"{path}.{k}") for k, v in value.items()}
    if isinstance(tp, type) and issubclass(tp, Enum):
        try:
            return tp(value)
        except ValueError:
            raise ConfigError(f"bad data at {path}: {value!r}") from None
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _dataclass_from(tp, value, path)
    return _scalar_from(tp, value, path)


def _union_from(args: tuple[Any, ...], value: Any, path: str) -> Any:
    if value is None and type(None) in args:
        return None
    errors: list[str] = []
    for arg in (a for a in args if a is not type(None)):
        try:
            return from_plain(arg, value, path)
        except ConfigError as exc:
            errors.append(str(exc))
    raise ConfigError(errors[0] if errors else f"bad data at {path}")


def _dataclass_from(tp: type[Any], value: Any, path: str) -> Any:
    if not isinstance(value, Mapping):
        raise ConfigError(f"bad data at {path}: expected an object")
    hints = _hints(tp)
    kwargs = {
        f.name: from_plain(hints[f.name], value[f.name], f"{path}.{f.name}")
        for f in dataclasses.fields(tp)
        if f.name in value and f.init
    }
    try:
        return tp(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"bad data at {path}: {exc}") from None


def _scalar_from(tp: Any, value: Any, path: str) -> Any:
    if tp is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if tp in (bool, int, str) and type(value) is tp:
        return value
    if tp is Any:
        return value
    raise ConfigError(f"bad data at {path}: expected {getattr(tp, '__name__', tp)}")
