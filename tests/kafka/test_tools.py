"""Kafka tools against a real broker: topics, keyed publishing, refusal of bad lines, bounded failure, the DLQ.

Every wait is bounded: consumers poll with deadlines, and the unreachable
broker tests use a short ``timeout_seconds`` and assert the bound.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from monitor.cli import cli
from monitor.cli_kafka import EXIT_BAD_INPUT, EXIT_KAFKA, register
from monitor.config import ConfigError, load_config
from streams.broker import BrokerError, TansuBroker, find_tansu_binary, free_port, kafka_ping
from streams.contract import validate
from streams.kafka_config import KafkaConfigError, KafkaSettings
from streams.kafka_tools import (
    DLQ_DETAIL_HEADER,
    DLQ_REASON_HEADER,
    BadLine,
    KafkaUnavailable,
    TopicMissing,
    create_topics,
    dlq_list,
    dlq_publish,
    dlq_replay,
    make_producer,
    publish_lines,
)
from streams.records import Rejection
from streams.sources import iter_lines
from streams.uscc import ALPHABET, complete_uscc
from tests.kafka.conftest import PARTITIONS, tansu_missing
from tests.monitor.events import headcount_lines, listing_line

pytestmark = pytest.mark.kafka

ENTERPRISES = [complete_uscc(f"91440300MA5K{i:05d}") for i in range(30)]


def events(n_enterprises: int = 30, months: int = 6) -> list[str]:
    """Interleaved by month, as a platform export is: one enterprise's lines are far apart in the file."""
    per = [headcount_lines(eid, "2023-01", f"2023-{months:02d}", seed=i, prefix="kt")
           for i, eid in enumerate(ENTERPRISES[:n_enterprises])]
    return [lines[m] for m in range(months) for lines in per]


def wrong_check(eid: str) -> str:
    return eid[:17] + next(c for c in ALPHABET if c != eid[17])


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def unreachable(timeout: float = 1.5) -> KafkaSettings:
    return KafkaSettings(bootstrap=f"127.0.0.1:{free_port()}", timeout_seconds=timeout)


# -- settings ----------------------------------------------------------------------------------
@pytest.mark.parametrize("table,message", [
    ({"partitions": "8"}, "kafka.partitions: expected int, got str '8'"),
    ({"partitions": True}, "kafka.partitions: expected int, got bool"),
    ({"replication": 0}, "kafka.replication: must be >= 1"),
    ({"bootstrap": "localhost"}, "kafka.bootstrap: 'localhost' is not host:port"),
    ({"bootstrap": ""}, "kafka.bootstrap: must name at least one host:port"),
    ({"events_topic": "loan watch"}, "kafka.events_topic: 'loan watch' is not a valid topic name"),
    ({"dlq_topic": "loanwatch.events"}, "must be three different topics"),
    ({"timeout_seconds": 0}, "kafka.timeout_seconds: must be > 0"),
    ({"partition": 8}, "kafka: unknown key 'partition'; valid keys: alerts_topic, bootstrap"),
])
def test_bad_kafka_table_names_the_key(table, message):
    with pytest.raises(KafkaConfigError) as info:
        KafkaSettings.from_toml_table(table)
    assert message in str(info.value)


def test_settings_from_file_and_environment(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[global]\nstore = "sqlite:///x.db"\n[kafka]\nbootstrap = "k1:9092"\npartitions = 6\n'
                    'timeout_seconds = 5\n', encoding="utf-8")
    s = load_config(path, environ={}).kafka
    assert (s.bootstrap, s.partitions, s.timeout_seconds, s.dlq_topic) == ("k1:9092", 6, 5.0, "loanwatch.dlq")
    assert load_config(path, environ={"LOANWATCH_KAFKA_BOOTSTRAP": "k2:9093,k3:9093"}).kafka.bootstrap_servers \
        == ["k2:9093", "k3:9093"]
    with pytest.raises(ConfigError, match=r"\$LOANWATCH_KAFKA_BOOTSTRAP: 'nope' is not host:port"):
        load_config(path, environ={"LOANWATCH_KAFKA_BOOTSTRAP": "nope"})
    (tmp_path / "none.toml").write_text("", encoding="utf-8")
    assert load_config(tmp_path / "none.toml", environ={}).kafka == KafkaSettings()


