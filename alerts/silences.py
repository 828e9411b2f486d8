"""Silences: a bank's decision not to be told about an enterprise and/or a signal for a while.

They live in the store (runtime state, as in Alertmanager), carry a reason,
an author and an expiry, and are never deleted: ending one early records who
ended it. When a silence runs out the bank is told, with the alerts it held
back that are still open, so nothing silenced is silently forgotten.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts.audit import record
from alerts.exceptions import InvalidAction, SilenceNotFound
from alerts.fanout import enqueue
from alerts.message import Message
from alerts.policy import BankPolicy
from alerts.render import signal_name
from detectors.periods import as_utc
from detectors.severity import Severity
from store.models import AlertRow, Enterprise, Silence

__all__ = ["SilenceView", "add_silence", "end_silence", "list_silences", "expire_silences", "render_expiry"]


@dataclass(frozen=True)
class SilenceView:
    """A silence as a risk manager lists it; timestamps in UTC, ISO 8601."""

    id: int
    bank_id: str
    enterprise_id: str | None
    signal: str | None
    reason: str
    author: str
    created_at: str
    expires_at: str
    state: str  # active | expired | ended

    @classmethod
    def of(cls, s: Silence, now: datetime) -> SilenceView:
        state = "ended" if s.ended_by else ("active" if as_utc(s.expires_at) > as_utc(now) else "expired")
        return cls(s.id, s.bank_id, s.enterprise_id, s.signal, s.reason, s.author, as_utc(s.created_at).isoformat(),
                   as_utc(s.expires_at).isoformat(), state)


def add_silence(session: Session, bank_id: str, *, enterprise_id: str | None, signal: str | None, reason: str,
                author: str, expires_at: datetime, now: datetime) -> Silence:
    if not enterprise_id and not signal:
        raise InvalidAction("a silence needs an enterprise, a signal, or both (silencing a whole bank is not allowed)")
    if not reason.strip():
        raise InvalidAction("a silence needs a reason")
    if not author.strip():
        raise InvalidAction("a silence needs an author")
    if as_utc(expires_at) <= as_utc(now):
        raise InvalidAction("the expiry must be in the future")
    s = Silence(bank_id=bank_id, enterprise_id=enterprise_id, signal=signal, reason=reason, author=author,
                created_at=now, expires_at=expires_at, expired_notified_at=None, ended_by=None)
    session.add(s)
    session.flush()
    record(session, "silence_created", at=now, bank_id=bank_id, enterprise_id=enterprise_id, actor=author,
           silence_id=s.id, signal=signal, reason=reason, expires_at=expires_at.isoformat())
    return s


def end_silence(session: Session, bank_id: str, silence_id: int, *, by: str, now: datetime) -> Silence:
    s = session.get(Silence, silence_id)
    if s is None or s.bank_id != bank_id:
        raise SilenceNotFound(f"no silence #{silence_id} for bank {bank_id}")
    if s.ended_by or as_utc(s.expires_at) <= as_utc(now):
        raise InvalidAction(f"silence #{silence_id} is no longer active")
    s.ended_by, s.expires_at = by, now
    record(session, "silence_ended", at=now, bank_id=bank_id, actor=by, silence_id=s.id)
    return s


def list_silences(session: Session, bank_id: str, now: datetime, *, include_old: bool = False) -> list[SilenceView]:
    views = [SilenceView.of(s, now)
             for s in session.scalars(select(Silence).where(Silence.bank_id == bank_id).order_by(Silence.id))]
    return [v for v in views if include_old or v.state == "active"]


def expire_silences(session: Session, policies: dict[str, BankPolicy], now: datetime) -> int:
    """Tell each bank about its silences that ran out (once each); returns how many."""
    due = session.scalars(select(Silence).where(Silence.expires_at <= now, Silence.expired_notified_at.is_(None),
                                                Silence.ended_by.is_(None))).all()
    for s in due:
        s.expired_notified_at = now
        held = session.scalars(select(AlertRow).where(AlertRow.silenced_by == s.id, AlertRow.status == "open")).all()
        record(session, "silence_expired", at=now, bank_id=s.bank_id, enterprise_id=s.enterprise_id,
               silence_id=s.id, held_open=len(held))
        policy = policies.get(s.bank_id)
        if policy is None:
            continue
        names = dict(session.execute(select(Enterprise.id, Enterprise.name).where(
            Enterprise.id.in_({a.enterprise_id for a in held} | ({s.enterprise_id} if s.enterprise_id else set()))
        )).all())
        payload = {
            "type": "silence_expired", "version": "1", "bank_id": s.bank_id, "bank_name": policy.name,
            "locale": policy.locale, "silence": {
                "id": s.id, "enterprise_id": s.enterprise_id, "enterprise_name": names.get(s.enterprise_id),
                "signal": s.signal, "reason": s.reason, "author": s.author,
                "created_at": as_utc(s.created_at).isoformat(), "expires_at": as_utc(s.expires_at).isoformat()},
            "held_alerts": [{"alert_id": a.id, "enterprise_id": a.enterprise_id,
                             "enterprise_name": names.get(a.enterprise_id), "signal": a.signal,
                             "change_period": a.change_period, "severity": Severity(a.severity).label}
                            for a in held],
        }
        for a in held:
            a.silenced_by = None
        receivers = policy.route(Severity.CRITICAL, s.signal or "").now or tuple(policy.receivers)
        enqueue(session, policy, receivers, dedupe_key=f"silence:{s.id}:expired", kind="silence_expired",
                payload=payload, now=now, enterprise_id=s.enterprise_id)
    return len(due)


_T = {
    "zh-CN": {"title": "静默已到期：{what}", "what_e": "企业 {e}", "what_s": "信号「{s}」", "and": "，",
              "reason": "静默原因", "author": "设置人", "period": "静默期", "held": "静默期间未推送、目前仍未解除的预警",
              "none": "静默期间没有被压下的预警。", "footer": "此后相关预警将恢复正常推送。"},
    "en": {"title": "Silence expired: {what}", "what_e": "enterprise {e}", "what_s": "signal “{s}”", "and": ", ",
           "reason": "Reason", "author": "Set by", "period": "Silenced", "held": "Alerts held back and still open",
           "none": "No alert was held back while it lasted.", "footer": "Alerts for it are sent again from now on."},
}


def render_expiry(payload: dict) -> Message:
    loc = payload.get("locale", "zh-CN")
    t = _T[loc]
    s = payload["silence"]
    parts = []
    if s.get("enterprise_id"):
        parts.append(t["what_e"].format(e=f"{s.get('enterprise_name') or ''} {s['enterprise_id']}".strip()))
    if s.get("signal"):
        parts.append(t["what_s"].format(s=signal_name(s["signal"], loc)))
    title = t["title"].format(what=t["and"].join(parts))
    lines = [f"{t['reason']}: {s['reason']}", f"{t['author']}: {s['author']}",
             f"{t['period']}: {s['created_at'][:16]} → {s['expires_at'][:16]}"]
    held = payload.get("held_alerts") or []
    if held:
        lines.append(f"{t['held']}:")
        lines += [f"- {a.get('enterprise_name') or ''} {a['enterprise_id']} · {signal_name(a['signal'], loc)} · "
                  f"{a['change_period']} · {a['severity']} · {a['alert_id']}" for a in held]
    else:
        lines.append(t["none"])
    lines.append(t["footer"])
    text = title + "\n\n" + "\n".join(lines)
    body = "".join(f"<p>{html.escape(x)}</p>" for x in lines)
    return Message(title, text, f"**{title}**\n\n" + "\n".join(lines),
                   f"<html><body><h2>{html.escape(title)}</h2>{body}</body></html>")
