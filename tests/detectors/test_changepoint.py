"""Contract of the default change-point engine on seeded synthetic signals."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import ruptures as rpt

import detectors.changepoint as changepoint
from detectors.changepoint import MODELS, ChangePointEngine, find_changes
from detectors.costs import CostTrend
from detectors.exceptions import BadParameter
from monitor.tcpd import load_tcpd, run_changepoints


def matched(truth, found, margin):
    """Number of true change points with a distinct detection within ``margin``."""
    free = sorted(found)
    hits = 0
    for t in sorted(truth):
        near = [p for p in free if abs(p - t) <= margin]
        if near:
            free.remove(min(near, key=lambda p: abs(p - t)))
            hits += 1
    return hits


def precision_recall(cases, margin):
    tp = n_found = n_true = 0
    for truth, found in cases:
        hits = matched(truth, found, margin)
        tp += hits
        n_found += len(found)
        n_true += len(truth)
    return (tp / n_found if n_found else 1.0), (tp / n_true if n_true else 1.0)


def step(n, at, size, seed, noise=1.0):
    rng = np.random.default_rng(seed)
    return rng.normal(0.0, noise, n) + size * (np.arange(n) >= at)


# -- planted changes are found ----------------------------------------------------


@pytest.mark.parametrize("model", ["mixed", "constant"])
def test_pw_constant_changes_found_with_precision_and_recall(model):
    cases = []
    for seed in range(20):
        signal, bkps = rpt.pw_constant(n_samples=200, n_features=1, n_bkps=3, noise_std=1.0, delta=(4, 8), seed=seed)
        cases.append((bkps[:-1], find_changes(signal, model=model)))
    precision, recall = precision_recall(cases, margin=5)
    assert precision >= 0.9 and recall >= 0.9, (precision, recall)


def test_pw_constant_multivariate():
    cases = []
    for seed in range(10):
        signal, bkps = rpt.pw_constant(n_samples=150, n_features=3, n_bkps=2, noise_std=1.0, delta=(3, 6), seed=seed)
        cases.append((bkps[:-1], find_changes(signal)))
    precision, recall = precision_recall(cases, margin=5)
    assert precision >= 0.9 and recall >= 0.9, (precision, recall)


def test_monthly_level_shift_found():
    """36 months, one 3σ shift somewhere in the middle: found within 2 months, rarely anything else."""
    rng = np.random.default_rng(7)
    cases = []
    for seed in range(60):
        at = int(rng.integers(8, 29))
        cases.append(([at], find_changes(step(36, at, 3.0, seed))))
    precision, recall = precision_recall(cases, margin=2)
    assert precision >= 0.9 and recall >= 0.85, (precision, recall)


def test_recent_shift_found():
    """A shift in the last six of 36 months (what monitoring cares about) is found."""
    found = [find_changes(step(36, 30, 3.0, seed)) for seed in range(40)]
    hits = sum(any(abs(p - 30) <= 1 for p in cps) for cps in found)
    assert hits >= 36


@pytest.mark.parametrize("model", ["mixed", "linear"])
def test_slope_change_found(model):
    """Growth that turns into decline: the turn is found, the trends are not cut into steps."""
    t = np.arange(48.0)
    cases = []
    for seed in range(30):
        noise = np.random.default_rng(seed).normal(0.0, 1.0, 48)
        y = np.where(t < 30, 100 + 0.8 * t, 124 - 2.0 * (t - 30)) + noise
        cases.append(([30], find_changes(y, model=model)))
    precision, recall = precision_recall(cases, margin=3)
    assert precision >= 0.9 and recall >= 0.9, (precision, recall)


def test_noise_free_step_and_segment_models():
    y = np.r_[np.zeros(10), np.full(10, 5.0)]
    engine = ChangePointEngine().fit(y)
    assert engine.predict() == [10, 20]
    assert engine.segment_models_ == [("constant",), ("constant",)]
    t = np.arange(36.0)
    headcount = np.where(t < 24, 100 + t, 110) + np.random.default_rng(0).normal(0, 1, 36)
    engine = ChangePointEngine().fit(headcount)
    assert engine.predict() == [24, 36]
    assert engine.segment_models_ == [("linear",), ("constant",)]


# -- no change, no change point ----------------------------------------------------


@pytest.mark.parametrize("n", [24, 36, 48, 300])
def test_stationary_noise_gives_no_change_for_most_seeds(n):
    alarms = sum(bool(find_changes(np.random.default_rng(seed).normal(5.0, 2.0, n))) for seed in range(100))
    assert alarms <= 5


def test_linear_trend_gives_no_change_for_most_seeds():
    t = np.arange(36.0)
    alarms = sum(bool(find_changes(50 + 0.5 * t + np.random.default_rng(seed).normal(0, 1, 36)))
                 for seed in range(100))
    assert alarms <= 10


def test_degenerate_series():
    assert ChangePointEngine().fit(np.full(30, 7.0)).predict() == [30]
    assert ChangePointEngine().fit(3.0 * np.arange(30) + 1).predict() == [30]
    assert ChangePointEngine(model="constant").fit(np.full(30, 7.0)).predict() == [30]
    engine = ChangePointEngine().fit(np.full(30, 7.0))
    assert engine.scale_.tolist() == [0.0]


# -- invariances -----------------------------------------------------------------------


@pytest.mark.parametrize("model", MODELS)
def test_scale_and_offset_invariance(model):
    for seed in range(15):
        signal, _ = rpt.pw_constant(n_samples=60, n_features=1, n_bkps=2, noise_std=1.0, delta=(1, 4), seed=seed)
        base = find_changes(signal, model=model)
        assert find_changes(signal * 1000, model=model) == base
        assert find_changes(signal * 1e-3 + 1e4, model=model) == base


def test_last_breakpoint_is_n_and_sorted_ints():
    rng = np.random.default_rng(3)
    for n in [0, 1, 5, 6, 7, 24, 36, 100]:
        for model in MODELS:
            y = rng.normal(0, 1, n) + 4 * (np.arange(n) > n // 2)
            if n > 10:
                y[rng.integers(0, n, 3)] = np.nan
            bkps = ChangePointEngine(model=model).fit(y).predict()
            assert bkps[-1] == n
            assert bkps == sorted(set(bkps))
            assert all(type(b) is int for b in bkps)
            assert all(0 < b <= n for b in bkps) or bkps == [0]


def test_matrix_and_row_search_agree(monkeypatch):
    signals = [rpt.pw_constant(n_samples=80, n_features=d, n_bkps=3, noise_std=1.0, delta=(1, 3), seed=s)[0]
               for s in range(6) for d in (1, 2)]
    signals += [rpt.pw_linear(n_samples=80, n_features=1, n_bkps=2, noise_std=1.0, seed=s)[0][:, 0]
                for s in range(4)]
    for model in ("mixed", "linear"):
        expected = [find_changes(y, model=model) for y in signals]
        monkeypatch.setattr(changepoint, "_MATRIX_MAX_N", 0)
        assert [find_changes(y, model=model) for y in signals] == expected
        monkeypatch.undo()


def _penalised(cost, bkps, lam):
    return cost.sum_of_costs(bkps) + lam * (len(bkps) - 1)


@pytest.mark.parametrize("model", MODELS)
def test_search_is_exact(model):
    """The engine's segmentation attains the penalised optimum found by exhaustive search (rpt.Dynp)."""
    for seed in range(4):
        signal, _ = rpt.pw_constant(n_samples=24, n_features=1, n_bkps=2, noise_std=1.0, delta=(1, 3), seed=seed)
        engine = ChangePointEngine(model=model).fit(signal)
        bkps = engine.predict()
        z, lam = engine._z, engine.penalty_per_param * math.log(24)
        cost = CostTrend(kind=model, param_penalty=lam, min_size=3).fit(z)
        best = min(
            [_penalised(cost, [24], lam)]
            + [_penalised(cost, rpt.Dynp(custom_cost=cost, min_size=3, jump=1).fit(z).predict(n_bkps=k), lam)
               for k in (1, 2, 3, 4)]
        )
        assert _penalised(cost, bkps, lam) == pytest.approx(best, rel=1e-9, abs=1e-9)


