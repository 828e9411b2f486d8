"""The worker's consumer rules without a broker: ``streams.kafka_consumer.EventWorker`` on a fake consumer.

The fake plays aiokafka's part as its documentation describes it: fetches
come from ``getmany``, nothing is returned while a rebalance is under way,
the listener's revocation is awaited before the new assignment is made and
announced. The real broker runs the same code in ``test_worker.py``; here
each rule is pinned down on its own, in a fixed order of events.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from aiokafka import ConsumerRecord, TopicPartition

from streams.kafka_config import KafkaSettings
from streams.kafka_consumer import EventWorker, FatalBatchError, Record, WorkerOptions

TOPIC = "t.events"
SETTINGS = KafkaSettings(group_id="g", events_topic=TOPIC)
OPTIONS = WorkerOptions(batch_size=100, batch_wait=0.01, commit_interval=0.05, lag_interval=0.05, stop_grace=5,
                        stop_timeout=20)


def tp(p: int) -> TopicPartition:
    return TopicPartition(TOPIC, p)


def records(p: int, offsets: range) -> list[ConsumerRecord]:
    return [ConsumerRecord(TOPIC, p, o, 1_700_000_000_000 + o, 0, b"k", b"v%d" % o, None, 1, 2, [])
            for o in offsets]


class FakeConsumer:
    def __init__(self) -> None:
        self.listener: Any = None
        self.assigned: set[TopicPartition] = set()
        self.fetches: asyncio.Queue[dict] = asyncio.Queue()
        self.served = 0
        self.commits: list[dict[TopicPartition, int]] = []
        self.high: dict[TopicPartition, int] = {}
        self.stopped = False
        self._settled = asyncio.Event()
        self._settled.set()

    def subscribe(self, topics, listener) -> None:
        self.listener = listener

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        self.stopped = True

    async def getmany(self, *partitions, timeout_ms=0, max_records=None):
        await self._settled.wait()  # aiokafka returns nothing while a rebalance is under way
        try:
            fetch = await asyncio.wait_for(self.fetches.get(), timeout_ms / 1000)
        except TimeoutError:
            return {}
        self.served += 1
        return fetch

    async def commit(self, offsets) -> None:
        assert set(offsets) <= self.assigned, "committed a partition not assigned"
        self.commits.append(dict(offsets))

    def assignment(self) -> set[TopicPartition]:
        return set(self.assigned)

    def highwater(self, partition):
        return self.high.get(partition)

    async def position(self, partition) -> int:
        return 0

    async def rebalance(self, partitions: set[int]) -> None:
        self._settled.clear()
        if self.assigned:
            await self.listener.on_partitions_revoked(set(self.assigned))
        self.assigned = {tp(p) for p in partitions}
        self.listener.on_partitions_assigned(set(self.assigned))
        self._settled.set()

    def committed(self) -> dict[TopicPartition, int]:
        out: dict[TopicPartition, int] = {}
        for c in self.commits:
            out.update(c)
        return out


class Handler:
    """Records every call; ``process`` and ``on_assigned`` block while their gate is closed."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.batches: list[list[Record]] = []
        self.lag: dict[int, int] = {}
        self.process_gate = threading.Event()
        self.process_gate.set()
        self.assign_gate = threading.Event()
        self.assign_gate.set()
        self.in_process = threading.Event()
        self.fail: list[BaseException] = []  # raised by the next calls of process, in order

    def on_assigned(self, partitions):
        self.assign_gate.wait(10)
        self.calls.append(("assigned", partitions))

    def on_revoked(self, partitions):
        self.calls.append(("revoked", partitions))

    def process(self, batch):
        self.in_process.set()
        self.process_gate.wait(10)
        self.in_process.clear()
        if self.fail:
            raise self.fail.pop(0)
        self.batches.append(batch)
        self.calls.append(("process", [r.location for r in batch]))

    def on_lag(self, lag):
        self.lag = lag


class Running:
    """An EventWorker on a FakeConsumer, run in a thread of its own (no signal handlers there)."""

    def __init__(self, handler: Handler, options: WorkerOptions = OPTIONS) -> None:
        self.handler = handler
        self.consumer: FakeConsumer | None = None
        made = threading.Event()

        def factory() -> FakeConsumer:
            self.consumer = FakeConsumer()
            made.set()
            return self.consumer

        self.worker = EventWorker(SETTINGS, handler, options, consumer_factory=factory)
        self.code: int | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        assert made.wait(10)

    def _run(self) -> None:
        self.code = self.worker.run()

    def call(self, make: Callable[[], Any]) -> Any:
        """Run ``make()`` (a coroutine or a plain call) on the worker's loop and wait for it."""
        async def go():
            result = make()
            return await result if asyncio.iscoroutine(result) else result
        return asyncio.run_coroutine_threadsafe(go(), self.worker._loop).result(10)

    def start_call(self, make: Callable[[], Any]) -> Any:
        async def go():
            return await make()
        return asyncio.run_coroutine_threadsafe(go(), self.worker._loop)

    def feed(self, fetch: dict) -> None:
        self.call(lambda: self.consumer.fetches.put_nowait(fetch))

    def stop(self) -> int | None:
        self.worker.stop()
        self.thread.join(20)
        assert not self.thread.is_alive()
        return self.code


