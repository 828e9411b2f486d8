"""Embedded-mode sources: JSONL files, standard input and a spool directory.

Each yields ``(location, line)`` pairs, where ``location`` is "file:lineno",
so that a rejection can point an operator at the exact line to fix. Files are
read line by line in binary and decoded per line: memory stays flat however
large the file, only ``\\n`` ends a line (a stray ``\\r`` inside a line is the
contract's business, not a line break), and one bad byte spoils one line,
not the file. Such a line comes as a ``LossyText``: readable text with U+FFFD
for the bad bytes, which the contract rejects as ``bad_utf8`` rather than
store the replacement.

Nothing here polls or sleeps: the daemon owns the loop and its timing, so
these stay easy to test and to drive from a backfill command.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

from streams.records import LossyText

__all__ = ["STDIN", "STDIN_NAME", "iter_lines", "SpoolDirectory"]

#: The argument that means standard input, as in most Unix tools.
STDIN = "-"
#: How standard input is named in locations ("<stdin>:3").
STDIN_NAME = "<stdin>"
#: Windows editors and Excel exports start a UTF-8 file with it.
_BOM = "\ufeff".encode()


def _decode_lines(stream: Iterable[bytes | str], name: str) -> Iterator[tuple[str, str]]:
    first = True
    for lineno, chunk in enumerate(stream, 1):
        if isinstance(chunk, bytes):
            if first and chunk.startswith(_BOM):
                chunk = chunk[len(_BOM):]
            chunk = chunk.rstrip(b"\r\n")
            try:
                line = chunk.decode("utf-8")
            except UnicodeDecodeError:
                line = LossyText.decode(chunk)  # readable, and the contract still sees the bytes
        else:
            line = chunk[1:] if first and chunk.startswith("\ufeff") else chunk
            line = line.rstrip("\r\n")
        first = False
        if not line or line.isspace():
            continue
        yield f"{name}:{lineno}", line


def iter_lines(path_or_dash: str | os.PathLike[str], *, name: str | None = None) -> Iterator[tuple[str, str]]:
    """Yield ``(location, line)`` for every non-blank line of a JSONL file or stdin.

    Parameters
    ----------
    path_or_dash
        A file path, or "-" for standard input.
    name
        What to call the file in locations; defaults to the path as given, or
        "<stdin>". Line numbers count blank lines too, so they match an editor.

    The file is closed when the iterator is exhausted or closed; stdin is
    never closed, it belongs to the process.
    """
    if os.fspath(path_or_dash) == STDIN:
        stdin = sys.stdin
        stream = getattr(stdin, "buffer", stdin)  # a test's StringIO has no buffer
        yield from _decode_lines(stream, name or STDIN_NAME)
        return
    with open(path_or_dash, "rb") as handle:
        yield from _decode_lines(handle, name or os.fspath(path_or_dash))


class SpoolDirectory:
    """A directory where producers drop ``*.jsonl`` files for the daemon to ingest.

    Writers must write ``name.tmp`` (or a dot-file) and rename it when
    complete, since a rename is atomic and a half-written file must never be
    read; such files are ignored here. Files are taken in name order, so
    producers that name files by time get them ingested in time order.

    A file is moved to ``done_dir`` only when the caller says it is fully
    processed (``mark_done``), after its effects are committed. If the daemon
    dies half-way, the file is read again from the top on restart; the
    pipeline drops the repeats by ``event_id``, so this is at-least-once
    reading with idempotent effects, like the Kafka path.

    How the daemon uses it (``monitor.app.Loanwatch.run``)::

        spool = SpoolDirectory(path)
        for file in spool.pending():
            pipeline.process(spool.lines(file))  # commits batch by batch
            spool.mark_done(file)
    """

    suffix = ".jsonl"

    def __init__(self, path: str | os.PathLike[str], done_dir: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path)
        self.done_dir = Path(done_dir) if done_dir is not None else self.path / "done"

    def __repr__(self) -> str:
        return f"SpoolDirectory({os.fspath(self.path)!r}, done_dir={os.fspath(self.done_dir)!r})"

    def _wanted(self, entry: os.DirEntry[str]) -> bool:
        name = entry.name
        return (
            name.endswith(self.suffix)
            and not name.startswith(".")
            and not name.endswith(".tmp")
            and entry.is_file()
        )

    def pending(self) -> list[Path]:
        """Complete files still waiting, in name order; empty if the spool does not exist yet."""
        try:
            with os.scandir(self.path) as entries:
                names = sorted(entry.name for entry in entries if self._wanted(entry))
        except FileNotFoundError:
            return []
        return [self.path / name for name in names]

    def lines(self, file: str | os.PathLike[str]) -> Iterator[tuple[str, str]]:
        """``(location, line)`` pairs of one spool file; locations use the bare file name."""
        path = self._resolve(file)
        return iter_lines(path, name=path.name)

    def __iter__(self) -> Iterator[Path]:
        """The pending files, so ``for file in spool`` reads naturally."""
        return iter(self.pending())

    def mark_done(self, file: str | os.PathLike[str]) -> Path:
        """Move a fully processed file to ``done_dir`` and return where it went.

        A name already taken in ``done_dir`` (a producer reusing names) gets a
        numeric suffix rather than overwriting the earlier file, which may be
        needed to replay rejections.
        """
        path = self._resolve(file)
        self.done_dir.mkdir(parents=True, exist_ok=True)
        target = self.done_dir / path.name
        counter = 1
        while target.exists():
            target = self.done_dir / f"{path.stem}.{counter}{path.suffix}"
            counter += 1
        return Path(shutil.move(os.fspath(path), os.fspath(target)))

    def _resolve(self, file: str | os.PathLike[str]) -> Path:
        """A spool file from a bare name or a path; refuse paths outside the spool."""
        path = Path(file)
        if path.parent == Path("."):
            path = self.path / path
        if path.parent.resolve() != self.path.resolve():
            raise ValueError(f"{os.fspath(file)!r} is not a file of the spool {os.fspath(self.path)!r}")
        return path
