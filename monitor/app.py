"""Loanwatch as a library: one object that owns the store, the pipeline and the sender.

The CLI is a thin layer over this (as datasette's ``serve`` is over
``Datasette``); tests and the benchmark drive it directly.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime

from sqlalchemy import func, select

from alerts.channels import ChannelResult, deliver
from alerts.fanout import AlertChange
from alerts.outbox import DeliverySettings, DispatchStats, dispatch_due
from alerts.plugins import register_plugins
from detectors.registry import DetectorSet
from monitor.config import Config
from monitor.pipeline import IngestStats, Pipeline
from store.db import migrate, open_engine
from store.models import AlertRow, Delivery, Enterprise, RejectedEvent
from streams.sources import SpoolDirectory, iter_lines

__all__ = ["Loanwatch"]

log = logging.getLogger("loanwatch")


class Loanwatch:
    def __init__(self, config: Config, *, clock: Callable[[], datetime] | None = None,
                 on_alert: Callable[[AlertChange], None] | None = None, migrate_schema: bool = True,
                 detectors: DetectorSet | None = None, send: Callable[..., ChannelResult] = deliver) -> None:
        register_plugins()
        self.config = config
        self.send = send  # delivers one message to one channel URL; the Kafka worker adds its alerts topic
        self.engine = open_engine(config.store)
        if migrate_schema:
            migrate(self.engine)
        self.clock = clock or (lambda: datetime.now(UTC))
        self.pipeline = Pipeline(config, self.engine, clock=self.clock, on_alert=on_alert, detectors=detectors)
        self.sessions = self.pipeline.sessions
        self._reload_requested = threading.Event()
        self._reload: Callable[[], Config] | None = None

    def close(self) -> None:
        self.engine.dispose()

    # -- configuration -------------------------------------------------------------
    def reload(self, config: Config) -> None:
        self.pipeline.reload(config)
        self.config = config

    @property
    def delivery_settings(self) -> DeliverySettings:
        d = self.config.delivery
        return DeliverySettings(max_attempts=d.max_attempts, backoff_base_seconds=d.backoff_base_seconds,
                                backoff_cap_seconds=d.backoff_cap_seconds, timeout_seconds=d.timeout_seconds)

    # -- ingest and delivery -------------------------------------------------------
    def ingest(self, items: Iterable[tuple[str | None, str | bytes]], *,
               detect_every: int | None = None) -> IngestStats:
        return self.pipeline.process(items, detect_every=detect_every)

    def ingest_files(self, paths: Sequence[str], *, detect_every: int | None = None) -> IngestStats:
        def lines():
            for p in paths:
                yield from iter_lines(p)
        return self.ingest(lines(), detect_every=detect_every)

    def deliver(self, *, now: datetime | None = None) -> DispatchStats:
        """One sender pass: expired silences and due digests are queued, then due deliveries sent."""
        now = now or self.clock()
        self.housekeeping(now=now)
        channels = {b.id: b.channels for b in self.config.banks}
        return dispatch_due(self.sessions, channels, self.delivery_settings, now=now, send=self.send)

    def housekeeping(self, *, now: datetime | None = None) -> tuple[int, int]:
        """Tell banks about silences that ran out and queue the daily digests that are due."""
        from alerts.digest import queue_due_digests
        from alerts.silences import expire_silences

        now = now or self.clock()
        with self.sessions.begin() as s:
            return expire_silences(s, self.pipeline.policies, now), queue_due_digests(s, self.pipeline.policies, now)

    def deliver_all_due(self, *, max_passes: int = 50) -> DispatchStats:
        """Deliver until nothing is due now (what's left waits for its backoff)."""
        total = DispatchStats()
        for _ in range(max_passes):
            s = self.deliver()
            total.sent += s.sent
            total.retrying += s.retrying
            total.failed += s.failed
            total.errors += s.errors
            if s.attempted == 0 or s.sent + s.failed == 0:
                break
        return total

    # -- the daemon loop -------------------------------------------------------------
    def run(self, *, spool_dir: str | None = None, files: Sequence[str] = (), stop: threading.Event | None = None,
            reload: Callable[[], Config] | None = None, idle_exit: bool = False) -> IngestStats:
        """Ingest from files/stdin once, then keep polling the spool directory and delivering.

        Stops on SIGTERM/SIGINT (or ``stop``) after finishing the current batch.
        SIGHUP reloads the configuration through ``reload``; a broken file is
        logged and the old configuration keeps running.
        """
        stop = stop or threading.Event()
        previous: dict[int, object] = {}
        if threading.current_thread() is threading.main_thread():
            def handle(signum: int, handler) -> None:
                previous[signum] = signal.signal(signum, handler)

            handle(signal.SIGTERM, lambda *_: stop.set())
            handle(signal.SIGINT, lambda *_: stop.set())
            if reload is not None and hasattr(signal, "SIGHUP"):
                # Only a flag here: the loop reloads between files, never inside a transaction.
                handle(signal.SIGHUP, lambda *_: self._reload_requested.set())
        self._reload = reload
        try:
            return self._loop(stop, spool_dir, files, idle_exit)
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def _maybe_reload(self) -> None:
        if not self._reload_requested.is_set() or self._reload is None:
            return
        self._reload_requested.clear()
        try:
            self.reload(self._reload())
            log.info("configuration reloaded")
        except Exception as exc:  # keep the old config, say why
            log.error("configuration reload failed, keeping the old one: %s", exc)

    def _loop(self, stop: threading.Event, spool_dir: str | None, files: Sequence[str],
              idle_exit: bool) -> IngestStats:
        totals = IngestStats()
        for f in files:
            if stop.is_set():
                break
            _merge(totals, self.ingest(iter_lines(f)))
            self.deliver()
        spool = SpoolDirectory(spool_dir) if spool_dir else None
        while not stop.is_set():
            self._maybe_reload()
            worked = False
            if spool is not None:
                for path in spool.pending():
                    if stop.is_set():
                        break
                    _merge(totals, self.ingest(spool.lines(path)))
                    spool.mark_done(path)
                    log.info("ingested %s", path)
                    worked = True
                    self._maybe_reload()
            self.deliver()
            if idle_exit and not worked:
                break
            if not worked:
                stop.wait(self.config.poll_interval_seconds)
        return totals

    # -- queries ---------------------------------------------------------------------
    def alerts(self, *, bank_id: str | None = None, status: str | None = None, failed_only: bool = False,
               limit: int = 1000) -> list[dict]:
        with self.sessions() as s:
            q = select(AlertRow).order_by(AlertRow.updated_at.desc(), AlertRow.id).limit(limit)
            if bank_id:
                q = q.where(AlertRow.bank_id == bank_id)
            if status:
                q = q.where(AlertRow.status == status)
            alerts = s.scalars(q).all()
            ids = [a.id for a in alerts]
            deliveries: dict[str, list[Delivery]] = {}
            if ids:
                for d in s.scalars(select(Delivery).where(Delivery.alert_id.in_(ids)).order_by(Delivery.id)):
                    deliveries.setdefault(d.alert_id, []).append(d)
            names = dict(s.execute(select(Enterprise.id, Enterprise.name).where(
                Enterprise.id.in_({a.enterprise_id for a in alerts}))).all()) if alerts else {}
            out = []
            for a in alerts:
                ds = deliveries.get(a.id, [])
                if failed_only and not any(d.status == "failed" for d in ds):
                    continue
                out.append({
                    "alert_id": a.id, "bank_id": a.bank_id, "enterprise_id": a.enterprise_id,
                    "enterprise_name": names.get(a.enterprise_id), "signal": a.signal,
                    "change_period": a.change_period, "severity": _sev(a.severity), "status": a.status,
                    "created_at": a.created_at.isoformat(), "updated_at": a.updated_at.isoformat(),
                    "acknowledged_by": a.acknowledged_by, "assignee": a.assignee,
                    "resolution_code": a.resolution_code, "feedback": a.feedback,
                    "silenced_by": a.silenced_by, "inhibited_by": a.inhibited_by,
                    "deliveries": [{"kind": d.kind, "channel": d.channel, "status": d.status, "attempts": d.attempts,
                                    "last_error": d.last_error,
                                    "sent_at": d.sent_at.isoformat() if d.sent_at else None} for d in ds],
                })
            return out

    def rejected(self, *, reason: str | None = None, limit: int = 100) -> tuple[dict[str, int], list[dict]]:
        with self.sessions() as s:
            counts = dict(s.execute(select(RejectedEvent.reason, func.count()).group_by(RejectedEvent.reason)).all())
            q = select(RejectedEvent).order_by(RejectedEvent.id.desc()).limit(limit)
            if reason:
                q = q.where(RejectedEvent.reason == reason)
            rows = [{"id": r.id, "received_at": r.received_at.isoformat(), "location": r.location,
                     "reason": r.reason, "detail": r.detail, "raw": r.raw} for r in s.scalars(q)]
            return counts, rows


def _sev(v: int) -> str:
    from detectors.severity import Severity

    return Severity(v).label


def _merge(total: IngestStats, part: IngestStats) -> None:
    total.accepted += part.accepted
    total.duplicates += part.duplicates
    total.rejected.update(part.rejected)
    total.alerts.update(part.alerts)
    total.batches += part.batches
