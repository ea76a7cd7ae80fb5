"""Tables loaded from the package's JSON data files on first use.

The status code registry and the seed knowledge are data, kept as JSON next to the
code that reads them; most processes (a monitoring check, ``--version``) never look a
code up, so a table is read the first time one of its keys is.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

__all__ = ["LazyTable", "load_json"]

K = TypeVar("K")
V = TypeVar("V")


def load_json(module_file: str, name: str) -> Any:
    """The JSON document ``name`` next to the module whose ``__file__`` is given."""
    path = os.path.join(os.path.dirname(module_file), name)
    with open(path, encoding="utf-8") as f:
        return json.load(f)


class LazyTable(Mapping[K, V]):
    """A read-only mapping built by ``load`` the first time it is read."""

    __slots__ = ("_data", "_load")

    def __init__(self, load: Callable[[], dict[K, V]]) -> None:
        self._load = load
        self._data: dict[K, V] | None = None

    @property
    def data(self) -> dict[K, V]:
        """The loaded table."""
        if self._data is None:
            self._data = self._load()
        return self._data

    def __getitem__(self, key: K) -> V:
        return self.data[key]

    def __iter__(self) -> Iterator[K]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)
