"""The words of ``smtpdiag tlsrpt --probe``: one sentence per checked route.

Statuses and reasons arrive as their enum values (``reproduced``, ``address-policy``);
this module decides nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["check_summary"]

_WHY = {
    "address-policy": "its address is not one this probe may connect to (see --allow-targets)",
    "family": "its address family is not probed from here (-4/-6, --source-address)",
    "no-connection": "no session reached the point where TLS is offered "
    "(is outbound port 25 blocked here?)",
    "route-not-found": "the domain's MX records do not name that host or address any more",
    "unknown-result-type": "the result type is not one of RFC 8460's, so no probe gives it",
    "probe-failed": "the probe of the domain could not run",
    "limit": "more domains were reported than one run probes",
}


def check_summary(
    status: str,
    why: str | None,
    result: str,
    host: str,
    ip: str | None,
    seen: Sequence[str],
) -> str:
    """One sentence: whether the probe reproduces ``result`` on the route, and why not."""
    where = f"{host} [{ip}]" if ip else host
    if status == "reproduced":
        return f"Reproduced: {where} gives {result} now."
    if status == "not-reproduced":
        if seen:
            return f"Not reproduced: {where} gives {', '.join(seen)} now, not {result}."
        return f"Not reproduced: {where} passes now (fixed, or the failure is intermittent)."
    return f"Not testable from here: {where}: {_WHY.get(why or '', 'unknown reason')}."
