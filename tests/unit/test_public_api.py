"""The package's public surface: complete, sorted, and cheap to import."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

import smtpdiag


def test_all_is_sorted_and_resolves() -> None:
    assert smtpdiag.__all__ == sorted(smtpdiag.__all__)
    for name in smtpdiag.__all__:
        assert getattr(smtpdiag, name) is not None, name


def test_every_module_declares_all() -> None:
    missing = []
    for info in pkgutil.walk_packages(smtpdiag.__path__, "smtpdiag."):
        if info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        if not hasattr(module, "__all__"):
            missing.append(info.name)
    assert missing == []


def test_public_model_names_are_exported() -> None:
    from smtpdiag import model

    for name in model.__all__:
        assert name in smtpdiag.__all__, f"smtpdiag.model.{name} is not re-exported"


def test_import_is_light() -> None:
    code = (
        "import sys, smtpdiag; "
        "heavy = [m for m in ('aiosmtplib', 'dns', 'rich', 'cryptography') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
