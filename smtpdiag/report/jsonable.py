"""Plain JSON data from frozen dataclasses, enums and containers.

Apart from :mod:`.jsonout` (the probe report's JSON document, which loads the whole
model) so that ``explain --json`` of one bounce does not load the probe's model.
"""

from __future__ import annotations

import dataclasses
import math
from enum import Enum

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

__all__ = ["FLOAT_DECIMALS", "plain"]

#: Decimals kept for every float (milliseconds -> 1 µs).
FLOAT_DECIMALS = 3


def plain(
    obj: Any, derived: Mapping[type, tuple[tuple[str, Callable[[Any], Any]], ...]] | None = None
) -> Any:
    """Return ``obj`` (a dataclass, enum, scalar, or a tuple/list/dict of them) as plain
    JSON data.

    Args:
        obj: The value.
        derived: Keys appended after a dataclass type's fields: type -> ((key, getter),
            ...) (``jsonout.DERIVED_KEYS`` for the probe report).

    Raises:
        TypeError: for a value that has no JSON form (e.g. a ``set`` or ``bytes``).
    """
    if isinstance(obj, Enum):
        # Before the str check: a StrEnum member *is* a str, but JSON wants the plain value.
        return obj.value if isinstance(obj.value, str | int) else str(obj.value)
    if obj is None or isinstance(obj, bool | str):
        return obj
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, float):
        if not math.isfinite(obj):
            return None
        return round(obj, FLOAT_DECIMALS)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        out: dict[str, Any] = {}
        for f in dataclasses.fields(obj):
            out[f.name] = plain(getattr(obj, f.name), derived)
        for key, getter in derived.get(type(obj), ()) if derived else ():
            out[key] = plain(getter(obj), derived)
        return out
    if isinstance(obj, tuple | list):
        return [plain(item, derived) for item in obj]
    if isinstance(obj, dict):
        return {str(k): plain(v, derived) for k, v in obj.items()}
    raise TypeError(f"no JSON form for {type(obj).__name__}")
