"""Dead letters are stored once per rejected line: (location, raw text), counted when seen again.

Issue 9: re-ingesting the same bad file stored its rejected lines again (57
rows for 19 lines). Migration 0003 fingerprints the rows already stored and
folds their repeats; on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select, text

from store.db import migrate, open_engine, session_factory
from store.history import fingerprint, write_rejections
from store.models import Base, RejectedEvent
from streams.records import Rejection

NOW = datetime(2026, 11, 15, 4, 0, tzinfo=UTC)


def rejection(location: str | None, raw: str, reason: str = "bad_json") -> Rejection:
    return Rejection(reason=reason, detail="not valid JSON", raw=raw, location=location)


def test_dead_letters_once_per_location_and_text(store_url: str) -> None:
    engine = open_engine(store_url)
    migrate(engine)
    sessions = session_factory(engine)
    batch = [rejection("a:1", "{x"), rejection("a:2", "{x"), rejection("a:1", "{x"), rejection(None, "{y"),
             rejection(None, "{y"), rejection("a:3", "\ufffd")]
    with sessions.begin() as s:
        write_rejections(s, batch, NOW)
    with sessions.begin() as s:
        write_rejections(s, batch[:2], NOW)
    with sessions() as s:
        rows = {(r.location, r.raw): r.received_count for r in s.scalars(select(RejectedEvent))}
    assert rows == {("a:1", "{x"): 3, ("a:2", "{x"): 2, (None, "{y"): 2, ("a:3", "\ufffd"): 1}
    engine.dispose()


def test_migration_folds_the_repeats_already_stored(store_url: str) -> None:
    engine = open_engine(store_url)
    migrate(engine, "0002")
    stored = [("f.jsonl:1", "{bad"), ("f.jsonl:2", "[]"), ("f.jsonl:1", "{bad"), ("f.jsonl:2", "[]"),
              ("f.jsonl:1", "{bad"), ("g.jsonl:1", "{bad"), (None, "{bad")]
    with engine.begin() as c:
        for location, raw in stored:
            c.execute(text("INSERT INTO rejected_events (received_at, location, reason, detail, raw) "
                           "VALUES (:at, :loc, 'bad_json', 'd', :raw)"), {"at": NOW, "loc": location, "raw": raw})
    migrate(engine)
    with engine.connect() as c:
        rows = c.execute(text("SELECT id, location, raw, fingerprint, received_count FROM rejected_events "
                              "ORDER BY id")).all()
        diffs = [d for d in compare_metadata(MigrationContext.configure(c), Base.metadata)
                 if "rejected_events" in repr(d)]
    assert [(r.id, r.location, r.received_count) for r in rows] == [
        (1, "f.jsonl:1", 3), (2, "f.jsonl:2", 2), (6, "g.jsonl:1", 1), (7, None, 1)]
    assert all(r.fingerprint == fingerprint(r.location, r.raw) for r in rows)
    assert diffs == []  # the migrated table is the one the models describe
    sessions = session_factory(engine)
    with sessions.begin() as s:
        write_rejections(s, [rejection("f.jsonl:1", "{bad")], NOW)
    with engine.connect() as c:
        assert c.execute(text("SELECT received_count FROM rejected_events WHERE id = 1")).scalar_one() == 4
    engine.dispose()
