"""``render(document, format)``: every renderer behind one call, and the import graph
(renderers depend on health, never the other way round; every module imports alone)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest
from factories import report_cases as rf

import smtpdiag
from smtpdiag import diagnose
from smtpdiag.errors import ConfigError
from smtpdiag.health import evaluate
from smtpdiag.report import Format, dumps, render

PKG = Path(smtpdiag.__file__).parent


def _report() -> smtpdiag.ProbeReport:
    from dataclasses import replace

    rep = rf.greeting_421()
    return replace(rep, diagnosis=diagnose(rep))


@pytest.mark.parametrize("fmt", list(Format))
def test_every_format_renders_a_probe_report_and_a_health_result(fmt: Format) -> None:
    rep = _report()
    for document in (rep, evaluate(rep)):
        out = render(document, fmt)
        assert out.strip(), fmt
    assert render(rep, "json") == dumps(rep) + "\n"
    assert json.loads(render(evaluate(rep), Format.JSON))["report"]["domain"] == rep.domain


def test_render_is_the_package_api() -> None:
    assert smtpdiag.render is render and "render" in smtpdiag.__all__


def test_unknown_format_and_document_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="unknown format 'yaml'"):
        render(_report(), "yaml")
    with pytest.raises(ConfigError):
        render("not a report", "text")  # type: ignore[arg-type]


def _imports(path: Path) -> set[str]:
    """Absolute module names ``path`` imports (relative imports resolved)."""
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = list(rel.parts)[:-1]  # the package a relative import of level 1 names
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = parts[: len(parts) - node.level + 1]
                mod = ".".join([*base, node.module] if node.module else base)
            else:
                mod = node.module or ""
            out.add(mod)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return out


def test_health_never_imports_report() -> None:
    # report/ renders health results; health/ decides. An edge back would be a cycle.
    for path in sorted((PKG / "health").glob("*.py")):
        bad = {m for m in _imports(path) if m.startswith("smtpdiag.report")}
        assert not bad, f"{path.name} imports {bad}"


def test_diagnose_and_health_hold_no_renderer_imports() -> None:
    for sub in ("diagnosis", "health", "narrate"):
        for path in sorted((PKG / sub).glob("*.py")):
            bad = {m for m in _imports(path) if m.startswith(("smtpdiag.report", "rich"))}
            assert not bad, f"{sub}/{path.name} imports {bad}"


def test_every_decision_and_report_module_imports_alone() -> None:
    names = [
        ".".join(p.relative_to(PKG.parent).with_suffix("").parts).removesuffix(".__init__")
        for sub in ("diagnosis", "narrate", "health", "report")
        for p in sorted((PKG / sub).glob("*.py"))
    ]
    code = (
        "import subprocess, sys\n"
        "bad = []\n"
        "for n in sys.argv[1:]:\n"
        "    r = subprocess.run([sys.executable, '-c', 'import ' + n], capture_output=True)\n"
        "    if r.returncode: bad.append((n, r.stderr.decode()[-300:]))\n"
        "print(bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", code, *names], capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, r.stdout + r.stderr
