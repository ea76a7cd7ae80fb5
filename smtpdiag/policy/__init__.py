"""The policy stage: a domain's MTA-STS, DANE and TLS-RPT, as typed observations."""

from __future__ import annotations

__all__: list[str] = []
