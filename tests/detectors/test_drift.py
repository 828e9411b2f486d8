"""Workforce-flow and usage drift detectors: found at the start, quiet on festivals and one-off waves,
the vectorised scan is the online test's arithmetic, and the identity stays put as months accrue."""

from __future__ import annotations

import numpy as np
import pytest

from detectors.drift import DriftDetector
from detectors.exceptions import BadParameter
from detectors.online import JointCusum
from detectors.periods import months_between, period_range
from detectors.registry import DetectorSet, build_detectors, validate_settings
from detectors.severity import Severity
from detectors.signals import CATALOGUE, signal_names
from tests.detectors.synthetic import usage_history, workforce_history

SEEDS = range(20)
DRIFT = [s for s, entry in CATALOGUE.items() if entry.detector is DriftDetector]


def run(history, signal):
    return build_detectors(only=[signal], corroboration_months=0).run(history)


@pytest.mark.parametrize("seed", SEEDS)
def test_healthy_firm_with_festival_departures_is_quiet(seed):
    h = workforce_history(seed=seed, cny_spike=4.0)
    for signal in ("workforce_attrition", "departure_rate_rise", "housing_fund_drop", "headcount_drop"):
        assert run(h, signal) == [], signal


@pytest.mark.parametrize("seed", SEEDS)
def test_one_off_departure_wave_that_is_refilled_is_quiet(seed):
    h = workforce_history(seed=seed, wave_at="2024-06", wave_share=0.2)
    assert run(h, "workforce_attrition") == []
    assert run(h, "departure_rate_rise") == []


@pytest.mark.parametrize("seed", SEEDS)
def test_attrition_found_near_its_start_with_evidence(seed):
    h = workforce_history(seed=seed, slide_from="2024-05", leave_mult=2.0, hire_mult=0.4, coverage_after=0.8)
    found = run(h, "workforce_attrition")
    assert len(found) == 1
    d = found[0]
    assert -3 <= months_between("2024-05", d.start_period) <= 2
    assert d.severity >= Severity.MEDIUM and d.direction == "up"
    ev = d.evidence
    assert ev.level_after > ev.level_before  # departure rate, the headline
    assert ev.strength >= 4 and "people beyond the baseline" in ev.note
    assert set(ev.series) >= {"metric", "periods", "values", "hiring_rate", "hf_coverage_rate"}
    assert ev.series["metric"] == ["departure_rate"] and ev.series["periods"][-1] == "2024-12"
    assert "2024-02" in ev.excluded_periods


@pytest.mark.parametrize("seed", range(8))
def test_attrition_start_stays_put_as_months_accrue(seed):
    starts = set()
    for last in period_range("2024-09", "2025-03"):
        h = workforce_history(seed=seed, slide_from="2024-05", coverage_after=0.8, last=last)
        starts.update(d.start_period for d in run(h, "workforce_attrition"))
    assert len(starts) == 1


def test_steady_housing_fund_vetoes_the_joint_test_but_not_the_mixture():
    """A firm that loses staff and stops hiring but still pays everyone's housing fund: the joint
    likelihood counts the steady coverage against the slide, the mixture lets it abstain."""
    joint = DetectorSet({"w": DriftDetector(signal="workforce_attrition", **CATALOGUE["workforce_attrition"].defaults)},
                        0)
    mixed = DetectorSet({"w": DriftDetector(signal="workforce_attrition",
                                            **{**CATALOGUE["workforce_attrition"].defaults, "mix": 0.5})}, 0)
    found_joint = found_mixed = 0
    for seed in SEEDS:
        h = workforce_history(seed=seed, slide_from="2024-05", leave_mult=2.5, hire_mult=0.3, coverage_after=0.9)
        found_joint += bool(joint.run(h))
        found_mixed += bool(mixed.run(h))
    assert found_mixed >= 15 and found_mixed > found_joint


