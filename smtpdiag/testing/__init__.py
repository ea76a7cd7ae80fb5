"""A test kit for smtpdiag's own tests and for users' CI.

- :mod:`smtpdiag.testing.dnsserver`: a small authoritative DNS server on loopback.
- :mod:`smtpdiag.testing.smtpserver`: scripted SMTP servers (healthy and misbehaving).
- :mod:`smtpdiag.testing.certs`: throwaway CAs and certificates (cryptography).
- :mod:`smtpdiag.testing.httpsserver`: an HTTPS server for MTA-STS policies on loopback.
- :mod:`smtpdiag.testing.assertions` (``assert_deliverable``, ``assert_healthy``) and
  the pytest plugin (:mod:`smtpdiag.testing.plugin`).

Names load lazily, so that loading the pytest plugin stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = ["assert_deliverable", "assert_healthy"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        value = getattr(importlib.import_module(f"{__name__}.assertions"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'smtpdiag.testing' has no attribute {name!r}")


if TYPE_CHECKING:
    from .assertions import assert_deliverable, assert_healthy
