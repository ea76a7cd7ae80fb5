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


def test_every_lazy_package_uses_the_helper_and_stays_lazy() -> None:
    # smtpdiag, smtpdiag.diagnosis and smtpdiag.testing hand back names and, for the
    # first two, submodules; a plain `import smtpdiag` still imports neither typing nor
    # collections (the start-up path of every command).
    code = (
        "import sys\n"
        "before = set(sys.modules)\n"
        "import smtpdiag\n"
        "added = set(sys.modules) - before\n"
        "assert not added & {'typing', 'collections'}, sorted(added)\n"
        "assert not [m for m in added if m.startswith('smtpdiag.')"
        " and m not in ('smtpdiag.lazyexports', 'smtpdiag.version')]\n"
        "import importlib\n"
        "diagnose = importlib.import_module('smtpdiag.diagnosis')\n"
        "testing = importlib.import_module('smtpdiag.testing')\n"
        "from smtpdiag.lazyexports import lazy_exports\n"
        "for module in (smtpdiag, diagnose, testing):\n"
        "    assert module.__getattr__.__qualname__.startswith(lazy_exports.__name__), module\n"
        "    try:\n"
        "        module.nothing_here\n"
        "    except AttributeError as exc:\n"
        "        assert str(exc) == f\"module {module.__name__!r} has no attribute 'nothing_here'\"\n"
        "    else:\n"
        "        raise AssertionError(module)\n"
        "codes = diagnose.codes\n"
        "assert codes is sys.modules['smtpdiag.diagnosis.codes'] and vars(diagnose)['codes'] is codes\n"
        "assert 'smtpdiag.diagnosis.engine' not in sys.modules  # a submodule, not the engine\n"
        "bounces = importlib.import_module('smtpdiag.bounces')\n"
        "reason = bounces.Reason\n"
        "assert vars(bounces)['Reason'] is reason is sys.modules['smtpdiag.bounces.reasons'].Reason\n"
        "assert 'smtpdiag.bounces.batch' not in sys.modules  # the parser's names, not the batch\n"
        "assert 'smtpdiag.diagnosis.engine' not in sys.modules\n"
        "assert testing.assert_healthy is vars(testing)['assert_healthy']\n"
        "assert smtpdiag.report is sys.modules['smtpdiag.report']\n"
        "assert callable(smtpdiag.diagnose) and vars(smtpdiag)['diagnose'] is smtpdiag.diagnose\n"
        "assert all(getattr(m, n) is not None for m in (diagnose, testing) for n in m.__all__)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
