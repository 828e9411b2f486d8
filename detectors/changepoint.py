"""Default change-point engine: optimal segmentation into constant or linear-trend pieces, BIC penalty.

The engine answers "where does this series change regime?" for the detectors, on short monthly
series (24-48 points) as much as on long ones. It is a pure function of the series: there is no
state between calls and nothing is tuned per series.

Model
-----
The series ``y`` (``n`` points, ``d`` dimensions) is cut into segments; on each segment every
dimension follows either a constant level or a straight line, plus noise of scale ``σ_j``. The
segmentation minimises the Schwarz (BIC) criterion with ``σ`` known::

    Σ_segments Σ_j min(RSS_const_j / σ_j² + β·log n,  RSS_lin_j / σ_j² + 2·β·log n)  +  K·β·log n

that is, every free parameter (a level, a slope, a change location) costs ``β·log n``. With the
default ``β = 1.5`` a change of level costs ``3·log n``, the leading term of the modified BIC of
Zhang & Siegmund (2007) that R's ``changepoint`` package uses by default; a slope must pay for
itself like any other parameter, so trends do not turn into staircases. The minimum is exact
(optimal partitioning over all segmentations).

Noise scale
-----------
``σ_j`` is the residual standard deviation of the no-change model: one straight line through the
whole series (one constant with ``model="constant"``). This is the variance under the null
hypothesis, as in the likelihood-ratio tests for a change; it makes the criterion scale-free and
its false-alarm rate on white noise about 1% (24-48 points). It is deliberately not a short-range
estimate (e.g. the MAD of first differences): real business series are smooth, seasonal and
autocorrelated, so a short-range estimate understates the variability a change has to stand out
from, and the segmentation then follows every wiggle (on the 16 TCPD benchmark series F1/cover
drop from 0.84/0.76 to 0.64/0.56).

Limitations: under a real change the null variance is inflated, so every parameter must explain
about ``β·log n / n`` of the variance around one line (an R²-like rule). A single shift is found
(3σ in 36 months: 95%), but where several large changes coexist the smaller structure can be
absorbed, e.g. a 4σ plateau of 12 of 36 months is usually reported as one boundary plus a ramp.
Positively autocorrelated noise (AR(1), φ = 0.5) still yields a change on about a quarter of
36-point series.

Missing values
--------------
Rows with a NaN or infinite value are left out; the trend uses the original time positions of the
remaining rows and change points are mapped back to original indices (a change after a gap is
reported at the first observed point after it).
"""

from __future__ import annotations

import functools
import math

import numpy as np
import ruptures as rpt
from ruptures.base import BaseEstimator

from detectors.costs import KINDS, TrendSums, segment_costs
from detectors.exceptions import BadParameter

__all__ = ["ChangePointEngine", "find_changes", "MODELS"]

MODELS = KINDS
# Up to this many points all segment costs go into one (n+1)² matrix relaxed in a few vectorised
# sweeps (fastest for short series); above it the search walks the end points one by one, in O(n)
# memory, which is faster there (about 20 ms at n = 1000, 0.15 s at n = 3000).
_MATRIX_MAX_N = 500


