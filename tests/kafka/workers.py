"""Helpers for the worker tests: real ``loanwatch worker`` processes, a config, the store, the receivers.

Workers run as subprocesses of the real command so that ``kill -9`` is a
real kill: no finally blocks, no atexit, the consumer never leaves its group.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from streams.kafka_config import KafkaSettings
from tests.kafka.stream import BANKS, Stream, enterprise_of

LOANWATCH = str(Path(sys.executable).with_name("loanwatch"))
AlertKey = tuple[str, str, str]  # (alert_id, kind, severity)


def write_config(path: Path, *, store: str, settings: KafkaSettings | None, hook: str) -> Path:
    kafka = ""
    if settings is not None:
        kafka = f"""
[kafka]
bootstrap = "{settings.bootstrap}"
events_topic = "{settings.events_topic}"
alerts_topic = "{settings.alerts_topic}"
dlq_topic = "{settings.dlq_topic}"
partitions = {settings.partitions}
replication = {settings.replication}
group_id = "{settings.group_id}"
client_id = "{settings.client_id}"
"""
    banks = "".join(f"""
[[banks]]
id = "{b}"
name = "{b}"
locale = "en"
min_severity = "medium"
channels = ["{hook}/hooks/{b}"]
""" for b in BANKS)
    path.write_text(f"""
[global]
store = "{store}"
spool_dir = "spool"

[delivery]
max_attempts = 100
backoff_base_seconds = 0.2
backoff_cap_seconds = 1
timeout_seconds = 5
{kafka}{banks}""", encoding="utf-8")
    return path


def lw(config: Path, *args: str, timeout: float = 300, env: dict | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run([LOANWATCH, "--config", str(config), *args], capture_output=True, text=True,
                          timeout=timeout, env=env)
    assert proc.returncode == 0, f"loanwatch {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc


def import_watchlists(config: Path, stream: Stream, tmp: Path) -> None:
    for bank in BANKS:
        f = tmp / f"watchlist-{bank}.csv"
        f.write_text(stream.watchlist_csv(bank), encoding="utf-8")
        lw(config, "watchlist", "import", bank, str(f))


def publish_raw(settings: KafkaSettings, lines: Iterable[str]) -> int:
    """Every line as it is, bad ones included, keyed by enterprise like ``loanwatch publish`` keys them."""
    from streams.kafka_tools import make_producer

    producer = make_producer(settings)
    n = 0
    try:
        for line in lines:
            producer.send(settings.events_topic, key=enterprise_of(line), value=line.encode("utf-8"))
            n += 1
        producer.flush(timeout=30)
    finally:
        producer.close(timeout=10)
    return n


class Worker:
    """One ``loanwatch worker`` subprocess with its log in a file."""

    def __init__(self, config: Path, log_path: Path, *extra: str, env: dict[str, str] | None = None) -> None:
        self.config = config
        self.log_path = log_path
        self.args = [LOANWATCH, "--config", str(config), "worker", "--batch-size", "200", "--batch-wait", "0.05",
                     "--deliver-interval", "0.2", "--metrics-port", "0", "--metrics-addr", "127.0.0.1", *extra]
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen | None = None

    def start(self) -> Worker:
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in wait()
        self.proc = subprocess.Popen(self.args, stdout=self._log, stderr=subprocess.STDOUT, env=self.env)
        return self

    @property
    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_for(self, pattern: str, timeout: float = 60, *, since: int = 0) -> re.Match:
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = rx.search(self.log, since)
            if m:
                return m
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"worker exited ({self.proc.returncode}) before /{pattern}/:\n{self.log[-4000:]}")
            time.sleep(0.05)
        raise AssertionError(f"no /{pattern}/ in the worker log within {timeout}s:\n{self.log[-4000:]}")

    def partitions(self) -> set[int]:
        """The partitions this worker owns according to its last assignment line."""
        found = re.findall(r"partitions \[([0-9, ]*)\] of \S+ assigned", self.log)
        return {int(p) for p in found[-1].split(",") if p.strip()} if found else set()

    def assignments(self) -> int:
        return len(re.findall(r"partitions \[[0-9, ]*\] of \S+ assigned", self.log))

    @property
    def metrics_url(self) -> str:
        port = self.wait_for(r"metrics on http://[0-9.]+:(\d+)/metrics").group(1)
        return f"http://127.0.0.1:{port}/metrics"

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self._log.close()

    def stop(self, timeout: float = 60) -> int:
        """SIGTERM, as an orchestrator stops a worker; returns the exit code."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(10)
            self._log.close()
        return code


def scrape(url: str) -> dict[str, float]:
    """The worker's metrics as {'name{labels}': value}."""
    import urllib.request

    out = {}
    with urllib.request.urlopen(url, timeout=5) as r:
        for line in r.read().decode().splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                out[name] = float(value)
    return out


class Store:
    """Read-only looks into the workers' PostgreSQL store."""

    def __init__(self, url: str) -> None:
        self.engine = create_engine(url)

    def scalar(self, sql: str, **params: Any) -> Any:
        with self.engine.connect() as c:
            return c.execute(text(sql), params).scalar()

    def seen(self) -> int:
        return self.scalar("SELECT count(*) FROM seen_events") or 0

    def pending_deliveries(self) -> int:
        return self.scalar("SELECT count(*) FROM deliveries WHERE status = 'pending'") or 0

    def close(self) -> None:
        self.engine.dispose()


def wait_until(cond: Callable[[], Any], timeout: float, what: str, poll: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


# -- comparing what receivers got -------------------------------------------------------------
def message_keys(body: dict) -> list[AlertKey]:
    """The alert changes one webhook message (or alerts-topic record) carries: itself and its grouped members."""
    keys = [(body["alert_id"], body["kind"], body["severity"])]
    keys += [(r["alert_id"], r["kind"], r["severity"]) for r in body.get("related", ()) if r.get("kind") != "open"]
    return keys


def received(bodies: Iterable[dict]) -> Counter:
    out: Counter = Counter()
    for body in bodies:
        out.update(message_keys(body))
    return out


def assert_same_alerts(bodies: list[dict], reference: Counter, *, crash_cuts: Iterable[int] = ()) -> int:
    """Every alert change of ``reference`` was received as often as the embedded daemon sent it.

    The one exception is the documented window of any outbox sender: a worker
    killed after a receiver answered but before the answer was recorded sends
    that message again after the restart. A repeat is accepted only in that
    shape: one extra copy, whose first copy arrived before a kill
    (``crash_cuts``: how many messages had arrived at each kill) and whose
    second arrived after it. Returns the number of such repeats.
    """
    got = received(bodies)
    missing = reference - got
    assert not missing, f"lost: {sorted(missing)[:10]} ({sum(missing.values())} in all)"
    extra = got - reference
    cuts = sorted(crash_cuts)
    for key, n in extra.items():
        assert key in reference, f"never raised by the embedded daemon: {key}"
        where = [i for i, b in enumerate(bodies) if key in message_keys(b)]
        resent = n == 1 and any(where[0] < cut <= where[-1] for cut in cuts)
        assert resent, f"sent twice without a crash in between: {key} in messages {where}"
    return sum(extra.values())


def hook_bodies(receiver: Any) -> list[dict]:
    return [r.json() for r in list(receiver.requests) if r.path.startswith("/hooks/")]


def read_json_records(read_topic: Callable[..., list], topic: str, expected: int, timeout: float = 30) -> list[Any]:
    return read_topic(topic, expected, timeout=timeout)


def decode(record: Any) -> dict:
    return json.loads(record.value)
