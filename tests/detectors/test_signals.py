"""Monthly signal detectors: planted changes found at the right period, festival spikes and noise quiet."""

from __future__ import annotations

import pytest

from detectors.periods import months_between
from detectors.registry import build_detectors
from detectors.severity import Severity
from tests.detectors.synthetic import headcount_history, usage_history

SEEDS = range(20)


def run(history, signal):
    return build_detectors(only=[signal], corroboration_months=0).run(history)


@pytest.mark.parametrize("seed", SEEDS)
def test_healthy_firm_with_festival_departures_is_quiet(seed):
    h = headcount_history(seed=seed, cny_spike=4.0)
    assert run(h, "departure_rate_rise") == []
    assert run(h, "headcount_drop") == []


@pytest.mark.parametrize("seed", SEEDS)
def test_festival_power_dip_is_quiet(seed):
    assert run(usage_history(seed=seed, dip=0.6), "electricity_drop") == []


@pytest.mark.parametrize("seed", SEEDS)
def test_departure_rise_found_at_its_start(seed):
    h = headcount_history(seed=seed, decline_from="2024-05", decline_rate=0.07)
    found = run(h, "departure_rate_rise")
    assert len(found) == 1
    d = found[0]
    assert abs(months_between("2024-05", d.start_period)) <= 2
    assert d.direction == "up"
    assert d.severity >= Severity.MEDIUM
    ev = d.evidence
    assert ev.level_after > ev.level_before
    assert ev.relative_change > 0.5
    assert ev.series["periods"][-1] == "2024-12"
    assert ev.yoy_before is not None and ev.yoy_after > ev.yoy_before


@pytest.mark.parametrize("seed", SEEDS)
def test_headcount_drop_found(seed):
    h = headcount_history(seed=seed, decline_from="2024-04", decline_rate=0.08, shrink=0.07)
    found = run(h, "headcount_drop")
    assert found, "a 40% shrink over 9 months must be found"
    # Feb and Mar are festival months, left out: the start can only be told to within them
    assert months_between("2024-04", found[0].start_period) in range(-3, 5)
    assert found[0].evidence.level_after < found[0].evidence.level_before


@pytest.mark.parametrize("seed", SEEDS)
def test_electricity_drop_found_with_evidence(seed):
    h = usage_history(seed=seed, drop_from="2024-06")
    found = run(h, "electricity_drop")
    assert [d.start_period for d in found] == ["2024-06"]
    ev = found[0].evidence
    assert -0.6 < ev.relative_change < -0.3
    assert found[0].severity in (Severity.MEDIUM, Severity.HIGH)
    assert "2024-02" in ev.excluded_periods  # festival month named in the evidence


@pytest.mark.parametrize("seed", SEEDS)
def test_one_month_shock_that_recovers_is_quiet(seed):
    assert run(usage_history(seed=seed, shock_at="2024-07"), "electricity_drop") == []


def test_change_too_recent_waits_for_three_months():
    h = usage_history(seed=1, drop_from="2024-11")  # two months of new level
    assert run(h, "electricity_drop") == []


def test_small_firm_single_leavers_do_not_alert():
    quiet = sum(not run(headcount_history(seed=s, size=12, rate=0.02), "departure_rate_rise") for s in SEEDS)
    assert quiet == len(SEEDS)


def test_change_point_stays_put_as_data_accrues():
    """Identity stability: re-running with more months reports the same start."""
    starts = set()
    for last in ("2024-09", "2024-10", "2024-11", "2024-12"):
        h = usage_history(seed=3, drop_from="2024-05", last=last)
        starts.update(d.start_period for d in run(h, "electricity_drop"))
    assert starts == {"2024-05"}
