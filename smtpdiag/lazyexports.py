"""Package names loaded from their submodule on first use (PEP 562).

A package whose ``__init__`` re-exports names from heavy submodules imports those only
when a name is read, so a path pays for what it uses::

    __getattr__ = lazy_exports(globals(), {"render": "rendering", "dumps": "jsonout"})

Type checkers cannot see through the loader: the package keeps ``if TYPE_CHECKING:``
imports of the same names.
"""

from __future__ import annotations

import importlib

# Neither typing nor collections at run time: ``import smtpdiag`` loads this module and
# imports neither (they cost milliseconds); mypy reads a module-level TYPE_CHECKING
# constant like typing.TYPE_CHECKING.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Mapping
    from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    namespace: dict[str, Any],
    exports: Mapping[str, str],
    submodules: Collection[str] = (),
) -> Callable[[str], Any]:
    """A module ``__getattr__`` for the package whose globals are ``namespace``.

    Args:
        namespace: The package's ``globals()``; a loaded name is stored there, so the
            next read is a plain attribute and the loader runs once per name.
        exports: Name -> the submodule (relative to the package) that defines it.
        submodules: Names that are the package's own submodules, handed back as the
            module (importing it binds it on the package, so it is loaded once too).
    """
    package = namespace["__name__"]
    own = frozenset(submodules)

    def __getattr__(name: str) -> Any:
        if name in own:
            return importlib.import_module(f"{package}.{name}")
        where = exports.get(name)
        if where is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{where}"), name)
        namespace[name] = value
        return value

    return __getattr__
