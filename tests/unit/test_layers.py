"""The layout shows the pipeline: imports run one way, down the layer order (issue 18, item 5).

Every module of the package is parsed with :mod:`ast` and every import of a smtpdiag
module is checked, at module level and inside functions, relative and absolute: a module
may import its own layer or a lower one, never a higher one. Imports under
``if TYPE_CHECKING:`` count as well (they name a dependency even if nothing loads it at
run time), with one exception: the package root, which sits on top and only re-exports.

The order, lowest first (``LAYERS``):

- pure helpers with no smtpdiag import of their own: errors, defaults, the default
  thresholds (``limits``), the version, lazy
  loaders, text sanitizing, time formatting, running a coroutine from blocking code;
- ``model`` (the vocabulary), then ``config`` (built on it);
- the stages: ``resolve``, ``probing``, ``policy``, ``diagnosis`` (decide), ``narrate``
  (word). ``policy`` sits above ``probing`` although the api runs its lookups first: it
  fetches the MTA-STS policy over HTTPS with the probe's own address policy, connect and
  TLS code, so one rule decides which addresses may be contacted. What both need to match
  certificates and TLSA records is pure and lives below both, in ``certmatch`` (right
  above ``config``; it imports neither network nor policy code);
- ``pipeline``: the stages run in order under one deadline (what ``smtpdiag.probe``
  is), so that what runs a probe below the facade runs the same pipeline;
- the uses of a diagnosis: ``health``, ``bounces``, ``tlsreports``, ``triage`` (bulk);
- ``report``: it lays out the result of every stage above (probe reports, health
  results, bounce batches, TLS reports), so it sits above all of them and below the
  facade; it never touches the network;
- ``api`` (the facade), ``watch`` (a loop around ``api.probe``), ``testing`` (the public
  test kit: servers, not callers of the api), ``demo`` (runs the test kit's servers),
  ``cli``, and the package root with ``__main__``.

Also: no cycle between subpackages, and no module over 800 lines.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

PKG = Path(__file__).resolve().parents[2] / "smtpdiag"

#: Lowest first. A module belongs to the longest prefix listed; one entry per layer.
LAYERS: tuple[tuple[str, ...], ...] = (
    (
        "smtpdiag.errors",
        "smtpdiag.defaults",
        "smtpdiag.version",
        "smtpdiag.limits",
        "smtpdiag.lazyexports",
        "smtpdiag.lazyre",
        "smtpdiag.lazydata",
        "smtpdiag.textsafe",
        "smtpdiag.timefmt",
        "smtpdiag.blocking",
    ),
    ("smtpdiag.model",),
    ("smtpdiag.config",),
    ("smtpdiag.certmatch",),
    ("smtpdiag.resolve",),
    ("smtpdiag.probing",),
    ("smtpdiag.policy",),
    ("smtpdiag.diagnosis",),
    ("smtpdiag.narrate",),
    ("smtpdiag.pipeline",),
    ("smtpdiag.health",),
    ("smtpdiag.bounces",),
    ("smtpdiag.tlsreports",),
    ("smtpdiag.triage",),
    ("smtpdiag.report",),
    ("smtpdiag.api",),
    ("smtpdiag.watch",),
    ("smtpdiag.serve",),
    ("smtpdiag.testing",),
    ("smtpdiag.demo",),
    ("smtpdiag.cli",),
    ("smtpdiag", "smtpdiag.__main__"),
)
MAX_LINES = 800


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PKG.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _layer(name: str) -> tuple[int, str]:
    """The rank and the unit (longest matching prefix) of a module name."""
    best: tuple[int, str] | None = None
    for rank, units in enumerate(LAYERS):
        for unit in units:
            if (name == unit or name.startswith(unit + ".")) and (
                best is None or len(unit) > len(best[1])
            ):
                best = (rank, unit)
    assert best is not None, f"{name} is in no layer: add it to LAYERS"
    return best


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    out: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for stmt in node.body:
                out.update(id(n) for n in ast.walk(stmt))
    return out


def _imports(path: Path) -> list[tuple[str, int, bool]]:
    """(imported module, line, under TYPE_CHECKING) for every smtpdiag import."""
    name = _module_name(path)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    checking = _type_checking_nodes(tree)
    out = []
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            # ``from . import x`` may name a submodule: check the submodule, else the package.
            for alias in node.names:
                sub = f"{module}.{alias.name}"
                targets.append(sub if _exists(sub) else module)
        out.extend(
            (t, node.lineno, id(node) in checking)
            for t in targets
            if t == "smtpdiag" or t.startswith("smtpdiag.")
        )
    return out


def _exists(module: str) -> bool:
    rel = Path(*module.split("."))
    return (PKG.parent / rel.with_suffix(".py")).exists() or (PKG.parent / rel).is_dir()


def _files() -> list[Path]:
    return sorted(PKG.rglob("*.py"))


def violations() -> list[str]:
    found = []
    for path in _files():
        name = _module_name(path)
        rank, unit = _layer(name)
        for target, line, checking in _imports(path):
            if checking and name == "smtpdiag":
                continue  # the root re-exports; its typing imports load nothing
            if target == "smtpdiag" and name != "smtpdiag":
                # ``from smtpdiag import x`` names the root unless x is a submodule
                found.append(f"{name}:{line} imports the package root")
                continue
            t_rank, t_unit = _layer(target)
            if t_rank > rank:
                found.append(f"{name}:{line} ({unit}) imports {target} ({t_unit}), a higher layer")
    return sorted(set(found))


def test_imports_follow_the_layer_order() -> None:
    assert violations() == []


def test_no_cycle_between_subpackages() -> None:
    graph: dict[str, set[str]] = defaultdict(set)
    for path in _files():
        unit = _layer(_module_name(path))[1]
        for target, _, _ in _imports(path):
            t_unit = _layer(target)[1]
            if t_unit != unit and unit != "smtpdiag":
                graph[unit].add(t_unit)
    cycles = []
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join([*trail[trail.index(nxt) :], nxt]))
            elif nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for unit in sorted(graph):
        if unit not in state:
            visit(unit, [unit])
    assert cycles == []


def test_every_module_is_in_a_layer() -> None:
    for path in _files():
        _layer(_module_name(path))


def test_the_checker_sees_function_level_and_relative_imports(tmp_path: Path) -> None:
    # The checker itself must be able to fail: a function-level relative import upward.
    probe = PKG / "probing" / "__init__.py"
    found = [t for t, _, _ in _imports(probe)]
    assert all(t.startswith("smtpdiag") for t in found)
    src = "def f():\n    from ..api import probe\n"
    tree = ast.parse(src)
    node = next(n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom))
    assert node.level == 2 and node.module == "api"


def test_no_module_over_the_line_limit() -> None:
    lines = {
        str(path.relative_to(PKG)): len(path.read_text(encoding="utf-8").splitlines())
        for path in _files()
    }
    assert {name: n for name, n in lines.items() if n > MAX_LINES} == {}


def test_triage_imports_no_private_name_of_another_module() -> None:
    # A module's ``_names`` are its own: what another module needs is public (triage's
    # pool and workers once imported the run's private route cache and engine).
    found = []
    for path in sorted((PKG / "triage").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module != "__future__":
                found.extend(
                    f"{_module_name(path)}:{node.lineno} imports {alias.name}"
                    for alias in node.names
                    if alias.name.startswith("_") and not alias.name.startswith("__")
                )
    assert found == []
