"""Regular expressions compiled on first use.

The bounce reader and the reason tables hold well over a hundred patterns; compiling
them all at import cost most of an ``explain`` process, which uses a handful. A
:class:`LazyPattern` is declared like ``re.compile(...)`` at module level and compiles
itself the first time it is used; the standard library's pattern cache then never
matters.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

__all__ = ["LazyPattern"]

_END = 2**63 - 1  # re's own default for ``endpos``


class LazyPattern:
    """A ``re.Pattern[str]`` that is compiled the first time it is used.

    Attributes:
        pattern: The source text.
        flags: The ``re`` flags.
    """

    __slots__ = ("_compiled", "flags", "pattern")

    def __init__(self, pattern: str, flags: int = 0) -> None:
        self.pattern = pattern
        self.flags = flags
        self._compiled: re.Pattern[str] | None = None

    @property
    def compiled(self) -> re.Pattern[str]:
        """The compiled pattern (compiled now if it was not yet)."""
        if self._compiled is None:
            self._compiled = re.compile(self.pattern, self.flags)
        return self._compiled

    def search(self, text: str, pos: int = 0, endpos: int = _END) -> re.Match[str] | None:
        """Like ``re.Pattern.search``."""
        return self.compiled.search(text, pos, endpos)

    def match(self, text: str, pos: int = 0, endpos: int = _END) -> re.Match[str] | None:
        """Like ``re.Pattern.match``."""
        return self.compiled.match(text, pos, endpos)

    def finditer(self, text: str, pos: int = 0, endpos: int = _END) -> Iterator[re.Match[str]]:
        """Like ``re.Pattern.finditer``."""
        return self.compiled.finditer(text, pos, endpos)

    def sub(self, repl: str, text: str) -> str:
        """Like ``re.Pattern.sub``."""
        return self.compiled.sub(repl, text)