class ChangePointEngine(BaseEstimator):
    """Exact penalised segmentation into constant or linear-trend segments (BIC, scale-free).

    Parameters
    ----------
    model : {"mixed", "constant", "linear"}, default "mixed"
        Segment model. ``"mixed"``: each segment (and dimension) is a level or a line, whichever
        the criterion prefers. ``"constant"``: piecewise-constant mean (ruptures' ``KernelCPD``
        with the linear kernel, i.e. the l2 cost, in C). ``"linear"``: piecewise linear trends.
    penalty_per_param : float, default 1.5
        ``β``: each free parameter (level, slope, change location) costs ``β·log(n)`` in units of
        the noise variance. 1.0 is the classical BIC; 1.5 makes a level change cost ``3·log n``
        (the leading term of the modified BIC). Must be > 0.
    min_size : int, default 3
        Minimum segment length in observed points: a quarter of monthly data, and the fewest points
        on which a line leaves a residual. At least 2, and at least 3 when lines are allowed.

    Attributes (after ``fit``)
    --------------------------
    n_samples_ : int
        Length of the signal, missing rows included.
    scale_ : numpy.ndarray
        Noise scale ``σ_j`` per dimension, in the signal's units (0 for a dimension that is exactly
        constant or linear, which is then ignored).
    segment_models_ : list[tuple[str, ...]]
        For each segment of ``predict()``, ``"constant"`` or ``"linear"`` per dimension (computed
        on access).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> y = np.concatenate([rng.normal(10, 1, 20), rng.normal(14, 1, 16)])
    >>> ChangePointEngine().fit(y).predict()
    [20, 36]
    >>> find_changes(1000 * y)
    [20]
    >>> t = np.arange(36.0)
    >>> headcount = np.where(t < 24, 100 + t, 110) + rng.normal(0, 1, 36)  # growth, then a cut
    >>> engine = ChangePointEngine().fit(headcount)
    >>> engine.predict()
    [24, 36]
    >>> engine.segment_models_
    [('linear',), ('constant',)]
    >>> find_changes(rng.normal(0, 1, 36))
    []

    References
    ----------
    .. [1] Schwarz, G. (1978). Estimating the dimension of a model. Annals of Statistics 6(2).
    .. [2] Yao, Y.-C. (1988). Estimating the number of change-points via Schwarz' criterion.
       Statistics & Probability Letters 6(3).
    .. [3] Zhang, N. R., Siegmund, D. O. (2007). A modified Bayes information criterion with
       applications to the analysis of comparative genomic hybridization data. Biometrics 63(1).
    .. [4] Bai, J., Perron, P. (2003). Computation and analysis of multiple structural change
       models. Journal of Applied Econometrics 18(1).
    .. [5] Jackson, B. et al. (2005). An algorithm for optimal partitioning of data on an interval.
       IEEE Signal Processing Letters 12(2).
    .. [6] Truong, C., Oudre, L., Vayatis, N. (2020). Selective review of offline change point
       detection methods. Signal Processing 167 (ruptures).
    .. [7] van den Burg, G. J. J., Williams, C. K. I. (2020). An evaluation of change point
       detection algorithms. arXiv:2003.06222 (TCPD benchmark).
    """

    def __init__(self, *, model: str = "mixed", penalty_per_param: float = 1.5, min_size: int = 3) -> None:
        if not isinstance(model, str) or model not in MODELS:
            raise BadParameter(f"model must be one of {', '.join(MODELS)}; got {model!r}")
        if (
            isinstance(penalty_per_param, bool)
            or not isinstance(penalty_per_param, int | float | np.integer | np.floating)
            or not math.isfinite(penalty_per_param)
            or penalty_per_param <= 0
        ):
            raise BadParameter(f"penalty_per_param must be a finite number > 0; got {penalty_per_param!r}")
        least = 2 if model == "constant" else 3
        if isinstance(min_size, bool) or not isinstance(min_size, int | np.integer) or min_size < least:
            raise BadParameter(f"min_size must be an integer >= {least} for model={model!r}; got {min_size!r}")
        self.model = model
        self.penalty_per_param = float(penalty_per_param)
        self.min_size = int(min_size)
        self._fitted = False

    def __repr__(self) -> str:
        return (f"ChangePointEngine(model={self.model!r}, penalty_per_param={self.penalty_per_param!r}, "
                f"min_size={self.min_size!r})")

    # -- ruptures estimator API -------------------------------------------------
    def fit(self, signal) -> ChangePointEngine:
        """Take the signal (array-like, shape ``(n,)`` or ``(n, d)``; NaN marks a missing value)."""
        x = np.array(signal, dtype=float)
        if x.ndim == 1:
            x = x[:, None]
        if x.ndim != 2 or x.shape[1] == 0:
            raise BadParameter(f"signal must have shape (n,) or (n, d) with d >= 1; got {np.shape(signal)}")
        n, d = x.shape
        finite = np.isfinite(x)
        if finite.all():
            keep = None
            t = np.arange(n, dtype=float)
        else:
            keep = np.flatnonzero(finite.all(axis=1))
            x = x[keep]
            t = keep.astype(float)
        m = len(t)
        scale = np.zeros(d)
        z = x[:, :0]
        if m >= 2:
            centred = x - x.sum(axis=0) / m
            if self.model == "constant":
                resid, dof = centred, m - 1
            else:
                tc = t - t.sum() / m
                resid, dof = centred - np.outer(tc, (tc @ centred) / (tc @ tc)), max(m - 2, 1)
            scale = np.sqrt(np.einsum("ij,ij->j", resid, resid) / dof)
            # a dimension that is exactly constant (or exactly a line) has no noise and no change
            scale[~(scale > 1e-9 * np.abs(centred).max(axis=0))] = 0.0
            live = scale > 0
            z = centred / scale if live.all() else centred[:, live] / scale[live]
        self.n_samples_ = n
        self.scale_ = scale
        self._keep = keep
        self._t = t
        self._z = z
        self._bkps = None
        self._compact = None
        self._fitted = True
        return self

    def predict(self) -> list[int]:
        """Sorted breakpoints (index where each new segment starts), ending with ``n_samples_``."""
        if not self._fitted:
            raise RuntimeError("call fit(signal) before predict()")
        if self._bkps is None:
            self._compact = self._segment()
            inner = self._compact[:-1] if self._keep is None else [int(self._keep[b]) for b in self._compact[:-1]]
            self._bkps = [*inner, self.n_samples_]
        return list(self._bkps)

    def fit_predict(self, signal) -> list[int]:
        """``fit(signal).predict()``."""
        return self.fit(signal).predict()

    @property
    def segment_models_(self) -> list[tuple[str, ...]]:
        """For each segment of ``predict()``, ``"constant"`` or ``"linear"`` per (non-degenerate) dimension."""
        self.predict()
        z, bkps = self._z, self._compact
        if z.shape[1] == 0:
            return [()]
        if self.model != "mixed":
            return [(self.model,) * z.shape[1]] * len(bkps)
        lam = self.penalty_per_param * math.log(len(z))
        rss_const, rss_lin = TrendSums(z, self._t).rss(np.array([0, *bkps[:-1]]), np.array(bkps))
        linear = rss_lin + 2 * lam < rss_const + lam
        return [tuple("linear" if v else "constant" for v in row) for row in linear]

    # -- internals ---------------------------------------------------------------
    def _segment(self) -> list[int]:
        """Breakpoints in the positions of the observed rows (``len(z)`` last)."""
        z = self._z
        m_obs, d = z.shape
        if d == 0 or m_obs < 2 * self.min_size:
            return [m_obs]
        lam = self.penalty_per_param * math.log(m_obs)
        if self.model == "constant":
            # l2 cost in C; the d levels per segment are charged through the change penalty
            bkps = rpt.KernelCPD(kernel="linear", min_size=self.min_size).fit(z).predict(pen=(d + 1) * lam)
            return [int(b) for b in bkps]
        sums = TrendSums(z, self._t)
        if m_obs <= _MATRIX_MAX_N:
            return _partition_matrix(sums, self.model, lam, self.min_size)
        return _partition_rows(sums, self.model, lam, self.min_size)


