"""``smtpdiag.probe`` and ``smtpdiag.diagnose`` are the API functions; their stages are
``smtpdiag.probing`` and ``smtpdiag.diagnosis`` (no name is both, so no import can swap one
for the other; every order is tried in test_module_paths.py)."""

from __future__ import annotations

import subprocess
import sys

_SCRIPT = """
import smtpdiag
from smtpdiag.probing import runner, session  # what smtpdiag.probe_sync loads
from smtpdiag.narrate import narrator  # the engine with its words
import smtpdiag.api, smtpdiag.probing, smtpdiag.diagnosis
assert smtpdiag.probe is smtpdiag.api.probe, smtpdiag.probe
assert smtpdiag.diagnose is narrator.diagnose is smtpdiag.api.diagnose, smtpdiag.diagnose
assert smtpdiag.probing is sys.modules["smtpdiag.probing"] and smtpdiag.probing.runner is runner
assert smtpdiag.diagnosis is sys.modules["smtpdiag.diagnosis"]
assert type(smtpdiag).__name__ == "module", type(smtpdiag)  # a plain module, no subclass
print("ok")
"""


def test_api_functions_and_their_stages_are_different_names() -> None:
    # A fresh interpreter: the test session has long since imported every module.
    out = subprocess.run(
        [sys.executable, "-c", "import sys\n" + _SCRIPT],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
