"""Units and small wording: the one place numbers become words (ms, seconds, days, plurals)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import timedelta

__all__ = [
    "cap1",
    "days_left",
    "fmt_ms",
    "fmt_s",
    "join",
    "plural",
    "ports_word",
    "span_text",
]


def plural(n: int, word: str, many: str | None = None) -> str:
    """``1 route`` / ``3 routes`` (``many`` for irregular plurals)."""
    return f"{n} {word if n == 1 else (many or word + 's')}"


def days_left(days: int) -> str:
    """``12 days left`` / ``1 day left`` / ``expired 3 days ago``."""
    return f"expired {plural(-days, 'day')} ago" if days < 0 else f"{plural(days, 'day')} left"


def fmt_ms(ms: float | None) -> str:
    """``0.4 ms`` / ``12 ms``: stable text for reports and golden files."""
    if ms is None:
        return "? ms"
    return f"{ms:.1f} ms" if ms < 10 else f"{ms:.0f} ms"


def fmt_s(seconds: float) -> str:
    """A measured duration given in seconds: ``4.2 ms`` / ``250 ms`` / ``2.50 s``."""
    ms = seconds * 1000.0
    if ms < 10.0:
        return f"{ms:.1f} ms"
    if seconds < 1.0:
        return f"{ms:.0f} ms"
    return f"{seconds:.2f} s"


def span_text(span: timedelta | None) -> str:
    """``45 min`` / ``3 h 5 min`` / ``an unknown time``."""
    if span is None:
        return "an unknown time"
    minutes = int(span.total_seconds() // 60)
    if minutes < 120:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min"


def cap1(text: str) -> str:
    """First letter upper case, the rest untouched (host names keep their case)."""
    return text[:1].upper() + text[1:]


def ports_word(ports: Sequence[int]) -> str:
    """``port 25`` / ``ports 587, 465``."""
    return f"port{'' if len(ports) == 1 else 's'} {', '.join(map(str, ports))}"


def join(lines: Iterable[str], limit: int = 8) -> str:
    """Distinct lines joined by ``; ``, at most ``limit`` then ``... and N more``."""
    items = list(dict.fromkeys(lines))
    if len(items) > limit:
        items = [*items[:limit], f"... and {len(items) - limit} more"]
    return "; ".join(items)
