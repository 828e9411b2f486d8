"""AlertView to and from the JSON frozen in an outbox row."""

from __future__ import annotations

from typing import Any

from alerts.message import AlertView, LoanRef
from detectors.severity import Severity

__all__ = ["view_to_dict", "view_from_dict"]


def view_to_dict(v: AlertView) -> dict[str, Any]:
    return {
        "alert_id": v.alert_id,
        "bank_id": v.bank_id,
        "bank_name": v.bank_name,
        "locale": v.locale,
        "kind": v.kind,
        "enterprise_id": v.enterprise_id,
        "enterprise_name": v.enterprise_name,
        "loans": [
            {
                "loan_id": ln.loan_id,
                "exposure": ln.exposure,
                "due_date": ln.due_date,
                "relationship_manager": ln.relationship_manager,
            }
            for ln in v.loans
        ],
        "signal": v.signal,
        "change_period": v.change_period,
        "severity": v.severity.label,
        "previous_severity": v.previous_severity.label if v.previous_severity else None,
        "risk_level": v.risk_level.label,
        "direction": v.direction,
        "evidence": v.evidence,
        "detected_at": v.detected_at,
    }


_FIELDS = frozenset(AlertView.__dataclass_fields__)


def view_from_dict(d: dict[str, Any]) -> AlertView:
    """Rebuild a view; keys the view does not have (``related`` of a grouped message) are not its business."""
    fields = {k: v for k, v in d.items() if k in _FIELDS}
    fields["loans"] = tuple(LoanRef(**ln) for ln in d.get("loans", ()))
    fields["severity"] = Severity.parse(d["severity"])
    fields["risk_level"] = Severity.parse(d["risk_level"])
    prev = d.get("previous_severity")
    fields["previous_severity"] = Severity.parse(prev) if prev else None
    return AlertView(**fields)
