"""Sustained level shifts in a monthly series: headcount, usage, contributors, departure rate.

The change-point engine segments the series with the Chinese New Year months
taken out; the detector then looks at the segments that lead to the present.
A chain of steps in the watched direction is one episode: its start is the
first step (so the alert identity does not move while a decline deepens),
its size is the current level against the level before the first step. A
dip that has recovered is no episode at all, which is how one-off shocks and
festival dips stay quiet.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from detectors.base import checked_identity
from detectors.changepoint import ChangePointEngine
from detectors.exceptions import BadParameter
from detectors.festival import is_cny_month
from detectors.peers import PeerBaseline
from detectors.periods import period_at, period_index
from detectors.records import Detection, Evidence, History, MonthlySeries
from detectors.series import METRICS, _values
from detectors.severity import Severity

__all__ = ["LevelShiftDetector", "poisson_excess"]

DIRECTIONS = ("down", "up")


def poisson_excess(observed: float, expected: float) -> float:
    """Signed likelihood-ratio statistic of ``observed`` counts against a Poisson mean.

    Positive when more were seen than expected; about 9 is p≈0.001 one-sided.
    Used to keep small firms, whose one leaver is a 7% rate, from alerting on noise.
    """
    if expected <= 0:
        return math.inf if observed > 0 else 0.0
    if observed <= 0:
        return -2.0 * expected
    stat = 2.0 * (observed * math.log(observed / expected) - (observed - expected))
    return stat if observed >= expected else -stat


@functools.lru_cache(maxsize=1024)
def _festival(month_index: int) -> bool:
    return is_cny_month(period_at(month_index))


@dataclass(frozen=True)
class _Episode:
    start: int  # index into the compressed series
    before: np.ndarray
    after_level: float


class LevelShiftDetector:
    """A sustained drop (or rise) of one monthly metric.

    Parameters
    ----------
    signal
        Name of what is reported, e.g. ``headcount_drop``.
    family
        Evidence family for corroboration (``workforce``); empty: its own.
    metric
        Series read from the history (see ``detectors.series.METRICS``).
    direction
        ``down`` or ``up``: the direction that is bad news.
    severity_steps
        Relative changes (as positive fractions) at which the finding is low,
        medium, high and critical. The first is the smallest change reported.
    min_absolute_change
        Smallest change in the metric's own unit (people, kWh, rate points);
        guards small firms, where one person is 10%.
    min_points_after
        Months (outside the festival) the new level must have lasted.
    exclude_cny
        Leave the Chinese New Year months out of the segmentation and levels.
    count_check
        For rates: also require the leavers after the change to exceed what
        the rate before predicts, by a Poisson likelihood ratio of at least
        ``min_count_lr``.
    history_months
        How many months back the detector looks.
    segment_model, penalty_per_param, min_size
        The change-point engine's settings (``model``, ``penalty_per_param``,
        ``min_size`` of :class:`~detectors.changepoint.ChangePointEngine`);
        each detector builds its own engine from them.

    Example
    -------
    >>> import numpy as np
    >>> from detectors.periods import period_range
    >>> rng = np.random.default_rng(0)
    >>> from detectors.periods import period_range
    >>> periods = tuple(period_range("2023-05", "2025-04"))
    >>> values = np.r_[rng.normal(200, 4, 16), rng.normal(130, 4, 8)]
    >>> series = MonthlySeries("insured", periods, tuple(values.round()))
    >>> d = LevelShiftDetector(signal="headcount_drop", metric="insured", direction="down",
    ...                        severity_steps=(0.1, 0.2, 0.3, 0.5)).detect_series("X", series)
    >>> d[0].start_period, d[0].severity.label
    ('2024-09', 'high')

    References
    ----------
    Truong, Oudre, Vayatis (2020), Selective review of offline change point
    detection methods, Signal Processing 167.
    """

    #: A start can move by a quarter as months accrue (the engine's minimum segment) and be the same change.
    same_change_months = 3

    def __init__(
        self,
        *,
        signal: str,
        family: str = "",
        metric: str,
        direction: str,
        severity_steps: tuple[float, float, float, float],
        min_absolute_change: float = 0.0,
        min_points_after: int = 3,
        max_before_points: int = 12,
        exclude_cny: bool = True,
        count_check: bool = False,
        min_count_lr: float = 9.0,
        history_months: int = 48,
        relative_floor: float = 1e-9,
        segment_model: str = "mixed",
        penalty_per_param: float = 1.5,
        min_size: int = 3,
    ) -> None:
        if direction not in DIRECTIONS:
            raise BadParameter(f"direction {direction!r} is not valid; valid: {', '.join(DIRECTIONS)}")
        steps = tuple(float(s) for s in severity_steps)
        if len(steps) != 4 or any(s <= 0 for s in steps) or list(steps) != sorted(steps):
            raise BadParameter("severity_steps must be 4 increasing positive fractions (low, medium, high, critical)")
        if min_points_after < 2:
            raise BadParameter("min_points_after must be at least 2")
        if min_absolute_change < 0:
            raise BadParameter("min_absolute_change must be >= 0")
        if history_months < 12:
            raise BadParameter("history_months must be at least 12")
        self.signal, self.family = checked_identity(signal, family)
        self.metric = metric
        self.direction = direction
        self.severity_steps = steps
        self.min_absolute_change = float(min_absolute_change)
        self.min_points_after = int(min_points_after)
        self.max_before_points = int(max_before_points)
        self.exclude_cny = bool(exclude_cny)
        self.count_check = bool(count_check)
        self.min_count_lr = float(min_count_lr)
        self.history_months = int(history_months)
        self.relative_floor = float(relative_floor)
        self.engine = ChangePointEngine(model=segment_model, penalty_per_param=penalty_per_param, min_size=min_size)

    @property
    def inputs(self) -> tuple[str, ...]:
        """The monthly record kinds ``detect`` reads: its findings depend on these tables alone."""
        return (METRICS[self.metric],)

    # -- public -----------------------------------------------------------------
    def detect(self, history: History, *, shared: dict | None = None,
               peers: PeerBaseline | None = None) -> list[Detection]:
        table = history.monthly.get(METRICS[self.metric])
        if table is None or len(table) == 0:
            return []
        keep = table.index > table.index[-1] - self.history_months
        months = table.index[keep].astype(np.int64)
        values = _values(self.metric, table)[keep]
        counts = exposure = None
        if self.count_check:
            counts = _values("left", table)[keep]
            exposure = _values("start_headcount", table)[keep]
        return self._detect(history.enterprise_id, months, values, counts, exposure)

    def detect_series(
        self,
        enterprise_id: str,
        series: MonthlySeries,
        *,
        counts: MonthlySeries | None = None,
        exposure: MonthlySeries | None = None,
    ) -> list[Detection]:
        """The same test on a plain series (``counts``/``exposure`` aligned by period, for rates)."""
        months = np.array([period_index(p) for p in series.periods], dtype=np.int64)
        values = np.asarray(series.values, dtype=float)
        c = e = None
        if counts is not None and exposure is not None:
            cd = dict(zip(counts.periods, counts.values))
            ed = dict(zip(exposure.periods, exposure.values))
            c = np.array([cd.get(p, 0.0) for p in series.periods], dtype=float)
            e = np.array([ed.get(p, 0.0) for p in series.periods], dtype=float)
        return self._detect(enterprise_id, months, values, c, e)

    def _detect(self, enterprise_id: str, months: np.ndarray, values: np.ndarray,
                counts: np.ndarray | None, exposure: np.ndarray | None) -> list[Detection]:
        if len(months) < 2 * self.min_points_after + 2:
            return []
        first_month = int(months[0])
        n_grid = int(months[-1]) - first_month + 1
        y = np.full(n_grid, np.nan)
        y[months - first_month] = values
        seasonal = np.zeros(n_grid, dtype=bool)
        if self.exclude_cny:
            seasonal[:] = [_festival(first_month + k) for k in range(n_grid)]
        keep = np.flatnonzero(~np.isnan(y) & ~seasonal)
        z = y[keep]
        if len(z) < 2 * self.min_points_after + 2:
            return []
        if not self._possible(z):
            return []
        episode = self._episode(z)
        if episode is None:
            return []
        before = float(np.median(episode.before))
        after = episode.after_level
        if self.count_check and counts is not None and exposure is not None:
            c = np.zeros(n_grid)
            e = np.zeros(n_grid)
            c[months - first_month] = counts
            e[months - first_month] = exposure
            pooled = self._pooled(keep, episode, c, e)
            if pooled is None:
                return []
            before, after, strength = pooled
            if strength < self.min_count_lr:
                return []
        change = after - before
        if (change >= 0) if self.direction == "down" else (change <= 0):
            return []
        if abs(change) < self.min_absolute_change:
            return []
        relative = change / max(abs(before), self.relative_floor)
        severity = self._severity(abs(relative))
        if severity is None:
            return []
        start_pos = int(keep[episode.start])
        after_idx = keep[episode.start:]
        yoy_before, yoy_after = self._yoy(y, after_idx)
        first_slice = max(0, n_grid - 24)
        grid = [period_at(first_month + k) for k in range(first_slice, n_grid)]
        evidence = Evidence(
            level_before=_round(before),
            level_after=_round(after),
            relative_change=round(relative, 4),
            baseline="pre_change_median",
            series={
                "metric": [self.metric],
                "periods": grid,
                "values": [None if math.isnan(v) else _round(float(v)) for v in y[first_slice:]],
            },
            yoy_before=yoy_before,
            yoy_after=yoy_after,
            excluded_periods=tuple(p for p, s in zip(grid, seasonal[first_slice:]) if s),
        )
        return [Detection(enterprise_id, self.signal, period_at(first_month + start_pos), self.direction,
                          severity, evidence)]

    # -- internals --------------------------------------------------------------
    def _possible(self, z: np.ndarray) -> bool:
        """Cheap necessary condition: could any episode reach the smallest reported size?

        Levels are medians of points of ``z``, so the change is at most the
        range of ``z``; most firms never move that far and skip the search.
        """
        if self.count_check:
            return True
        lo, hi = float(z.min()), float(z.max())
        if hi - lo < self.min_absolute_change:
            return False
        base = hi if self.direction == "down" else lo
        return (hi - lo) / max(abs(base), self.relative_floor) >= self.severity_steps[0]

    def _moves(self, earlier: float, later: float) -> bool:
        return later < earlier if self.direction == "down" else later > earlier

    def _episode(self, z: np.ndarray) -> _Episode | None:
        engine = self.engine.fit(z)
        starts = engine.predict()[:-1]
        models = getattr(engine, "segment_models_", None)
        bounds = [0, *starts, len(z)]
        levels = [float(np.median(z[a:b])) for a, b in zip(bounds, bounds[1:], strict=False)]
        k = len(levels) - 1
        j = k
        while j > 0 and self._moves(levels[j - 1], levels[j]):
            j -= 1
        if j == k:
            return None
        start = bounds[j + 1]
        before = z[max(bounds[j], start - self.max_before_points):start]
        last = z[bounds[k]:]
        ramp = bool(models) and "linear" in models[-1]
        use_last = len(last) >= self.min_points_after and not ramp
        after_level = float(np.median(last if use_last else z[-self.min_points_after:]))
        # The engine's minimum segment length can pull the start a point or two early
        # (a two-month change is padded to three); start at the first point that has
        # actually crossed half-way, and count only from there.
        mid = (float(np.median(before)) + after_level) / 2.0
        while start < len(z) and not self._moves(mid, z[start]):
            start += 1
        if len(z) - start < self.min_points_after:
            return None
        return _Episode(start, before, after_level)

    def _severity(self, size: float) -> Severity | None:
        level = None
        for sev, step in zip(Severity, self.severity_steps):
            if size >= step:
                level = sev
        return level

    def _pooled(self, keep, episode, counts, exposure) -> tuple[float, float, float] | None:
        """Rates before and after as pooled counts over exposure, and the Poisson evidence for the rise.

        A median of monthly rates is 0 for a firm of twenty that loses one
        person every few months; pooling the counts gives its real rate.
        """
        before_pos = keep[:episode.start][-self.max_before_points:]
        after_pos = keep[episode.start:]
        b_left, b_exp = float(counts[before_pos].sum()), float(exposure[before_pos].sum())
        a_left, a_exp = float(counts[after_pos].sum()), float(exposure[after_pos].sum())
        if b_exp <= 0 or a_exp <= 0:
            return None
        # half a leaver of prior so a firm with no leavers before is not infinitely surprised by one
        rate_before = (b_left + 0.5) / b_exp
        strength = poisson_excess(a_left, rate_before * a_exp)
        return rate_before, a_left / a_exp, strength

    @staticmethod
    def _yoy(y: np.ndarray, after_idx: np.ndarray) -> tuple[float | None, float | None]:
        pairs = [(y[i - 12], y[i]) for i in after_idx if i >= 12 and not math.isnan(y[i - 12])
                 and not math.isnan(y[i])]
        if len(pairs) < 2:
            return None, None
        return _round(float(np.mean([a for a, _ in pairs]))), _round(float(np.mean([b for _, b in pairs])))


def _round(v: float) -> float:
    return float(f"{v:.4g}") if abs(v) < 1 else round(v, 2)
