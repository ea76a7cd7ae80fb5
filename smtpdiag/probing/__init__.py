"""Network stage: plan the routes of a domain and probe each one.

The only package (besides :mod:`smtpdiag.testing`) that imports ``aiosmtplib`` and
``ssl``. :func:`plan_routes` is pure; :func:`probe_routes` runs the plan concurrently
under one deadline and never raises on network outcomes.
"""

from __future__ import annotations

from .plan import plan_routes
from .runner import probe_route, probe_routes

__all__ = ["plan_routes", "probe_route", "probe_routes"]
