"""The observation vocabulary every stage shares.

Everything here is plain, frozen data: the resolve, policy and probe stages produce it,
the diagnose stage reads it and adds findings, the report stage renders it. Nothing
here does I/O. Enums are ``StrEnum`` so that their JSON form is stable.

Durations and offsets are milliseconds as ``float`` (monotonic clock); wall-clock
instants are ISO 8601 strings in UTC.

Submodules: :mod:`.dns` (DNS questions), :mod:`.policy` (MTA-STS, DANE, TLS-RPT),
:mod:`.core` (routes, phases, findings, the report).
"""

from __future__ import annotations

from .core import *  # noqa: F403
from .core import __all__ as _core_all
from .dns import *  # noqa: F403
from .dns import __all__ as _dns_all
from .policy import *  # noqa: F403
from .policy import __all__ as _policy_all

__all__ = [*_core_all, *_dns_all, *_policy_all]  # pyright: ignore
