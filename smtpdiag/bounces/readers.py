"""Batch inputs as a stream of raw items: messages of an mbox, files of a maildir or a
directory, lines of a log or of ``postqueue -j``. Formats are detected from the first
bytes (or forced).

Memory stays bounded whatever the input: lines are read with a length limit (a longer
line is cut and flagged), a message keeps at most :data:`~smtpdiag.bounces.bounce.MAX_INPUT`
bytes (the rest is skipped), and nothing holds more than one message at a time. Time is
bounded too: a line with no end within :data:`ENDLESS_LINE` bytes (``/dev/zero``) ends
its input with an error record.

A maildir or a directory is read file by file: every message that can be read is, and
each entry that cannot (a symbolic link loop, a FIFO, a device, no permission) is an
error record of its own. Symbolic links are followed only when they stay inside the
folder; nothing that is not a regular file is opened for reading. Names are labels
(:func:`smtpdiag.textsafe.label`): invisible characters escaped, never dropped.
"""

from __future__ import annotations

import io
import os
import re
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from ..textsafe import clean, label
from .bounce import MAX_INPUT
from .model import ErrorKind, InputFormat

__all__ = ["ENDLESS_LINE", "LINE_LIMIT", "Chain", "RawInput", "detect", "read_inputs"]

#: Longest log or queue line kept (64 KiB); longer lines become error records.
LINE_LIMIT = 1 << 16
#: A line with no line end within this many bytes (16 MiB) ends its input: the rest is
#: not read and an error record says so (``/dev/zero`` would never end).
ENDLESS_LINE = 1 << 24
_ENDLESS_DETAIL = "no line end within 16 MiB: the rest of this input was not read"
_HEAD = 8192
_FROM_RE = re.compile(rb"^From \S{1,512} .{0,120}\d")
_POSTFIX_RE = re.compile(rb"postfix[\w/-]{0,40}\[\d{1,10}\]: [0-9A-Za-z]{5,20}: to=<", re.M)
_EXIM_RE = re.compile(
    rb"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d{1,6})?(?: [+-]\d{4})?(?: \[\d{1,10}\])? "
    rb"[0-9A-Za-z]{6}-[0-9A-Za-z]{6,11}-[0-9A-Za-z]{2,4} ",
    re.M,
)


@dataclass(frozen=True, slots=True)
class RawInput:
    """One item of a batch input, not parsed yet.

    Attributes:
        name: Where it came from (``path#n``, ``path:line``, ``path/file``), sanitized.
        format: The format of the input it came from.
        data: The bytes (a message, or one line without its line end).
        error: Set when the item could not be read; ``data`` is then empty.
        detail: What went wrong, for people (only with ``error``).
    """

    name: str
    format: InputFormat
    data: bytes
    error: ErrorKind | None = None
    detail: str = ""


