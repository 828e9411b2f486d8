"""Turn one bank's alert into the words that bank reads.

A risk manager must be able to check an alert without opening another
system: which enterprise and which of the bank's loans, what moved, from
what level to what level, against which baseline, and the recent series.
So every format carries the same facts; only the markup differs:

- ``markdown`` for chat robots that render it (DingTalk). It stays compact
  (a sparkline, no tables) because chat robots cap message size and
  DingTalk's Markdown has no tables.
- ``text`` for channels that only show plain text, with a column table of
  the series.
- ``html`` for e-mail, inline-styled because mail clients drop stylesheets.

Rendering is pure: the same view gives the same message, so a retry sends
exactly what the first attempt would have sent.

Numbers follow these conventions: ``relative_change`` in the evidence is a
fraction (-0.35 is shown as -35.0%); exposures are CNY, shown as
``¥1,200,000`` in Chinese and ``CNY 1,200,000`` in English.
"""

from __future__ import annotations

import contextlib
import html
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from alerts.chart import series_chart_html
from alerts.message import AlertView, Message
from detectors.severity import Severity
from detectors.signals import display_name

__all__ = ["render", "signal_name", "SERIES_POINTS"]

#: How many of the latest series points a message shows: a year is enough to
#: see the change against the months before it without flooding a chat.
SERIES_POINTS = 12

#: Upper bound when the window is stretched back to show where the change began.
MAX_SERIES_POINTS = 24

#: Events listed in one message; the rest are counted.
MAX_EVENTS = 10

# Baselines the detectors name, in words; other names are shown as given.
_BASELINES: dict[str, dict[str, str]] = {
    "pre_change_median": {"zh-CN": "变化前各月的中位数", "en": "median of the months before the change"},
    "poisson_rate_before": {"zh-CN": "变化前的月均发生数", "en": "monthly rate before the change"},
    "same_months_last_year": {"zh-CN": "去年同期", "en": "same months last year"},
    "own_months_before_change": {"zh-CN": "本企业变化前的月份（剔除春节月份）",
                                 "en": "the firm's own months before the change (festival months left out)"},
    "pooled_rate_before": {"zh-CN": "变化前的合计离职人数 ÷ 月初在册人数", "en": "leavers ÷ headcount, pooled over the months before the change"},
}
_CHART = {
    "zh-CN": {"after": "变化起点及之后", "baseline": "变化前水平", "excluded": "春节月份（已剔除）"},
    "en": {"after": "from the change", "baseline": "level before the change", "excluded": "New Year (excluded)"},
}
# Rule detections compare nothing: the event is the finding.
_NO_BASELINE = ("event", "")

_LEVEL = {
    "zh-CN": {Severity.LOW: "低", Severity.MEDIUM: "中", Severity.HIGH: "高", Severity.CRITICAL: "严重"},
    "en": {
        Severity.LOW: "low",
        Severity.MEDIUM: "medium",
        Severity.HIGH: "high",
        Severity.CRITICAL: "critical",
    },
}
_COLOUR_EN = {
    Severity.LOW: "blue",
    Severity.MEDIUM: "yellow",
    Severity.HIGH: "orange",
    Severity.CRITICAL: "red",
}
# A resolution is good news: green, whatever the level was.
_RESOLVED_EMOJI = "✅"
_RESOLVED_COLOUR = ("#2e7d32", "#ffffff")
_EMOJI = {Severity.LOW: "🔵", Severity.MEDIUM: "🟡", Severity.HIGH: "🟠", Severity.CRITICAL: "🔴"}
# Banner background and text colour per severity; yellow needs dark text.
_HTML_COLOUR = {
    Severity.LOW: ("#1a73e8", "#ffffff"),
    Severity.MEDIUM: ("#f9c80e", "#222222"),
    Severity.HIGH: ("#f57c00", "#ffffff"),
    Severity.CRITICAL: ("#d32f2f", "#ffffff"),
}

