"""Writing accepted events and reading enterprise histories back.

Writes are batched (one executemany per table per batch) because the
embedded pipeline has a budget of tens of microseconds per event.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from detectors.periods import as_utc
from detectors.records import FIELDS, DiscreteEvent, History, MonthlyTable
from store.models import DiscreteRecord, MonthlyRecord, RejectedEvent, SeenEvent
from store.upsert import insert_for
from streams.records import Event, Rejection

__all__ = ["find_seen", "write_events", "mark_pending", "fingerprint", "write_rejections", "load_histories",
           "discrete_of", "apply_event"]

CHUNK = 2000


def _chunks(items: Sequence, size: int = CHUNK) -> Iterable[Sequence]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def find_seen(session: Session, keys: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which (source, event_id) pairs were accepted before.

    Queried per source so the lookup uses the (source, event_id) primary key;
    filtering on event_id alone scans the whole table, which grows with every event.
    """
    by_source: dict[str, set[str]] = {}
    for source, event_id in keys:
        by_source.setdefault(source, set()).add(event_id)
    seen: set[tuple[str, str]] = set()
    for source, ids in by_source.items():
        for chunk in _chunks(sorted(ids)):
            rows = session.execute(select(SeenEvent.event_id).where(SeenEvent.source == source,
                                                                     SeenEvent.event_id.in_(chunk)))
            seen.update((source, r[0]) for r in rows)
    return seen


def _driver_rows(session: Session):
    """(paramstyle marker, timestamp encoder) for raw executemany on this dialect.

    SQLAlchemy stores SQLite datetimes as text in this exact format, so rows
    written here read back as the ORM expects.
    """
    if session.get_bind().dialect.name == "sqlite":
        return "?", lambda ts: ts.strftime("%Y-%m-%d %H:%M:%S.%f")
    return "%s", lambda ts: ts


def write_events(session: Session, events: Sequence[Event], received_at: datetime) -> None:
    """Record accepted events; monthly values replace earlier ones for the same key (corrections).

    This is the hottest write of the daemon, so it goes to the driver's
    executemany directly: the ``ON CONFLICT`` SQL below is the same on SQLite
    and PostgreSQL, and SQLAlchemy's per-row parameter processing cost more
    than the inserts themselves.
    """
    if not events:
        return
    mark, ts = _driver_rows(session)
    conn = session.connection()
    conn.exec_driver_sql(
        f"INSERT INTO seen_events (source, event_id) VALUES ({mark}, {mark}) ON CONFLICT DO NOTHING",
        [(e.source, e.event_id) for e in events])
    monthly: dict[tuple[str, str, str], Event] = {}
    discrete: list[Event] = []
    for e in events:
        if e.monthly:
            monthly[(e.enterprise_id, e.series_kind, e.period)] = e  # later in the batch wins
        else:
            discrete.append(e)
    received = ts(received_at)
    dumps = json.dumps
    stamps: dict[datetime, object] = {}  # a month's records share their month-end timestamp

    def stamp(at: datetime):
        value = stamps.get(at)
        if value is None:
            value = stamps[at] = ts(as_utc(at))
        return value

    if monthly:
        conn.exec_driver_sql(
            "INSERT INTO monthly_records (enterprise_id, kind, period, data, event_id, source, occurred_at, "
            f"received_at) VALUES ({', '.join([mark] * 8)}) ON CONFLICT (enterprise_id, kind, period) DO UPDATE "
            "SET data = excluded.data, event_id = excluded.event_id, source = excluded.source, "
            "occurred_at = excluded.occurred_at, received_at = excluded.received_at",
            [(k[0], k[1], k[2], dumps(e.data), e.event_id, e.source, stamp(e.occurred_at), received)
             for k, e in monthly.items()])
    if discrete:
        conn.exec_driver_sql(
            "INSERT INTO discrete_records (enterprise_id, type, period, occurred_at, data, event_id, source, "
            f"received_at) VALUES ({', '.join([mark] * 8)})",
            [(e.enterprise_id, e.type, e.period, stamp(e.occurred_at), dumps(e.data), e.event_id, e.source,
              received) for e in discrete])


