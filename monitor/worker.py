"""``loanwatch worker``: the pipeline on Kafka, as one member of a consumer group.

Start as many as there are partitions to share; each one::

    events topic ──► Faust (streams.faust_app) ──► batch ──► Pipeline.process_batch(detect="touched")
                                                              one PostgreSQL transaction:
                                                              events, rejects, detections, alerts, outbox
                     offsets acked ◄── after the commit ──────┘
    sender thread: Loanwatch.deliver() ──► banks' channels + lwkafka://<alerts topic>
    rejected events ──► DLQ topic, after the commit

How each guarantee is kept (the README's *Distributed mode* has the operator's view):

- **At least once, idempotent effects.** Offsets are acked only after the
  batch's transaction committed. A crash before that re-delivers the batch;
  accepted events are recognised by (source, event_id) and change nothing,
  and every effect (detection, alert, delivery row) has a unique identity
  in the store, so re-processing cannot create a second one.
- **One writer per partition.** On assignment a worker writes its token
  into a ``pipeline_state`` row per partition (``kafka-owner:…:<p>``); every
  batch transaction first locks the rows of its partitions and checks the
  token (``SELECT … FOR UPDATE``). A worker that Kafka already replaced but
  that does not know it yet (a "zombie", e.g. paused longer than the session
  timeout) therefore cannot commit a batch after the new owner took over,
  and the new owner's take-over waits for the zombie's batch in flight. A
  worker that finds its partition taken stops without acking
  (``FatalBatchError``); the group reassigns.
- **Detection only of one's own enterprises.** Events are keyed by
  enterprise, so an enterprise lives in one partition; a batch detects
  exactly the enterprises it changed, in its own transaction, so two
  workers never examine the same enterprise at once and no detection flag
  is left behind.
- **Fresh caches.** The history cache is cleared whenever the assignment
  changes: a partition may have been processed elsewhere meanwhile.
- **Alerts topic.** Every bank gets the receiver ``kafka-alerts`` =
  ``lwkafka://<alerts topic>`` (``alerts.kafka_channel``), so alerts reach the
  topic through the outbox: written in the batch transaction, published by
  the sender, at least once, with the alert id.
- **Dead letters.** Rejected events are stored in ``rejected_events`` in the
  batch transaction and published to the DLQ topic after the commit; a
  crash between the two re-processes the batch and publishes them again.
- **Sender.** Every worker runs ``Loanwatch.deliver()`` in a thread (woken
  when a batch raised alerts, else every ``--deliver-interval``); deliveries
  are claimed with a conditional UPDATE, so no two senders send one row.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import click

from monitor.config import Config, ConfigError, load_config
from store.db import safe_url
from streams.faust_app import EventWorker, FatalBatchError, Record, WorkerOptions, wait_for_kafka
from streams.kafka_config import KafkaSettings

__all__ = ["NotOwner", "Ownership", "Sender", "WorkerHandler", "register", "run_worker", "with_alerts_topic"]

if TYPE_CHECKING:
    from monitor.metrics import WorkerMetrics

log = logging.getLogger("loanwatch.worker")

#: Exit codes: 0 stopped cleanly, 1 crashed, 2 bad usage (click), 4 bad configuration.
EXIT_CRASH = 1
EXIT_CONFIG = 4


# -- configuration ---------------------------------------------------------------------------
def with_alerts_topic(config: Config, topic: str) -> Config:
    """``config`` with the alerts topic added to every bank as the receiver ``kafka-alerts``.

    Banks without routes send every alert to every receiver, the topic
    included. Banks with routes get a first route that sends every alert to
    the topic and lets the bank's own routes decide the rest (``continue``).
    """
    from alerts.kafka_channel import RECEIVER, channel_url
    from alerts.policy import Route
    from detectors.severity import Severity

    url = channel_url(topic)
    banks = []
    for b in config.banks:
        routes = b.routes
        if routes:
            routes = (Route(min_severity=Severity.LOW, receivers=(RECEIVER,), continue_=True), *routes)
        banks.append(replace(b, receivers={**b.receivers, RECEIVER: url}, routes=routes))
    return replace(config, banks=tuple(banks))


# -- partition ownership in the store --------------------------------------------------------
class NotOwner(FatalBatchError):
    def __init__(self, partitions: dict[int, str | None]) -> None:
        owners = ", ".join(f"{p}: {o or 'nobody'}" for p, o in sorted(partitions.items()))
        super().__init__(f"partitions taken over by another worker ({owners})")
        self.partitions = partitions


class Ownership:
    """Which worker may commit batches of which partition: one ``pipeline_state`` row per partition."""

    def __init__(self, sessions: Any, settings: KafkaSettings, token: str) -> None:
        self.sessions = sessions
        self.token = token
        digest = hashlib.sha256(f"{settings.group_id}|{settings.events_topic}".encode()).hexdigest()[:12]
        self.prefix = f"kafka-owner:{digest}:"

    def key(self, partition: int) -> str:
        return f"{self.prefix}{partition}"

    def take(self, partitions: frozenset[int]) -> None:
        """Write our token for ``partitions``; waits for a batch still committing under the old owner."""
        if not partitions:
            return
        from sqlalchemy import text

        from store.models import PipelineState
        from store.upsert import insert_for

        table = PipelineState.__table__
        with self.sessions.begin() as s:
            if s.get_bind().dialect.name == "postgresql":
                s.execute(text("SET LOCAL lock_timeout = '5s'"))
            stmt = insert_for(s, table).values([{"key": self.key(p), "value": self.token}
                                                 for p in sorted(partitions)])
            s.execute(stmt.on_conflict_do_update(index_elements=["key"], set_={"value": stmt.excluded.value}))

    def guard(self, partitions: list[int]) -> Callable[[Any], None]:
        """For ``Pipeline.process_batch``: lock our partitions' rows, raise ``NotOwner`` if one is not ours."""
        keys = {self.key(p): p for p in partitions}

        def check(session: Any) -> None:
            from sqlalchemy import select

            from store.models import PipelineState

            rows = dict(session.execute(select(PipelineState.key, PipelineState.value)
                                        .where(PipelineState.key.in_(sorted(keys)))
                                        .order_by(PipelineState.key).with_for_update()).all())
            lost = {p: rows.get(k) for k, p in keys.items() if rows.get(k) != self.token}
            if lost:
                raise NotOwner(lost)

        return check

    def owners(self) -> dict[int, str]:
        from sqlalchemy import select

        from store.models import PipelineState

        with self.sessions() as s:
            rows = s.execute(select(PipelineState.key, PipelineState.value)
                             .where(PipelineState.key.like(f"{self.prefix}%"))).all()
        return {int(k[len(self.prefix):]): v for k, v in rows}


