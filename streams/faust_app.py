"""The Faust app of Kafka mode: batches of events to a blocking handler, acknowledged only once it returned.

Generic on purpose (``streams`` imports nothing of the others): the caller
hands in a ``BatchHandler`` and this module owns everything Kafka-side, so
the rules that make at-least-once hold live in one place:

- **Offsets follow the store.** The consumer's fetch loop hands each
  fetch's records to the worker (tracked by Faust, never acked
  automatically); batches of up to ``batch_size`` are cut from what has
  arrived, and ``handler.process(records)`` runs in a worker thread, so the
  event loop keeps fetching and heartbeating while the store works. Only
  when it has returned, i.e. after its transaction committed, are the
  batch's records acked; Faust commits acked offsets every
  ``commit_interval``. A crash anywhere before the ack means the batch is
  fetched again, which the handler must tolerate (Loanwatch drops repeated
  event ids).
- **Batches follow the load.** A partial batch waits at most ``batch_wait``
  for more records; under a backlog the next batch is what arrived while the
  last one was in the store, up to ``batch_size``. At most two batches wait;
  beyond that the fetch loop pauses.
- **A failed batch is retried, never skipped.** An exception from
  ``process`` is logged and the same batch is offered again after a growing
  pause (0.5 s doubling to ``retry_max``); its offsets do not move meanwhile,
  which shows as consumer lag. On shutdown a batch already running is given
  ``stop_grace`` seconds to finish so that its offsets are committed too.
- **Rebalances.** ``handler.on_assigned(partitions)`` runs in its own
  thread when partitions are assigned (the handler takes ownership in the
  store there); no batch reaches ``process`` before it has returned. Faust
  itself waits for the batch in flight to be acked before giving partitions
  away (``stream_wait_empty``); records fetched but not yet in a batch are
  given up, unacked, so the hand-over waits for one batch at most.
  ``handler.on_revoked`` is called on the event loop and must be quick.
- **Lag.** ``handler.on_lag({partition: lag})`` every ``lag_interval``, lag
  being the high watermark the last fetch response carried minus the next
  offset to process. Not ListOffsets: Tansu answers it short of the end.
- **Broker first.** ``wait_for_kafka`` blocks until a bootstrap server
  answers and the topics exist, logging ``broker HOST:PORT unreachable,
  retrying in Ns`` meanwhile, so a worker started before its broker simply
  starts late. Topics are never created here (Tansu would create a missing
  one on the first metadata request, with its own partition count).

Settings that matter on every Kafka-compatible broker, Tansu included: no
transactions and no idempotent producer (``at_least_once``), session timeout
6 s with a 2 s heartbeat (Tansu answers a JoinGroup after about half the
session timeout), new consumer groups start from the earliest offset.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import tempfile
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from streams.broker import kafka_ping
from streams.kafka_config import KafkaSettings

__all__ = ["BatchHandler", "EventWorker", "FatalBatchError", "Record", "WorkerOptions", "wait_for_kafka"]

log = logging.getLogger("loanwatch.kafka")


@dataclass(frozen=True, slots=True)
class Record:
    """One consumed Kafka record, decoupled from Faust's types."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: float | None  # the record's Kafka timestamp, seconds since the epoch

    @property
    def location(self) -> str:
        """``topic:partition:offset``, where an operator finds the record again."""
        return f"{self.topic}:{self.partition}:{self.offset}"


class FatalBatchError(Exception):
    """Raised by ``process`` when going on would be wrong: the worker stops without acking the batch."""


class BatchHandler(Protocol):
    def on_assigned(self, partitions: frozenset[int]) -> None:
        """Blocking; runs in its own thread before any record of ``partitions`` is processed."""

    def on_revoked(self, partitions: frozenset[int]) -> None:
        """Runs on the event loop: must not block."""

    def process(self, records: list[Record]) -> None:
        """Blocking; runs in the batch thread. Return when the effects are durable; raise to retry."""

    def on_lag(self, lag: dict[int, int]) -> None:
        """Runs on the event loop every ``lag_interval``: must not block."""


