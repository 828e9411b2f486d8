"""Kafka workers: events/s through one and two workers, and event-to-alert latency at a steady rate.

Everything real: a Tansu broker (or ``--bootstrap``), PostgreSQL (a fresh
database per run on ``--pg``), ``loanwatch worker`` subprocesses, one bank
watching every enterprise (so fan-out and the alerts topic are exercised).

Throughput: a simulated portfolio (``monitor.simulate``: noisy, seasonal,
sliding firms, late arrivals, corrections and duplicates, in arrival order)
is published to the events topic first; then N workers are started and
their Prometheus counters polled. Reported: events/s over the middle 80 %
of the stream (10 % to 90 % committed, so start-up and the tail do not
count) and over the whole run from the first commit.

Latency: the first two thirds of the same portfolio are history, processed
at full speed; then the last third is sent at a steady ``--rate`` events/s,
with one court listing for a newly watched enterprise after every 200
events. Each listing raises one alert, which the worker publishes on the
alerts topic through the outbox; latency is from the listing's send to the
alert's arrival at a consumer of the alerts topic. With one worker, then
with two.

Usage: python bench/kafka_worker.py [--enterprises 2000] [--months 36] [--workers 1 2]
                                    [--rate 2000] [--latency-workers 1 2] [--bootstrap HOST:PORT] [--pg URL]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from streams.kafka_config import KafkaSettings  # noqa: E402
from streams.uscc import complete_uscc  # noqa: E402

LOANWATCH = str(Path(sys.executable).with_name("loanwatch"))
PARTITIONS = 12


# -- infrastructure ---------------------------------------------------------------------------
class Database:
    def __init__(self, server_url: str) -> None:
        self.admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
        self.name = f"lw_bench_{uuid.uuid4().hex[:10]}"
        with self.admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{self.name}"'))
        self.url = make_url(server_url).set(database=self.name).render_as_string(hide_password=False)

    def drop(self) -> None:
        with self.admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        self.admin.dispose()


def settings_for(bootstrap: str) -> KafkaSettings:
    prefix = f"lwbench-{uuid.uuid4().hex[:8]}"
    return KafkaSettings(bootstrap=bootstrap, events_topic=f"{prefix}.events", alerts_topic=f"{prefix}.alerts",
                         dlq_topic=f"{prefix}.dlq", partitions=PARTITIONS, group_id=prefix, client_id=prefix)


def write_config(path: Path, store: str, s: KafkaSettings) -> Path:
    path.write_text(f"""
[global]
store = "{store}"

[kafka]
bootstrap = "{s.bootstrap}"
events_topic = "{s.events_topic}"
alerts_topic = "{s.alerts_topic}"
dlq_topic = "{s.dlq_topic}"
partitions = {s.partitions}
group_id = "{s.group_id}"
client_id = "{s.client_id}"

