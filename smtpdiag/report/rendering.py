"""One entry point for every renderer: ``render(document, format)``.

A *document* is what the library returns: a :class:`~smtpdiag.model.ProbeReport`
(``probe``) or a :class:`~smtpdiag.health.HealthResult` (``check``). A probe report
asked for a health format (nagios, junit, markdown, openmetrics) is first evaluated
against the default :class:`~smtpdiag.health.Thresholds`. Renderers only lay out: every
sentence they print was written by :mod:`smtpdiag.narrate` or is a fixed label.
Renderers are imported on first use (rich costs ~50 ms that JSON users need not pay).
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from ..errors import ConfigError

if TYPE_CHECKING:
    from ..health.evaluation import HealthResult
    from ..model import ProbeReport

__all__ = ["Format", "render"]


class Format(StrEnum):
    """Output formats of :func:`render`."""

    TEXT = "text"  #: the human report (probe) or a short plain-text health view (check)
    JSON = "json"  #: the versioned JSON document (``report/schema.json``, ``check_schema.json``)
    NAGIOS = "nagios"  #: monitoring-plugin output (one status line, perfdata)
    JUNIT = "junit"  #: JUnit XML for CI
    MARKDOWN = "markdown"  #: a Markdown summary (e.g. a CI job summary)
    OPENMETRICS = "openmetrics"  #: OpenMetrics text exposition
    HTML = "html"  #: one self-contained HTML page (needs the ``smtpdiag[html]`` extra)


def _format(value: Format | str) -> Format:
    try:
        return Format(value)
    except ValueError:
        names = ", ".join(f.value for f in Format)
        raise ConfigError(f"unknown format {value!r}: one of {names}") from None


def render(
    document: ProbeReport | HealthResult,
    format: Format | str = Format.TEXT,
    *,
    width: int | None = None,
    color: bool = False,
) -> str:
    """Render a probe report or a health result.

    Args:
        document: A :class:`~smtpdiag.model.ProbeReport` or a
            :class:`~smtpdiag.health.HealthResult`.
        format: One of :class:`Format` (or its value).
        width: Text width for the human probe report (default: terminal or 100).
        color: Colour in the human probe report.

    Raises:
        ConfigError: an unknown format, or a document of another type.
    """
    from ..health.evaluation import HealthResult, evaluate
    from ..model import ProbeReport

    fmt = _format(format)
    if isinstance(document, ProbeReport):
        if fmt is Format.TEXT:
            from .text import render_text

            return render_text(document, width=width, color=color)
        if fmt is Format.JSON:
            from .jsonout import dumps

            return dumps(document) + "\n"
        if fmt is Format.HTML:
            from .html import render_html

            return render_html(document)
        document = evaluate(document)
    if not isinstance(document, HealthResult):
        raise ConfigError(f"cannot render a {type(document).__name__}")
    return _render_health(document, fmt)


def _render_health(result: HealthResult, fmt: Format) -> str:
    if fmt is Format.TEXT:
        from .health_text import render_health_text

        return render_health_text(result)
    if fmt is Format.JSON:
        from .health_json import dumps_health

        return dumps_health(result) + "\n"
    if fmt is Format.NAGIOS:
        from .nagios import render_nagios

        return render_nagios(result)
    if fmt is Format.JUNIT:
        from .junit import render_junit

        return render_junit(result)
    if fmt is Format.MARKDOWN:
        from .markdown import render_markdown

        return render_markdown(result)
    if fmt is Format.HTML:
        from .html import render_health_html

        return render_health_html(result)
    from .openmetrics import render_openmetrics

    return render_openmetrics(result)
