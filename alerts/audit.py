"""The audit trail: append-only, written in the same transaction as what it records.

Every alert state change, every delivery attempt with its result, every
silence and every human action lands here, so "who knew what, when, and what
did they do" can be answered from one table.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.models import AuditEntry

__all__ = ["record", "query", "SYSTEM"]

SYSTEM = "loanwatch"


def record(session: Session, action: str, *, at: datetime, bank_id: str | None = None,
           alert_id: str | None = None, enterprise_id: str | None = None, actor: str = SYSTEM,
           **detail: Any) -> None:
    session.add(AuditEntry(at=at, bank_id=bank_id, alert_id=alert_id, enterprise_id=enterprise_id, actor=actor,
                           action=action, detail={k: v for k, v in detail.items() if v is not None}))


def query(session: Session, *, bank_id: str | None = None, alert_id: str | None = None,
          enterprise_id: str | None = None, actor: str | None = None, action: str | None = None,
          since: datetime | None = None, before_id: int | None = None, limit: int = 1000) -> list[AuditEntry]:
    """The latest ``limit`` matching entries (older than entry ``before_id`` when given), oldest first."""
    q = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    for column, value in ((AuditEntry.bank_id, bank_id), (AuditEntry.alert_id, alert_id),
                          (AuditEntry.enterprise_id, enterprise_id), (AuditEntry.actor, actor),
                          (AuditEntry.action, action)):
        if value is not None:
            q = q.where(column == value)
    if since is not None:
        q = q.where(AuditEntry.at >= since)
    if before_id is not None:
        q = q.where(AuditEntry.id < before_id)
    return list(reversed(session.scalars(q).all()))