[[banks]]
id = "bench"
name = "Bench bank"
locale = "en"
min_severity = "medium"
channels = []
""", encoding="utf-8")
    return path


def watch(config: Path, enterprises: list[tuple[str, str | None]]) -> None:
    from alerts.watchlist import LoanRow
    from monitor.app import Loanwatch
    from monitor.config import load_config

    with Loanwatch(load_config(config)) as app:
        app.bank("bench").watch(LoanRow(eid, f"L{i}", 1e6, None, None, name) for i, (eid, name) in enumerate(enterprises))


def _die_with_parent():
    """On Linux, workers get SIGTERM when the benchmark dies, so an interrupted run leaves none behind."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    prctl = ctypes.CDLL(None, use_errno=True).prctl
    return lambda: prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class Worker:
    def __init__(self, config: Path, log: Path, *args: str) -> None:
        self.log_path = log
        self._log = open(log, "wb")  # noqa: SIM115
        self.proc = subprocess.Popen([LOANWATCH, "--config", str(config), "worker", "--metrics-port", "0",
                                      "--metrics-addr", "127.0.0.1", *args], stdout=self._log,
                                     stderr=subprocess.STDOUT, preexec_fn=_die_with_parent())
        self._url: str | None = None

    def text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for(self, pattern: str, timeout: float = 120) -> re.Match:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = re.search(pattern, self.text())
            if m:
                return m
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited:\n{self.text()[-3000:]}")
            time.sleep(0.05)
        raise RuntimeError(f"no /{pattern}/ in {self.log_path}")

    @property
    def url(self) -> str:
        if self._url is None:
            port = self.wait_for(r"metrics on http://[0-9.]+:(\d+)/metrics").group(1)
            self._url = f"http://127.0.0.1:{port}/metrics"
        return self._url

    def metrics(self) -> dict[str, float]:
        out = {}
        with urllib.request.urlopen(self.url, timeout=5) as r:
            for line in r.read().decode().splitlines():
                if line and not line.startswith("#"):
                    name, _, value = line.rpartition(" ")
                    out[name] = float(value)
        return out

    def events(self) -> int:
        m = self.metrics()
        return int(sum(v for k, v in m.items() if k.startswith("loanwatch_events_total")))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


def partitions_of(w: Worker) -> set[int]:
    found = re.findall(r"partitions \[([0-9, ]*)\] of \S+ assigned", w.text())
    return {int(p) for p in found[-1].split(",") if p.strip()} if found else set()


# -- throughput --------------------------------------------------------------------------------
def throughput(lines: list[str], enterprises: list[tuple[str, str | None]], n_workers: int, bootstrap: str,
               pg: str, tmp: Path, batch_size: int) -> dict:
    from streams.kafka_tools import create_topics, publish_lines

    s = settings_for(bootstrap)
    create_topics(s)
    db = Database(pg)
    workers: list[Worker] = []
    try:
        config = write_config(tmp / f"throughput-{n_workers}.toml", db.url, s)
        watch(config, enterprises)
        published = publish_lines(s, ((f"sim:{i}", ln) for i, ln in enumerate(lines)), batch=5000,
                                  skip_bad=True).published
        workers = [Worker(config, tmp / f"throughput-{n_workers}-w{i}.log", "--batch-size", str(batch_size))
                   for i in range(n_workers)]
        samples: list[tuple[float, int]] = []
        deadline = time.monotonic() + 3600
        while time.monotonic() < deadline:
            n = sum(w.events() for w in workers)
            samples.append((time.monotonic(), n))
            if n >= published:
                break
            time.sleep(0.25)
        shares = [len(partitions_of(w)) for w in workers]
        started = next(t for t, n in samples if n > 0)
        end = samples[-1][0]

        def at(frac: float) -> tuple[float, int]:
            return next((t, n) for t, n in samples if n >= frac * published)

        (t10, n10), (t90, n90) = at(0.1), at(0.9)
        alerts = sum(int(v) for w in workers for k, v in w.metrics().items() if k.startswith("loanwatch_alerts_total"))
        return {"workers": n_workers, "events": published, "partitions_per_worker": shares,
                "load_avg_1m": round(os.getloadavg()[0], 1),
                "events_per_second_middle_80pct": round((n90 - n10) / (t90 - t10)),
                "events_per_second_whole_run": round(published / (end - started)),
                "seconds": round(end - started, 1), "alerts": alerts}
    finally:
        for w in workers:
            w.stop()
        db.drop()


