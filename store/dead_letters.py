"""Reading the dead-letter store back: what was rejected, why, and where it came from."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from store.models import RejectedEvent

__all__ = ["RejectedInput", "rejection_counts", "list_rejected"]


@dataclass(frozen=True)
class RejectedInput:
    """One rejected input: its raw text, the contract's reason and detail, and ``file:line``-style location."""

    id: int
    received_at: datetime
    location: str | None
    reason: str
    detail: str
    raw: str


def rejection_counts(session: Session) -> dict[str, int]:
    """Rejected inputs per reason, over the whole store."""
    return dict(session.execute(select(RejectedEvent.reason, func.count()).group_by(RejectedEvent.reason)).all())


def list_rejected(session: Session, *, reason: str | None = None, before_id: int | None = None,
                  limit: int = 100) -> list[RejectedInput]:
    """The latest rejected inputs first (older than ``before_id`` when given)."""
    q = select(RejectedEvent).order_by(RejectedEvent.id.desc()).limit(limit)
    if reason:
        q = q.where(RejectedEvent.reason == reason)
    if before_id is not None:
        q = q.where(RejectedEvent.id < before_id)
    return [RejectedInput(r.id, r.received_at, r.location, r.reason, r.detail, r.raw) for r in session.scalars(q)]