# -- the broker launcher -------------------------------------------------------------------------
def test_tansu_broker_starts_answers_and_stops():
    try:
        find_tansu_binary()
    except BrokerError as exc:
        tansu_missing(exc)
    broker = TansuBroker()
    bootstrap = broker.start()
    host, port = bootstrap.rsplit(":", 1)
    proc = broker.process
    assert host == "127.0.0.1" and kafka_ping(host, int(port))
    try:
        # A port already taken is refused, not mistaken for our broker.
        with pytest.raises(BrokerError, match=f"port {port} on 127.0.0.1 is already in use"):
            TansuBroker(port=int(port), startup_timeout=3).start()
    finally:
        broker.stop()
    assert proc is not None and proc.poll() is not None
    assert not kafka_ping(host, int(port), timeout=0.3)
    broker.stop()  # twice is harmless


# -- topics --------------------------------------------------------------------------------------
def test_create_topics_is_idempotent_and_reports_what_existed(kafka_settings):
    fresh = replace(kafka_settings, events_topic=kafka_settings.events_topic + "2",
                    alerts_topic=kafka_settings.alerts_topic + "2", dlq_topic=kafka_settings.dlq_topic + "2")
    first = create_topics(fresh)
    assert [(t.name, t.created, t.partitions, t.problem) for t in first] == \
        [(name, True, PARTITIONS, None) for name in fresh.topics]
    again = create_topics(fresh)
    assert [(t.created, t.partitions, t.problem) for t in again] == [(False, PARTITIONS, None)] * 3
    # Another partition count in the config is reported, never applied to an existing topic.
    other = create_topics(replace(fresh, partitions=PARTITIONS + 2))
    assert all(not t.created and t.partitions == PARTITIONS and "config says 6" in t.problem for t in other)


# -- publish -------------------------------------------------------------------------------------
def test_publish_keys_by_enterprise_keeps_order_and_spreads_partitions(kafka_settings, read_topic, tmp_path):
    lines = events()
    path = write(tmp_path / "events.jsonl", lines)
    progress: list[int] = []
    stats = publish_lines(kafka_settings, iter_lines(path), batch=50, progress=progress.append)
    assert (stats.read, stats.published, stats.dead_lettered) == (180, 180, 0)
    assert progress == [50, 50, 50, 30]
    assert sum(stats.partitions.values()) == 180

    records = read_topic(kafka_settings.events_topic, 180)
    assert len(records) == 180
    assert sorted(r.value.decode() for r in records) == sorted(lines)  # the wire text, byte for byte
    by_enterprise: dict[str, list] = defaultdict(list)
    for r in records:
        eid = json.loads(r.value)["enterprise_id"]
        assert r.key == eid.encode()
        by_enterprise[eid].append(r)
    assert set(by_enterprise) == set(ENTERPRISES)
    for eid, recs in by_enterprise.items():
        assert len({r.partition for r in recs}) == 1, f"{eid} is spread over partitions"
        recs.sort(key=lambda r: r.offset)
        periods = [json.loads(r.value)["data"]["period"] for r in recs]
        assert periods == sorted(periods), f"{eid} out of order: {periods}"
    used = {r.partition for r in records}
    assert len(used) >= 3 and {p: n for p, n in stats.partitions.items()} == \
        {p: sum(1 for r in records if r.partition == p) for p in used}


def test_bad_line_stops_the_publish_naming_file_and_line_and_nothing_is_sent(kafka_settings, read_topic, tmp_path):
    lines = events(3, 3)
    bad = json.loads(lines[3])
    bad["enterprise_id"] = wrong_check(bad["enterprise_id"])
    lines[3] = json.dumps(bad)
    path = write(tmp_path / "bad.jsonl", lines)
    with pytest.raises(BadLine) as info:
        publish_lines(kafka_settings, iter_lines(path))
    assert str(info.value).startswith(f"{path}:4: bad_check_character:")
    assert "nothing was published" in str(info.value)
    assert info.value.published == 0 and info.value.rejection.location == f"{path}:4"
    assert read_topic(kafka_settings.events_topic, 0) == []