class Chain(io.RawIOBase):
    """The bytes already read for detection, then the rest of the stream."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self._head = head
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        if self._head:
            n = min(len(view), len(self._head))
            view[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._rest.read(len(view))
        n = len(data)
        view[:n] = data
        return n


def detect(head: bytes, *, is_dir: bool = False, path: str = "") -> InputFormat:
    """The format of an input from its first bytes (or, for a directory, its layout)."""
    if is_dir:
        if os.path.isdir(os.path.join(path, "cur")) or os.path.isdir(os.path.join(path, "new")):
            return InputFormat.MAILDIR
        return InputFormat.EML_DIR
    stripped = head.lstrip()
    if _FROM_RE.match(head):
        return InputFormat.MBOX
    if stripped.startswith(b"{"):
        return InputFormat.POSTQUEUE
    if _POSTFIX_RE.search(head):
        return InputFormat.POSTFIX_LOG
    if _EXIM_RE.search(head):
        return InputFormat.EXIM_LOG
    return InputFormat.EML


#: How :func:`_lines` read a line.
_WHOLE, _CUT, _ENDLESS = "whole", "cut", "endless"


def _lines(stream: BinaryIO) -> Iterator[tuple[bytes, str]]:
    """Lines (with their line end) of at most LINE_LIMIT bytes, each with how it was
    read: ``_CUT`` marks a longer one (the rest of it is skipped), ``_ENDLESS`` one with
    no end within :data:`ENDLESS_LINE` bytes, after which nothing more is read."""
    while True:
        line = stream.readline(LINE_LIMIT)
        if not line:
            return
        if line.endswith(b"\n") or len(line) < LINE_LIMIT:
            yield line, _WHOLE
            continue
        skipped = len(line)
        while True:  # skip the rest of the over-long line, chunk by chunk
            more = stream.readline(LINE_LIMIT)
            skipped += len(more)
            if not more or more.endswith(b"\n"):
                break
            if skipped >= ENDLESS_LINE:
                yield line, _ENDLESS
                return
        yield line, _CUT


def _mbox(stream: BinaryIO, name: str) -> Iterator[RawInput]:
    parts: list[bytes] = []
    size = 0
    count = 0
    prev_blank = True
    started = False
    for line, how in _lines(stream):
        if how == _ENDLESS:
            count += 1
            yield RawInput(
                f"{name}#{count}", InputFormat.MBOX, b"", ErrorKind.TOO_LONG, _ENDLESS_DETAIL
            )
            return
        if prev_blank and line.startswith(b"From ") and _FROM_RE.match(line):
            if started or parts:
                count += 1
                yield RawInput(f"{name}#{count}", InputFormat.MBOX, b"".join(parts))
            parts, size, started = [], 0, True
            prev_blank = False
            continue
        if size < MAX_INPUT + 1:
            keep = line[: MAX_INPUT + 1 - size]
            parts.append(keep)
            size += len(keep)
        prev_blank = line in (b"\n", b"\r\n", b"\r")
    if started or any(p.strip() for p in parts):
        count += 1
        yield RawInput(f"{name}#{count}", InputFormat.MBOX, b"".join(parts))


def _line_items(stream: BinaryIO, name: str, fmt: InputFormat) -> Iterator[RawInput]:
    for number, (line, how) in enumerate(_lines(stream), 1):
        if how == _ENDLESS:
            yield RawInput(f"{name}:{number}", fmt, b"", ErrorKind.TOO_LONG, _ENDLESS_DETAIL)
            return
        if how == _CUT:
            yield RawInput(
                f"{name}:{number}",
                fmt,
                b"",
                ErrorKind.TOO_LONG,
                f"line longer than {LINE_LIMIT} bytes",
            )
            continue
        text = line.rstrip(b"\r\n")
        if text.strip():
            yield RawInput(f"{name}:{number}", fmt, text)


def _entries(directory: str) -> list[tuple[str, bool]]:
    """(name, is a directory) of every entry, sorted; links are not followed here."""
    with os.scandir(directory) as listing:
        return sorted((e.name, e.is_dir(follow_symlinks=False)) for e in listing)


def _files(path: str, fmt: InputFormat) -> Iterator[RawInput]:
    """Every message file of a maildir (cur/, new/) or a directory (``*.eml``, else all);
    an error record for each entry that cannot be read."""
    maildir = fmt is InputFormat.MAILDIR
    root = os.path.realpath(path)
    dirs = [os.path.join(path, d) for d in ("cur", "new")] if maildir else [path]
    for directory in dirs:
        try:
            entries = _entries(directory)
        except OSError as exc:
            if fmt is InputFormat.MAILDIR and not os.path.exists(directory):
                continue
            yield RawInput(label(directory), fmt, b"", ErrorKind.UNREADABLE, _why(exc))
            continue
        names = [name for name, is_dir in entries if not is_dir]  # sub-folders: no messages
        if fmt is InputFormat.EML_DIR and any(n.lower().endswith(".eml") for n in names):
            names = [n for n in names if n.lower().endswith(".eml")]
        for file_name in names:
            yield _file(os.path.join(directory, file_name), root, fmt)


def _kind(mode: int) -> str:
    """What a file that is not a regular file is, for the error detail."""
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISLNK(mode):  # realpath leaves a link it cannot resolve
        return "a symbolic link loop"
    return "not a regular file"


def _file(full: str, root: str, fmt: InputFormat) -> RawInput:
    """One message file of a folder: its bytes, or why it cannot be read."""
    name = label(full)
    try:
        target = full
        if os.path.islink(full):
            target = os.path.realpath(full)
            if os.path.commonpath([root, target]) != root:
                detail = "a symbolic link out of the folder: not followed"
                return RawInput(name, fmt, b"", ErrorKind.UNREADABLE, detail)
        # Never open what is not a regular file: a FIFO would block, a device may not end.
        mode = os.stat(target, follow_symlinks=False).st_mode
        if not stat.S_ISREG(mode):
            return RawInput(name, fmt, b"", ErrorKind.UNREADABLE, _kind(mode))
        flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(target, flags | getattr(os, "O_CLOEXEC", 0))
        with open(fd, "rb") as fh:
            mode = os.fstat(fd).st_mode  # what was opened, if it changed since the stat
            if not stat.S_ISREG(mode):
                return RawInput(name, fmt, b"", ErrorKind.UNREADABLE, _kind(mode))
            data = fh.read(MAX_INPUT + 1)
    except OSError as exc:
        return RawInput(name, fmt, b"", ErrorKind.UNREADABLE, _why(exc))
    return RawInput(name, fmt, data)


def _why(exc: OSError) -> str:
    return clean(exc.strerror or type(exc).__name__, 200)


#: Called with the format an input's first bytes look like (also when it is forced).
Detected = Callable[[InputFormat], None]


def _stream_items(
    stream: BinaryIO, name: str, fmt: InputFormat, detected: Detected | None = None
) -> Iterator[RawInput]:
    head = stream.read(_HEAD)
    looks = detect(head)
    if detected is not None:
        detected(looks)
    if fmt is InputFormat.AUTO:
        fmt = looks
    chained = io.BufferedReader(Chain(head, stream), buffer_size=LINE_LIMIT)
    if fmt is InputFormat.MBOX:
        yield from _mbox(chained, name)
    elif fmt in (InputFormat.POSTFIX_LOG, InputFormat.EXIM_LOG, InputFormat.POSTQUEUE):
        yield from _line_items(chained, name, fmt)
    else:
        data = chained.read(MAX_INPUT + 1)
        if fmt in (InputFormat.MAILDIR, InputFormat.EML_DIR):
            fmt = InputFormat.EML
        yield RawInput(name, fmt, data)


def read_inputs(
    path: str,
    fmt: InputFormat = InputFormat.AUTO,
    *,
    stdin: BinaryIO | None = None,
    detected: Detected | None = None,
) -> Iterator[RawInput]:
    """The raw items of one batch input (``-`` is ``stdin``). Never raises on content
    or on an unreadable path: that is an error item. ``detected`` is told what the
    input looks like, also when ``fmt`` forces a format."""
    if path == "-":
        if stdin is None:
            yield RawInput("-", fmt, b"", ErrorKind.UNREADABLE, "no standard input")
            return
        yield from _stream_items(stdin, "-", fmt, detected)
        return
    name = label(path)
    if os.path.isdir(path):
        looks = detect(b"", is_dir=True, path=path)
        if detected is not None:
            detected(looks)
        if fmt is InputFormat.AUTO:
            fmt = looks
        if fmt not in (InputFormat.MAILDIR, InputFormat.EML_DIR):
            yield RawInput(name, fmt, b"", ErrorKind.UNREADABLE, f"a directory is not {fmt}")
            return
        yield from _files(path, fmt)
        return
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed below, after streaming
    except OSError as exc:
        yield RawInput(name, fmt, b"", ErrorKind.UNREADABLE, _why(exc))
        return
    with fh:
        yield from _stream_items(fh, name, fmt, detected)
