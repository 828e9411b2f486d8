"""What risk managers do with an alert: acknowledge, assign, comment, resolve, give feedback.

Each action is checked against the bank (a bank can only touch its own
alerts) and lands in the audit trail with who did it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from alerts.audit import record
from alerts.exceptions import AlertNotFound, InvalidAction
from store.models import AlertRow

__all__ = ["RESOLUTION_CODES", "FEEDBACK", "acknowledge", "assign", "comment", "resolve", "feedback", "get_alert"]

RESOLUTION_CODES = ("repaid", "restructured", "collateral_enforced", "written_off", "false_alarm", "risk_accepted",
                    "returned_to_normal", "other")
FEEDBACK = ("true_positive", "false_positive")


def get_alert(session: Session, bank_id: str, alert_id: str) -> AlertRow:
    alert = session.get(AlertRow, alert_id)
    if alert is None or alert.bank_id != bank_id:  # another bank's alert is as good as absent
        raise AlertNotFound(f"no alert {alert_id} for bank {bank_id}")
    return alert


def _who(by: str) -> str:
    if not by or not by.strip():
        raise InvalidAction("say who is acting (--by)")
    return by.strip()


def acknowledge(session: Session, bank_id: str, alert_id: str, *, by: str, now: datetime) -> AlertRow:
    a = get_alert(session, bank_id, alert_id)
    a.acknowledged_by, a.acknowledged_at, a.updated_at = _who(by), now, now
    record(session, "acknowledged", at=now, bank_id=bank_id, alert_id=a.id, enterprise_id=a.enterprise_id, actor=by)
    return a


def assign(session: Session, bank_id: str, alert_id: str, *, to: str, by: str, now: datetime) -> AlertRow:
    a = get_alert(session, bank_id, alert_id)
    if not to.strip():
        raise InvalidAction("assign to whom?")
    previous = a.assignee
    a.assignee, a.updated_at = to.strip(), now
    record(session, "assigned", at=now, bank_id=bank_id, alert_id=a.id, enterprise_id=a.enterprise_id,
           actor=_who(by), to=a.assignee, previous=previous)
    return a


def comment(session: Session, bank_id: str, alert_id: str, *, text: str, by: str, now: datetime) -> AlertRow:
    a = get_alert(session, bank_id, alert_id)
    if not text.strip():
        raise InvalidAction("the comment is empty")
    record(session, "commented", at=now, bank_id=bank_id, alert_id=a.id, enterprise_id=a.enterprise_id,
           actor=_who(by), text=text.strip())
    return a


def resolve(session: Session, bank_id: str, alert_id: str, *, code: str, by: str, now: datetime,
            note: str | None = None) -> AlertRow:
    a = get_alert(session, bank_id, alert_id)
    if code not in RESOLUTION_CODES:
        raise InvalidAction(f"unknown resolution code {code!r}; valid: {', '.join(RESOLUTION_CODES)}")
    if a.status == "resolved":
        raise InvalidAction(f"alert {alert_id} is already resolved ({a.resolution_code})")
    a.status, a.resolution_code, a.resolved_by, a.resolved_at, a.updated_at = "resolved", code, _who(by), now, now
    record(session, "resolved", at=now, bank_id=bank_id, alert_id=a.id, enterprise_id=a.enterprise_id, actor=by,
           code=code, note=note)
    return a


def feedback(session: Session, bank_id: str, alert_id: str, *, verdict: str, by: str, now: datetime,
             note: str | None = None) -> AlertRow:
    a = get_alert(session, bank_id, alert_id)
    if verdict not in FEEDBACK:
        raise InvalidAction(f"feedback must be one of {', '.join(FEEDBACK)}")
    a.feedback, a.updated_at = verdict, now
    record(session, "feedback", at=now, bank_id=bank_id, alert_id=a.id, enterprise_id=a.enterprise_id,
           actor=_who(by), verdict=verdict, note=note)
    return a
