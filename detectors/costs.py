"""Segment costs for the change-point engine: a constant level, a linear trend, or the cheaper of the two.

All costs are residual sums of squares of a least-squares fit on the segment, computed in O(1)
per segment from prefix sums of ``1, t, t², y, t·y, y²`` (per dimension), plus a BIC charge of
``param_penalty`` for every fitted parameter:

* ``"constant"``: one level per dimension, ``RSS_const + d·λ``;
* ``"linear"``: intercept and slope per dimension, ``RSS_lin + 2d·λ``;
* ``"mixed"``: per dimension the cheaper of the two, ``Σ_j min(RSS_const_j + λ, RSS_lin_j + 2λ)``,
  i.e. the Schwarz criterion picks, segment by segment, whether a trend is worth its parameter.

:class:`CostTrend` exposes this through ruptures' ``BaseCost`` interface (``fit`` / ``error``), so
it can be handed to any ruptures search method (``rpt.Dynp(custom_cost=...)``); the engine in
:mod:`detectors.changepoint` uses the vectorised :func:`segment_costs` instead, which evaluates
the same formula for many segments at once.
"""

from __future__ import annotations

import numpy as np
from ruptures.base import BaseCost
from ruptures.exceptions import NotEnoughPoints

from detectors.exceptions import BadParameter

__all__ = ["KINDS", "CostTrend", "TrendSums", "segment_costs"]

KINDS = ("mixed", "constant", "linear")


class TrendSums:
    """Prefix sums of a signal ``(n, d)`` observed at increasing times ``t`` (default ``0..n-1``).

    ``rss(start, end)`` returns, for segments ``[start, end)`` (ints or equal-shape int arrays),
    the residual sums of squares of the constant and of the linear-trend fit, each of shape
    ``start.shape + (d,)``.
    """

    def __init__(self, signal: np.ndarray, t: np.ndarray | None = None) -> None:
        y = np.asarray(signal, dtype=float)
        if y.ndim == 1:
            y = y[:, None]
        n, d = y.shape
        t = np.arange(n, dtype=float) if t is None else np.asarray(t, dtype=float)
        if t.shape != (n,):
            raise BadParameter(f"t must have shape ({n},), got {t.shape}")
        if n:
            # centring t and y keeps the prefix sums small, which limits cancellation in the variances
            t = t - t.sum() / n
            y = y - y.sum(axis=0) / n
        self.n, self.d = n, d
        # one table, columns: t, t², y_1..y_d, t·y_1..t·y_d, y_1²..y_d²; row i holds the sums over [0, i)
        table = np.zeros((n + 1, 2 + 3 * d))
        cols = table[1:]
        cols[:, 0] = t
        cols[:, 1] = t * t
        cols[:, 2:2 + d] = y
        cols[:, 2 + d:2 + 2 * d] = t[:, None] * y
        cols[:, 2 + 2 * d:] = y * y
        np.cumsum(cols, axis=0, out=cols)
        self._table = table

    def rss(self, start, end) -> tuple[np.ndarray, np.ndarray]:
        s = np.asarray(start)
        e = np.asarray(end)
        d = self.d
        sums = self._table.take(e, axis=0) - self._table.take(s, axis=0)
        k = (e - s).astype(float)[..., None]
        st = sums[..., 0:1]
        stt = sums[..., 1:2]
        sy = sums[..., 2:2 + d]
        sty = sums[..., 2 + d:2 + 2 * d]
        syy = sums[..., 2 + 2 * d:]
        with np.errstate(divide="ignore", invalid="ignore"):
            ybar = sy / k
            rss_const = syy - sy * ybar
            vtt = stt - st * st / k
            vty = sty - st * ybar
            # vtt is 0 for one point (or equal times): the slope is not identified, the line is the level
            good = vtt > 1e-10 * np.maximum(stt, 1.0)
            gain = np.where(good, vty * vty / np.where(good, vtt, 1.0), 0.0)
        rss_const = np.maximum(rss_const, 0.0)
        return rss_const, np.maximum(rss_const - np.maximum(gain, 0.0), 0.0)


def segment_costs(sums: TrendSums, start, end, kind: str, param_penalty: float) -> np.ndarray:
    """Penalised cost of segments ``[start, end)`` (see the module docstring), summed over dimensions."""
    rss_const, rss_lin = sums.rss(start, end)
    lam = float(param_penalty)
    if kind == "constant":
        per_dim = rss_const + lam
    elif kind == "linear":
        per_dim = rss_lin + 2.0 * lam
    elif kind == "mixed":
        per_dim = np.minimum(rss_const + lam, rss_lin + 2.0 * lam)
    else:
        raise BadParameter(f"kind must be one of {', '.join(KINDS)}; got {kind!r}")
    return per_dim.sum(axis=-1)


class CostTrend(BaseCost):
    """ruptures cost: least squares on a constant, a linear trend, or the cheaper of the two per segment.

    Parameters
    ----------
    kind : {"mixed", "constant", "linear"}
        Segment model (see the module docstring).
    param_penalty : float
        BIC charge per fitted parameter, in the units of the squared signal (``λ``); 0 gives the
        plain residual sum of squares.
    min_size : int
        Smallest segment ruptures may ask for (``error`` raises ``NotEnoughPoints`` below it).

    Examples
    --------
    >>> import numpy as np
    >>> cost = CostTrend(kind="linear").fit(np.arange(10.0) * 3 + 1)
    >>> round(cost.error(0, 10), 9)
    0.0
    >>> round(CostTrend(kind="constant").fit(np.array([0.0, 2.0, 4.0])).error(0, 3), 9)
    8.0
    """

    model = "trend"

    def __init__(self, kind: str = "mixed", param_penalty: float = 0.0, min_size: int = 3) -> None:
        if kind not in KINDS:
            raise BadParameter(f"kind must be one of {', '.join(KINDS)}; got {kind!r}")
        if isinstance(param_penalty, bool) or not np.isfinite(param_penalty) or param_penalty < 0:
            raise BadParameter(f"param_penalty must be a finite number >= 0; got {param_penalty!r}")
        if isinstance(min_size, bool) or not isinstance(min_size, int | np.integer) or min_size < 1:
            raise BadParameter(f"min_size must be an integer >= 1; got {min_size!r}")
        self.kind = kind
        self.param_penalty = float(param_penalty)
        self.min_size = int(min_size)
        self.signal: np.ndarray | None = None
        self.sums: TrendSums | None = None

    def fit(self, signal, t=None) -> CostTrend:
        """Precompute the prefix sums of ``signal`` (shape ``(n,)`` or ``(n, d)``), observed at ``t``."""
        signal = np.asarray(signal, dtype=float)
        self.signal = signal[:, None] if signal.ndim == 1 else signal
        self.sums = TrendSums(self.signal, t)
        return self

    def error(self, start: int, end: int) -> float:
        """Penalised cost of the segment ``[start:end]``."""
        if end - start < self.min_size:
            raise NotEnoughPoints
        return float(segment_costs(self.sums, start, end, self.kind, self.param_penalty))
