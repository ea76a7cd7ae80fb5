"""``smtpdiag.probe`` and ``smtpdiag.diagnose`` stay the API functions after their stages load."""

from __future__ import annotations

import subprocess
import sys

_SCRIPT = """
import smtpdiag
from smtpdiag.probe import runner, session  # what smtpdiag.probe_sync loads
from smtpdiag.diagnose import engine
import smtpdiag.api
assert smtpdiag.probe is smtpdiag.api.probe, smtpdiag.probe
assert callable(smtpdiag.diagnose) and not isinstance(smtpdiag.diagnose, type(smtpdiag)), smtpdiag.diagnose
assert sys.modules["smtpdiag.probe"].runner is runner
print("ok")
"""


def test_api_functions_survive_loading_their_subpackages() -> None:
    # A fresh interpreter: the test session has long since imported every module.
    out = subprocess.run(
        [sys.executable, "-c", "import sys\n" + _SCRIPT],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
