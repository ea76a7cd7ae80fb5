"""Bulk input as a stream of targets: a domain (and the recipient behind it) per item.

Three kinds of input, detected from the first bytes (or forced):

- a list: one domain or email address per line (``user@x``, ``<user@x>``,
  ``Name <user@x>`` or ``mailto:user@x``; ``#`` comments, whole-line or after
  whitespace, and blank lines are skipped and not counted; a leading UTF-8 byte-order
  mark is ignored);
- bounces in every form ``explain --batch`` reads (mbox, maildir, ``.eml`` files or a
  directory of them, Postfix and Exim logs, ``postqueue -j``): read by
  :mod:`smtpdiag.bounces`, one target per recipient, carrying the bounce's own
  decision;
- anything unreadable or malformed: an :class:`~.model.ErrorRecord`.

Nothing is held beyond the item being read: the caller consumes a generator.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from email.utils import getaddresses
from typing import BinaryIO

from ..bounces import BatchError, BatchRecord, BatchTally, InputFormat, detect, explain_batch
from ..bounces.readers import ENDLESS_LINE, LINE_LIMIT, Chain
from ..errors import ConfigError
from ..resolve.names import normalize_domain
from ..textsafe import clean
from .model import ErrorRecord

__all__ = ["LIST", "Target", "read_targets"]

#: The ``--input-format`` of a plain list of domains and addresses.
LIST = "list"
#: Longest list line taken (a domain is at most 253 octets; an address 254).
_MAX_LINE = 1024
_HEAD = 8192
_BOUNCE_FORMATS = frozenset(
    {InputFormat.MBOX, InputFormat.POSTFIX_LOG, InputFormat.EXIM_LOG, InputFormat.POSTQUEUE}
)
# The first line of a message: a header field name and a colon (RFC 5322 2.2).
_HEADER_RE = re.compile(rb"^[!-9;-~]{1,76}:[ \t]")
# A comment after the item: "#" after whitespace ("h1.test#x" stays one, invalid, token).
_COMMENT_RE = re.compile(r"\s+#.*\Z", re.DOTALL)
# ``<addr>`` or ``Name <addr>`` (RFC 5322 name-addr): one address, no spaces inside.
_ANGLE_RE = re.compile(r"(?P<name>[^<>]*?)\s*<(?P<address>[^<>\s]+)>")
# Files saved by Excel or Notepad start with a UTF-8 byte-order mark.
_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True, slots=True)
class Target:
    """One input item that names a domain.

    Attributes:
        input: Where it was read (``path:line``, ``path#n``, ``path/file``).
        domain: The domain, normalized (lower case, IDNA A-labels).
        recipient: The address, ``None`` when the item named only a domain.
        bounce: The bounce the item came from, ``None`` for a list line.
    """

    input: str
    domain: str
    recipient: str | None = None
    bounce: BatchRecord | None = None


def input_format(value: str) -> str:
    """Validate an ``--input-format`` value (``auto``, ``list`` or a bounce format)."""
    if value == LIST:
        return value
    try:
        return InputFormat(value).value
    except ValueError:
        allowed = ", ".join([LIST, *(f.value for f in InputFormat)])
        raise ConfigError(f"unknown input format {value!r} (one of: {allowed})") from None


def _detect(head: bytes) -> str:
    fmt = detect(head)
    if fmt in _BOUNCE_FORMATS:
        return fmt.value
    if _HEADER_RE.match(head.lstrip(b"\r\n")):
        return InputFormat.EML.value
    return LIST


def _angle_address(text: str) -> str | None:
    """The address of ``<addr>`` or ``Name <addr>``, ``None`` unless the text names
    exactly one address in that form (a list of addresses is refused, not guessed)."""
    match = _ANGLE_RE.fullmatch(text)
    if match is None:
        return None
    address = match["address"]
    if match["name"]:
        # The name must be a phrase, not more addresses: "a@x, Jane <j@y>" is two.
        parsed = getaddresses([text])
        if len(parsed) != 1 or parsed[0][1] != address:
            return None
    return address


def parse_line(line: bytes, where: str) -> Target | ErrorRecord | None:
    """One list line: a domain, an address, or an error; ``None`` for blank/comment."""
    if len(line) > _MAX_LINE:
        return ErrorRecord(where, "too-long", f"line longer than {_MAX_LINE} bytes")
    text = line.decode("utf-8", "replace").strip()
    if not text or text.startswith("#"):
        return None
    text = _COMMENT_RE.sub("", text)
    shown = clean(text, 80)
    if "<" in text or ">" in text:
        address = _angle_address(text)
        if address is None:
            return ErrorRecord(where, "malformed", f"not a domain or an address: {shown}")
        text = address
    if text[:7].lower() == "mailto:":
        # A mailto: link pasted from a web page or a spreadsheet: the address only,
        # or the decision would name "mailto:..." (and land so on a suppression list).
        text = text[7:]
        if "@" not in text:
            return ErrorRecord(where, "malformed", f"not an address: {shown}")
    if any(c.isspace() for c in text):
        return ErrorRecord(where, "malformed", f"not a domain or an address: {shown}")
    recipient: str | None = None
    domain = text
    if "@" in text:
        local, _, domain = text.rpartition("@")
        if not local or not domain:
            return ErrorRecord(where, "malformed", f"not an address: {clean(text, 80)}")
    try:
        name = normalize_domain(domain)
    except ConfigError as exc:
        return ErrorRecord(where, "malformed", clean(str(exc), 200))
    if "@" in text:
        recipient = clean(f"{text.rpartition('@')[0]}@{name}", 320)
    return Target(where, name, recipient)


def _list_lines(stream: BinaryIO, name: str) -> Iterator[Target | ErrorRecord]:
    for number, line in enumerate(iter(lambda: stream.readline(_MAX_LINE + 1), b""), 1):
        where = f"{name}:{number}"
        if len(line) > _MAX_LINE and not line.endswith(b"\n"):
            skipped = len(line)
            while skipped < ENDLESS_LINE:  # skip the rest of the over-long line
                more = stream.readline(LINE_LIMIT)
                skipped += len(more)
                if not more or more.endswith(b"\n"):
                    break
            else:  # no line end within 16 MiB (/dev/zero): the input ends here
                yield ErrorRecord(
                    where,
                    "too-long",
                    "no line end within 16 MiB: the rest of this input was not read",
                )
                return
            yield ErrorRecord(where, "too-long", f"line longer than {_MAX_LINE} bytes")
            continue
        if number == 1:
            line = line.removeprefix(_BOM)
        item = parse_line(line.rstrip(b"\r\n"), where)
        if item is not None:
            yield item


def _bounce_targets(items: Iterator[BatchRecord | BatchError]) -> Iterator[Target | ErrorRecord]:
    for item in items:
        if isinstance(item, BatchError):
            yield ErrorRecord(item.input, item.error.value, item.detail)
        elif item.domain is None:
            yield ErrorRecord(item.input, "no-recipient", "the bounce names no recipient")
        else:
            try:
                domain = normalize_domain(item.domain)
            except ConfigError as exc:
                yield ErrorRecord(item.input, "malformed", clean(str(exc), 200))
                continue
            yield Target(item.input, domain, item.recipient, item)


def read_targets(
    path: str,
    fmt: str = "auto",
    *,
    stdin: BinaryIO | None = None,
    tally: BatchTally | None = None,
) -> Iterator[Target | ErrorRecord]:
    """The targets of one input (``-`` reads ``stdin``), streamed; never raises on
    content or on an unreadable path (that is an error record). ``tally`` counts the
    bounce-input lines and messages that gave nothing.

    Raises:
        ConfigError: At the end of the input, when ``fmt`` forced a bounce format that
            matched nothing in it (not one record, not one error record).
    """
    label = "-" if path == "-" else clean(path, 1024)
    forced = fmt != "auto"
    tally = tally if tally is not None else BatchTally()
    if path != "-" and os.path.isdir(path):
        if fmt not in ("auto", InputFormat.MAILDIR.value, InputFormat.EML_DIR.value):
            yield ErrorRecord(label, "unreadable", f"a directory is not {fmt}")
            return
        yield from _bounce_targets(explain_batch([path], input_format=fmt, tally=tally))
        return
    stream: BinaryIO
    if path == "-":
        if stdin is None:
            yield ErrorRecord("-", "unreadable", "no standard input")
            return
        stream = stdin
    else:
        try:
            stream = open(path, "rb")  # noqa: SIM115 - closed below, after streaming
        except OSError as exc:
            yield ErrorRecord(label, "unreadable", clean(exc.strerror or type(exc).__name__))
            return
    try:
        head = stream.read(_HEAD)
        if fmt == "auto":
            fmt = _detect(head)
        chained = io.BufferedReader(Chain(head, stream), buffer_size=1 << 16)
        if fmt == LIST:
            yield from _list_lines(chained, label)
        else:
            items = explain_batch(["-"], input_format=fmt, stdin=chained, tally=tally)
            yield from _bounce_targets(_relabel(items, label))
            if forced and tally.unmatched:
                from ..narrate.bounce import unmatched_format

                miss = tally.unmatched[0]
                raise ConfigError(unmatched_format(miss.forced, label, miss.detected, miss.items))
    finally:
        if stream is not stdin:
            stream.close()


def _relabel(
    items: Iterator[BatchRecord | BatchError], label: str
) -> Iterator[BatchRecord | BatchError]:
    """Bounce items read through stdin are named ``-...``; name them after the file."""
    if label == "-":
        yield from items
        return
    from dataclasses import replace

    for item in items:
        yield replace(item, input=label + item.input[1:])
