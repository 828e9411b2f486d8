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

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from alerts.fanout import AlertChange, fan_out
from detectors.evidence import STATISTIC
from detectors.periods import period_index
from detectors.records import History
from detectors.registry import DetectorSet, build_detectors
from detectors.risk import combined_risk
from detectors.severity import Severity
from monitor.config import Config
from monitor.history_cache import HistoryCache
from monitor.peer_tracker import PeerTracker
from monitor.reconcile import reconcile
from store.db import session_factory
from store.history import (
    apply_event,
    find_seen,
    load_histories,
    mark_pending,
    write_events,
    write_rejections,
)
from store.models import Bank, DetectionRow, Enterprise, PipelineState
from store.transitions import Transition
from store.upsert import insert_for
from streams.contract import validate
from streams.records import Event, Rejection

__all__ = ["Pipeline", "BatchResult", "IngestStats", "sync_banks"]

WATERMARK = "watermark"
# Enterprises examined per detection transaction.
DETECT_CHUNK = 1000


@dataclass
class BatchResult:
    accepted: int = 0
    duplicates: int = 0
    rejected: Counter = field(default_factory=Counter)
    alerts: list[AlertChange] = field(default_factory=list)
    detections_changed: int = 0
    rejections: list[Rejection] = field(default_factory=list)  # for a dead-letter topic


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

    def merge(self, other: IngestStats) -> None:
        self.accepted += other.accepted
        self.duplicates += other.duplicates
        self.rejected.update(other.rejected)
        self.alerts.update(other.alerts)
        self.batches += other.batches

    def to_dict(self) -> dict:
        return {"accepted": self.accepted, "duplicates": self.duplicates,
                "rejected": dict(sorted(self.rejected.items())), "rejected_total": sum(self.rejected.values()),
                "alerts": dict(sorted(self.alerts.items())), "batches": self.batches}


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
                 on_alert: Callable[[AlertChange], None] | None = None,
                 peer_refresh_seconds: float | None = None) -> None:
        self.config = config
        self.engine = engine
        self.sessions = session_factory(engine)
        self.detectors = detectors or build_detectors(config.detectors)
        self.clock = clock or (lambda: datetime.now(UTC))
        self.cache = HistoryCache(config.cache_enterprises)
        self.policies = config.policies
        self.on_alert = on_alert
        self.watermark: str | None = None  # latest period seen: event time, not wall time
        # what the rest of the portfolio did each month; other workers add to it when refresh is set
        self.peers = PeerTracker(refresh_seconds=peer_refresh_seconds)
        with self.sessions.begin() as s:
            sync_banks(s, config, self.clock())
            self.peers.load(s)

    def reload(self, config: Config) -> None:
        """Swap in a new configuration (SIGHUP); detection state is kept."""
        detectors = build_detectors(config.detectors)
        self.config, self.detectors, self.policies = config, detectors, config.policies
        with self.sessions.begin() as s:
            sync_banks(s, config, self.clock())

    # -- batches ------------------------------------------------------------------
    def process(self, items: Iterable[tuple[str | None, str | bytes]], *,
                detect_every: int | None = None) -> IngestStats:
        """Process (location, raw) items in transactions of ``config.batch_size``.

        Detection runs over the enterprises whose records changed every
        ``detect_every`` events (default ``config.detect_every_events``; 0: only
        once, at the end). Live streams want it every batch so alerts come
        promptly; a backfill only needs the final state, and detecting once at
        the end is what makes it fast.
        """
        every = self.config.detect_every_events if detect_every is None else detect_every
        stats = IngestStats()
        since = 0
        for batch in _batched(items, self.config.batch_size):
            since += len(batch)
            stats.add(self.process_batch(batch, detect=False))
            if every > 0 and since >= every:
                # every flagged enterprise, chunk by chunk: one capped pass per batch starved
                # the enterprises with the highest ids in large portfolios
                stats.alerts.update(c.kind for c in self.detect_pending().alerts)
                since = 0
        stats.alerts.update(c.kind for c in self.detect_pending().alerts)
        return stats

    def process_batch(self, items: list[tuple[str | None, str | bytes]], *, detect: bool | str = True,
                      guard: Callable[[Session], None] | None = None) -> BatchResult:
        """Validate, store and (by default) detect ``items`` in one transaction.

        ``detect``: True examines up to ``DETECT_CHUNK`` enterprises flagged for
        detection, whoever flagged them (the embedded daemon); ``"touched"``
        examines every enterprise this batch changed and no other, all in this
        transaction, so no flag it set outlives the commit (Kafka workers: each
        detects only the enterprises of its own partitions, never one that
        another worker may be examining); False leaves the flags for later.
        ``guard`` runs first inside the transaction; raising aborts the batch
        (a Kafka worker checks there that it still owns the partitions).
        """
        if detect not in (True, False, "touched"):
            raise ValueError(f"detect must be True, False or 'touched', got {detect!r}")
        now = self.clock()
        result = BatchResult()
        events: list[Event] = []
        rejections: list[Rejection] = []
        for location, raw in items:
            v = validate(raw, now=now, location=location)
            (events if isinstance(v, Event) else rejections).append(v)
        try:
            with self.sessions.begin() as session:
                if guard is not None:
                    guard(session)
                touched = self._ingest(session, events, rejections, now, result)
                if detect == "touched":
                    for i in range(0, len(touched), DETECT_CHUNK):
                        self._detect_pending(session, now, result, ids=touched[i:i + DETECT_CHUNK])
                elif detect:
                    self._detect_pending(session, now, result)
                self.peers.write(session)
        except Exception:
            self.cache.clear()  # the cache may hold what the rolled-back batch wrote
            self.peers.rollback()
            raise
        self.peers.commit()
        self._notify(result)
        return result

    def detect_pending(self) -> BatchResult:
        """Run detection over every enterprise with unexamined records, in chunks."""
        result = BatchResult()
        while True:
            now = self.clock()
            chunk = BatchResult()
            try:
                with self.sessions.begin() as session:
                    n = self._detect_pending(session, now, chunk)
                    self.peers.write(session)
            except Exception:
                self.cache.clear()
                self.peers.rollback()
                raise
            self.peers.commit()
            self._notify(chunk)
            result.alerts.extend(chunk.alerts)
            result.detections_changed += chunk.detections_changed
            if n < DETECT_CHUNK:
                return result

    def _notify(self, result: BatchResult) -> None:
        if self.on_alert:
            for change in result.alerts:
                self.on_alert(change)

    def _ingest(self, session: Session, events: list[Event], rejections: list[Rejection], now: datetime,
                result: BatchResult) -> list[str]:
        """Write the batch; returns the ids of the enterprises it changed (flagged for detection), sorted."""
        write_rejections(session, rejections, now)
        result.rejected.update(r.reason for r in rejections)
        result.rejections = rejections
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
            return []
        touched = sorted({e.enterprise_id for e in fresh})
        self._warm_cache(session, touched)
        before = {eid: self.peers.contribution(h) for eid in touched if (h := self.cache.peek(eid)) is not None}
        write_events(session, fresh, now)
        self._update_cache(fresh)
        self.peers.record(before, (h for eid in before if (h := self.cache.peek(eid)) is not None),
                          missing=len(before) < len(touched))
        self._advance_watermark(session, fresh)
        mark_pending(session, touched)
        return touched

    def _warm_cache(self, session: Session, ids: list[str]) -> None:
        """Load, before this batch's writes, the histories not in memory yet.

        Then the batch is applied to every cached history and the detection
        pass reads none back from the store. For an enterprise seen for the
        first time the query finds nothing and costs next to nothing. When a
        batch touches more enterprises than the cache holds, the ones that do
        not fit are simply read at detection time.
        """
        if len(ids) > self.cache.max_enterprises:
            return
        missing = [eid for eid in ids if self.cache.peek(eid) is None]
        if missing:
            for history in load_histories(session, missing, self.config.history_months).values():
                self.cache.put(history)

    def _update_cache(self, fresh: list[Event]) -> None:
        """Apply new records to the histories already in memory; others load on demand."""
        for e in fresh:
            h = self.cache.peek(e.enterprise_id)
            if h is not None:
                apply_event(h, e, self.config.history_months)

    def _histories(self, session: Session, ids: list[str]) -> dict[str, History]:
        out: dict[str, History] = {}
        missing = []
        for eid in ids:
            h = self.cache.get(eid)
            if h is None:
                missing.append(eid)
            else:
                out[eid] = h
        if missing:
            out.update(load_histories(session, missing, self.config.history_months))
        for eid in ids:
            self.cache.put(out[eid])
        return out

    def _advance_watermark(self, session: Session, fresh: list[Event]) -> str:
        """Move the watermark forward to the batch's latest period; it never moves back.

        Every Kafka worker runs this in every batch, so it is one conditional
        UPDATE: it only writes (and only row-locks, on PostgreSQL) when the
        period is newer, which happens about once a month; otherwise it is a
        read that waits for nobody. A read-then-write would let two workers
        race the value backwards. Periods are YYYY-MM, so text order is time
        order.
        """
        latest = max(e.period for e in fresh)
        table = PipelineState.__table__
        key = table.c.key == WATERMARK
        conn = session.connection()
        conn.execute(update(table).where(key, table.c.value < latest).values(value=latest))
        current = conn.execute(select(table.c.value).where(key)).scalar()
        if current is None:  # a fresh store: the first writer creates the row
            conn.execute(insert_for(session, table).values(key=WATERMARK, value=latest).on_conflict_do_nothing())
            conn.execute(update(table).where(key, table.c.value < latest).values(value=latest))
            current = conn.execute(select(table.c.value).where(key)).scalar()
        self.watermark = current
        return current

    def _detect_pending(self, session: Session, now: datetime, result: BatchResult,
                        ids: list[str] | None = None) -> int:
        """Detect up to ``DETECT_CHUNK`` flagged enterprises (only among ``ids`` when given)."""
        session.flush()
        q = select(Enterprise.id).where(Enterprise.pending_detection.is_(True))
        if ids is not None:
            q = q.where(Enterprise.id.in_(ids))
        ids = list(session.scalars(q.order_by(Enterprise.id).limit(DETECT_CHUNK)))
        if not ids:
            return 0
        watermark = session.execute(select(PipelineState.value).where(PipelineState.key == WATERMARK)).scalar()
        self.watermark = watermark
        self.peers.maybe_refresh(session)
        if self.peers.stale:
            self.peers.rebuild(session, lambda chunk: load_histories(session, chunk, self.config.history_months))
        histories = self._histories(session, ids)
        self._detect(session, histories, watermark or "", now, result)
        return len(ids)

    def _detect(self, session: Session, histories: dict[str, History], watermark: str, now: datetime,
                result: BatchResult) -> None:
        ids = list(histories)
        stored: dict[str, list[DetectionRow]] = {}
        for i in range(0, len(ids), 2000):
            chunk = ids[i:i + 2000]
            for row in session.scalars(select(DetectionRow).where(DetectionRow.enterprise_id.in_(chunk))):
                stored.setdefault(row.enterprise_id, []).append(row)
        changes: list[Transition] = []
        risks: dict[str, Severity] = {}
        enterprise_rows = []
        peers = self.peers.baseline()
        scores = dict(session.execute(select(Enterprise.id, Enterprise.score).where(Enterprise.id.in_(ids))).all())
        tolerance = self.detectors.same_change_months
        for eid, history in histories.items():
            found = self.detectors.run(history, peers=peers)
            rows = stored.get(eid, [])
            as_of = history.last_period() or watermark
            if found or rows:
                transitions = reconcile(session, eid, found, rows, watermark=watermark,
                                        recent_window=self.config.recent_window_months, as_of=as_of, now=now,
                                        same_change_months=tolerance)
                result.detections_changed += sum(t.kind != "updated" for t in transitions)
                changes.extend(transitions)
                active = [(r.signal, Severity(r.severity)) for r in rows if r.status == "active"]
                active += [(t.row.signal, Severity(t.row.severity)) for t in transitions
                           if t.kind == "new" and t.row not in rows]
                risk = combined_risk(active)
            else:
                risk = None
            if risk is not None:
                risks[eid] = risk
            score = history.memo.get(STATISTIC)
            if score is not None and as_of:
                self.peers.record_score(period_index(as_of), scores.get(eid) or 0.0, score)
            enterprise_rows.append({"id": eid, "last_period": as_of, "risk_level": int(risk or 0), "score": score,
                                    "pending_detection": False, "updated_at": now})
        stmt = insert_for(session, Enterprise.__table__)
        stmt = stmt.on_conflict_do_update(index_elements=["id"], set_={
            "last_period": stmt.excluded.last_period, "risk_level": stmt.excluded.risk_level,
            "score": stmt.excluded.score,
            "pending_detection": stmt.excluded.pending_detection, "updated_at": stmt.excluded.updated_at})
        session.connection().execute(stmt, enterprise_rows)
        if changes:
            names = {eid: n for eid, n in session.execute(
                select(Enterprise.id, Enterprise.name).where(Enterprise.id.in_({t.row.enterprise_id for t in changes})))}
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
