"""Package names loaded from their submodule on first use (PEP 562).

A package whose ``__init__`` re-exports names from heavy submodules imports those only
when a name is read, so a path pays for what it uses::

    __getattr__ = lazy_exports(globals(), {"render": "rendering", "dumps": "jsonout"})

Type checkers cannot see through the loader: the package keeps ``if TYPE_CHECKING:``
imports of the same names.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(namespace: dict[str, Any], exports: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for the package whose globals are ``namespace``.

    Args:
        namespace: The package's ``globals()``; a loaded name is stored there, so the
            next read is a plain attribute and the loader runs once per name.
        exports: Name -> the submodule (relative to the package) that defines it.
    """
    package = namespace["__name__"]

    def __getattr__(name: str) -> Any:
        where = exports.get(name)
        if where is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{where}"), name)
        namespace[name] = value
        return value

    return __getattr__
