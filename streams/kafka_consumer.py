"""The consumer of Kafka mode: whole fetches, cut into batches for a blocking handler; offsets after the store.

Generic on purpose (``streams`` imports nothing of the others): the caller
hands in a ``BatchHandler`` and this module owns everything Kafka-side, so
the rules that make at-least-once hold live in one place.

Why aiokafka's consumer, used directly
--------------------------------------

The worker needs whole fetches, a commit it decides, and a say in every
rebalance. aiokafka's ``AIOKafkaConsumer`` offers exactly that through its
public, documented API: ``getmany()`` returns every buffered record of a
fetch at once, ``commit(offsets)`` commits what we name, and a
``ConsumerRebalanceListener`` is awaited before partitions are given away
and called once new ones are assigned. Faust, which runs on aiokafka, was
tried first: its public path (an agent, ``stream.take``) hands records one
at a time through two tasks, a flow-control check and three queues, about
200 µs a record on this project's 2-core machine, which held a handler that
did nothing to ~4,400 events/s. Getting whole fetches out of it took
overrides of four private methods, which any Faust release could break
without notice. Faust's other gifts (tables, agents, web views) the worker
does not use.

The rules
---------

- **Offsets follow the store.** Fetched records wait in memory; batches of
  up to ``batch_size`` are cut from what has arrived, and
  ``handler.process(records)`` runs in a worker thread, so the event loop
  keeps fetching and heartbeating while the store works. Only when it has
  returned, i.e. after its transaction committed, are the batch's offsets
  marked done; they are committed every ``commit_interval``, at every
  revocation and at the stop. A crash anywhere before that means the batch
  is fetched again, which the handler must tolerate (Loanwatch drops
  repeated event ids).
- **Batches follow the load.** A partial batch waits at most ``batch_wait``
  for more records; under a backlog the next batch is what arrived while the
  last one was in the store, up to ``batch_size``. At most two batches wait;
  beyond that no more is fetched until a batch is taken.
- **A failed batch is retried, never skipped.** An exception from
  ``process`` is logged and the same batch is offered again after a growing
  pause (0.5 s doubling to ``retry_max``); its offsets do not move meanwhile,
  which shows as consumer lag. ``FatalBatchError`` stops the worker instead,
  without marking the batch done.
- **Rebalances.** When partitions are revoked, no batch starts any more,
  records fetched but not started are given up unacked (the next owner reads
  them again from the committed offset), ``handler.on_revoked(partitions)``
  is called (on the event loop: it must be quick), the batch in flight is
  waited for (``stop_grace`` at most) and what is done is committed, all
  before the group moves on. When partitions are assigned,
  ``handler.on_assigned(partitions)`` runs in its own thread (the handler
  takes ownership in the store there); no batch reaches ``process`` before
  it has returned, a later rebalance makes a take-over still in progress
  obsolete, and a revocation or a stop waits for it, so that it never lands
  in the store after the next owner's.
- **A bounded stop.** On SIGTERM/SIGINT (or ``stop()``) the batch in flight
  gets ``stop_grace`` seconds to finish, what is done is committed and the
  group is left; with the broker gone those waits are cut short, and a stop
  that still takes more than ``stop_timeout`` ends the process (exit 1):
  what was not committed is processed again by the next owner.
- **Lag.** ``handler.on_lag({partition: lag})`` every ``lag_interval``, lag
  being the high watermark the last fetch response carried minus the next
  offset to process. Not ListOffsets: Tansu answers it short of the end.
- **Broker first.** ``wait_for_kafka`` blocks until a bootstrap server
  answers and the topics exist, logging ``broker HOST:PORT unreachable,
  retrying in Ns`` meanwhile, so a worker started before its broker simply
  starts late. Topics are never created here (Tansu would create a missing
  one on the first metadata request, with its own partition count).

Settings that matter on every Kafka-compatible broker, Tansu included: no
transactions, session timeout 6 s with a 2 s heartbeat (Tansu answers a
JoinGroup after about half the session timeout), new consumer groups start
from the earliest offset, fetches wait at most 100 ms at the broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import ConsumerStoppedError, KafkaError

from streams.broker import kafka_ping
from streams.kafka_config import KafkaSettings
from streams.kafka_tools import KafkaToolError, TopicMissing, require_topics

__all__ = ["BatchHandler", "Consumer", "EventWorker", "FatalBatchError", "Record", "WorkerOptions",
           "wait_for_kafka"]

log = logging.getLogger("loanwatch.kafka")

#: Longest a fetch request waits at the broker for records. With Tansu a long wait (Faust's
#: 1.5 s, aiokafka's 0.5 s) makes a steady 2,000 events/s arrive in lumps (a parked fetch does not
#: always wake up for new records), which is most of the event-to-alert latency. 100 ms costs a
#: few more empty fetch round trips per second when idle.
FETCH_MAX_WAIT_MS = 100


@dataclass(frozen=True, slots=True)
class Record:
    """One consumed Kafka record, decoupled from the client's types."""

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


