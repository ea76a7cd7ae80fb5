"""The diagnose stage: pure functions from observations (and bounce texts) to findings.

Imports no I/O module (no asyncio, socket, ssl, dns, aiosmtplib): everything here is
data in, data out.

- :func:`diagnose`: a :class:`~smtpdiag.model.ProbeReport` -> :class:`~smtpdiag.model.Diagnosis`.
- ``codes``: the RFC 3463 / IANA enhanced status code registry.
- ``knowledge``: the seed knowledge (causes, steps, retry schedules) as data.
- ``rules``: the ordered rule table.
- :func:`explain` / :func:`parse_bounce` (``bounce``): read a bounce line or DSN.

Names load on first use, so a probe does not pay for the bounce parser and ``explain``
does not pay for the engine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazyexports import lazy_exports

if TYPE_CHECKING:
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

# name -> submodule that defines it
_EXPORTS = {
    "Explanation": "bounce",
    "diagnose": "engine",
    "explain": "bounce",
    "parse_bounce": "bounce",
}
# names that are submodules themselves
_SUBMODULES = ("bounce", "codes", "knowledge", "rules")

__getattr__ = lazy_exports(globals(), _EXPORTS, submodules=_SUBMODULES)
