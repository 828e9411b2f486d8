"""What Kafka workers need from the pipeline, on SQLite and PostgreSQL; no broker needed.

- ``detect="touched"``: a batch detects exactly the enterprises it changed,
  all of them, inside its own transaction, and no other (another worker may
  own those);
- ``guard``: runs first in the batch transaction and can abort it;
- the watermark only ever moves forward, whatever order workers commit in.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

import monitor.pipeline as pipeline_mod
from monitor.app import Loanwatch
from monitor.config import parse_config
from monitor.pipeline import WATERMARK
from store.models import Enterprise, MonthlyRecord, PipelineState
from streams.uscc import complete_uscc
from tests.monitor.events import HEALTHY, SLIDING, headcount_lines, listing_line

NOW = datetime(2025, 1, 20, tzinfo=UTC)


def make_app(url: str) -> Loanwatch:
    cfg = parse_config({"global": {"store": url},
                        "banks": [{"id": "bank_a", "name": "A", "channels": ["json://127.0.0.1:9/a"]}]})
    return Loanwatch(cfg, clock=lambda: NOW)


def items(lines: list[str]) -> list[tuple[str, str]]:
    return [(f"t:{i + 1}", line) for i, line in enumerate(lines)]


def pending(app: Loanwatch) -> set[str]:
    with app.sessions() as s:
        return set(s.scalars(select(Enterprise.id).where(Enterprise.pending_detection.is_(True))))


def watermark(app: Loanwatch) -> str | None:
    with app.sessions() as s:
        return s.scalar(select(PipelineState.value).where(PipelineState.key == WATERMARK))


def test_touched_detects_what_the_batch_changed_and_nothing_else(store_url):
    app = make_app(store_url)
    # someone else's enterprise, left flagged (another worker's partition, say)
    app.pipeline.process_batch(items(headcount_lines(HEALTHY, "2024-01", "2024-06", seed=1)), detect=False)
    assert pending(app) == {HEALTHY}
    result = app.pipeline.process_batch(items([listing_line(SLIDING, "2024-06")]), detect="touched")
    assert pending(app) == {HEALTHY}  # not ours: untouched, still flagged
    with app.sessions() as s:
        assert s.get(Enterprise, SLIDING).risk_level > 0  # detected in the batch's own transaction
    assert result.detections_changed == 1
    app.close()


def test_touched_examines_every_changed_enterprise_however_many(sqlite_url, monkeypatch):
    monkeypatch.setattr(pipeline_mod, "DETECT_CHUNK", 3)
    app = make_app(sqlite_url)
    ids = [complete_uscc(f"91440300MA5F1{i:04d}") for i in range(10)]
    lines = [listing_line(eid, "2024-06") for eid in ids]
    result = app.pipeline.process_batch(items(lines), detect="touched")
    assert pending(app) == set()
    assert result.detections_changed == len(ids)  # four chunks of at most 3, one transaction
    with pytest.raises(ValueError, match="touched"):
        app.pipeline.process_batch(items(lines), detect="all")
    app.close()


def test_a_failing_guard_aborts_the_whole_batch(store_url):
    app = make_app(store_url)

    class NotOwner(Exception):
        pass

    def guard(session):
        assert session.in_transaction()
        raise NotOwner

    with pytest.raises(NotOwner):
        app.pipeline.process_batch(items(headcount_lines(HEALTHY, "2024-01", "2024-03", seed=1)),
                                   detect="touched", guard=guard)
    with app.sessions() as s:
        assert s.scalars(select(MonthlyRecord)).all() == []
    assert pending(app) == set()
    app.close()


def test_watermark_never_moves_back(store_url):
    app = make_app(store_url)
    assert watermark(app) is None
    for first, last, expected in (("2024-01", "2024-05", "2024-05"), ("2023-01", "2023-03", "2024-05"),
                                  ("2024-06", "2024-07", "2024-07")):
        app.pipeline.process_batch(items(headcount_lines(HEALTHY, first, last, seed=1, prefix=first)),
                                   detect=False)
        assert watermark(app) == expected == app.pipeline.watermark
    app.close()


def test_concurrent_workers_leave_the_latest_watermark(pg_url):
    """Two pipelines (two workers) commit batches of interleaved periods at the same time."""
    apps = [make_app(pg_url), make_app(pg_url)]
    eids = [complete_uscc("91440300MA5F20001"), complete_uscc("91440300MA5F20002")]
    errors: list[BaseException] = []

    def work(app: Loanwatch, eid: str, months: list[str]) -> None:
        try:
            for p in months:
                app.pipeline.process_batch(items(headcount_lines(eid, p, p, seed=1)), detect="touched")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    a = [f"2024-{m:02d}" for m in range(1, 13, 2)]
    b = [f"2024-{m:02d}" for m in range(12, 0, -2)]
    threads = [threading.Thread(target=work, args=(apps[0], eids[0], a)),
               threading.Thread(target=work, args=(apps[1], eids[1], b))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert watermark(apps[0]) == "2024-12"
    for app in apps:
        app.close()
