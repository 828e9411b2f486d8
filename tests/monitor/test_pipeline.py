"""The pipeline on SQLite and PostgreSQL: ingest rules, detection fan-out, identity, outbox."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

import monitor.pipeline as pipeline_module
from monitor.app import Loanwatch
from monitor.config import ConfigError, parse_config
from store.models import AlertRow, Delivery, DetectionRow, MonthlyRecord, RejectedEvent
from streams.uscc import complete_uscc
from tests.monitor.events import HEALTHY, SLIDING, UNWATCHED, headcount_lines, listing_line, watchlist_csv

NOW = datetime(2025, 1, 20, tzinfo=UTC)


def make_app(url, channels_a=(), channels_b=()):
    cfg = parse_config(
        {
            "global": {"store": url, "batch_size": 50},
            "banks": [
                {
                    "id": "bank_a",
                    "name": "A",
                    "locale": "zh-CN",
                    "min_severity": "medium",
                    "channels": list(channels_a),
                },
                {
                    "id": "bank_b",
                    "name": "B",
                    "locale": "en",
                    "min_severity": "high",
                    "channels": list(channels_b),
                },
            ],
        }
    )
    return Loanwatch(cfg, clock=lambda: NOW)


def watch(app, bank, rows):
    app.bank(bank).import_watchlist(watchlist_csv(rows))


def items(lines):
    return [(f"t:{i + 1}", line) for i, line in enumerate(lines)]


def portfolio_lines():
    lines = []
    lines += headcount_lines(HEALTHY, "2022-01", "2024-12", seed=1)
    lines += headcount_lines(SLIDING, "2022-01", "2024-12", seed=2, decline_from="2024-05")
    lines += headcount_lines(UNWATCHED, "2022-01", "2024-12", seed=3, decline_from="2024-05")
    # arrival order: by period, as a platform would send them
    return sorted(lines, key=lambda s: json.loads(s)["data"]["period"])


def test_end_to_end_fan_out_identity_and_replay(store_url):
    app = make_app(store_url, channels_a=["json://127.0.0.1:9/a"], channels_b=["json://127.0.0.1:9/b"])
    watch(app, "bank_a", [(HEALTHY, "A-1", 1e6), (SLIDING, "A-2", 5e6)])
    watch(app, "bank_b", [(SLIDING, "B-1", 2e7)])
    stats = app.ingest(items(portfolio_lines()))
    assert stats.accepted == 108 and stats.duplicates == 0 and not stats.rejected
    with app.sessions() as s:
        dets = s.scalars(select(DetectionRow).where(DetectionRow.status == "active")).all()
        alerts = s.scalars(select(AlertRow)).all()
        deliveries = s.scalars(select(Delivery)).all()
    sliding_signals = {d.signal for d in dets if d.enterprise_id == SLIDING}
    assert "distress_score" in sliding_signals  # the default: the evidence score finds the slide
    assert not [d for d in dets if d.enterprise_id == HEALTHY]
    # detection is per enterprise; the unwatched one is detected but alerts nobody
    assert any(d.enterprise_id == UNWATCHED for d in dets)
    assert {a.enterprise_id for a in alerts} == {SLIDING}
    assert {a.bank_id for a in alerts} >= {"bank_a"}
    for a in alerts:
        if a.bank_id == "bank_b":
            assert a.severity >= 3  # bank_b only hears high and above
    # every alert has exactly one delivery per channel of its own bank, with only that bank's loans
    for d in deliveries:
        assert d.payload["bank_id"] == d.bank_id
        assert {ln["loan_id"][0] for ln in d.payload["loans"]} == {d.bank_id[-1].upper()}
        assert d.payload["evidence"]["level_before"] is not None
    assert len(deliveries) == len(alerts)

    # replay: same events, same store -> duplicates, nothing new
    again = app.ingest(items(portfolio_lines()))
    assert again.accepted == 0 and again.duplicates == 108
    app.close()
    # restart: a new process on the same store sends nothing new either
    app2 = make_app(store_url, channels_a=["json://127.0.0.1:9/a"], channels_b=["json://127.0.0.1:9/b"])
    app2.ingest(items([listing_line(HEALTHY, "2024-12", event_id="x1")]))  # touches another firm only
    with app2.sessions() as s:
        assert s.scalar(
            select(func.count()).select_from(Delivery).where(Delivery.alert_id.in_([a.id for a in alerts]))
        ) == len(deliveries)
        listing = s.scalars(select(AlertRow).where(AlertRow.signal == "dishonest_debtor_listed")).all()
    assert [(a.bank_id, a.enterprise_id) for a in listing] == [("bank_a", HEALTHY)]
    app2.close()


def test_rejections_kept_with_reason_and_daemon_goes_on(store_url):
    app = make_app(store_url)
    good = headcount_lines(HEALTHY, "2024-01", "2024-03", seed=1)
    bad = [
        "{not json",
        good[0].replace(HEALTHY, HEALTHY[:-1] + ("0" if HEALTHY[-1] != "0" else "1")),
        good[1].replace('"left": ', '"left": -'),
        json.dumps(
            {
                "event_id": "u1",
                "enterprise_id": HEALTHY,
                "type": "weather",
                "occurred_at": "2024-01-01T00:00:00+08:00",
                "source": "test",
                "data": {},
            }
        ),
        good[2].replace('"period": "2024-03"', '"period": "2031-03"'),
    ]
    stats = app.ingest(items(good + bad))
    assert stats.accepted == 3
    assert dict(stats.rejected) == {
        "bad_json": 1,
        "bad_check_character": 1,
        "negative_value": 1,
        "unknown_type": 1,
        "future_period": 1,
    }
    with app.sessions() as s:
        rows = s.scalars(select(RejectedEvent).order_by(RejectedEvent.id)).all()
    assert [r.location for r in rows] == ["t:4", "t:5", "t:6", "t:7", "t:8"]
    assert rows[0].raw == "{not json" and rows[1].reason == "bad_check_character"
    assert "data.left" in rows[2].detail
    app.close()


def test_corrections_replace_and_late_events_land_in_place(store_url):
    app = make_app(store_url)
    lines = headcount_lines(HEALTHY, "2024-01", "2024-06", seed=1)
    late = lines.pop(2)  # 2024-03 arrives last
    app.ingest(items(lines))
    app.ingest(items([late]))
    fix = json.loads(lines[0])
    fix["event_id"] = "correction-1"
    fix["data"]["insured"] = 999
    app.ingest(items([json.dumps(fix)]))
    with app.sessions() as s:
        rows = s.execute(
            select(MonthlyRecord.period, MonthlyRecord.data, MonthlyRecord.event_id)
            .where(MonthlyRecord.enterprise_id == HEALTHY)
            .order_by(MonthlyRecord.period)
        ).all()
    assert [r.period for r in rows] == ["2024-01", "2024-02", "2024-03", "2024-04", "2024-05", "2024-06"]
    assert rows[0].data["insured"] == 999 and rows[0].event_id == "correction-1"
    hist = app.pipeline.cache.get(HEALTHY)
    assert hist.monthly["headcount"].periods() == [r.period for r in rows]
    assert hist.monthly["headcount"].column("insured")[0] == 999
    app.close()


def test_old_changes_in_a_backfill_do_not_alert(store_url):
    app = make_app(store_url, channels_a=["json://127.0.0.1:9/a"])
    watch(app, "bank_a", [(SLIDING, "A-2", 5e6)])
    # the platform is already at 2024-12 (watermark) ...
    app.ingest(items(headcount_lines(HEALTHY, "2024-10", "2024-12", seed=1)))
    # ... when a history whose decline started in 2022 arrives in bulk
    app.ingest(
        items(
            headcount_lines(SLIDING, "2020-01", "2022-12", seed=2, decline_from="2022-04")
            + [listing_line(SLIDING, "2021-06")]
        )
    )
    with app.sessions() as s:
        dets = s.scalars(select(DetectionRow).where(DetectionRow.enterprise_id == SLIDING)).all()
        n_alerts = s.scalar(select(func.count()).select_from(AlertRow))
    assert dets and all(d.status == "historical" for d in dets)
    assert n_alerts == 0
    app.close()


def test_listing_removed_resolves_the_alert_and_the_bank_is_told(store_url):
    app = make_app(store_url, channels_a=["json://127.0.0.1:9/a"])
    watch(app, "bank_a", [(HEALTHY, "A-1", 1e6)])
    app.ingest(items(headcount_lines(HEALTHY, "2024-06", "2024-12", seed=1)))
    app.ingest(items([listing_line(HEALTHY, "2024-11")]))
    app.ingest(items([listing_line(HEALTHY, "2024-12", status="removed")]))
    with app.sessions() as s:
        alert = s.scalars(select(AlertRow)).one()
        kinds = [d.kind for d in s.scalars(select(Delivery).order_by(Delivery.id))]
    assert alert.status == "resolved"
    assert kinds == ["new", "resolved"]
    app.close()


@pytest.mark.parametrize("field,value", [("batch_size", 0), ("history_months", 12)])
def test_bad_global_settings_name_the_key(field, value):
    with pytest.raises(ConfigError, match=f"global.{field}"):
        parse_config({"global": {field: value}})


def test_detection_deferred_past_a_crash_still_happens(store_url):
    """Events committed, process dies before the detection pass: a restart detects them."""
    app = make_app(store_url, channels_a=["json://127.0.0.1:9/a"])
    watch(app, "bank_a", [(HEALTHY, "A-1", 1e6)])
    lines = headcount_lines(HEALTHY, "2024-06", "2024-12", seed=1) + [listing_line(HEALTHY, "2024-12")]
    app.pipeline.process_batch(items(lines), detect=False)  # committed, not yet examined
    app.close()  # "crash": the in-memory state is gone
    restarted = make_app(store_url, channels_a=["json://127.0.0.1:9/a"])
    with restarted.sessions() as s:
        assert s.scalar(select(func.count()).select_from(AlertRow)) == 0
    result = restarted.pipeline.detect_pending()
    assert [(c.kind, c.view.signal) for c in result.alerts] == [("new", "dishonest_debtor_listed")]
    assert restarted.pipeline.detect_pending().alerts == []  # flags cleared: nothing twice
    restarted.close()


def test_backfill_detects_once_at_the_end_with_the_same_outcome(sqlite_url, tmp_path):
    live = make_app(sqlite_url)
    live.ingest(items(portfolio_lines()))
    bulk = make_app(f"sqlite:///{tmp_path / 'bulk.db'}")
    bulk.ingest(items(portfolio_lines()), detect_every=0)

    def active(app):
        with app.sessions() as s:
            return {(d.enterprise_id, d.signal) for d in s.scalars(select(DetectionRow)) if d.status == "active"}

    # month-by-month detection and one pass at the end flag the same enterprises and signals
    assert active(bulk)
    assert active(bulk) == active(live)
    live.close()
    bulk.close()


def test_every_flagged_enterprise_is_examined_at_each_detection_point(sqlite_url, monkeypatch):
    """More enterprises than one detection chunk: all are examined at the first detection point,
    none waits for later batches or the end of the input."""
    monkeypatch.setattr(pipeline_module, "DETECT_CHUNK", 3)
    app = make_app(sqlite_url)  # batches of 50 events
    firms = [complete_uscc(f"91440300MA5F3{i:04d}") for i in range(8)]
    watch(app, "bank_a", [(eid, f"L{i}", 1e6) for i, eid in enumerate(firms)])
    batches = 0
    real = app.pipeline.process_batch

    def counting(*args, **kwargs):
        nonlocal batches
        batches += 1
        return real(*args, **kwargs)

    app.pipeline.process_batch = counting
    raised_after: dict[str, int] = {}
    app.pipeline.on_alert = lambda change: raised_after.setdefault(change.view.enterprise_id, batches)
    lines = [listing_line(eid, "2024-11") for eid in firms] + [f"{{bad {i}" for i in range(42)]  # batch 1: 50
    lines += headcount_lines(HEALTHY, "2022-01", "2024-12", seed=1)  # batch 2
    app.ingest(items(lines), detect_every=50)
    assert batches == 2
    assert raised_after == {eid: 1 for eid in firms}
    app.close()
