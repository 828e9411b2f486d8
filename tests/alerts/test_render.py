"""Rendering: every signal, both languages, every fact a risk manager checks."""

from __future__ import annotations

import html
import re

import pytest

from alerts.exceptions import BadAlertView
from alerts.message import LoanRef
from alerts.render import render, signal_name
from detectors.severity import Severity
from detectors.signals import CATALOGUE
from tests.servers import USCC

LOCALES = ("zh-CN", "en")

# The rule detectors' event records (see detectors.rules / rate_change).
LAWSUIT_EVENTS = [
    {
        "period": "2024-06",
        "occurred_at": "2024-06-05T10:00:00+08:00",
        "type": "lawsuit",
        "case_no": "(2024)粤0305民初1234号",
        "role": "defendant",
        "cause": "买卖合同纠纷",
        "amount": 850000,
        "court": "深圳市南山区人民法院",
        "stage": "filed",
    },
    {"period": "2024-06", "type": "lawsuit", "case_no": "(2024)粤0305民初1301号", "role": "defendant"},
]


def all_bodies(message) -> str:
    return "\n".join((message.title, message.text, message.markdown, html.unescape(message.html)))


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("signal", sorted(CATALOGUE))
def test_every_signal_is_named_in_the_banks_language(make_alert, signal, locale):
    message = render(make_alert(signal=signal, locale=locale))
    name = CATALOGUE[signal].display_name(locale)
    assert name != signal
    assert name in message.title
    for body in (message.text, message.markdown, html.unescape(message.html)):
        assert name in body
    # The code is for machines; people read the translation.
    assert signal not in message.title


def test_signal_names_match_the_brief():
    assert signal_name("departure_rate_rise", "zh-CN") == "离职率上升"
    assert signal_name("departure_rate_rise", "en") == "Departure rate rising"
    assert signal_name("headcount_drop", "zh-CN") == "参保人数下降"
    assert signal_name("electricity_drop", "zh-CN") == "用电量下降"
    assert signal_name("water_drop", "zh-CN") == "用水量下降"
    assert signal_name("gas_drop", "zh-CN") == "用气量下降"
    assert signal_name("dishonest_debtor_listed", "zh-CN") == "列入失信被执行人"
    assert signal_name("registered_capital_cut", "zh-CN") == "注册资本减少"


@pytest.mark.parametrize("locale", LOCALES)
def test_unknown_signal_falls_back_to_its_code(make_alert, locale):
    message = render(make_alert(signal="subsidy_stop", locale=locale))
    assert "subsidy_stop" in message.title
    assert "subsidy_stop" in message.text


@pytest.mark.parametrize(
    ("severity", "zh", "en"),
    [
        (Severity.LOW, "蓝", "Blue"),
        (Severity.MEDIUM, "黄", "Yellow"),
        (Severity.HIGH, "橙", "Orange"),
        (Severity.CRITICAL, "红", "Red"),
    ],
)
def test_severity_is_shown_with_its_colour(make_alert, severity, zh, en):
    zh_message = render(make_alert(severity=severity))
    assert zh_message.title.startswith(f"【{zh}色预警】")
    assert f"{zh}色预警" in zh_message.text
    en_message = render(make_alert(severity=severity, locale="en"))
    assert en_message.title.startswith(f"[{en} alert]")
    assert f"{en} alert ({severity.label})" in en_message.text


def test_colour_reaches_the_html_banner(make_alert):
    red = render(make_alert(severity=Severity.CRITICAL)).html
    blue = render(make_alert(severity=Severity.LOW)).html
    assert "#d32f2f" in red and "#d32f2f" not in blue


def test_a_resolution_is_green_news(make_alert):
    message = render(make_alert(kind="resolved", severity=Severity.CRITICAL))
    assert "#2e7d32" in message.html and "#d32f2f" not in message.html
    assert message.markdown.startswith("### ✅ ")


def test_kinds_are_told_apart(make_alert):
    new = render(make_alert(kind="new"))
    esc = render(make_alert(kind="escalated", previous_severity=Severity.MEDIUM, severity=Severity.HIGH))
    res = render(make_alert(kind="resolved"))
    assert "新预警" in new.text
    assert esc.title.startswith("【预警升级·橙色】")
    assert "黄色预警（中） → 橙色预警（高）" in esc.text
    assert res.title.startswith("【预警解除】")
    assert "恢复正常" in res.text

    en = render(make_alert(kind="escalated", previous_severity="medium", locale="en"))
    assert en.title.startswith("[Escalated to orange]")
    assert "Escalated from yellow alert (medium) to orange alert (high)" in en.text
    assert "Resolved" in render(make_alert(kind="resolved", locale="en")).title


def test_zh_message_carries_every_fact(make_alert):
    loans = (
        LoanRef("L-2023-0042", 1_200_000.0, "2025-09-30", "王敏"),
        LoanRef("L-2024-0007", 350_000.5, None, None),
    )
    message = render(make_alert(loans=loans, risk_level=Severity.CRITICAL))
    for body in (message.text, message.markdown, html.unescape(message.html)):
        assert "深圳市示例精密制造有限公司" in body
        assert USCC in body
        assert "L-2023-0042" in body and "L-2024-0007" in body
        assert "¥1,200,000" in body and "¥350,000.50" in body
        assert "¥1,550,000.50" in body  # total exposure
        assert "2025-09-30" in body and "王敏" in body
        assert "参保人数下降" in body
        assert "2024-06" in body
        assert "131 → 93" in body
        assert "-29.0%" in body
        assert "变化前各月的中位数" in body  # the baseline, in words
        assert "2024-02、2024-03" in body  # Chinese New Year months left out
        assert "132 → 93" in body  # year on year
        assert "红色（严重）" in body  # enterprise risk level
        assert "2024-12-02T09:30:00+08:00" in body
        assert "lw-d4072baf9dc663a77a25" in body


