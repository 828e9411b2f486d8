"""What a Kafka worker shows an operator: Prometheus metrics and structured (JSON) log lines.

Metrics (``loanwatch worker --metrics-port 9464``, scraped at ``/metrics``):

| metric | type | labels | meaning |
|---|---|---|---|
| ``loanwatch_events_total`` | counter | ``outcome`` = accepted, duplicate, rejected | events this worker committed; ``rate()`` is events/s |
| ``loanwatch_rejected_events_total`` | counter | ``reason`` | rejected events by contract reason (they also go to the DLQ topic) |
| ``loanwatch_dead_letters_total`` | counter | | records published to the DLQ topic |
| ``loanwatch_alerts_total`` | counter | ``kind`` = new, escalated, resolved | alert changes raised by this worker's batches |
| ``loanwatch_deliveries_total`` | counter | ``result`` = sent, retrying, failed | outbox deliveries this worker's sender attempted (every channel, the alerts topic included) |
| ``loanwatch_delivery_failures_total`` | counter | ``final`` = false, true | failed delivery attempts: to be retried, or given up |
| ``loanwatch_consumer_lag`` | gauge | ``topic``, ``partition`` | records in an assigned partition not processed yet (high watermark of the last fetch minus the next offset) |
| ``loanwatch_assigned_partitions`` | gauge | | partitions this worker owns |
| ``loanwatch_batch_seconds`` | histogram | | time to process and commit one batch |
| ``loanwatch_event_commit_delay_seconds`` | histogram | | from an event's Kafka timestamp to the commit of its batch |
| ``loanwatch_batch_failures_total`` | counter | | batches that failed and were retried |

Every metric lives in the worker's own registry, so several workers in one
test process never clash, and nothing is exposed unless a port is given.

Logs: ``--log-json`` writes one JSON object per line on stderr (``ts``,
``level``, ``logger``, ``message``, ``pid`` and any ``extra`` fields), which log
shippers index without parsing free text.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

__all__ = ["JsonFormatter", "RepeatFilter", "WorkerMetrics", "setup_logging"]

_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0)


class WorkerMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = r = registry or CollectorRegistry()
        self.events = Counter("loanwatch_events", "Events committed by this worker, by outcome.", ["outcome"],
                              registry=r)
        self.rejected = Counter("loanwatch_rejected_events", "Rejected events by reason.", ["reason"], registry=r)
        self.dead_letters = Counter("loanwatch_dead_letters", "Records published to the dead-letter topic.",
                                    registry=r)
        self.alerts = Counter("loanwatch_alerts", "Alert changes raised, by kind.", ["kind"], registry=r)
        self.deliveries = Counter("loanwatch_deliveries", "Outbox delivery attempts, by result.", ["result"],
                                  registry=r)
        self.delivery_failures = Counter("loanwatch_delivery_failures",
                                         "Failed delivery attempts (final: given up).", ["final"], registry=r)
        self.lag = Gauge("loanwatch_consumer_lag", "Records in an assigned partition not processed yet.",
                         ["topic", "partition"], registry=r)
        self.assigned = Gauge("loanwatch_assigned_partitions", "Partitions this worker owns.", registry=r)
        self.batch_seconds = Histogram("loanwatch_batch_seconds", "Time to process and commit one batch.",
                                       buckets=_LATENCY_BUCKETS, registry=r)
        self.commit_delay = Histogram("loanwatch_event_commit_delay_seconds",
                                      "From an event's Kafka timestamp to the commit of its batch.",
                                      buckets=_LATENCY_BUCKETS, registry=r)
        self.batch_failures = Counter("loanwatch_batch_failures", "Batches that failed and were retried.",
                                      registry=r)
        for outcome in ("accepted", "duplicate", "rejected"):
            self.events.labels(outcome)
        for kind in ("new", "escalated", "resolved"):
            self.alerts.labels(kind)
        for result in ("sent", "retrying", "failed"):
            self.deliveries.labels(result)
        for final in ("false", "true"):
            self.delivery_failures.labels(final)
        self._lag_partitions: set[tuple[str, str]] = set()
        self._server: Any = None

    def serve(self, port: int, addr: str = "0.0.0.0") -> int:
        """Expose ``/metrics`` on ``addr:port`` (0: any free port); returns the port."""
        self._server, _ = start_http_server(port, addr=addr, registry=self.registry)
        return self._server.server_port

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # -- updates --------------------------------------------------------------------------
    def batch(self, *, accepted: int, duplicates: int, rejected: dict[str, int], alerts: Iterable[str],
              seconds: float, commit_delays: Iterable[float]) -> None:
        self.events.labels("accepted").inc(accepted)
        self.events.labels("duplicate").inc(duplicates)
        self.events.labels("rejected").inc(sum(rejected.values()))
        for reason, n in rejected.items():
            self.rejected.labels(reason).inc(n)
        for kind in alerts:
            self.alerts.labels(kind).inc()
        self.batch_seconds.observe(seconds)
        for d in commit_delays:
            self.commit_delay.observe(max(0.0, d))

    def delivery(self, *, sent: int, retrying: int, failed: int) -> None:
        self.deliveries.labels("sent").inc(sent)
        self.deliveries.labels("retrying").inc(retrying)
        self.deliveries.labels("failed").inc(failed)
        self.delivery_failures.labels("false").inc(retrying)
        self.delivery_failures.labels("true").inc(failed)

    def set_lag(self, topic: str, lag: dict[int, int]) -> None:
        current = {(topic, str(p)) for p in lag}
        for labels in self._lag_partitions - current:  # partitions that went to another worker
            self.lag.remove(*labels)
        for p, n in lag.items():
            self.lag.labels(topic, str(p)).set(n)
        self._lag_partitions = current


# -- logs ---------------------------------------------------------------------------------
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ts, level, logger, message, pid, extras, and exc when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage().strip(),
            "pid": record.process,
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


def setup_logging(*, json_lines: bool, verbose: int = 0, text_format: str | None = None) -> None:
    """Route every logger (ours, aiokafka's, kafka-python's) to stderr, as JSON lines or text.

    Loanwatch's own loggers log at INFO by default (partitions taken and
    given up, broker waits, failed batches); the libraries at WARNING, or
    INFO/DEBUG with ``-v``/``-vv``.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if json_lines else logging.Formatter(
        text_format or "%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(handler)
    level = max(logging.DEBUG, logging.WARNING - 10 * verbose)
    root.setLevel(level)
    logging.getLogger("loanwatch").setLevel(min(level, logging.INFO))
    # one line per delivery is for -v; failures (WARNING and up) are always logged
    logging.getLogger("loanwatch.delivery").setLevel(level)
    logging.captureWarnings(True)  # library warnings become records too: every line stays JSON
    if verbose < 2:
        # A broker that went away makes the Kafka clients log every reconnect attempt, several a second.
        handler.addFilter(RepeatFilter(("aiokafka", "kafka")))


class RepeatFilter(logging.Filter):
    """For loggers under ``prefixes``: a given message once per ``every`` seconds, then how many were dropped."""

    def __init__(self, prefixes: tuple[str, ...], every: float = 30.0) -> None:
        super().__init__()
        self.prefixes = prefixes
        self.every = every
        self._seen: dict[tuple[str, int, str], list[float]] = {}  # key -> [last shown, suppressed]

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith(self.prefixes):
            return True
        key = (record.name, record.levelno, str(record.msg))
        now = record.created
        entry = self._seen.get(key)
        if entry is not None and now - entry[0] < self.every:
            entry[1] += 1
            return False
        if entry is not None and entry[1]:
            record.msg = f"{record.msg} (and {int(entry[1])} more like it in the last {self.every:g}s)"
        if len(self._seen) > 1000:
            self._seen.clear()
        self._seen[key] = [now, 0]
        return True
