"""Delivery through apprise against real servers on loopback: no mocks.

The URL forms used here are the ones operators put in the configuration, so
these tests double as their documentation.
"""

from __future__ import annotations

import doctest
import html
import json
import math
import random
import threading

import pytest
from apprise.common import NotifyFormat
from apprise.plugins.feishu import NotifyFeishu
from apprise.plugins.lark import NotifyLark

import alerts.backoff
from alerts.backoff import MAX_ATTEMPTS, next_attempt_delay
from alerts.channels import ChannelResult, deliver, message_format, redact, validate_url
from alerts.render import render
from alerts.webhook import ALERT_ID_HEADER, SCHEMA_VERSION, webhook_payload
from detectors.severity import Severity
from tests.servers import USCC, free_port


def mail_url(server, *, user: str = "", password: str = "") -> str:
    auth = f"{user}:{password}@" if user else ""
    return f"mailto://{auth}{server.host}:{server.port}?from=loanwatch@bank.example&to=risk-team@bank.example"


def send(url, alert, **kwargs) -> ChannelResult:
    return deliver(url, render(alert), webhook_payload(alert), **kwargs)


# --------------------------------------------------------------------------- e-mail


def test_email_arrives_in_chinese_with_subject_and_evidence(smtp_server, make_alert):
    alert = make_alert()
    result = send(mail_url(smtp_server), alert)
    assert result == ChannelResult(True, None, result.channel)
    [mail] = smtp_server.messages
    assert mail.rcpt_tos == ["risk-team@bank.example"]
    assert mail.mail_from == "loanwatch@bank.example"
    assert mail.subject == render(alert).title
    assert mail.subject.startswith("【橙色预警】深圳市示例精密制造有限公司：参保人数下降")
    body = html.unescape(mail.part("text/html"))
    for fact in (
        "131 → 93",
        "-29.0%",
        "变化前各月的中位数",
        "2024-02、2024-03",
        "L-2023-0042",
        "¥1,200,000",
        USCC,
    ):
        assert fact in body
    # Apprise adds the plain-text alternative itself.
    assert "-29.0%" in mail.part("text/plain")
    assert mail.message["X-Application"] == "Loanwatch"


def test_email_arrives_in_english(smtp_server, make_alert):
    alert = make_alert(locale="en", kind="escalated", previous_severity=Severity.MEDIUM)
    assert send(mail_url(smtp_server), alert).ok
    [mail] = smtp_server.messages
    assert (
        mail.subject
        == "[Escalated to orange] 深圳市示例精密制造有限公司: Insured headcount falling (from 2024-06)"
    )
    body = html.unescape(mail.part("text/html"))
    assert "Escalated from yellow alert (medium) to orange alert (high)" in body
    assert "median of the months before the change" in body
    assert "CNY 1,200,000" in body


def test_email_with_smtp_login(smtp_server_auth, make_alert):
    url = mail_url(smtp_server_auth, user="loanwatch", password="s3cret-pw")
    assert send(url, make_alert()).ok
    assert len(smtp_server_auth.messages) == 1


def test_wrong_smtp_password_says_so_and_hides_it(smtp_server_auth, make_alert):
    result = send(mail_url(smtp_server_auth, user="loanwatch", password="wrong-pw-123"), make_alert())
    assert not result.ok
    assert "535" in result.error or "auth" in result.error.lower()
    assert "wrong-pw-123" not in result.error and "wrong-pw-123" not in result.channel
    assert smtp_server_auth.messages == []


def test_login_against_a_server_without_auth_says_so(smtp_server, make_alert):
    result = send(mail_url(smtp_server, user="loanwatch", password="pw-xyz-789"), make_alert())
    assert not result.ok
    assert "AUTH" in result.error
    assert "pw-xyz-789" not in result.error + result.channel


def test_smtp_server_down_is_a_connection_error(make_alert):
    url = f"mailto://127.0.0.1:{free_port()}?from=loanwatch@bank.example&to=risk-team@bank.example"
    result = send(url, make_alert())
    assert not result.ok
    assert "Connection refused" in result.error


# --------------------------------------------------------------------------- webhook


def test_webhook_receives_our_json_and_the_alert_id(http_receiver, make_alert):
    alert = make_alert(locale="en")
    result = send(f"lwhook://{http_receiver.host}:{http_receiver.port}/hooks/loanwatch", alert)
    assert result.ok, result.error
    [request] = http_receiver.requests
    assert request.method == "POST"
    assert request.path == "/hooks/loanwatch"
    assert request.header("Content-Type").startswith("application/json")
    assert request.header(ALERT_ID_HEADER) == alert.alert_id
    assert request.header("X-Loanwatch-Kind") == "new"
    assert request.header("X-Loanwatch-Severity") == "high"
    assert request.json() == webhook_payload(alert)
    assert request.json()["alert_id"] == "lw-d4072baf9dc663a77a25"