class Consumer(Protocol):
    """What ``EventWorker`` uses of ``aiokafka.AIOKafkaConsumer`` (its public API only)."""

    def subscribe(self, topics: Sequence[str], listener: ConsumerRebalanceListener) -> None: ...
    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def getmany(self, *partitions: TopicPartition, timeout_ms: int = 0,
                      max_records: int | None = None) -> dict[TopicPartition, list[ConsumerRecord]]: ...
    async def commit(self, offsets: dict[TopicPartition, int]) -> None: ...
    def assignment(self) -> set[TopicPartition]: ...
    def highwater(self, partition: TopicPartition) -> int | None: ...
    async def position(self, partition: TopicPartition) -> int: ...


@dataclass(frozen=True)
class WorkerOptions:
    batch_size: int = 5000
    batch_wait: float = 0.2  # seconds a partial batch waits for more events
    commit_interval: float = 1.0  # seconds between offset commits
    session_timeout: float = 6.0
    heartbeat_interval: float = 2.0
    rebalance_timeout: float = 60.0  # how long the group waits for a member finishing its batch to rejoin
    retry_max: float = 30.0  # longest pause between attempts at a failing batch
    stop_grace: float = 30.0  # a batch running at a revocation or at shutdown may finish within this
    stop_timeout: float = 45.0  # a stop that takes longer (broker gone: commits hang) ends the process
    lag_interval: float = 1.0
    request_timeout: float = 10.0  # bound on one commit or one group leave at a revocation or at the stop

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


def make_consumer(settings: KafkaSettings, options: WorkerOptions) -> AIOKafkaConsumer:
    """The group consumer of the events topic: manual commits, earliest offset for a new group."""
    o = options
    return AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers,
        client_id=f"{settings.client_id}-worker",
        group_id=settings.group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=int(o.session_timeout * 1000),
        heartbeat_interval_ms=int(o.heartbeat_interval * 1000),
        rebalance_timeout_ms=int(o.rebalance_timeout * 1000),
        fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
        request_timeout_ms=int(max(o.request_timeout, o.session_timeout + 5) * 1000),
    )


def _record(m: ConsumerRecord) -> Record:
    ts = m.timestamp
    return Record(m.topic, m.partition, m.offset, m.key, m.value, ts / 1000.0 if ts is not None and ts >= 0 else None)


class _Listener(ConsumerRebalanceListener):
    def __init__(self, worker: EventWorker) -> None:
        self.worker = worker

    async def on_partitions_revoked(self, revoked: Collection[TopicPartition]) -> None:
        await self.worker._revoked(revoked)

    def on_partitions_assigned(self, assigned: Collection[TopicPartition]) -> None:
        self.worker._assigned(assigned)


