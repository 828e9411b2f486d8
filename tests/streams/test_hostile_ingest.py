"""The hostile corpus through the real daemon path, on SQLite and PostgreSQL; dead letters stored once.

A file mixes every line of ``hostile/corpus.jsonl`` with valid events of all
ten types for a watched and an unwatched enterprise. ``Loanwatch.ingest_files``
must store every valid event, dead-letter every hostile line with its reason at
its ``file:line``, raise nothing, and keep detecting. Ingesting the same file
again must add no dead-letter row (issue 9: 57 rows for 19 lines before).
"""

from __future__ import annotations

import csv
import json
import shutil
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select, text

from monitor.app import Loanwatch
from monitor.config import parse_config
from store.models import RejectedEvent
from streams.wire import storable
from tests.monitor.events import HEALTHY, SLIDING, headcount_lines, watchlist_csv
from tests.streams.hostile import build

HERE = Path(__file__).resolve().parent / "hostile"
NOW = datetime(2026, 11, 15, 4, 0, tzinfo=UTC)
CORPUS = (HERE / "corpus.jsonl").read_bytes().split(b"\n")[:-1]
EXPECTED = list(csv.DictReader((HERE / "expected.csv").open(encoding="utf-8")))


def make_app(url: str) -> Loanwatch:
    cfg = parse_config({
        "global": {"store": url, "batch_size": 25},
        "banks": [{"id": "bank_a", "name": "A", "locale": "zh-CN", "min_severity": "medium", "channels": []}],
    })
    app = Loanwatch(cfg, clock=lambda: NOW)
    app.bank("bank_a").import_watchlist(watchlist_csv([(SLIDING, "L1", 1e6)]))
    return app


def valid_lines() -> list[bytes]:
    lines = [line.encode() for line in headcount_lines(SLIDING, "2023-01", "2026-10", seed=2,
                                                         decline_from="2026-02", prefix="ok")]
    for i, type_ in enumerate(sorted(build.BASE)):
        event = build.event(type_, event_id=f"ok-{type_}", enterprise_id=HEALTHY,
                            occurred_at=f"2026-0{1 + i % 9}-15T10:00:00+08:00")
        if type_ in ("headcount", "utility", "housing_fund"):
            event["data"]["period"] = "2026-09"
        lines.append(json.dumps(event, ensure_ascii=False).encode())
    return lines


def write_mix(path: Path) -> dict[int, dict[str, str]]:
    """Valid and hostile lines alternating, a valid one first; returns the hostile cases by line number."""
    valid = valid_lines()
    out: list[bytes] = []
    cases: dict[int, dict[str, str]] = {}
    for i in range(max(len(valid), len(CORPUS))):
        if i < len(valid):
            out.append(valid[i])
        if i < len(CORPUS):
            out.append(CORPUS[i])
            cases[len(out)] = dict(EXPECTED[i], raw=CORPUS[i].decode("utf-8", "replace"))
    path.write_bytes(b"\n".join(out) + b"\n")
    return cases


def ids_of(lines: list[bytes]) -> set[tuple[str, str]]:
    return {(e["source"], e["event_id"]) for e in map(json.loads, lines)}


def test_hostile_file_through_the_daemon(store_url: str, tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    cases = write_mix(path)
    hostile = {n: c for n, c in cases.items() if c["reason"] != "accepted"}
    good = valid_lines() + [CORPUS[int(c["line"]) - 1] for c in cases.values() if c["reason"] == "accepted"]
    app = make_app(store_url)

    stats = app.ingest_files([str(path)])

    assert stats.accepted == len(good)
    assert dict(stats.rejected) == dict(Counter(c["reason"] for c in hostile.values()))
    with app.sessions() as s:
        seen = set(s.execute(text("SELECT source, event_id FROM seen_events")).all())
        rows = {r.location: r for r in s.scalars(select(RejectedEvent))}
        pending = s.execute(text("SELECT count(*) FROM enterprises WHERE pending_detection")).scalar_one()
        detections = s.execute(text("SELECT count(*) FROM detections")).scalar_one()
    assert seen == ids_of(good)  # every valid event stored, nothing of a hostile line
    assert set(rows) == {f"{path}:{n}" for n in hostile}
    for n, case in hostile.items():
        row = rows[f"{path}:{n}"]
        assert row.reason == case["reason"], case["note"]
        if case["field"] != "*":
            assert (row.field or "") == case["field"], case["note"]
        assert row.raw == storable(case["raw"]), case["note"]
        assert row.received_count == 1
    assert pending == 0 and detections > 0  # detection ran over the valid history, and finished

    again = app.ingest_files([str(path)])  # the same file again: counted, not stored twice
    assert again.accepted == 0 and again.duplicates == len(good)
    assert again.rejected == stats.rejected
    with app.sessions() as s:
        counts = s.execute(select(RejectedEvent.received_count)).scalars().all()
    assert len(counts) == len(hostile) and set(counts) == {2}

    copy = tmp_path / "copy.jsonl"  # the same lines in another file are other lines
    shutil.copy(path, copy)
    app.ingest_files([str(copy)])
    with app.sessions() as s:
        assert s.execute(select(RejectedEvent.id)).scalars().all().__len__() == 2 * len(hostile)
    app.close()
