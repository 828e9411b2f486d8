"""Kafka workers against a real broker: the guarantees of distributed mode, end to end.

Each test publishes the same stream (``tests.kafka.stream``: about 18,000
events, duplicates and malformed lines included) to its own topics, runs
real ``loanwatch worker`` processes against a fresh PostgreSQL database, and
compares what a real HTTP receiver got with what the embedded daemon
(``loanwatch ingest`` on SQLite) delivers from the same input: the multiset
of (alert_id, kind, severity), grouped members included. The alerts topic
and the DLQ topic are read back from the broker.

Broker: Tansu, started by the fixtures, or any Kafka at
``$LOANWATCH_TEST_KAFKA_BOOTSTRAP``. No mock of Kafka anywhere.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from streams.kafka_config import KafkaSettings
from tests.kafka.conftest import tansu_missing
from tests.kafka.stream import Stream, make_stream
from tests.kafka.workers import (
    Store,
    Worker,
    assert_same_alerts,
    hook_bodies,
    import_watchlists,
    lw,
    message_keys,
    publish_raw,
    received,
    scrape,
    wait_until,
    write_config,
)
from tests.servers import HTTPReceiver

pytestmark = pytest.mark.kafka

ALL = {0, 1, 2, 3}  # tests.kafka.conftest.PARTITIONS


@pytest.fixture(scope="module")
def stream() -> Stream:
    return make_stream(n_enterprises=360, months=24)


@pytest.fixture(scope="module")
def reference(stream: Stream, tmp_path_factory: pytest.TempPathFactory) -> Counter:
    """What the embedded daemon delivers from the stream: ``loanwatch ingest`` on SQLite, a real receiver."""
    tmp = tmp_path_factory.mktemp("embedded")
    receiver = HTTPReceiver()
    try:
        config = write_config(tmp / "config.toml", store="sqlite:///embedded.db", settings=None,
                              hook=f"lwhook://{receiver.host}:{receiver.port}")
        import_watchlists(config, stream, tmp)
        events = tmp / "events.jsonl"
        events.write_text("\n".join(stream.lines) + "\n", encoding="utf-8")
        summary = json.loads(lw(config, "ingest", "--json", str(events)).stdout)
        assert summary["rejected_total"] == len(stream.bad)
        got = received(hook_bodies(receiver))
    finally:
        receiver.stop()
    assert sum(got.values()) > 100 and {k[2] for k in got} == {"critical", "medium"}
    return got


class Setup:
    """One test's world: topics, a fresh PostgreSQL store with the watchlists, a receiver, a config."""

    def __init__(self, tmp: Path, pg_url: str, settings: KafkaSettings, receiver: HTTPReceiver,
                 stream: Stream) -> None:
        self.tmp, self.settings, self.receiver, self.stream = tmp, settings, receiver, stream
        self.config = write_config(tmp / "config.toml", store=pg_url, settings=settings,
                                   hook=f"lwhook://{receiver.host}:{receiver.port}")
        import_watchlists(self.config, stream, tmp)
        self.store = Store(pg_url)
        self.accepted = len({json.loads(ln)["event_id"] for ln in stream.good})
        self.workers: list[Worker] = []

    def worker(self, name: str, *extra: str) -> Worker:
        w = Worker(self.config, self.tmp / f"{name}.log", *extra).start()
        self.workers.append(w)
        return w

    def publish(self) -> None:
        assert publish_raw(self.settings, self.stream.lines) == len(self.stream.lines)

    def wait_committed(self, share: float, timeout: float = 90) -> int:
        want = int(share * self.accepted)
        return wait_until(lambda: (n := self.store.seen()) >= want and n, timeout, f"{share:.0%} of the events")

    def finish(self, reference: Counter, timeout: float = 150) -> list[dict]:
        """Wait until every event is committed, every delivery sent and every reference alert received."""
        wait_until(lambda: self.store.seen() >= self.accepted, timeout, "every event committed")
        # A delivery claimed by a killed worker waits for its lease (30 s and more) before it is sent again.
        wait_until(lambda: self.store.pending_deliveries() == 0, timeout, "every delivery sent")
        wait_until(lambda: not (reference - received(hook_bodies(self.receiver))), 30, "every alert received")
        time.sleep(1.0)  # a late repeat would arrive now
        assert self.store.scalar("SELECT count(*) FROM deliveries WHERE status <> 'sent'") == 0
        return hook_bodies(self.receiver)

    def check_store(self, reference: Counter) -> None:
        """One alert row per alert, one delivery row per alert change and channel: nothing was raised twice."""
        s = self.store
        assert s.scalar("SELECT count(*) FROM alerts") == len({k[0] for k in reference})
        assert s.scalar("SELECT count(*) FROM deliveries WHERE channel LIKE 'lwhook%'") == sum(reference.values())
        assert s.scalar("SELECT count(*) FROM deliveries WHERE channel LIKE 'lwkafka%'") == sum(reference.values())
        assert s.scalar("SELECT count(*) FROM enterprises WHERE pending_detection") == 0

    def check_alerts_topic(self, read_topic, reference: Counter) -> list:
        records = read_topic(self.settings.alerts_topic, sum(reference.values()), timeout=30)
        keys = Counter()
        for r in records:
            body = json.loads(r.value)
            assert body["version"] == "1" and r.key == body["bank_id"].encode()
            assert dict(r.headers)["loanwatch-alert-id"] == body["alert_id"].encode()
            keys.update(message_keys(body))
        # at least once: a crash may repeat a record, never lose one or invent one
        assert set(keys) == set(reference)
        return records

    def check_dlq(self, read_topic) -> None:
        records = read_topic(self.settings.dlq_topic, len(self.stream.bad), timeout=30)
        bodies = [json.loads(r.value) for r in records]
        assert {b["raw"] for b in bodies} == set(self.stream.bad)
        for r, b in zip(records, bodies):
            assert dict(r.headers)["loanwatch-reason"].decode() == b["reason"]
            assert b["location"].startswith(f"{self.settings.events_topic}:")

    def close(self) -> None:
        for w in self.workers:
            if w.proc is not None and w.proc.poll() is None:
                w.proc.kill()
                w.proc.wait(10)
        self.store.close()