_T: dict[str, dict[str, str]] = {
    "zh-CN": {
        "colon": "：",
        "alert": "{colour}色预警（{level}）",
        "colour": "{colour}色（{level}）",
        "title.new": "【{Colour}色预警】{name}：{signal}（{period}起）",
        "title.escalated": "【预警升级·{colour}色】{name}：{signal}（{period}起）",
        "title.resolved": "【预警解除】{name}：{signal}（{period}起）",
        "kind.new": "新预警",
        "kind.escalated": "预警升级：{before} → {after}",
        "kind.escalated_unknown": "预警升级至{after}",
        "kind.resolved": "预警解除：指标已恢复正常",
        "enterprise": "企业",
        "uscc": "统一社会信用代码",
        "risk_level": "企业综合风险",
        "signal": "风险信号",
        "change_period": "变化起始月份",
        "level": "水平变化",
        "relative_change": "变化幅度",
        "baseline": "对比基准",
        "yoy": "同比（去年同期 → 今年）",
        "excluded": "已剔除月份（春节）",
        "note": "说明",
        "corroborated": "同时出现的其他信号",
        "lone": "单一信号（无其他佐证，级别下调一级）",
        "base_severity": "按变化幅度的级别",
        "loans": "贵行贷款",
        "loan_id": "贷款编号",
        "exposure": "敞口",
        "due_date": "到期日",
        "rm": "客户经理",
        "total": "合计敞口",
        "no_loans": "（名单中无贷款记录）",
        "events": "相关事件",
        "more_events": "……另有 {n} 条",
        "series": "近{n}个月走势",
        "period": "月份",
        "value": "数值",
        "mark.change": "← 变化起点",
        "mark.excluded": "（春节，已剔除）",
        "detected_at": "检测时间",
        "alert_id": "预警编号",
        "recipient": "接收机构",
        "footer": "本消息由 Loanwatch 贷后风险监测自动生成，请勿直接回复。",
        "dir.up": "↑ 上升",
        "dir.down": "↓ 下降",
        "dir.event": "事件",
        "sep": "，",
        "paren": "（{}）",
    },
    "en": {
        "colon": ": ",
        "alert": "{colour} alert ({level})",
        "colour": "{colour} ({level})",
        "title.new": "[{Colour} alert] {name}: {signal} (from {period})",
        "title.escalated": "[Escalated to {colour}] {name}: {signal} (from {period})",
        "title.resolved": "[Resolved] {name}: {signal} (from {period})",
        "kind.new": "New alert",
        "kind.escalated": "Escalated from {before} to {after}",
        "kind.escalated_unknown": "Escalated to {after}",
        "kind.resolved": "Resolved: the series is back to normal",
        "enterprise": "Enterprise",
        "uscc": "USCC",
        "risk_level": "Enterprise risk level",
        "signal": "Signal",
        "change_period": "Change starts",
        "level": "Level",
        "relative_change": "Relative change",
        "baseline": "Compared against",
        "yoy": "Year on year (last year → this year)",
        "excluded": "Months excluded (Chinese New Year)",
        "note": "Note",
        "corroborated": "Corroborated by",
        "lone": "single signal, no corroboration (one level lower)",
        "base_severity": "Severity from the size of the change",
        "loans": "Your loans",
        "loan_id": "Loan",
        "exposure": "Exposure",
        "due_date": "Due",
        "rm": "Relationship manager",
        "total": "Total exposure",
        "no_loans": "(no loan on the watchlist)",
        "events": "Events",
        "more_events": "… and {n} more",
        "series": "Last {n} months",
        "period": "Month",
        "value": "Value",
        "mark.change": "← change starts",
        "mark.excluded": "(New Year, excluded)",
        "detected_at": "Detected at",
        "alert_id": "Alert ID",
        "recipient": "For",
        "footer": "Sent automatically by Loanwatch post-loan risk monitoring; do not reply.",
        "dir.up": "↑ rising",
        "dir.down": "↓ falling",
        "dir.event": "event",
        "sep": ", ",
        "paren": " ({})",
    },
}

