"""Every default threshold, in one place: what the diagnosis reports and what a health
check judges start from the same numbers, so the two cannot drift apart.

Plain numbers, no smtpdiag import: the diagnosis stage and :mod:`smtpdiag.health` both
read them, and :class:`smtpdiag.health.Thresholds` lets a user override the latter.
"""

from __future__ import annotations

__all__ = [
    "CERT_CRIT_DAYS",
    "CERT_WARN_DAYS",
    "CONNECT_S",
    "EHLO_S",
    "GREETING_S",
    "STARTTLS_S",
    "TLS_HANDSHAKE_S",
]

#: A certificate with fewer days left is a warning in a health check, and a diagnosis
#: reports it (info) once this many days or fewer are left.
CERT_WARN_DAYS = 21
#: A certificate with fewer days left is critical in a health check.
CERT_CRIT_DAYS = 7

# Latency limits of a phase that succeeded, (warn, critical) in seconds. The greeting is
# the slow phase of SMTP (servers delay it on purpose, RFC 5321 4.3.1), so it gets more.
CONNECT_S = (1.0, 3.0)
TLS_HANDSHAKE_S = (1.0, 3.0)
GREETING_S = (2.0, 5.0)
EHLO_S = (1.0, 3.0)
STARTTLS_S = (1.0, 3.0)