# -- missing values --------------------------------------------------------------------


def test_nan_rows_are_skipped_and_indices_mapped_back():
    y = step(40, 20, 4.0, seed=1)
    clean = find_changes(y)
    assert clean == [20]
    gappy = y.copy()
    gappy[[3, 4, 11, 33]] = np.nan
    assert find_changes(gappy) == [20]
    gappy[[19, 20]] = np.nan  # the change falls in a gap: reported at the first observed point after it
    assert find_changes(gappy) == [21]
    gappy[7] = np.inf
    assert find_changes(gappy) == [21]


def test_nan_in_a_trend_uses_real_time_positions():
    t = np.arange(36.0)
    y = 10 + 2 * t + np.random.default_rng(2).normal(0, 0.5, 36)
    y[10:16] = np.nan
    assert find_changes(y) == []


def test_multivariate_nan_row_dropped_and_shift_in_one_dimension():
    rng = np.random.default_rng(4)
    y = rng.normal(0, 1, (50, 2))
    y[30:, 1] += 5
    y[5, 0] = np.nan
    assert find_changes(y) == [30]


def test_all_missing_or_too_few_observed():
    assert ChangePointEngine().fit(np.full(20, np.nan)).predict() == [20]
    y = step(20, 10, 10.0, seed=0)
    y[:15] = np.nan
    assert ChangePointEngine().fit(y).predict() == [20]


# -- short series ------------------------------------------------------------------------


def test_short_series_give_no_change_points():
    for n in range(0, 6):
        y = np.arange(n, dtype=float) ** 2
        assert ChangePointEngine().fit(y).predict() == [n]
        assert find_changes(y) == []
    assert ChangePointEngine(min_size=10).fit(step(19, 10, 50.0, seed=0)).predict() == [19]
    assert ChangePointEngine(min_size=10).fit(step(20, 10, 50.0, seed=0)).predict() == [10, 20]


