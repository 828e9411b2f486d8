"""WeCom and Feishu/Lark robots that render Markdown.

Apprise's ``wecombot://`` and ``feishu://`` plugins post plain text, so a
risk manager would see ``**`` and ``-`` instead of a readable alert. Both
services accept Markdown from the same webhooks (WeCom: ``msgtype:
markdown``, up to 4096 bytes; Feishu/Lark: an interactive card with a
``markdown`` element), so these plugins subclass apprise's own, keep their
URL grammar and secrets handling, and only change what is posted and how the
answer is read: both services answer HTTP 200 to a refused message and put
the error in the body, which the stock plugins do not look at.

    wecommd://BOT_KEY        (the key= of the WeCom group robot webhook)
    feishumd://TOKEN         (the last part of the Feishu custom bot webhook)
    larkmd://TOKEN           (the same for Lark, open.larksuite.com)
"""

from __future__ import annotations

import json

import requests
from apprise.common import NotifyFormat, NotifyType
from apprise.plugins.feishu import NotifyFeishu
from apprise.plugins.wecombot import NotifyWeComBot

__all__ = ["NotifyWeComMarkdown", "NotifyFeishuMarkdown", "NotifyLarkMarkdown", "clip_utf8"]

WECOM_MARKDOWN_BYTES = 4096


def clip_utf8(text: str, limit: int, tail: str = "\n…") -> str:
    """Cut ``text`` to at most ``limit`` UTF-8 bytes without splitting a character."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    room = limit - len(tail.encode("utf-8"))
    return data[:room].decode("utf-8", errors="ignore") + tail


def _post(plugin, url: str, payload: dict, ok: callable) -> bool:
    plugin.throttle()
    try:
        r = requests.post(url, data=json.dumps(payload, ensure_ascii=False).encode("utf-8"),
                          headers={"User-Agent": plugin.app_id, "Content-Type": "application/json; charset=utf-8"},
                          verify=plugin.verify_certificate, timeout=plugin.request_timeout,
                          allow_redirects=plugin.redirects)
    except requests.RequestException as exc:
        plugin.logger.warning(f"{plugin.service_name}: connection error: {exc!s}")
        return False
    if r.status_code != requests.codes.ok:
        plugin.logger.warning(f"{plugin.service_name}: HTTP {r.status_code} error: {(r.text or '')[:300]}")
        return False
    try:
        answer = r.json()
    except ValueError:
        plugin.logger.warning(f"{plugin.service_name}: the answer is not JSON: {(r.text or '')[:300]}")
        return False
    if not ok(answer):
        plugin.logger.warning(f"{plugin.service_name}: refused, error: {json.dumps(answer, ensure_ascii=False)[:300]}")
        return False
    return True


class NotifyWeComMarkdown(NotifyWeComBot):
    service_name = "WeCom Bot (Markdown)"
    secure_protocol = "wecommd"
    notify_format = NotifyFormat.MARKDOWN
    body_maxlen = WECOM_MARKDOWN_BYTES

    def send(self, body, title="", notify_type=NotifyType.INFO, **kwargs):
        content = clip_utf8(f"### {title}\n{body}" if title else body, WECOM_MARKDOWN_BYTES)
        return _post(self, self.api_url, {"msgtype": "markdown", "markdown": {"content": content}},
                     lambda a: a.get("errcode") == 0)


class NotifyFeishuMarkdown(NotifyFeishu):
    service_name = "Feishu (Markdown card)"
    secure_protocol = "feishumd"
    notify_format = NotifyFormat.MARKDOWN
    title_maxlen = 250

    def send(self, body, title="", notify_type=NotifyType.INFO, **kwargs):
        card = {"config": {"wide_screen_mode": True},
                "elements": [{"tag": "markdown", "content": body}]}
        if title:
            card["header"] = {"title": {"tag": "plain_text", "content": title}, "template": "orange"}
        return _post(self, self.notify_url.format(token=self.token), {"msg_type": "interactive", "card": card},
                     lambda a: a.get("code", a.get("StatusCode")) == 0)


class NotifyLarkMarkdown(NotifyFeishuMarkdown):
    service_name = "Lark (Markdown card)"
    secure_protocol = "larkmd"
    notify_url = "https://open.larksuite.com/open-apis/bot/v2/hook/{token}/"
