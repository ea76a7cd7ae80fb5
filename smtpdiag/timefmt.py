"""One spelling for instants in reports: ISO 8601, UTC, ``Z`` suffix."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["aware_now", "parse_utc_iso", "utc_iso"]


def utc_iso(moment: datetime | None = None, timespec: str = "milliseconds") -> str:
    """``2026-11-23T06:19:07.791Z`` for ``moment`` (default: now); naive means UTC."""
    if moment is None:
        moment = datetime.now(UTC)
    elif moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec=timespec).replace("+00:00", "Z")


def aware_now(now: datetime | None) -> datetime:
    """``now`` as an aware instant (naive means UTC); the current time when ``None``."""
    if now is None:
        return datetime.now(UTC)
    return now if now.tzinfo is not None else now.replace(tzinfo=UTC)


def parse_utc_iso(text: str) -> datetime | None:
    """The inverse of :func:`utc_iso` (any ISO 8601; naive means UTC); ``None`` if bad."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
