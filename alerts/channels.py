"""Deliver one rendered alert to one channel URL through apprise.

One URL per call, so that every channel gets its own result: the outbox
records, retries and finally marks each (alert, channel) pair on its own, and
an unreachable WeCom robot never hides a delivered e-mail.

What each channel receives
--------------------------

- E-mail (``mailto://``, ``mailtos://``): ``Message.html`` with
  ``Message.title`` as the subject. Apprise sends multipart/alternative and
  derives the text/plain part from the HTML itself; it has no way to take
  our own ``Message.text`` for that part.
- Loanwatch webhook (``lwhook://``, ``lwhooks://``, see ``alerts.webhook``):
  the ``webhook_payload`` document as the HTTP body, with the alert id in
  the ``X-Loanwatch-Alert-Id`` header.
- Chat robots whose apprise plugin posts Markdown (``dingtalk://``):
  ``Message.markdown``.
- Everything else gets ``Message.text``. That includes ``wecombot://``,
  ``feishu://`` and ``lark://``: their apprise plugins post ``msgtype``
  text, so Markdown would show up as literal ``**`` and ``-``.

Plain SMTP (a relay inside the bank's network) is ``mailto://``; apprise
uses no TLS for it and logs in only when the URL has a user and password::

    mailto://127.0.0.1:2525?from=loanwatch@bank.example&to=risk@bank.example
    mailtos://user:pass@smtp.bank.example:465?mode=ssl&from=…&to=…

Why a delivery failed
---------------------

Apprise plugins log the reason and return False. Their WARNING lines say
what failed ("Connection error while submitting email") but the cause
("[Errno 111] Connection refused", "(535, b'Authentication failed')") is
logged at DEBUG. ``deliver()`` therefore points the plugin at a private
logger that records DEBUG without propagating it (so the daemon's own log is
not flooded), and a handler collects the records of the delivery running in
the current context only. ``apprise.LogCapture`` was not used: it adds one
handler to apprise's global logger, so two deliveries running at the same
time would each get the other's errors, and it only sees DEBUG by lowering
apprise's global level. Secrets that apprise hides in its privacy URL are
scrubbed from the reason too.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote, unquote

from apprise import LOGGER_NAME, Apprise, AppriseAsset, AppriseResultStatus, NotificationManager
from apprise.common import NotifyFormat
from apprise.plugins.base import NotifyBase
from apprise.plugins.email import NotifyEmail

from alerts.message import Message
from alerts.webhook import NotifyLoanwatchWebhook

__all__ = ["ChannelResult", "deliver", "validate_url", "redact", "message_format"]

_LOG = logging.getLogger(__name__)
# Apprise plugins log through this logger while we deliver: DEBUG is kept for
# the failure reason and nothing propagates. Nothing is forwarded to the
# daemon log either: some plugins log exceptions that contain the webhook
# URL with its token (lark), and the caller logs the scrubbed ChannelResult.
_PLUGIN_LOG = logging.getLogger(__name__ + ".apprise")
_PLUGIN_LOG.setLevel(logging.DEBUG)
_PLUGIN_LOG.propagate = False

# The records of the delivery running in this context (apprise copies the
# context into its worker threads, so the plugin's records land here too).
_CURRENT: contextvars.ContextVar[list[tuple[int, str]] | None] = contextvars.ContextVar(
    "loanwatch_delivery_log", default=None
)

MessageFormat = Literal["json", "html", "markdown", "text"]

#: The whole delivery may take this many times the per-step ``timeout``
#: (an SMTP exchange is several round trips).
DEADLINE_FACTOR = 3


class _DeliverySink(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        sink = _CURRENT.get()
        if sink is not None:
            try:
                sink.append((record.levelno, record.getMessage()))
            except Exception:  # a malformed log call must not fail a delivery
                self.handleError(record)


def _install_handlers() -> None:
    if not any(isinstance(h, _DeliverySink) for h in _PLUGIN_LOG.handlers):
        _PLUGIN_LOG.addHandler(_DeliverySink())
    # Some apprise code (the SMTP connection helper) logs on apprise's own
    # logger; collect those records too, at whatever level apprise allows.
    apprise_log = logging.getLogger(LOGGER_NAME)
    if not any(isinstance(h, _DeliverySink) for h in apprise_log.handlers):
        apprise_log.addHandler(_DeliverySink())


_install_handlers()


@dataclass(frozen=True, slots=True)
class ChannelResult:
    """The outcome of one delivery to one channel.

    ``channel`` is the URL with secrets hidden, safe to store and show;
    ``error`` says why it failed, in apprise's words, or is None.
    """

    ok: bool
    error: str | None
    channel: str


def deliver(url: str, message: Message, payload: dict, *, timeout: float = 10) -> ChannelResult:
    """Send ``message`` (or ``payload``, for webhooks) to the channel ``url``.

    Never raises: every failure, a malformed URL included, comes back as
    ``ok=False`` with a reason, because the caller is a sender loop that must
    go on with the next delivery.

    ``timeout`` is the longest wait, in seconds, for each network step
    (connecting, each answer); the whole delivery is given up after
    ``DEADLINE_FACTOR * timeout`` so that a sender thread is never held
    by a server that answers slowly but steadily.
    """
    sink: list[tuple[int, str]] = []
    token = _CURRENT.set(sink)
    channel = _fallback_redaction(url)
    secrets: set[str] = set()
    try:
        try:
            plugin = _instantiate(url)
        except Exception as exc:
            return ChannelResult(False, f"bad channel URL: {_scrub_unparsed(str(exc), url)}", channel)
        if plugin is None:
            return ChannelResult(False, validate_url(url) or "bad channel URL", channel)
        channel = plugin.url(privacy=True)
        secrets = _secrets(plugin)
        plugin.logger = _PLUGIN_LOG
        for attr in ("socket_connect_timeout", "socket_read_timeout"):
            setattr(plugin, attr, min(float(getattr(plugin, attr)), float(timeout)))

        kind = _format_of(plugin)
        if kind == "json":
            body = json.dumps(payload, ensure_ascii=False, allow_nan=False)
            title, body_format = "", NotifyFormat.TEXT
        else:
            body = {"html": message.html, "markdown": message.markdown, "text": message.text}[kind]
            title, body_format = message.title, NotifyFormat(kind)

        apobj = Apprise(asset=_asset())
        apobj.add(plugin)
        deadline = DEADLINE_FACTOR * max(float(timeout), 0.0)
        result = apobj.notify(body=body, title=title, body_format=body_format, timeout=deadline)
        if result:
            return ChannelResult(True, None, channel)
        reason = _reason(sink)
        timed_out = AppriseResultStatus.TIMEOUT
        if result.status == timed_out or any(r.status == timed_out for r in result):
            reason = f"gave up after {deadline:g}s (timed out)" + (f"; {reason}" if reason else "")
        reason = reason or f"delivery failed ({result.status.name.lower()})"
        return ChannelResult(False, _scrub(reason, secrets), channel)
    except Exception as exc:  # apprise or a plugin raised: still a result, never a crash
        _LOG.exception("delivery to %s raised", channel)
        return ChannelResult(False, _scrub(f"{type(exc).__name__}: {exc}", secrets), channel)
    finally:
        _CURRENT.reset(token)


def validate_url(url: str) -> str | None:
    """Why apprise cannot use ``url``, or None when it can.

    For ``loanwatch config check``: a bad channel must be found when the
    configuration is loaded, not when the first alert fails to go out.
    """
    if not isinstance(url, str) or not url.strip():
        return "empty channel URL"
    match = re.match(r"^\s*([A-Za-z][A-Za-z0-9+.-]*)://", url)
    if not match:
        return "not a channel URL: expected scheme://…"
    scheme = match.group(1).lower()
    manager = NotificationManager()
    if scheme not in manager:
        return f"unknown scheme {scheme}://"
    if not manager[scheme].enabled:
        return f"{scheme}:// is not available on this system"
    try:
        plugin = _instantiate(url)
    except Exception as exc:
        return f"{scheme}:// URL rejected: {_scrub_unparsed(str(exc), url)}"
    if plugin is None:
        return f"apprise cannot parse this {scheme}:// URL"
    return None


def redact(url: str) -> str:
    """``url`` with passwords, keys and tokens hidden, as apprise prints it."""
    try:
        plugin = _instantiate(url)
    except Exception:
        plugin = None
    return plugin.url(privacy=True) if plugin is not None else _fallback_redaction(url)


def message_format(url: str) -> MessageFormat | None:
    """Which rendering ``deliver()`` sends to ``url``; None if the URL is unusable."""
    try:
        plugin = _instantiate(url)
    except Exception:
        return None
    return _format_of(plugin) if plugin is not None else None


# --------------------------------------------------------------------------- internals


def _asset() -> AppriseAsset:
    # Names the sender in e-mail headers (X-Application) and the User-Agent.
    return AppriseAsset(app_id="Loanwatch", app_desc="Loanwatch post-loan risk monitoring")


def _instantiate(url: str) -> NotifyBase | None:
    return Apprise.instantiate(url, asset=_asset(), suppress_exceptions=False)


def _format_of(plugin: NotifyBase) -> MessageFormat:
    if isinstance(plugin, NotifyLoanwatchWebhook):
        return "json"
    if isinstance(plugin, NotifyEmail):
        return "html"
    declared = plugin.notify_format
    formats = {str(declared)} if isinstance(declared, str) else {str(f) for f in declared}
    if str(NotifyFormat.MARKDOWN) in formats:
        return "markdown"
    if str(NotifyFormat.HTML) in formats:
        return "html"
    return "text"


# DEBUG lines that carry a cause rather than progress chatter.
_CAUSE = re.compile(r"exception|error|refused|denied|auth|timed? ?out|response (details|body)", re.I)


def _reason(records: list[tuple[int, str]]) -> str:
    lines: list[str] = []
    for level, text in records:
        text = " ".join(text.split())
        if (level >= logging.WARNING or _CAUSE.search(text)) and text not in lines:
            lines.append(text)
    return "; ".join(lines)


def _secrets(plugin: NotifyBase) -> set[str]:
    """The values apprise marks private for this plugin (password, key, token…)."""
    found: set[str] = set()
    for table in (plugin.template_tokens, plugin.template_args):
        for name, spec in table.items():
            if not spec.get("private"):
                continue
            value = getattr(plugin, spec.get("map_to", name), None)
            values = value if isinstance(value, list | tuple | set) else [value]
            found.update(str(v) for v in values if isinstance(v, str) and len(v) >= 3)
    if isinstance(plugin, NotifyLoanwatchWebhook):
        # Header and query values (tokens, "Bearer …") are hidden in its privacy URL.
        found.update(str(v) for v in (*plugin.headers.values(), *plugin.params.values()) if len(str(v)) >= 3)
    return found


def _scrub(text: str, secrets: set[str]) -> str:
    """Replace every secret, raw or URL-quoted, by ****."""
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, "****").replace(quote(secret, safe=""), "****")
    return text


def _scrub_unparsed(text: str, url: str) -> str:
    """For a URL apprise rejected: hide its password and anything key-like."""
    match = re.match(r"^[^:]+://[^:/@]+:([^@/]+)@", url)
    if match:
        text = text.replace(match.group(1), "****").replace(unquote(match.group(1)), "****")
    return re.sub(r"[A-Za-z0-9_-]{16,}", "****", text)


def _fallback_redaction(url: str) -> str:
    """When apprise cannot parse the URL, show only its scheme."""
    match = re.match(r"^\s*([A-Za-z][A-Za-z0-9+.-]*)://", url) if isinstance(url, str) else None
    return f"{match.group(1)}://****" if match else "****"
