"""Shared pieces of the human report: limits, safe text, durations, compact tables."""

from __future__ import annotations

import shutil

from rich import box
from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.measure import Measurement
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from ..model import (
    Phase,
    Severity,
    Verdict,
)
from ..textsafe import clean

__all__ = ["DEFAULT_WIDTH", "format_ms"]

#: Width used when ``width`` is ``None`` and no terminal size is known.
DEFAULT_WIDTH = 100
_MIN_WIDTH, _MAX_WIDTH = 40, 400

# Display limits for remote text (characters). The model already caps fields at
# textsafe.MAX_TEXT; these keep one route's details to a few lines.
_LIMIT_SHORT = 80  # host names, cipher names, key types
_LIMIT_LINE = 200  # replies, banners, error details, certificate names
_LIMIT_PARA = 400  # seed texts, step results, summaries
_MAX_LIST = 12  # items shown from a list (SANs, evidence lines, extensions)

_VERDICT_STYLE = {
    Verdict.HEALTHY: "bold green",
    Verdict.DEGRADED: "bold yellow",
    Verdict.FAILED: "bold red",
    Verdict.NO_MAIL: "bold blue",
    Verdict.UNKNOWN: "bold magenta",
}
_SEVERITY_STYLE = {Severity.SOFT: "yellow", Severity.HARD: "red", Severity.INFO: "cyan"}
_SEVERITY_TEXT = {Severity.SOFT: "soft bounce", Severity.HARD: "hard bounce", Severity.INFO: "info"}

# Phase columns of the routes table: (phase(s), header). HELO shares the EHLO column
# (it only runs when EHLO was rejected; the failure details name it). QUIT has no
# column: it says nothing about deliverability, and its time is in the total.
_PHASE_COLUMNS: tuple[tuple[tuple[Phase, ...], str], ...] = (
    ((Phase.CONNECT,), "connect"),
    ((Phase.GREETING,), "greet"),
    ((Phase.EHLO, Phase.HELO), "ehlo"),
    ((Phase.STARTTLS,), "stls"),
    ((Phase.TLS_HANDSHAKE,), "tls"),
    ((Phase.EHLO_TLS,), "ehlo2"),
)


def _safe(value: object, limit: int = _LIMIT_LINE) -> str:
    """Sanitize remote text for display: no control/format characters, bounded, one line."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    # Multi-line replies become one line; clean() then drops every other control char.
    text = " | ".join(part.strip() for part in text[: limit * 4 + 16].splitlines() if part.strip())
    return clean(text, limit)


def _t(value: object, style: str = "", limit: int = _LIMIT_LINE) -> Text:
    """A ``Text`` of sanitized ``value``: never interpreted as markup."""
    return Text(_safe(value, limit), style=style, overflow="fold")


def format_ms(ms: float | None) -> str:
    """Milliseconds with sensible precision: ``0.41``, ``48.9``, ``5,001``."""
    if ms is None:
        return "-"
    if ms < 10:
        return f"{ms:.2f}"
    if ms < 1000:
        return f"{ms:.1f}"
    return f"{ms:,.0f}"


def _format_seconds(seconds: int) -> str:
    """A delay as ``30 min``, ``1 h``, ``1 h 30 min``, ``2 d``."""
    if seconds % 86400 == 0 and seconds >= 2 * 86400:
        return f"{seconds // 86400} d"
    hours, rest = divmod(seconds, 3600)
    minutes = rest // 60
    if hours and minutes:
        return f"{hours} h {minutes} min"
    if hours:
        return f"{hours} h"
    if minutes:
        return f"{minutes} min"
    return f"{seconds} s"


def _width(width: int | None) -> int:
    if width is None:
        # Only reached for interactive use: the CLI passes --width, tests pin it.
        width = shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns
    return max(_MIN_WIDTH, min(_MAX_WIDTH, width))


def _table(*, header: bool = True) -> Table:
    """A compact table: a rule under the header, one space between columns."""
    return Table(
        box=box.SIMPLE_HEAD if header else None,
        show_header=header,
        show_edge=False,
        pad_edge=False,
        padding=(0, 1, 0, 0) if not header else (0, 0),
        collapse_padding=True,
    )


def _indented(renderable: RenderableType, left: int) -> Padding:
    return Padding(renderable, (0, 0, 0, left))


class _Fit:
    """A table that never cuts a cell: stacked when its columns cannot all fit.

    rich shrinks a ``no_wrap`` column that does not fit and ends its cells with an
    ellipsis, which changes their meaning ("TLSv1" for TLSv1.3, a port as "45..."). At
    render time, when the width is known, this measures what the table needs without
    cutting (no-wrap columns their widest cell, the others their longest word) and, if
    that is more than the width, prints each row as a block of "header value" lines.
    """

    def __init__(self, table: Table) -> None:
        self.table = table

    def _needed(self, console: Console, options: ConsoleOptions) -> int:
        widths = []
        for column in self.table.columns:
            cells = [Text(str(column.header)), *column.cells]
            measures = [Measurement.get(console, options, cell) for cell in cells]
            if column.no_wrap:
                widths.append(max(m.maximum for m in measures))
            else:
                widths.append(max(m.minimum for m in measures))
        return sum(widths) + len(widths) - 1  # one space between columns

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        if self._needed(console, options) <= options.max_width:
            yield self.table
            return
        columns = self.table.columns
        rows = [list(column.cells) for column in columns]
        headed = self.table.show_header
        for index in range(self.table.row_count):
            if not headed:
                # No headers to name the values: the first cell, the rest indented.
                first, *rest = (cells[index] for cells in rows)
                yield first
                for cell in rest:
                    yield Padding(cell, (0, 0, 0, 2))
                continue
            block = Table(box=None, show_header=False, pad_edge=False, padding=(0, 1, 0, 0))
            block.add_column(no_wrap=True, style="dim")
            block.add_column(overflow="fold")
            for column, cells in zip(columns, rows, strict=True):
                block.add_row(Text(str(column.header)), cells[index])
            if index:
                yield Text("")
            yield block

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement.get(console, options, self.table)
