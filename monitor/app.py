"""Loanwatch as a library: one object that owns the store, the pipeline and the sender.

Every user action is a method here or on the bank-scoped ``BankService``
that ``bank()`` hands out; the CLI is a thin layer over them (as datasette's
``serve`` is over ``Datasette``), and tests, benchmarks and the HTTP API call
the same methods. Methods take and return plain data (``alerts.records``,
``monitor.results``, pages of ``monitor.paging``) and raise only the errors
of ``monitor.exceptions``, each with a one-line message::

    lw = Loanwatch(load_config("config.toml"))
    bank = lw.bank("bank_a")
    bank.import_watchlist(Path("loans.csv").read_text(), source="loans.csv")
    lw.ingest_files(["events.jsonl"])
    for alert in bank.alerts(status="open").items:
        print(alert.alert_id, alert.signal, alert.severity)
    lw.deliver_all_due()
    lw.close()
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from alembic.util.exc import CommandError
from sqlalchemy.exc import SQLAlchemyError

from alerts.digest import queue_due_digests
from alerts.fanout import AlertChange
from alerts.outbox import DispatchStats, dispatch_due
from alerts.records import AlertSummary, AuditRecord
from alerts.silences import expire_silences
from detectors.registry import DetectorSet
from monitor.bank import BankService
from monitor.config import Config
from monitor.exceptions import InputNotFound, StoreUnavailable, UnknownBank
from monitor.listings import alerts_page, audit_page, rejected_report
from monitor.paging import Page
from monitor.pipeline import IngestStats, Pipeline
from monitor.results import RejectedReport
from store.db import migrate, open_engine, safe_url
from streams.sources import SpoolDirectory, iter_lines

__all__ = ["Loanwatch"]

log = logging.getLogger("loanwatch")


class Loanwatch:
    """The store, the pipeline and the sender of one configuration.

    ``clock`` gives "now" (UTC; tests and replays inject one), ``on_alert``
    is called with every alert change a batch raises, ``detectors`` replaces
    the configured detector set. Opening the store migrates its schema
    (``migrate_schema``); a store that cannot be opened is ``StoreUnavailable``.
    """

    def __init__(self, config: Config, *, clock: Callable[[], datetime] | None = None,
                 on_alert: Callable[[AlertChange], None] | None = None, migrate_schema: bool = True,
                 detectors: DetectorSet | None = None) -> None:
        self.config = config
        self.clock = clock or (lambda: datetime.now(UTC))
        self.engine = None
        try:
            self.engine = open_engine(config.store)
            if migrate_schema:
                migrate(self.engine)
            self.pipeline = Pipeline(config, self.engine, clock=self.clock, on_alert=on_alert, detectors=detectors)
        except (SQLAlchemyError, CommandError, ImportError, OSError) as exc:
            # server down, bad URL, missing driver, failed migration: one line, not a trace
            if self.engine is not None:
                self.engine.dispose()
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise StoreUnavailable(f"cannot open the store {safe_url(config.store)}: {reason}") from exc
        self.sessions = self.pipeline.sessions
        self._reload_requested = threading.Event()
        self._reload: Callable[[], Config] | None = None

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Loanwatch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def store_url(self) -> str:
        """The store's URL with its password hidden."""
        return safe_url(self.config.store)

    def bank(self, bank_id: str) -> BankService:
        """The actions of one configured bank (``UnknownBank`` for any other id)."""
        policy = self.config.policies.get(bank_id)
        if policy is None:
            valid = ", ".join(self.config.policies) or "(none configured)"
            raise UnknownBank(f"unknown bank {bank_id!r}; banks in {self.config.path}: {valid}")
        return BankService(policy, self.sessions, clock=self.clock,
                           recent_window_months=self.config.recent_window_months)

    # -- configuration -------------------------------------------------------------
    def reload(self, config: Config) -> None:
        self.pipeline.reload(config)
        self.config = config

    # -- ingest and delivery -------------------------------------------------------
    def ingest(self, items: Iterable[tuple[str | None, str | bytes]], *,
               detect_every: int | None = None) -> IngestStats:
        return self.pipeline.process(items, detect_every=detect_every)

    def ingest_files(self, paths: Sequence[str], *, detect_every: int | None = None) -> IngestStats:
        """Ingest JSONL files (``-``: standard input); every path is checked before the first is read."""
        for p in paths:
            if p != "-" and not Path(p).is_file():
                raise InputNotFound(f"{p}: no such file")

        def lines():
            for p in paths:
                yield from iter_lines(p)
        return self.ingest(lines(), detect_every=detect_every)

    def deliver(self, *, now: datetime | None = None) -> DispatchStats:
        """One sender pass: expired silences and due digests are queued, then due deliveries sent."""
        now = now or self.clock()
        self.housekeeping(now=now)
        return dispatch_due(self.sessions, self.pipeline.policies, self.config.delivery, now=now)

    def housekeeping(self, *, now: datetime | None = None) -> tuple[int, int]:
        """Tell banks about silences that ran out and queue the daily digests that are due."""
        now = now or self.clock()
        with self.sessions.begin() as s:
            return expire_silences(s, self.pipeline.policies, now), queue_due_digests(s, self.pipeline.policies, now)

    def deliver_all_due(self, *, max_passes: int = 50) -> DispatchStats:
        """Deliver until nothing is due now (what's left waits for its backoff)."""
        total = DispatchStats()
        for _ in range(max_passes):
            s = self.deliver()
            total.merge(s)
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
            totals.merge(self.ingest(iter_lines(f)))
            self.deliver()
        spool = SpoolDirectory(spool_dir) if spool_dir else None
        while not stop.is_set():
            self._maybe_reload()
            worked = False
            if spool is not None:
                for path in spool.pending():
                    if stop.is_set():
                        break
                    totals.merge(self.ingest(spool.lines(path)))
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

    # -- listings across banks (the operator's view) -----------------------------------------
    def alerts(self, *, status: str | None = None, failed_only: bool = False, cursor: str | None = None,
               limit: int = 200) -> Page[AlertSummary]:
        """Alerts of every bank, most recently changed first, with their deliveries (one bank's:
        ``bank(bank_id).alerts``). ``failed_only``: only alerts with a delivery that finally failed."""
        return alerts_page(self.sessions, bank_id=None, status=status, failed_only=failed_only, cursor=cursor,
                           limit=limit)

    def audit(self, *, alert_id: str | None = None, enterprise_id: str | None = None, actor: str | None = None,
              action: str | None = None, since: datetime | None = None, cursor: str | None = None,
              limit: int = 200) -> Page[AuditRecord]:
        """The audit trail of every bank (one bank's: ``bank(bank_id).audit``): the latest ``limit``
        entries, oldest first; ``next_cursor`` goes further back."""
        return audit_page(self.sessions, bank_id=None, alert_id=alert_id, enterprise_id=enterprise_id, actor=actor,
                          action=action, since=since, cursor=cursor, limit=limit)

    def rejected(self, *, reason: str | None = None, cursor: str | None = None, limit: int = 100) -> RejectedReport:
        """The dead-letter store: counts per reason, and the latest rejected inputs first."""
        return rejected_report(self.sessions, reason=reason, cursor=cursor, limit=limit)
