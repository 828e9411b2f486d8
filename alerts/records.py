"""What the alert listings and actions hand back: plain data, detached from the store.

These are the shapes an interface shows (the CLI prints them, ``--json``
dumps them as they are, an HTTP API will serialise them): no ORM object, no
session. Severities are their labels (``"high"``), as in every message and
webhook; timestamps are what the store holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from detectors.severity import Severity
from store.models import AlertRow, AuditEntry, Delivery

__all__ = ["DeliveryStatus", "AlertFacts", "AlertSummary", "AlertState", "AuditRecord", "AlertDetail"]


@dataclass(frozen=True)
class DeliveryStatus:
    """One outbox row of an alert: a message to one channel and how it went."""

    kind: str
    channel: str  # the URL with its secrets hidden
    status: str  # pending | sent | failed
    attempts: int
    last_error: str | None
    sent_at: datetime | None

    @classmethod
    def of(cls, d: Delivery) -> DeliveryStatus:
        return cls(d.kind, d.channel, d.status, d.attempts, d.last_error, d.sent_at)


@dataclass(frozen=True)
class AlertFacts:
    """What every view of one alert says: its identity, severity, state, and what people did with it."""

    alert_id: str
    bank_id: str
    enterprise_id: str
    signal: str
    change_period: str
    severity: str
    status: str  # open | resolved
    acknowledged_by: str | None
    assignee: str | None
    resolution_code: str | None
    feedback: str | None
    silenced_by: int | None
    inhibited_by: str | None

    @staticmethod
    def facts_of(a: AlertRow) -> dict[str, Any]:
        """The fields above from a stored alert, as keyword arguments for any subclass."""
        return {"alert_id": a.id, "bank_id": a.bank_id, "enterprise_id": a.enterprise_id, "signal": a.signal,
                "change_period": a.change_period, "severity": Severity(a.severity).label, "status": a.status,
                "acknowledged_by": a.acknowledged_by, "assignee": a.assignee, "resolution_code": a.resolution_code,
                "feedback": a.feedback, "silenced_by": a.silenced_by, "inhibited_by": a.inhibited_by}


@dataclass(frozen=True)
class AlertSummary(AlertFacts):
    """An alert in a listing, with each channel's delivery status and last error."""

    enterprise_name: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    deliveries: tuple[DeliveryStatus, ...] = ()


@dataclass(frozen=True)
class AlertState:
    """Where an alert stands after a risk manager acted on it."""

    alert_id: str
    status: str
    acknowledged_by: str | None
    assignee: str | None
    resolution_code: str | None
    feedback: str | None

    @classmethod
    def of(cls, a: AlertRow) -> AlertState:
        return cls(a.id, a.status, a.acknowledged_by, a.assignee, a.resolution_code, a.feedback)


@dataclass(frozen=True)
class AuditRecord:
    """One line of the append-only audit trail."""

    id: int
    at: datetime
    bank_id: str | None
    alert_id: str | None
    enterprise_id: str | None
    actor: str
    action: str
    detail: dict[str, Any]

    @classmethod
    def of(cls, e: AuditEntry) -> AuditRecord:
        return cls(e.id, e.at, e.bank_id, e.alert_id, e.enterprise_id, e.actor, e.action, e.detail)


@dataclass(frozen=True)
class AlertDetail(AlertFacts):
    """One alert with its evidence and its audit trail, oldest first."""

    evidence: dict[str, Any] | None = None
    audit: tuple[AuditRecord, ...] = ()
