"""JSONL files, stdin and the spool directory: locations an operator can act on."""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

import pytest

from streams.sources import SpoolDirectory, iter_lines


def write(path: Path, text: str) -> Path:
    path.write_bytes(text.encode("utf-8"))
    return path


def test_file_locations_count_blank_lines(tmp_path: Path) -> None:
    path = write(tmp_path / "events.jsonl", '{"a": 1}\n\n   \n{"b": 2}\r\n{"c": 3}')
    assert list(iter_lines(path)) == [
        (f"{path}:1", '{"a": 1}'),
        (f"{path}:4", '{"b": 2}'),
        (f"{path}:5", '{"c": 3}'),
    ]


def test_location_uses_the_path_as_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "events.jsonl", "{}\n")
    monkeypatch.chdir(tmp_path)
    assert list(iter_lines("events.jsonl")) == [("events.jsonl:1", "{}")]
    assert list(iter_lines("events.jsonl", name="batch-7")) == [("batch-7:1", "{}")]


def test_bom_and_bad_bytes(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"a": 1}\n{"b": "\xff"}\n')
    assert [line for _, line in iter_lines(path)] == ['{"a": 1}', '{"b": "\ufffd"}']


def test_lone_carriage_return_does_not_split_a_line(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_bytes(b'{"a": "x\ry"}\n')
    assert [line for _, line in iter_lines(path)] == ['{"a": "x\ry"}']


def test_missing_file_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        list(iter_lines(tmp_path / "nope.jsonl"))


def test_streams_lazily_and_closes(tmp_path: Path) -> None:
    path = write(tmp_path / "big.jsonl", "".join(f'{{"n": {i}}}\n' for i in range(10_000)))
    lines = iter_lines(path)
    assert next(lines) == (f"{path}:1", '{"n": 0}')
    lines.close()  # the file handle goes with the generator


def test_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = io.TextIOWrapper(io.BytesIO('{"a": 1}\n\n{"汉": 2}\n'.encode()), encoding="utf-8")
    monkeypatch.setattr(sys, "stdin", fake)
    assert list(iter_lines("-")) == [("<stdin>:1", '{"a": 1}'), ("<stdin>:3", '{"汉": 2}')]
    assert not fake.closed


def test_stdin_without_buffer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO('{"a": 1}\n'))
    assert list(iter_lines("-", name="pipe")) == [("pipe:1", '{"a": 1}')]


# --- spool directory --------------------------------------------------------------------


def test_spool_lists_complete_files_in_name_order(tmp_path: Path) -> None:
    for name in ["20240302.jsonl", "20240301.jsonl", "20240303.jsonl.tmp", ".20240304.jsonl", "notes.txt"]:
        write(tmp_path / name, "{}\n")
    (tmp_path / "dir.jsonl").mkdir()
    spool = SpoolDirectory(tmp_path)
    assert [p.name for p in spool.pending()] == ["20240301.jsonl", "20240302.jsonl"]
    assert [p.name for p in spool] == ["20240301.jsonl", "20240302.jsonl"]


def test_spool_tmp_file_appears_after_rename(tmp_path: Path) -> None:
    spool = SpoolDirectory(tmp_path)
    tmp = write(tmp_path / "a.jsonl.tmp", '{"a": 1}\n')
    assert spool.pending() == []
    os.replace(tmp, tmp_path / "a.jsonl")
    assert [p.name for p in spool.pending()] == ["a.jsonl"]


def test_spool_lines_use_file_name(tmp_path: Path) -> None:
    write(tmp_path / "a.jsonl", '{"a": 1}\n\n{"a": 2}\n')
    spool = SpoolDirectory(tmp_path)
    (file,) = spool.pending()
    assert list(spool.lines(file)) == [("a.jsonl:1", '{"a": 1}'), ("a.jsonl:3", '{"a": 2}')]
    assert list(spool.lines("a.jsonl")) == list(spool.lines(file))


def test_mark_done_moves_to_done(tmp_path: Path) -> None:
    write(tmp_path / "a.jsonl", "{}\n")
    write(tmp_path / "b.jsonl", "{}\n")
    spool = SpoolDirectory(tmp_path)
    seen = []
    for file in spool.pending():
        seen.extend(location for location, _ in spool.lines(file))
        moved = spool.mark_done(file)
        assert moved == tmp_path / "done" / file.name
        assert moved.read_text() == "{}\n"
    assert seen == ["a.jsonl:1", "b.jsonl:1"]
    assert spool.pending() == []


def test_mark_done_keeps_earlier_file_of_same_name(tmp_path: Path) -> None:
    spool = SpoolDirectory(tmp_path)
    write(tmp_path / "a.jsonl", "first\n")
    spool.mark_done("a.jsonl")
    write(tmp_path / "a.jsonl", "second\n")
    moved = spool.mark_done("a.jsonl")
    assert moved.name == "a.1.jsonl"
    assert (tmp_path / "done" / "a.jsonl").read_text() == "first\n"
    assert moved.read_text() == "second\n"


def test_custom_done_dir(tmp_path: Path) -> None:
    spool = SpoolDirectory(tmp_path / "in", done_dir=tmp_path / "archive")
    (tmp_path / "in").mkdir()
    write(tmp_path / "in" / "a.jsonl", "{}\n")
    assert spool.mark_done(spool.pending()[0]) == tmp_path / "archive" / "a.jsonl"
    assert not (tmp_path / "in" / "done").exists()


def test_mark_done_refuses_files_outside_the_spool(tmp_path: Path) -> None:
    spool = SpoolDirectory(tmp_path / "spool")
    outside = write(tmp_path / "a.jsonl", "{}\n")
    with pytest.raises(ValueError, match="not a file of the spool"):
        spool.mark_done(outside)
    assert outside.exists()


def test_missing_spool_is_empty(tmp_path: Path) -> None:
    assert SpoolDirectory(tmp_path / "not-yet").pending() == []
