"""Every public name is one thing, whatever was imported before (issue 17, item 3).

Importing a submodule binds it on its package (``import smtpdiag.x.y`` sets
``smtpdiag.x.y``), so a package name that is both a function and a module is one or the
other depending on what ran first; that was once seen as "cannot import name 'table'
from 'diagnose' (unknown location)". No name is both now, so no ModuleType subclass on
the package keeps them apart. Each order runs in a fresh interpreter (the test session
has long since imported everything) and then checks every name.
"""

from __future__ import annotations

import json
import pkgutil
import random
import subprocess
import sys

import pytest

import smtpdiag

MODULES = sorted(
    info.name
    for info in pkgutil.walk_packages(smtpdiag.__path__, "smtpdiag.")
    if not info.name.endswith("__main__")
)

# The root names the README's Library section shows, and the module that defines each.
FUNCTIONS = {
    "probe": "smtpdiag.api",
    "probe_sync": "smtpdiag.api",
    "diagnose": "smtpdiag.api",
    "check": "smtpdiag.health.checking",
    "check_sync": "smtpdiag.health.checking",
    "bulk": "smtpdiag.triage.run",
    "render": "smtpdiag.report.rendering",
    "explain_batch": "smtpdiag.bounces.batch",
}

_CHECK = """
import importlib, sys, types, warnings
warnings.simplefilter("error")  # nothing on these paths may warn
MODULES, FUNCTIONS = DATA
for step in STEPS:
    kind, name = step
    if kind == "import":
        importlib.import_module(name)
    elif kind == "from":  # from smtpdiag import <name>
        exec(f"from smtpdiag import {name}", {})
    else:  # attribute read after a plain import smtpdiag
        import smtpdiag
        getattr(smtpdiag, name)
import smtpdiag
problems = []
for path in MODULES:
    parent, _, child = path.rpartition(".")
    importlib.import_module(path)
    if getattr(sys.modules[parent], child) is not sys.modules[path]:
        problems.append(f"{parent}.{child} is not the module {path}")
for path in ["smtpdiag", *MODULES]:
    module = sys.modules[path]
    for name in getattr(module, "__all__", ()):
        value = getattr(module, name)
        if f"{path}.{name}" in sys.modules and value is not sys.modules[f"{path}.{name}"]:
            problems.append(f"{path}.{name} is both a module and a {type(value).__name__}")
for name in smtpdiag.__all__:
    if isinstance(getattr(smtpdiag, name), types.ModuleType):
        problems.append(f"smtpdiag.{name} is a module")
for name, where in FUNCTIONS.items():
    value = getattr(smtpdiag, name)
    if value is not getattr(sys.modules.get(where), name, None):
        problems.append(f"smtpdiag.{name} is {value!r}")
    namespace = {}
    exec(f"from smtpdiag import {name} as got", namespace)
    if namespace["got"] is not value:
        problems.append(f"from smtpdiag import {name} gives {namespace['got']!r}")
if type(smtpdiag) is not types.ModuleType:
    problems.append(f"the package is a {type(smtpdiag)!r}")
for gone in ("smtpdiag.probe", "smtpdiag.diagnose", "smtpdiag.health.check"):
    try:
        importlib.import_module(gone)
    except ModuleNotFoundError:
        pass
    else:
        problems.append(f"import {gone} works")
if not callable(smtpdiag.probe) or not callable(smtpdiag.health.check):
    problems.append("a function was replaced")
print("\\n".join(problems) or "ok")
"""


def _orders() -> dict[str, list[tuple[str, str]]]:
    functions = [("attr", name) for name in FUNCTIONS]
    froms = [("from", name) for name in FUNCTIONS]
    modules = [("import", path) for path in MODULES]
    shuffled = []
    for seed in (1, 2, 3):
        steps = functions + froms + modules
        random.Random(seed).shuffle(steps)
        shuffled.append(steps)
    return {
        "functions first": functions + froms + modules,
        "modules first": modules + froms + functions,
        "modules in reverse": modules[::-1] + functions,
        # The report: the functions, then the stages they share a word with.
        "the reported case": [
            ("from", "probe"),
            ("from", "diagnose"),
            ("import", "smtpdiag.probing"),
            ("import", "smtpdiag.diagnosis"),
            ("import", "smtpdiag.diagnosis.table"),
            ("import", "smtpdiag.health.checking"),
            ("attr", "check"),
        ],
        "shuffled 1": shuffled[0],
        "shuffled 2": shuffled[1],
        "shuffled 3": shuffled[2],
    }


@pytest.mark.parametrize("order", list(_orders()))
def test_every_module_path_imports_in_any_order(order: str) -> None:
    steps = _orders()[order]
    script = (
        f"DATA = {json.dumps([MODULES, FUNCTIONS])!r}\n"
        f"STEPS = {json.dumps(steps)!r}\n"
        "import json\nDATA, STEPS = json.loads(DATA), json.loads(STEPS)\n" + _CHECK
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "ok", proc.stdout


def test_module_list_holds_the_stages() -> None:
    # The walk above is the list the test trusts; the stages must be in it.
    for stage in ("resolve", "probing", "diagnosis", "narrate", "report", "policy"):
        assert f"smtpdiag.{stage}" in MODULES, stage
