"""Cut a held-out feed by arrival month, to replay it one month of publications at a time.

A bench that feeds the daemon ``arrival_months(...)`` one item at a time sees
exactly what a live platform would have delivered by the end of each month;
an alert raised after month M's lines is an alert raised in month M.

Usage: python bench/heldout/replay.py EVENTS.jsonl --out DIR
       writes DIR/arrivals-YYYY-MM.jsonl per arrival month (empty months included),
       e.g. for ``loanwatch ingest DIR/arrivals-2023-02.jsonl`` month after month.

>>> import tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "events.jsonl")
>>> _ = open(path, "w").write('{"type":"x","arrival":"2024-01-05"}\\n{"type":"y","arrival":"2024-03-02"}\\n')
>>> [(month, len(lines)) for month, lines in arrival_months(path)]
[('2024-01', 1), ('2024-02', 0), ('2024-03', 1)]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.heldout.cli import run  # noqa: E402

__all__ = ["arrival_months", "FeedState", "FeedOrderError", "MONTHLY_TYPES"]

MONTHLY_TYPES = ("headcount", "utility", "housing_fund")

# The generator writes "arrival" last; reading it with a pattern is ten times faster than parsing the line.
_TAIL = re.compile(r',"arrival":"(\d{4}-\d{2})-\d{2}"\}\s*$')


class FeedOrderError(ValueError):
    """The file is not a feed in arrival order, or a line has no arrival date."""


def _arrival_month(line: str, where: str) -> str:
    hit = _TAIL.search(line)
    if hit:
        return hit.group(1)
    try:
        value = json.loads(line).get("arrival")
    except (ValueError, AttributeError):
        value = None
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise FeedOrderError(f"{where}: no \"arrival\": \"YYYY-MM-DD\" field; is this a held-out feed?")
    return value[:7]


def _next_month(month: str) -> str:
    y, m = int(month[:4]), int(month[5:7])
    return f"{y + m // 12:04d}-{m % 12 + 1:02d}"


def arrival_months(events_path: str | Path) -> Iterator[tuple[str, list[str]]]:
    """Yield ``(month, lines)`` for every month from the first arrival to the last, in order.

    Lines are the raw text without the newline; months in which nothing
    arrived yield an empty list, so a replay advances its clock every month.
    Raises ``FeedOrderError`` (with the line number) if the file goes back in
    arrival order or a line lacks its arrival date: a shuffled feed would
    silently let a replay see the future.
    """
    current: str | None = None
    batch: list[str] = []
    with open(events_path, encoding="utf-8") as fh:
        for number, raw in enumerate(fh, 1):
            line = raw.rstrip("\n")
            if not line.strip():
                continue
            month = _arrival_month(line, f"{events_path}:{number}")
            if current is None:
                current = month
            elif month < current:
                raise FeedOrderError(
                    f"{events_path}:{number}: arrival {month} comes after {current}; the feed must be in arrival order"
                )
            while month > current:
                yield current, batch
                batch = []
                current = _next_month(current)
            batch.append(line)
    if current is not None:
        yield current, batch


class FeedState:
    """What a replay knows so far, under the contract's rules.

    A repeated (source, event_id) changes nothing; a monthly record replaces
    the one for the same (type, kind, period), which is how corrections and
    late records land; other events are kept with their arrival month.
    ``types`` limits what is kept (and parsed), for speed.

    >>> state = FeedState({"headcount"})
    >>> line = '{"event_id":"e","source":"s","enterprise_id":"A","type":"headcount","data":{"period":"2024-03","insured":9}}'
    >>> state.apply(line, "2024-04"), state.apply(line, "2024-04")
    ('A', None)
    >>> state.series("A", "headcount")
    {'2024-03': {'period': '2024-03', 'insured': 9}}
    """

    def __init__(self, types: set[str] | None = None) -> None:
        self.types = types
        self.seen: set[tuple[str, str]] = set()
        self.monthly: dict[str, dict[tuple[str, str | None], dict[str, dict]]] = {}
        self.events: dict[str, list[tuple[str, dict]]] = {}

    def apply(self, line: str, month: str) -> str | None:
        """Take one line that arrived in ``month``; the enterprise id if it changed anything."""
        if self.types is not None and not any(f'"type":"{t}"' in line for t in self.types):
            return None
        event = json.loads(line)
        if self.types is not None and event.get("type") not in self.types:
            return None
        key = (event["source"], event["event_id"])
        if key in self.seen:
            return None
        self.seen.add(key)
        eid, type_, data = event["enterprise_id"], event["type"], event["data"]
        if type_ in MONTHLY_TYPES:
            series = self.monthly.setdefault(eid, {}).setdefault((type_, data.get("kind")), {})
            series[data["period"]] = data
        else:
            self.events.setdefault(eid, []).append((month, event))
        return eid

    def series(self, eid: str, type_: str, kind: str | None = None) -> dict[str, dict]:
        """Period -> data of one monthly series, as known now."""
        return self.monthly.get(eid, {}).get((type_, kind), {})


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("events", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)

    def work() -> None:
        args.out.mkdir(parents=True, exist_ok=True)
        for month, lines in arrival_months(args.events):
            (args.out / f"arrivals-{month}.jsonl").write_text("".join(x + "\n" for x in lines), encoding="utf-8")
            print(f"{month}\t{len(lines)}")

    return run("replay.py", work)


if __name__ == "__main__":
    sys.exit(main())
