"""Listings across the store, one page at a time: alerts, the audit trail, rejected inputs.

The operator's views (``Loanwatch.alerts``, ``.audit``, ``.rejected``) and a
bank's (``BankService.alerts``, ``.audit``, with the bank filled in) are
these same functions, so a bank's page is the operator's page filtered, never
a second query that could drift. Each asks for one row more than the page
holds, to know whether there is a next page without counting.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from alerts.queries import audit_trail, list_alerts
from alerts.records import AlertSummary, AuditRecord
from monitor.exceptions import BadCursor
from monitor.paging import Page, check_limit, decode_cursor, encode_cursor
from monitor.results import RejectedReport
from store.dead_letters import list_rejected, rejection_counts

__all__ = ["alerts_page", "audit_page", "rejected_report"]


def alerts_page(sessions: sessionmaker[Session], *, bank_id: str | None, status: str | None = None,
                failed_only: bool = False, cursor: str | None = None, limit: int = 200) -> Page[AlertSummary]:
    after = None
    if cursor:
        at, aid = decode_cursor(cursor, 2)
        after = (_timestamp(at, cursor), aid)
    with sessions() as s:
        rows = list_alerts(s, bank_id=bank_id, status=status, failed_only=failed_only, after=after,
                           limit=check_limit(limit) + 1)
    more, rows = len(rows) > limit, rows[:limit]
    return Page(tuple(rows), encode_cursor((rows[-1].updated_at.isoformat(), rows[-1].alert_id)) if more else None)


def audit_page(sessions: sessionmaker[Session], *, bank_id: str | None, alert_id: str | None = None,
               enterprise_id: str | None = None, actor: str | None = None, action: str | None = None,
               since: datetime | None = None, cursor: str | None = None, limit: int = 200) -> Page[AuditRecord]:
    """The latest ``limit`` matching entries, oldest first; ``next_cursor`` fetches the ones before."""
    before = decode_cursor(cursor, 1)[0] if cursor else None
    with sessions() as s:
        rows = audit_trail(s, bank_id=bank_id, alert_id=alert_id, enterprise_id=enterprise_id, actor=actor,
                           action=action, since=since, before_id=before, limit=check_limit(limit) + 1)
    more, rows = len(rows) > limit, rows[-limit:]
    return Page(tuple(rows), encode_cursor((rows[0].id,)) if more else None)


def rejected_report(sessions: sessionmaker[Session], *, reason: str | None = None, cursor: str | None = None,
                    limit: int = 100) -> RejectedReport:
    before = decode_cursor(cursor, 1)[0] if cursor else None
    with sessions() as s:
        counts = rejection_counts(s)
        rows = list_rejected(s, reason=reason, before_id=before, limit=check_limit(limit) + 1)
    more, rows = len(rows) > limit, rows[:limit]
    return RejectedReport(counts, Page(tuple(rows), encode_cursor((rows[-1].id,)) if more else None))


def _timestamp(text: str, cursor: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except (TypeError, ValueError):
        raise BadCursor(cursor) from None
