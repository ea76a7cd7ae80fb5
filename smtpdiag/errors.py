"""The exception tree. Network outcomes are never exceptions (they are data in the
model); these are for misuse and for a probe that could not run at all."""

from __future__ import annotations

__all__ = ["BounceParseError", "ConfigError", "ProbeError", "SmtpdiagError"]


class SmtpdiagError(Exception):
    """Base of every exception smtpdiag raises on purpose."""


class ConfigError(SmtpdiagError, ValueError):
    """Invalid user input: a bad domain, port, timeout, nameserver or file."""


class ProbeError(SmtpdiagError):
    """The probe could not run at all (e.g. no resolver configuration)."""


class BounceParseError(SmtpdiagError, ValueError):
    """No status code could be found in a bounce text."""
