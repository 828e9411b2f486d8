"""What one bank is told about one alert, and the rendered message.

An ``AlertView`` is the bank-specific projection of a detection: it carries
only that bank's loans and that bank's language, so rendering and delivery
can never leak another bank's watchlist. It is plain data (no store, no
clock) so that the same view can be rendered again for a retry and give the
same message.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from alerts.exceptions import BadAlertView
from detectors.severity import Severity

__all__ = ["LoanRef", "AlertView", "Message", "LOCALES", "ALERT_KINDS"]

Locale = Literal["zh-CN", "en"]
Kind = Literal["new", "escalated", "resolved"]

#: The languages messages are written in; a bank's ``locale`` is one of them.
LOCALES: tuple[str, ...] = ("zh-CN", "en")
#: What can happen to an alert that a bank is told about (digests and silence notices are messages too,
#: but not about one alert).
ALERT_KINDS: tuple[str, ...] = ("new", "escalated", "resolved")


@dataclass(frozen=True, slots=True)
class LoanRef:
    """One of the bank's own loans to the enterprise.

    ``exposure`` is in CNY; ``due_date`` is "YYYY-MM-DD". The loan is in the
    message because a risk manager acts per loan, not per enterprise.
    """

    loan_id: str
    exposure: float
    due_date: str | None = None
    relationship_manager: str | None = None


@dataclass(frozen=True, slots=True)
class AlertView:
    """One alert as one bank sees it.

    ``evidence`` has the shape of ``Evidence.to_dict()`` (a plain dict, so a
    view read back from the store renders the same as a fresh one).
    ``previous_severity`` is set for escalations; ``risk_level`` is the
    enterprise's combined level over all its signals, which can be higher
    than this alert's own severity.
    """

    alert_id: str
    bank_id: str
    bank_name: str
    locale: Locale
    kind: Kind
    enterprise_id: str
    enterprise_name: str | None
    loans: tuple[LoanRef, ...]
    signal: str
    change_period: str
    severity: Severity
    previous_severity: Severity | None
    risk_level: Severity
    direction: str
    evidence: dict[str, Any]
    detected_at: str

    def __post_init__(self) -> None:
        # Rejecting here, not in render(), keeps a bad view out of the outbox.
        if self.locale not in LOCALES:
            raise BadAlertView(f"unknown locale {self.locale!r}; valid: {', '.join(LOCALES)}")
        if self.kind not in ALERT_KINDS:
            raise BadAlertView(f"unknown alert kind {self.kind!r}; valid: {', '.join(ALERT_KINDS)}")
        try:
            # Views rebuilt from the store carry severities as text.
            object.__setattr__(self, "severity", Severity.parse(self.severity))
            object.__setattr__(self, "risk_level", Severity.parse(self.risk_level))
            if self.previous_severity is not None:
                object.__setattr__(self, "previous_severity", Severity.parse(self.previous_severity))
        except ValueError as exc:
            raise BadAlertView(str(exc)) from None
        if not isinstance(self.loans, tuple):
            object.__setattr__(self, "loans", tuple(self.loans))


@dataclass(frozen=True, slots=True)
class Message:
    """One alert rendered once for every kind of channel.

    Chat channels that render Markdown get ``markdown``, e-mail gets ``html``
    (with ``title`` as the subject), channels that only show plain text get
    ``text``.
    """

    title: str
    text: str
    markdown: str
    html: str