def mark_pending(session: Session, enterprise_ids: Iterable[str]) -> None:
    """Flag enterprises whose records changed; the detection pass clears the flag."""
    mark, _ = _driver_rows(session)
    session.connection().exec_driver_sql(
        f"INSERT INTO enterprises (id, risk_level, pending_detection) VALUES ({mark}, 0, {mark}) "
        "ON CONFLICT (id) DO UPDATE SET pending_detection = excluded.pending_detection",
        [(eid, True) for eid in sorted(set(enterprise_ids))])


def fingerprint(location: str | None, raw: str) -> str:
    """What identifies a rejected line: where it was read and its text (the migration 0003 copies this)."""
    where = (location or "").encode("utf-8", "surrogatepass")
    text = raw.encode("utf-8", "surrogatepass")
    return hashlib.blake2b(b"%d:%s%s" % (len(where), where, text), digest_size=16).hexdigest()


def write_rejections(session: Session, rejections: Sequence[Rejection], received_at: datetime) -> None:
    """Keep rejected lines for fix-and-replay, each once: a line seen again only counts up.

    The same file ingested twice, or a Kafka batch re-processed after a crash,
    brings the same (location, raw) again; its row keeps the first reception.
    """
    if not rejections:
        return
    rows: dict[str, dict] = {}
    for r in rejections:
        key = fingerprint(r.location, r.raw)
        row = rows.get(key)
        if row is not None:
            row["received_count"] += 1
            continue
        rows[key] = {"fingerprint": key, "received_count": 1, "received_at": received_at,
                     "location": (r.location or "")[:500] or None, "reason": r.reason, "detail": r.detail,
                     "field": r.field, "event_id": r.event_id, "enterprise_id": (r.enterprise_id or "")[:64] or None,
                     "raw": r.raw, "replayed_at": None}
    stmt = insert_for(session, RejectedEvent)
    stmt = stmt.on_conflict_do_update(
        index_elements=["fingerprint"],
        set_={"received_count": RejectedEvent.received_count + stmt.excluded.received_count})
    session.execute(stmt, list(rows.values()))


def discrete_of(e: Event) -> DiscreteEvent:
    return DiscreteEvent(e.type, as_utc(e.occurred_at).isoformat(), e.period, e.data, e.event_id)


def apply_event(history: History, e: Event, keep_months: int | None = None) -> None:
    """Apply an accepted event to an in-memory history, as the store records it.

    A monthly record inserts or corrects its month (keeping the last
    ``keep_months`` months when given); a discrete event is appended.
    """
    if not e.monthly:
        history.discrete.append(discrete_of(e))
        return
    kind = e.series_kind
    table = history.monthly.get(kind)
    if table is None:
        table = history.monthly[kind] = MonthlyTable(FIELDS[kind])
    table.upsert(e.period, e.data)
    if keep_months is not None:
        table.trim(keep_months)


def load_histories(session: Session, ids: Sequence[str], history_months: int) -> dict[str, History]:
    """Histories for these enterprises as the store has them (one query per table per chunk)."""
    out = {eid: History(eid) for eid in ids}
    monthly: dict[str, dict[str, dict[str, dict]]] = {}
    for chunk in _chunks(list(ids)):
        q = select(MonthlyRecord.enterprise_id, MonthlyRecord.kind, MonthlyRecord.period, MonthlyRecord.data).where(
            MonthlyRecord.enterprise_id.in_(chunk))
        for eid, kind, period, data in session.execute(q):
            monthly.setdefault(eid, {}).setdefault(kind, {})[period] = data
        q2 = select(DiscreteRecord.enterprise_id, DiscreteRecord.type, DiscreteRecord.occurred_at,
                    DiscreteRecord.period, DiscreteRecord.data, DiscreteRecord.event_id).where(
            DiscreteRecord.enterprise_id.in_(chunk))
        for eid, type_, occurred_at, period, data, event_id in session.execute(q2):
            out[eid].discrete.append(DiscreteEvent(type_, _iso(occurred_at), period, data, event_id))
    for eid, kinds in monthly.items():
        for kind, records in kinds.items():
            table = MonthlyTable.from_records(kind, records)
            table.trim(history_months)
            out[eid].monthly[kind] = table
    return out


def _iso(ts: datetime) -> str:
    return as_utc(ts).isoformat()
