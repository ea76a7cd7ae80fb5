"""The package version, in a module of its own so that any layer can read it without
importing the package root (which sits on top of every layer)."""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
