"""One outgoing message from one or more outbox rows.

Alerts for the same bank, enterprise and channel that fall due together are
one message: the most severe leads (a court listing before a trend), the
others are carried inside it with their key evidence, never beside it as
separate messages. Digests and silence notices are messages of their own.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from alerts.digest import render_digest
from alerts.message import ALERT_KINDS, AlertView, Message
from alerts.render import _is_rate, _num, _pct, _pct_level, _severity_text, render, signal_name
from alerts.silences import render_expiry
from alerts.views import view_from_dict
from alerts.webhook import webhook_payload
from detectors.severity import Severity

__all__ = ["compose", "ALERT_KINDS"]  # ALERT_KINDS is alerts.message's, named here for the channels
_HEAD = {"zh-CN": "该企业同时出现的其他信号", "en": "Other signals on this enterprise"}
_MORE = {"zh-CN": "（另 {n} 项）", "en": " (+{n} more)"}


def _related_line(item: dict[str, Any], loc: str) -> str:
    ev = item.get("evidence") or {}
    sev = _severity_text(Severity.parse(item["severity"]), loc, "alert")
    text = f"{signal_name(item['signal'], loc)} · {item['change_period']} · {sev}"
    num = _pct_level if _is_rate(ev.get("series") or {}, item["signal"]) else _num
    if ev.get("level_before") is not None and ev.get("level_after") is not None:
        text += f" · {num(ev['level_before'])} → {num(ev['level_after'])}"
        if ev.get("relative_change") is not None:
            text += f" ({_pct(ev['relative_change'])})"
    elif ev.get("events"):
        text += f" · {len(ev['events'])}" + (" 条记录" if loc == "zh-CN" else " record(s)")
    return text


def _alerts(payloads: Sequence[dict]) -> tuple[Message, dict]:
    views = [view_from_dict(p) for p in payloads]
    order = sorted(range(len(views)), key=lambda i: (-int(views[i].severity), "related" not in payloads[i],
                                                     views[i].signal))
    primary_i = order[0]
    primary: AlertView = views[primary_i]
    loc = primary.locale
    members = [views[i] for i in order[1:]]  # queued together with the primary
    carried = []  # open alerts the primary carries (it inhibits them)
    seen = {primary.alert_id, *(v.alert_id for v in members)}
    for item in payloads[primary_i].get("related", ()):
        if item["alert_id"] not in seen:
            seen.add(item["alert_id"])
            carried.append({"kind": "open", **item})
    related = [{"alert_id": v.alert_id, "kind": v.kind, "signal": v.signal, "change_period": v.change_period,
                "severity": v.severity.label, "evidence": v.evidence} for v in members] + carried
    message = render(primary)
    body = webhook_payload(primary)
    if not related:
        return message, body
    body["related"] = [webhook_payload(v) for v in members] + carried
    lines = [_related_line(r, loc) for r in related]
    head = _HEAD[loc]
    title = message.title + _MORE[loc].format(n=len(related))
    text = message.text + f"\n\n{head}:\n" + "\n".join(f"- {x}" for x in lines)
    markdown = message.markdown + f"\n\n**{head}**\n" + "\n".join(f"- {x}" for x in lines)
    items = "".join(f"<li>{html.escape(x)}</li>" for x in lines)
    block = f'<h3 style="margin:16px 0 4px">{html.escape(head)}</h3><ul>{items}</ul>'
    page = message.html.replace("</body>", block + "</body>") if "</body>" in message.html else message.html + block
    return Message(title, text, markdown, page), body


def compose(kinds: Sequence[str], payloads: Sequence[dict]) -> tuple[Message, dict]:
    """(message for people, JSON body for webhooks) for one group of outbox rows."""
    if all(k in ALERT_KINDS for k in kinds):
        return _alerts(payloads)
    if len(payloads) != 1:
        raise ValueError("only alert messages are grouped")
    kind = kinds[0]
    if kind == "digest":
        return render_digest(payloads[0]), payloads[0]
    if kind == "silence_expired":
        return render_expiry(payloads[0]), payloads[0]
    raise ValueError(f"unknown message kind {kind!r}")