def test_batches_before_a_bad_line_are_published_but_never_its_own(kafka_settings, read_topic, tmp_path):
    lines = events(3, 3)
    lines[4] = lines[4].replace('"insured": ', '"insured": -')
    path = write(tmp_path / "bad.jsonl", lines)
    with pytest.raises(BadLine) as info:
        publish_lines(kafka_settings, iter_lines(path), batch=2)
    assert info.value.published == 4 and info.value.rejection.reason == "negative_value"
    assert sorted(r.value.decode() for r in read_topic(kafka_settings.events_topic, 4)) == sorted(lines[:4])


def test_skip_bad_sends_bad_lines_to_the_dlq(kafka_settings, read_topic, tmp_path):
    lines = events(2, 2)
    lines.insert(1, "{not json")
    path = write(tmp_path / "mixed.jsonl", lines)
    stats = publish_lines(kafka_settings, iter_lines(path), skip_bad=True)
    assert (stats.read, stats.published, stats.dead_lettered) == (5, 4, 1)
    assert len(read_topic(kafka_settings.events_topic, 4)) == 4
    [dead] = read_topic(kafka_settings.dlq_topic, 1)
    assert dict(dead.headers)[DLQ_REASON_HEADER] == b"bad_json"
    body = json.loads(dead.value)
    assert (body["raw"], body["reason"], body["location"]) == ("{not json", "bad_json", f"{path}:2")


def test_publish_to_a_missing_topic_is_refused_not_auto_created(kafka_settings, tmp_path):
    missing = replace(kafka_settings, events_topic=kafka_settings.events_topic + ".missing")
    with pytest.raises(TopicMissing, match=r"\.missing do not exist.*loanwatch topics create"):
        publish_lines(missing, iter_lines(write(tmp_path / "e.jsonl", events(1, 1))))
    assert create_topics(missing)[0].created  # still absent: the failed publish did not create it


def test_unreachable_broker_is_a_clear_error_within_the_timeout(tmp_path):
    path = write(tmp_path / "e.jsonl", events(1, 2))
    for call in (lambda s: publish_lines(s, iter_lines(path)), create_topics, dlq_list):
        settings = unreachable(1.5)
        started = time.monotonic()
        with pytest.raises(KafkaUnavailable) as info:
            call(settings)
        elapsed = time.monotonic() - started
        assert elapsed < 1.5 + 3, f"took {elapsed:.1f} s"
        assert f"cannot reach Kafka at {settings.bootstrap} within 1.5 s" in str(info.value)


# -- dead letters ----------------------------------------------------------------------------------
def _rejections() -> tuple[Rejection, Rejection]:
    # Rejected for a period "in the future" by a host whose clock was behind: valid now.
    early = validate(listing_line(ENTERPRISES[0], "2024-03"), now=datetime(2024, 1, 1, tzinfo=UTC),
                     location="platform.jsonl:7")
    # A typo in the enterprise id: stays bad.
    typo = validate(listing_line(wrong_check(ENTERPRISES[1]), "2024-03"), location="platform.jsonl:9")
    assert isinstance(early, Rejection) and isinstance(typo, Rejection)
    assert typo.reason == "bad_check_character"
    return early, typo


def _dead_letter(settings: KafkaSettings, *rejections: Rejection) -> None:
    producer = make_producer(settings)
    try:
        for r in rejections:
            dlq_publish(producer, r, topic=settings.dlq_topic)
        producer.flush(10)
    finally:
        producer.close(5)


def test_dlq_publish_list_and_replay_round_trip(kafka_settings, read_topic):
    early, typo = _rejections()
    _dead_letter(kafka_settings, early, typo)

    raw_records = read_topic(kafka_settings.dlq_topic, 2)
    headers = {dict(r.headers)[DLQ_REASON_HEADER].decode(): dict(r.headers) for r in raw_records}
    assert set(headers) == {early.reason, typo.reason}
    assert headers[typo.reason][DLQ_DETAIL_HEADER].decode() == typo.detail
    assert {r.key for r in raw_records} == {ENTERPRISES[0].encode(), wrong_check(ENTERPRISES[1]).encode()}

    listed = dlq_list(kafka_settings, 10)
    assert [(r["reason"], r["location"], r["raw"], r["detail"]) for r in listed] == \
        [(early.reason, "platform.jsonl:7", early.raw, early.detail),
         (typo.reason, "platform.jsonl:9", typo.raw, typo.detail)]
    assert len(dlq_list(kafka_settings, 1)) == 1
    assert [r["location"] for r in dlq_list(kafka_settings, 10, reason=typo.reason)] == ["platform.jsonl:9"]

    stats = dlq_replay(kafka_settings)
    assert (stats.read, stats.replayed, stats.still_bad) == (2, 1, 1)
    assert dict(stats.still_bad_reasons) == {"bad_check_character": 1}
    [replayed] = read_topic(kafka_settings.events_topic, 1)
    assert (replayed.key, replayed.value.decode()) == (ENTERPRISES[0].encode(), early.raw)
    # Listing reads without a group: the DLQ still shows both, and replaying again is harmless.
    assert len(dlq_list(kafka_settings, 10)) == 2
    assert dlq_replay(kafka_settings, reason=typo.reason).replayed == 0


