"""A strict validator of the OpenMetrics 1.0 text format subset smtpdiag emits (gauges),
written from the OpenMetrics specification's ABNF; it needs no third-party package."""

from __future__ import annotations

import re

__all__ = ["validate_openmetrics"]

_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_LABEL_NAME = r"[a-zA-Z_][a-zA-Z0-9_]*"
# A label value: any characters but ", \ and newline, or the escapes \\ \" \n.
_LABEL_VALUE = r'"(?:[^"\\\n]|\\[\\"n])*"'
_LABELS = rf"\{{(?:{_LABEL_NAME}={_LABEL_VALUE}(?:,{_LABEL_NAME}={_LABEL_VALUE})*)?\}}"
_NUMBER = r"(?:[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)|[+-]?Inf|NaN)"
_SAMPLE = re.compile(rf"^(?P<name>{_NAME})(?P<labels>{_LABELS})? (?P<value>{_NUMBER})$")
_TYPE = re.compile(
    rf"^# TYPE (?P<name>{_NAME}) (?P<type>gauge|counter|stateset|info|unknown|histogram|gaugehistogram|summary)$"
)
_UNIT = re.compile(rf"^# UNIT (?P<name>{_NAME}) (?P<unit>[a-zA-Z0-9_:]+)$")
_HELP = re.compile(rf"^# HELP (?P<name>{_NAME}) (?P<text>(?:[^\\\n]|\\[\\n\"])*)$")
_LABEL_PAIR = re.compile(rf"({_LABEL_NAME})=")


def validate_openmetrics(text: str) -> None:
    """Raise AssertionError naming the first line that breaks the format."""
    assert text.endswith("# EOF\n"), "exposition must end with '# EOF' and a newline"
    lines = text[:-1].split("\n")
    assert lines.count("# EOF") == 1 and lines[-1] == "# EOF"
    seen: set[str] = set()
    current: str | None = None
    descriptors: dict[str, set[str]] = {}
    for line in lines[:-1]:
        if line.startswith("#"):
            m = _TYPE.match(line) or _UNIT.match(line) or _HELP.match(line)
            assert m, f"bad descriptor line {line!r}"
            name = m["name"]
            kind = line.split(" ")[1]
            if name != current:
                assert name not in seen, f"family {name} is not contiguous"
                seen.add(name)
                current = name
                descriptors[name] = set()
            assert kind not in descriptors[name], f"duplicate {kind} for {name}"
            descriptors[name].add(kind)
            if kind == "UNIT":
                assert name.endswith("_" + m["unit"]), f"{name}: unit must be the name's suffix"
            continue
        m = _SAMPLE.match(line)
        assert m, f"bad sample line {line!r}"
        assert current is not None and m["name"] == current, f"sample outside its family: {line!r}"
        assert "TYPE" in descriptors[current], f"{current} has no TYPE"
        names = _LABEL_PAIR.findall(m["labels"] or "")
        assert len(names) == len(set(names)), f"duplicate label in {line!r}"
        assert "HELP" in descriptors[current], f"{current} has no HELP"
