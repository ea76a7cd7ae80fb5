"""The packages that re-export names load each submodule on first use, once."""

from __future__ import annotations

import subprocess
import sys


def test_report_and_narrate_load_submodules_on_first_use() -> None:
    # A fresh interpreter: this test process has long since imported everything.
    code = (
        "import sys\n"
        "import smtpdiag.narrate as narrate, smtpdiag.report as report\n"
        "subs = ('report.jsonout', 'report.rendering', 'report.text', 'narrate.rules',\n"
        "        'narrate.common', 'narrate.persistence')\n"
        "def loaded():\n"
        "    return sorted(s for s in subs if 'smtpdiag.' + s in sys.modules)\n"
        "assert loaded() == [], loaded()\n"
        "dumps = report.dumps\n"
        "assert loaded() == ['report.jsonout'], loaded()\n"
        "assert dumps is sys.modules['smtpdiag.report.jsonout'].dumps\n"
        "assert vars(report)['dumps'] is dumps  # stored: the loader runs once per name\n"
        "from smtpdiag.narrate import persistence_note\n"
        "assert loaded() == ['narrate.persistence', 'report.jsonout'], loaded()\n"
        "for module in (report, narrate):\n"
        "    try:\n"
        "        module.nothing_here\n"
        "    except AttributeError as exc:\n"
        "        assert str(exc) == f\"module {module.__name__!r} has no attribute 'nothing_here'\"\n"
        "    else:\n"
        "        raise AssertionError(module)\n"
        "assert all(getattr(m, n) is not None for m in (report, narrate) for n in m.__all__)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