def wait_until(cond: Callable[[], Any], what: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


@pytest.fixture
def handler() -> Handler:
    return Handler()


def test_a_whole_fetch_is_one_batch_and_its_offsets_are_committed_only_after_process_returned(handler):
    run = Running(handler)
    run.call(lambda: run.consumer.rebalance({0, 1}))
    wait_until(lambda: ("assigned", frozenset({0, 1})) in handler.calls, "the take-over")
    run.consumer.high = {tp(0): 10, tp(1): 3}
    handler.process_gate.clear()
    run.feed({tp(0): records(0, range(0, 5)), tp(1): records(1, range(0, 3))})
    assert handler.in_process.wait(5)
    time.sleep(0.2)  # several commit intervals
    assert run.consumer.commits == []  # nothing is committed while the batch is in the store
    handler.process_gate.set()
    wait_until(lambda: run.consumer.committed() == {tp(0): 5, tp(1): 3}, "the commit")
    [batch] = handler.batches
    assert [r.location for r in batch] == [f"{TOPIC}:0:{o}" for o in range(5)] + [f"{TOPIC}:1:{o}" for o in range(3)]
    assert batch[0].timestamp == 1_700_000_000.0 and batch[0].value == b"v0"
    wait_until(lambda: handler.lag == {0: 5, 1: 0}, "the lag after the batch")
    assert run.stop() == 0 and run.consumer.stopped


def test_no_batch_reaches_process_before_the_take_over_returned(handler):
    handler.assign_gate.clear()
    run = Running(handler)
    run.call(lambda: run.consumer.rebalance({0}))
    run.feed({tp(0): records(0, range(3))})
    time.sleep(0.3)
    assert handler.batches == []
    handler.assign_gate.set()
    wait_until(lambda: len(handler.batches) == 1, "the batch after the take-over")
    assert [c[0] for c in handler.calls] == ["assigned", "process"]
    assert run.stop() == 0


def test_a_revocation_gives_up_what_was_not_started_and_commits_the_batch_in_flight_first(handler):
    run = Running(handler, WorkerOptions(batch_size=2, batch_wait=0.01, commit_interval=60, stop_grace=5))
    run.call(lambda: run.consumer.rebalance({0}))
    wait_until(lambda: handler.calls, "the take-over")
    handler.process_gate.clear()
    run.feed({tp(0): records(0, range(6))})  # three batches' worth
    assert handler.in_process.wait(5)  # the first batch, offsets 0 and 1, is in the store
    rebalance = run.start_call(lambda: run.consumer.rebalance({0}))
    time.sleep(0.3)
    assert not rebalance.done()  # the group waits for the batch in flight
    assert ("revoked", frozenset({0})) in handler.calls
    handler.process_gate.set()
    rebalance.result(10)
    assert run.consumer.commits == [{tp(0): 2}]  # committed before the partitions were given away
    time.sleep(0.3)
    # offsets 2 to 5 were given up unacked: read again from the committed offset, never processed here
    assert [[r.offset for r in b] for b in handler.batches] == [[0, 1]]
    assert [c[0] for c in handler.calls] == ["assigned", "revoked", "process", "assigned"]
    run.feed({tp(0): records(0, range(2, 4))})  # what the new assignment fetches from the commit
    wait_until(lambda: len(handler.batches) == 2, "the batch of the new assignment")
    assert [r.offset for r in handler.batches[1]] == [2, 3]
    assert run.stop() == 0 and run.consumer.committed() == {tp(0): 4}


def test_at_most_two_batches_wait_then_fetching_stops_until_one_is_taken(handler):
    run = Running(handler, WorkerOptions(batch_size=2, batch_wait=0.01, stop_grace=5))
    run.call(lambda: run.consumer.rebalance({0}))
    wait_until(lambda: handler.calls, "the take-over")
    handler.process_gate.clear()
    for start in range(0, 20, 2):
        run.feed({tp(0): records(0, range(start, start + 2))})
    assert handler.in_process.wait(5)
    time.sleep(0.3)
    assert run.consumer.served == 3  # the batch in the store, then two waiting: no more fetches
    handler.process_gate.set()
    wait_until(lambda: sum(map(len, handler.batches)) == 20, "every record processed")
    assert [r.offset for b in handler.batches for r in b] == list(range(20))
    assert run.stop() == 0


def test_a_failed_batch_is_retried_whole_and_a_fatal_one_stops_the_worker_uncommitted(handler):
    handler.fail = [RuntimeError("store down")]
    run = Running(handler)
    run.call(lambda: run.consumer.rebalance({0}))
    run.feed({tp(0): records(0, range(3))})
    wait_until(lambda: run.consumer.committed() == {tp(0): 3}, "the retried batch committed")
    assert [[r.offset for r in b] for b in handler.batches] == [[0, 1, 2]]

    handler.fail = [FatalBatchError("taken over")]
    run.feed({tp(0): records(0, range(3, 5))})
    run.thread.join(20)
    assert run.code == 1 and run.consumer.stopped
    assert run.consumer.committed() == {tp(0): 3}  # the fatal batch's offsets never moved


def test_a_stop_lets_the_batch_in_flight_finish_and_commits_it(handler):
    run = Running(handler)
    run.call(lambda: run.consumer.rebalance({0}))
    wait_until(lambda: handler.calls, "the take-over")
    handler.process_gate.clear()
    run.feed({tp(0): records(0, range(4))})
    assert handler.in_process.wait(5)
    run.worker.stop()
    time.sleep(0.2)
    assert run.thread.is_alive()  # waiting for the batch
    handler.process_gate.set()
    run.thread.join(20)
    assert run.code == 0 and run.worker.batches == 1
    assert run.consumer.committed() == {tp(0): 4} and run.consumer.stopped
