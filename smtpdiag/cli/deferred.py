"""Standard library modules whose import waits for their first use.

Some standard modules import others that a short process never calls: ``dataclasses``
imports ``inspect`` (with ``ast``, ``dis`` and ``tokenize``) for the one case of a class
without a docstring; ``email.utils`` imports ``socket``, ``random`` and ``urllib.parse``
for message ids, dates and RFC 2231 parameters, ``email._parseaddr`` imports
``calendar``. A bounce explained in its own process uses none of them, and importing
them costs more than a fifth of that process.

:func:`defer` puts a module object for each name in ``sys.modules`` that holds only its
spec; the module's code runs into that same object the first time a name is read from
it that it does not have yet. So ``import inspect`` binds the module without running
it, and ``inspect.signature`` (or ``from inspect import signature``) runs it first: the
module is the same object before and after, only its import happens later, and a path
that uses it pays what it would have paid anyway. A deferred package still imports its
submodules (the import system only reads its ``__path__``); its own code runs when a
name is read from it.

Only the command's own process defers (see ``smtpdiag.cli._own_process``), before it
starts a thread, and only modules that are Python code on ``sys.path`` (found there as
an import would find them); a library user's interpreter is never touched.

Why not ``importlib.util.LazyLoader``: its module runs on the first attribute read of any
name, ``__spec__`` included, and the import statement reads ``__spec__`` of a module it
finds in ``sys.modules`` (whether another thread is still initializing it). So
``import socket`` in ``email.utils`` would run ``socket`` right there, and only modules
reached by ``from package import name`` would stay waiting (CPython issue gh-127036;
``scripts/bench.py explain`` measured it). Here only a name the module does not have yet
runs it; the module object itself is the one ``importlib.util.module_from_spec`` makes.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from importlib.machinery import PathFinder, SourceFileLoader, SourcelessFileLoader

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from importlib.machinery import ModuleSpec

__all__ = ["defer", "is_deferred"]


class _Deferred(types.ModuleType):
    """A module whose code has not run yet: the first missing name runs it."""

    def __getattr__(self, name: str) -> object:
        # Only called for names the module does not have: before its code ran, every
        # name but the import system's own (__spec__, __name__, ...).
        spec: ModuleSpec = self.__dict__["__spec__"]
        if name == "__path__" and spec.submodule_search_locations is None:
            # ``from module import name`` asks whether it is a package first: it is not,
            # and whether it has the name is for the name's own read to find out.
            raise AttributeError(name)
        loader = spec.loader
        assert loader is not None
        self.__class__ = types.ModuleType  # type: ignore[assignment]  # a plain module now
        spec._initializing = True  # type: ignore[attr-defined]  # as the import system does
        try:
            loader.exec_module(self)
        except BaseException:
            # Failed as an import would have: the next import tries again from scratch.
            sys.modules.pop(spec.name, None)
            raise
        finally:
            spec._initializing = False  # type: ignore[attr-defined]
        return getattr(self, name)


def is_deferred(name: str) -> bool:
    """Whether ``name`` is in ``sys.modules`` and its code has not run yet."""
    return type(sys.modules.get(name)) is _Deferred


def defer(names: Iterable[str]) -> None:
    """Defer each module of ``names`` that is not imported yet; a submodule's package is
    deferred with it when it is not imported either. A name that cannot be found is left
    to the import system."""
    for name in names:
        _defer(name)


def _defer(name: str) -> types.ModuleType | None:
    """The module ``name`` in ``sys.modules``, deferred if it was not there."""
    if name in sys.modules:
        return sys.modules[name]
    parent, _, child = name.rpartition(".")
    package = _defer(parent) if parent else None
    path = getattr(package, "__path__", None)
    if parent and path is None:
        return None
    spec = PathFinder.find_spec(name, path)
    if spec is None or not isinstance(spec.loader, SourceFileLoader | SourcelessFileLoader):
        return None  # only Python code runs into a module made here (no extension)
    module = importlib.util.module_from_spec(spec)  # a plain module: create_module is None
    module.__class__ = _Deferred
    sys.modules[name] = module
    if package is not None:
        # What the import system does once it loaded a submodule: the package names it.
        setattr(package, child, module)
    return module
