"""Errors raised by the alerts package, named after the failure.

Delivery failures are not exceptions: a channel that cannot be reached is an
expected outcome that the outbox records and retries, so ``deliver()``
returns it as a ``ChannelResult``. Exceptions here mean the caller handed in
something that can never be sent, asked for something the bank does not
have, or asked for an action that cannot be applied.
"""

__all__ = ["AlertsError", "BadAlertView", "NotFound", "AlertNotFound", "SilenceNotFound", "InvalidAction"]


class AlertsError(Exception):
    """Base for errors raised by the alerts package."""


class BadAlertView(AlertsError, ValueError):
    """An alert view has a field outside its valid values (locale, kind, severity)."""


class NotFound(AlertsError, LookupError):
    """The bank has no such row; another bank's row is answered the same way, so none leaks."""


class AlertNotFound(NotFound):
    """No such alert for this bank."""


class SilenceNotFound(NotFound):
    """No such silence for this bank."""


class InvalidAction(AlertsError, ValueError):
    """A risk manager's action or a silence cannot be applied as asked; the message says why."""
