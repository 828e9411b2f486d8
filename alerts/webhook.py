"""The webhook channel: Loanwatch's own JSON document, POSTed as the HTTP body.

Banks feed webhooks into their own systems (a credit workflow, a ticket
queue), so the body is a stable, versioned schema rather than a chat text.

Schema, version "1"
-------------------

::

    {
      "version": "1",                      # bumped only on an incompatible change
      "alert_id": "…",                     # stable per (bank, enterprise, signal, change period);
                                           #   the same alert_id comes again when it escalates or
                                           #   resolves, so a receiver treats a repeat of the same
                                           #   (alert_id, kind, severity) as a duplicate
      "bank_id": "…",
      "kind": "new" | "escalated" | "resolved",
      "severity": "low" | "medium" | "high" | "critical",
      "previous_severity": "low" | … | null,   # set for "escalated"
      "risk_level": "low" | … | "critical",     # the enterprise's combined level
      "enterprise": {"id": "<USCC>", "name": "…" | null},
      "loans": [{"loan_id": "…", "exposure": 1200000.0,        # CNY
                 "due_date": "YYYY-MM-DD" | null, "relationship_manager": "…" | null}],
      "signal": "departure_rate_rise",     # a code; see detectors.signals.CATALOGUE
      "change_period": "YYYY-MM",          # month the change starts
      "direction": "up" | "down" | "event",
      "evidence": {                        # as detectors.records.Evidence.to_dict()
        "level_before": float | null, "level_after": float | null,
        "relative_change": float | null,   # a fraction: -0.35 means -35 %
        "baseline": "…", "yoy_before": float | null, "yoy_after": float | null,
        "excluded_periods": ["YYYY-MM", …], "events": [{…}, …], "note": "…",
        "series": {"periods": [...], "values": [...], …}
      },
      "detected_at": "ISO 8601 with offset"
    }

Non-finite numbers are sent as ``null`` (JSON has no NaN). Fields may be
added within version "1"; receivers should ignore keys they do not know.

HTTP: ``POST`` with ``Content-Type: application/json; charset=utf-8`` and
the headers ``X-Loanwatch-Alert-Id: <alert_id>``, ``X-Loanwatch-Kind:
<kind>`` and ``X-Loanwatch-Severity: <severity>``, so a receiver can drop a
duplicate without parsing the body. Any 2xx answer is success; anything
else is retried by the sender, which is why duplicates happen at all (an
answer lost after the receiver stored the alert).

Transport
---------

Apprise's stock ``json://`` plugin wraps every message in its own envelope
(``{"version", "title", "message", "type", …}``); its ``:key=value`` options
can only rename or drop those keys, so our document would arrive as a string
inside ``message``. ``NotifyLoanwatchWebhook`` therefore subclasses that
plugin: it keeps its URL grammar (user/password, port, path, ``+Header=``,
``-param=``, ``method=``, ``cto``/``rto`` timeouts), replaces ``send()`` to
post the body verbatim, and hides header and query values in its privacy
URL as well as the password. It is registered under
``lwhook://`` (http) and ``lwhooks://`` (https)::

    lwhook://127.0.0.1:8080/loanwatch
    lwhooks://user:password@hooks.bank.example/loanwatch?+Authorization=Bearer%20T

A proper plugin class, rather than apprise's ``@notify`` decorator, because
decorator plugins print every URL as just ``scheme://`` (no host left to tell
channels apart) and take no declared settings to validate.
"""

from __future__ import annotations

import json
import math
from typing import Any
from urllib.parse import parse_qsl, urlencode

import requests
from apprise import NotificationManager
from apprise.common import NotifyFormat, NotifyType
from apprise.exception import AppriseImproperlyConfigured
from apprise.plugins.custom_json import NotifyJSON

from alerts.message import AlertView

__all__ = ["SCHEMA_VERSION", "ALERT_ID_HEADER", "webhook_payload", "NotifyLoanwatchWebhook", "register"]

SCHEMA_VERSION = "1"
ALERT_ID_HEADER = "X-Loanwatch-Alert-Id"
# Header -> payload key: what a receiver needs to spot a duplicate.
_ID_HEADERS = {ALERT_ID_HEADER: "alert_id", "X-Loanwatch-Kind": "kind", "X-Loanwatch-Severity": "severity"}


def webhook_payload(alert: AlertView) -> dict[str, Any]:
    """The schema-"1" document for ``alert`` (see the module docstring).

    Language-neutral on purpose: codes, not translated words, so a receiver
    can route on them.
    """
    return {
        "version": SCHEMA_VERSION,
        "alert_id": alert.alert_id,
        "bank_id": alert.bank_id,
        "kind": alert.kind,
        "severity": alert.severity.label,
        "previous_severity": alert.previous_severity.label if alert.previous_severity is not None else None,
        "risk_level": alert.risk_level.label,
        "enterprise": {"id": alert.enterprise_id, "name": alert.enterprise_name},
        "loans": [
            {
                "loan_id": loan.loan_id,
                "exposure": _json_safe(float(loan.exposure)),
                "due_date": loan.due_date,
                "relationship_manager": loan.relationship_manager,
            }
            for loan in alert.loans
        ],
        "signal": alert.signal,
        "change_period": alert.change_period,
        "direction": alert.direction,
        "evidence": _json_safe(alert.evidence),
        "detected_at": alert.detected_at,
    }


