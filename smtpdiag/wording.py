"""Small English wording helpers shared by the diagnosis and the renderers."""

from __future__ import annotations

__all__ = ["days_left", "plural"]


def plural(n: int, word: str, many: str | None = None) -> str:
    """``1 route`` / ``3 routes`` (``many`` for irregular plurals)."""
    return f"{n} {word if n == 1 else (many or word + 's')}"


def days_left(days: int) -> str:
    """``12 days left`` / ``1 day left`` / ``expired 3 days ago``."""
    return f"expired {plural(-days, 'day')} ago" if days < 0 else f"{plural(days, 'day')} left"
