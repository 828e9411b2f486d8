"""Bank watchlists: which enterprises a bank lent to, under which loans.

A CSV is checked whole before anything is written: one bad row is reported
with its line number and the file is not half-imported. Adding an enterprise
that already has current findings tells the bank about those (they are news
to this bank); findings outside the recent window stay quiet.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from alerts.fanout import AlertChange, open_alert_for
from alerts.policy import BankPolicy
from detectors.periods import months_between
from detectors.risk import combined_risk
from detectors.severity import Severity
from store.models import DetectionRow, Enterprise, PipelineState, WatchlistEntry
from store.upsert import insert_for
from streams.uscc import uscc_problem

__all__ = [
    "LoanRow",
    "WatchlistError",
    "parse_watchlist_csv",
    "add_entries",
    "remove_entries",
    "list_entries",
    "HEADER",
]

HEADER = ("enterprise_id", "loan_id", "exposure", "due_date", "relationship_manager", "name")
REQUIRED = HEADER[:5]


class WatchlistError(ValueError):
    """A watchlist file or entry is wrong; ``errors`` lists every problem with its line."""

    def __init__(self, errors: Sequence[str]) -> None:
        super().__init__(
            "; ".join(errors[:20]) + (f" (and {len(errors) - 20} more)" if len(errors) > 20 else "")
        )
        self.errors = list(errors)


@dataclass(frozen=True)
class LoanRow:
    enterprise_id: str
    loan_id: str
    exposure: float
    due_date: date | None
    relationship_manager: str | None
    name: str | None = None


def check_row(values: dict[str, str], where: str) -> tuple[LoanRow | None, list[str]]:
    errors = []
    eid = (values.get("enterprise_id") or "").strip().upper()
    problem = uscc_problem(eid)
    if problem:
        errors.append(f"{where}: enterprise_id: {problem[1]}")
    loan = (values.get("loan_id") or "").strip()
    if not loan:
        errors.append(f"{where}: loan_id is empty")
    exposure = None
    try:
        exposure = float((values.get("exposure") or "").replace(",", ""))
        if exposure < 0 or exposure != exposure:
            errors.append(
                f"{where}: exposure must be a non-negative amount in CNY, got {values.get('exposure')!r}"
            )
    except ValueError:
        errors.append(f"{where}: exposure {values.get('exposure')!r} is not a number")
    due = None
    raw_due = (values.get("due_date") or "").strip()
    if raw_due:
        try:
            due = date.fromisoformat(raw_due)
        except ValueError:
            errors.append(f"{where}: due_date {raw_due!r} is not YYYY-MM-DD")
    else:
        errors.append(f"{where}: due_date is empty")
    rm = (values.get("relationship_manager") or "").strip() or None
    name = (values.get("name") or "").strip() or None
    if errors:
        return None, errors
    return LoanRow(eid, loan, float(exposure), due, rm, name), []


def parse_watchlist_csv(text: str, source: str = "watchlist.csv") -> list[LoanRow]:
    """All rows, or a WatchlistError listing every bad line."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [h for h in REQUIRED if h not in header]
    if missing:
        raise WatchlistError(
            [f"{source}:1: header must have {','.join(HEADER)}; missing {', '.join(missing)}"]
        )
    unknown = [h for h in header if h not in HEADER]
    if unknown:
        raise WatchlistError([f"{source}:1: unknown column {unknown[0]!r}; valid: {','.join(HEADER)}"])
    rows, errors, seen = [], [], {}
    for values in reader:
        line = reader.line_num
        values = {(k or "").strip(): v for k, v in values.items()}
        if None in values or "" in values:
            errors.append(f"{source}:{line}: more fields than the header")
            continue
        row, errs = check_row(values, f"{source}:{line}")
        errors.extend(errs)
        if row is not None:
            if row.loan_id in seen:
                errors.append(f"{source}:{line}: loan_id {row.loan_id!r} repeats line {seen[row.loan_id]}")
            seen[row.loan_id] = line
            rows.append(row)
    if errors:
        raise WatchlistError(errors)
    return rows


def _recent(session: Session, window: int) -> str | None:
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
            delete(WatchlistEntry).where(
                WatchlistEntry.bank_id == policy.bank_id, WatchlistEntry.loan_id.not_in(keep)
            )
        )
    existing = {
        e.loan_id: e
        for e in session.scalars(
            select(WatchlistEntry).where(
                WatchlistEntry.bank_id == policy.bank_id,
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
                    bank_id=policy.bank_id,
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
    if not eids:
        return []
    watermark = _recent(session, recent_window)
    out = []
    dets = session.scalars(
        select(DetectionRow).where(DetectionRow.enterprise_id.in_(eids), DetectionRow.status == "active")
    ).all()
    by_eid: dict[str, list[DetectionRow]] = {}
    for d in dets:
        by_eid.setdefault(d.enterprise_id, []).append(d)
    for eid, rows in by_eid.items():
        entries = session.scalars(
            select(WatchlistEntry).where(
                WatchlistEntry.bank_id == policy.bank_id, WatchlistEntry.enterprise_id == eid
            )
        ).all()
        risk = combined_risk((d.signal, Severity(d.severity)) for d in rows) or Severity.LOW
        ent = session.get(Enterprise, eid)
        for d in rows:
            if watermark and months_between(d.start_period, watermark) > recent_window:
                continue
            change = open_alert_for(
                session,
                d,
                "new",
                policy,
                entries,
                name=ent.name if ent else None,
                risk=risk,
                previous=None,
                now=now,
            )
            if change:
                out.append(change)
    return out


def remove_entries(
    session: Session, bank_id: str, *, enterprise_id: str | None = None, loan_id: str | None = None
) -> int:
    q = delete(WatchlistEntry).where(WatchlistEntry.bank_id == bank_id)
    if enterprise_id:
        q = q.where(WatchlistEntry.enterprise_id == enterprise_id)
    if loan_id:
        q = q.where(WatchlistEntry.loan_id == loan_id)
    return session.execute(q).rowcount or 0


def list_entries(session: Session, bank_id: str) -> list[WatchlistEntry]:
    return list(
        session.scalars(
            select(WatchlistEntry)
            .where(WatchlistEntry.bank_id == bank_id)
            .order_by(WatchlistEntry.enterprise_id, WatchlistEntry.loan_id)
        )
    )
