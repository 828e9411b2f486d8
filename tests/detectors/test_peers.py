"""The peer baseline: additive sums, what they derive, and the empirical-null threshold."""

from __future__ import annotations

import math

import numpy as np
import pytest

from detectors.peers import (
    CALIBRATION_LEVELS,
    PeerBaseline,
    add_sums,
    classified_events,
    crossings,
    diff_sums,
    event_class,
    firm_sums,
)
from detectors.periods import period_index, period_range
from detectors.records import DiscreteEvent, History

PERIODS = period_range("2023-01", "2024-12")


def _firm(eid: str, rng: np.random.Generator, heads: int = 50, rate: float = 0.03, size: float = 10.0,
          power: float = 1000.0) -> History:
    rows, meter = {}, {}
    insured = heads
    for p in PERIODS:
        mu = rate * insured
        left = int(rng.poisson(rng.gamma(size, mu / size))) if mu > 0 else 0
        joined = int(rng.poisson(mu))
        insured = max(insured - left + joined, 1)
        rows[p] = {"insured": insured, "joined": joined, "left": left}
        meter[p] = {"amount": float(power * math.exp(rng.normal(0, 0.08)))}
    return History.from_records(eid, {"headcount": rows, "utility.electricity": meter})


def test_sums_are_additive_and_a_firm_can_be_taken_out_again():
    rng = np.random.default_rng(1)
    a, b = _firm("A", rng), _firm("B", rng)
    total: dict = {}
    add_sums(total, firm_sums(a))
    add_sums(total, firm_sums(b))
    add_sums(total, firm_sums(a), sign=-1.0)
    only_b = firm_sums(b)
    assert total.keys() == only_b.keys()
    for key, cell in only_b.items():
        assert np.allclose(total[key], cell)


def test_diff_of_a_correction_touches_only_the_months_it_changed():
    rng = np.random.default_rng(2)
    h = _firm("A", rng)
    before = firm_sums(h)
    h.monthly["headcount"].upsert("2024-06", {"insured": 40, "joined": 0, "left": 9})
    delta = diff_sums(before, firm_sums(h))
    months = {t for (_, _, t) in delta}
    # the month itself, and the pair moments of the month after it
    assert months == {period_index("2024-06"), period_index("2024-07")}


def test_pooled_rates_and_the_dispersion_are_read_off_the_cross_section():
    rng = np.random.default_rng(3)
    total: dict = {}
    for i in range(400):
        add_sums(total, firm_sums(_firm(f"F{i}", rng, heads=int(rng.integers(30, 300)), size=8.0)))
    peers = PeerBaseline.from_sums(total)
    rates, _ = peers.flow_rates("", [period_index(p) for p in PERIODS])
    assert np.nanmedian(rates) == pytest.approx(0.03, rel=0.15)
    # true negative-binomial size 8: the month-pair estimator is within a third of it
    assert 5.0 < peers.leave_size < 12.0
    assert peers.usage_noise["electricity"][0] == pytest.approx(0.08 ** 2, rel=0.4)


def test_too_few_peers_give_no_rate():
    rng = np.random.default_rng(4)
    total: dict = {}
    for i in range(5):
        add_sums(total, firm_sums(_firm(f"F{i}", rng)))
    rates, _ = PeerBaseline.from_sums(total, min_firms=30).flow_rates("", [period_index("2024-01")])
    assert np.isnan(rates).all()


def test_events_are_classed_by_what_they_say_about_cash():
    assert event_class("lawsuit", {"role": "defendant", "cause": "追索劳动报酬纠纷", "stage": "filed"}) == "suit_wages"
    assert event_class("lawsuit", {"role": "defendant", "cause": "金融借款合同纠纷", "stage": "filed"}) == "suit_lender"
    assert event_class("lawsuit", {"role": "defendant", "cause": "买卖合同纠纷", "stage": "filed"}) == "suit_supplier"
    assert event_class("lawsuit", {"role": "defendant", "cause": "侵害商标权纠纷", "stage": "filed"}) == "suit_other"
    assert event_class("lawsuit", {"role": "plaintiff", "cause": "买卖合同纠纷", "stage": "filed"}) is None
    assert event_class("lawsuit", {"role": "defendant", "cause": "买卖合同纠纷", "stage": "judgment"}) is None
    assert event_class("lawsuit", {"role": "defendant", "cause": "x", "stage": "enforcement"}) == "enforcement"
    assert event_class("tax_arrears", {"amount": 80_000}) == "tax_large"
    assert event_class("abnormal_operation", {"status": "listed", "reason": "通过登记的住所或者经营场所无法联系"}) \
        == "abnormal_unreachable"
    assert event_class("registration_change", {"field": "registered_capital", "before": 5e6, "after": 1e6}) \
        == "capital_cut"
    assert event_class("registration_change", {"field": "registered_capital", "before": 1e6, "after": 5e6}) is None


def test_a_case_counts_once_and_a_halved_housing_fund_is_an_event():
    ev = [DiscreteEvent("lawsuit", "2024-03-02T10:00:00+08:00", "2024-03",
                        {"role": "defendant", "cause": "劳动争议", "stage": "filed", "case_no": "(2024)苏01民初1号"}),
          DiscreteEvent("lawsuit", "2024-03-02T10:00:00+08:00", "2024-03",
                        {"role": "defendant", "cause": "劳动争议", "stage": "filed", "case_no": "(2024)苏01民初1号"})]
    hf = {p: {"contributors": 20 if p < "2024-05" else 8, "amount": 1.0} for p in PERIODS}
    h = History.from_records("X", {"housing_fund": hf}, ev)
    assert classified_events(h) == [(period_index("2024-03"), "suit_wages"),
                                    (period_index("2024-05"), "housing_fund_halved")]


def test_threshold_for_a_budget_solves_the_null_crossing_rate():
    levels = np.asarray(CALIBRATION_LEVELS)
    # 40 crossings per 100 firm-years at level 0, falling as e^-x, plus a floor of 2 from sliding firms
    rate = tuple(40.0 * np.exp(-levels) + 2.0)
    peers = PeerBaseline(crossing_rate=rate, crossing_exposure=120_000.0)
    assert peers.threshold_for(2.0) == pytest.approx(math.log(20.0), abs=0.05)
    assert PeerBaseline(crossing_rate=rate, crossing_exposure=100.0).threshold_for(2.0) is None


def test_crossings_are_the_levels_passed_on_the_way_up():
    assert crossings(1.8, 3.2).tolist() == [0, 1, 1, 1, 0, 0, 0, 0, 0]
    assert not crossings(3.2, 1.0).any()
