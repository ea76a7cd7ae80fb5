"""Renderers: turn a probe report or a health result into text, JSON, Nagios, JUnit,
Markdown or OpenMetrics, all behind :func:`render` (``render(document, format)``).

Renderers never touch the network. ``jsonout`` (the versioned ``--json`` document and
its JSON Schema) imports only the standard library; ``text`` (the human view) uses rich
and is imported on first use, so reading JSON stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
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


def __getattr__(name: str) -> Any:
    # Lazy: importing rich costs ~50 ms that JSON-only users should not pay.
    if name == "render_text":
        from .text import render_text

        return render_text
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
