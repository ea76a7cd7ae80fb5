"""``smtpdiag serve``: a Prometheus exporter in the blackbox-exporter style.

``GET /probe?target=DOMAIN`` runs one health check (:func:`smtpdiag.api.probe` then
:func:`smtpdiag.health.evaluate`, the same pipeline as ``smtpdiag check``) and answers
with its OpenMetrics exposition, plus what only a long-running service knows: how long
the target has been failing, how many probes ended how, when its MX set, MTA-STS policy
or certificate last changed, and whether it is backing off a rate-limiting server.

Modules: :mod:`.targets` (validation of the target parameter, pure), :mod:`.drift`
(signatures compared between rounds, and the TLSA match of the certificates read, pure),
:mod:`.state` (per-target history in SQLite), :mod:`.exporter` (modules, cache,
single-flight, backoff for 421/450 and tarpits, the process's shared per-address
gates), :mod:`.exposition`
(the exporter's own families), :mod:`.http` (the asyncio HTTP/1.1 server on h11),
:mod:`.tlsrpt` (TLS reports POSTed to ``/tlsrpt`` with ``--accept-tlsrpt``, stored in the
state and counted).
"""

from __future__ import annotations

__all__: list[str] = []
