"""Kafka settings: the ``[kafka]`` table of the configuration file.

Every Kafka-mode piece (the ``loanwatch topics/publish/dlq`` tools, the
workers, the alert publisher) reads the same table, so the topic names and the
partition count are said once. Errors name the key, as ``monitor.config``
does, so an operator can go straight to the line to fix. ``streams`` may not
import ``monitor``, hence a separate error class with the same shape.

Example:

>>> s = KafkaSettings.from_toml_table({"bootstrap": "k1:9092,k2:9092", "partitions": 24})
>>> s.bootstrap_servers, s.partitions, s.events_topic
(['k1:9092', 'k2:9092'], 24, 'loanwatch.events')
>>> KafkaSettings.from_toml_table({"partitions": 0})
Traceback (most recent call last):
...
streams.kafka_config.KafkaConfigError: kafka.partitions: must be >= 1, got 0
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from streams.exceptions import StreamError

__all__ = [
    "BOOTSTRAP_ENV",
    "DEFAULT_ALERTS_TOPIC",
    "DEFAULT_DLQ_TOPIC",
    "DEFAULT_EVENTS_TOPIC",
    "KafkaConfigError",
    "KafkaSettings",
    "load_kafka_settings",
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
    """The ``[kafka]`` table is wrong; the message names the key and the problem."""


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
        where = "kafka"
        if not isinstance(d, Mapping):
            raise KafkaConfigError(f"{where}: expected a table, got {type(d).__name__}")
        allowed = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - allowed)
        if unknown:
            raise KafkaConfigError(
                f"{where}: unknown key {unknown[0]!r}; valid keys: {', '.join(sorted(allowed))}"
            )
        values = {key: _typed(value, key, _KINDS.get(key, str), where) for key, value in d.items()}
        return cls(**values)  # __post_init__ checks the values

    def check(self, where: str = "kafka") -> None:
        """Raise ``KafkaConfigError`` for values no broker would accept, however the settings were built."""
        _check_bootstrap(self.bootstrap, f"{where}.bootstrap")
        for key in ("events_topic", "alerts_topic", "dlq_topic"):
            name = getattr(self, key)
            if not _TOPIC.match(name) or name in (".", ".."):
                raise KafkaConfigError(
                    f"{where}.{key}: {name!r} is not a valid topic name "
                    "(1-249 of letters, digits, '.', '_', '-')"
                )
        if len(set(self.topics)) != 3:
            raise KafkaConfigError(
                f"{where}: events_topic, alerts_topic and dlq_topic must be three different topics, "
                f"got {', '.join(self.topics)}"
            )
        if self.partitions < 1:
            raise KafkaConfigError(f"{where}.partitions: must be >= 1, got {self.partitions}")
        if self.replication < 1:
            raise KafkaConfigError(f"{where}.replication: must be >= 1, got {self.replication}")
        for key in ("group_id", "client_id"):
            if not getattr(self, key).strip():
                raise KafkaConfigError(f"{where}.{key}: must not be empty")
        if not self.timeout_seconds > 0:
            raise KafkaConfigError(f"{where}.timeout_seconds: must be > 0, got {self.timeout_seconds}")

    def with_env(self, environ: Mapping[str, str] | None = None) -> KafkaSettings:
        """Apply ``$LOANWATCH_KAFKA_BOOTSTRAP`` (checked like the file's value)."""
        env = os.environ if environ is None else environ
        override = (env.get(BOOTSTRAP_ENV) or "").strip()
        if not override:
            return self
        _check_bootstrap(override, f"${BOOTSTRAP_ENV}")
        return replace(self, bootstrap=override)


def load_kafka_settings(path: str | os.PathLike[str], *, environ: Mapping[str, str] | None = None) -> KafkaSettings:
    """Read the ``[kafka]`` table of a config file (defaults if it has none), then the environment."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise KafkaConfigError(f"{p}: config file not found (set --config or LOANWATCH_CONFIG)") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise KafkaConfigError(f"{p}: not valid TOML: {exc}") from None
    try:
        return KafkaSettings.from_toml_table(raw.get("kafka", {})).with_env(environ)
    except KafkaConfigError as exc:
        raise KafkaConfigError(f"{p}: {exc}") from None


def _typed(value: Any, key: str, kind: type, where: str) -> Any:
    # TOML has real booleans, and bool is an int subclass in Python: "partitions = true" must not pass as 1.
    if isinstance(value, bool) or not isinstance(value, (int, float) if kind is float else kind):
        raise KafkaConfigError(f"{where}.{key}: expected {kind.__name__}, got {type(value).__name__} {value!r}")
    return float(value) if kind is float else value


def _check_bootstrap(value: str, where: str) -> None:
    servers = [part.strip() for part in value.split(",")]
    if not any(servers):
        raise KafkaConfigError(f"{where}: must name at least one host:port")
    for server in servers:
        m = _HOST_PORT.match(server)
        if not m or not 0 < int(m.group(1)) < 65536:
            raise KafkaConfigError(f"{where}: {server!r} is not host:port (e.g. 127.0.0.1:9092)")
