"""Kafka settings: the ``[kafka]`` table of the configuration file.

Every Kafka-mode piece (the ``loanwatch topics/publish/dlq`` tools, the Faust
workers, the alert publisher) reads the same table, so the topic names and the
partition count are said once. The table is read with the rest of the file by
``monitor.config`` (so ``loanwatch config check`` checks it too); this module
says what a valid table is. Problems name the key, as ``monitor.config``'s do,
so an operator can go straight to the line to fix. ``streams`` may not import
``monitor``, hence a separate error class with the same shape.

Example:

>>> s = KafkaSettings.from_toml_table({"bootstrap": "k1:9092,k2:9092", "partitions": 24})
>>> s.bootstrap_servers, s.partitions, s.events_topic
(['k1:9092', 'k2:9092'], 24, 'loanwatch.events')
>>> KafkaSettings.from_toml_table({"partitions": 0})
Traceback (most recent call last):
...
streams.kafka_config.KafkaConfigError: kafka.partitions: must be >= 1, got 0
>>> parse_kafka_table({"partitions": 0, "replication": "3"})[1]
["kafka.replication: expected int, got str '3'", 'kafka.partitions: must be >= 1, got 0']
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from streams.exceptions import StreamError

__all__ = [
    "BOOTSTRAP_ENV",
    "DEFAULT_ALERTS_TOPIC",
    "DEFAULT_DLQ_TOPIC",
    "DEFAULT_EVENTS_TOPIC",
    "KafkaConfigError",
    "KafkaSettings",
    "parse_kafka_table",
]

#: Overrides ``kafka.bootstrap``: the same config file then serves a laptop, CI and production.
BOOTSTRAP_ENV = "LOANWATCH_KAFKA_BOOTSTRAP"

DEFAULT_EVENTS_TOPIC = "loanwatch.events"
DEFAULT_ALERTS_TOPIC = "loanwatch.alerts"
DEFAULT_DLQ_TOPIC = "loanwatch.dlq"

# Kafka's own rule for topic names (kafka.common.internals.Topic): a broker
# refuses anything else, and it would do so only at the first send.
_TOPIC = re.compile(r"^[A-Za-z0-9._-]{1,249}$")
_HOST_PORT = re.compile(r"^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):(\d{1,5})$")


_KINDS: dict[str, type] = {"partitions": int, "replication": int, "timeout_seconds": float}


class KafkaConfigError(StreamError, ValueError):
    """The ``[kafka]`` table is wrong; ``problems`` has every problem, each naming its key."""

    def __init__(self, problems: list[str] | str) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("; ".join(self.problems))


@dataclass(frozen=True)
class KafkaSettings:
    """Where the broker is and what the topics are called.

    ``partitions`` bounds how many workers can share the event stream (one
    partition is read by one worker of the group), so it is set for the
    largest deployment foreseen: adding partitions later moves enterprises to
    other partitions and breaks per-enterprise ordering across the change.
    ``replication`` is 1 so that a single dev broker works; production sets 3.
    ``timeout_seconds`` bounds every wait on the broker (bootstrap, a send, a
    flush), so a wrong address fails fast instead of hanging a command.
    """

    bootstrap: str = "127.0.0.1:9092"
    events_topic: str = DEFAULT_EVENTS_TOPIC
    alerts_topic: str = DEFAULT_ALERTS_TOPIC
    dlq_topic: str = DEFAULT_DLQ_TOPIC
    partitions: int = 12
    replication: int = 1
    group_id: str = "loanwatch"
    client_id: str = "loanwatch"
    timeout_seconds: float = 10.0

    def __post_init__(self) -> None:
        self.check()

    @property
    def bootstrap_servers(self) -> list[str]:
        return [part.strip() for part in self.bootstrap.split(",") if part.strip()]

    @property
    def topics(self) -> tuple[str, str, str]:
        return (self.events_topic, self.alerts_topic, self.dlq_topic)

    @classmethod
    def from_toml_table(cls, d: Mapping[str, Any]) -> KafkaSettings:
        """Validate a parsed ``[kafka]`` table; absent keys take the defaults above."""
        settings, problems = parse_kafka_table(d)
        if problems:
            raise KafkaConfigError(problems)
        return settings

    def check(self, where: str = "kafka") -> None:
        """Raise ``KafkaConfigError`` for values no broker would accept, however the settings were built."""
        problems = _problems(asdict(self), where)
        if problems:
            raise KafkaConfigError(problems)

    def with_env(self, environ: Mapping[str, str] | None = None) -> KafkaSettings:
        """Apply ``$LOANWATCH_KAFKA_BOOTSTRAP`` (checked like the file's value)."""
        env = os.environ if environ is None else environ
        override = (env.get(BOOTSTRAP_ENV) or "").strip()
        if not override:
            return self
        problems = _bootstrap_problems(override, f"${BOOTSTRAP_ENV}")
        if problems:
            raise KafkaConfigError(problems)
        return replace(self, bootstrap=override)


def parse_kafka_table(d: Any, where: str = "kafka") -> tuple[KafkaSettings, list[str]]:
    """The settings of a parsed ``[kafka]`` table and every problem in it.

    With problems, the settings returned are the defaults: the caller reports
    the problems and must not run on them.
    """
    if not isinstance(d, Mapping):
        return KafkaSettings(), [f"{where}: expected a table, got {type(d).__name__}"]
    allowed = [f.name for f in fields(KafkaSettings)]
    problems = [f"{where}: unknown key {key!r}; valid keys: {', '.join(sorted(allowed))}"
                for key in sorted(set(d) - set(allowed))]
    values = asdict(KafkaSettings())
    for key in allowed:
        if key in d:
            value, problem = _typed(d[key], key, _KINDS.get(key, str), where)
            if problem:
                problems.append(problem)
            else:
                values[key] = value
    problems += _problems(values, where)
    return (KafkaSettings() if problems else KafkaSettings(**values)), problems


def _problems(v: Mapping[str, Any], where: str) -> list[str]:
    """What no broker would accept in the field values ``v``."""
    out = _bootstrap_problems(v["bootstrap"], f"{where}.bootstrap")
    topics = (v["events_topic"], v["alerts_topic"], v["dlq_topic"])
    for key, name in zip(("events_topic", "alerts_topic", "dlq_topic"), topics):
        if not _TOPIC.match(name) or name in (".", ".."):
            out.append(f"{where}.{key}: {name!r} is not a valid topic name (1-249 of letters, digits, '.', '_', '-')")
    if len(set(topics)) != 3:
        out.append(f"{where}: events_topic, alerts_topic and dlq_topic must be three different topics, "
                   f"got {', '.join(topics)}")
    for key in ("partitions", "replication"):
        if v[key] < 1:
            out.append(f"{where}.{key}: must be >= 1, got {v[key]}")
    for key in ("group_id", "client_id"):
        if not v[key].strip():
            out.append(f"{where}.{key}: must not be empty")
    if not v["timeout_seconds"] > 0:
        out.append(f"{where}.timeout_seconds: must be > 0, got {v['timeout_seconds']}")
    return out


def _typed(value: Any, key: str, kind: type, where: str) -> tuple[Any, str | None]:
    # TOML has real booleans, and bool is an int subclass in Python: "partitions = true" must not pass as 1.
    if isinstance(value, bool) or not isinstance(value, (int, float) if kind is float else kind):
        return None, f"{where}.{key}: expected {kind.__name__}, got {type(value).__name__} {value!r}"
    return (float(value) if kind is float else value), None


def _bootstrap_problems(value: str, where: str) -> list[str]:
    servers = [part.strip() for part in value.split(",")]
    if not any(servers):
        return [f"{where}: must name at least one host:port"]
    out = []
    for server in servers:
        m = _HOST_PORT.match(server)
        if not m or not 0 < int(m.group(1)) < 65536:
            out.append(f"{where}: {server!r} is not host:port (e.g. 127.0.0.1:9092)")
    return out
