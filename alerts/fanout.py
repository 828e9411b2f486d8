"""From detection changes to alerts and outbox rows, bank by bank.

Detection happens once per enterprise; here each bank that watches the
enterprise gets its own alert, filtered by its own policy, rendered with
only its own loans. Everything is written in the caller's transaction, so an
alert and its deliveries exist exactly when the state change that caused them
does (the outbox pattern).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts.channels import redact
from alerts.identity import alert_id, channel_key
from alerts.message import AlertView, LoanRef
from alerts.views import view_to_dict
from detectors.severity import Severity
from monitor.store.models import AlertRow, Delivery, DetectionRow, WatchlistEntry

__all__ = ["BankPolicy", "AlertChange", "fan_out", "open_alert_for"]


@dataclass(frozen=True)
class BankPolicy:
    """What one bank wants to hear; issue-level policy grows here."""

    bank_id: str
    bank_name: str
    locale: str
    min_severity: Severity
    channels: tuple[str, ...]


@dataclass(frozen=True)
class AlertChange:
    """An alert that was opened, escalated or resolved (what ``demo`` prints)."""

    kind: str
    alert: AlertRow
    view: AlertView


def _loans(entries: Sequence[WatchlistEntry]) -> tuple[LoanRef, ...]:
    return tuple(
        LoanRef(
            e.loan_id,
            float(e.exposure),
            e.due_date.isoformat() if e.due_date else None,
            e.relationship_manager,
        )
        for e in sorted(entries, key=lambda e: e.loan_id)
    )


def _view(
    kind: str,
    alert: AlertRow,
    det: DetectionRow,
    policy: BankPolicy,
    entries: Sequence[WatchlistEntry],
    name: str | None,
    risk: Severity,
    previous: int | None,
    now: datetime,
) -> AlertView:
    return AlertView(
        alert_id=alert.id,
        bank_id=policy.bank_id,
        bank_name=policy.bank_name,
        locale=policy.locale,
        kind=kind,
        enterprise_id=det.enterprise_id,
        enterprise_name=name,
        loans=_loans(entries),
        signal=det.signal,
        change_period=det.start_period,
        severity=Severity(det.severity),
        previous_severity=Severity(previous) if previous else None,
        risk_level=risk,
        direction=det.direction,
        evidence=det.evidence,
        detected_at=now.isoformat(),
    )


def _enqueue(
    session: Session, alert: AlertRow, kind: str, view: AlertView, policy: BankPolicy, now: datetime
) -> None:
    payload = view_to_dict(view)
    for url in policy.channels:
        session.add(
            Delivery(
                alert_id=alert.id,
                bank_id=policy.bank_id,
                transition=alert.transitions,
                kind=kind,
                channel_key=channel_key(url),
                channel=redact(url),
                status="pending",
                attempts=0,
                next_attempt_at=now,
                last_error=None,
                payload=payload,
                created_at=now,
                sent_at=None,
            )
        )


def open_alert_for(
    session: Session,
    det: DetectionRow,
    kind: str,
    policy: BankPolicy,
    entries: Sequence[WatchlistEntry],
    *,
    name: str | None,
    risk: Severity,
    previous: int | None,
    now: datetime,
    existing: AlertRow | None = None,
) -> AlertChange | None:
    """Apply one detection change to one bank's alert; returns what the bank is told, if anything."""
    aid = alert_id(policy.bank_id, det.enterprise_id, det.signal, det.start_period)
    alert = existing if existing is not None else session.get(AlertRow, aid)
    severity = Severity(det.severity)
    if kind == "resolved":
        if alert is None or alert.status != "open":
            return None
        alert.status, alert.resolved_at, alert.updated_at = "resolved", now, now
        alert.transitions += 1
        told = "resolved"
    elif severity < policy.min_severity:
        if alert is not None and alert.status == "open":
            alert.severity, alert.updated_at = int(severity), now  # stays open, quietly lower
        return None
    elif alert is None:
        alert = AlertRow(
            id=aid,
            bank_id=policy.bank_id,
            enterprise_id=det.enterprise_id,
            signal=det.signal,
            change_period=det.start_period,
            detection_id=det.id,
            severity=int(severity),
            status="open",
            transitions=1,
            created_at=now,
            updated_at=now,
            resolved_at=None,
        )
        session.add(alert)
        told = "new"
    elif alert.status == "resolved":
        alert.status, alert.resolved_at, alert.severity, alert.updated_at = "open", None, int(severity), now
        alert.transitions += 1
        told = "new"
    elif severity > Severity(alert.severity):
        previous = alert.severity
        alert.severity, alert.updated_at = int(severity), now
        alert.transitions += 1
        told = "escalated"
    else:
        alert.severity, alert.updated_at = int(severity), now
        return None
    view = _view(
        told, alert, det, policy, entries, name, risk, previous if told == "escalated" else None, now
    )
    _enqueue(session, alert, told, view, policy, now)
    return AlertChange(told, alert, view)


def fan_out(
    session: Session,
    changes: Sequence[tuple[str, DetectionRow, int | None]],
    policies: Mapping[str, BankPolicy],
    *,
    names: Mapping[str, str | None],
    risks: Mapping[str, Severity],
    now: datetime,
) -> list[AlertChange]:
    """Alerts for every bank watching the enterprises in ``changes`` (kind, detection, previous severity)."""
    relevant = [c for c in changes if c[0] in ("new", "escalated", "deescalated", "resolved")]
    if not relevant:
        return []
    session.flush()  # new detections need their ids
    eids = sorted({c[1].enterprise_id for c in relevant})
    watchers: dict[str, dict[str, list[WatchlistEntry]]] = {}
    for entry in session.scalars(select(WatchlistEntry).where(WatchlistEntry.enterprise_id.in_(eids))):
        watchers.setdefault(entry.enterprise_id, {}).setdefault(entry.bank_id, []).append(entry)
    out: list[AlertChange] = []
    for kind, det, previous in relevant:
        for bank_id, entries in sorted(watchers.get(det.enterprise_id, {}).items()):
            policy = policies.get(bank_id)
            if policy is None:
                continue  # bank no longer configured: nobody to tell
            name = names.get(det.enterprise_id) or next((e.name for e in entries if e.name), None)
            risk = risks.get(det.enterprise_id, Severity(det.severity))
            k = "new" if kind == "deescalated" else kind
            change = open_alert_for(
                session, det, k, policy, entries, name=name, risk=risk, previous=previous, now=now
            )
            if change is not None:
                out.append(change)
    return out
