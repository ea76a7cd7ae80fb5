"""The lab tier's session fixture: real Postfix, NSD and kernel faults (see labctl.py).

``lab`` brings the lab up once per session and always tears it down. Without root,
network namespaces, Postfix, NSD or nftables the lab tests are skipped with the reason;
with ``SMTPDIAG_LAB_REQUIRED=1`` (CI) they fail instead, so a skipped lab tier can never
pass unnoticed.

A lab already running from ``make lab`` (``labctl up``) is reused as it is and left
running.
"""

from __future__ import annotations

import contextlib
import os
import signal
import types
from collections.abc import Iterator

import pytest

from . import labctl

__all__ = ["lab"]

_REQUIRED = os.environ.get("SMTPDIAG_LAB_REQUIRED") == "1"


def _running_lab() -> labctl.LabInfo | None:
    """A complete lab started by ``labctl up`` whose servers all still run."""
    info = labctl.LabInfo.load(labctl.DEFAULT_STATE_DIR)
    if info is None or not info.bringup_s or not info.pids:
        return None
    if all(labctl.process_alive(pid) for pid in info.pids.values()):
        return info
    return None


def _sigterm_as_interrupt() -> None:
    """Make SIGTERM (a CI job timeout, `kill`) run pytest's teardown like Ctrl-C does.

    Without it the default action ends the process at once and the lab (namespaces,
    Postfix, NSD) would outlive the session.
    """
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return  # someone else handles it

    def handler(signum: int, frame: types.FrameType | None) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second SIGTERM ends it for real
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, handler)


@pytest.fixture(scope="session")
def lab() -> Iterator[labctl.LabInfo]:
    """The running lab: nameserver ``IP:PORT``, CA file, state directory."""
    reason = labctl.lab_unavailable_reason()
    if reason is not None:
        if _REQUIRED:
            pytest.fail(f"SMTPDIAG_LAB_REQUIRED=1 but the lab cannot run: {reason}")
        pytest.skip(f"lab tier skipped: {reason}")
    state_dir = labctl.DEFAULT_STATE_DIR
    _sigterm_as_interrupt()
    # The lock is held for the whole session: another session on this machine waits
    # (bounded) instead of tearing down a lab that is in use.
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(labctl.lab_lock(state_dir, wait=labctl.LOCK_WAIT))
        except labctl.LabError as exc:
            pytest.fail(str(exc))
        existing = _running_lab()
        if existing is not None:
            print(f"\n[lab] reusing the running lab in {existing.state_dir}")
            yield existing
            return
        # Leftovers of an interrupted run (recorded PIDs, sdlab-* namespaces and links).
        labctl.down(state_dir, quiet=True)
        try:
            info = labctl.up(state_dir)
        except labctl.LabError as exc:
            pytest.fail(f"lab bring-up failed: {exc}")
        print(f"\n[lab] up in {info.bringup_s:.2f}s")
        try:
            yield info
        finally:
            took = labctl.down(state_dir, quiet=True)
            print(f"\n[lab] down in {took:.2f}s")