@dataclass(frozen=True)
class WorkerOptions:
    batch_size: int = 5000
    batch_wait: float = 0.2  # seconds a partial batch waits for more events
    commit_interval: float = 1.0  # seconds between offset commits
    session_timeout: float = 6.0
    heartbeat_interval: float = 2.0
    retry_max: float = 30.0  # longest pause between attempts at a failing batch
    stop_grace: float = 30.0  # a batch running at shutdown may finish within this
    stop_timeout: float = 45.0  # a stop that takes longer (broker gone: commits hang) ends the process
    lag_interval: float = 1.0

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if not self.batch_wait > 0:
            raise ValueError(f"batch_wait must be > 0, got {self.batch_wait}")


def _servers(settings: KafkaSettings) -> list[tuple[str, int]]:
    out = []
    for server in settings.bootstrap_servers:
        host, _, port = server.rpartition(":")
        out.append((host.strip("[]"), int(port)))
    return out


def wait_for_kafka(settings: KafkaSettings, topics: Sequence[str], *, stop: threading.Event | None = None,
                   max_delay: float = 30.0, logger: logging.Logger = log) -> bool:
    """Block until a bootstrap server answers and ``topics`` exist; False if ``stop`` was set first.

    The pause between attempts doubles from 1 s to ``max_delay``; every miss
    is one WARNING line naming the address (or the missing topics) and the
    pause, so an operator sees at once why the worker has not started.
    """
    from streams.kafka_tools import KafkaToolError, TopicMissing, require_topics

    stop = stop or threading.Event()
    delay = 1.0
    while not stop.is_set():
        if any(kafka_ping(host, port, timeout=2.0) for host, port in _servers(settings)):
            try:
                require_topics(settings, topics)
                return True
            except TopicMissing as exc:
                logger.warning("%s; retrying in %gs", exc, delay)
            except KafkaToolError as exc:
                logger.warning("broker %s unreachable (%s), retrying in %gs", settings.bootstrap, exc, delay)
        else:
            logger.warning("broker %s unreachable, retrying in %gs", settings.bootstrap, delay)
        if stop.wait(delay):
            break
        delay = min(delay * 2, max_delay)
    return False


#: Longest a fetch request waits at the broker for records. Faust hard-codes 1.5 s; with Tansu a
#: steady 2,000 events/s then arrives in lumps every ~0.8 s (a parked fetch does not always wake
#: up for new records), which is most of the event-to-alert latency. 100 ms costs a few more
#: empty fetch round trips per second when idle.
FETCH_MAX_WAIT_MS = 100


def _app_class() -> type:
    """``faust.App`` whose consumer fetches with ``FETCH_MAX_WAIT_MS`` and hands over whole fetches.

    Faust delivers a record to a stream through two tasks, a flow-control
    check and three queues: about 200 µs per record on this project's 2-core
    machine, which alone held a worker to ~4,400 events/s with a handler that
    did nothing. ``_drain_messages`` (Faust's fetch loop, otherwise kept as
    it is) therefore passes the records of a fetch to ``app.loanwatch_intake``
    in one call; Faust still tracks each message, so a rebalance waits for
    its ack (``stream_wait_empty``) exactly as it would for a stream's.
    """
    import faust
    from faust.transport.drivers import aiokafka as driver

    class ConsumerThread(driver.AIOKafkaConsumerThread):
        def _create_worker_consumer(self, transport: Any) -> Any:
            consumer = super()._create_worker_consumer(transport)
            consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS  # read by the fetcher, created at start()
            return consumer

    class Consumer(driver.Consumer):
        def _new_consumer_thread(self) -> Any:
            return ConsumerThread(self, loop=self.loop, beacon=self.beacon)

        async def _drain_messages(self, fetcher: Any) -> None:
            intake = getattr(self.app, "loanwatch_intake", None)
            if intake is None:
                return await super()._drain_messages(fetcher)
            read_offset = self._read_offset
            track = self.track_message
            try:
                while not (self._stopped.is_set() or fetcher._stopped.is_set()):
                    taken: list[Any] = []
                    await self.sleep(0)
                    if self.should_stop:
                        break
                    async for tp, message in self.getmany(timeout=1.0):
                        last = read_offset[tp]
                        if last is not None and message.offset < last:
                            continue  # read before a seek back; Faust drops these too
                        if last and message.offset - last > 1 and self.app.topics.acks_enabled_for(tp.topic):
                            await self._add_gap(tp, last + 1, message.offset)
                        track(message)
                        taken.append(message)
                        read_offset[tp] = message.offset
                        if not len(taken) % 1000:
                            await asyncio.sleep(0)  # a large fetch must not hold the event loop
                    if self._commit_every is not None and self._n_acked >= self._commit_every:
                        self._n_acked = 0
                        await self.commit()
                    if taken:
                        await intake(taken)
            except self.consumer_stopped_errors:
                if self.transport.app.should_stop:
                    return
                raise
            except asyncio.CancelledError:
                if self.transport.app.should_stop:
                    return
                raise

    class App(faust.App):
        def _new_transport(self) -> Any:
            transport = super()._new_transport()
            transport.Consumer = Consumer
            return transport

    return App


