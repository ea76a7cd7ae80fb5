"""Renderers: turn a probe report or a health result into text, JSON, Nagios, JUnit,
Markdown or OpenMetrics, all behind :func:`render` (``render(document, format)``).

Renderers never touch the network. Every name loads on first use, so a path imports
only the renderer it prints with: ``jsonout`` (the versioned ``--json`` document and
its JSON Schema) needs only the standard library, ``text`` (the human view) needs rich,
and the monitoring renderers need neither.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazyexports import lazy_exports

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
    from .rendering import Format, render
    from .text import render_text

__all__ = [
    "Format",
    "dumps",
    "load_schema",
    "loads",
    "render",
    "render_text",
    "report_from_dict",
    "report_to_dict",
    "schema_path",
    "to_jsonable",
]

# name -> submodule that defines it
_EXPORTS = {name: "jsonout" for name in __all__} | {
    "Format": "rendering",
    "render": "rendering",
    "render_text": "text",
}

__getattr__ = lazy_exports(globals(), _EXPORTS)