# -- the sender ----------------------------------------------------------------------------
class Sender:
    """Runs ``Loanwatch.deliver()`` in a thread: when woken (a batch raised alerts) or every ``interval``."""

    def __init__(self, app: Any, metrics: WorkerMetrics, interval: float) -> None:
        self.app = app
        self.metrics = metrics
        self.interval = interval
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lw-sender", daemon=True)

    def start(self) -> Sender:
        self._thread.start()
        return self

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Let the pass in progress finish (a delivery claimed and not recorded waits for its lease)."""
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            self.run_once()

    def run_once(self) -> None:
        from sqlalchemy.exc import IntegrityError

        for _ in range(50):  # until nothing more is due now (the rest waits for its backoff)
            try:
                stats = self.app.deliver()
            except IntegrityError as exc:  # another worker queued the same digest / notice first
                log.info("sender: another worker got there first (%s)", str(exc.orig).splitlines()[0])
                return
            except Exception as exc:
                log.warning("sender pass failed, retrying in %gs: %s: %s", self.interval, type(exc).__name__, exc)
                return
            self.metrics.delivery(sent=stats.sent, retrying=stats.retrying, failed=stats.failed)
            if stats.attempted == 0 or stats.sent + stats.failed == 0 or self._stop.is_set():
                return


class Statistics:
    """ANALYZE the hot tables as they grow, when PostgreSQL's autovacuum is off.

    Without statistics the planner guesses, and the duplicate lookup of every
    batch degrades into a scan that grows with the table (seconds per batch
    at a few hundred thousand events). Autovacuum re-analyzes a table once
    10 % of it changed; this does the same from the worker's own writes, in
    its own thread: once at start, then whenever the events written since the
    last run reach ``growth`` of those written before it (at least
    ``min_rows``). With autovacuum on (any production server) it does nothing.
    """

    TABLES = ("seen_events", "monthly_records", "discrete_records", "enterprises", "detections", "alerts",
              "deliveries", "pipeline_state")

    def __init__(self, engine: Any, *, min_rows: int = 20_000, growth: float = 0.2) -> None:
        self.engine = engine
        self.min_rows = min_rows
        self.growth = growth
        self.enabled = False
        self._written = 0
        self._at_last = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lw-analyze", daemon=True)
        if engine.dialect.name == "postgresql":
            with engine.connect() as c:
                self.enabled = c.exec_driver_sql("SHOW autovacuum").scalar() == "off"
        if self.enabled:
            log.warning("PostgreSQL autovacuum is off: this worker runs ANALYZE on its tables as they grow")

    def start(self) -> Statistics:
        if self.enabled:
            self._thread.start()
        return self

    def note(self, rows: int) -> None:
        self._written += rows

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(30)

    def _run(self) -> None:
        first = True
        while not self._stop.wait(0 if first else 1.0):
            written = self._written
            if first or written - self._at_last >= max(self.min_rows, self.growth * self._at_last):
                first = False
                self._at_last = written
                try:
                    with self.engine.connect() as c:
                        c.exec_driver_sql("ANALYZE " + ", ".join(self.TABLES))
                        c.commit()
                except Exception as exc:
                    log.warning("ANALYZE failed: %s", exc)


# -- the batch handler ---------------------------------------------------------------------
class WorkerHandler:
    """``streams.faust_app.BatchHandler`` for Loanwatch: records in, one pipeline transaction, effects out."""

    def __init__(self, app: Any, settings: KafkaSettings, metrics: WorkerMetrics, ownership: Ownership,
                 producer: Any, sender: Sender | None = None, statistics: Statistics | None = None, *,
                 dlq_retry_seconds: float = 60.0) -> None:
        self.app = app
        self.statistics = statistics
        self.settings = settings
        self.metrics = metrics
        self.ownership = ownership
        self.producer = producer
        self.sender = sender
        self.dlq_retry_seconds = dlq_retry_seconds
        self._owned: frozenset[int] = frozenset()
        self._epoch = 0  # bumped at every revocation: a take-over in progress for an older assignment gives up
        self._cache_stale = threading.Event()

    # rebalances
    def on_assigned(self, partitions: frozenset[int]) -> None:
        epoch = self._epoch
        delay = 0.5
        while True:
            try:
                self.ownership.take(partitions)
                break
            except Exception as exc:
                if epoch != self._epoch:
                    log.info("take-over of partitions %s abandoned: a newer rebalance started", sorted(partitions))
                    return
                log.warning("taking over partitions %s failed, retrying in %.1fs: %s: %s", sorted(partitions),
                            delay, type(exc).__name__, str(exc).splitlines()[0])
                time.sleep(delay)
                delay = min(delay * 2, 10.0)
        self._owned = partitions
        self._cache_stale.set()
        self.metrics.assigned.set(len(partitions))
        log.info("partitions %s of %s assigned to this worker", sorted(partitions), self.settings.events_topic,
                 extra={"partitions": sorted(partitions), "worker": self.ownership.token})

    def on_revoked(self, partitions: frozenset[int]) -> None:
        self._epoch += 1
        self._cache_stale.set()
        if partitions:
            self._owned = self._owned - partitions
            self.metrics.assigned.set(len(self._owned))
            log.info("partitions %s of %s revoked", sorted(partitions), self.settings.events_topic,
                     extra={"partitions": sorted(partitions), "worker": self.ownership.token})

    def on_lag(self, lag: dict[int, int]) -> None:
        self.metrics.set_lag(self.settings.events_topic, lag)

    # batches
    def process(self, records: list[Record]) -> None:
        pipeline = self.app.pipeline
        if self._cache_stale.is_set():
            self._cache_stale.clear()
            pipeline.cache.clear()  # partitions may have been processed elsewhere meanwhile
        owned = self._owned
        mine = [r for r in records if r.partition in owned]
        if len(mine) < len(records):
            gone = sorted({r.partition for r in records} - owned)
            log.info("skipping %d events of partitions %s, no longer assigned here", len(records) - len(mine), gone)
        if not mine:
            return
        started = time.monotonic()
        partitions = sorted({r.partition for r in mine})
        try:
            result = pipeline.process_batch([(r.location, r.value or b"") for r in mine], detect="touched",
                                            guard=self.ownership.guard(partitions))
        except NotOwner as exc:
            log.critical("%s: this worker was replaced in the group without knowing it; stopping without "
                         "committing so that Kafka reassigns its partitions", exc)
            raise
        except Exception:
            self.metrics.batch_failures.inc()
            raise
        committed = time.time()
        seconds = time.monotonic() - started
        self.metrics.batch(accepted=result.accepted, duplicates=result.duplicates, rejected=dict(result.rejected),
                           alerts=[c.kind for c in result.alerts], seconds=seconds,
                           commit_delays=[committed - r.timestamp for r in mine if r.timestamp])
        if result.alerts and self.sender is not None:
            self.sender.wake()
        if self.statistics is not None:
            self.statistics.note(result.accepted)
        if result.rejections:
            self._dead_letters(result.rejections)
        log.debug("batch of %d events from partitions %s: %d accepted, %d duplicates, %d rejected, %d alerts "
                  "in %.3fs", len(mine), partitions, result.accepted, result.duplicates,
                  sum(result.rejected.values()), len(result.alerts), seconds)

    def _dead_letters(self, rejections: list[Any]) -> None:
        """Publish this batch's rejects to the DLQ topic; already stored, so only the publish is retried."""
        from streams.kafka_tools import dlq_record

        records = [dlq_record(r) for r in rejections]
        deadline = time.monotonic() + self.dlq_retry_seconds
        delay = 0.5
        while True:
            try:
                futures = [self.producer.send(self.settings.dlq_topic, key=k, value=v, headers=h)
                           for k, v, h in records]
                self.producer.flush(timeout=self.settings.timeout_seconds)
                for f in futures:
                    f.get(timeout=0)
                self.metrics.dead_letters.inc(len(records))
                return
            except Exception as exc:
                if time.monotonic() + delay > deadline:
                    raise  # the batch is retried as a whole: its rejects are stored and published again
                log.warning("publishing %d dead letters to %s failed, retrying in %.1fs: %s: %s", len(records),
                            self.settings.dlq_topic, delay, type(exc).__name__, exc)
                time.sleep(delay)
                delay = min(delay * 2, 10.0)


