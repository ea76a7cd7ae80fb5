"""What ``bulk`` says on stderr when a Ctrl-C or SIGTERM stops it (one place for the words)."""

from __future__ import annotations

from .units import plural

__all__ = ["stopped_at_once_line", "stopped_line", "stopping_line"]


def stopping_line(in_flight: int, grace: float) -> str:
    """Said at the first signal: reading stopped, what is finished and for how long."""
    if in_flight == 0:
        return "stopping: no more input is read; a second Ctrl-C or SIGTERM stops at once"
    return (
        f"stopping: no more input is read; finishing the {plural(in_flight, 'domain')} in "
        f"flight (at most {grace:g} s) and writing them; a second Ctrl-C or SIGTERM stops "
        "at once"
    )


def stopped_line(in_flight: int, given_up: int, grace: float) -> str:
    """Said at the end of a stopped run: which domains in flight were written, which not."""
    written = in_flight - given_up
    if in_flight == 0:
        return "interrupted: no domain was in flight; the records above are complete"
    if given_up == 0:
        return f"interrupted: the {plural(written, 'domain')} in flight finished and were written"
    one = given_up == 1
    return (
        f"interrupted: {written} of the {plural(in_flight, 'domain')} in flight finished and "
        f"{'was' if written == 1 else 'were'} written; {given_up} did not finish within "
        f"{grace:g} s and {'was' if one else 'were'} not written (--resume does "
        f"{'it' if one else 'them'} again)"
    )


def stopped_at_once_line() -> str:
    """Said when a second signal ended the run without waiting for the domains in flight."""
    return (
        "stopped at once: the domains still in flight were not written (--resume does them again)"
    )
