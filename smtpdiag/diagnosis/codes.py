"""The enhanced status code registry (RFC 3463 and the IANA "SMTP Enhanced Status Codes" registry).

The lookup; the registry rows are data in ``registry.json``. A code is written
``class.subject.detail`` (RFC 3463 section 2): class 2/4/5, subject and detail 1 to 3
digits each, no white space. The registry lists
codes as ``X.s.d``; the class comes from the reply. A well-formed code that is not
registered (e.g. Microsoft's ``5.4.316``) still gets its class and subject meaning.

Also here: the basic reply codes of RFC 5321 section 4.2.3 (plus 556 from RFC 7505), so a
bounce with only ``550 ...`` still gets a meaning.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

from ..lazydata import LazyTable, load_json
from ..lazyre import LazyPattern
from ..model import Severity

__all__ = [
    "BASIC_CODES",
    "CLASSES",
    "ENHANCED_CODE_RE",
    "REGISTRY",
    "SUBJECTS",
    "BasicCode",
    "RegistryEntry",
    "StatusCode",
    "lookup",
    "lookup_basic",
    "parse_code",
    "severity_for_class",
]

#: RFC 3463 section 2: ``status-code = class "." subject "." detail``; subject and detail
#: are ``1*3digit``. Anchored: the whole string must be a code.
ENHANCED_CODE_RE = LazyPattern(r"^([245])\.(\d{1,3})\.(\d{1,3})$")


@dataclass(frozen=True, slots=True)
class RegistryEntry:
    """One row of the IANA registry.

    Attributes:
        key: ``"X.s.d"`` as the registry writes it.
        title: The registry's title ("Bad connection").
        description: What it means (RFC wording, shortened).
        classes: Classes the defining RFC allows it with (``"2"``, ``"4"``, ``"5"``).
        basic_codes: Basic reply codes the registry associates with it, if any.
        reference: The defining RFC.
        note: How the seeds, common MTAs or this tool read it differently, if at all.
    """

    key: str
    title: str
    description: str
    classes: tuple[str, ...]
    basic_codes: tuple[int, ...]
    reference: str
    note: str | None = None


@dataclass(frozen=True, slots=True)
class StatusCode:
    """A concrete enhanced status code and what it means.

    Attributes:
        code: ``"c.s.d"`` as given.
        klass: The class digit: 2, 4 or 5.
        subject: The subject number.
        detail: The detail number.
        title: The registry title, or the subject's title for an unregistered code.
        description: The registry description, or class + subject meaning.
        severity: ``soft`` for class 4, ``hard`` for class 5, ``info`` for class 2.
        class_title: "Persistent Transient Failure", ...
        subject_title: "Network and Routing Status", ...
        registered: The code is in the registry (otherwise only class/subject apply).
        reference: The defining RFC, ``None`` for unregistered codes.
        class_allowed: The defining RFC allows this code with this class; ``False``
            when it does not (e.g. RFC 3463 calls X.4.2 "useful only as a persistent
            transient error", yet 5.4.2 is in common use).
        note: Scope notes (see :class:`RegistryEntry`).
    """

    code: str
    klass: int
    subject: int
    detail: int
    title: str
    description: str
    severity: Severity
    class_title: str
    subject_title: str
    registered: bool
    reference: str | None
    class_allowed: bool
    note: str | None = None


@dataclass(frozen=True, slots=True)
class BasicCode:
    """A basic (three digit) SMTP reply code, RFC 5321 section 4.2.

    Attributes:
        code: The number.
        title: Short meaning.
        severity: ``soft`` for 4yz, ``hard`` for 5yz, ``info`` otherwise.
        reference: The defining RFC.
    """

    code: int
    title: str
    severity: Severity
    reference: str


@cache
def _data() -> dict[str, Any]:
    """``registry.json``, read once."""
    data: dict[str, Any] = load_json(__file__, "registry.json")
    return data


def _meanings(key: str) -> dict[int, tuple[str, str]]:
    return {int(k): (v["title"], v["description"]) for k, v in _data()[key].items()}


def _registry() -> dict[str, RegistryEntry]:
    return {
        r["key"]: RegistryEntry(
            key=r["key"],
            title=r["title"],
            description=r["description"],
            classes=tuple(r["classes"]),
            basic_codes=tuple(r["basic_codes"]),
            reference=r["reference"],
            note=r.get("note"),
        )
        for r in _data()["rows"]
    }


def _basic_codes() -> dict[int, BasicCode]:
    return {
        b["code"]: BasicCode(
            b["code"], b["title"], severity_for_class(b["code"] // 100), b["reference"]
        )
        for b in _data()["basic"]
    }


# The tables are data in ``registry.json``, read on the first lookup.
#: RFC 3463 section 2 (class sub-codes): class -> (title, description).
CLASSES: Mapping[int, tuple[str, str]] = LazyTable(lambda: _meanings("classes"))
#: RFC 3463 section 2 (subject sub-codes): subject -> (title, description).
SUBJECTS: Mapping[int, tuple[str, str]] = LazyTable(lambda: _meanings("subjects"))
#: The registry: ``"X.s.d"`` -> entry, one row per code.
REGISTRY: Mapping[str, RegistryEntry] = LazyTable(_registry)
#: Basic reply codes: number -> entry (RFC 5321 4.2.3, 556 from RFC 7505).
BASIC_CODES: Mapping[int, BasicCode] = LazyTable(_basic_codes)


def severity_for_class(klass: int) -> Severity:
    """4 -> soft, 5 -> hard, 2 -> info (RFC 3463 section 2)."""
    if klass == 4:
        return Severity.SOFT
    if klass == 5:
        return Severity.HARD
    return Severity.INFO


@lru_cache(maxsize=4096)
def parse_code(text: str) -> tuple[int, int, int] | None:
    """``"5.4.2"`` -> ``(5, 4, 2)``; ``None`` unless it is exactly an RFC 3463 code.
    Cached: a batch asks for the same few codes again and again."""
    m = ENHANCED_CODE_RE.match(text.strip())
    if m is None:
        return None
    return int(m.group(1)), int(m.group(2)), int(m.group(3))


def lookup(code: str) -> StatusCode | None:
    """Look up ``"c.s.d"``; ``None`` when it is not a well-formed RFC 3463 code.

    A well-formed but unregistered code gets the class and subject meaning
    (RFC 3463 section 2: a receiver that does not know the detail interprets the
    class and subject).
    """
    parsed = parse_code(code)
    if parsed is None:
        return None
    klass, subject, detail = parsed
    canonical = f"{klass}.{subject}.{detail}"
    class_title, class_desc = CLASSES[klass]
    unknown = _data()["unknown_subject"]
    subject_title, subject_desc = SUBJECTS.get(subject, (unknown["title"], unknown["description"]))
    entry = REGISTRY.get(f"X.{subject}.{detail}")
    if entry is None:
        return StatusCode(
            code=canonical,
            klass=klass,
            subject=subject,
            detail=detail,
            title=f"{subject_title} (detail {detail} not registered)",
            description=f"{class_desc} {subject_desc}",
            severity=severity_for_class(klass),
            class_title=class_title,
            subject_title=subject_title,
            registered=False,
            reference=None,
            class_allowed=True,
        )
    return StatusCode(
        code=canonical,
        klass=klass,
        subject=subject,
        detail=detail,
        title=entry.title,
        description=entry.description,
        severity=severity_for_class(klass),
        class_title=class_title,
        subject_title=subject_title,
        registered=True,
        reference=entry.reference,
        class_allowed=str(klass) in entry.classes,
        note=entry.note,
    )


def lookup_basic(code: int) -> BasicCode | None:
    """The basic reply code's meaning; unknown ``4yz``/``5yz`` codes get their class meaning."""
    if code in BASIC_CODES:
        return BASIC_CODES[code]
    if 200 <= code <= 599:
        first = code // 100
        title = _data()["basic_classes"][str(first)]
        return BasicCode(code, title, severity_for_class(first), "RFC 5321 4.2.1")
    return None