@pytest.mark.parametrize("seed", SEEDS)
def test_usage_drop_found_and_recovered_shock_quiet(seed):
    found = run(usage_history(seed=seed, drop_from="2024-06", drop=0.45), "electricity_drop")
    assert [d.start_period for d in found] == ["2024-06"]
    assert -0.6 < found[0].evidence.relative_change < -0.3
    assert run(usage_history(seed=seed, shock_at="2024-07"), "electricity_drop") == []


def test_small_firm_is_never_news_for_one_person():
    for seed in SEEDS:
        h = workforce_history(seed=seed, size=12, slide_from="2024-09", leave_mult=1.5, hire_mult=0.7)
        assert run(h, "workforce_attrition") == []


@pytest.mark.parametrize("seed", range(40))
@pytest.mark.parametrize("mix", [None, 0.5])
def test_vectorised_scan_is_the_online_arithmetic(seed, mix):
    """The fast path must reach exactly the run, alarm and baselines the reference online test reaches."""
    rng = np.random.default_rng(seed)
    h = workforce_history(seed=seed, size=int(rng.integers(15, 400)), slide_from="2024-03" if seed % 2 else None,
                          leave_mult=float(rng.uniform(1.0, 3.0)), coverage_after=float(rng.uniform(0.6, 0.9)))
    usage = usage_history(seed=seed, noise=float(rng.uniform(0.02, 0.12)), drop_from="2024-04" if seed % 3 else None,
                          drop=float(rng.uniform(0.1, 0.5)))
    h.monthly.update(usage.monthly)
    for signal in DRIFT:
        det = CATALOGUE[signal].build(strength_steps=(0.5, 1.0, 2.0, 3.0), mix=mix)
        prepared = det._prepare(h)
        if prepared is None:
            continue
        index, cols, festival, used, fed = prepared
        fed.update(columns=cols, used=used)
        parts = [det._stream({}, ("k",), fed, m, r) for m, r in zip(det.metrics, det.ratios)]
        state = det._combined({}, ("k",), parts)
        test = det._new_test()
        for j in used:
            points = [None if cols[m][0][j] != cols[m][0][j] else (cols[m][0][j], cols[m][1][j])
                      for m in det.metrics]
            test.update(points if not det.usage else (points[0][0],))
        if not test.drift_detected or test.statistic < det.hold * det.strength_steps[0]:
            assert state is None, signal
            continue
        assert (state.statistic, state.run_start, state.alarm_at) == (
            pytest.approx(test.statistic, rel=1e-9), test.run_start, test.alarm_at), signal
        if isinstance(test, JointCusum):
            for base, stream in zip(state.baselines, test.streams):
                for name in ("rate", "share", "mean", "spread", "dispersion"):
                    if hasattr(stream, name) and not (name == "dispersion" and base.model == "gaussian"):
                        assert getattr(base, name) == pytest.approx(getattr(stream, name), rel=1e-9), (signal, name)


def test_settings_are_tunable_but_what_is_watched_is_not():
    assert validate_settings("workforce_attrition", {"strength_steps": [4, 5, 7, 10], "min_people": 5})
    with pytest.raises(ValueError, match="unknown setting 'metrics'"):
        validate_settings("workforce_attrition", {"metrics": ["departures"]})
    with pytest.raises(BadParameter, match="ratio for hires"):
        validate_settings("workforce_attrition", {"ratios": [2.0, 1.5, 0.9]})
    with pytest.raises(BadParameter, match="strength_steps"):
        validate_settings("electricity_drop", {"strength_steps": [5, 4, 3, 2]})
    assert "workforce_attrition" not in build_detectors({"workforce_attrition": {"enabled": False}}).signals


def test_every_signal_has_an_evidence_family():
    families = build_detectors(only=signal_names()).families
    assert set(families) == set(CATALOGUE)
    assert all(families[s] == CATALOGUE[s].family and families[s] != s for s in CATALOGUE)