# Vocabulary of the event contract, so rule detections read as sentences.
_EVENT_WORDS: dict[str, dict[str, str]] = {
    "zh-CN": {
        "lawsuit": "诉讼",
        "penalty": "行政处罚",
        "tax_arrears": "欠税",
        "dishonest_debtor": "失信被执行人",
        "consumption_restriction": "限制高消费令",
        "abnormal_operation": "经营异常名录",
        "registration_change": "工商变更",
        "case_no": "案号",
        "role": "诉讼地位",
        "cause": "案由",
        "amount": "金额",
        "court": "法院",
        "stage": "阶段",
        "decision_no": "决定书文号",
        "authority": "处罚机关",
        "reason": "原因",
        "tax_type": "税种",
        "field": "变更事项",
        "before": "变更前",
        "after": "变更后",
        "defendant": "被告",
        "plaintiff": "原告",
        "third_party": "第三人",
        "filed": "立案",
        "judgment": "判决",
        "enforcement": "执行",
        "listed": "列入",
        "removed": "移出",
        "issued": "发布",
        "lifted": "解除",
        "legal_representative": "法定代表人",
        "registered_capital": "注册资本",
        "shareholder": "股东",
        "address": "住所",
        "name": "名称",
        "business_scope": "经营范围",
    },
    "en": {
        "lawsuit": "Lawsuit",
        "penalty": "Administrative penalty",
        "tax_arrears": "Tax arrears",
        "dishonest_debtor": "Dishonest judgment debtor",
        "consumption_restriction": "Consumption restriction",
        "abnormal_operation": "Abnormal operation listing",
        "registration_change": "Registration change",
        "case_no": "case",
        "role": "role",
        "cause": "cause",
        "amount": "amount",
        "court": "court",
        "stage": "stage",
        "decision_no": "decision",
        "authority": "authority",
        "reason": "reason",
        "tax_type": "tax",
        "field": "field",
        "before": "before",
        "after": "after",
        "defendant": "defendant",
        "plaintiff": "plaintiff",
        "third_party": "third party",
        "filed": "filed",
        "judgment": "judgment",
        "enforcement": "enforcement",
        "listed": "listed",
        "removed": "removed",
        "issued": "issued",
        "lifted": "lifted",
        "legal_representative": "legal representative",
        "registered_capital": "registered capital",
        "shareholder": "shareholder",
        "address": "address",
        "name": "name",
        "business_scope": "business scope",
    },
}
# Keys of an event record that say when and what, not details.
_EVENT_META = ("type", "occurred_at", "period", "event_id", "source", "enterprise_id", "data")
_MONEY_KEYS = ("amount", "registered_capital")
_SPARKS = "▁▂▃▄▅▆▇█"


def signal_name(signal: str, locale: str) -> str:
    """The signal in the bank's language; an unknown code is shown as is.

    The names are the signal catalogue's (``detectors.signals``). Falling
    back to the code, rather than failing, means an alert stored under a
    signal since retired still reaches the bank.
    """
    return display_name(signal, locale)


def render(alert: AlertView) -> Message:
    """Render ``alert`` in the bank's language for every kind of channel."""
    content = _collect(alert)
    return Message(
        title=content.title,
        text=_to_text(content),
        markdown=_to_markdown(content),
        html=_to_html(content),
    )


# --------------------------------------------------------------------------- content


@dataclass
class _SeriesRow:
    period: str
    value: str
    change: bool
    excluded: bool


@dataclass
class _Content:
    """The facts of one alert, already worded, before any markup."""

    t: dict[str, str]
    severity: Severity
    resolved: bool
    title: str
    heading: str
    name: str
    uscc: str
    facts: list[tuple[str, str]] = field(default_factory=list)
    loans: list[tuple[str, str, str | None, str | None]] = field(default_factory=list)
    total: str | None = None
    events: list[str] = field(default_factory=list)
    series_label: str = ""
    series: list[_SeriesRow] = field(default_factory=list)
    spark: str = ""
    chart: str = ""
    footer: list[tuple[str, str]] = field(default_factory=list)