def test_webhook_basic_auth_and_query_params(http_receiver, make_alert):
    url = f"lwhook://hookuser:hook-pass-42@{http_receiver.host}:{http_receiver.port}/in?-source=loanwatch"
    assert send(url, make_alert()).ok
    [request] = http_receiver.requests
    assert request.path == "/in?source=loanwatch"
    assert request.header("Authorization") == "Basic aG9va3VzZXI6aG9vay1wYXNzLTQy"  # hookuser:hook-pass-42


def test_webhook_bearer_token_header(http_receiver, make_alert):
    url = f"lwhook://{http_receiver.host}:{http_receiver.port}/in?+Authorization=Bearer%20tok-abc-123"
    result = send(url, make_alert())
    assert result.ok
    assert http_receiver.requests[0].header("Authorization") == "Bearer tok-abc-123"
    assert "tok-abc-123" not in result.channel


def test_webhook_http_500_is_a_failure_with_the_status(http_receiver, make_alert):
    http_receiver.status = 500
    url = f"lwhook://{http_receiver.host}:{http_receiver.port}/hooks?+X-Token=tok-secret-9"
    result = send(url, make_alert())
    assert not result.ok
    assert "500" in result.error
    assert "tok-secret-9" not in result.error + result.channel
    assert len(http_receiver.requests) == 1  # it did reach the receiver


def test_webhook_receiver_down_is_a_connection_error(http_receiver, make_alert):
    url = f"lwhook://{http_receiver.host}:{http_receiver.port}/hooks"
    http_receiver.stop()
    result = send(url, make_alert())
    assert not result.ok
    assert "could not connect" in result.error and "Connection refused" in result.error


def test_slow_receiver_times_out(http_receiver, make_alert):
    http_receiver.delay = 3
    result = send(f"lwhook://{http_receiver.host}:{http_receiver.port}/slow", make_alert(), timeout=0.5)
    assert not result.ok
    assert "no response: timed out" in result.error


def test_payload_options_are_refused_at_construction(http_receiver, make_alert):
    url = f"lwhook://{http_receiver.host}:{http_receiver.port}/hooks?:message=text"
    assert "payload options" in validate_url(url)
    result = send(url, make_alert())
    assert not result.ok and "payload options" in result.error
    assert http_receiver.requests == []


def test_concurrent_deliveries_keep_their_own_reasons(http_receiver, smtp_server, make_alert):
    http_receiver.status = 503
    urls = {
        "http": f"lwhook://{http_receiver.host}:{http_receiver.port}/x",
        "smtp": f"mailto://127.0.0.1:{free_port()}?from=a@bank.example&to=b@bank.example",
        "mail": mail_url(smtp_server),
    }
    results: dict[str, ChannelResult] = {}
    alert = make_alert()

    def run(key: str) -> None:
        results[key] = send(urls[key], alert)

    threads = [threading.Thread(target=run, args=(k,)) for k in urls]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert "503" in results["http"].error and "refused" not in results["http"].error.lower()
    assert "Connection refused" in results["smtp"].error and "503" not in results["smtp"].error
    assert results["mail"].ok


# --------------------------------------------------------------------------- payload


def test_payload_follows_schema_one(make_alert):
    alert = make_alert(kind="escalated", previous_severity="medium", risk_level="critical")
    payload = webhook_payload(alert)
    assert payload["version"] == SCHEMA_VERSION == "1"
    assert set(payload) == {
        "version",
        "alert_id",
        "bank_id",
        "kind",
        "severity",
        "previous_severity",
        "risk_level",
        "enterprise",
        "loans",
        "signal",
        "change_period",
        "direction",
        "evidence",
        "detected_at",
    }
    assert payload["enterprise"] == {"id": USCC, "name": "深圳市示例精密制造有限公司"}
    assert payload["severity"] == "high" and payload["previous_severity"] == "medium"
    assert payload["risk_level"] == "critical"
    assert payload["loans"] == [
        {
            "loan_id": "L-2023-0042",
            "exposure": 1200000.0,
            "due_date": "2025-09-30",
            "relationship_manager": "王敏",
        }
    ]
    assert payload["evidence"]["relative_change"] == -0.2901
    assert json.loads(json.dumps(payload)) == payload


def test_payload_is_strict_json(make_alert):
    evidence = {"level_before": math.nan, "level_after": 3.0, "excluded_periods": ("2024-02",), "series": {}}
    payload = webhook_payload(make_alert(evidence=evidence))
    assert payload["evidence"]["level_before"] is None
    assert payload["evidence"]["excluded_periods"] == ["2024-02"]
    json.dumps(payload, allow_nan=False)


# --------------------------------------------------------------------------- URLs


