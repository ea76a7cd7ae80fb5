"""A test kit for smtpdiag's own tests and for users' CI.

- :mod:`smtpdiag.testing.dnsserver`: a small authoritative DNS server on loopback.
- :mod:`smtpdiag.testing.smtpserver`: scripted SMTP servers (healthy and misbehaving).
- :mod:`smtpdiag.testing.certs`: throwaway CAs and certificates (trustme).
- :mod:`smtpdiag.testing.assertions` and the pytest plugin (:mod:`smtpdiag.testing.plugin`).

Nothing is imported here, so that loading the pytest plugin stays cheap.
"""

__all__: list[str] = []
