"""The TLS policy stage: MTA-STS (:mod:`.mtasts`, :mod:`.fetch`), DANE and TLS-RPT."""

from __future__ import annotations

__all__: list[str] = []
