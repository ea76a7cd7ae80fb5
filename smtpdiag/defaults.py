"""Default limits, in one place for the config types and the CLI's help.

The CLI shows these defaults in ``--help`` of every probing subcommand, also of
``explain``, whose path must not import the config types (and the model behind them)
just to print a number.
"""

from __future__ import annotations

__all__ = ["TIMEOUTS"]

#: Seconds per phase and overall (see :class:`smtpdiag.config.Timeouts`).
TIMEOUTS: dict[str, float] = {
    "dns": 5.0,
    "connect": 5.0,
    "greeting": 10.0,
    "command": 10.0,
    "tls": 10.0,
    "total": 30.0,
}
