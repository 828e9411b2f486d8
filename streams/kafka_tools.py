"""Operator tools for Kafka mode (kafka-python): create topics, publish events, read and replay the DLQ.

These are the blocking, one-shot counterparts of the workers (streams.kafka_consumer): a
command runs, says what it did, and exits. Three rules shape them:

- Nothing bad goes out. ``publish_lines`` runs every line through
  ``streams.contract.validate`` and stops at the first line that fails, before
  the batch holding it is sent, naming the file and line; or, with
  ``skip_bad``, sends that line to the dead-letter topic instead. Lines that
  pass are sent as they were written (the wire text is the record), keyed by
  their ``enterprise_id`` so one enterprise's events stay in one partition,
  in order.
- Nothing hangs. Every wait on the broker is bounded by
  ``KafkaSettings.timeout_seconds``; an unreachable broker is a
  ``KafkaUnavailable`` naming the address, not a stuck process.
- The producer settings work on every Kafka-compatible broker, including the
  Tansu test broker: no idempotent producer, no transactions. Without
  idempotence a retried request can overtake the next one, so only one
  request is in flight per connection: a correction must never land before
  the value it corrects.

The dead-letter record (``dlq_record``) is one JSON object (``raw``,
``reason``, ``detail``, ``field``, ``location``, ``event_id``,
``enterprise_id``, ``rejected_at``) with the reason and detail repeated in the
headers ``loanwatch-reason`` and ``loanwatch-detail`` so that tools can filter
without parsing bodies. Replaying is safe to repeat: the pipeline drops an
``event_id`` it has already seen.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import KafkaError, KafkaTimeoutError, TopicAlreadyExistsError

from streams.contract import validate
from streams.exceptions import StreamError
from streams.kafka_config import DEFAULT_DLQ_TOPIC, KafkaSettings
from streams.records import Rejection

__all__ = [
    "BadLine",
    "DLQ_DETAIL_HEADER",
    "DLQ_REASON_HEADER",
    "KafkaToolError",
    "KafkaUnavailable",
    "PublishStats",
    "ReplayStats",
    "TopicMissing",
    "TopicStatus",
    "check_lines",
    "create_topics",
    "dlq_list",
    "dlq_publish",
    "dlq_record",
    "dlq_replay",
    "iter_dlq",
    "make_producer",
    "publish_lines",
]

DLQ_REASON_HEADER = "loanwatch-reason"
DLQ_DETAIL_HEADER = "loanwatch-detail"
#: A rejected line can be any size (``too_large`` is a reason); a Kafka record cannot (1 MiB by default).
DLQ_MAX_RAW_CHARS = 256 * 1024
_MAX_HEADER_CHARS = 1000

Progress = Callable[[int], Any]


class KafkaToolError(StreamError):
    """Base for the errors of these tools; ``str()`` is the message for the operator."""


class KafkaUnavailable(KafkaToolError):
    """The broker did not answer within the timeout, or failed a request."""


class TopicMissing(KafkaToolError):
    """A topic the command needs does not exist (topics are never auto-created here)."""


class BadLine(KafkaToolError, ValueError):
    """A line failed the contract; nothing of its batch (nor after it) was published."""

    def __init__(self, rejection: Rejection, published: int) -> None:
        earlier = f"; {published} earlier event(s) were already published" if published else "; nothing was published"
        super().__init__(f"{rejection}{earlier}")
        self.rejection = rejection
        self.published = published


@dataclass
class PublishStats:
    """What a publish did: lines read, events sent, bad lines sent to the DLQ, records per partition."""

    read: int = 0
    published: int = 0
    dead_lettered: int = 0
    partitions: Counter[int] = field(default_factory=Counter)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["partitions"] = {str(p): n for p, n in sorted(self.partitions.items())}
        d["seconds"] = round(self.seconds, 3)
        return d


@dataclass
class ReplayStats:
    """What a replay did; ``still_bad`` were left in the DLQ because they still fail the contract."""

    read: int = 0
    replayed: int = 0
    still_bad: int = 0
    filtered_out: int = 0
    still_bad_reasons: Counter[str] = field(default_factory=Counter)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["still_bad_reasons"] = dict(sorted(self.still_bad_reasons.items()))
        return d


@dataclass(frozen=True)
class TopicStatus:
    name: str
    created: bool
    partitions: int | None
    problem: str | None = None  # e.g. an existing topic with another partition count


# -- clients ------------------------------------------------------------------------------
def _common(settings: KafkaSettings, role: str) -> dict[str, Any]:
    ms = int(settings.timeout_seconds * 1000)
    return {
        "bootstrap_servers": settings.bootstrap_servers,
        "client_id": f"{settings.client_id}-{role}",
        "request_timeout_ms": ms,
        "bootstrap_timeout_ms": ms,
        # Give up on a dead broker at the same pace as the timeout, not after 30 s backoffs.
        "reconnect_backoff_max_ms": min(ms, 1000),
    }


def _unavailable(settings: KafkaSettings, exc: BaseException) -> KafkaUnavailable:
    return KafkaUnavailable(
        f"cannot reach Kafka at {settings.bootstrap} within {settings.timeout_seconds:g} s "
        f"({type(exc).__name__}: {exc}); check kafka.bootstrap or $LOANWATCH_KAFKA_BOOTSTRAP"
    )


@contextlib.contextmanager
def _client(settings: KafkaSettings, factory: Callable[[], Any]) -> Iterator[Any]:
    try:
        client = factory()
    except KafkaError as exc:
        raise _unavailable(settings, exc) from exc
    try:
        yield client
    finally:
        with contextlib.suppress(Exception):
            client.close()


def make_producer(settings: KafkaSettings, **overrides: Any) -> KafkaProducer:
    """A producer that works on any Kafka-compatible broker and keeps per-key order.

    Raises ``KafkaUnavailable`` if the broker does not answer within the timeout.
    """
    ms = int(settings.timeout_seconds * 1000)
    config: dict[str, Any] = _common(settings, "producer") | {
        "acks": "all",
        "enable_idempotence": False,  # Tansu refuses InitProducerId; kafka-python 3 defaults it on
        "max_in_flight_requests_per_connection": 1,
        "linger_ms": 20,
        "batch_size": 256 * 1024,
        "max_block_ms": ms,
        "delivery_timeout_ms": 3 * ms,
    }
    config.update(overrides)
    try:
        return KafkaProducer(**config)
    except KafkaError as exc:
        raise _unavailable(settings, exc) from exc


def _admin(settings: KafkaSettings) -> contextlib.AbstractContextManager[KafkaAdminClient]:
    return _client(settings, lambda: KafkaAdminClient(**_common(settings, "admin")))


def _existing_topics(settings: KafkaSettings, admin: KafkaAdminClient) -> set[str]:
    # list_topics asks for the metadata of all topics: unlike a producer's metadata
    # request for one name, it never auto-creates a topic (Tansu does that).
    try:
        return set(admin.list_topics())
    except KafkaError as exc:
        raise _unavailable(settings, exc) from exc


def require_topics(settings: KafkaSettings, topics: Iterable[str]) -> None:
    """Raise ``TopicMissing`` unless every topic exists; run before a producer looks a topic up."""
    with _admin(settings) as admin:
        missing = sorted(set(topics) - _existing_topics(settings, admin))
    if missing:
        raise TopicMissing(
            f"topic(s) {', '.join(missing)} do not exist on {settings.bootstrap}; "
            "run `loanwatch topics create` first"
        )


# -- topics -------------------------------------------------------------------------------
def create_topics(settings: KafkaSettings, topics: Iterable[str] | None = None) -> list[TopicStatus]:
    """Create the events, alerts and DLQ topics that are missing; existing ones are left as they are.

    Idempotent, so deploy scripts can run it every time. An existing topic with
    another partition count than configured is reported (``problem``), not
    changed: adding partitions re-homes enterprises and breaks their order.
    """
    names = list(dict.fromkeys(topics or settings.topics))
    with _admin(settings) as admin:
        existing = _existing_topics(settings, admin)
        to_create = [n for n in names if n not in existing]
        created: set[str] = set()
        if to_create:
            new = [NewTopic(n, settings.partitions, settings.replication) for n in to_create]
            try:
                admin.create_topics(new, timeout_ms=int(settings.timeout_seconds * 1000))
                created = set(to_create)
            except TopicAlreadyExistsError:
                # Someone else created one of them between our look and our request; create one by one.
                for topic in new:
                    try:
                        admin.create_topics([topic], timeout_ms=int(settings.timeout_seconds * 1000))
                        created.add(topic.name)
                    except TopicAlreadyExistsError:
                        pass
            except KafkaError as exc:
                raise KafkaUnavailable(f"creating topics {', '.join(to_create)} on {settings.bootstrap}: {exc}") \
                    from exc
        counts = _partition_counts(settings, admin, names)
    out = []
    for n in names:
        count = counts.get(n)
        problem = None
        if n not in created and count is not None and count != settings.partitions:
            problem = f"has {count} partitions, the config says {settings.partitions} (left unchanged)"
        out.append(TopicStatus(n, n in created, count, problem))
    return out


def _partition_counts(settings: KafkaSettings, admin: KafkaAdminClient, names: list[str]) -> dict[str, int]:
    try:
        described = admin.describe_topics(names)
    except KafkaError as exc:
        raise _unavailable(settings, exc) from exc
    return {t["name"]: len(t["partitions"]) for t in described if not t.get("error_code")}


# -- publishing ---------------------------------------------------------------------------
def check_lines(items: Iterable[tuple[str, str]], *, max_errors: int = 20) -> tuple[int, int, list[Rejection]]:
    """Validate every line without sending anything: (lines read, bad lines, the first ``max_errors``).

    The CLI runs this over the whole input first, so a bad line anywhere
    means nothing at all is published and the operator sees every bad line
    at once, not one per attempt.
    """
    n, n_bad, bad = 0, 0, []
    for location, line in items:
        n += 1
        result = validate(line, location=location)
        if isinstance(result, Rejection):
            n_bad += 1
            if len(bad) < max_errors:
                bad.append(result)
    return n, n_bad, bad


def _record_partition(stats: PublishStats, futures: list[Any], settings: KafkaSettings) -> None:
    for fut in futures:
        try:
            md = fut.get(timeout=0)  # flush() has returned: every future is resolved
        except KafkaError as exc:
            raise KafkaUnavailable(
                f"Kafka at {settings.bootstrap} did not take a record ({type(exc).__name__}: {exc}); "
                f"{stats.published} were acknowledged before"
            ) from exc
        stats.partitions[md.partition] += 1
        stats.published += 1


def _flush(producer: KafkaProducer, settings: KafkaSettings, done: int) -> None:
    try:
        producer.flush(timeout=3 * settings.timeout_seconds)
    except KafkaTimeoutError as exc:
        raise KafkaUnavailable(
            f"Kafka at {settings.bootstrap} stopped acknowledging records "
            f"({done} were acknowledged before): {exc}"
        ) from exc


def publish_lines(
    settings: KafkaSettings,
    items: Iterable[tuple[str, str]],
    *,
    batch: int = 1000,
    progress: Progress | None = None,
    skip_bad: bool = False,
    topic: str | None = None,
    producer: KafkaProducer | None = None,
) -> PublishStats:
    """Send ``(location, line)`` items to the events topic, keyed by enterprise_id.

    Lines are validated, then sent ``batch`` at a time; each batch is flushed
    and acknowledged before the next is read, so ``progress(n)`` (called after
    each batch with the lines it covered) reports what the broker holds, and a
    failure leaves a known prefix published. A bad line raises ``BadLine``
    before its batch goes out, unless ``skip_bad`` sends it to the DLQ topic.
    """
    if batch < 1:
        raise ValueError(f"batch must be >= 1, got {batch}")
    topic = topic or settings.events_topic
    started = time.monotonic()
    stats = PublishStats()
    require_topics(settings, [topic, settings.dlq_topic] if skip_bad else [topic])
    own = producer is None
    p = producer if producer is not None else make_producer(settings)
    dead: list[Any] = []  # DLQ send futures, checked with each batch
    try:
        pending: list[tuple[bytes, bytes]] = []
        covered = 0  # lines read since the last progress report
        for location, line in items:
            stats.read += 1
            covered += 1
            result = validate(line, location=location)
            if isinstance(result, Rejection):
                if not skip_bad:
                    raise BadLine(result, stats.published)
                dead.append(dlq_publish(p, result, topic=settings.dlq_topic))
                stats.dead_lettered += 1
            else:
                pending.append((result.enterprise_id.encode(), line.encode("utf-8", "surrogatepass")))
            if len(pending) >= batch:
                _send_batch(p, topic, pending, stats, settings, dead)
                pending, dead = [], []
                if progress:
                    progress(covered)
                covered = 0
        _send_batch(p, topic, pending, stats, settings, dead)
        if progress and covered:
            progress(covered)
    finally:
        if own:
            with contextlib.suppress(Exception):
                p.close(timeout=settings.timeout_seconds)
    stats.seconds = time.monotonic() - started
    return stats


def _send_batch(
    producer: KafkaProducer, topic: str, pending: list[tuple[bytes, bytes]], stats: PublishStats,
    settings: KafkaSettings, dead: list[Any],
) -> None:
    futures = []
    try:
        for key, value in pending:
            futures.append(producer.send(topic, value=value, key=key))
    except KafkaTimeoutError as exc:  # the send buffer stayed full for max_block_ms: the broker is gone
        raise KafkaUnavailable(
            f"Kafka at {settings.bootstrap} stopped taking records after {stats.published} were published: {exc}"
        ) from exc
    _flush(producer, settings, stats.published)
    for fut in dead:
        try:
            fut.get(timeout=0)
        except KafkaError as exc:
            raise KafkaUnavailable(f"Kafka at {settings.bootstrap} refused a dead-letter record: {exc}") from exc
    _record_partition(stats, futures, settings)


# -- dead letters -------------------------------------------------------------------------
def dlq_record(rejection: Rejection, *, now: datetime | None = None) -> tuple[bytes | None, bytes, list[tuple[str, bytes]]]:
    """The (key, value, headers) of a dead-letter record, for any client (kafka-python, aiokafka).

    Keyed by the enterprise when it could be read, so an enterprise's rejects
    sit together like its events; unkeyed otherwise.
    """
    raw = rejection.raw
    body: dict[str, Any] = {
        "raw": raw[:DLQ_MAX_RAW_CHARS],
        "reason": rejection.reason,
        "detail": rejection.detail,
        "field": rejection.field,
        "location": rejection.location,
        "event_id": rejection.event_id,
        "enterprise_id": rejection.enterprise_id,
        "rejected_at": (now or datetime.now(UTC)).isoformat(timespec="seconds"),
    }
    if len(raw) > DLQ_MAX_RAW_CHARS:
        body["raw_truncated_from"] = len(raw)
    headers = [
        (DLQ_REASON_HEADER, rejection.reason.encode()),
        (DLQ_DETAIL_HEADER, rejection.detail[:_MAX_HEADER_CHARS].encode("utf-8", "replace")),
    ]
    key = rejection.enterprise_id.encode() if rejection.enterprise_id else None
    return key, json.dumps(body, ensure_ascii=False).encode("utf-8", "surrogatepass"), headers


def dlq_publish(producer: KafkaProducer, rejection: Rejection, *, topic: str = DEFAULT_DLQ_TOPIC) -> Any:
    """Send a rejected event to the dead-letter topic; returns the send future (the caller flushes)."""
    key, value, headers = dlq_record(rejection)
    return producer.send(topic, value=value, key=key, headers=headers)


def _decode_dlq(msg: Any) -> dict[str, Any]:
    headers = {k: v.decode("utf-8", "replace") for k, v in (msg.headers or [])}
    try:
        body = json.loads(msg.value)
        if not isinstance(body, dict):
            raise ValueError
    except (ValueError, TypeError):
        # Not ours (someone produced to the DLQ by hand): show it rather than hide it.
        body = {"raw": (msg.value or b"").decode("utf-8", "replace"), "reason": headers.get(DLQ_REASON_HEADER),
                "detail": headers.get(DLQ_DETAIL_HEADER, "not a loanwatch dead-letter record")}
    body.setdefault("reason", headers.get(DLQ_REASON_HEADER))
    body.setdefault("raw", "")
    return body | {
        "partition": msg.partition,
        "offset": msg.offset,
        "timestamp": datetime.fromtimestamp(msg.timestamp / 1000, UTC).isoformat(timespec="milliseconds"),
    }


def iter_dlq(settings: KafkaSettings, *, reason: str | None = None) -> Iterator[dict[str, Any]]:
    """Every record of the DLQ topic from the beginning, decoded, until caught up with its end.

    A fresh consumer with no group: reading never moves a committed offset,
    so listing twice shows the same records and does not disturb workers.
    "Caught up" uses the fetch high watermark, not ListOffsets, because Tansu
    answers ListOffsets(latest) with the base offset of the last record batch
    plus one, short of the end whenever that batch holds several records.
    """
    require_topics(settings, [settings.dlq_topic])
    ms = int(settings.timeout_seconds * 1000)
    factory = lambda: KafkaConsumer(  # noqa: E731
        **_common(settings, "dlq-reader"), group_id=None, enable_auto_commit=False,
        auto_offset_reset="earliest", max_poll_records=500,
        # Reading to the end means asking again as soon as a fetch comes back empty; and
        # Tansu re-creates a topic that is deleted while a long-poll fetch on it is parked.
        fetch_max_wait_ms=100,
    )
    with _client(settings, factory) as consumer:
        try:
            parts = consumer.partitions_for_topic(settings.dlq_topic) or set()
            tps = [TopicPartition(settings.dlq_topic, p) for p in sorted(parts)]
            consumer.assign(tps)
            consumer.seek_to_beginning(*tps)
            ends = consumer.end_offsets(tps)
        except KafkaError as exc:
            raise _unavailable(settings, exc) from exc
        idle_since = time.monotonic()
        while tps:
            try:
                batch = consumer.poll(timeout_ms=300)
            except KafkaError as exc:
                raise _unavailable(settings, exc) from exc
            for records in batch.values():
                for msg in records:
                    rec = _decode_dlq(msg)
                    if reason is None or rec.get("reason") == reason:
                        yield rec
            if batch:
                idle_since = time.monotonic()
                continue
            caught_up = all(
                consumer.position(tp) >= max(ends.get(tp) or 0, consumer.highwater(tp) or 0) for tp in tps
            )
            if caught_up:
                return
            if time.monotonic() - idle_since > ms / 1000:
                raise KafkaUnavailable(
                    f"reading {settings.dlq_topic} on {settings.bootstrap}: no progress for "
                    f"{settings.timeout_seconds:g} s before reaching its end"
                )


def dlq_list(settings: KafkaSettings, limit: int = 100, *, reason: str | None = None) -> list[dict[str, Any]]:
    """The first ``limit`` dead-letter records (optionally of one reason), oldest first."""
    out: list[dict[str, Any]] = []
    if limit <= 0:
        return out
    it = iter_dlq(settings, reason=reason)
    try:
        for rec in it:
            out.append(rec)
            if len(out) >= limit:
                break
    finally:
        it.close()  # closes the consumer now, not whenever the generator is collected
    out.sort(key=lambda r: (r["timestamp"], r["partition"], r["offset"]))
    return out


def _fixed_line(line: str) -> str:
    """A replay file may hold plain events or DLQ records (``dlq list --json`` rows) with a fixed ``raw``."""
    stripped = line.lstrip()
    if stripped.startswith("{") and '"raw"' in stripped and '"reason"' in stripped:
        try:
            obj = json.loads(stripped)
        except ValueError:
            return line
        if isinstance(obj, dict) and isinstance(obj.get("raw"), str) and "reason" in obj and "data" not in obj:
            return obj["raw"]
    return line


def dlq_replay(
    settings: KafkaSettings,
    *,
    reason: str | None = None,
    from_file: Iterable[tuple[str, str]] | None = None,
    force: bool = False,
    progress: Progress | None = None,
    batch: int = 1000,
) -> ReplayStats:
    """Send dead-lettered events back to the events topic once they pass the contract.

    From the DLQ topic (all of it, or one ``reason``): each raw body is checked
    again; those that now pass (a contract fix, a clock that caught up with a
    "future" period) are re-published keyed by enterprise_id, those that still
    fail are counted and left where they are, since re-sending them would only
    dead-letter them again. ``force`` sends them anyway.

    From a file of fixed lines (``from_file``, ``(location, line)`` items):
    this is ``publish_lines`` over the lines, where a line may also be a DLQ
    record whose ``raw`` was edited (a ``dlq list --json`` line); a line still
    bad stops the replay with ``BadLine``.
    """
    if from_file is not None:
        items = ((loc, _fixed_line(line)) for loc, line in from_file)
        published = publish_lines(settings, items, batch=batch, progress=progress)
        return ReplayStats(read=published.read, replayed=published.published)
    stats = ReplayStats()
    require_topics(settings, [settings.events_topic])
    producer = make_producer(settings)
    try:
        futures: list[Any] = []
        records = iter_dlq(settings)
        for rec in records:
            stats.read += 1
            if reason is not None and rec.get("reason") != reason:
                stats.filtered_out += 1
                continue
            raw = rec.get("raw") or ""
            if rec.get("raw_truncated_from"):  # only a prefix was kept: re-sending it could never be right
                stats.still_bad += 1
                stats.still_bad_reasons[rec.get("reason") or "too_large"] += 1
                continue
            result = validate(raw, location=f"{settings.dlq_topic}:{rec['partition']}:{rec['offset']}")
            if isinstance(result, Rejection):
                stats.still_bad += 1
                stats.still_bad_reasons[result.reason] += 1
                if not force:
                    continue
                key = result.enterprise_id.encode() if result.enterprise_id else None
            else:
                key = result.enterprise_id.encode()
            try:
                futures.append(producer.send(settings.events_topic, value=raw.encode("utf-8", "surrogatepass"),
                                             key=key))
            except KafkaTimeoutError as exc:
                raise _unavailable(settings, exc) from exc
            stats.replayed += 1
            if progress:
                progress(1)
        _flush(producer, settings, 0)
        for fut in futures:
            try:
                fut.get(timeout=0)
            except KafkaError as exc:
                raise KafkaUnavailable(f"replaying to {settings.events_topic}: {exc}") from exc
    finally:
        with contextlib.suppress(Exception):
            producer.close(timeout=settings.timeout_seconds)
    return stats