def _collect(alert: AlertView) -> _Content:
    loc = alert.locale
    t = _T[loc]
    ev: Mapping[str, Any] = alert.evidence or {}
    signal = signal_name(alert.signal, loc)
    name = alert.enterprise_name or alert.enterprise_id

    colour = _colour_word(alert.severity, loc)
    title = t[f"title.{alert.kind}"].format(
        colour=colour, Colour=_cap(colour), name=name, signal=signal, period=alert.change_period
    )
    if alert.kind == "escalated":
        after = _severity_text(alert.severity, loc, "alert")
        if alert.previous_severity is None:
            kind = t["kind.escalated_unknown"].format(after=after)
        else:
            kind = t["kind.escalated"].format(
                before=_severity_text(alert.previous_severity, loc, "alert"), after=after
            )
    else:
        kind = t[f"kind.{alert.kind}"]
    severity = _severity_text(alert.severity, loc, "alert")
    # An escalation names both levels and a resolution needs no level at all.
    heading = _cap(kind if alert.kind in ("escalated", "resolved") else f"{severity} · {kind}")

    c = _Content(
        t=t,
        severity=alert.severity,
        resolved=alert.kind == "resolved",
        title=title,
        heading=heading,
        name=name,
        uscc=alert.enterprise_id,
    )

    direction = t.get(f"dir.{alert.direction}", alert.direction)
    c.facts.append((t["signal"], signal + t["paren"].format(direction)))
    c.facts.append((t["change_period"], alert.change_period))
    series = ev.get("series") or {}
    num = _pct_level if _is_rate(series, alert.signal) else _num
    before, after = ev.get("level_before"), ev.get("level_after")
    if before is not None or after is not None:
        c.facts.append((t["level"], f"{num(before)} → {num(after)}"))
    if ev.get("relative_change") is not None:
        c.facts.append((t["relative_change"], _pct(ev["relative_change"])))
    baseline = str(ev.get("baseline") or "")
    if baseline not in _NO_BASELINE:
        c.facts.append((t["baseline"], _BASELINES.get(baseline, {}).get(loc, baseline)))
    if ev.get("yoy_before") is not None or ev.get("yoy_after") is not None:
        c.facts.append((t["yoy"], f"{num(ev.get('yoy_before'))} → {num(ev.get('yoy_after'))}"))
    excluded = [str(p) for p in ev.get("excluded_periods") or ()]
    if excluded:
        c.facts.append((t["excluded"], "、".join(excluded) if loc == "zh-CN" else ", ".join(excluded)))
    if ev.get("note"):
        c.facts.append((t["note"], str(ev["note"])))
    backing = [signal_name(str(x), loc) for x in ev.get("corroborated_by") or ()]
    if backing:
        c.facts.append((t["corroborated"], ("、" if loc == "zh-CN" else ", ").join(backing)))
    base = ev.get("base_severity")
    if base and base != alert.severity.label:
        with contextlib.suppress(ValueError):
            c.facts.append((t["base_severity"], _cap(_severity_text(Severity.parse(base), loc, "alert"))
                            + ("" if backing else t["paren"].format(t["lone"]))))
    c.facts.append((t["risk_level"], _cap(_severity_text(alert.risk_level, loc, "colour"))))

    for loan in alert.loans:
        c.loans.append((loan.loan_id, _cny(loan.exposure, loc), loan.due_date, loan.relationship_manager))
    if len(alert.loans) > 1:
        c.total = _cny(sum(loan.exposure for loan in alert.loans), loc)

    events = list(ev.get("events") or ())
    c.events = [_event_line(e, loc) for e in events[:MAX_EVENTS]]
    if len(events) > MAX_EVENTS:
        c.events.append(t["more_events"].format(n=len(events) - MAX_EVENTS))

    c.series, c.spark = _series(series, alert.change_period, set(excluded), num)
    if c.series:
        c.series_label = t["series"].format(n=len(c.series))
        values = [v if isinstance(v, int | float) else None for v in (series.get("values") or [])]
        c.chart = series_chart_html(
            [str(p) for p in series.get("periods") or ()], values, change_period=alert.change_period,
            baseline=before if isinstance(before, int | float) else None, excluded=excluded,
            labels=_CHART[loc],
            colour=(_RESOLVED_COLOUR if alert.kind == "resolved" else _HTML_COLOUR[alert.severity])[0])

    c.footer = [
        (t["detected_at"], alert.detected_at),
        (t["alert_id"], alert.alert_id),
        (t["recipient"], alert.bank_name),
    ]
    return c


