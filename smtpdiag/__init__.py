"""smtpdiag: SMTP connection diagnostics.

resolve -> probe -> observe -> diagnose -> report.
"""

__version__ = "0.1.0"
