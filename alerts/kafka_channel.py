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
bootstrap addresses may be written differently per worker. The broker comes
with the producer: the worker builds ``AlertsTopic(publish)`` around its own
producer and hands ``AlertsTopic.deliver`` to the service object as the
sender's way to deliver (``lwkafka://`` URLs here, every other URL on to
``alerts.channels.deliver``). The apprise plugin ``NotifyLoanwatchKafka``
only makes the URL known to apprise, so that the outbox names, checks and
formats this channel like any other (registered by ``alerts.plugins``);
delivered through apprise, i.e. anywhere but a worker, it fails with a
clear reason instead of guessing a broker.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from apprise.common import NotifyType
from apprise.plugins.base import NotifyBase

from alerts.channels import ChannelResult, deliver
from alerts.compose import ALERT_KINDS
from alerts.message import Message
from alerts.webhook import NotifyLoanwatchWebhook

__all__ = ["RECEIVER", "SCHEME", "AlertsTopic", "NotifyLoanwatchKafka", "Publisher", "alert_record",
           "channel_url", "topic_of"]

SCHEME = "lwkafka"
#: The receiver name the worker adds to every bank.
RECEIVER = "kafka-alerts"
ALERT_ID_HEADER = "loanwatch-alert-id"

#: publish(topic, key, value, headers, timeout): returns once the broker acknowledged, raises otherwise.
Publisher = Callable[[str, bytes | None, bytes, list[tuple[str, bytes]], float], None]
#: deliver(url, message, payload, *, timeout) -> ChannelResult, as ``alerts.channels.deliver``.
Deliver = Callable[..., ChannelResult]

_URL = re.compile(rf"^\s*{SCHEME}://([A-Za-z0-9._-]+)/?\s*$", re.IGNORECASE)


def channel_url(topic: str) -> str:
    """The channel URL for ``topic`` (the same in every worker)."""
    return f"{SCHEME}://{topic}"


def topic_of(url: str) -> str | None:
    """The topic an ``lwkafka://`` URL names; None for any other URL."""
    match = _URL.match(url) if isinstance(url, str) else None
    return match.group(1) if match else None


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


class AlertsTopic:
    """The ``lwkafka://`` channel of one worker: publishes through the producer it was built with.

    ``deliver`` has the signature of ``alerts.channels.deliver`` and hands
    every URL that is not ``lwkafka://`` to ``others`` (that function by
    default), so it can stand in for it wherever the sender delivers.
    """

    def __init__(self, publish: Publisher, *, others: Deliver = deliver) -> None:
        self.publish = publish
        self.others = others

    def deliver(self, url: str, message: Message, payload: dict, *, timeout: float = 10) -> ChannelResult:
        topic = topic_of(url)
        if topic is None:
            return self.others(url, message, payload, timeout=timeout)
        channel = channel_url(topic)
        record = alert_record(payload) if isinstance(payload, dict) else None
        if record is None:  # a digest or a silence notice: not for the topic
            return ChannelResult(True, None, channel)
        key, value, headers = record
        try:
            self.publish(topic, key, value, headers, float(timeout))
        except Exception as exc:  # the outbox records the reason and retries
            return ChannelResult(False, f"publishing to {topic} failed: {type(exc).__name__}: {exc}", channel)
        return ChannelResult(True, None, channel)


class NotifyLoanwatchKafka(NotifyLoanwatchWebhook):
    """``lwkafka://<topic>`` as apprise sees it: a URL to name, check and format; never sent through apprise.

    A subclass of the webhook plugin so that ``alerts.channels`` formats
    the channel's message as the JSON document.
    """

    service_name = "Loanwatch alerts topic"
    protocol = SCHEME
    secure_protocol = ()
    templates = ("{schema}://{host}",)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.topic = self.host

    def send(self, body: str, title: str = "", notify_type: NotifyType = NotifyType.INFO, **kwargs: Any) -> bool:
        self.logger.warning("alerts topic %s: no Kafka producer in this process "
                            "(the lwkafka:// channel is delivered by `loanwatch worker`).", self.topic)
        return False

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
