"""Online change detectors: one point at a time, a flag when the series has drifted.

River's shape (``update(x)``, then a read-only ``drift_detected``) on the
cumulative-sum (CUSUM) test of Page (1954): the statistic adds, month by
month, the log-likelihood ratio of "the series has moved by ``ratio``"
against "it is still the baseline", and never goes below zero. The baseline
is learnt from the series' own past: the last ``baseline_points`` in-control
points before the current run, frozen while a run is under way, so a slow
slide does not drag its own yardstick along with it.

Why CUSUM for post-loan monitoring:

* the change start is the first point of the current run (the last time the
  statistic left zero); it does not move as more months arrive, which is what
  keeps an alert's identity stable;
* a run ends when the evidence is spent (the statistic is back to zero), so a
  change that reverted is no finding;
* it is the fastest detector for a given false-alarm rate (Lorden 1971;
  Moustakides 1986), and costs a few operations per month.

Counts are overdispersed in real firms (hiring waves, a team leaving
together): the Poisson and binomial streams estimate a dispersion factor from
the baseline (Pearson's chi-square over its degrees of freedom, at least 1)
and divide each increment by it, the quasi-likelihood correction of
McCullagh & Nelder (1989, ch. 9).

:class:`JointCusum` adds the increments of several streams of one firm: under
independence the sum is the log-likelihood ratio of "all moved" against "none
moved". Real slides move some streams and not others (a firm in trouble may
keep paying the housing fund), and a stream that did not move would then
veto the others; :class:`MixtureCusum` instead runs one CUSUM per stream and
combines them as the mixture likelihood ratio of Xie & Siegmund (2013):
``Σ log(1 - p + p·exp(S_i))``, each stream having moved with probability
``p``. A quiet stream adds nothing, several modest moves add up to evidence
none of them is alone.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from typing import Self

from detectors.exceptions import BadParameter
from detectors.online_base import OnlineDetector

__all__ = ["PoissonStream", "BinomialStream", "GaussianStream", "PoissonCusum", "BinomialCusum",
           "GaussianCusum", "JointCusum", "MixtureCusum", "mixture"]


# -- baselines: one stream's in-control model and its log-likelihood-ratio increment -----------
class _Stream:
    def __init__(self, baseline_points: int, min_baseline: int) -> None:
        if min_baseline < 2 or baseline_points < min_baseline:
            raise BadParameter("need 2 <= min_baseline <= baseline_points")
        self.baseline_points = int(baseline_points)
        self.min_baseline = int(min_baseline)

    def _reset(self) -> None:
        """Forget the baseline: back to the state of a new stream."""
        self.window: deque = deque()

    @property
    def ready(self) -> bool:
        return len(self.window) >= self.min_baseline

    def push(self, point) -> None:
        self.window.append(point)
        self._add(point, 1.0)
        if len(self.window) > self.baseline_points:
            self._add(self.window.popleft(), -1.0)

    def _add(self, point, sign: float) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def freeze(self) -> None:  # pragma: no cover - abstract
        """Fix the baseline from the current window (called when a run may start)."""
        raise NotImplementedError

    def increment(self, point) -> float:  # pragma: no cover - abstract
        raise NotImplementedError


class PoissonStream(_Stream):
    """Counts over an exposure (leavers over the headcount at risk); the change is a rate ``ratio``.

    ``prior_count`` counts are added to the baseline so a firm with no
    leavers in a year is not infinitely surprised by one.
    """

    def __init__(self, *, ratio: float = 2.0, baseline_points: int = 12, min_baseline: int = 6,
                 overdispersion: bool = True, prior_count: float = 0.5) -> None:
        if ratio <= 0 or ratio == 1:
            raise BadParameter("ratio must be > 0 and != 1")
        super().__init__(baseline_points, min_baseline)
        self.ratio = float(ratio)
        self.overdispersion = bool(overdispersion)
        self.prior_count = float(prior_count)
        self._log_ratio = math.log(ratio)
        self._reset()

    def _reset(self) -> None:
        super()._reset()
        self._sx = self._se = self._sxx = 0.0
        self.rate = math.nan
        self.dispersion = 1.0
        self._a = self._b = 0.0

    def _add(self, point, sign: float) -> None:
        x, e = point
        self._sx += sign * x
        self._se += sign * e
        self._sxx += sign * (x * x / e if e > 0 else 0.0)

    def freeze(self) -> None:
        se = max(self._se, 1e-12)
        sx = max(self._sx, 0.0)
        self.rate = (sx + self.prior_count) / se
        self.dispersion = 1.0
        if self.overdispersion and sx > 0:
            chi2 = self._sxx * se / sx - sx  # sum (x - r e)^2 / (r e) at the pooled rate r
            self.dispersion = max(1.0, chi2 / (len(self.window) - 1))
        self._a = self._log_ratio / self.dispersion
        self._b = (self.ratio - 1.0) * self.rate / self.dispersion

    def increment(self, point) -> float:
        return point[0] * self._a - point[1] * self._b


class BinomialStream(_Stream):
    """Successes out of trials (housing-fund payers among the insured); the change is a share ``ratio`` < 1."""

    def __init__(self, *, ratio: float = 0.9, baseline_points: int = 12, min_baseline: int = 6,
                 overdispersion: bool = True) -> None:
        if not 0 < ratio < 1:
            raise BadParameter("ratio must be in (0, 1): the share that is bad news is lower")
        super().__init__(baseline_points, min_baseline)
        self.ratio = float(ratio)
        self.overdispersion = bool(overdispersion)
        self._reset()

    def _reset(self) -> None:
        super()._reset()
        self._sc = self._sn = self._scc = 0.0
        self.share = math.nan
        self.dispersion = 1.0
        self._a = self._b = 0.0

    def _add(self, point, sign: float) -> None:
        c, n = point
        self._sc += sign * c
        self._sn += sign * n
        self._scc += sign * (c * c / n if n > 0 else 0.0)

    def freeze(self) -> None:
        p0 = min(max((self._sc + 0.5) / (self._sn + 1.0), 1e-3), 1.0 - 1e-3)
        p1 = p0 * self.ratio
        self.share = p0
        self.dispersion = 1.0
        if self.overdispersion:
            p = min(max(self._sc / max(self._sn, 1e-12), 1e-3), 1.0 - 1e-3)
            chi2 = (self._scc - 2 * p * self._sc + p * p * self._sn) / (p * (1 - p))
            self.dispersion = max(1.0, chi2 / (len(self.window) - 1))
        self._a = math.log(p1 / p0) / self.dispersion
        self._b = math.log((1.0 - p1) / (1.0 - p0)) / self.dispersion

    def increment(self, point) -> float:
        return point[0] * self._a + (point[1] - point[0]) * self._b


class GaussianStream(_Stream):
    """A noisy level (log of metered usage); the change is a ``shift`` of its mean.

    ``clip`` bounds how far from the midpoint between the two hypotheses (in
    baseline standard deviations) one month can count (Huber's robust
    CUSUM: a one-month outage is spent before it alarms); ``min_spread`` floors the spread (a meter's own resolution);
    with ``autocorrelation`` the increments are divided by ``(1 + ρ)/(1 - ρ)``
    for the baseline's lag-one correlation ρ, since correlated months carry
    less independent evidence.
    """

    def __init__(self, *, shift: float = -0.2, baseline_points: int = 12, min_baseline: int = 6,
                 clip: float = 3.0, min_spread: float = 0.03, autocorrelation: bool = True) -> None:
        if shift == 0:
            raise BadParameter("shift must be non-zero")
        if clip <= 0 or min_spread <= 0:
            raise BadParameter("clip and min_spread must be > 0")
        super().__init__(baseline_points, min_baseline)
        self.shift = float(shift)
        self.clip = float(clip)
        self.min_spread = float(min_spread)
        self.autocorrelation = bool(autocorrelation)
        self._reset()

    def _reset(self) -> None:
        super()._reset()
        self._s1 = self._s2 = self._lag = 0.0
        self.mean = math.nan
        self.spread = math.nan
        self.dispersion = 1.0
        self._gain = self._half = 0.0

    def push(self, point) -> None:
        w = self.window
        if w:
            self._lag += w[-1] * point
        w.append(point)
        self._s1 += point
        self._s2 += point * point
        if len(w) > self.baseline_points:
            old = w.popleft()
            self._lag -= old * w[0]
            self._s1 -= old
            self._s2 -= old * old

    def freeze(self) -> None:
        w = self.window
        n = len(w)
        mean = self._s1 / n
        var = max(self._s2 / n - mean * mean, 0.0) * n / (n - 1)
        sd = max(math.sqrt(var), self.min_spread)
        f = 1.0
        if self.autocorrelation and n > 3 and var > 0:
            # sum over consecutive pairs of (a - m)(b - m), from running sums
            num = self._lag - mean * (2 * self._s1 - w[0] - w[-1]) + (n - 1) * mean * mean
            rho = min(max(num / (var * (n - 1)), 0.0), 0.9)
            f = (1 + rho) / (1 - rho)
        self.mean, self.spread, self.dispersion = mean, sd, f
        d = self.shift / sd
        self._gain = d / f
        self._half = d / 2.0

    def increment(self, point) -> float:
        w = (point - self.mean) / self.spread - self._half  # from the midpoint of the two hypotheses
        w = self.clip if w > self.clip else -self.clip if w < -self.clip else w
        return self._gain * w


# -- the CUSUM run ---------------------------------------------------------------------------------
class _StreamsCusum(OnlineDetector):
    """The CUSUM recursion over one or more streams of the same firm, their increments added month by month.

    Subclasses only say what one observation is (``update``); the arithmetic is ``_step``.
    """

    def __init__(self, streams: Sequence[_Stream], *, threshold: float, max_step: float) -> None:
        if not streams:
            raise BadParameter("at least one stream is needed")
        if not threshold > 0:
            raise BadParameter("threshold must be > 0")
        if not max_step > 0:
            raise BadParameter("max_step must be > 0")
        self.streams = list(streams)
        self.threshold = float(threshold)
        self.max_step = float(max_step)
        super().__init__()

    def _reset(self) -> None:
        super()._reset()
        for s in self.streams:
            s._reset()
        self._pending: list[Sequence] = []
        self._frozen: list[bool] = [False] * len(self.streams)

    def _step(self, points: Sequence) -> None:
        """Add one month: one point per stream, None where a stream has no value that month."""
        self._n_seen += 1
        streams = self.streams
        if self._statistic == 0.0:
            if any(p is not None and not s.ready for s, p in zip(streams, points)):
                for s, p in zip(streams, points):  # still learning the baseline
                    if p is not None:
                        s.push(p)
                return
            for k, s in enumerate(streams):
                self._frozen[k] = s.ready
                if s.ready:
                    s.freeze()
        inc = 0.0
        for s, p, frozen in zip(streams, points, self._frozen):
            if p is not None and frozen:
                inc += s.increment(p)
        value = self._statistic + float(inc if inc < self.max_step else self.max_step)
        if value <= 0.0:  # the run is over: its months rejoin the baseline
            for month in self._pending:
                for s, p in zip(streams, month):
                    if p is not None:
                        s.push(p)
            for s, p in zip(streams, points):
                if p is not None:
                    s.push(p)
            self._pending.clear()
        else:
            self._pending.append(points)
        self._advance(value)


class JointCusum(_StreamsCusum):
    """CUSUM over one or more streams of the same firm, their increments added month by month.

    Parameters
    ----------
    streams
        The streams' baseline models (:class:`PoissonStream`, ...).
    threshold
        Log-likelihood ratio at which ``drift_detected`` turns on (``h``;
        roughly ``exp(h)`` in-control months between false alarms).
    max_step
        Most one month can add (a robust CUSUM: a one-off wave, such as a
        contract ending, cannot raise the alarm alone). Unbounded by default.

    ``update(x)`` takes one month: one point per stream, None where a stream
    has no value that month. The results (``drift_detected``, ``statistic``,
    ``peak``, ``run_start``, ``alarm_at``, ``n_seen``) are read-only, see
    :class:`~detectors.online_base.OnlineDetector`.

    Example
    -------
    >>> import numpy as np
    >>> rng = np.random.default_rng(6)
    >>> left = np.r_[rng.poisson(3, 16), rng.poisson(5, 6)]
    >>> joined = np.r_[rng.poisson(3, 16), rng.poisson(1, 6)]
    >>> c = JointCusum([PoissonStream(ratio=2.0), PoissonStream(ratio=0.5)], threshold=6.0)
    >>> for x, j in zip(left, joined):
    ...     _ = c.update([(x, 150.0), (j, 150.0)])
    >>> c.drift_detected, c.run_start
    (True, 16)

    References
    ----------
    Page (1954), Continuous inspection schemes, Biometrika 41.
    """

    def __init__(self, streams: Sequence[_Stream], *, threshold: float = 6.0, max_step: float = math.inf) -> None:
        super().__init__(streams, threshold=threshold, max_step=max_step)

    def update(self, x: Sequence) -> Self:
        self._step(x)
        return self


class PoissonCusum(_StreamsCusum):
    """CUSUM for a change in the rate of counts (see :class:`PoissonStream`); ``update((count, exposure))``.

    Parameters
    ----------
    ratio
        The rate change the test is tuned to, as a multiple of the baseline rate.
    threshold, max_step
        As for :class:`JointCusum`.
    baseline_points, min_baseline, overdispersion, prior_count
        The baseline, as for :class:`PoissonStream`.

    Example
    -------
    >>> import numpy as np
    >>> rng = np.random.default_rng(4)
    >>> leavers = np.r_[rng.poisson(2, 18), rng.poisson(6, 6)]
    >>> c = PoissonCusum(ratio=2.0, threshold=6.0)
    >>> flags = [c.update((x, 100.0)).drift_detected for x in leavers]
    >>> flags.index(True) >= 18, c.run_start, c.drift_detected
    (True, 18, True)

    References
    ----------
    Lucas (1985), Counted data CUSUMs, Technometrics 27.
    """

    def __init__(self, *, ratio: float = 2.0, threshold: float = 6.0, max_step: float = math.inf,
                 baseline_points: int = 12, min_baseline: int = 6, overdispersion: bool = True,
                 prior_count: float = 0.5) -> None:
        stream = PoissonStream(ratio=ratio, baseline_points=baseline_points, min_baseline=min_baseline,
                               overdispersion=overdispersion, prior_count=prior_count)
        super().__init__([stream], threshold=threshold, max_step=max_step)

    def update(self, x: tuple[float, float]) -> Self:
        """Add one month: ``x = (count, exposure)``, events over the exposure they happened in."""
        count, exposure = x
        self._step(((float(count), float(exposure)),))
        return self


class BinomialCusum(_StreamsCusum):
    """CUSUM for a fall in a share (see :class:`BinomialStream`); ``update((successes, trials))``.

    Parameters
    ----------
    ratio
        The fall the test is tuned to, as a multiple (< 1) of the baseline share.
    threshold, max_step
        As for :class:`JointCusum`.
    baseline_points, min_baseline, overdispersion
        The baseline, as for :class:`BinomialStream`.

    Example
    -------
    >>> import numpy as np
    >>> rng = np.random.default_rng(2)
    >>> covered = np.r_[rng.binomial(80, 0.9, 14), rng.binomial(80, 0.7, 6)]
    >>> c = BinomialCusum(ratio=0.9, threshold=6.0)
    >>> for x in covered:
    ...     _ = c.update((x, 80))
    >>> c.drift_detected, c.run_start
    (True, 14)

    References
    ----------
    Reynolds & Stoumbos (1999), A CUSUM chart for monitoring a proportion, J. Quality Technology 31.
    """

    def __init__(self, *, ratio: float = 0.9, threshold: float = 6.0, max_step: float = math.inf,
                 baseline_points: int = 12, min_baseline: int = 6, overdispersion: bool = True) -> None:
        stream = BinomialStream(ratio=ratio, baseline_points=baseline_points, min_baseline=min_baseline,
                                overdispersion=overdispersion)
        super().__init__([stream], threshold=threshold, max_step=max_step)

    def update(self, x: tuple[float, float]) -> Self:
        """Add one month: ``x = (successes, trials)``; a month with no trials is skipped."""
        successes, trials = x
        if trials > 0:
            self._step(((float(successes), float(trials)),))
        return self


class GaussianCusum(_StreamsCusum):
    """CUSUM for a shift of a noisy level (see :class:`GaussianStream`); ``update(value)``.

    Parameters
    ----------
    shift
        The shift of the mean the test is tuned to (log units for usage).
    threshold, max_step
        As for :class:`JointCusum`.
    baseline_points, min_baseline, clip, min_spread, autocorrelation
        The baseline, as for :class:`GaussianStream`.

    Example
    -------
    >>> import numpy as np
    >>> rng = np.random.default_rng(3)
    >>> usage = np.log(np.r_[rng.normal(100, 5, 15), rng.normal(70, 5, 6)])
    >>> c = GaussianCusum(shift=-0.2, threshold=6.0)
    >>> for x in usage:
    ...     _ = c.update(x)
    >>> c.drift_detected, c.run_start
    (True, 15)

    References
    ----------
    Hawkins & Olwell (1998), Cumulative Sum Charts and Charting for Quality Improvement, Springer.
    """

    def __init__(self, *, shift: float = -0.2, threshold: float = 6.0, max_step: float = math.inf,
                 baseline_points: int = 12, min_baseline: int = 6, clip: float = 3.0, min_spread: float = 0.03,
                 autocorrelation: bool = True) -> None:
        stream = GaussianStream(shift=shift, baseline_points=baseline_points, min_baseline=min_baseline, clip=clip,
                                min_spread=min_spread, autocorrelation=autocorrelation)
        super().__init__([stream], threshold=threshold, max_step=max_step)

    def update(self, x: float) -> Self:
        """Add one month's value."""
        self._step((float(x),))
        return self


def mixture(statistics: Sequence[float], p: float) -> float:
    """Mixture log-likelihood ratio of several CUSUM statistics: ``Σ log(1 - p + p·exp(S))`` (0 when all are 0).

    >>> round(mixture([0.0, 0.0], 0.5), 6), round(mixture([6.0, 0.0], 0.5), 2), round(mixture([3.0, 3.0], 0.5), 2)
    (0.0, 5.31, 4.71)
    """
    total = 0.0
    for s in statistics:
        if s > 0.0:
            total += math.log1p(p * math.expm1(s)) if s < 30.0 else s + math.log(p)
    return total


class MixtureCusum(OnlineDetector):
    """Several streams of one firm, one CUSUM each, combined as a mixture (Xie & Siegmund 2013).

    Parameters
    ----------
    tests
        One single-stream test per stream (:class:`PoissonCusum`, ...), each
        with its own baseline, run and ``max_step``.
    mix
        ``p``, the prior probability that a given stream moved in a slide.
    threshold
        Mixture statistic at which ``drift_detected`` turns on.

    ``update(x)`` takes one month: one point per stream (in the form the
    stream's own test takes), None where a stream has no value that month.
    The combined run lasts while any stream is in a run; ``run_start``,
    ``alarm_at``, ``peak`` and ``statistic`` are the combined ones.

    Example
    -------
    >>> import numpy as np
    >>> rng = np.random.default_rng(8)
    >>> left = np.r_[rng.poisson(4, 18), rng.poisson(8, 8)]
    >>> covered = rng.binomial(150, 0.9, 26)  # the housing fund is still paid: no veto
    >>> c = MixtureCusum([PoissonCusum(ratio=2.0, threshold=1.0), BinomialCusum(ratio=0.9, threshold=1.0)],
    ...                  threshold=6.0)
    >>> for x, k in zip(left, covered):
    ...     _ = c.update([(x, 150.0), (k, 150.0)])
    >>> c.drift_detected, c.run_start >= 16
    (True, True)

    References
    ----------
    Xie & Siegmund (2013), Sequential multi-sensor change-point detection, Annals of Statistics 41.
    """

    def __init__(self, tests: Sequence[_StreamsCusum], *, mix: float = 0.5, threshold: float = 6.0) -> None:
        if not tests:
            raise BadParameter("at least one stream is needed")
        if not 0 < mix <= 1:
            raise BadParameter("mix must be in (0, 1]")
        if not threshold > 0:
            raise BadParameter("threshold must be > 0")
        self.tests = list(tests)
        self.mix = float(mix)
        self.threshold = float(threshold)
        super().__init__()

    def _reset(self) -> None:
        super()._reset()
        for t in self.tests:
            t._reset()

    @property
    def streams(self) -> list[_Stream]:
        return [t.streams[0] for t in self.tests]

    def update(self, x: Sequence) -> Self:
        self._n_seen += 1
        for t, p in zip(self.tests, x):
            if p is not None:
                t._step((p,))
        self._advance(mixture([t.statistic for t in self.tests], self.mix))
        return self
