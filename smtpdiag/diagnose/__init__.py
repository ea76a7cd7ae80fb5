"""The diagnose stage: pure functions from observations (and bounce texts) to findings.

Imports no I/O module (no asyncio, socket, ssl, dns, aiosmtplib): everything here is
data in, data out.

- :func:`diagnose`: a :class:`~smtpdiag.model.ProbeReport` -> :class:`~smtpdiag.model.Diagnosis`.
- ``codes``: the RFC 3463 / IANA enhanced status code registry.
- ``knowledge``: the seed knowledge (causes, steps, retry schedules) as data.
- ``rules``: the ordered rule table.
- :func:`explain` / :func:`parse_bounce` (``bounce``): read a bounce line or DSN.
"""

from __future__ import annotations

from . import bounce, codes, knowledge, rules
from .bounce import Explanation, explain, parse_bounce
from .engine import diagnose

__all__ = [
    "Explanation",
    "bounce",
    "codes",
    "diagnose",
    "explain",
    "knowledge",
    "parse_bounce",
    "rules",
]
