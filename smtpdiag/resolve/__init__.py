"""The DNS stage: from a domain to its mail exchangers and their addresses.

The only package (with :mod:`smtpdiag.testing.dnsserver`) that imports dnspython.
DNS outcomes are data (:class:`~smtpdiag.model.Resolution`), never exceptions.
"""

from __future__ import annotations

from .cache import caching_resolver
from .mx import resolve_domain
from .names import normalize_domain

__all__ = ["caching_resolver", "normalize_domain", "resolve_domain"]