def test_redaction_hides_passwords_and_tokens():
    cases = {
        "mailto://loanwatch:Pa55-word!@smtp.bank.example:587?from=a@bank.example&to=b@bank.example": "Pa55-word!",
        "mailtos://user:hunter2-pw@smtp.bank.example?to=b@bank.example&from=a@bank.example": "hunter2-pw",
        "wecombot://0a1b2c3d-4e5f-6789-abcd-ef0123456789": "0a1b2c3d-4e5f-6789-abcd-ef0123456789",
        "dingtalk://5ec1d2e3f4a5b6c7@0123456789abcdef0123456789abcdef/": "0123456789abcdef0123456789abcdef",
        "feishu://aabbccdd-1122-3344-5566-77889900aabb": "aabbccdd-1122-3344-5566-77889900aabb",
        "lwhook://u:webhook-pass@hooks.bank.example/in": "webhook-pass",
        "lwhooks://hooks.bank.example/in?+Authorization=Bearer%20tok-777-xyz": "tok-777-xyz",
        "lwhook://hooks.bank.example/in?-token=qs-token-555": "qs-token-555",
    }
    for url, secret in cases.items():
        shown = redact(url)
        assert secret not in shown and secret not in html.unescape(shown), shown
        assert shown.split("://")[0] == url.split("://")[0]
    assert "smtp.bank.example" in redact("mailto://loanwatch:pw-1234@smtp.bank.example?to=b@bank.example")
    # dingtalk's signing secret too
    assert "5ec1d2e3f4a5b6c7" not in redact("dingtalk://5ec1d2e3f4a5b6c7@0123456789abcdef0123456789abcdef/")


def test_redaction_of_garbage_shows_nothing_but_the_scheme():
    assert redact("foo://user:secret@host") == "foo://****"
    assert redact("not a url") == "****"


def test_validate_url():
    assert validate_url("mailto://127.0.0.1:2525?from=a@bank.example&to=b@bank.example") is None
    assert validate_url("lwhook://127.0.0.1:8080/hooks") is None
    assert validate_url("wecombot://0a1b2c3d-4e5f") is None
    assert validate_url("dingtalk://0123456789abcdef/") is None
    assert "unknown scheme" in validate_url("wechatwork://abc")
    assert "scheme://" in validate_url("smtp.bank.example")
    assert validate_url("") == "empty channel URL"
    assert "WeCom" in validate_url("wecombot://bad!key")


def test_each_channel_gets_the_format_it_renders(make_alert):
    assert message_format("mailto://127.0.0.1:2525?from=a@bank.example&to=b@bank.example") == "html"
    assert message_format("lwhook://127.0.0.1:8080/hooks") == "json"
    # DingTalk's plugin posts msgtype=markdown; WeCom's posts text. Feishu/Lark post text up to
    # apprise 2.2 and a Markdown card from 2.3 on: the format follows what the plugin declares.
    assert message_format("dingtalk://0123456789abcdef/") == "markdown"
    assert message_format("wecombot://0a1b2c3d-4e5f") == "text"
    for url, plugin in (("feishu://aabbccdd-1122", NotifyFeishu), ("lark://aabbccdd1122", NotifyLark)):
        declared = plugin.notify_format
        declared = {str(declared)} if isinstance(declared, str) else {str(f) for f in declared}
        assert message_format(url) == ("markdown" if str(NotifyFormat.MARKDOWN) in declared else "text")
    assert message_format("feishumd://aabbccdd-1122") == "markdown"
    assert message_format("larkmd://aabbccdd1122") == "markdown"
    assert message_format("bogus://x") is None

    message = render(make_alert())
    assert message.markdown.startswith("### ") and "**风险信号**" in message.markdown
    assert "**" not in message.text


def test_deliver_never_raises(make_alert):
    for url in ("", "nonsense", "foo://bar", "mailto://", "wecombot://bad!key"):
        result = send(url, make_alert())
        assert result.ok is False and result.error


# --------------------------------------------------------------------------- backoff


def test_backoff_doctests():
    assert doctest.testmod(alerts.backoff).failed == 0


def test_backoff_grows_caps_and_jitters():
    plain = [next_attempt_delay(n, jitter=0) for n in range(1, MAX_ATTEMPTS)]
    assert plain == [30.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0]
    assert next_attempt_delay(10_000, jitter=0) == 3600.0
    rng = random.Random(1)
    for n in range(1, 40):
        d = next_attempt_delay(n, rng=rng)
        base = min(30.0 * 2 ** (n - 1), 3600.0)
        assert base * 0.9 <= d <= min(base * 1.1, 3600.0)
    a = [next_attempt_delay(3, rng=random.Random(5)) for _ in range(2)]
    assert a[0] == a[1]


@pytest.mark.parametrize(
    "kwargs",
    [{"attempt": 0}, {"attempt": 1, "base": 0}, {"attempt": 1, "factor": 0.5}, {"attempt": 1, "jitter": 1.0}],
)
def test_backoff_rejects_nonsense(kwargs):
    with pytest.raises(ValueError):
        next_attempt_delay(**kwargs)