def test_dlq_list_reads_to_the_end_of_many_records(kafka_settings):
    """More records than one fetch, in multi-record batches: the end is found by the fetch high watermark."""
    _, typo = _rejections()
    _dead_letter(kafka_settings, *[replace(typo, location=f"f:{i}") for i in range(1200)])
    rows = dlq_list(kafka_settings, 5000)
    assert sorted(int(r["location"][2:]) for r in rows) == list(range(1200))


# -- the CLI ---------------------------------------------------------------------------------------
def _config(tmp_path: Path, settings: KafkaSettings, bootstrap: str | None = None, name: str = "config.toml") -> Path:
    path = tmp_path / name
    path.write_text(f"""
[global]
store = "sqlite:///lw.db"

[kafka]
bootstrap = "{bootstrap or settings.bootstrap}"
events_topic = "{settings.events_topic}"
alerts_topic = "{settings.alerts_topic}"
dlq_topic = "{settings.dlq_topic}"
partitions = {settings.partitions}
replication = {settings.replication}
timeout_seconds = {settings.timeout_seconds}
""", encoding="utf-8")
    return path


def lw(config: Path, *args: str, code: int = 0, env: dict[str, str | None] | None = None,
       input: str | None = None) -> Result:
    register(cli)
    result = CliRunner().invoke(cli, ["--config", str(config), *args], obj={}, input=input,
                                env={"LOANWATCH_KAFKA_BOOTSTRAP": None, **(env or {})})
    assert result.exit_code == code, (result.output, result.exception)
    return result


def test_cli_topics_publish_dlq(kafka_settings, read_topic, tmp_path):
    fresh = replace(kafka_settings, events_topic=kafka_settings.events_topic + "c",
                    alerts_topic=kafka_settings.alerts_topic + "c", dlq_topic=kafka_settings.dlq_topic + "c")
    config = _config(tmp_path, fresh)
    out = lw(config, "topics", "create").stdout
    assert f"created {fresh.events_topic}  ({PARTITIONS} partitions)" in out
    assert f"exists  {fresh.dlq_topic}  ({PARTITIONS} partitions)" in lw(config, "topics", "create").stdout

    a = write(tmp_path / "a.jsonl", events(10, 2))
    b = write(tmp_path / "b.jsonl", events(10, 3)[20:])
    summary = json.loads(lw(config, "publish", str(a), str(b), "--batch", "7", "--json").stdout)
    assert (summary["read"], summary["published"], summary["dead_lettered"]) == (30, 30, 0)
    assert len(read_topic(fresh.events_topic, 30)) == 30

    # A bad line in the last file: every bad line listed by file:line, exit 1, nothing more published.
    bad = events(2, 2)
    bad[1] = bad[1].replace('"type": "headcount"', '"type": "headcount_v2"')
    bad.append("[1, 2]")
    c = write(tmp_path / "c.jsonl", bad)
    result = lw(config, "publish", str(a), str(c), code=EXIT_BAD_INPUT)
    assert f"{c}:2: unknown_type:" in result.stderr and f"{c}:5: not_an_object:" in result.stderr
    assert "2 bad line(s); nothing was published" in result.stderr
    assert len(read_topic(fresh.events_topic, 31, timeout=2)) == 30

    # --skip-bad: the bad lines go to the DLQ; list them, fix one from the JSON listing, replay it.
    skipped = json.loads(lw(config, "publish", str(c), "--skip-bad", "--json").stdout)
    assert (skipped["published"], skipped["dead_lettered"]) == (3, 2)
    listing = lw(config, "dlq", "list").stdout
    assert f"{c}:2  unknown_type:" in listing and f"{c}:5  not_an_object:" in listing
    rows = [json.loads(line) for line in lw(config, "dlq", "list", "--json", "--reason", "unknown_type")
            .stdout.splitlines()]
    assert [r["location"] for r in rows] == [f"{c}:2"]
    rows[0]["raw"] = rows[0]["raw"].replace("headcount_v2", "headcount")
    fixed = write(tmp_path / "fixed.jsonl", [json.dumps(rows[0], ensure_ascii=False)])
    assert "replayed 1 of 1" in lw(config, "dlq", "replay", "--from-file", str(fixed)).stdout
    replay = lw(config, "dlq", "replay").stdout
    assert "replayed 0 of 2" in replay and "2 still fail the contract, left in the DLQ" in replay
    events_now = read_topic(fresh.events_topic, 34)
    assert len(events_now) == 34 and events_now and bad[1].replace("headcount_v2", "headcount") in \
        {r.value.decode() for r in events_now}


