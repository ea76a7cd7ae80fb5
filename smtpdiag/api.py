"""The library facade: resolve -> plan -> policy + probe -> diagnose, under one deadline.

``await smtpdiag.probe("example.org", config)`` returns a :class:`ProbeReport` that
holds everything observed (and, by default, the diagnosis). Network outcomes never
raise; misuse raises :class:`ConfigError`.

The pipeline itself is :mod:`smtpdiag.pipeline` (below health, bounces and triage,
which run it too); this module is what callers import.
"""

from __future__ import annotations

from .narrate.narrator import diagnose
from .pipeline import check_config, could_not_run, probe, probe_sync

__all__ = ["check_config", "could_not_run", "diagnose", "probe", "probe_sync"]
