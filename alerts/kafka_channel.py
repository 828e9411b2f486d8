"""The alerts topic as one more outbox channel: ``lwkafka://<topic>``.

In Kafka mode every alert is also published on the alerts topic (default
``loanwatch.alerts``). Publishing right after the batch commits would lose
the alert if the worker died in between; publishing inside the transaction
is impossible. So the topic is a *channel*: ``loanwatch worker`` adds the
receiver ``kafka-alerts`` = ``lwkafka://<topic>`` to every bank, the alert's
delivery row for it is written in the batch transaction like the bank's own
e-mail or webhook rows, and the sender publishes it, records the result,
and retries with backoff like any channel. At least once, then: a worker
that dies between the broker's acknowledgement and recording it publishes
that message again, with the same ``alert_id``.

Record: value = the webhook document, schema version 1 (``alerts.webhook``),
unchanged, including ``related`` when several alerts of one enterprise went
out together; key = the ``bank_id`` (one bank's alerts stay in order in one
partition); headers ``loanwatch-alert-id``, ``loanwatch-kind``,
``loanwatch-severity`` so a consumer can drop a repeat of the same
(alert_id, kind, severity) without parsing the body. Only alert messages go
to the topic; digests and silence notices sent to "all receivers" of a bank
are skipped here (reported as delivered) so the topic holds one schema.

The URL names the topic only, not the broker: every worker must produce the
same URL, since the outbox refers to a channel by a hash of its URL, while
bootstrap addresses may be written differently per worker. The worker
process registers how to publish (``configure``); anywhere else the channel
fails with a clear reason instead of guessing a broker.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from apprise import NotificationManager
from apprise.common import NotifyType
from apprise.plugins.base import NotifyBase

from alerts.compose import ALERT_KINDS
from alerts.webhook import NotifyLoanwatchWebhook

__all__ = ["RECEIVER", "SCHEME", "NotifyLoanwatchKafka", "alert_record", "channel_url", "configure", "register"]

SCHEME = "lwkafka"
#: The receiver name the worker adds to every bank.
RECEIVER = "kafka-alerts"
ALERT_ID_HEADER = "loanwatch-alert-id"

#: publish(topic, key, value, headers, timeout): returns once the broker acknowledged, raises otherwise.
Publisher = Callable[[str, bytes | None, bytes, list[tuple[str, bytes]], float], None]

_lock = threading.Lock()
_publisher: Publisher | None = None


def configure(publisher: Publisher | None) -> None:
    """Install (or remove, with None) the function that publishes; the worker calls this at start."""
    global _publisher
    with _lock:
        _publisher = publisher


def channel_url(topic: str) -> str:
    """The channel URL for ``topic`` (the same in every worker)."""
    return f"{SCHEME}://{topic}"


def alert_record(document: dict[str, Any]) -> tuple[bytes | None, bytes, list[tuple[str, bytes]]] | None:
    """(key, value, headers) of the alerts-topic record for a webhook document; None if it is no alert."""
    if document.get("kind") not in ALERT_KINDS or not document.get("alert_id"):
        return None
    value = json.dumps(document, ensure_ascii=False, allow_nan=False).encode("utf-8")
    headers = [(ALERT_ID_HEADER, str(document["alert_id"]).encode()),
               ("loanwatch-kind", str(document["kind"]).encode()),
               ("loanwatch-severity", str(document.get("severity") or "").encode())]
    bank = document.get("bank_id")
    return (bank.encode() if bank else None), value, headers


class NotifyLoanwatchKafka(NotifyLoanwatchWebhook):
    """Publish the webhook document to a Kafka topic through the worker's producer.

    A subclass of the webhook plugin so that ``alerts.channels`` hands it the
    JSON document, not a rendered text.
    """

    service_name = "Loanwatch alerts topic"
    protocol = SCHEME
    secure_protocol = ()
    templates = ("{schema}://{host}",)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.topic = self.host

    def send(self, body: str, title: str = "", notify_type: NotifyType = NotifyType.INFO, **kwargs: Any) -> bool:
        try:
            document = json.loads(body)
        except ValueError:
            document = None
        if not isinstance(document, dict):
            self.logger.warning("alerts topic: the body is not a JSON object; nothing was published.")
            return False
        record = alert_record(document)
        if record is None:
            self.logger.info("alerts topic: %s messages are not published there.",
                             document.get("type") or document.get("kind") or "non-alert")
            return True
        with _lock:
            publish = _publisher
        if publish is None:
            self.logger.warning("alerts topic %s: no Kafka producer in this process "
                                "(the lwkafka:// channel works inside `loanwatch worker`).", self.topic)
            return False
        key, value, headers = record
        try:
            publish(self.topic, key, value, headers, float(self.socket_read_timeout or 10))
        except Exception as exc:  # the outbox records the reason and retries
            self.logger.warning("alerts topic %s: publish failed: %s: %s", self.topic, type(exc).__name__, exc)
            return False
        self.logger.info("Published alert %s to %s.", document["alert_id"], self.topic)
        return True

    def url(self, privacy: bool = False, *args: Any, **kwargs: Any) -> str:
        return channel_url(self.topic)

    @property
    def url_identifier(self) -> tuple[str, str]:
        return (self.protocol, self.topic)

    @staticmethod
    def parse_url(url: str) -> dict[str, Any] | None:
        results = NotifyBase.parse_url(url, verify_host=False)
        if not results or not results.get("host"):
            return None
        for key in ("headers", "params", "payload"):
            results[key] = {}
        return results


def register() -> None:
    """Make ``lwkafka://`` known to apprise; safe to call twice."""
    manager = NotificationManager()
    if SCHEME not in manager:
        manager.add(NotifyLoanwatchKafka)


register()
