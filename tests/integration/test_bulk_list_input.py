"""The list format of ``smtpdiag bulk`` as files saved by everyday tools: a byte-order
mark, ``mailto:`` links, ``Name <addr>`` lines, trailing comments; hostile lines stay
error records."""

from __future__ import annotations

from pathlib import Path

from smtpdiag.triage.input import Target, read_targets
from smtpdiag.triage.model import ErrorRecord


def _read(tmp_path: Path, data: bytes) -> list[Target | ErrorRecord]:
    path = tmp_path / "in.txt"
    path.write_bytes(data)
    return list(read_targets(str(path), "list"))


def test_list_byte_order_mark_is_skipped(tmp_path: Path) -> None:
    items = _read(tmp_path, b"\xef\xbb\xbfh1.test\r\nh2.test\r\n")
    assert items == [
        Target(f"{tmp_path}/in.txt:1", "h1.test"),
        Target(f"{tmp_path}/in.txt:2", "h2.test"),
    ]
    # Auto-detection sees a list too.
    path = tmp_path / "in.txt"
    assert [t.domain for t in read_targets(str(path)) if isinstance(t, Target)] == [
        "h1.test",
        "h2.test",
    ]


def test_list_mailto_and_display_name_forms(tmp_path: Path) -> None:
    items = _read(
        tmp_path,
        b"mailto:user@h13.test\n"
        b"MAILTO:Other@H13.test\n"
        b"Jane Doe <jane@h6.test>\n"
        b'"Doe, Jane" <jd@h6.test>\n'
        b"<bare@h7.test>\n"
        b"a@h1.test, b@h2.test\n"  # two addresses: refused
        b"Jane <not an address>\n"
        b"mailto:\n"
        b"a@x.test, Jane <j@h1.test>\n"  # two addresses, one of them named: refused
        b"mailto:h1.test\n",  # a mailto: link names an address
    )
    where = f"{tmp_path}/in.txt"
    assert items[:5] == [
        Target(f"{where}:1", "h13.test", "user@h13.test"),
        Target(f"{where}:2", "h13.test", "Other@h13.test"),
        Target(f"{where}:3", "h6.test", "jane@h6.test"),
        Target(f"{where}:4", "h6.test", "jd@h6.test"),
        Target(f"{where}:5", "h7.test", "bare@h7.test"),
    ]
    errors = items[5:]
    assert [e.input for e in errors] == [f"{where}:{n}" for n in range(6, 11)]
    assert all(isinstance(e, ErrorRecord) and e.error == "malformed" for e in errors)


def test_list_trailing_comment(tmp_path: Path) -> None:
    items = _read(
        tmp_path,
        b"h8.test # trailing comment\n"
        b"a@h9.test\t# tab before the comment\n"
        b"Jane <j@h10.test> # named\n"
        b"h11.test#not-a-comment\n"
        b"  # only a comment\n",
    )
    where = f"{tmp_path}/in.txt"
    assert items[:3] == [
        Target(f"{where}:1", "h8.test"),
        Target(f"{where}:2", "h9.test", "a@h9.test"),
        Target(f"{where}:3", "h10.test", "j@h10.test"),
    ]
    assert len(items) == 4
    assert isinstance(items[3], ErrorRecord) and items[3].input == f"{where}:4"


def test_list_hostile_lines_stay_error_records(tmp_path: Path) -> None:
    items = _read(
        tmp_path,
        b"h1.test\x1b[2J # escape\n"
        b"Jane <j@h1.test\x00>\n"
        b"mailto:" + b"a" * 2000 + b"@h1.test\n"
        b"\xef\xbb\xbf\xef\xbb\xbfh2.test\n"  # a second BOM is not skipped
        b"h3.test\n",
    )
    where = f"{tmp_path}/in.txt"
    assert [i.input for i in items] == [f"{where}:{n}" for n in range(1, 6)]
    assert all(isinstance(i, ErrorRecord) for i in items[:4])
    assert items[2].error == "too-long"  # type: ignore[union-attr]
    assert items[4] == Target(f"{where}:5", "h3.test")
    for item in items[:4]:
        assert isinstance(item, ErrorRecord)
        assert all(c.isprintable() for c in item.detail), item.detail


def test_endless_line_ends_the_input() -> None:
    # /dev/zero has no line end: the over-long line was skipped forever.
    items = list(read_targets("/dev/zero", "list"))
    assert len(items) == 1 and isinstance(items[0], ErrorRecord)
    assert items[0].error == "too-long" and "16 MiB" in items[0].detail
