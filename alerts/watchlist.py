"""Bank watchlists: which enterprises a bank lent to, under which loans.

Rows arrive checked and typed (``LoanRow``; the bank's CSV is parsed and
validated at the edge, in ``monitor.watchlist_csv``). Adding an enterprise
that already has current findings tells the bank about those, through the
same fan-out as a detection pass (they are news to this bank, and its
silences and inhibit rules apply); findings outside the recent window stay
quiet.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import and_, delete, or_, select
from sqlalchemy.orm import Session

from alerts.fanout import AlertChange, fan_out
from alerts.policy import BankPolicy
from detectors.periods import months_between
from detectors.risk import combined_risk
from detectors.severity import Severity
from store.models import DetectionRow, Enterprise, PipelineState, WatchlistEntry
from store.transitions import Transition
from store.upsert import insert_for

__all__ = ["LoanRow", "add_entries", "remove_entries", "list_entries"]


@dataclass(frozen=True)
class LoanRow:
    """One of a bank's loans to an enterprise; ``exposure`` in CNY."""

    enterprise_id: str
    loan_id: str
    exposure: float
    due_date: date | None
    relationship_manager: str | None
    name: str | None = None

    @classmethod
    def of(cls, e: WatchlistEntry) -> LoanRow:
        return cls(e.enterprise_id, e.loan_id, e.exposure, e.due_date, e.relationship_manager, e.name)


def _watermark(session: Session) -> str | None:
    row = session.get(PipelineState, "watermark")
    return row.value if row else None


def add_entries(
    session: Session,
    policy: BankPolicy,
    rows: Iterable[LoanRow],
    *,
    now: datetime,
    recent_window: int,
    replace: bool = False,
) -> tuple[int, list[AlertChange]]:
    """Upsert loans for one bank (``replace`` drops the bank's other loans); alerts on current findings."""
    rows = list(rows)
    if replace:
        keep = {r.loan_id for r in rows}
        session.execute(
            delete(WatchlistEntry).where(WatchlistEntry.bank_id == policy.id, WatchlistEntry.loan_id.not_in(keep))
        )
    existing = {
        e.loan_id: e
        for e in session.scalars(
            select(WatchlistEntry).where(
                WatchlistEntry.bank_id == policy.id,
                WatchlistEntry.loan_id.in_([r.loan_id for r in rows]),
            )
        )
    }
    new_enterprises: set[str] = set()
    for r in rows:
        e = existing.get(r.loan_id)
        if e is None:
            session.add(
                WatchlistEntry(
                    bank_id=policy.id,
                    enterprise_id=r.enterprise_id,
                    loan_id=r.loan_id,
                    exposure=r.exposure,
                    due_date=r.due_date,
                    relationship_manager=r.relationship_manager,
                    name=r.name,
                    added_at=now,
                )
            )
            new_enterprises.add(r.enterprise_id)
        else:
            if e.enterprise_id != r.enterprise_id:
                new_enterprises.add(r.enterprise_id)
            e.enterprise_id, e.exposure, e.due_date = r.enterprise_id, r.exposure, r.due_date
            e.relationship_manager, e.name = r.relationship_manager, r.name
    names = {r.enterprise_id: r.name for r in rows if r.name}
    if names:
        stmt = insert_for(session, Enterprise)
        stmt = stmt.on_conflict_do_update(index_elements=["id"], set_={"name": stmt.excluded.name})
        session.execute(stmt, [{"id": k, "name": v, "risk_level": 0} for k, v in names.items()])
    session.flush()
    return len(rows), _alert_current(
        session, policy, sorted(new_enterprises), now=now, recent_window=recent_window
    )


def _alert_current(
    session: Session, policy: BankPolicy, eids: Sequence[str], *, now: datetime, recent_window: int
) -> list[AlertChange]:
    """The newly watched enterprises' active findings, as news to this one bank."""
    if not eids:
        return []
    watermark = _watermark(session)
    dets = session.scalars(
        select(DetectionRow).where(DetectionRow.enterprise_id.in_(eids), DetectionRow.status == "active")
    ).all()
    by_eid: dict[str, list[DetectionRow]] = {}
    for d in dets:
        by_eid.setdefault(d.enterprise_id, []).append(d)
    risks = {eid: combined_risk((d.signal, Severity(d.severity)) for d in rows) or Severity.LOW
             for eid, rows in by_eid.items()}
    names = dict(session.execute(select(Enterprise.id, Enterprise.name).where(Enterprise.id.in_(list(by_eid)))).all())
    recent = [Transition("new", d) for d in dets
              if not (watermark and months_between(d.start_period, watermark) > recent_window)]
    return fan_out(session, recent, {policy.id: policy}, names=names, risks=risks, now=now)


def remove_entries(
    session: Session, bank_id: str, *, enterprise_id: str | None = None, loan_id: str | None = None
) -> int:
    q = delete(WatchlistEntry).where(WatchlistEntry.bank_id == bank_id)
    if enterprise_id:
        q = q.where(WatchlistEntry.enterprise_id == enterprise_id)
    if loan_id:
        q = q.where(WatchlistEntry.loan_id == loan_id)
    return session.execute(q).rowcount or 0


def list_entries(session: Session, bank_id: str, *, after: tuple[str, str] | None = None,
                 limit: int | None = None) -> list[LoanRow]:
    """The bank's loans by enterprise and loan id; ``after`` is the (enterprise_id, loan_id) of the
    last loan of the previous page."""
    q = (select(WatchlistEntry).where(WatchlistEntry.bank_id == bank_id)
         .order_by(WatchlistEntry.enterprise_id, WatchlistEntry.loan_id).limit(limit))
    if after is not None:
        eid, loan = after
        q = q.where(or_(WatchlistEntry.enterprise_id > eid,
                        and_(WatchlistEntry.enterprise_id == eid, WatchlistEntry.loan_id > loan)))
    return [LoanRow.of(e) for e in session.scalars(q)]