def _record(m: Any) -> Record:
    ts = m.timestamp
    return Record(m.topic, m.partition, m.offset, m.key, m.value, ts / 1000.0 if ts and ts > 1e11 else ts)


class EventWorker:
    """A Faust app consuming ``settings.events_topic`` in the consumer group ``settings.group_id``.

    ``run()`` blocks until SIGTERM/SIGINT (clean stop: the batch in flight
    finishes, acked offsets are committed, the group is left) or a crash,
    and returns a process exit code.
    """

    def __init__(self, settings: KafkaSettings, handler: BatchHandler, options: WorkerOptions | None = None) -> None:
        self.settings = settings
        self.handler = handler
        self.options = options or WorkerOptions()
        self.failure: BaseException | None = None
        self.batches = 0
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="lw-batch")
        self._control = ThreadPoolExecutor(1, thread_name_prefix="lw-rebalance")
        self._ready: asyncio.Future | None = None  # open once the handler owns the current assignment
        self._generation = 0  # rebalance steps (revocations and assignments) seen
        self._next: dict[int, int] = {}  # partition -> next offset to process
        self._pending: list[Any] = []  # fetched, not yet in a batch (Faust messages, tracked, unacked)
        self._arrived = asyncio.Event()  # set when records were added to _pending
        self._room = asyncio.Event()  # set while _pending is below two batches
        self._datadir = tempfile.TemporaryDirectory(prefix="loanwatch-faust-")
        self.app = self._make_app()

    # -- the app ------------------------------------------------------------------------
    def _make_app(self) -> Any:
        s, o = self.settings, self.options
        app = _app_class()(
            s.group_id,
            broker=[f"kafka://{server}" for server in s.bootstrap_servers],
            broker_client_id=s.client_id,
            broker_session_timeout=o.session_timeout,
            broker_heartbeat_interval=o.heartbeat_interval,
            broker_commit_interval=o.commit_interval,
            broker_commit_every=max(10_000, 2 * o.batch_size),
            consumer_auto_offset_reset="earliest",
            processing_guarantee="at_least_once",
            stream_wait_empty=True,
            topic_allow_declare=False,
            topic_disable_leader=True,
            web_enabled=False,
            autodiscover=False,
            store="memory://",
            datadir=self._datadir.name,
        )
        topic = app.topic(s.events_topic, key_type=bytes, value_type=bytes,
                          key_serializer="raw", value_serializer="raw")

        # What iterating the topic in an agent would do: subscribe to it. Its records come in through
        # the consumer's fetch loop, a fetch at a time, to `_intake` (see `_app_class`).
        app.topics.add(topic.clone(is_iterator=True))
        app.loanwatch_intake = self._intake

        async def batches() -> None:
            try:
                await self._process_batches()
            except asyncio.CancelledError:
                raise
            except BaseException as exc:  # a bug of ours: stop rather than ack what was not processed
                log.critical("the batch loop failed; stopping the worker: %r", exc, exc_info=True)
                self.failure = exc
                await app.crash(exc)
                raise

        app.task(batches)

        async def assigned(sender: Any, assigned: set, **_: Any) -> None:
            mine = frozenset(tp.partition for tp in assigned if tp.topic == s.events_topic)
            self._next = {p: n for p, n in self._next.items() if p in mine}
            ready, generation = self._close_gate()
            # Not awaited here: the consumer's rebalance must not wait for the store; batches wait on `ready`.
            fut = asyncio.get_running_loop().run_in_executor(self._control, self.handler.on_assigned, mine)

            def done(f: asyncio.Future) -> None:
                if generation != self._generation or ready.done():
                    return  # a later rebalance owns the gate now
                exc = asyncio.CancelledError() if f.cancelled() else f.exception()
                if exc is None:
                    ready.set_result(None)
                else:
                    ready.set_exception(exc)

            fut.add_done_callback(done)

        async def revoked(sender: Any, revoked: set, **_: Any) -> None:
            mine = frozenset(tp.partition for tp in revoked if tp.topic == s.events_topic)
            # Until the next assignment has been taken over, no batch may start: a batch fetched
            # under the new assignment must find the handler already owning its partitions.
            self._close_gate()
            for p in mine:
                self._next.pop(p, None)
            self.handler.on_revoked(mine)

        app.on_partitions_assigned.connect(assigned)
        app.on_partitions_revoked.connect(revoked)

        async def report_lag() -> None:
            lag = {}
            consumer = app.consumer
            for tp in consumer.assignment():
                if tp.topic != s.events_topic:
                    continue
                high = consumer.highwater(tp)
                if high is None or high < 0:
                    continue
                nxt = self._next.get(tp.partition)
                if nxt is None:
                    with contextlib.suppress(Exception):
                        nxt = await consumer.position(tp)
                if nxt is not None:
                    lag[tp.partition] = max(0, high - nxt)
            self.handler.on_lag(lag)

        app.timer(o.lag_interval, name="loanwatch-lag")(report_lag)
        return app

    def _close_gate(self) -> tuple[asyncio.Future, int]:
        """Start a rebalance step: a fresh gate that only this step's take-over may open.

        A batch waiting on the previous gate is woken to wait on the new one,
        so a take-over that a later rebalance made obsolete never lets a
        batch through.
        """
        previous = self._ready
        self._generation += 1
        self._ready = asyncio.get_running_loop().create_future()
        if previous is not None and not previous.done():
            previous.set_result(None)
        return self._ready, self._generation

    # -- batches --------------------------------------------------------------------------
    async def _intake(self, messages: list[Any]) -> None:
        """Take one fetch's records; hold the fetch loop while a full backlog already waits.

        Fetching goes on while a batch is in the store, so the next batch is
        whatever arrived meanwhile: one record at a time at low load, full
        batches under a backlog, where a batch's fixed costs (its commit, the
        detection of every enterprise it touched) are spread over the most
        events.
        """
        self._pending.extend(messages)
        self._arrived.set()
        consumer = self.app.consumer
        while (len(self._pending) >= 2 * self.options.batch_size and consumer.flow_active
               and not self.app.should_stop):
            self._room.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._room.wait(), 0.2)

    async def _process_batches(self) -> None:
        o = self.options
        consumer = self.app.consumer
        loop = asyncio.get_running_loop()
        while True:
            await self._arrived.wait()
            self._arrived.clear()
            if not self._pending:
                continue
            # a partial batch waits up to batch_wait for more, counted from when it began to wait
            deadline = loop.time() + o.batch_wait
            while len(self._pending) < o.batch_size and (remaining := deadline - loop.time()) > 0:
                self._arrived.clear()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._arrived.wait(), remaining)
            if not consumer.flow_active:
                # A rebalance has begun: what was fetched and not started is given up, unacked, so
                # that the rebalance need not wait for it; whoever owns a partition next reads it again.
                self._drop_pending(consumer)
                continue
            batch = self._pending[:o.batch_size]
            del self._pending[:o.batch_size]
            if len(self._pending) < 2 * o.batch_size:
                self._room.set()
            if self._pending:
                self._arrived.set()
            await self._handle(batch)

    def _drop_pending(self, consumer: Any) -> None:
        unacked = consumer._unacked_messages
        for m in self._pending:
            unacked.discard(m)
        self._pending.clear()
        self._room.set()

    async def _handle(self, messages: list[Any]) -> None:
        records = [_record(m) for m in messages]
        if self._ready is None:  # records before any assignment callback: wait for it
            self._close_gate()
        while True:
            ready = self._ready
            await asyncio.shield(ready)  # ownership taken in the store; a failure there crashes the worker
            if ready is self._ready:
                break
        loop = asyncio.get_running_loop()
        delay = 0.5
        while True:
            fut = loop.run_in_executor(self._pool, self.handler.process, records)
            try:
                await asyncio.shield(fut)
                break
            except asyncio.CancelledError:
                if await self._finish(fut):
                    self._ack(messages)
                raise
            except FatalBatchError:
                raise  # crashes the worker, unacked
            except Exception as exc:
                parts = sorted({r.partition for r in records})
                log.error("batch of %d events (partitions %s, offsets from %s) failed, retrying in %.1fs: %s: %s",
                          len(records), parts, records[0].location, delay, type(exc).__name__, exc,
                          exc_info=log.isEnabledFor(logging.DEBUG))
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.options.retry_max)
        self._ack(messages)
        self.batches += 1

    async def _finish(self, fut: asyncio.Future) -> bool:
        """On cancellation (shutdown): wait for the running batch, so that its offsets go out too."""
        try:
            await asyncio.wait_for(asyncio.shield(fut), self.options.stop_grace)
            return True
        except BaseException:
            return False

    def _ack(self, messages: list[Any]) -> None:
        ack = self.app.consumer.ack
        nxt = self._next
        for m in messages:
            ack(m)
            if m.offset + 1 > nxt.get(m.partition, -1):
                nxt[m.partition] = m.offset + 1

    # -- running --------------------------------------------------------------------------
    def run(self) -> int:
        """Run until stopped; 0 after a clean stop, 1 after a crash."""
        import faust

        worker = faust.Worker(self.app, quiet=True, redirect_stdouts=False, override_logging=False,
                              loglevel=logging.getLevelName(logging.getLogger().getEffectiveLevel()))
        worker.spinner = None  # a terminal spinner would write escape codes into the log
        code = 0
        started = time.monotonic()
        running = threading.Event()
        threading.Thread(target=self._watch_stop, args=(worker, running), name="lw-stop-watch",
                         daemon=True).start()
        try:
            running.set()
            worker.execute_from_commandline()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        finally:
            self._pool.shutdown(wait=True)
            self._control.shutdown(wait=False, cancel_futures=True)
            with contextlib.suppress(Exception):
                self._datadir.cleanup()
        if self.failure is not None or getattr(self.app, "_crash_reason", None) is not None:
            code = code or 1
        running.clear()
        log.info("event worker stopped after %.0fs, %d batches, exit code %d",
                 time.monotonic() - started, self.batches, code)
        return code

    def _watch_stop(self, worker: Any, running: threading.Event) -> None:
        """Bound a stop: with the broker gone, Faust's final commit and group leave wait for minutes.

        Leaving without them is safe: offsets not committed only mean events
        processed again, which at-least-once processing already allows.
        """
        running.wait()
        while running.is_set() and not (worker.should_stop or self.app.should_stop):
            time.sleep(0.2)
        deadline = time.monotonic() + self.options.stop_timeout
        while running.is_set():
            if time.monotonic() > deadline:
                log.error("stopping took longer than %gs (is the broker reachable?); exiting now, what was not "
                          "committed will be processed again", self.options.stop_timeout)
                logging.shutdown()
                os._exit(1)
            time.sleep(0.2)
