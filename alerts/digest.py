"""The daily digest: one message per bank, its alerts of the last day ranked by what is at stake.

Ranking is by the bank's exposure to the enterprise first, then severity:
a medium finding on a 50-million loan comes before a high one on half a
million, which is how a risk committee reads its list. Medium alerts routed
to the digest are seen here and nowhere else.
"""

from __future__ import annotations

import html
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from alerts.audit import record
from alerts.fanout import enqueue
from alerts.message import Message
from alerts.policy import BankPolicy
from alerts.render import _cny, signal_name
from detectors.periods import CHINA_TZ, as_utc, china_date
from detectors.severity import Severity
from store.models import AlertRow, DetectionRow, Enterprise, PipelineState, WatchlistEntry

__all__ = ["build_digest", "queue_digest", "queue_due_digests", "render_digest"]


def build_digest(session: Session, policy: BankPolicy, *, since: datetime, now: datetime) -> dict:
    alerts = session.scalars(select(AlertRow).where(
        AlertRow.bank_id == policy.id,
        or_(AlertRow.created_at >= since, AlertRow.updated_at >= since, AlertRow.resolved_at >= since))).all()
    eids = {a.enterprise_id for a in alerts}
    exposure: dict[str, float] = {}
    loans: dict[str, list[str]] = {}
    for e in session.scalars(select(WatchlistEntry).where(WatchlistEntry.bank_id == policy.id,
                                                           WatchlistEntry.enterprise_id.in_(eids))):
        exposure[e.enterprise_id] = exposure.get(e.enterprise_id, 0.0) + float(e.exposure)
        loans.setdefault(e.enterprise_id, []).append(e.loan_id)
    names = dict(session.execute(select(Enterprise.id, Enterprise.name).where(Enterprise.id.in_(eids))).all())
    rows = []
    for a in alerts:
        det = session.get(DetectionRow, a.detection_id)
        ev = det.evidence if det else {}
        rows.append({
            "alert_id": a.id, "enterprise_id": a.enterprise_id, "enterprise_name": names.get(a.enterprise_id),
            "signal": a.signal, "change_period": a.change_period, "severity": Severity(a.severity).label,
            "status": a.status, "exposure": exposure.get(a.enterprise_id, 0.0),
            "loans": sorted(loans.get(a.enterprise_id, [])), "level_before": ev.get("level_before"),
            "level_after": ev.get("level_after"), "relative_change": ev.get("relative_change"),
            "assignee": a.assignee, "acknowledged": bool(a.acknowledged_by),
        })
    rows.sort(key=lambda r: (-r["exposure"], -int(Severity.parse(r["severity"])), r["enterprise_id"], r["signal"]))
    open_total = len(session.scalars(select(AlertRow.id).where(AlertRow.bank_id == policy.id,
                                                                AlertRow.status == "open")).all())
    return {"type": "digest", "version": "1", "bank_id": policy.id, "bank_name": policy.name,
            "locale": policy.locale, "date": china_date(now).isoformat(), "since": as_utc(since).isoformat(),
            "alerts": rows, "open_total": open_total}


def queue_digest(session: Session, policy: BankPolicy, *, now: datetime, since: datetime) -> dict:
    payload = build_digest(session, policy, since=since, now=now)
    enqueue(session, policy, policy.digest_receivers(), dedupe_key=f"digest:{policy.id}:{payload['date']}",
            kind="digest", payload=payload, now=now)
    record(session, "digest_queued", at=now, bank_id=policy.id, date=payload["date"],
           alerts=len(payload["alerts"]))
    return payload


def queue_due_digests(session: Session, policies: dict[str, BankPolicy], now: datetime) -> int:
    """Queue today's digest for every bank whose digest hour (China time) has come; once a day."""
    n = 0
    local = as_utc(now).astimezone(CHINA_TZ)
    for policy in policies.values():
        if not policy.digest.enabled or local.hour < policy.digest.hour:
            continue
        key = f"digest:{policy.id}"
        state = session.get(PipelineState, key)
        today = local.date().isoformat()
        if state is not None and state.value.split("|")[0] >= today:
            continue
        since = datetime.fromisoformat(state.value.split("|")[1]) if state else as_utc(now) - timedelta(days=1)
        queue_digest(session, policy, now=now, since=since)
        value = f"{today}|{as_utc(now).isoformat()}"
        if state is None:
            session.add(PipelineState(key=key, value=value))
        else:
            state.value = value
        n += 1
    return n


_T = {
    "zh-CN": {"title": "{bank} 贷后风险日报 {date}", "empty": "过去一天没有新的或变化的预警。",
              "open": "目前未解除的预警共 {n} 条。", "cols": ("企业", "信号", "起始", "级别", "状态", "敞口", "变化"),
              "status": {"open": "未解除", "resolved": "已解除"}},
    "en": {"title": "{bank} post-loan risk digest {date}", "empty": "No new or changed alerts in the last day.",
           "open": "{n} alert(s) open in all.", "cols": ("Enterprise", "Signal", "From", "Severity", "Status",
                                                          "Exposure", "Change"),
           "status": {"open": "open", "resolved": "resolved"}},
}


def render_digest(payload: dict) -> Message:
    loc = payload.get("locale", "zh-CN")
    t = _T[loc]
    title = t["title"].format(bank=payload["bank_name"], date=payload["date"])
    rows = []
    for r in payload["alerts"]:
        change = f"{r['relative_change'] * 100:+.0f}%" if isinstance(r.get("relative_change"), int | float) else ""
        rows.append((f"{r.get('enterprise_name') or ''} {r['enterprise_id']}".strip(), signal_name(r["signal"], loc),
                     r["change_period"], r["severity"], t["status"].get(r["status"], r["status"]),
                     _cny(r["exposure"], loc), change))
    footer = t["open"].format(n=payload["open_total"])
    if not rows:
        text = f"{title}\n\n{t['empty']}\n{footer}"
        return Message(title, text, f"**{title}**\n\n{t['empty']}\n\n{footer}",
                       f"<html><body><h2>{html.escape(title)}</h2><p>{t['empty']}</p><p>{footer}</p></body></html>")
    text = title + "\n\n" + "\n".join(f"{i}. " + " · ".join(x for x in row if x) for i, row in enumerate(rows, 1))
    md = f"**{title}**\n\n" + "\n".join(f"{i}. " + " · ".join(x for x in row if x) for i, row in enumerate(rows, 1))
    head = "".join(f'<th style="text-align:left;padding:4px 8px">{html.escape(c)}</th>' for c in t["cols"])
    body = "".join("<tr>" + "".join(f'<td style="padding:4px 8px;border-top:1px solid #ddd">{html.escape(c)}</td>'
                                    for c in row) + "</tr>" for row in rows)
    page = (f"<html><body><h2>{html.escape(title)}</h2><table style=\"border-collapse:collapse\">"
            f"<tr>{head}</tr>{body}</table><p>{html.escape(footer)}</p></body></html>")
    return Message(title, f"{text}\n\n{footer}", f"{md}\n\n{footer}", page)