def _json_safe(value: Any) -> Any:
    """Tuples to lists and NaN/inf to null, so every receiver can parse the body."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


class NotifyLoanwatchWebhook(NotifyJSON):
    """POST the Loanwatch webhook document, unwrapped, to an HTTP(S) endpoint.

    URL shapes and secret fields are those of apprise's ``json://`` (the
    ``templates`` and ``template_tokens`` class attributes inherited from
    ``NotifyJSON``; the password is private). ``:key=value`` payload options
    are refused at construction: they would rewrite a schema receivers rely
    on.
    """

    service_name = "Loanwatch webhook"
    # setup_url stays json://'s: the URL grammar is the same.
    protocol = "lwhook"
    secure_protocol = "lwhooks"
    # The body is a JSON document: never converted, never split.
    notify_format = NotifyFormat.TEXT
    attachment_support = False

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if self.payload_extras:
            msg = (
                f"{self.protocol}:// posts the Loanwatch schema unchanged; payload options "
                f"({', '.join(':' + k for k in self.payload_extras)}) are not supported"
            )
            self.logger.warning(msg)
            raise AppriseImproperlyConfigured(msg)

    def send(
        self, body: str, title: str = "", notify_type: NotifyType = NotifyType.INFO, **kwargs: Any
    ) -> bool:
        try:
            document = json.loads(body)
        except ValueError:
            document = None
        if not isinstance(document, dict):
            self.logger.warning("Loanwatch webhook body is not a JSON object; nothing was sent.")
            return False

        headers = {
            "User-Agent": self.app_id,
            "Content-Type": "application/json; charset=utf-8",
        }
        for header, key in _ID_HEADERS.items():
            if document.get(key):
                headers[header] = str(document[key])
        headers.update(self.headers)
        has_auth_header = any(k.lower() == "authorization" for k in self.headers)

        url = f"{'https' if self.secure else 'http'}://{self.host}"
        if isinstance(self.port, int):
            url += f":{self.port}"
        url += self.fullpath or "/"

        self.throttle()
        try:
            r = requests.request(
                self.method,
                url,
                data=body.encode("utf-8"),
                params=self.params,
                headers=headers,
                # An explicit +Authorization header is the more specific setting.
                auth=(self.user, self.password) if self.user and not has_auth_header else None,
                verify=self.verify_certificate,
                timeout=self.request_timeout,
                allow_redirects=self.redirects,
            )
        except requests.RequestException as exc:
            # The exception text carries the full URL; keep only the cause.
            self.logger.warning("Loanwatch webhook to %s failed: %s", self.host, _connection_cause(exc))
            return False

        if not 200 <= r.status_code < 300:
            status = (self.http_response_code_lookup(r.status_code) or "").rstrip(".")
            self.logger.warning(
                "Loanwatch webhook to %s failed: HTTP %d%s",
                self.host,
                r.status_code,
                f" {status}" if status else "",
            )
            self.logger.debug("Response body: %r", (r.content or b"")[:500])
            return False
        self.logger.info("Sent Loanwatch webhook to %s (HTTP %d).", self.host, r.status_code)
        return True

    def url(self, privacy: bool = False, *args: Any, **kwargs: Any) -> str:
        """As ``json://`` prints it, but with header and query values hidden.

        Webhook receivers take their token in a header (``+Authorization=``)
        or a query parameter as often as in the password; the stock plugin
        would print those in clear.
        """
        text = super().url(privacy, *args, **kwargs)
        if not privacy:
            return text
        base, _, query = text.partition("?")
        pairs = [(k, "****" if k[:1] in "+-" else v) for k, v in parse_qsl(query, keep_blank_values=True)]
        return f"{base}?{urlencode(pairs, safe='*')}" if pairs else base


def _connection_cause(exc: requests.RequestException) -> str:
    """The innermost reason ("Connection refused", "timed out"), without the URL."""
    if isinstance(exc, requests.ConnectTimeout):
        return "could not connect: timed out"
    if isinstance(exc, requests.Timeout):
        return "connected, but no response: timed out"
    inner: BaseException = exc
    seen = set()
    while inner.__context__ is not None and id(inner) not in seen:
        seen.add(id(inner))
        inner = inner.__context__
    text = str(inner)
    for marker in ("[Errno", "Name or service not known", "Temporary failure", "certificate verify failed"):
        at = text.find(marker)
        if at >= 0:
            return "could not connect: " + text[at:].rstrip(")'\"")
    return f"could not connect: {type(exc).__name__}"


def register() -> None:
    """Make ``lwhook://`` and ``lwhooks://`` known to apprise; safe to call twice."""
    manager = NotificationManager()
    if NotifyLoanwatchWebhook.protocol not in manager:
        manager.add(NotifyLoanwatchWebhook)


register()
