"""The worker's parts that need no broker: the alerts-topic channel, the bank routes it is added to,
partition ownership in the store, metrics and log formatting."""

from __future__ import annotations

import json
import logging
import threading

import pytest

from alerts import kafka_channel
from alerts.channels import deliver, message_format, redact, validate_url
from alerts.message import Message
from monitor.app import Loanwatch
from monitor.config import parse_config
from monitor.metrics import JsonFormatter, RepeatFilter, WorkerMetrics
from monitor.worker import NotOwner, Ownership, with_alerts_topic
from streams.kafka_config import KafkaSettings
from tests.monitor.events import HEALTHY, headcount_lines

MSG = Message("title", "text", "markdown", "<p>html</p>")
DOC = {"version": "1", "alert_id": "lw-0123", "bank_id": "bank_a", "kind": "new", "severity": "high"}


@pytest.fixture
def published():
    got: list[tuple] = []
    kafka_channel.configure(lambda *args: got.append(args))
    yield got
    kafka_channel.configure(None)


def test_the_alerts_channel_publishes_the_webhook_document_keyed_by_bank(published):
    url = kafka_channel.channel_url("LW_test-1.alerts")
    assert validate_url(url) is None and redact(url) == url and message_format(url) == "json"
    result = deliver(url, MSG, DOC)
    assert result.ok and result.channel == url
    [(topic, key, value, headers, timeout)] = published
    assert topic == "LW_test-1.alerts" and key == b"bank_a" and json.loads(value) == DOC
    assert dict(headers) == {"loanwatch-alert-id": b"lw-0123", "loanwatch-kind": b"new",
                             "loanwatch-severity": b"high"}
    # digests and silence notices are not alerts: acknowledged, not published
    assert deliver(url, MSG, {"type": "digest", "bank_id": "bank_a"}).ok and len(published) == 1


def test_the_alerts_channel_fails_with_a_reason_outside_a_worker_or_when_kafka_refuses():
    kafka_channel.configure(None)
    result = deliver("lwkafka://loanwatch.alerts", MSG, DOC)
    assert not result.ok and "loanwatch worker" in result.error

    def refuse(*_):
        raise TimeoutError("no broker")

    kafka_channel.configure(refuse)
    try:
        result = deliver("lwkafka://loanwatch.alerts", MSG, DOC)
    finally:
        kafka_channel.configure(None)
    assert not result.ok and "no broker" in result.error  # the outbox retries it with backoff


def test_every_bank_gets_the_alerts_topic_whatever_its_routes():
    cfg = parse_config({"banks": [
        {"id": "plain", "name": "P", "channels": ["json://127.0.0.1:9/p"]},
        {"id": "routed", "name": "R", "receivers": {"ops": "json://127.0.0.1:9/ops", "mail": "json://127.0.0.1:9/m"},
         "routes": [{"min_severity": "critical", "receivers": ["ops"]},
                    {"min_severity": "medium", "digest": True}]},
    ]})
    out = with_alerts_topic(cfg, "lw.alerts")
    from detectors.severity import Severity

    plain, routed = out.banks
    assert plain.receivers[kafka_channel.RECEIVER] == "lwkafka://lw.alerts"
    assert set(plain.route(Severity.MEDIUM, "headcount_drop").now) == {"channel-1", kafka_channel.RECEIVER}
    assert routed.route(Severity.CRITICAL, "headcount_drop").now == (kafka_channel.RECEIVER, "ops")
    medium = routed.route(Severity.MEDIUM, "headcount_drop")
    assert medium.now == (kafka_channel.RECEIVER,) and medium.digest  # the bank's own routing is unchanged
    assert cfg.banks[0].receivers == {"channel-1": "json://127.0.0.1:9/p"}  # the original is untouched


def _app(url: str) -> Loanwatch:
    return Loanwatch(parse_config({"global": {"store": url}, "banks": [{"id": "bank_a", "name": "A"}]}))


