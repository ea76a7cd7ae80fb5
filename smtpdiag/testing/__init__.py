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

from typing import TYPE_CHECKING

from ..lazyexports import lazy_exports

__all__ = ["assert_deliverable", "assert_healthy"]

__getattr__ = lazy_exports(globals(), dict.fromkeys(__all__, "assertions"))

if TYPE_CHECKING:
    from .assertions import assert_deliverable, assert_healthy