# -- start-up --------------------------------------------------------------------------------
@contextlib.contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGTERM/SIGINT before Faust runs (waiting for the broker or the store) end the wait cleanly."""
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            previous[signum] = signal.signal(signum, lambda *_: stop.set())
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _open_store(config: Config, stop: threading.Event) -> Any:
    from monitor.app import Loanwatch

    delay = 1.0
    while not stop.is_set():
        try:
            return Loanwatch(config)
        except Exception as exc:  # server down, or another worker is migrating the same fresh store
            log.warning("store %s not ready, retrying in %gs: %s: %s", safe_url(config.store), delay,
                        type(exc).__name__, str(exc).splitlines()[0] if str(exc) else "")
            if stop.wait(delay):
                break
            delay = min(delay * 2, 30.0)
    return None


def _publisher(producer: Any) -> Callable[..., None]:
    def publish(topic: str, key: bytes | None, value: bytes, headers: list[tuple[str, bytes]],
                timeout: float) -> None:
        producer.send(topic, key=key, value=value, headers=headers).get(timeout=max(timeout, 5.0))

    return publish


def run_worker(config_path: str, *, batch_size: int = 20000, batch_wait: float = 0.1, deliver_interval: float = 1.0,
               metrics_port: int | None = None, metrics_addr: str = "0.0.0.0", stop_timeout: float = 45.0) -> int:
    """Run one worker until SIGTERM/SIGINT; returns the exit code."""
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        log.error("%s", exc)
        return EXIT_CONFIG
    settings = config.kafka
    from monitor.metrics import WorkerMetrics

    options = WorkerOptions(batch_size=batch_size, batch_wait=batch_wait, stop_timeout=stop_timeout,
                            stop_grace=min(30.0, stop_timeout * 2 / 3))
    token = f"{socket.gethostname()}/{os.getpid()}/{uuid.uuid4().hex[:8]}"
    metrics = WorkerMetrics()
    if metrics_port is not None:
        port = metrics.serve(metrics_port, metrics_addr)
        log.info("metrics on http://%s:%d/metrics", metrics_addr, port, extra={"metrics_port": port})
    stop = threading.Event()
    app = producer = sender = statistics = None
    try:
        with _stop_on_signals(stop):
            if not wait_for_kafka(settings, settings.topics, stop=stop, logger=log):
                return 0
            app = _open_store(with_alerts_topic(config, settings.alerts_topic), stop)
            if app is None:
                return 0
            if app.engine.dialect.name == "sqlite":
                log.warning("the store is SQLite: fine for one worker; several workers need PostgreSQL")
            from alerts import kafka_channel
            from streams.kafka_tools import make_producer

            producer = make_producer(settings, linger_ms=5)
            kafka_channel.configure(_publisher(producer))
            sender = Sender(app, metrics, deliver_interval).start()
            statistics = Statistics(app.engine).start()
            handler = WorkerHandler(app, settings, metrics, Ownership(app.sessions, settings, token), producer,
                                    sender, statistics)
            worker = EventWorker(settings, handler, options)
        log.info("worker %s: group %s consuming %s on %s (batches of up to %d events, %gs wait); store %s",
                 token, settings.group_id, settings.events_topic, settings.bootstrap, batch_size, batch_wait,
                 safe_url(config.store), extra={"worker": token})
        return worker.run()
    finally:
        if sender is not None:
            sender.stop()
        if statistics is not None:
            statistics.stop()
        if producer is not None:
            from alerts import kafka_channel

            kafka_channel.configure(None)
            with contextlib.suppress(Exception):
                producer.close(timeout=settings.timeout_seconds)
        if app is not None:
            app.close()
        metrics.close()


# -- the command -------------------------------------------------------------------------------
@click.command("worker")
@click.option("--batch-size", default=20000, show_default=True, type=click.IntRange(1),
              help="Most events per transaction (a backlog is worked off in full batches).")
@click.option("--batch-wait", default=0.1, show_default=True, type=click.FloatRange(min=0.001),
              help="Seconds a partial batch waits for more events (bounds the latency added at low load).")
@click.option("--deliver-interval", default=1.0, show_default=True, type=click.FloatRange(min=0.01),
              help="Seconds between sender passes when no batch raised alerts (retries, digests).")
@click.option("--metrics-port", type=click.IntRange(0, 65535), default=None, envvar="LOANWATCH_METRICS_PORT",
              help="Serve Prometheus metrics on this port (e.g. 9464; 0: any free port). Off by default.")
@click.option("--metrics-addr", default="0.0.0.0", show_default=True, help="Address the metrics server binds.")
@click.option("--log-json", is_flag=True, help="Log one JSON object per line (for log shippers).")
@click.option("--stop-timeout", default=45.0, show_default=True, type=click.FloatRange(min=1),
              help="Seconds a stop may take (finishing the batch, committing, leaving the group) before the "
                   "process exits anyway; what was not committed is processed again.")
@click.pass_context
def worker(ctx: click.Context, batch_size: int, batch_wait: float, deliver_interval: float,
           metrics_port: int | None, metrics_addr: str, log_json: bool, stop_timeout: float) -> None:
    """Run a Kafka worker: consume the events topic in the [kafka] consumer group, until SIGTERM.

    Start several (up to kafka.partitions) to share the partitions. State is
    in global.store (PostgreSQL for more than one worker); alerts go to the
    banks' channels and to the alerts topic; rejected events to the DLQ topic.
    $LOANWATCH_KAFKA_BOOTSTRAP overrides kafka.bootstrap.
    """
    from monitor.metrics import setup_logging

    root = ctx.find_root()
    verbose = root.params.get("verbose", 0) or 0
    setup_logging(json_lines=log_json, verbose=verbose)
    from monitor.config import default_config_path

    path = (root.obj or {}).get("config_path") or default_config_path()
    code = run_worker(path, batch_size=batch_size, batch_wait=batch_wait, deliver_interval=deliver_interval,
                      metrics_port=metrics_port, metrics_addr=metrics_addr, stop_timeout=stop_timeout)
    ctx.exit(code)


def register(cli_group: click.Group) -> None:
    """Add ``worker`` to the root ``loanwatch`` group (twice is harmless)."""
    if worker.name not in cli_group.commands:
        cli_group.add_command(worker)
