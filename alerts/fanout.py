"""From detection changes to alerts and outbox rows, bank by bank.

Detection happens once per enterprise; here each bank that watches the
enterprise gets its own alert, judged by its own policy (signals of interest,
size thresholds, its own severity after escalation for large or soon-due
loans), routed to its own receivers, rendered with only its own loans.
Silences and inhibition decide what is held back; every decision goes to the
audit trail. Everything is written in the caller's transaction, so an alert
and its deliveries exist exactly when the state change that caused them does
(the outbox pattern).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from alerts.audit import record
from alerts.channels import redact
from alerts.identity import alert_id, channel_key
from alerts.message import AlertView, LoanRef
from alerts.policy import BankPolicy, InhibitRule
from alerts.views import view_to_dict
from detectors.periods import china_date
from detectors.severity import Severity
from store.models import AlertRow, Delivery, DetectionRow, Silence, WatchlistEntry
from store.transitions import Transition

__all__ = ["AlertChange", "fan_out", "enqueue", "active_silence"]

# Detection changes a bank may hear about; ``updated`` (new evidence, same severity) is not news.
_NEWS = ("new", "escalated", "deescalated", "resolved")


@dataclass(frozen=True)
class AlertChange:
    """An alert that was opened, escalated or resolved, and whether it went out.

    ``held`` says why nothing was queued to send now: ``silenced``,
    ``inhibited``, ``digest`` (waits for the daily digest) or ``unrouted``.
    """

    kind: str
    alert: AlertRow
    view: AlertView
    held: str | None = None


def _loans(entries: Sequence[WatchlistEntry]) -> tuple[LoanRef, ...]:
    return tuple(LoanRef(e.loan_id, float(e.exposure), e.due_date.isoformat() if e.due_date else None,
                         e.relationship_manager) for e in sorted(entries, key=lambda e: e.loan_id))


def _view(kind: str, alert: AlertRow, det: DetectionRow, policy: BankPolicy, entries: Sequence[WatchlistEntry],
          name: str | None, risk: Severity, previous: int | None, now: datetime) -> AlertView:
    return AlertView(
        alert_id=alert.id, bank_id=policy.id, bank_name=policy.name, locale=policy.locale,
        kind=kind, enterprise_id=det.enterprise_id, enterprise_name=name, loans=_loans(entries),
        signal=det.signal, change_period=det.start_period, severity=Severity(alert.severity),
        previous_severity=Severity(previous) if previous else None, risk_level=max(risk, Severity(alert.severity)),
        direction=det.direction, evidence=det.evidence, detected_at=now.isoformat(),
    )


def enqueue(session: Session, policy: BankPolicy, receivers: Sequence[str], *, dedupe_key: str, kind: str,
            payload: dict, now: datetime, alert: AlertRow | None = None, enterprise_id: str | None = None,
            delay_seconds: float = 0.0) -> int:
    """Queue one message to each named receiver; returns how many rows were queued."""
    due = now + timedelta(seconds=delay_seconds)
    n = 0
    for name in receivers:
        url = policy.receivers.get(name)
        if url is None:
            continue
        session.add(Delivery(
            dedupe_key=dedupe_key, alert_id=alert.id if alert else None, bank_id=policy.id,
            enterprise_id=enterprise_id or (alert.enterprise_id if alert else None),
            transition=alert.transitions if alert else 0, kind=kind, channel_key=channel_key(url),
            channel=redact(url), status="pending", attempts=0, next_attempt_at=due, last_error=None,
            payload=payload, created_at=now, sent_at=None,
        ))
        n += 1
    return n


def active_silence(session: Session, bank_id: str, enterprise_id: str, signal: str,
                   now: datetime) -> Silence | None:
    q = select(Silence).where(Silence.bank_id == bank_id, Silence.expires_at > now,
                              Silence.ended_by.is_(None),
                              (Silence.enterprise_id.is_(None)) | (Silence.enterprise_id == enterprise_id),
                              (Silence.signal.is_(None)) | (Silence.signal == signal)).order_by(Silence.id)
    return session.scalars(q).first()


def _inhibitor(session: Session, bank_id: str, enterprise_id: str, signal: str, severity: Severity,
               rules: Sequence[InhibitRule]) -> AlertRow | None:
    for rule in rules:
        if signal in rule.source_signals or severity > rule.target_max_severity:
            continue
        source = session.scalars(select(AlertRow).where(
            AlertRow.bank_id == bank_id, AlertRow.enterprise_id == enterprise_id, AlertRow.status == "open",
            AlertRow.signal.in_(rule.source_signals))).first()
        if source is not None:
            return source
    return None


def _related(session: Session, alert: AlertRow, rules: Sequence[InhibitRule]) -> list[dict]:
    """Open lesser alerts an inhibiting alert carries inside its message."""
    if not any(alert.signal in r.source_signals for r in rules):
        return []
    others = session.scalars(select(AlertRow).where(
        AlertRow.bank_id == alert.bank_id, AlertRow.enterprise_id == alert.enterprise_id,
        AlertRow.status == "open", AlertRow.id != alert.id)).all()
    out = []
    for o in others:
        det = session.get(DetectionRow, o.detection_id)
        out.append({"alert_id": o.id, "signal": o.signal, "change_period": o.change_period,
                    "severity": Severity(o.severity).label, "evidence": det.evidence if det else {}})
    return out


def _was_sent(session: Session, aid: str) -> bool:
    return bool(session.scalar(select(exists().where(Delivery.alert_id == aid))))


def _apply(
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
) -> AlertChange | None:
    """Apply one detection change to one bank's alert; returns what changed for the bank, if anything.

    Silences and the policy's inhibit rules decide whether it is sent now.
    """
    aid = alert_id(policy.id, det.enterprise_id, det.signal, det.start_period)
    alert = session.get(AlertRow, aid)
    audit = {"at": now, "bank_id": policy.id, "alert_id": aid, "enterprise_id": det.enterprise_id}
    if kind == "resolved":
        if alert is None or alert.status != "open":
            return None
        alert.status, alert.resolved_at, alert.updated_at, alert.resolved_by = "resolved", now, now, "loanwatch"
        alert.resolution_code = "returned_to_normal"
        alert.transitions += 1
        record(session, "resolved", **audit, signal=det.signal, reason="the finding no longer holds")
        view = _view("resolved", alert, det, policy, entries, name, risk, None, now)
        if not _was_sent(session, aid):
            return AlertChange("resolved", alert, view, held="never_sent")
        routing = policy.route(Severity(alert.severity), det.signal)
        enqueue(session, policy, routing.now, dedupe_key=f"{aid}:{alert.transitions}", kind="resolved",
                payload=view_to_dict(view), now=now, alert=alert, delay_seconds=policy.group_wait_seconds)
        return AlertChange("resolved", alert, view, held=None if routing.now else "digest")

    loans = [(e.exposure, e.due_date) for e in entries]
    severity = policy.severity_for(det.signal, Severity(det.severity), det.evidence.get("relative_change"),
                                   loans, china_date(now))
    if severity is None:
        if alert is not None and alert.status == "open":
            alert.severity, alert.updated_at = min(alert.severity, det.severity), now
        return None
    if alert is None:
        alert = AlertRow(id=aid, bank_id=policy.id, enterprise_id=det.enterprise_id, signal=det.signal,
                         change_period=det.start_period, detection_id=det.id, severity=int(severity),
                         status="open", transitions=1, created_at=now, updated_at=now, resolved_at=None)
        session.add(alert)
        told, prev = "new", None
        record(session, "opened", **audit, signal=det.signal, severity=severity.label,
               detection_severity=Severity(det.severity).label)
    elif alert.status == "resolved":
        alert.status, alert.resolved_at, alert.severity, alert.updated_at = "open", None, int(severity), now
        alert.resolution_code = alert.resolved_by = None
        alert.transitions += 1
        told, prev = "new", None
        record(session, "reopened", **audit, signal=det.signal, severity=severity.label)
    elif severity > Severity(alert.severity):
        prev = alert.severity
        alert.severity, alert.updated_at = int(severity), now
        alert.transitions += 1
        told = "escalated"
        record(session, "escalated", **audit, signal=det.signal, severity=severity.label,
               previous=Severity(prev).label)
    else:
        if severity < Severity(alert.severity):
            record(session, "deescalated", **audit, severity=severity.label,
                   previous=Severity(alert.severity).label)
        alert.severity, alert.updated_at = int(severity), now
        return None
    view = _view(told, alert, det, policy, entries, name, risk, prev, now)

    silence = active_silence(session, policy.id, det.enterprise_id, det.signal, now)
    if silence is not None:
        alert.silenced_by = silence.id
        record(session, "silenced", **audit, silence_id=silence.id, transition=told)
        return AlertChange(told, alert, view, held="silenced")
    source = _inhibitor(session, policy.id, det.enterprise_id, det.signal, severity, policy.inhibit_rules)
    if source is not None:
        alert.inhibited_by = source.id
        record(session, "inhibited", **audit, by=source.id, by_signal=source.signal, transition=told)
        return AlertChange(told, alert, view, held="inhibited")
    alert.silenced_by = alert.inhibited_by = None
    routing = policy.route(severity, det.signal)
    payload = view_to_dict(view)
    related = _related(session, alert, policy.inhibit_rules)
    if related:
        payload["related"] = related
    queued = 0
    if routing.now:
        queued = enqueue(session, policy, routing.now, dedupe_key=f"{aid}:{alert.transitions}", kind=told,
                         payload=payload, now=now, alert=alert, delay_seconds=policy.group_wait_seconds)
    if routing.digest:
        record(session, "held_for_digest", **audit, transition=told)
    if not routing.routed:
        record(session, "unrouted", **audit, transition=told, severity=severity.label)
    held = None if queued else ("digest" if routing.digest else "unrouted")
    return AlertChange(told, alert, view, held=held)


def fan_out(
    session: Session,
    transitions: Sequence[Transition],
    policies: Mapping[str, BankPolicy],
    *,
    names: Mapping[str, str | None],
    risks: Mapping[str, Severity],
    now: datetime,
) -> list[AlertChange]:
    """Alerts for every bank in ``policies`` that watches an enterprise of ``transitions``.

    The pipeline passes every configured bank; a watchlist change passes the
    one bank whose watchlist grew, so only that bank hears about the
    enterprise's current findings. ``names`` and ``risks`` are per enterprise
    (its name, its combined risk level).
    """
    news = [t for t in transitions if t.kind in _NEWS]
    if not news:
        return []
    session.flush()  # new detections need their ids
    eids = sorted({t.row.enterprise_id for t in news})
    watchers: dict[str, dict[str, list[WatchlistEntry]]] = {}  # enterprise -> bank -> that bank's loans
    for entry in session.scalars(select(WatchlistEntry).where(WatchlistEntry.enterprise_id.in_(eids),
                                                              WatchlistEntry.bank_id.in_(sorted(policies)))):
        watchers.setdefault(entry.enterprise_id, {}).setdefault(entry.bank_id, []).append(entry)
    # Inhibiting signals last: lesser findings of the same pass are queued first and so travel inside
    # the inhibitor's grouped message; only later ones, while it stays open, are held behind it.
    sources = frozenset().union(*(p.inhibiting_signals for p in policies.values()))
    news.sort(key=lambda t: (t.row.signal in sources, t.row.enterprise_id, t.row.signal))
    out: list[AlertChange] = []
    for t in news:
        det = t.row
        for bank_id, entries in sorted(watchers.get(det.enterprise_id, {}).items()):
            name = names.get(det.enterprise_id) or next((e.name for e in entries if e.name), None)
            change = _apply(session, det, "new" if t.kind == "deescalated" else t.kind, policies[bank_id], entries,
                            name=name, risk=risks.get(det.enterprise_id, Severity(det.severity)),
                            previous=t.previous_severity, now=now)
            if change is not None:
                out.append(change)
    return out
