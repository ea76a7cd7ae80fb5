"""English in one place: the decision stages (diagnose/, health/) hold no sentence.

Findings, health results and bounce explanations are worded by ``smtpdiag/narrate``;
the seed knowledge and the status code registry are data files (``knowledge.json``,
``registry.json``). What may stay in the code: docstrings and comments, regular
expressions over outside text, messages of exceptions for bad input (``raise``), and
the rule table's documentation column (``table.py``, rendered into the README).
"""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[2] / "smtpdiag"
ALLOWED_FILES = {"table.py"}  # the rule table's documentation column


def _docstrings(tree: ast.AST) -> set[int]:
    out = set()
    for node in ast.walk(tree):
        kinds = (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
        if isinstance(node, kinds) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                out.add(id(first.value))
    return out


def _in_raise(tree: ast.AST) -> set[int]:
    return {id(n) for r in ast.walk(tree) if isinstance(r, ast.Raise) for n in ast.walk(r)}


def _sentences(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _docstrings(tree) | _in_raise(tree)
    found = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
        elif isinstance(node, ast.JoinedStr):
            text = "".join(
                v.value
                for v in node.values
                if isinstance(v, ast.Constant) and isinstance(v.value, str)
            )
        else:
            continue
        regex = any(tok in text for tok in ("(?", "\\b", "\\s", "|", "^", "\\d"))
        if len(text.split()) >= 4 and not regex:
            found.append(f"{path.name}:{node.lineno}: {text[:60]!r}")
    return found


def test_no_sentence_in_the_decision_stages() -> None:
    found = [
        s
        for sub in ("diagnosis", "health")
        for path in sorted((PKG / sub).glob("*.py"))
        if path.name not in ALLOWED_FILES
        for s in _sentences(path)
    ]
    assert found == []