@pytest.fixture
def setup(tmp_path, pg_url, kafka_settings, http_receiver, stream):
    s = Setup(tmp_path, pg_url, kafka_settings, http_receiver, stream)
    yield s
    s.close()


def wait_shared(workers: list[Worker], timeout: float = 60) -> None:
    """Until the workers' latest assignments are disjoint, cover every partition, and each has some."""
    def shared() -> bool:
        parts = [w.partitions() for w in workers]
        return all(parts) and sum(map(len, parts)) == len(ALL) and set().union(*parts) == ALL
    wait_until(shared, timeout, "the partitions shared among " + ", ".join(w.log_path.stem for w in workers))


def test_one_worker_delivers_what_the_embedded_daemon_delivers_and_a_replay_sends_nothing(
        setup: Setup, reference: Counter, read_topic):
    setup.publish()
    w = setup.worker("w1")
    bodies = setup.finish(reference)
    assert assert_same_alerts(bodies, reference) == 0
    setup.check_store(reference)
    setup.check_alerts_topic(read_topic, reference)
    setup.check_dlq(read_topic)
    assert setup.store.scalar("SELECT count(*) FROM rejected_events") == len(setup.stream.bad)

    url = w.metrics_url
    m = wait_until(lambda: (m := scrape(url)) and all(
        m.get(f'loanwatch_consumer_lag{{partition="{p}",topic="{setup.settings.events_topic}"}}') == 0
        for p in ALL) and m, 10, "zero lag on every partition")
    n_good = len(setup.stream.good)
    assert m['loanwatch_events_total{outcome="accepted"}'] == setup.accepted
    assert m['loanwatch_events_total{outcome="duplicate"}'] == n_good - setup.accepted
    assert m['loanwatch_events_total{outcome="rejected"}'] == len(setup.stream.bad)
    assert sum(v for k, v in m.items() if k.startswith("loanwatch_rejected_events_total")) == len(setup.stream.bad)
    assert m['loanwatch_rejected_events_total{reason="bad_check_character"}'] == 6
    assert m["loanwatch_dead_letters_total"] == len(setup.stream.bad)
    assert m['loanwatch_alerts_total{kind="new"}'] == sum(reference.values())
    assert m['loanwatch_deliveries_total{result="sent"}'] == 2 * sum(reference.values())  # webhook + topic
    assert m['loanwatch_delivery_failures_total{final="true"}'] == 0
    assert m["loanwatch_assigned_partitions"] == len(ALL)
    assert m["loanwatch_batch_seconds_count"] > 10

    # Replay: the very same stream again. Every event is a duplicate or a reject; no alert, no message.
    alerts_before = setup.store.scalar("SELECT count(*) FROM deliveries")
    setup.publish()
    wait_until(lambda: scrape(url)['loanwatch_events_total{outcome="duplicate"}'] == 2 * n_good - setup.accepted,
               90, "the replay processed")
    time.sleep(1.0)
    assert hook_bodies(setup.receiver) == bodies
    assert setup.store.scalar("SELECT count(*) FROM deliveries") == alerts_before
    assert w.stop() == 0
    assert "event worker stopped" in w.log


