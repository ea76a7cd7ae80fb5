"""A strict checker of monitoring-plugin output, written from the monitoring-plugins
development guidelines (https://www.monitoring-plugins.org/doc/guidelines.html), used by
the Nagios-format tests: status line, multi-line layout, perfdata syntax."""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["PerfItem", "PluginOutput", "parse_plugin_output"]

# UOMs the guidelines allow: none, s/ms/us, %, B/KB/MB/TB, c (a continuous counter).
UOMS = {"", "s", "ms", "us", "%", "B", "KB", "MB", "TB", "c"}
_NUM = r"-?(?:\d+(?:\.\d+)?|\.\d+)"
# A threshold range: [@][start:][end], start may be ~ (negative infinity).
_RANGE = re.compile(rf"^@?(?:(?:{_NUM}|~):)?(?:{_NUM})?$")
_ITEM = re.compile(
    rf"""^(?P<label>'[^'=]+'|[^'=\s]+)=(?P<value>{_NUM}|U)(?P<uom>[a-zA-Z%]*)"""
    r"""(?:;(?P<warn>[^;\s]*))?(?:;(?P<crit>[^;\s]*))?(?:;(?P<min>[^;\s]*))?(?:;(?P<max>[^;\s]*))?$"""
)
_STATUS = re.compile(
    r"^(?P<service>[A-Z][A-Z0-9_]*) (?P<status>OK|WARNING|CRITICAL|UNKNOWN) - (?P<text>\S.*)$"
)


@dataclass
class PerfItem:
    label: str
    value: float | None  # None for "U"
    uom: str
    warn: str
    crit: str
    minimum: str
    maximum: str


@dataclass
class PluginOutput:
    service: str
    status: str
    text: str
    long_text: list[str]
    perfdata: list[PerfItem]

    def perf(self, label: str) -> PerfItem:
        for item in self.perfdata:
            if item.label == label:
                return item
        raise KeyError(label)


def _items(text: str) -> list[PerfItem]:
    # Items are separated by whitespace; quoted labels may hold spaces.
    tokens = re.findall(r"(?:'[^']*'|[^\s'])+", text)
    out = []
    for tok in tokens:
        m = _ITEM.match(tok)
        assert m, f"bad perfdata item {tok!r}"
        uom = m["uom"]
        assert uom in UOMS, f"bad UOM {uom!r} in {tok!r}"
        if m["value"] == "U":
            assert uom == "", f"U must not carry a UOM: {tok!r}"
        for part in ("warn", "crit"):
            rng = m[part] or ""
            assert rng == "" or _RANGE.match(rng), f"bad {part} range {rng!r} in {tok!r}"
        for part in ("min", "max"):
            val = m[part] or ""
            assert val == "" or re.fullmatch(_NUM, val), f"bad {part} {val!r} in {tok!r}"
        label = m["label"].strip("'")
        out.append(
            PerfItem(
                label,
                None if m["value"] == "U" else float(m["value"]),
                uom,
                m["warn"] or "",
                m["crit"] or "",
                m["min"] or "",
                m["max"] or "",
            )
        )
    return out


def parse_plugin_output(output: str) -> PluginOutput:
    """Parse and check ``output``; AssertionError describes the first violation."""
    assert output.endswith("\n"), "output must end with a newline"
    lines = output[:-1].split("\n")
    first, *rest = lines
    text, _, perf = first.partition("|")
    m = _STATUS.match(text.rstrip())
    assert m, f"bad status line {first!r}"
    perfdata = _items(perf) if perf else []
    long_text: list[str] = []
    in_perf = False
    for line in rest:
        assert line.strip(), "empty line in plugin output"
        if in_perf:
            assert "|" not in line, f"second '|' in perfdata part: {line!r}"
            perfdata += _items(line)
            continue
        before, bar, after = line.partition("|")
        long_text.append(before.rstrip())
        if bar:
            in_perf = True
            perfdata += _items(after)
    labels = [p.label for p in perfdata]
    assert len(labels) == len(set(labels)), "perfdata labels must be unique"
    return PluginOutput(m["service"], m["status"], m["text"], long_text, perfdata)
