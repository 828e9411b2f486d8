"""The sender: delivers pending outbox rows and records each channel's result.

Each delivery is claimed, sent and recorded on its own, in its own short
transaction: a crash between sending and recording re-sends at most that one
message, with the same alert id, which webhook receivers use to drop the
duplicate. Channels are sent concurrently so one slow or dead channel does not
hold up the others. A failure is retried with exponential backoff; after the
last attempt the row is marked ``failed`` and stays visible in
``loanwatch alerts --failed``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from alerts.audit import record
from alerts.backoff import next_attempt_delay
from alerts.channels import ChannelResult, deliver
from alerts.compose import ALERT_KINDS, compose
from alerts.identity import channel_key
from alerts.policy import BankPolicy
from detectors.periods import as_utc
from store.models import Delivery

__all__ = ["DispatchStats", "dispatch_due", "DeliverySettings"]

log = logging.getLogger("loanwatch.delivery")


@dataclass(frozen=True)
class DeliverySettings:
    """The ``[delivery]`` table: retries, backoff and timeouts of the sender, the same for every bank."""

    max_attempts: int = 8
    backoff_base_seconds: float = 30.0
    backoff_cap_seconds: float = 3600.0
    timeout_seconds: float = 10.0
    workers: int = 8


@dataclass
class DispatchStats:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def attempted(self) -> int:
        return self.sent + self.retrying + self.failed

    def merge(self, other: DispatchStats) -> None:
        self.sent += other.sent
        self.retrying += other.retrying
        self.failed += other.failed
        self.errors += other.errors


@dataclass(frozen=True)
class _Job:
    id: int
    bank_id: str
    enterprise_id: str | None
    channel_key: str
    kind: str
    payload: dict


def _claim(sessions: sessionmaker[Session], now: datetime, limit: int, lease: timedelta) -> list[_Job]:
    """Take due deliveries for this sender by pushing their due time past a lease.

    The conditional UPDATE succeeds for exactly one of several senders sharing
    the store (workers, or a second daemon by mistake), on SQLite and on
    PostgreSQL alike. A sender that dies after claiming leaves the row to be
    retried when the lease runs out: at least once, never twice at once.
    """
    jobs = []
    with sessions.begin() as s:
        due = s.execute(
            select(Delivery.id, Delivery.bank_id, Delivery.enterprise_id, Delivery.channel_key, Delivery.kind,
                   Delivery.payload)
            .where(Delivery.status == "pending", Delivery.next_attempt_at <= now)
            .order_by(Delivery.id)
            .limit(limit)
        ).all()
        for row in due:
            taken = s.execute(
                update(Delivery)
                .where(Delivery.id == row.id, Delivery.status == "pending", Delivery.next_attempt_at <= now)
                .values(next_attempt_at=as_utc(now) + lease)
                .execution_options(synchronize_session=False)
            ).rowcount
            if taken == 1:
                jobs.append(_Job(row.id, row.bank_id, row.enterprise_id, row.channel_key, row.kind, row.payload))
    return jobs


def _groups(jobs: list[_Job]) -> list[list[_Job]]:
    """Alert messages for one bank, enterprise and channel that fall due together go as one."""
    groups: dict[tuple, list[_Job]] = {}
    for j in jobs:
        key = (j.bank_id, j.enterprise_id, j.channel_key) if j.kind in ALERT_KINDS else ("#", j.id)
        groups.setdefault(key, []).append(j)
    return list(groups.values())


def dispatch_due(
    sessions: sessionmaker[Session],
    policies: Mapping[str, BankPolicy],
    settings: DeliverySettings,
    *,
    now: datetime | None = None,
    limit: int = 200,
    send: Callable[..., ChannelResult] = deliver,
) -> DispatchStats:
    """One pass over the deliveries that are due; returns what happened.

    A delivery names its channel by a hash of the URL; the URL itself is
    looked up in its bank's policy, so a channel removed from the
    configuration fails its pending deliveries instead of being guessed.
    """
    now = now or datetime.now(UTC)
    stats = DispatchStats()
    jobs = _claim(sessions, now, limit, timedelta(seconds=3 * settings.timeout_seconds + 30))
    if not jobs:
        return stats

    def attempt(group: list[_Job]):
        first = group[0]
        policy = policies.get(first.bank_id)
        url = next((u for u in policy.channels if channel_key(u) == first.channel_key), None) if policy else None
        if url is None:
            return group, ChannelResult(False, "channel is no longer configured for this bank", "?"), True
        try:
            message, body = compose([j.kind for j in group], [j.payload for j in group])
            result = send(url, message, body, timeout=settings.timeout_seconds)
        except Exception as exc:  # a bug in rendering must not stop the sender
            log.exception("deliveries %s could not be rendered", [j.id for j in group])
            return group, ChannelResult(False, f"render error: {exc}", "?"), True
        return group, result, False

    groups = _groups(jobs)
    with ThreadPoolExecutor(max_workers=max(1, min(settings.workers, len(groups)))) as pool:
        outcomes = list(pool.map(attempt, groups))
    for group, result, permanent in outcomes:
        with sessions.begin() as s:
            for job in group:
                _record(s, job.id, result, permanent, settings, now, stats, grouped=len(group))
    return stats


def _record(s: Session, delivery_id: int, result: ChannelResult, permanent: bool, settings: DeliverySettings,
            now: datetime, stats: DispatchStats, grouped: int) -> None:
    d = s.get(Delivery, delivery_id)
    if d is None or d.status != "pending":
        return
    d.attempts += 1
    audit = {"at": now, "bank_id": d.bank_id, "alert_id": d.alert_id, "enterprise_id": d.enterprise_id}
    if result.ok:
        d.status, d.sent_at, d.last_error = "sent", datetime.now(UTC), None
        stats.sent += 1
        record(s, "delivered", **audit, channel=d.channel, kind=d.kind, attempt=d.attempts,
               grouped_with=grouped - 1 or None)
        log.info("delivered alert=%s kind=%s channel=%s", d.alert_id, d.kind, d.channel)
    elif permanent or d.attempts >= settings.max_attempts:
        d.status, d.last_error = "failed", result.error
        stats.failed += 1
        stats.errors.append(f"{d.alert_id or d.dedupe_key} {d.channel}: {result.error}")
        record(s, "delivery_failed", **audit, channel=d.channel, kind=d.kind, attempt=d.attempts,
               error=result.error, final=True)
        log.error("gave up alert=%s channel=%s after %d attempts: %s", d.alert_id, d.channel, d.attempts,
                  result.error)
    else:
        delay = next_attempt_delay(d.attempts, base=settings.backoff_base_seconds, cap=settings.backoff_cap_seconds)
        d.next_attempt_at, d.last_error = as_utc(now) + timedelta(seconds=delay), result.error
        stats.retrying += 1
        record(s, "delivery_failed", **audit, channel=d.channel, kind=d.kind, attempt=d.attempts,
               error=result.error, retry_in_seconds=round(delay))
        log.warning("delivery failed alert=%s channel=%s attempt=%d, retry in %.0fs: %s", d.alert_id, d.channel,
                    d.attempts, delay, result.error)