class EventWorker:
    """Consumes ``settings.events_topic`` in the consumer group ``settings.group_id``.

    ``run()`` blocks until SIGTERM/SIGINT or ``stop()`` (clean stop: the batch
    in flight finishes, done offsets are committed, the group is left) or a
    crash, and returns a process exit code. ``consumer_factory`` builds the
    consumer (``make_consumer`` by default; tests pass a fake).
    """

    def __init__(self, settings: KafkaSettings, handler: BatchHandler, options: WorkerOptions | None = None, *,
                 consumer_factory: Callable[[], Consumer] | None = None) -> None:
        self.settings = settings
        self.handler = handler
        self.options = options or WorkerOptions()
        self.failure: BaseException | None = None
        self.batches = 0
        self._factory = consumer_factory or (lambda: make_consumer(settings, self.options))
        self._topic = settings.events_topic
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="lw-batch")
        self._control = ThreadPoolExecutor(1, thread_name_prefix="lw-rebalance")
        self._stop_requested = threading.Event()
        self._running = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        # Set up in _main, on the event loop:
        self._consumer: Any = None
        self._stop: asyncio.Event
        self._gate: asyncio.Future  # open once the handler owns the current assignment
        self._generation = 0  # rebalance steps (revocations and assignments) seen
        self._pending: list[ConsumerRecord] = []  # fetched, not yet in a batch
        self._arrived: asyncio.Event  # set when records were added to _pending
        self._room: asyncio.Event  # set while _pending holds less than two batches
        self._idle: asyncio.Event  # clear while a batch attempt runs in the batch thread
        self._done: dict[TopicPartition, int] = {}  # processed, not yet committed: next offset per partition
        self._next: dict[int, int] = {}  # partition -> next offset to process (for the lag)
        self._takeover: asyncio.Future | None = None  # the latest handler.on_assigned, in its thread

    # -- running --------------------------------------------------------------------------
    def run(self) -> int:
        """Run until stopped; 0 after a clean stop, 1 after a crash."""
        started = time.monotonic()
        self._running.set()
        threading.Thread(target=self._watch_stop, name="lw-stop-watch", daemon=True).start()
        try:
            code = asyncio.run(self._main())
        except Exception as exc:  # a bug of ours: one line (the traceback with -vv), exit code 1
            self._crashed(exc)
            code = 1
        finally:
            self._stop_requested.set()  # a batch thread that never returns is cut short by the stop watch
            self._pool.shutdown(wait=True)
            self._control.shutdown(wait=False, cancel_futures=True)
            self._running.clear()
        log.info("event worker stopped after %.0fs, %d batches, exit code %d",
                 time.monotonic() - started, self.batches, code)
        return code

    def stop(self) -> None:
        """Ask a running worker to stop (from any thread); ``run()`` then returns."""
        self._stop_requested.set()
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(self._stop.set)

    async def _main(self) -> int:
        loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._arrived = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self._idle = asyncio.Event()
        self._idle.set()
        self._gate = loop.create_future()  # records before the first assignment wait for it
        self._loop = loop
        if self._stop_requested.is_set():
            return 0
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(signum, self.stop)
        consumer = self._consumer = self._factory()
        consumer.subscribe([self._topic], listener=_Listener(self))
        try:
            await asyncio.wait_for(consumer.start(), self.options.request_timeout + self.options.session_timeout)
        except (KafkaError, OSError, TimeoutError) as exc:
            log.error("cannot start consuming %s from %s: %s: %s", self._topic, self.settings.bootstrap,
                      type(exc).__name__, exc)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(consumer.stop(), self.options.request_timeout)
            return 1
        tasks = [asyncio.create_task(coro, name=name) for coro, name in (
            (self._fetch_loop(), "lw-fetch"), (self._batch_loop(), "lw-batches"),
            (self._commit_loop(), "lw-commit"), (self._lag_loop(), "lw-lag"))]
        stopping = asyncio.create_task(self._stop.wait())
        done, _ = await asyncio.wait([*tasks, stopping], return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if task is not stopping and not task.cancelled() and task.exception() is not None:
                self._crashed(task.exception())
        self._stop_requested.set()  # arms the stop watch
        await self._shutdown(tasks)
        stopping.cancel()
        return 1 if self.failure is not None else 0

    def _crashed(self, exc: BaseException) -> None:
        if self.failure is None:
            self.failure = exc
            if not isinstance(exc, FatalBatchError):  # those were logged where they arose
                log.critical("the worker failed, stopping without acking the batch: %s: %s",
                             type(exc).__name__, exc, exc_info=log.isEnabledFor(logging.DEBUG))

    async def _shutdown(self, tasks: list[asyncio.Task]) -> None:
        o = self.options
        fetch, batches, *others = tasks
        self._close_gate()  # no batch starts any more
        for task in (fetch, *others):
            task.cancel()
        if not self._idle.is_set():
            log.info("stopping: waiting up to %gs for the batch in flight", o.stop_grace)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), o.stop_grace)
        batches.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._commit("at the stop")
        await self._takeover_done()  # a take-over must not land in the store after the next owner's
        try:
            await asyncio.wait_for(self._consumer.stop(), o.request_timeout)  # leaves the group
        except (Exception, asyncio.CancelledError) as exc:
            current = asyncio.current_task()
            if isinstance(exc, asyncio.CancelledError) and current is not None and current.cancelling():
                raise
            # The broker is gone (aiokafka then lets a cancelled fetch escape its close).
            log.warning("leaving the consumer group failed (%s); the group drops this worker after the "
                        "session timeout", f"{type(exc).__name__}: {exc}" if str(exc) else "broker unreachable")

    def _watch_stop(self) -> None:
        """Bound a stop: with the broker gone, commits and the group leave can wait for minutes.

        Leaving without them is safe: offsets not committed only mean events
        processed again, which at-least-once processing already allows.
        """
        while self._running.is_set() and not self._stop_requested.wait(0.2):
            pass
        deadline = time.monotonic() + self.options.stop_timeout
        while self._running.is_set():
            if time.monotonic() > deadline:
                log.error("stopping took longer than %gs (is the broker reachable?); exiting now, what was not "
                          "committed will be processed again", self.options.stop_timeout)
                logging.shutdown()
                os._exit(1)
            time.sleep(0.2)

    # -- fetching -------------------------------------------------------------------------
    async def _fetch_loop(self) -> None:
        """Take whole fetches; hold off while two batches already wait.

        Fetching goes on while a batch is in the store, so the next batch is
        whatever arrived meanwhile: one record at a time at low load, full
        batches under a backlog, where a batch's fixed costs (its commit, the
        detection of every enterprise it touched) are spread over the most
        events.
        """
        consumer = self._consumer
        delay = 1.0
        while True:
            await self._room.wait()
            try:
                fetched = await consumer.getmany(timeout_ms=1000)
            except ConsumerStoppedError:
                return
            except KafkaError as exc:  # e.g. not authorized, or a coordinator error pushed to us
                log.warning("fetching from %s failed, retrying in %gs: %s: %s", self._topic, delay,
                            type(exc).__name__, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
                continue
            delay = 1.0
            if fetched:
                # aiokafka returns records of the current assignment only, and none while a
                # rebalance is under way (getmany waits for it), so every record here is ours.
                for records in fetched.values():
                    self._pending.extend(records)
                self._arrived.set()
                self._flow()

    def _flow(self) -> None:
        if len(self._pending) >= 2 * self.options.batch_size:
            self._room.clear()
        else:
            self._room.set()

    # -- batches --------------------------------------------------------------------------
    async def _batch_loop(self) -> None:
        o = self.options
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
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._arrived.wait(), remaining)
            await self._owned()
            if not self._pending:
                continue  # given up by a rebalance meanwhile
            generation = self._generation
            batch = self._pending[:o.batch_size]
            del self._pending[:o.batch_size]
            self._flow()
            if self._pending:
                self._arrived.set()
            await self._process(batch, generation)

    async def _owned(self) -> None:
        """Until the handler has taken over the current assignment (a failure there stops the worker)."""
        while True:
            gate = self._gate
            await asyncio.shield(gate)
            if gate is self._gate:
                return

    async def _process(self, batch: list[ConsumerRecord], generation: int) -> None:
        records = [_record(m) for m in batch]
        loop = asyncio.get_running_loop()
        delay = 0.5
        while True:
            self._idle.clear()
            attempt = loop.run_in_executor(self._pool, self.handler.process, records)
            try:
                await asyncio.shield(attempt)
            except asyncio.CancelledError:
                log.warning("stopped while a batch of %d events was still running; it is not acked",
                            len(records))
                raise
            except FatalBatchError:
                raise  # crashes the worker, unacked
            except Exception as exc:
                parts = sorted({r.partition for r in records})
                log.error("batch of %d events (partitions %s, offsets from %s) failed, retrying in %.1fs: %s: %s",
                          len(records), parts, records[0].location, delay, type(exc).__name__, exc,
                          exc_info=log.isEnabledFor(logging.DEBUG))
            else:
                self._ack(batch)
                self.batches += 1
                return
            finally:
                self._idle.set()
            await asyncio.sleep(delay)
            if generation != self._generation:
                log.info("a failed batch of %d events is given up unacked: its partitions are being reassigned",
                         len(records))
                return
            delay = min(delay * 2, self.options.retry_max)

    def _ack(self, batch: list[ConsumerRecord]) -> None:
        last: dict[int, int] = {}
        for m in batch:
            last[m.partition] = m.offset  # a partition's records are in offset order
        for p, offset in last.items():
            tp = TopicPartition(self._topic, p)
            if offset + 1 > self._done.get(tp, -1):
                self._done[tp] = offset + 1
            if offset + 1 > self._next.get(p, -1):
                self._next[p] = offset + 1

    # -- offsets --------------------------------------------------------------------------
    async def _commit_loop(self) -> None:
        while True:
            await asyncio.sleep(self.options.commit_interval)
            await self._commit()

    async def _commit(self, when: str = "") -> None:
        """Commit what is done in partitions still assigned here; bounded, a failure is retried next time."""
        consumer = self._consumer
        assigned = consumer.assignment()
        for tp in [tp for tp in self._done if tp not in assigned]:
            del self._done[tp]  # given away: its next owner reads it again from the last commit
        offsets = dict(self._done)
        if not offsets:
            return
        try:
            await asyncio.wait_for(consumer.commit(offsets), self.options.request_timeout)
        except (KafkaError, TimeoutError) as exc:
            log.warning("committing offsets%s failed (they are committed later, or the records are read "
                        "again): %s: %s", f" {when}" if when else "", type(exc).__name__, exc)
            return
        for tp, offset in offsets.items():
            if self._done.get(tp) == offset:
                del self._done[tp]

    async def _lag_loop(self) -> None:
        consumer = self._consumer
        while True:
            await asyncio.sleep(self.options.lag_interval)
            lag = {}
            for tp in consumer.assignment():
                high = consumer.highwater(tp)
                if tp.topic != self._topic or high is None or high < 0:
                    continue
                nxt = self._next.get(tp.partition)
                if nxt is None:
                    with contextlib.suppress(Exception):
                        nxt = await asyncio.wait_for(consumer.position(tp), self.options.lag_interval)
                if nxt is not None:
                    lag[tp.partition] = max(0, high - nxt)
            self.handler.on_lag(lag)

    # -- rebalances -----------------------------------------------------------------------
    def _close_gate(self) -> tuple[asyncio.Future, int]:
        """Start a rebalance step: a fresh gate that only this step's take-over may open.

        A batch waiting on the previous gate is woken to wait on the new one,
        so a take-over that a later rebalance made obsolete never lets a
        batch through.
        """
        previous = self._gate
        self._generation += 1
        self._gate = asyncio.get_running_loop().create_future()
        if not previous.done():
            previous.set_result(None)
        return self._gate, self._generation

    def _give_up_pending(self) -> None:
        self._pending.clear()
        self._flow()

    async def _revoked(self, revoked: Collection[TopicPartition]) -> None:
        mine = frozenset(tp.partition for tp in revoked if tp.topic == self._topic)
        # Until the next assignment has been taken over, no batch may start: a batch fetched
        # under the new assignment must find the handler already owning its partitions.
        self._close_gate()
        # Fetched, not started: given up unacked, so that the hand-over waits for one batch at most.
        self._give_up_pending()
        self.handler.on_revoked(mine)
        if not self._idle.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), self.options.stop_grace)
        await self._commit("at a revocation")
        self._done.clear()
        self._next.clear()
        # Every member revokes before any is assigned: a take-over of ours still running now could
        # otherwise be written to the store after the next owner's.
        await self._takeover_done()

    async def _takeover_done(self) -> None:
        takeover = self._takeover
        if takeover is not None and not takeover.done():
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(takeover), self.options.stop_grace)

    def _assigned(self, assigned: Collection[TopicPartition]) -> None:
        mine = frozenset(tp.partition for tp in assigned if tp.topic == self._topic)
        gate, generation = self._close_gate()
        if self._stop_requested.is_set():
            return  # leaving: taking over now would only compete with the next owner
        # Not awaited here: the group's rebalance must not wait for the store; batches wait on the gate.
        attempt = self._takeover = asyncio.get_running_loop().run_in_executor(
            self._control, self.handler.on_assigned, mine)

        def done(f: asyncio.Future) -> None:
            if f.cancelled():
                return  # only at the stop
            exc = f.exception()
            if exc is not None:  # the handler could not take over: stop rather than process unowned
                self._crashed(exc)
                self._stop.set()
            elif generation == self._generation and not gate.done():  # else a later rebalance owns the gate
                gate.set_result(None)

        attempt.add_done_callback(done)