def _series(
    series: Mapping[str, Any], change_period: str, excluded: set[str], num: Callable[[Any], str]
) -> tuple[list[_SeriesRow], str]:
    """The latest points, reaching back far enough to show the change start.

    A change that started more than a year ago would otherwise fall off the
    window, and the reader could not see the level it moved from.
    """
    periods = [str(p) for p in series.get("periods") or ()]
    values = list(series.get("values") or ())
    n = min(len(periods), len(values))
    periods, values = periods[:n], values[:n]
    start = max(0, n - SERIES_POINTS)
    if change_period in periods:
        start = max(0, n - MAX_SERIES_POINTS, min(start, periods.index(change_period) - 3))
    rows = [
        _SeriesRow(p, num(v), change=p == change_period, excluded=p in excluded)
        for p, v in zip(periods[start:], values[start:], strict=True)
    ]
    return rows, _sparkline(values[start:])


def _sparkline(values: list[Any]) -> str:
    """Unicode bars scaled to the shown window; a gap for a missing value."""
    finite = [float(v) for v in values if _is_number(v)]
    if not finite:
        return ""
    lo, hi = min(finite), max(finite)
    out = []
    for v in values:
        if not _is_number(v):
            out.append(" ")
        elif hi == lo:
            out.append(_SPARKS[len(_SPARKS) // 2])
        else:
            out.append(_SPARKS[round((float(v) - lo) / (hi - lo) * (len(_SPARKS) - 1))])
    return "".join(out)


def _event_line(event: Mapping[str, Any], loc: str) -> str:
    words = _EVENT_WORDS[loc]
    t = _T[loc]
    when = str(event.get("occurred_at") or event.get("period") or "")[:10]
    kind = str(event.get("type") or "")
    data = event.get("data")
    details = (
        dict(data) if isinstance(data, Mapping) else {k: v for k, v in event.items() if k not in _EVENT_META}
    )
    parts = []
    for key, value in details.items():
        if value is None or value == "":
            continue
        label = words.get(key, key)
        if key in _MONEY_KEYS and _is_number(value):
            shown = _cny(float(value), loc)
        else:
            shown = words.get(str(value), str(value))
        parts.append(f"{label} {shown}")
    head = " ".join(x for x in (when, words.get(kind, kind)) if x)
    return head + (t["colon"] + t["sep"].join(parts) if parts else "")


# --------------------------------------------------------------------------- writers


def _to_text(c: _Content) -> str:
    t = c.t
    lines = [c.heading, "", f"{t['enterprise']}{t['colon']}{c.name}", f"{t['uscc']}{t['colon']}{c.uscc}"]
    lines += [f"{label}{t['colon']}{value}" for label, value in c.facts]
    lines += ["", f"{t['loans']}{t['colon'].rstrip()}"]
    if not c.loans:
        lines.append(f"- {t['no_loans']}")
    lines += [f"- {_loan_words(loan, t)}" for loan in c.loans]
    if c.total:
        lines.append(f"{t['total']}{t['colon']}{c.total}")
    if c.events:
        lines += ["", f"{t['events']}{t['colon'].rstrip()}"] + [f"- {e}" for e in c.events]
    if c.series:
        lines += ["", f"{c.series_label}{t['colon']}{c.spark}"]
        width = max(len(r.value) for r in c.series)
        for r in c.series:
            marks = " ".join(m for m in (_mark(r, t)) if m)
            lines.append(f"  {r.period}  {r.value.rjust(width)}{('  ' + marks) if marks else ''}")
    lines.append("")
    lines += [f"{label}{t['colon']}{value}" for label, value in c.footer]
    lines.append(t["footer"])
    return "\n".join(lines)


def _to_markdown(c: _Content) -> str:
    t = c.t
    b = _md
    lines = [
        f"### {_RESOLVED_EMOJI if c.resolved else _EMOJI[c.severity]} {b(c.heading)}",
        f"**{b(c.name)}**  ",
        f"{t['uscc']}{t['colon']}{c.uscc}",
        "",
    ]
    lines += [f"- **{b(label)}**{t['colon']}{b(value)}" for label, value in c.facts]
    if c.loans:
        loans = [_loan_words(loan, t, b) for loan in c.loans]
        if len(loans) == 1:
            lines.append(f"- **{t['loans']}**{t['colon']}{loans[0]}")
        else:
            lines.append(f"- **{t['loans']}**{t['colon'].rstrip()}")
            lines += [f"    - {loan}" for loan in loans]
    else:
        lines.append(f"- **{t['loans']}**{t['colon']}{t['no_loans']}")
    if c.total:
        lines.append(f"- **{t['total']}**{t['colon']}{c.total}")
    if c.series:
        first, last = c.series[0], c.series[-1]
        lines.append(
            f"- **{c.series_label}**{t['colon']}`{c.spark}` {first.period} {first.value} … {last.period} {last.value}"
        )
    if c.events:
        lines += ["", f"**{t['events']}**"] + [f"- {b(e)}" for e in c.events]
    lines += ["", "> " + " · ".join(f"{label} {b(value)}" for label, value in c.footer)]
    return "\n".join(lines)


def _to_html(c: _Content) -> str:
    t = c.t
    e = html.escape
    bg, fg = _RESOLVED_COLOUR if c.resolved else _HTML_COLOUR[c.severity]
    cell = "padding:4px 10px 4px 0;vertical-align:top;text-align:left"
    label_cell = f"{cell};color:#666;font-weight:normal;white-space:nowrap"
    h3 = "margin:18px 0 6px;font-size:15px"
    out = [
        "<div style=\"font-family:-apple-system,Segoe UI,Helvetica,Arial,'PingFang SC','Microsoft YaHei',"
        'sans-serif;max-width:680px;color:#222;font-size:14px;line-height:1.5">',
        f'<div style="background:{bg};color:{fg};padding:10px 14px;font-weight:bold;font-size:15px;'
        f'border-radius:4px 4px 0 0">{e(c.heading)}</div>',
        '<div style="border:1px solid #ddd;border-top:none;padding:14px;border-radius:0 0 4px 4px">',
        f'<h2 style="margin:0 0 2px;font-size:18px">{e(c.name)}</h2>',
        f'<div style="color:#666">{e(t["uscc"])}{e(t["colon"])}{e(c.uscc)}</div>',
        '<table style="border-collapse:collapse;margin-top:12px">',
    ]
    out += [
        f'<tr><th style="{label_cell}">{e(label)}</th><td style="{cell}">{e(value)}</td></tr>'
        for label, value in c.facts
    ]
    out.append("</table>")

    out.append(f'<h3 style="{h3}">{e(t["loans"])}</h3>')
    if c.loans:
        head = "".join(
            f'<th style="{label_cell};border-bottom:1px solid #ddd">{e(t[k])}</th>'
            for k in ("loan_id", "exposure", "due_date", "rm")
        )
        out.append(f'<table style="border-collapse:collapse"><tr>{head}</tr>')
        for row in c.loans:
            out.append("<tr>" + "".join(f'<td style="{cell}">{e(v or "—")}</td>' for v in row) + "</tr>")
        if c.total:
            out.append(
                f'<tr><td style="{cell};font-weight:bold">{e(t["total"])}</td>'
                f'<td style="{cell};font-weight:bold">{e(c.total)}</td><td></td><td></td></tr>'
            )
        out.append("</table>")
    else:
        out.append(f"<p>{e(t['no_loans'])}</p>")

    if c.events:
        out.append(f'<h3 style="{h3}">{e(t["events"])}</h3><ul style="margin:0;padding-left:20px">')
        out += [f"<li>{e(line)}</li>" for line in c.events]
        out.append("</ul>")

    if c.series:
        out.append(
            f'<h3 style="{h3}">{e(c.series_label)} <span style="font-weight:normal;color:#666">'
            f"{e(c.spark)}</span></h3>"
        )
        out.append(c.chart)
        out.append(
            f'<table style="border-collapse:collapse"><tr><th style="{label_cell};border-bottom:1px solid #ddd">'
            f'{e(t["period"])}</th><th style="{label_cell};border-bottom:1px solid #ddd;text-align:right">'
            f"{e(t['value'])}</th><th></th></tr>"
        )
        for r in c.series:
            style = (
                "background:#fff4e5;font-weight:bold" if r.change else ("color:#999" if r.excluded else "")
            )
            marks = " ".join(m for m in _mark(r, t) if m)
            out.append(
                f'<tr style="{style}"><td style="{cell}">{e(r.period)}</td>'
                f'<td style="{cell};text-align:right">{e(r.value)}</td><td style="{cell}">{e(marks)}</td></tr>'
            )
        out.append("</table>")

    out.append('<p style="margin-top:18px;color:#888;font-size:12px">')
    out.append("<br>".join(f"{e(label)}{e(t['colon'])}{e(value)}" for label, value in c.footer))
    out.append(f"<br>{e(t['footer'])}</p>")
    out.append("</div></div>")
    return "\n".join(out)


# --------------------------------------------------------------------------- formatting


def _loan_words(
    loan: tuple[str, str, str | None, str | None], t: dict[str, str], esc: Callable[[str], str] = str
) -> str:
    """One loan as a phrase; missing due date or manager is left out, not dashed."""
    loan_id, exposure, due, rm = loan
    # Lower-case labels read as one English phrase; Chinese is unaffected.
    parts = [f"{t['exposure'].lower()} {exposure}"]
    if due:
        parts.append(f"{t['due_date'].lower()} {esc(due)}")
    if rm:
        parts.append(f"{t['rm'].lower()} {esc(rm)}")
    return f"{t['loan_id']} {esc(loan_id)}{t['colon']}" + t["sep"].join(parts)


def _mark(row: _SeriesRow, t: dict[str, str]) -> tuple[str, str]:
    return (t["mark.excluded"] if row.excluded else "", t["mark.change"] if row.change else "")


def _colour_word(severity: Severity, loc: str) -> str:
    return severity.colour_zh if loc == "zh-CN" else _COLOUR_EN[severity]


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _severity_text(severity: Severity, loc: str, form: str) -> str:
    colour = severity.colour_zh if loc == "zh-CN" else _COLOUR_EN[severity]
    return _T[loc][form].format(colour=colour, level=_LEVEL[loc][severity])


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _num(value: Any) -> str:
    """A level as a person reads it: thousands grouped, few decimals."""
    if not _is_number(value):
        return "—" if value is None else str(value)
    v = float(value)
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if v == int(v):
        return str(int(v))
    if abs(v) >= 1:
        return f"{v:.1f}"
    return f"{v:.3g}"


def _is_rate(series: Mapping[str, Any], signal: str) -> bool:
    """Rates (departure rate) are fractions in the evidence; people read them as %."""
    metric = series.get("metric")
    name = str(metric[0] if isinstance(metric, list | tuple) and metric else metric or "")
    return name.endswith("_rate") or signal.endswith("_rate_rise")


def _pct_level(value: Any) -> str:
    if not _is_number(value):
        return "—" if value is None else str(value)
    return f"{float(value) * 100:.1f}%"


def _pct(fraction: Any) -> str:
    if not _is_number(fraction):
        return str(fraction)
    return f"{float(fraction) * 100:+.1f}%"


def _cny(amount: float, loc: str) -> str:
    text = f"{amount:,.0f}" if float(amount) == int(amount) else f"{amount:,.2f}"
    return f"¥{text}" if loc == "zh-CN" else f"CNY {text}"


def _md(text: str) -> str:
    """Escape the few characters that would turn a name into markup."""
    for ch in ("\\", "*", "_", "`", "[", "]"):
        text = text.replace(ch, "\\" + ch)
    return text
