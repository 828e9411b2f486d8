"""Reading alerts back: listings with their deliveries, one alert in full, the audit trail.

Every query takes the bank it is for (``None`` only for the operator's
listing across banks), so a bank-scoped caller never sees another bank's
rows: an alert of another bank is answered exactly as one that does not
exist. Listings page by key: ``after`` is the sort key of the last row of
the previous page.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import Session

from alerts.actions import get_alert
from alerts.audit import query
from alerts.records import AlertDetail, AlertFacts, AlertSummary, AuditRecord, DeliveryStatus
from store.models import AlertRow, Delivery, DetectionRow, Enterprise

__all__ = ["list_alerts", "alert_detail", "audit_trail"]


def list_alerts(session: Session, *, bank_id: str | None, status: str | None = None, failed_only: bool = False,
                after: tuple[datetime, str] | None = None, limit: int = 200) -> list[AlertSummary]:
    """Alerts, most recently changed first, with each channel's delivery status.

    ``failed_only`` keeps alerts with a delivery that finally failed (what an
    operator must look at); ``after`` is the (updated_at, alert_id) of the
    last alert of the previous page.
    """
    q = select(AlertRow).order_by(AlertRow.updated_at.desc(), AlertRow.id).limit(limit)
    if bank_id is not None:
        q = q.where(AlertRow.bank_id == bank_id)
    if status:
        q = q.where(AlertRow.status == status)
    if failed_only:
        q = q.where(exists().where(Delivery.alert_id == AlertRow.id, Delivery.status == "failed"))
    if after is not None:
        at, aid = after
        q = q.where(or_(AlertRow.updated_at < at, and_(AlertRow.updated_at == at, AlertRow.id > aid)))
    alerts = session.scalars(q).all()
    if not alerts:
        return []
    deliveries: dict[str, list[DeliveryStatus]] = {}
    for d in session.scalars(select(Delivery).where(Delivery.alert_id.in_([a.id for a in alerts]))
                             .order_by(Delivery.id)):
        deliveries.setdefault(d.alert_id, []).append(DeliveryStatus.of(d))
    names = dict(session.execute(select(Enterprise.id, Enterprise.name).where(
        Enterprise.id.in_({a.enterprise_id for a in alerts}))).all())
    return [AlertSummary(**AlertFacts.facts_of(a), enterprise_name=names.get(a.enterprise_id),
                         created_at=a.created_at, updated_at=a.updated_at, deliveries=tuple(deliveries.get(a.id, ())))
            for a in alerts]


def alert_detail(session: Session, bank_id: str, alert_id: str) -> AlertDetail:
    """One of the bank's alerts with its evidence and audit trail (``AlertNotFound`` for anyone else's)."""
    a = get_alert(session, bank_id, alert_id)
    det = session.get(DetectionRow, a.detection_id)
    return AlertDetail(**AlertFacts.facts_of(a), evidence=det.evidence if det else None,
                       audit=tuple(AuditRecord.of(e) for e in query(session, bank_id=bank_id, alert_id=a.id)))


def audit_trail(session: Session, *, bank_id: str | None, alert_id: str | None = None,
                enterprise_id: str | None = None, actor: str | None = None, action: str | None = None,
                since: datetime | None = None, before_id: int | None = None, limit: int = 200) -> list[AuditRecord]:
    """The latest ``limit`` matching entries (older than ``before_id`` when given), oldest first."""
    return [AuditRecord.of(e) for e in query(session, bank_id=bank_id, alert_id=alert_id,
                                             enterprise_id=enterprise_id, actor=actor, action=action,
                                             since=since, before_id=before_id, limit=limit)]
