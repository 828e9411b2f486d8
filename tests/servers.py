"""Real servers for delivery tests: an SMTP server and an HTTP receiver.

Delivery is only proven when bytes cross a socket and a real server parses
them, so these fixtures start actual servers on free loopback ports instead
of mocking apprise or requests. They are generic on purpose (any test folder
can use ``smtp_server`` and ``http_receiver``).
"""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from alerts.message import AlertView, LoanRef
from detectors.severity import Severity

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """A loopback port nothing listens on right now (for "connection refused")."""
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------- SMTP


@dataclass
class ReceivedMail:
    """One message as the SMTP server got it: envelope and parsed content."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["subject"])

    def part(self, content_type: str) -> str | None:
        """Decoded text of the first part of ``content_type`` ("text/html", "text/plain")."""
        for part in self.message.walk():
            if part.get_content_type() == content_type:
                return part.get_content()
        return None


class _MailHandler:
    def __init__(self, messages: list[ReceivedMail]) -> None:
        self.messages = messages

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        self.messages.append(ReceivedMail(envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 OK"


@dataclass
class SMTPServer:
    """A running aiosmtpd server; ``messages`` fills as mail arrives.

    With ``credentials`` set it offers AUTH on the plain connection and
    rejects any other user or password (535). It does not insist on AUTH:
    aiosmtpd warns about requiring AUTH without TLS, and a client that logs
    in is what is being tested.
    """

    host: str
    port: int
    messages: list[ReceivedMail]
    credentials: tuple[str, str] | None = None
    _controller: Controller | None = field(default=None, repr=False)

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


def _start_smtp(credentials: tuple[str, str] | None = None) -> SMTPServer:
    messages: list[ReceivedMail] = []
    port = free_port()
    kwargs: dict[str, Any] = {}
    if credentials is not None:

        def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
            ok = (
                isinstance(data, LoginPassword)
                and (data.login.decode(), data.password.decode()) == credentials
            )
            return AuthResult(success=ok, handled=False)

        kwargs = {"authenticator": authenticator, "auth_require_tls": False}
    controller = Controller(_MailHandler(messages), hostname=LOOPBACK, port=port, **kwargs)
    controller.start()
    return SMTPServer(LOOPBACK, port, messages, credentials, controller)


@pytest.fixture
def smtp_server() -> Iterator[SMTPServer]:
    """A plain SMTP server (no TLS, no AUTH) on a free loopback port."""
    server = _start_smtp()
    yield server
    server.stop()


@pytest.fixture
def smtp_server_auth() -> Iterator[SMTPServer]:
    """A plain SMTP server that checks AUTH logins against ``loanwatch`` / ``s3cret-pw``."""
    server = _start_smtp(("loanwatch", "s3cret-pw"))
    yield server
    server.stop()


# --------------------------------------------------------------------------- HTTP


@dataclass
class ReceivedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))

    def header(self, name: str) -> str | None:
        """Header value, case-insensitive, as HTTP means it."""
        for key, value in self.headers.items():
            if key.lower() == name.lower():
                return value
        return None


class HTTPReceiver:
    """A real HTTP server that records every request.

    Set ``status`` to make it answer with an error, ``delay`` (seconds) to
    make it slow, and call ``stop()`` to close the port so that connections
    are refused.
    """

    def __init__(self, port: int = 0) -> None:
        self.requests: list[ReceivedRequest] = []
        self.status = 200
        self.delay = 0.0
        self.answer: bytes | None = None  # body of a 2xx answer (default {"ok": true})
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _record(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                receiver.requests.append(ReceivedRequest(self.command, self.path, dict(self.headers), body))
                if receiver.delay:
                    time.sleep(receiver.delay)
                ok_body = receiver.answer if receiver.answer is not None else b'{"ok": true}'
                payload = ok_body if receiver.status < 300 else b'{"error": "receiver failure"}'
                try:
                    self.send_response(receiver.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:  # the client gave up (timeout test)
                    pass

            do_POST = do_PUT = do_GET = do_PATCH = do_DELETE = _record

            def log_message(self, format: str, *args: Any) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer((LOOPBACK, port), Handler)
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self.host, self.port = LOOPBACK, self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="http-receiver", daemon=True)
        self._thread.start()
        self.running = True

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        if self.running:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self.running = False


@pytest.fixture
def http_receiver() -> Iterator[HTTPReceiver]:
    """A real HTTP receiver on a free loopback port, recording requests."""
    receiver = HTTPReceiver()
    yield receiver
    receiver.stop()


# --------------------------------------------------------------------------- alerts

USCC = "91440300MA5FXXXXX1"


def _series() -> dict[str, list[Any]]:
    periods = [f"{y}-{m:02d}" for y in (2023, 2024) for m in range(1, 13)]
    values = [132, 131, 118, 130, 131, 133, 132, 131, 130, 132, 133, 132]
    values += [131, 120, 124, 130, 129, 112, 104, 98, 95, 93, 90, 88]
    return {"metric": ["insured"], "periods": periods, "values": values}


@pytest.fixture
def make_alert() -> Any:
    """Build an ``AlertView`` with realistic evidence; override any field by keyword."""

    def build(**overrides: Any) -> AlertView:
        fields: dict[str, Any] = {
            "alert_id": "lw-d4072baf9dc663a77a25",
            "bank_id": "bank_a",
            "bank_name": "示例银行深圳分行",
            "locale": "zh-CN",
            "kind": "new",
            "enterprise_id": USCC,
            "enterprise_name": "深圳市示例精密制造有限公司",
            "loans": (LoanRef("L-2023-0042", 1_200_000.0, "2025-09-30", "王敏"),),
            "signal": "headcount_drop",
            "change_period": "2024-06",
            "severity": Severity.HIGH,
            "previous_severity": None,
            "risk_level": Severity.HIGH,
            "direction": "down",
            "evidence": {
                "level_before": 131.0,
                "level_after": 93.0,
                "relative_change": -0.2901,
                "baseline": "pre_change_median",
                "yoy_before": 132.0,
                "yoy_after": 93.0,
                "excluded_periods": ["2024-02", "2024-03"],
                "events": [],
                "note": "",
                "series": _series(),
            },
            "detected_at": "2024-12-02T09:30:00+08:00",
        }
        fields.update(overrides)
        return AlertView(**fields)

    return build
