"""Turning a fresh detector run into state changes of stored detections.

Detectors are re-run whenever an enterprise's history changes, and they may
place the same change a month earlier or later as data accrues. A finding
within its detector's ``same_change_months`` of a stored one of the same
signal *is* that one: it keeps its original start period, so the alert identity does not move.
What the detectors no longer report has resolved. A new finding whose start
lies outside the recent window is kept as history and never alerted, which is
what keeps a backfill from flooding banks with old news.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from detectors.periods import months_between
from detectors.records import Detection
from store.models import DetectionRow
from store.transitions import Transition

__all__ = ["reconcile"]


def reconcile(
    session: Session,
    enterprise_id: str,
    found: Sequence[Detection],
    stored: Sequence[DetectionRow],
    *,
    watermark: str,
    recent_window: int,
    as_of: str,
    now: datetime,
    same_change_months: Mapping[str, int],
) -> list[Transition]:
    """Apply ``found`` to ``stored`` (this enterprise's active, historical and resolved rows).

    ``same_change_months``: per signal, what its detector declares (``DetectorSet.same_change_months``).
    """
    out: list[Transition] = []
    live = [r for r in stored if r.status in ("active", "historical")]
    by_identity = {(r.signal, r.start_period): r for r in stored}
    matched: set[int] = set()
    for d in sorted(found, key=lambda d: (d.signal, d.start_period)):
        tol = same_change_months[d.signal]
        candidates = [r for r in live if r.signal == d.signal and id(r) not in matched
                      and abs(months_between(r.start_period, d.start_period)) <= tol]
        row = min(candidates, key=lambda r: abs(months_between(r.start_period, d.start_period)), default=None)
        evidence = d.evidence.to_dict()
        if row is not None:
            matched.add(id(row))
            previous = row.severity
            row.evidence, row.as_of_period, row.updated_at = evidence, as_of, now
            row.severity = int(d.severity)
            if row.status == "active":
                if row.severity > previous:
                    out.append(Transition("escalated", row, previous))
                elif row.severity < previous:
                    out.append(Transition("deescalated", row, previous))
                else:
                    out.append(Transition("updated", row, previous))
            continue
        again = by_identity.get((d.signal, d.start_period))
        if again is not None and again.status == "resolved":
            # A relapse of the very same change: reopen it.
            again.status, again.resolved_at = "active", None
            again.severity, again.evidence, again.as_of_period, again.updated_at = int(d.severity), evidence, as_of, now
            matched.add(id(again))
            out.append(Transition("new", again, None))
            continue
        recent = months_between(d.start_period, watermark) <= recent_window
        row = DetectionRow(
            enterprise_id=enterprise_id, signal=d.signal, start_period=d.start_period, direction=d.direction,
            severity=int(d.severity), status="active" if recent else "historical", evidence=evidence,
            as_of_period=as_of, first_seen_at=now, updated_at=now, resolved_at=None,
        )
        session.add(row)
        by_identity[(d.signal, d.start_period)] = row
        if recent:
            out.append(Transition("new", row, None))
    for row in live:
        if id(row) in matched:
            continue
        if row.status == "active":
            row.status, row.resolved_at, row.updated_at = "resolved", now, now
            out.append(Transition("resolved", row, row.severity))
        else:
            row.status, row.updated_at = "resolved", now
    return out