def test_cli_environment_overrides_bootstrap_and_errors_have_exit_codes(kafka_settings, tmp_path):
    dead = f"127.0.0.1:{free_port()}"
    config = _config(tmp_path, replace(kafka_settings, timeout_seconds=1.5), bootstrap=dead)
    # The file names a dead address; the environment points at the live broker.
    out = lw(config, "topics", "create", env={"LOANWATCH_KAFKA_BOOTSTRAP": kafka_settings.bootstrap}).stdout
    assert f"exists  {kafka_settings.events_topic}" in out

    started = time.monotonic()
    result = lw(config, "dlq", "list", code=EXIT_KAFKA)
    assert time.monotonic() - started < 1.5 + 3
    assert f"cannot reach Kafka at {dead} within 1.5 s" in result.stderr

    # Standard input is read once: checked as it is sent, a bad line stops it there.
    live = _config(tmp_path, kafka_settings, name="live.toml")
    stdin_lines = events(2, 2)
    assert json.loads(lw(live, "publish", "-", "--json", input="\n".join(stdin_lines) + "\n").stdout)["published"] == 4
    result = lw(live, "publish", "-", "--batch", "2", input="\n".join([*stdin_lines, "{"]) + "\n", code=EXIT_BAD_INPUT)
    assert "<stdin>:5: bad_json:" in result.stderr and "4 earlier event(s) were already published" in result.stderr

    path = write(tmp_path / "e.jsonl", events(1, 1))
    missing = _config(tmp_path, replace(kafka_settings, events_topic="lwtest-no-such-topic"), name="missing.toml")
    assert "do not exist" in lw(missing, "publish", str(path), code=EXIT_KAFKA).stderr
    assert "no such file" in lw(config, "publish", str(tmp_path / "nope.jsonl"), code=EXIT_BAD_INPUT).stderr
    broken = tmp_path / "broken.toml"
    broken.write_text("[kafka]\npartitions = -1\n", encoding="utf-8")
    assert "kafka.partitions: must be >= 1, got -1" in lw(broken, "topics", "create", code=EXIT_BAD_INPUT).stderr


def test_broker_dying_mid_publish_is_an_error_not_a_hang(tmp_path):
    try:
        broker = TansuBroker()
        broker.start()
    except BrokerError as exc:
        tansu_missing(exc)
    try:
        settings = KafkaSettings(bootstrap=broker.bootstrap, partitions=2, timeout_seconds=1.0)
        create_topics(settings)
        lines = events()

        stopped_at = []

        def items():
            for i, line in enumerate(lines):
                if i == 100:
                    broker.stop()
                    stopped_at.append(time.monotonic())
                yield f"e.jsonl:{i + 1}", line

        with pytest.raises(KafkaUnavailable, match=f"Kafka at {settings.bootstrap}") as info:
            publish_lines(settings, items(), batch=50)
        elapsed = time.monotonic() - stopped_at[0]
        assert elapsed < 3 * 1.0 + 3, f"took {elapsed:.1f} s"
        assert "100 were acknowledged before" in str(info.value)
    finally:
        broker.stop()
