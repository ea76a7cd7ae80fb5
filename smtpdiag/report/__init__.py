"""Renderers: turn a :class:`~smtpdiag.model.ProbeReport` into text or JSON.

Renderers never touch the network. Every name loads on first use, so a path imports
only the renderer it prints with: ``jsonout`` (the versioned ``--json`` document and
its JSON Schema) needs only the standard library, ``text`` (the human view) needs rich,
and the monitoring renderers need neither.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .jsonout import (
        dumps,
        load_schema,
        loads,
        report_from_dict,
        report_to_dict,
        schema_path,
        to_jsonable,
    )
    from .text import render_text

__all__ = [
    "dumps",
    "load_schema",
    "loads",
    "render_text",
    "report_from_dict",
    "report_to_dict",
    "schema_path",
    "to_jsonable",
]

# name -> submodule that defines it
_EXPORTS = {name: "jsonout" for name in __all__} | {"render_text": "text"}


def __getattr__(name: str) -> Any:
    where = _EXPORTS.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{where}"), name)
    globals()[name] = value
    return value
