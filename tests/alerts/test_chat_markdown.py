"""WeCom and Feishu robots get Markdown: the real plugins post to a real HTTP receiver standing in for
the service's host (the services themselves are out of reach here), and their answers are read."""

from __future__ import annotations

import pytest

from alerts.channels import deliver, message_format
from alerts.chat_markdown import NotifyFeishuMarkdown, NotifyWeComMarkdown, clip_utf8
from alerts.render import render
from alerts.webhook import webhook_payload


@pytest.fixture
def wecom_at(monkeypatch, http_receiver):
    monkeypatch.setattr(NotifyWeComMarkdown, "notify_url",
                        f"http://127.0.0.1:{http_receiver.port}/cgi-bin/webhook/send?key={{key}}")
    return http_receiver


@pytest.fixture
def feishu_at(monkeypatch, http_receiver):
    monkeypatch.setattr(NotifyFeishuMarkdown, "notify_url",
                        f"http://127.0.0.1:{http_receiver.port}/open-apis/bot/v2/hook/{{token}}/")
    return http_receiver


def test_wecom_gets_markdown_and_its_refusal_is_read(wecom_at, make_alert):
    alert = make_alert()
    assert message_format("wecommd://robotkey1") == "markdown"
    wecom_at.answer = b'{"errcode": 0, "errmsg": "ok"}'
    result = deliver("wecommd://robotkey1", render(alert), webhook_payload(alert), timeout=5)
    assert result.ok, result.error
    req = wecom_at.requests[-1]
    assert req.path == "/cgi-bin/webhook/send?key=robotkey1"
    body = req.json()
    assert body["msgtype"] == "markdown"
    assert "**" in body["markdown"]["content"] and alert.enterprise_id in body["markdown"]["content"]
    assert len(body["markdown"]["content"].encode()) <= 4096

    wecom_at.answer = b'{"errcode": 93000, "errmsg": "invalid webhook url"}'
    refused = deliver("wecommd://robotkey1", render(alert), webhook_payload(alert), timeout=5)
    assert not refused.ok and "93000" in refused.error and "robotkey1" not in refused.error


def test_feishu_gets_a_markdown_card(feishu_at, make_alert):
    alert = make_alert(locale="en")
    feishu_at.answer = b'{"code": 0, "msg": "success"}'
    result = deliver("feishumd://hooktoken9", render(alert), webhook_payload(alert), timeout=5)
    assert result.ok, result.error
    body = feishu_at.requests[-1].json()
    assert body["msg_type"] == "interactive"
    [element] = body["card"]["elements"]
    assert element["tag"] == "markdown" and alert.enterprise_id in element["content"]
    assert body["card"]["header"]["title"]["content"] == render(alert).title
    feishu_at.answer = b'{"code": 19001, "msg": "param invalid"}'
    assert "19001" in deliver("feishumd://hooktoken9", render(alert), {}, timeout=5).error


def test_clip_keeps_whole_characters():
    text = "预警" * 3000
    clipped = clip_utf8(text, 4096)
    assert len(clipped.encode()) <= 4096 and clipped.endswith("…")
    assert clip_utf8("short", 4096) == "short"
