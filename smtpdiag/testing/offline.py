"""Whether the pytest run asked for ``--smtpdiag-offline`` (set by the plugin).

A separate, standard-library-only module so that both the plugin (which must stay
import-light) and :mod:`smtpdiag.testing.assertions` (used without the fixture) can
read it: under ``--smtpdiag-offline`` no check may reach the network.
"""

from __future__ import annotations

__all__ = ["is_offline", "set_offline"]

_offline = False


def set_offline(flag: bool) -> None:
    """Record the run's ``--smtpdiag-offline`` setting (the plugin calls this)."""
    global _offline
    _offline = flag


def is_offline() -> bool:
    """True inside a pytest run started with ``--smtpdiag-offline``."""
    return _offline
