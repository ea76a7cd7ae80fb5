"""Making untrusted text safe to store and print.

Remote servers, DNS answers and bounce texts can hold terminal escape sequences,
control characters or megabytes of text. Everything that reaches the model passes
through :func:`clean` once, at the adapter that read it.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["MAX_TEXT", "clean", "label", "shown"]

#: Longest text kept from one remote field (a reply, a banner, an error).
MAX_TEXT = 512

# Whole terminal escape sequences (ECMA-48 CSI, OSC/DCS/APC strings, two-character
# escapes), so that no "[31m" residue is left once ESC itself is dropped.
_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI
    r"|\x1b[\]PX^_][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC, DCS, SOS, PM, APC
    r"|\x1b[@-Z\\-_]"  # two-character escapes
    r"|\x9b[0-?]*[ -/]*[@-~]"  # 8-bit CSI
)


def clean(text: str | bytes | None, limit: int = MAX_TEXT, *, keep_newlines: bool = False) -> str:
    """Return ``text`` without control or format characters, at most ``limit`` characters.

    Bytes are decoded as UTF-8 with replacement. Newlines are kept only when asked
    (multi-line SMTP replies); tabs become spaces. A cut text ends in "...".
    """
    if text is None:
        return ""
    if isinstance(text, str) and text.isascii() and text.isprintable():
        # Fast path (most remote text): printable ASCII has no control, format or escape
        # characters, so only the length limit applies.
        return text if len(text) <= limit else text[: limit - 3] + "..."
    if isinstance(text, bytes):
        text = text[: limit * 4 + 16].decode("utf-8", "replace")
    else:
        text = text[: limit * 4 + 16]
    text = _ESCAPES.sub("", text)
    out: list[str] = []
    for ch in text:
        if ch == "\n" and keep_newlines:
            out.append(ch)
        elif ch == "\t":
            out.append(" ")
        elif unicodedata.category(ch) in {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}:
            # Includes ESC (terminal escapes), bidi overrides, CR.
            continue
        else:
            out.append(ch)
        if len(out) > limit:
            return "".join(out[: limit - 3]) + "..."
    return "".join(out)


_INVISIBLE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp", "Zs"})


def label(text: str, limit: int = 1024) -> str:
    """``text`` as a name for an input (a path): control, format and invisible
    characters escaped (``\\x07``, ``\\u200b``), never dropped, so two names that differ
    only in them stay two names, and a name made only of them is not empty. A cut name
    ends in "...".
    """
    if text.isascii() and text.isprintable():
        out = text
    else:
        out = "".join(
            ch.encode("unicode_escape").decode("ascii")
            if ch != " " and unicodedata.category(ch) in _INVISIBLE
            else ch
            for ch in text[: limit * 2]
        )
    if not out:
        return "''"
    return out if len(out) <= limit else out[: limit - 3] + "..."


def shown(text: str, limit: int = 80) -> str:
    """``text`` quoted for an error message, control characters escaped, not dropped.

    An invalid value must look invalid: ``'x\\x07y.test'`` rather than a cleaned
    ``'xy.test'``, which would look like a valid name. ``repr`` escapes every
    non-printable character (controls, escapes, bidi overrides); a cut text ends
    in "...".
    """
    if len(text) > limit:
        return repr(text[: limit - 3]) + "..."
    return repr(text)