def test_a_worker_replaced_in_the_store_cannot_commit_a_batch(store_url):
    settings = KafkaSettings(group_id="g", events_topic="t.events")
    app = _app(store_url)
    mine = Ownership(app.sessions, settings, "worker-1")
    theirs = Ownership(app.sessions, settings, "worker-2")
    mine.take(frozenset({0, 1}))
    items = [(f"t:0:{i}", line) for i, line in enumerate(headcount_lines(HEALTHY, "2024-01", "2024-03", seed=1))]
    assert app.pipeline.process_batch(items, detect="touched", guard=mine.guard([0, 1])).accepted == 3
    theirs.take(frozenset({1}))  # partition 1 went to another worker
    assert mine.owners() == {0: "worker-1", 1: "worker-2"}
    more = [(f"t:1:{i}", line) for i, line in enumerate(headcount_lines(HEALTHY, "2024-04", "2024-05", seed=1))]
    with pytest.raises(NotOwner, match="1: worker-2"):
        app.pipeline.process_batch(more, detect="touched", guard=mine.guard([0, 1]))
    assert app.pipeline.process_batch(more, detect="touched", guard=theirs.guard([1])).accepted == 2
    app.close()


def test_a_take_over_waits_for_the_batch_in_flight(pg_url):
    """The new owner's take-over blocks on the old owner's row lock until its batch commits."""
    settings = KafkaSettings(group_id="g", events_topic="t.events")
    app = _app(pg_url)
    old = Ownership(app.sessions, settings, "old")
    new = Ownership(app.sessions, settings, "new")
    old.take(frozenset({3}))
    in_guard, release = threading.Event(), threading.Event()
    order: list[str] = []

    def slow_guard(session):
        old.guard([3])(session)
        in_guard.set()
        release.wait(10)
        order.append("old batch committed")

    items = [(f"t:3:{i}", line) for i, line in enumerate(headcount_lines(HEALTHY, "2024-01", "2024-02", seed=1))]
    batch = threading.Thread(target=lambda: app.pipeline.process_batch(items, detect="touched", guard=slow_guard))
    batch.start()
    assert in_guard.wait(10)
    takeover = threading.Thread(target=lambda: (new.take(frozenset({3})), order.append("taken over")))
    takeover.start()
    takeover.join(0.5)
    assert takeover.is_alive()  # waiting for the old owner's transaction
    release.set()
    batch.join(10)
    takeover.join(10)
    assert order == ["old batch committed", "taken over"]
    assert new.owners() == {3: "new"}
    app.close()


def test_metrics_count_and_drop_lag_of_partitions_given_away():
    m = WorkerMetrics()
    m.batch(accepted=5, duplicates=1, rejected={"bad_json": 2}, alerts=["new", "new"], seconds=0.1,
            commit_delays=[0.2, 0.3])
    m.set_lag("t", {0: 3, 1: 0})
    m.set_lag("t", {1: 4})

    def value(name, **labels):
        return m.registry.get_sample_value(name, labels or None)

    assert value("loanwatch_events_total", outcome="accepted") == 5
    assert value("loanwatch_events_total", outcome="rejected") == 2
    assert value("loanwatch_rejected_events_total", reason="bad_json") == 2
    assert value("loanwatch_alerts_total", kind="new") == 2
    assert value("loanwatch_consumer_lag", topic="t", partition="1") == 4
    assert value("loanwatch_consumer_lag", topic="t", partition="0") is None


def test_json_log_lines_and_repeated_client_errors_are_thinned():
    rec = logging.makeLogRecord({"name": "loanwatch.worker", "levelno": logging.INFO, "levelname": "INFO",
                                 "msg": "partitions %s assigned", "args": ([1, 2],), "partitions": [1, 2]})
    line = json.loads(JsonFormatter().format(rec))
    assert line["message"] == "partitions [1, 2] assigned" and line["partitions"] == [1, 2]
    assert {"ts", "level", "logger", "pid"} <= set(line)
    f = RepeatFilter(("aiokafka",), every=30)

    def rec_at(t, name="aiokafka.fetcher"):
        return logging.makeLogRecord({"name": name, "levelno": 40, "msg": "Failed fetch", "created": t})

    assert f.filter(rec_at(0)) and not f.filter(rec_at(1)) and not f.filter(rec_at(2))
    again = rec_at(31)
    assert f.filter(again) and "2 more like it" in again.msg
    assert f.filter(rec_at(32, name="loanwatch.worker"))  # our own lines are never thinned