def test_min_size_is_respected():
    for seed in range(10):
        bkps = ChangePointEngine(min_size=6).fit(rpt.pw_constant(60, 1, 4, 1.0, (1, 5), seed)[0]).predict()
        assert all(b - a >= 6 for a, b in zip([0, *bkps], bkps))


# -- API ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "settings, needle",
    [
        ({"model": "l2"}, "mixed, constant, linear"),
        ({"model": None}, "mixed, constant, linear"),
        ({"penalty_per_param": 0}, "> 0"),
        ({"penalty_per_param": -1.0}, "> 0"),
        ({"penalty_per_param": math.nan}, "> 0"),
        ({"penalty_per_param": math.inf}, "> 0"),
        ({"penalty_per_param": True}, "> 0"),
        ({"penalty_per_param": "1.5"}, "> 0"),
        ({"min_size": 1}, ">= 3"),
        ({"min_size": 2}, ">= 3"),
        ({"min_size": 2, "model": "linear"}, ">= 3"),
        ({"min_size": 1, "model": "constant"}, ">= 2"),
        ({"min_size": 3.0}, ">= 3"),
        ({"min_size": True}, ">= 3"),
    ],
)
def test_bad_parameters_rejected(settings, needle):
    with pytest.raises(BadParameter, match=needle.replace(".", r"\.").replace(">", ">")):
        ChangePointEngine(**settings)


def test_settings_are_keyword_only_and_valid_ones_accepted():
    with pytest.raises(TypeError):
        ChangePointEngine("mixed")  # type: ignore[misc]
    engine = ChangePointEngine(model="constant", penalty_per_param=1, min_size=2)
    assert (engine.model, engine.penalty_per_param, engine.min_size) == ("constant", 1.0, 2)
    assert "penalty_per_param=1.0" in repr(engine)


def test_bad_signal_rejected():
    with pytest.raises(BadParameter, match="shape"):
        ChangePointEngine().fit(np.zeros((4, 4, 4)))
    with pytest.raises(BadParameter, match="shape"):
        ChangePointEngine().fit(np.zeros((10, 0)))


def test_predict_before_fit_and_fit_predict():
    with pytest.raises(RuntimeError):
        ChangePointEngine().predict()
    y = step(30, 15, 5.0, seed=0)
    engine = ChangePointEngine()
    assert engine.fit(y) is engine
    assert engine.predict() == engine.predict() == engine.fit_predict(y) == [15, 30]
    assert find_changes(list(y)) == [15]


def test_cost_class_follows_ruptures_conventions():
    cost = CostTrend(kind="mixed", param_penalty=2.0, min_size=3).fit(np.r_[np.zeros(5), np.ones(5)])
    with pytest.raises(rpt.exceptions.NotEnoughPoints):
        cost.error(0, 2)
    assert cost.error(0, 5) == pytest.approx(2.0)
    assert cost.sum_of_costs([5, 10]) == pytest.approx(4.0)
    with pytest.raises(BadParameter, match="mixed, constant, linear"):
        CostTrend(kind="quadratic")


def test_none_in_a_list_is_missing():
    y = [float(v) for v in step(30, 15, 5.0, seed=2)]
    y[4] = None
    assert find_changes(y) == [15]


# -- TCPD files (monitor.tcpd), on files written here -----------------------------------


def _write_tcpd(path, name, columns):
    doc = {"name": name, "n_obs": len(columns[0]), "n_dim": len(columns),
           "series": [{"label": f"V{i}", "type": "float", "raw": col} for i, col in enumerate(columns)]}
    path.write_text(json.dumps(doc))
    return path


def test_load_tcpd_univariate_multivariate_and_nulls(tmp_path):
    name, values = load_tcpd(_write_tcpd(tmp_path / "a.json", "a", [[1, None, 3.5]]))
    assert name == "a" and values.shape == (3,) and np.isnan(values[1]) and values[2] == 3.5
    name, values = load_tcpd(_write_tcpd(tmp_path / "b.json", "b", [[1, 2, 3], [4, None, 6]]))
    assert values.shape == (3, 2) and np.isnan(values[1, 1])
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"name": "bad", "n_obs": 4, "series": [{"raw": [1, 2, 3]}]}))
    with pytest.raises(ValueError, match="n_obs"):
        load_tcpd(bad)
    bad.write_text(json.dumps({"name": "bad"}))
    with pytest.raises(ValueError, match="not a TCPD"):
        load_tcpd(bad)


def test_run_changepoints_on_files_and_directories(tmp_path):
    shift = [None if math.isnan(v) else v for v in step(40, 25, 6.0, seed=5)]
    shift[3] = None
    _write_tcpd(tmp_path / "shift.json", "shift", [shift])
    _write_tcpd(tmp_path / "flat.json", "flat", [list(np.random.default_rng(1).normal(0, 1, 40))])
    expected = {"flat": [], "shift": [25]}
    assert run_changepoints([tmp_path]) == expected
    assert run_changepoints(tmp_path) == expected
    assert run_changepoints([tmp_path / "shift.json"]) == {"shift": [25]}
    assert run_changepoints([tmp_path / "shift.json"], model="constant") == {"shift": [25]}
