"""Writing accepted events and reading enterprise histories back.

Writes are batched (one executemany per table per batch) because the
embedded pipeline has a budget of tens of microseconds per event.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from detectors.records import DiscreteEvent, History, MonthlyTable
from monitor.store.models import DiscreteRecord, MonthlyRecord, RejectedEvent, SeenEvent
from monitor.store.upsert import insert_for
from streams.records import Event, Rejection

__all__ = ["find_seen", "write_events", "write_rejections", "load_histories", "discrete_of", "utc"]

CHUNK = 2000


def _chunks(items: Sequence, size: int = CHUNK) -> Iterable[Sequence]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def find_seen(session: Session, keys: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which (source, event_id) pairs were accepted before."""
    keys = list(keys)
    ids = sorted({k[1] for k in keys})
    wanted = set(keys)
    seen: set[tuple[str, str]] = set()
    for chunk in _chunks(ids):
        rows = session.execute(select(SeenEvent.source, SeenEvent.event_id).where(SeenEvent.event_id.in_(chunk)))
        seen.update(k for k in (tuple(r) for r in rows) if k in wanted)
    return seen


def write_events(session: Session, events: Sequence[Event], received_at: datetime) -> None:
    """Record accepted events; monthly values replace earlier ones for the same key (corrections)."""
    if not events:
        return
    session.execute(insert_for(session, SeenEvent).on_conflict_do_nothing(),
                    [{"source": e.source, "event_id": e.event_id} for e in events])
    monthly: dict[tuple[str, str, str], Event] = {}
    discrete: list[Event] = []
    for e in events:
        if e.monthly:
            monthly[(e.enterprise_id, e.series_kind, e.period)] = e  # later in the batch wins
        else:
            discrete.append(e)
    if monthly:
        stmt = insert_for(session, MonthlyRecord)
        stmt = stmt.on_conflict_do_update(
            index_elements=["enterprise_id", "kind", "period"],
            set_={c: getattr(stmt.excluded, c) for c in ("data", "event_id", "source", "occurred_at", "received_at")},
        )
        session.execute(stmt, [
            {"enterprise_id": k[0], "kind": k[1], "period": k[2], "data": e.data, "event_id": e.event_id,
             "source": e.source, "occurred_at": utc(e.occurred_at), "received_at": received_at}
            for k, e in monthly.items()
        ])
    if discrete:
        session.execute(insert_for(session, DiscreteRecord), [
            {"enterprise_id": e.enterprise_id, "type": e.type, "period": e.period, "occurred_at": utc(e.occurred_at),
             "data": e.data, "event_id": e.event_id, "source": e.source, "received_at": received_at}
            for e in discrete
        ])


def write_rejections(session: Session, rejections: Sequence[Rejection], received_at: datetime) -> None:
    if not rejections:
        return
    session.execute(insert_for(session, RejectedEvent), [
        {"received_at": received_at, "location": r.location, "reason": r.reason, "detail": r.detail,
         "field": r.field, "event_id": r.event_id, "enterprise_id": (r.enterprise_id or "")[:64] or None,
         "raw": r.raw, "replayed_at": None}
        for r in rejections
    ])


def utc(ts: datetime) -> datetime:
    """Timestamps are stored in UTC: SQLite keeps no offset, so one zone for all."""
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def discrete_of(e: Event) -> DiscreteEvent:
    return DiscreteEvent(e.type, utc(e.occurred_at).isoformat(), e.period, e.data, e.event_id)


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
    return utc(ts).isoformat()
