"""Errors raised by the alerts package, named after the failure.

Delivery failures are not exceptions: a channel that cannot be reached is an
expected outcome that the outbox records and retries, so ``deliver()``
returns it as a ``ChannelResult``. Exceptions here mean the caller handed in
something that can never be sent.
"""

__all__ = ["AlertsError", "BadAlertView"]


class AlertsError(Exception):
    """Base for errors raised by the alerts package."""


class BadAlertView(AlertsError, ValueError):
    """An alert view has a field outside its valid values (locale, kind, severity)."""