def test_kill_9_mid_stream_then_restart_loses_nothing_and_sends_nothing_twice(
        setup: Setup, reference: Counter, read_topic):
    setup.publish()
    w1 = setup.worker("w1")
    w1.wait_for("assigned to this worker")
    at_kill = setup.wait_committed(0.3)
    cut = len(setup.receiver.requests)
    w1.kill()
    committed = setup.store.seen()
    assert committed < setup.accepted, "the worker finished before it could be killed mid-stream"

    w2 = setup.worker("w2")
    bodies = setup.finish(reference)
    repeats = assert_same_alerts(bodies, reference, crash_cuts=[cut])
    setup.check_store(reference)
    setup.check_alerts_topic(read_topic, reference)
    setup.check_dlq(read_topic)
    # the restarted worker resumed from the last committed offsets: it saw again some of what the
    # killed one had committed (duplicates) and committed everything after
    m = scrape(w2.metrics_url)
    assert m['loanwatch_events_total{outcome="accepted"}'] == setup.accepted - committed
    assert m['loanwatch_events_total{outcome="duplicate"}'] > 0
    print(f"killed with {at_kill}/{setup.accepted} events committed; {repeats} message(s) re-sent")
    assert w2.stop() == 0


def test_two_workers_share_the_partitions_and_a_clean_stop_hands_them_over(
        setup: Setup, reference: Counter, read_topic):
    w1 = setup.worker("w1")
    w2 = setup.worker("w2", "--log-json")
    wait_shared([w1, w2])
    setup.publish()
    setup.wait_committed(0.3)
    assert w2.stop() == 0  # SIGTERM: finishes its batch, commits, leaves the group
    assert re.search(r"event worker stopped after \S+, [1-9]\d* batches, exit code 0", w2.log)
    wait_until(lambda: w1.partitions() == ALL, 30, "w1 taking over every partition")
    bodies = setup.finish(reference)
    assert assert_same_alerts(bodies, reference) == 0  # a clean hand-over repeats nothing
    setup.check_store(reference)
    setup.check_alerts_topic(read_topic, reference)
    lines = [json.loads(ln) for ln in w2.log.splitlines() if ln.strip()]  # --log-json: every line is JSON
    assert {"ts", "level", "logger", "message", "pid"} <= set(lines[0])
    assert any(x["message"].startswith("partitions") and x.get("partitions") for x in lines)
    assert w1.stop() == 0


def test_three_workers_share_the_partitions_and_survive_a_sigkill(setup: Setup, reference: Counter, read_topic):
    ws = [setup.worker(f"w{i}") for i in (1, 2, 3)]
    wait_shared(ws)
    setup.publish()
    setup.wait_committed(0.3)
    victim = max(ws, key=lambda w: len(w.partitions()))
    survivors = [w for w in ws if w is not victim]
    cut = len(setup.receiver.requests)
    victim.kill()
    assert setup.store.seen() < setup.accepted, "finished before the kill"
    # after the session timeout the group drops the dead member and the survivors take its partitions
    wait_shared(survivors, timeout=60)
    bodies = setup.finish(reference)
    assert_same_alerts(bodies, reference, crash_cuts=[cut])
    setup.check_store(reference)
    setup.check_alerts_topic(read_topic, reference)
    setup.check_dlq(read_topic)
    for w in survivors:
        assert w.stop() == 0


def test_a_worker_started_before_its_broker_waits_and_starts_when_it_appears(
        tmp_path, pg_url, kafka_settings, http_receiver, stream, reference):
    from streams.broker import BrokerError, TansuBroker, free_port
    from streams.kafka_tools import create_topics

    port = free_port()
    settings = replace(kafka_settings, bootstrap=f"127.0.0.1:{port}")
    setup = Setup(tmp_path, pg_url, settings, http_receiver, stream)
    broker = TansuBroker(port=port)
    try:
        w = setup.worker("w1", "--stop-timeout", "5")
        w.wait_for(rf"broker 127\.0\.0\.1:{port} unreachable, retrying in \d+(\.\d+)?s", timeout=30)
        time.sleep(1.5)  # it keeps waiting, and says so
        assert len(re.findall("unreachable, retrying", w.log)) >= 2 and w.proc.poll() is None
        try:
            broker.start()
        except BrokerError as exc:
            tansu_missing(exc)
        create_topics(settings)
        w.wait_for("assigned to this worker", timeout=60)
        setup.publish()
        bodies = setup.finish(reference)
        assert assert_same_alerts(bodies, reference) == 0
        # The broker goes away; a stop still ends within --stop-timeout (the final commit cannot be made,
        # which only means events processed again by the next owner).
        broker.stop()
        started = time.monotonic()
        assert w.stop(timeout=30) in (0, 1)
        assert time.monotonic() - started < 20
    finally:
        setup.close()
        broker.stop()
