"""Every option of every subcommand appears in README.md or docs/*.md.

The parsers are built by the CLI's own construction (``cli.build_parser``, every
subcommand in ``cli.COMMANDS`` registered in full), so a new flag or a new subcommand is
covered the day it lands, and ``--help`` and the documentation cannot drift apart.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from smtpdiag import cli

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]

#: (subcommand, option) pairs left out of the documentation on purpose, each with why.
#: Keep it empty unless an option is deliberately hidden (e.g. a debugging aid).
UNDOCUMENTED: dict[tuple[str, str], str] = {}


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    raise AssertionError("the CLI has no subcommands")


def _options(parser: argparse.ArgumentParser) -> list[str]:
    """Every option string (``--width``, ``-4``) but the automatic ``-h/--help``."""
    return [
        option
        for action in parser._actions
        if not isinstance(action, argparse._HelpAction)
        for option in action.option_strings
    ]


def _mentioned(option: str, text: str) -> bool:
    # Whole option only: "--width" must not count as mentioned by "--widths" or "x--width".
    return re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", text) is not None


def _undocumented(parsers: dict[str, argparse.ArgumentParser], text: str) -> list[str]:
    return [
        f"{name} {option}"
        for name, sub in parsers.items()
        for option in _options(sub)
        if (name, option) not in UNDOCUMENTED and not _mentioned(option, text)
    ]


@pytest.fixture(scope="module")
def parsers() -> dict[str, argparse.ArgumentParser]:
    return _subparsers(cli.build_parser())


@pytest.fixture(scope="module")
def docs_text() -> str:
    return "\n".join(path.read_text(encoding="utf-8") for path in DOCS)


def test_every_subcommand_is_built(parsers: dict[str, argparse.ArgumentParser]) -> None:
    assert sorted(parsers) == sorted(cli.COMMANDS)
    for name, sub in parsers.items():
        assert _options(sub), f"{name} was registered as a stub, not in full"


def test_every_option_is_documented(
    parsers: dict[str, argparse.ArgumentParser], docs_text: str
) -> None:
    missing = _undocumented(parsers, docs_text)
    assert not missing, (
        "options in --help but in neither README.md nor docs/*.md (document them, or add "
        f"them to UNDOCUMENTED with the reason): {', '.join(missing)}"
    )


def test_the_allow_list_is_not_stale(
    parsers: dict[str, argparse.ArgumentParser], docs_text: str
) -> None:
    for (name, option), why in UNDOCUMENTED.items():
        assert why, f"{name} {option}: say why it is undocumented"
        assert option in _options(parsers[name]), f"{name} has no {option} any more"
        assert not _mentioned(option, docs_text), f"{name} {option} is documented now"


def test_the_check_can_fail() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--no-such-option")
    parser.add_argument("-4", action="store_true")
    text = "Use -4, and `--no-such-options` is another flag."
    assert _undocumented({"demo": parser}, text) == ["demo --no-such-option"]
