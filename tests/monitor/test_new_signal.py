"""Adding a signal is one catalogue entry: a throw-away one, registered by a fixture and nowhere else,
is configured, detected, corroborated by its family, named in both languages in the banks' e-mail,
and reconciled with the tolerance its detector declares."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime

import numpy as np
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from detectors.drift import DriftDetector
from detectors.records import DiscreteEvent, History
from detectors.registry import build_detectors, validate_settings
from detectors.severity import Severity
from detectors.signals import CATALOGUE, Signal
from monitor.cli import cli
from monitor.reconcile import reconcile
from store.db import migrate, open_engine, session_factory
from store.models import DetectionRow
from tests.detectors.synthetic import EID, usage_history
from tests.monitor.events import HEALTHY, month_end, watchlist_csv

POWER_COLLAPSE = Signal(
    "power_collapse", "utilities", "用电量骤降", "Electricity use collapsing", DriftDetector,
    dict(metrics=("electricity",), ratios=(0.5,), strength_steps=(4.0, 8.0, 12.0, 20.0),
         severity_steps=(0.3, 0.45, 0.6, 0.8)))


@pytest.fixture
def power_collapse(monkeypatch):
    """The whole of adding the signal: one entry in the catalogue."""
    monkeypatch.setitem(CATALOGUE, POWER_COLLAPSE.name, POWER_COLLAPSE)
    return POWER_COLLAPSE


def collapsing_power() -> History:
    return usage_history(first="2022-01", last="2024-12", seed=3, drop_from="2024-06", drop=0.6)


def lawsuits(periods: list[str]) -> list[DiscreteEvent]:
    return [DiscreteEvent("lawsuit", f"{p}-15T10:00:00+08:00", p, {"case_no": f"(2024)粤03民初{i}号",
                                                                       "role": "defendant"})
            for i, p in enumerate(periods)]


def test_it_is_configured_and_detected(power_collapse):
    assert "power_collapse" in build_detectors().signals
    assert validate_settings("power_collapse", {"ratios": [0.4], "min_months": 4})
    found = build_detectors(only=["power_collapse"], corroboration_months=0).run(collapsing_power())
    assert [(d.signal, d.direction) for d in found] == [("power_collapse", "down")]
    assert "2024-05" <= found[0].start_period <= "2024-07"
    assert found[0].evidence.relative_change < -0.4


def test_it_is_corroborated_by_its_family(power_collapse):
    """Its own family (electricity_drop is utilities too) does not back it; another family does."""
    detectors = build_detectors(only=["power_collapse", "electricity_drop", "lawsuit_surge"])
    alone = History(EID, collapsing_power().monthly)
    by_signal = {d.signal: d for d in detectors.run(alone)}
    power, same_family = by_signal["power_collapse"], by_signal["electricity_drop"]
    assert same_family.evidence.base_severity in ("medium", "high", "critical")  # strong enough to back
    assert power.evidence.corroborated_by == ()
    assert power.severity == Severity.parse(power.evidence.base_severity).raised(-1)  # alone: one level down
    sued = History(EID, collapsing_power().monthly, lawsuits(["2024-06", "2024-07", "2024-08", "2024-09",
                                                              "2024-10"]))
    backed = {d.signal: d for d in detectors.run(sued)}["power_collapse"]
    assert backed.evidence.corroborated_by == ("lawsuit_surge",)
    assert backed.severity > power.severity


def test_it_is_named_in_both_languages_in_the_banks_mail(power_collapse, tmp_path, smtp_server):
    mail = f"mailto://{smtp_server.host}:{smtp_server.port}?from=lw@test.example&to=risk@bank.example"
    config = tmp_path / "config.toml"
    config.write_text(f"""
[global]
store = "sqlite:///lw.db"
[detectors.power_collapse]
min_months = 3
[[banks]]
id = "bank_a"
name = "A"
locale = "zh-CN"
min_severity = "low"
signals = ["power_collapse"]
channels = ["{mail}"]
[[banks]]
id = "bank_b"
name = "B"
locale = "en"
min_severity = "low"
signals = ["power_collapse"]
channels = ["{mail}"]
""", encoding="utf-8")
    watchlist = tmp_path / "watchlist.csv"
    watchlist.write_text(watchlist_csv([(HEALTHY, "L-1", 5e6)]), encoding="utf-8")
    history = collapsing_power()
    table = history.monthly["utility.electricity"]
    events = tmp_path / "events.jsonl"
    events.write_text("".join(json.dumps({
        "event_id": f"e-{p}", "enterprise_id": HEALTHY, "type": "utility", "occurred_at": month_end(p),
        "source": "test", "data": {"period": p, "kind": "electricity", "amount": round(float(a), 1), "unit": "kWh"},
    }) + "\n" for p, a in zip(table.periods(), table.column("amount"))), encoding="utf-8")

    def run(*args: str) -> None:
        result = CliRunner().invoke(cli, ["--config", str(config), *args], obj={})
        assert result.exit_code == 0, result.output

    run("config", "check")
    run("watchlist", "import", "bank_a", str(watchlist))
    run("watchlist", "import", "bank_b", str(watchlist))
    run("ingest", str(events))
    subjects = [m.subject for m in smtp_server.messages]
    assert len(subjects) == 2, subjects
    zh = [m for m in smtp_server.messages if "用电量骤降" in m.subject]
    en = [m for m in smtp_server.messages if "Electricity use collapsing" in m.subject]
    assert len(zh) == 1 and len(en) == 1, subjects
    assert "用电量骤降" in zh[0].part("text/html") and "Electricity use collapsing" in en[0].part("text/html")
    assert "power_collapse" not in zh[0].subject + en[0].subject  # people read the name, not the code


def test_it_is_reconciled_with_the_tolerance_its_detector_declares(power_collapse, sqlite_url):
    detectors = build_detectors(only=["power_collapse"], corroboration_months=0)
    tolerance = detectors.same_change_months
    assert tolerance == {"power_collapse": DriftDetector.same_change_months} and tolerance["power_collapse"] == 3
    found = detectors.run(collapsing_power())[0]
    engine = open_engine(sqlite_url)
    migrate(engine)
    now = datetime(2025, 1, 5, tzinfo=UTC)

    def settle(d, moved: int) -> list[str]:
        y, m = divmod(int(d.start_period[:4]) * 12 + int(d.start_period[5:]) - 1 + moved, 12)
        moved_d = dataclasses.replace(d, start_period=f"{y:04d}-{m + 1:02d}")
        with session_factory(engine).begin() as s:
            rows = list(s.scalars(select(DetectionRow)))
            return [t.kind for t in reconcile(s, EID, [moved_d], rows, watermark="2024-12", recent_window=12,
                                              as_of="2024-12", now=now, same_change_months=tolerance)]

    assert settle(found, 0) == ["new"]
    assert settle(found, 3) == ["updated"]  # three months away: the same change, the same alert
    with session_factory(engine)() as s:
        assert [(r.start_period, r.status) for r in s.scalars(select(DetectionRow))] == [(found.start_period,
                                                                                           "active")]
    assert sorted(settle(found, 4)) == ["new", "resolved"]  # four: another change
    engine.dispose()


def test_nothing_else_knows_the_throw_away_signal():
    """Without the fixture the signal is nowhere: what the tests above saw came from the one entry."""
    assert "power_collapse" not in CATALOGUE
    assert "power_collapse" not in build_detectors().signals
    with pytest.raises(ValueError, match="unknown signal 'power_collapse'"):
        validate_settings("power_collapse", {})
    assert np.isfinite(POWER_COLLAPSE.build().strength_steps[0])
