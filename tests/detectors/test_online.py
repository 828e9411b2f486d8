"""Online CUSUM detectors: quiet in control, fast after a change, stable start, River-style API."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from detectors.exceptions import BadParameter
from detectors.online import (
    BinomialCusum,
    BinomialStream,
    GaussianCusum,
    JointCusum,
    MixtureCusum,
    PoissonCusum,
    PoissonStream,
)
from detectors.online_base import OnlineDetector

SEEDS = range(30)


def test_poisson_in_control_rarely_alarms():
    alarms = 0
    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        c = PoissonCusum(ratio=2.0, threshold=6.0)
        for x in rng.poisson(3.0, 36):
            c.update((x, 100.0))
        alarms += c.drift_detected
    assert alarms <= 2


@pytest.mark.parametrize("seed", SEEDS)
def test_poisson_rise_found_and_start_stays_put(seed):
    rng = np.random.default_rng(seed)
    counts = np.r_[rng.poisson(3.0, 20), rng.poisson(9.0, 10)]
    c = PoissonCusum(ratio=2.0, threshold=6.0)
    starts = []
    for x in counts:
        c.update((x, 100.0))
        if c.drift_detected:
            starts.append(c.run_start)
    assert c.drift_detected
    assert len(set(starts)) == 1  # the identity of the change does not move as months accrue
    # the run may have started on noise before the change (DriftDetector refines the start); never after it
    assert starts[0] <= 22
    assert c.alarm_at >= starts[0]


def test_poisson_alarms_soon_after_the_change_not_before():
    early = late = 0
    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        c = PoissonCusum(ratio=2.0, threshold=6.0)
        for x in np.r_[rng.poisson(3.0, 20), rng.poisson(9.0, 10)]:
            c.update((x, 100.0))
        early += c.alarm_at < 20
        late += c.alarm_at > 27
    assert early <= 2 and late == 0


def test_overdispersed_baseline_counts_for_less():
    rng = np.random.default_rng(0)
    calm = rng.poisson(5.0, 12).astype(float)
    lumpy = np.array([0, 12, 1, 9, 0, 11, 2, 10, 0, 13, 1, 1], dtype=float)
    s_calm, s_lumpy = PoissonStream(ratio=2.0), PoissonStream(ratio=2.0)
    for a, b in zip(calm, lumpy):
        s_calm.push((a, 100.0))
        s_lumpy.push((b, 100.0))
    s_calm.freeze()
    s_lumpy.freeze()
    assert s_lumpy.dispersion > 3 * s_calm.dispersion
    assert s_lumpy.increment((12.0, 100.0)) < s_calm.increment((12.0, 100.0))


def test_one_month_wave_cannot_alarm_alone():
    counts = [2, 3, 2, 2, 3, 2, 2, 3, 2, 2, 40, 2]
    bounded = PoissonCusum(ratio=2.0, threshold=6.0, max_step=3.0)
    free = PoissonCusum(ratio=2.0, threshold=6.0)
    for x in counts:
        bounded.update((x, 100.0))
        free.update((x, 100.0))
    assert free.drift_detected and not bounded.drift_detected


def test_binomial_share_fall():
    rng = np.random.default_rng(1)
    c = BinomialCusum(ratio=0.9, threshold=6.0)
    for x in np.r_[rng.binomial(100, 0.85, 15), rng.binomial(100, 0.6, 5)]:
        c.update((x, 100))
    assert c.drift_detected and c.run_start >= 13
    c.update((5, 0))  # no trials: skipped, not a month of evidence
    assert c.n_seen == 20


def test_gaussian_robust_to_a_one_month_outage_and_finds_a_sustained_drop():
    rng = np.random.default_rng(2)
    level = np.log(rng.normal(100, 4, 24))
    outage = level.copy()
    outage[15] = np.log(20.0)  # plant maintenance: one month, then back
    c = GaussianCusum(shift=-0.2, threshold=6.0, max_step=3.0)
    for x in outage:
        c.update(x)
    assert not c.drift_detected
    drop = level.copy()
    drop[15:] -= 0.5  # a sustained 40% drop, much larger than the spread
    c = GaussianCusum(shift=-0.2, threshold=6.0, max_step=3.0)
    for x in drop:
        c.update(x)
    assert c.drift_detected and c.run_start == 15


def test_joint_adds_modest_moves_none_of_which_alarms_alone():
    rng = np.random.default_rng(3)
    left = np.r_[rng.poisson(4, 18), rng.poisson(6, 8)]
    joined = np.r_[rng.poisson(4, 18), rng.poisson(2.5, 8)]
    covered = np.r_[rng.binomial(150, 0.9, 18), rng.binomial(150, 0.84, 8)]
    alone = [PoissonCusum(ratio=2.0, threshold=8.0), PoissonCusum(ratio=0.5, threshold=8.0),
             BinomialCusum(ratio=0.9, threshold=8.0)]
    joint = JointCusum([PoissonStream(ratio=2.0), PoissonStream(ratio=0.5), BinomialStream(ratio=0.9)],
                       threshold=8.0)
    for x, j, c in zip(left, joined, covered):
        alone[0].update((x, 150.0))
        alone[1].update((j, 150.0))
        alone[2].update((c, 150))
        joint.update([(x, 150.0), (j, 150.0), (c, 150.0)])
    assert joint.drift_detected
    assert joint.statistic > max(a.statistic for a in alone)


def test_joint_missing_stream_months_are_skipped():
    c = JointCusum([PoissonStream(ratio=2.0), BinomialStream(ratio=0.9)], threshold=6.0)
    for _ in range(12):
        c.update([(3.0, 100.0), None])
    assert c.statistic == 0.0 and c.n_seen == 12
    assert c.streams[1].window == type(c.streams[1].window)()


def test_flags_are_plain_bools_and_parameters_are_checked():
    c = PoissonCusum()
    for x in np.arange(20):
        c.update((np.int64(x), np.float64(50.0)))
    assert type(c.drift_detected) is bool
    with pytest.raises(BadParameter):
        PoissonStream(ratio=1.0)
    with pytest.raises(BadParameter):
        BinomialStream(ratio=1.2)
    with pytest.raises(BadParameter):
        JointCusum([PoissonStream()], threshold=0)
    with pytest.raises(BadParameter):
        JointCusum([])
    with pytest.raises(BadParameter):
        PoissonStream(baseline_points=4, min_baseline=6)


def _months(seed: int):
    """22 months of (leavers, covered, log power) for a firm of 150 that starts to slide at month 16."""
    rng = np.random.default_rng(seed)
    left = np.r_[rng.poisson(3, 16), rng.poisson(12, 6)]
    covered = np.r_[rng.binomial(150, 0.9, 16), rng.binomial(150, 0.7, 6)]
    power = np.log(np.r_[rng.normal(100, 4, 16), rng.normal(60, 4, 6)])
    return [((float(x), 150.0), (float(k), 150.0), float(u)) for x, k, u in zip(left, covered, power)]


def _every_test():
    """(detector, how one month of ``_months`` becomes its observation) for every online test."""
    return [
        (PoissonCusum(ratio=2.0), lambda m: m[0]),
        (BinomialCusum(ratio=0.9), lambda m: m[1]),
        (GaussianCusum(shift=-0.2), lambda m: m[2]),
        (JointCusum([PoissonStream(ratio=2.0), BinomialStream(ratio=0.9)]), lambda m: list(m[:2])),
        (MixtureCusum([PoissonCusum(ratio=2.0, threshold=1.0), BinomialCusum(ratio=0.9, threshold=1.0)]),
         lambda m: list(m[:2])),
    ]


def _results(det):
    return det.drift_detected, det.statistic, det.peak, det.run_start, det.alarm_at, det.n_seen


@pytest.mark.parametrize("seed", range(5))
def test_every_online_test_has_one_shape(seed):
    """River's shape: update(x) with one observation returns the detector; results are read-only;
    _reset() is a new detector, so the same months give the same results again."""
    months = _months(seed)
    for det, observe in _every_test():
        assert isinstance(det, OnlineDetector)
        assert list(inspect.signature(type(det).update).parameters) == ["self", "x"], type(det).__name__
        for m in months:
            assert det.update(observe(m)) is det
        first = _results(det)
        assert first[0] and first[5] == len(months), type(det).__name__
        for name in ("drift_detected", "statistic", "peak", "run_start", "alarm_at", "n_seen"):
            with pytest.raises(AttributeError):
                setattr(det, name, 0)
        det._reset()
        assert _results(det) == (False, 0.0, 0.0, None, None, 0)
        for m in months:
            det.update(observe(m))
        assert _results(det) == first, type(det).__name__