# -- latency -----------------------------------------------------------------------------------
def latency(lines: list[str], enterprises: list[tuple[str, str | None]], rate: float, bootstrap: str, pg: str,
            tmp: Path, batch_size: int, batch_wait: float, n_workers: int = 1, warm_share: float = 2 / 3,
            seconds: float = 40.0) -> dict:
    """The first ``warm_share`` of the portfolio is history, processed at full speed; the rest is sent at ``rate``."""
    from kafka import KafkaConsumer, TopicPartition

    from streams.kafka_tools import create_topics, make_producer, publish_lines

    s = settings_for(bootstrap)
    create_topics(s)
    db = Database(pg)
    cut = int(warm_share * len(lines))
    warm, live = lines[:cut], lines[cut:cut + int(rate * seconds)]
    triggers = [complete_uscc(f"91440300MC{i:07d}") for i in range(len(live) // 200 + 1)]
    workers: list[Worker] = []
    try:
        config = write_config(tmp / f"latency-{n_workers}.toml", db.url, s)
        watch(config, enterprises + [(e, None) for e in triggers])
        workers = [Worker(config, tmp / f"latency-{n_workers}-w{i}.log", "--batch-size", str(batch_size),
                          "--batch-wait", str(batch_wait)) for i in range(n_workers)]
        for w in workers:
            w.wait_for("assigned to this worker")
        deadline = time.monotonic() + 120
        while n_workers > 1 and len({p for w in workers for p in partitions_of(w)}) < PARTITIONS or any(
                not partitions_of(w) for w in workers):
            if time.monotonic() > deadline:
                raise RuntimeError("workers did not share the partitions")
            time.sleep(0.2)
        published = publish_lines(s, ((f"sim:{i}", ln) for i, ln in enumerate(warm)), batch=5000).published
        while sum(w.events() for w in workers) < published:  # history in, at full speed
            time.sleep(0.5)

        arrived: dict[str, float] = {}
        stop = threading.Event()

        def consume() -> None:
            c = KafkaConsumer(bootstrap_servers=s.bootstrap_servers, group_id=None, enable_auto_commit=False,
                              fetch_max_wait_ms=20, auto_offset_reset="earliest")
            tps = [TopicPartition(s.alerts_topic, p) for p in range(s.partitions)]
            c.assign(tps)
            c.seek_to_end(*tps)
            while not stop.is_set():
                for records in c.poll(timeout_ms=50).values():
                    now = time.time()
                    for r in records:
                        body = json.loads(r.value)
                        arrived.setdefault(body["enterprise"]["id"], now)
            c.close()

        reader = threading.Thread(target=consume, daemon=True)
        reader.start()
        time.sleep(1.0)
        before = [w.metrics() for w in workers]
        producer = make_producer(s, linger_ms=2)
        sent: dict[str, float] = {}
        dumps = json.JSONEncoder(separators=(",", ":")).encode
        t0 = time.monotonic()
        j = 0
        total = len(live) + len(live) // 200
        period = "2000-01"  # the latest period of the stream so far: a listing is news now, not history
        it = iter(live)
        for i in range(total):
            delay = t0 + i / rate - time.monotonic()  # steady pacing: event i goes out at t0 + i/rate
            if delay > 0:
                time.sleep(delay)
            if i % 200 == 199 and j < len(triggers):
                eid = triggers[j]
                j += 1
                value = dumps({"event_id": f"bench-dd-{eid}", "enterprise_id": eid, "type": "dishonest_debtor",
                               "occurred_at": f"{period}-10T10:00:00+08:00", "source": "bench",
                               "data": {"status": "listed", "case_no": f"(2025)粤03执{j}号", "court": "深圳中院"}})
                sent[eid] = time.time()
            else:
                value = next(it, None)
                if value is None:
                    break
                ev = json.loads(value)
                eid = ev["enterprise_id"]
                period = max(period, (ev.get("data") or {}).get("period") or ev["occurred_at"][:7])
            producer.send(s.events_topic, key=eid.encode(), value=value.encode())
        producer.flush(30)
        elapsed = time.monotonic() - t0
        deadline = time.monotonic() + 120
        while any(e not in arrived for e in sent) and time.monotonic() < deadline:
            time.sleep(0.1)
        stop.set()
        reader.join(5)
        producer.close(10)
        lat = sorted(arrived[e] - t for e, t in sent.items() if e in arrived)
        q = statistics.quantiles(lat, n=100, method="inclusive") if len(lat) >= 2 else [float("nan")] * 99
        ms = [w.metrics() for w in workers]

        def delta(key: str) -> float:
            return sum(m.get(key, 0) - b.get(key, 0) for m, b in zip(ms, before))

        batches = delta("loanwatch_batch_seconds_count")
        return {"workers": n_workers, "rate_requested": rate, "rate_achieved": round(total / elapsed),
                "load_avg_1m": round(os.getloadavg()[0], 1),
                "history_events": published, "live_events": total, "seconds": round(elapsed, 1),
                "alerts_expected": len(sent), "alerts_received": len(lat),
                "latency_p50_s": round(q[49], 3), "latency_p90_s": round(q[89], 3),
                "latency_p99_s": round(q[98], 3), "latency_max_s": round(lat[-1], 3) if lat else None,
                "batches": int(batches),
                "mean_batch_s": round(delta("loanwatch_batch_seconds_sum") / max(1, batches), 3),
                "busy_share": round(delta("loanwatch_batch_seconds_sum") / n_workers / elapsed, 2)}
    finally:
        for w in workers:
            w.stop()
        db.drop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--enterprises", type=int, default=2000)
    ap.add_argument("--months", type=int, default=36)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--workers", type=int, nargs="*", default=[1, 2])
    ap.add_argument("--batch-size", type=int, default=20000)
    ap.add_argument("--rate", type=float, nargs="*", default=[2000.0], help="steady rates for the latency runs")
    ap.add_argument("--latency-workers", type=int, nargs="*", default=[1, 2])
    ap.add_argument("--seconds", type=float, default=40.0, help="length of each steady-rate run")
    ap.add_argument("--latency-batch-size", type=int, default=20000)
    ap.add_argument("--latency-batch-wait", type=float, default=0.05)
    ap.add_argument("--bootstrap", default=os.environ.get("LOANWATCH_KAFKA_BOOTSTRAP"),
                    help="a Kafka to use (default: start a Tansu broker)")
    ap.add_argument("--pg", default=os.environ.get("LOANWATCH_TEST_PG_URL",
                                                   "postgresql+psycopg://postgres@127.0.0.1:5432/test"))
    args = ap.parse_args()
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    print(f"machine: {os.cpu_count()} cores, {mem_gib:.0f} GiB; python {sys.version.split()[0]}", flush=True)
    from streams.broker import TansuBroker

    broker = None
    with tempfile.TemporaryDirectory(prefix="lw-bench-") as tmp_s, contextlib.ExitStack() as stack:
        tmp = Path(tmp_s)
        bootstrap = args.bootstrap
        if not bootstrap:
            broker = TansuBroker()
            bootstrap = broker.start()
            stack.callback(broker.stop)
        print(f"broker {bootstrap}{' (Tansu, memory)' if broker else ''}; PostgreSQL {args.pg}", flush=True)
        results: dict = {}
        from monitor.simulate import iter_lines, simulate

        pf = simulate(n_enterprises=args.enterprises, months=args.months, seed=args.seed)
        lines = list(iter_lines(pf))
        enterprises = [(e.enterprise_id, e.name) for e in pf.enterprises]
        print(f"portfolio: {args.enterprises} enterprises x {args.months} months = {len(lines):,} lines",
              flush=True)
        results["throughput"] = []
        for n in args.workers:
            r = throughput(lines, enterprises, n, bootstrap, args.pg, tmp, args.batch_size)
            print(json.dumps(r), flush=True)
            results["throughput"].append(r)
        results["latency"] = []
        for rate in args.rate:
            for n in args.latency_workers:
                r = latency(lines, enterprises, rate, bootstrap, args.pg, tmp, args.latency_batch_size,
                            args.latency_batch_wait, n, seconds=args.seconds)
                print(json.dumps(r), flush=True)
                results["latency"].append(r)
        print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
