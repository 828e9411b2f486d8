"""The pipeline: events in, histories updated, detectors run, banks alerted.

One batch is one transaction: the events, the rejected inputs, the detection
state and the alerts with their outbox rows are committed together or not at
all, so a crash mid-batch leaves nothing half-done and the batch can simply be
processed again (duplicates are recognised by event id). The embedded daemon
and the Kafka workers run this same class; only the source and the store
differ.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from alerts.fanout import AlertChange, BankPolicy, fan_out
from detectors.records import FIELDS, History, MonthlyTable
from detectors.registry import DetectorSet, build_detectors
from detectors.risk import combined_risk
from detectors.severity import Severity
from monitor.config import Config
from monitor.history_cache import HistoryCache
from monitor.reconcile import reconcile
from monitor.store.db import session_factory
from monitor.store.history import discrete_of, find_seen, load_histories, write_events, write_rejections
from monitor.store.models import Bank, DetectionRow, Enterprise, PipelineState
from monitor.store.upsert import insert_for
from streams.contract import validate
from streams.records import Event, Rejection

__all__ = ["Pipeline", "BatchResult", "IngestStats", "policies_from_config", "sync_banks"]

WATERMARK = "watermark"


@dataclass
class BatchResult:
    accepted: int = 0
    duplicates: int = 0
    rejected: Counter = field(default_factory=Counter)
    alerts: list[AlertChange] = field(default_factory=list)
    detections_changed: int = 0


@dataclass
class IngestStats:
    """Totals over many batches, as the ``ingest`` summary prints them."""

    accepted: int = 0
    duplicates: int = 0
    rejected: Counter = field(default_factory=Counter)
    alerts: Counter = field(default_factory=Counter)
    batches: int = 0

    def add(self, r: BatchResult) -> None:
        self.accepted += r.accepted
        self.duplicates += r.duplicates
        self.rejected.update(r.rejected)
        self.alerts.update(c.kind for c in r.alerts)
        self.batches += 1

    def to_dict(self) -> dict:
        return {"accepted": self.accepted, "duplicates": self.duplicates,
                "rejected": dict(sorted(self.rejected.items())), "rejected_total": sum(self.rejected.values()),
                "alerts": dict(sorted(self.alerts.items())), "batches": self.batches}


def policies_from_config(config: Config) -> dict[str, BankPolicy]:
    return {b.id: BankPolicy(b.id, b.name, b.locale, b.min_severity, b.channels) for b in config.banks}


def sync_banks(session: Session, config: Config, now: datetime) -> None:
    """Mirror config's banks into the store so watchlists and alerts can refer to them."""
    for b in config.banks:
        row = session.get(Bank, b.id)
        if row is None:
            session.add(Bank(id=b.id, name=b.name, locale=b.locale, min_severity=int(b.min_severity), updated_at=now))
        else:
            row.name, row.locale, row.min_severity, row.updated_at = b.name, b.locale, int(b.min_severity), now


