"""The diagnose stage: pure functions from observations to findings.

Imports no I/O module (no asyncio, socket, ssl, dns, aiosmtplib): everything here is
data in, data out.

- :func:`diagnose`: a :class:`~smtpdiag.model.ProbeReport` -> :class:`~smtpdiag.model.Diagnosis`.
- ``codes``: the RFC 3463 / IANA enhanced status code registry.
- ``knowledge``: the seed knowledge (causes, steps, retry schedules) as data.
- ``rules``: the ordered rule table.

Reading bounces (``explain``, DSN parsing, code scan, reasons) is :mod:`smtpdiag.bounces`.
Names load on first use, so a probe does not pay for the code tables it does not need.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazyexports import lazy_exports

if TYPE_CHECKING:
    from . import codes, knowledge, rules
    from .engine import diagnose

__all__ = [
    "codes",
    "diagnose",
    "knowledge",
    "rules",
]

# name -> submodule that defines it
_EXPORTS = {
    "diagnose": "engine",
}
# names that are submodules themselves
_SUBMODULES = ("codes", "knowledge", "rules")

__getattr__ = lazy_exports(globals(), _EXPORTS, submodules=_SUBMODULES)