def test_en_message_carries_every_fact(make_alert):
    message = render(make_alert(locale="en"))
    for body in (message.text, message.markdown, html.unescape(message.html)):
        assert "CNY 1,200,000" in body
        assert "Insured headcount falling" in body
        assert "131 → 93" in body and "-29.0%" in body
        assert "median of the months before the change" in body
        assert "2024-02, 2024-03" in body
        assert "Relationship manager" in body or "relationship manager" in body
    assert "Compared against" in message.text
    assert "Months excluded (Chinese New Year)" in message.text
    assert "2024-02  120  (New Year, excluded)" in message.text
    assert "Year on year" in message.text


def test_the_last_twelve_months_are_shown_and_the_change_marked(make_alert):
    message = render(make_alert())
    rows = re.findall(r"^  (\d{4}-\d{2})\s+(\S+)(.*)$", message.text, re.M)
    assert [p for p, _, _ in rows] == [f"2024-{m:02d}" for m in range(1, 13)]
    marked = {p: rest for p, _, rest in rows}
    assert "变化起点" in marked["2024-06"]
    assert "春节" in marked["2024-02"]
    assert rows[-1][1] == "88"
    # The chat version is a one-line sparkline, not a table.
    assert re.search(r"`[▁▂▃▄▅▆▇█]{12}`", message.markdown)
    assert "|" not in message.markdown
    assert message.html.count("<tr") >= 12


def test_an_old_change_stays_in_view(make_alert):
    # A change that began 16 months ago must still show where it began.
    message = render(make_alert(change_period="2023-09", locale="en"))
    assert "2023-09" in message.text.split("Last")[1]
    assert "← change starts" in message.text


def test_rates_are_shown_as_percentages(make_alert):
    evidence = {
        "level_before": 0.031,
        "level_after": 0.094,
        "relative_change": 2.03,
        "baseline": "pre_change_median",
        "series": {"metric": ["departure_rate"], "periods": ["2024-05", "2024-06"], "values": [0.03, 0.09]},
    }
    message = render(make_alert(signal="departure_rate_rise", direction="up", evidence=evidence))
    assert "3.1% → 9.4%" in message.text
    assert "+203.0%" in message.text
    assert "离职率上升（↑ 上升）" in message.text


@pytest.mark.parametrize("locale", LOCALES)
def test_rule_detection_lists_its_events(make_alert, locale):
    evidence = {
        "level_before": None,
        "level_after": None,
        "relative_change": None,
        "baseline": "event",
        "events": LAWSUIT_EVENTS,
        "series": {},
    }
    message = render(make_alert(signal="lawsuit_surge", direction="event", evidence=evidence, locale=locale))
    text = message.text
    assert "(2024)粤0305民初1234号" in text and "(2024)粤0305民初1301号" in text
    assert "2024-06-05" in text
    if locale == "zh-CN":
        assert "诉讼" in text and "被告" in text and "¥850,000" in text and "立案" in text
        assert "对比基准" not in text  # a rule compares nothing
    else:
        assert "Lawsuit" in text and "defendant" in text and "CNY 850,000" in text
    assert "(2024)粤0305民初1234号" in message.markdown
    assert "(2024)粤0305民初1234号" in message.html


def test_many_events_are_counted_not_all_listed(make_alert):
    events = [{"period": "2024-06", "type": "penalty", "decision_no": f"罚字{i:03d}号"} for i in range(25)]
    evidence = {"baseline": "poisson_rate_before", "events": events, "relative_change": 1.5}
    message = render(make_alert(signal="penalty_surge", evidence=evidence))
    assert "罚字009号" in message.text and "罚字010号" not in message.text
    assert "另有 15 条" in message.text


def test_enterprise_without_name_is_named_by_its_code(make_alert):
    message = render(make_alert(enterprise_name=None))
    assert USCC in message.title


def test_no_loans_still_renders(make_alert):
    message = render(make_alert(loans=()))
    assert "无贷款记录" in message.text


def test_html_escapes_and_markdown_escapes(make_alert):
    message = render(make_alert(enterprise_name="<b>Evil</b> & *Co*", locale="en"))
    assert "<b>Evil</b>" not in message.html
    assert "&lt;b&gt;Evil&lt;/b&gt; &amp; *Co*" in message.html
    assert r"\*Co\*" in message.markdown


def test_markdown_is_markdown(make_alert):
    md = render(make_alert()).markdown
    assert md.startswith("### 🟠 ")
    assert "**深圳市示例精密制造有限公司**" in md
    assert re.search(r"^- \*\*风险信号\*\*：", md, re.M)


def test_text_has_no_markup(make_alert):
    text = render(make_alert()).text
    assert "**" not in text and "<" not in text


def test_rendering_is_pure(make_alert):
    alert = make_alert()
    assert render(alert) == render(alert)


def test_missing_evidence_does_not_break_rendering(make_alert):
    message = render(make_alert(evidence={}))
    assert "参保人数下降" in message.text


def test_bad_views_are_rejected(make_alert):
    with pytest.raises(BadAlertView, match="locale"):
        make_alert(locale="fr")
    with pytest.raises(BadAlertView, match="kind"):
        make_alert(kind="reopened")
    with pytest.raises(BadAlertView, match="severity"):
        make_alert(severity="urgent")
    assert make_alert(severity="critical").severity is Severity.CRITICAL
