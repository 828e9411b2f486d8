"""A rise in how often something happens: lawsuits against the firm, penalties.

Counts per month are sparse (mostly zeros), so a mean-shift segmentation on
them is the wrong model; a single change in a Poisson rate, found by scanning
the likelihood ratio over every split, is the textbook test for exactly this
(and costs a few microseconds on 36 months).
"""

from __future__ import annotations

import math

import numpy as np

from detectors.base import checked_identity
from detectors.exceptions import BadParameter
from detectors.peers import PeerBaseline
from detectors.periods import add_months, period_index, period_range
from detectors.records import Detection, DiscreteEvent, Evidence, History
from detectors.severity import Severity

__all__ = ["RateChangeDetector", "poisson_rate_split"]


def poisson_rate_split(counts: np.ndarray, min_before: int, min_after: int) -> tuple[int, float]:
    """Best split into two Poisson rates, as (index where the later rate starts, LR statistic).

    Only rises are considered. Returns (-1, 0.0) when no split has a higher later rate.

    >>> poisson_rate_split(np.array([0, 0, 1, 0, 0, 0, 0, 0, 2, 3, 1, 4]), 3, 3)[0]
    8
    """
    n = len(counts)
    total = counts.sum()
    if total == 0 or n < min_before + min_after:
        return -1, 0.0
    csum = np.cumsum(counts)
    best, best_stat = -1, 0.0
    lam = total / n

    def ll(c: float, m: int) -> float:
        return c * math.log(c / (m * lam)) if c > 0 else 0.0

    for s in range(min_before, n - min_after + 1):
        c1, c2 = float(csum[s - 1]), float(total - csum[s - 1])
        if c2 / (n - s) <= c1 / s:
            continue
        stat = 2.0 * (ll(c1, s) + ll(c2, n - s))
        if stat > best_stat:
            best, best_stat = s, stat
    return best, best_stat


class RateChangeDetector:
    """Rise in the monthly rate of one kind of discrete event.

    Parameters
    ----------
    signal
        Reported name, e.g. ``lawsuit_surge``.
    family
        Evidence family for corroboration (``litigation``); empty: its own.
    event_type
        Discrete event type counted (``lawsuit``, ``penalty``).
    role
        For lawsuits, the role counted (``defendant``); None counts all.
    key_field
        Field that identifies one case, so the filing, the judgment and the
        enforcement of one lawsuit count once (at its first appearance).
    window_months
        Months looked at, ending at the latest period of the history.
    min_after
        Smallest number of months the higher rate must span.
    min_count
        Smallest number of events after the change.
    min_lr
        Likelihood-ratio threshold (10.8 is p≈0.001 for one degree of freedom).
    severity_counts
        Events after the change at which the finding is low, medium, high, critical.

    Example
    -------
    >>> ev = [DiscreteEvent("lawsuit", "", p, {"case_no": f"c{i}", "role": "defendant"})
    ...       for i, p in enumerate(["2023-02", "2024-06", "2024-07", "2024-07", "2024-09", "2024-10"])]
    >>> h = History.from_records("X", {"headcount": {"2024-10": {"insured": 9, "joined": 0, "left": 0}}}, ev)
    >>> d = RateChangeDetector(signal="lawsuit_surge", event_type="lawsuit", role="defendant",
    ...                        key_field="case_no").detect(h)
    >>> d[0].start_period, d[0].severity.label
    ('2024-06', 'high')

    References
    ----------
    Worsley (1986), Confidence regions and tests for a change-point in a
    sequence of exponential family random variables, Biometrika 73.
    """

    #: It reads discrete events, and the latest period of every table: it runs on every change.
    inputs = None
    #: The first event of a surge can move by two months as the window slides and be the same surge.
    same_change_months = 2

    def __init__(
        self,
        *,
        signal: str,
        family: str = "",
        event_type: str,
        role: str | None = None,
        key_field: str | None = None,
        window_months: int = 36,
        min_before: int = 6,
        min_after: int = 2,
        min_count: int = 3,
        min_lr: float = 10.8,
        severity_counts: tuple[int, int, int, int] = (3, 4, 5, 8),
    ) -> None:
        if window_months < min_before + min_after:
            raise BadParameter("window_months must cover min_before + min_after")
        sc = tuple(int(c) for c in severity_counts)
        if len(sc) != 4 or list(sc) != sorted(sc) or sc[0] < 1:
            raise BadParameter("severity_counts must be 4 increasing positive counts (low, medium, high, critical)")
        if min_count < 1 or min_lr <= 0:
            raise BadParameter("min_count must be >= 1 and min_lr > 0")
        self.signal, self.family = checked_identity(signal, family)
        self.event_type = event_type
        self.role = role
        self.key_field = key_field
        self.window_months = int(window_months)
        self.min_before = int(min_before)
        self.min_after = int(min_after)
        self.min_count = int(min_count)
        self.min_lr = float(min_lr)
        self.severity_counts = sc

    def _events(self, history: History) -> list[DiscreteEvent]:
        chosen: dict[str, DiscreteEvent] = {}
        for e in sorted(history.discrete, key=lambda e: (e.period, e.occurred_at)):
            if e.type != self.event_type:
                continue
            if self.role is not None and e.data.get("role") != self.role:
                continue
            key = str(e.data.get(self.key_field)) if self.key_field else e.event_id or str(id(e))
            chosen.setdefault(key, e)
        return list(chosen.values())

    def detect(self, history: History, *, shared: dict | None = None,
               peers: PeerBaseline | None = None) -> list[Detection]:
        as_of = history.last_period()
        events = self._events(history)
        if as_of is None or len(events) < self.min_count:
            return []
        first = add_months(as_of, -(self.window_months - 1))
        grid = period_range(first, as_of)
        counts = np.zeros(len(grid))
        base = period_index(first)
        inside = [e for e in events if 0 <= period_index(e.period) - base < len(grid)]
        for e in inside:
            counts[period_index(e.period) - base] += 1
        split, stat = poisson_rate_split(counts, self.min_before, self.min_after)
        if split < 0 or stat < self.min_lr:
            return []
        after = counts[split:]
        if after.sum() < self.min_count:
            return []
        # Start at the first event of the surge, so the identity stays put as the window slides.
        start = split + int(np.flatnonzero(after)[0])
        severity = None
        for sev, c in zip(Severity, self.severity_counts):
            if after.sum() >= c:
                severity = sev
        if severity is None:
            return []
        rate_before = counts[:split].sum() / split
        rate_after = after.sum() / len(after)
        surge = sorted((e for e in inside if period_index(e.period) - base >= split), key=lambda e: e.period)
        evidence = Evidence(
            level_before=round(rate_before, 3),
            level_after=round(rate_after, 3),
            relative_change=round((rate_after - rate_before) / max(rate_before, 1.0 / split), 3),
            baseline="poisson_rate_before",
            series={"metric": [f"{self.event_type}_per_month"], "periods": grid,
                    "values": [int(c) for c in counts]},
            events=tuple({"period": e.period, "type": e.type, **_summary(e.data)} for e in surge[:20]),
            note=f"likelihood ratio {stat:.1f}",
        )
        return [Detection(history.enterprise_id, self.signal, grid[start], "up", severity, evidence)]


def _summary(data: dict) -> dict:
    keys = ("case_no", "decision_no", "role", "cause", "reason", "amount", "court", "authority", "stage")
    return {k: data[k] for k in keys if k in data}
