"""The diagnose stage: pure functions from observations (and bounce texts) to findings.

Imports no I/O module (no asyncio, socket, ssl, dns, aiosmtplib): everything here is
data in, data out.
"""

from __future__ import annotations

from . import codes, knowledge

__all__ = ["codes", "knowledge"]
