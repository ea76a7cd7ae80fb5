"""Whether a probe confirms a bounce, in words (``explain --probe``).

Apart from :mod:`.bounce` so that explaining a bounce without a probe does not load
the confirmation's decision types.
"""

from __future__ import annotations

from collections.abc import Callable

from ..model.bounce import ConfirmBasis, ConfirmFacts

__all__ = ["confirmation"]


def _confirmed_same(f: ConfirmFacts) -> str:
    same = "the same" if f.basis is ConfirmBasis.SAME_CODE else "the same condition as"
    text = (
        f"Confirmed: the probe sees {same} {f.code} now (verdict {f.verdict.value}, "
        f"leading code {f.primary or 'none'}, persistence {f.persistence})."
    )
    if f.fell_back:
        text += (
            " But another route delivers now: MTAs that fall back to it would not "
            "bounce, so the bounce may be stale or from a sender that did not fall back."
        )
    return text


_CONFIRMATIONS: dict[ConfirmBasis, Callable[[ConfirmFacts], str]] = {
    ConfirmBasis.NO_CODE: lambda f: "No status code to compare.",
    ConfirmBasis.NULL_MX_NOW: lambda f: "Confirmed: the domain publishes a null MX now.",
    ConfirmBasis.NULL_MX_DIFFERENT: lambda f: (
        "The domain now publishes a null MX: it accepts no mail at all (5.1.10)."
    ),
    ConfirmBasis.NOT_CONNECTION_LEVEL: lambda f: (
        f"A connection-level probe cannot check {f.what}: it stops at EHLO/STARTTLS, and "
        "this condition is decided later (at MAIL, RCPT or DATA) or by policy. The probe's "
        f"verdict for the domain: {f.verdict.value}."
    ),
    ConfirmBasis.PROBE_UNKNOWN: lambda f: (
        "The probe verified nothing (no nameserver answered, or no route was probed), "
        "so it can neither confirm nor refute the bounce."
    ),
    ConfirmBasis.OWN_PORT_BLOCKED: lambda f: (
        "Port 25 times out on every MX here while other ports connect: this network "
        "probably blocks outbound port 25, so the probe cannot confirm or refute the "
        "bounce from here (probe another domain's port 25 to be sure)."
    ),
    ConfirmBasis.SAME_CODE: _confirmed_same,
    ConfirmBasis.SAME_CONDITION: _confirmed_same,
    ConfirmBasis.PROBLEM_TOO: lambda f: (
        f"The probe sees a problem too (verdict {f.verdict.value}, leading code "
        f"{f.primary or 'none'})."
    ),
    ConfirmBasis.CLEARED: lambda f: (
        "Not reproduced: every route works now; consistent with a transient "
        "failure that has cleared, so a retry will likely succeed."
    ),
    ConfirmBasis.NOT_REPRODUCED: lambda f: (
        "Not reproduced: every route works from here now. The bounce may be "
        "stale, specific to the sending host or its IP address, or caused on the "
        "sending MTA's path; re-check before suppressing the address."
    ),
    ConfirmBasis.DIFFERENT: lambda f: (
        f"The probe sees a problem, but a different one: verdict {f.verdict.value}, "
        f"leading code {f.primary or 'none'} (the bounce said {f.code})."
    ),
}


def confirmation(facts: ConfirmFacts) -> str:
    """One or two sentences: whether a probe confirms a bounce, and why."""
    return _CONFIRMATIONS[facts.basis](facts)