@functools.lru_cache(maxsize=32)
def _admissible_pairs(n: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Segments ``[s, e)`` that can occur in a segmentation of ``0..n`` with segments of >= m points."""
    s, e = np.triu_indices(n + 1, m)
    ok = ((s == 0) | (s >= m)) & ((e == n) | (e <= n - m))
    s, e = s[ok], e[ok]
    s.flags.writeable = False
    e.flags.writeable = False
    return s, e


def _backtrack(last: np.ndarray, n: int) -> list[int]:
    bkps = []
    e = n
    while e > 0:
        bkps.append(int(e))
        e = int(last[e])
    return bkps[::-1]


def _partition_matrix(sums: TrendSums, kind: str, lam: float, m: int) -> list[int]:
    """Optimal partitioning with all segment costs in one ``(n+1)²`` matrix (fast for short series).

    ``F[e]`` (best penalised cost of ``z[:e]``) is relaxed for all ``e`` at once until it no longer
    changes, which takes one sweep per segment of the longest optimal prefix segmentation.
    """
    n = sums.n
    s, e = _admissible_pairs(n, m)
    cost = np.full((n + 1, n + 1), np.inf)
    cost[s, e] = segment_costs(sums, s, e, kind, lam)
    f = np.full(n + 1, np.inf)
    f[0] = -lam
    while True:
        total = f[:, None] + cost
        new = total.min(axis=0)
        new += lam
        new[0] = -lam
        if not (new < f).any():
            break
        np.minimum(f, new, out=f)
    last = total.argmin(axis=0)
    return _backtrack(last, n)


def _partition_rows(sums: TrendSums, kind: str, lam: float, m: int) -> list[int]:
    """Same optimum as :func:`_partition_matrix`, one end point at a time, in O(n) memory."""
    n = sums.n
    f = np.full(n + 1, np.inf)
    f[0] = -lam
    last = np.zeros(n + 1, dtype=int)
    for e in range(m, n + 1):
        if e != n and e > n - m:
            continue
        s = np.concatenate([[0], np.arange(m, e - m + 1)])
        v = f[s] + segment_costs(sums, s, np.full(s.shape, e), kind, lam)
        i = int(v.argmin())
        f[e] = v[i] + lam
        last[e] = s[i]
    return _backtrack(last, n)


def find_changes(signal, **settings) -> list[int]:
    """Indices where a new segment starts (breakpoints without the final ``n``).

    ``settings`` are the :class:`ChangePointEngine` keyword arguments.

    >>> find_changes([1.0, 1.1, 0.9, 1.0, 1.05, 5.0, 5.1, 4.9, 5.0, 5.05])
    [5]
    """
    return ChangePointEngine(**settings).fit(signal).predict()[:-1]
