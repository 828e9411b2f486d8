"""Outbox delivery against real receivers: down then back, failures visible, nothing lost or doubled."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

from click.testing import CliRunner
from sqlalchemy import select

from monitor.app import Loanwatch
from monitor.cli import cli
from monitor.config import parse_config
from store.models import Delivery
from streams.uscc import complete_uscc
from tests.monitor.events import HEALTHY, headcount_lines, listing_line
from tests.monitor.test_pipeline import items, watch
from tests.servers import HTTPReceiver, free_port

NOW = datetime(2025, 1, 20, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def app_with(url: str, channels: list[str], clock: Clock, max_attempts: int = 8) -> Loanwatch:
    cfg = parse_config({
        "global": {"store": url},
        "delivery": {"max_attempts": max_attempts, "backoff_base_seconds": 30, "timeout_seconds": 3},
        "banks": [{"id": "bank_a", "name": "A", "locale": "en", "min_severity": "medium", "channels": channels}],
    })
    return Loanwatch(cfg, clock=clock)


def raise_one_alert(app: Loanwatch) -> None:
    watch(app, "bank_a", [(HEALTHY, "A-1", 1e6)])
    app.ingest(items(headcount_lines(HEALTHY, "2024-06", "2024-12", seed=1) + [listing_line(HEALTHY, "2024-12")]))


def test_receiver_down_then_back_gets_the_alert_exactly_once(sqlite_url, smtp_server):
    port = free_port()
    clock = Clock()
    mail = f"mailto://{smtp_server.host}:{smtp_server.port}?from=lw@test.example&to=risk@a.example"
    app = app_with(sqlite_url, [f"lwhook://127.0.0.1:{port}/hook", mail], clock)
    raise_one_alert(app)

    first = app.deliver()
    # the dead webhook does not hold up the e-mail
    assert (first.sent, first.retrying, first.failed) == (1, 1, 0)
    assert len(smtp_server.messages) == 1
    with app.sessions() as s:
        hook = s.scalars(select(Delivery).where(Delivery.channel.startswith("lwhook"))).one()
    assert hook.status == "pending" and hook.attempts == 1 and "refused" in hook.last_error.lower()

    assert app.deliver().attempted == 0  # not due yet: backoff

    receiver = HTTPReceiver(port=port)
    try:
        clock.now += timedelta(minutes=5)
        second = app.deliver()
        assert (second.sent, second.retrying) == (1, 0)
        clock.now += timedelta(hours=2)
        assert app.deliver().attempted == 0  # nothing left: delivered once
        assert len(receiver.requests) == 1
        body = receiver.requests[0].json()
        assert body["alert_id"] == hook.alert_id and body["signal"] == "dishonest_debtor_listed"
        assert len(smtp_server.messages) == 1
    finally:
        receiver.stop()
    app.close()


def test_channel_that_never_comes_back_is_marked_failed_and_shown(sqlite_url, http_receiver):
    clock = Clock()
    http_receiver.status = 500
    app = app_with(sqlite_url, [f"lwhook://127.0.0.1:{http_receiver.port}/hook"], clock, max_attempts=3)
    raise_one_alert(app)
    for _ in range(3):
        app.deliver()
        clock.now += timedelta(hours=2)
    with app.sessions() as s:
        d = s.scalars(select(Delivery)).one()
    assert d.status == "failed" and d.attempts == 3 and "500" in d.last_error
    assert len(http_receiver.requests) == 3
    app.close()

    config = sqlite_url.replace("sqlite:///", "")
    cfg_file = config + ".toml"
    with open(cfg_file, "w", encoding="utf-8") as fh:
        fh.write(f'[global]\nstore = "{sqlite_url}"\n[[banks]]\nid = "bank_a"\nname = "A"\n'
                 f'channels = ["lwhook://127.0.0.1:{http_receiver.port}/hook"]\n')
    out = CliRunner().invoke(cli, ["--config", cfg_file, "alerts", "--failed", "--json"], obj={})
    assert out.exit_code == 0, out.output
    rows = json.loads(out.stdout)
    assert len(rows) == 1 and rows[0]["deliveries"][0]["status"] == "failed"
    assert "500" in rows[0]["deliveries"][0]["last_error"]


def test_two_senders_sharing_a_store_send_each_message_once(store_url, http_receiver):
    """Two daemons (or two workers) on one store: every delivery is claimed by exactly one."""
    clock = Clock()
    url = f"lwhook://127.0.0.1:{http_receiver.port}/hook"
    first = app_with(store_url, [url], clock)
    firms = [complete_uscc(f"91440300MA5F1{i:04d}") for i in range(12)]
    watch(first, "bank_a", [(eid, f"A-{i}", 1e6) for i, eid in enumerate(firms)])
    lines = [listing_line(eid, "2024-12") for eid in firms]
    first.ingest(items(lines))
    second = app_with(store_url, [url], clock)
    http_receiver.delay = 0.05  # keep sends in flight so the two passes overlap
    barrier = threading.Barrier(2)

    def go(app):
        barrier.wait()
        app.deliver()

    threads = [threading.Thread(target=go, args=(a,)) for a in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    ids = [r.json()["alert_id"] for r in http_receiver.requests]
    with first.sessions() as s:
        sent = s.scalars(select(Delivery).where(Delivery.status == "sent")).all()
    assert len(ids) == len(set(ids)) == len(sent) == len(firms)
    first.close()
    second.close()