class Pipeline:
    """Processes batches of raw events against one store.

    ``clock`` gives "now" (UTC) for timestamps and the future-period check;
    tests and replays inject one.
    """

    def __init__(self, config: Config, engine: Engine, *, detectors: DetectorSet | None = None,
                 clock: Callable[[], datetime] | None = None,
                 on_alert: Callable[[AlertChange], None] | None = None) -> None:
        self.config = config
        self.engine = engine
        self.sessions = session_factory(engine)
        self.detectors = detectors or build_detectors(config.detectors)
        self.clock = clock or (lambda: datetime.now(UTC))
        self.cache = HistoryCache(config.cache_enterprises)
        self.policies = policies_from_config(config)
        self.on_alert = on_alert
        self.watermark: str | None = None  # latest period seen: event time, not wall time
        with self.sessions.begin() as s:
            sync_banks(s, config, self.clock())

    def reload(self, config: Config) -> None:
        """Swap in a new configuration (SIGHUP); detection state is kept."""
        detectors = build_detectors(config.detectors)
        self.config, self.detectors, self.policies = config, detectors, policies_from_config(config)
        with self.sessions.begin() as s:
            sync_banks(s, config, self.clock())

    # -- batches ------------------------------------------------------------------
    def process(self, items: Iterable[tuple[str | None, str | bytes]]) -> IngestStats:
        """Process (location, raw) items in batches of ``config.batch_size``."""
        stats = IngestStats()
        for batch in _batched(items, self.config.batch_size):
            stats.add(self.process_batch(batch))
        return stats

    def process_batch(self, items: list[tuple[str | None, str | bytes]]) -> BatchResult:
        now = self.clock()
        result = BatchResult()
        events: list[Event] = []
        rejections: list[Rejection] = []
        for location, raw in items:
            v = validate(raw, now=now, location=location)
            (events if isinstance(v, Event) else rejections).append(v)
        try:
            with self.sessions.begin() as session:
                self._apply(session, events, rejections, now, result)
        except Exception:
            self.cache.clear()  # the cache may hold what the rolled-back batch wrote
            raise
        if self.on_alert:
            for change in result.alerts:
                self.on_alert(change)
        return result

    def _apply(self, session: Session, events: list[Event], rejections: list[Rejection], now: datetime,
               result: BatchResult) -> None:
        write_rejections(session, rejections, now)
        result.rejected.update(r.reason for r in rejections)
        seen = find_seen(session, ((e.source, e.event_id) for e in events))
        fresh: list[Event] = []
        in_batch: set[tuple[str, str]] = set()
        for e in events:
            key = (e.source, e.event_id)
            if key in seen or key in in_batch:
                result.duplicates += 1
                continue
            in_batch.add(key)
            fresh.append(e)
        result.accepted = len(fresh)
        if not fresh:
            return
        write_events(session, fresh, now)
        touched = sorted({e.enterprise_id for e in fresh})
        histories = self._histories(session, touched, fresh)
        watermark = self._advance_watermark(session, fresh)
        self._detect(session, histories, watermark, now, result)

    def _histories(self, session: Session, touched: list[str], fresh: list[Event]) -> dict[str, History]:
        out: dict[str, History] = {}
        missing = []
        for eid in touched:
            h = self.cache.get(eid)
            if h is None:
                missing.append(eid)
            else:
                out[eid] = h
        if missing:
            session.flush()
            loaded = load_histories(session, missing, self.config.history_months)
            out.update(loaded)  # already includes this batch's writes
        cached = set(touched) - set(missing)
        for e in fresh:
            if e.enterprise_id not in cached:
                continue
            h = out[e.enterprise_id]
            if e.monthly:
                kind = e.series_kind
                table = h.monthly.get(kind)
                if table is None:
                    table = h.monthly[kind] = MonthlyTable(FIELDS[kind])
                table.upsert(e.period, e.data)
                table.trim(self.config.history_months)
            else:
                h.discrete.append(discrete_of(e))
        for h in out.values():
            self.cache.put(h)
        return out

    def _advance_watermark(self, session: Session, fresh: list[Event]) -> str:
        latest = max(e.period for e in fresh)
        row = session.get(PipelineState, WATERMARK)
        if row is None:
            session.add(PipelineState(key=WATERMARK, value=latest))
            self.watermark = latest
        else:
            if latest > row.value:
                row.value = latest
            self.watermark = row.value
        return self.watermark

    def _detect(self, session: Session, histories: dict[str, History], watermark: str, now: datetime,
                result: BatchResult) -> None:
        ids = list(histories)
        stored: dict[str, list[DetectionRow]] = {}
        for i in range(0, len(ids), 2000):
            chunk = ids[i:i + 2000]
            for row in session.scalars(select(DetectionRow).where(DetectionRow.enterprise_id.in_(chunk))):
                stored.setdefault(row.enterprise_id, []).append(row)
        changes: list[tuple[str, DetectionRow, int | None]] = []
        risks: dict[str, Severity] = {}
        enterprise_rows = []
        for eid, history in histories.items():
            found = self.detectors.run(history)
            rows = stored.get(eid, [])
            as_of = history.last_period() or watermark
            if found or rows:
                transitions = reconcile(session, eid, found, rows, watermark=watermark,
                                        recent_window=self.config.recent_window_months, as_of=as_of, now=now)
                for t in transitions:
                    if t.kind != "updated":
                        result.detections_changed += 1
                    changes.append((t.kind, t.row, t.previous_severity))
                active = [(r.signal, Severity(r.severity)) for r in rows if r.status == "active"]
                active += [(t.row.signal, Severity(t.row.severity)) for t in transitions
                           if t.kind == "new" and t.row not in rows]
                risk = combined_risk(active)
            else:
                risk = None
            if risk is not None:
                risks[eid] = risk
            enterprise_rows.append({"id": eid, "last_period": as_of, "risk_level": int(risk or 0),
                                    "updated_at": now})
        stmt = insert_for(session, Enterprise)
        stmt = stmt.on_conflict_do_update(index_elements=["id"], set_={
            "last_period": stmt.excluded.last_period, "risk_level": stmt.excluded.risk_level,
            "updated_at": stmt.excluded.updated_at})
        session.execute(stmt, enterprise_rows)
        if changes:
            names = {eid: n for eid, n in session.execute(
                select(Enterprise.id, Enterprise.name).where(Enterprise.id.in_({c[1].enterprise_id for c in changes})))}
            result.alerts.extend(fan_out(session, changes, self.policies, names=names, risks=risks, now=now))


def _batched(items: Iterable, size: int) -> Iterator[list]:
    batch: list = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
