"""The apprise plugins Loanwatch adds, made known to apprise once, explicitly, at start-up.

apprise finds its own plugins by scanning its package. Ours live in
``alerts/`` (``lwhook://``/``lwhooks://`` in ``alerts.webhook``,
``wecommd://``/``feishumd://``/``larkmd://`` in ``alerts.chat_markdown``,
``lwkafka://`` in ``alerts.kafka_channel``) and are registered by
``register_plugins()``, which whoever starts Loanwatch calls: the
configuration parser before it checks the banks' channel URLs
(``monitor.config_banks``), and the ``Loanwatch`` service object when it is
built. Importing a module has no effect on apprise.
"""

from __future__ import annotations

from apprise import NotificationManager
from apprise.plugins.base import NotifyBase

from alerts.chat_markdown import NotifyFeishuMarkdown, NotifyLarkMarkdown, NotifyWeComMarkdown
from alerts.kafka_channel import NotifyLoanwatchKafka
from alerts.webhook import NotifyLoanwatchWebhook

__all__ = ["PLUGINS", "register_plugins", "schemes"]

PLUGINS: tuple[type[NotifyBase], ...] = (NotifyLoanwatchWebhook, NotifyWeComMarkdown, NotifyFeishuMarkdown,
                                         NotifyLarkMarkdown, NotifyLoanwatchKafka)


def schemes(plugin: type[NotifyBase]) -> set[str]:
    """The URL schemes a plugin class declares (``protocol`` and ``secure_protocol``)."""
    out: set[str] = set()
    for declared in (plugin.protocol, plugin.secure_protocol):
        out.update([declared] if isinstance(declared, str) else declared or ())
    return {s.lower() for s in out if s}


def register_plugins() -> None:
    """Make Loanwatch's schemes known to apprise (process-wide); calling it again changes nothing."""
    manager = NotificationManager()
    for plugin in PLUGINS:
        if not all(scheme in manager for scheme in schemes(plugin)):
            manager.add(plugin)
