"""Inputs and outputs of the detectors.

Detectors see plain records, never the store: a monthly series with its
periods, and a list of discrete events. They return ``Detection`` records that
carry enough evidence for a person to check the finding by eye.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from detectors.periods import period_at, period_index
from detectors.severity import Severity

__all__ = ["MonthlySeries", "MonthlyTable", "DiscreteEvent", "Detection", "Evidence", "History", "FIELDS"]


@dataclass(frozen=True, slots=True)
class MonthlySeries:
    """One metric of one enterprise, one value per month, ordered by period.

    ``periods`` are "YYYY-MM" strings; a month with no record is simply absent
    (detectors must not assume the months are contiguous).
    """

    metric: str
    periods: Sequence[str]
    values: Sequence[float]

    def __post_init__(self) -> None:
        if len(self.periods) != len(self.values):
            raise ValueError("periods and values must have the same length")


@dataclass(frozen=True, slots=True)
class DiscreteEvent:
    """A court case, penalty, listing or registration change, as the rules see it."""

    type: str
    occurred_at: str  # ISO 8601 with offset
    period: str  # "YYYY-MM" of occurred_at, in China time
    data: dict[str, Any]
    event_id: str = ""


@dataclass(frozen=True, slots=True)
class Evidence:
    """What a risk manager needs to check a detection.

    ``baseline`` names what the change is compared against (e.g. "segment
    before the change, CNY months excluded" or "same months last year").
    ``series`` is the slice the detection was computed from, as
    ``{"periods": [...], "values": [...]}``, so the alert can be redrawn
    without going back to the store.
    """

    level_before: float | None
    level_after: float | None
    relative_change: float | None
    baseline: str
    series: dict[str, list[Any]] = field(default_factory=dict)
    yoy_before: float | None = None
    yoy_after: float | None = None
    excluded_periods: tuple[str, ...] = ()
    events: tuple[dict[str, Any], ...] = ()
    note: str = ""
    # Other signals active on the enterprise that this severity took into account.
    corroborated_by: tuple[str, ...] = ()
    # Severity from the size of the change alone, before corroboration adjusted it.
    base_severity: str | None = None
    # Statistical strength of the finding: the log-likelihood ratio of "changed" against
    # "still the baseline" (quasi-likelihood, so overdispersed counts count for less); None for rules.
    strength: float | None = None
    # Evidence of each family in a combined score (log-likelihood ratio), e.g. {"workforce": 4.1, "litigation": 2.3}.
    contributions: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "level_before": self.level_before,
            "level_after": self.level_after,
            "relative_change": self.relative_change,
            "baseline": self.baseline,
            "yoy_before": self.yoy_before,
            "yoy_after": self.yoy_after,
            "excluded_periods": list(self.excluded_periods),
            "events": [dict(e) for e in self.events],
            "note": self.note,
            "corroborated_by": list(self.corroborated_by),
            "base_severity": self.base_severity,
            "strength": self.strength,
            "contributions": dict(self.contributions),
            "series": {k: list(v) for k, v in self.series.items()},
        }


@dataclass(frozen=True, slots=True)
class Detection:
    """One finding on one enterprise.

    ``start_period`` is the month the change starts; together with
    ``enterprise_id`` and ``signal`` it is the detection's identity, which is
    why detectors must report a stable start for the same change.
    ``direction`` is "up" or "down" (or "event" for rules).
    """

    enterprise_id: str
    signal: str
    start_period: str
    direction: str
    severity: Severity
    evidence: Evidence

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.enterprise_id, self.signal, self.start_period)


# Numeric fields kept per monthly record kind, in this order.
FIELDS: dict[str, tuple[str, ...]] = {
    "headcount": ("insured", "joined", "left"),
    "housing_fund": ("contributors", "amount"),
    "utility.electricity": ("amount",),
    "utility.water": ("amount",),
    "utility.gas": ("amount",),
}


class MonthlyTable:
    """One record kind of one enterprise: month indices and a value matrix.

    Stored in preallocated arrays that grow by doubling: appending a month
    (the daemon's hot path) writes one slot, and a history costs a fixed
    couple of kilobytes however many events built it. A correction
    overwrites its row; a late month is inserted in place.
    """

    __slots__ = ("fields", "_idx", "_vals", "_n")

    def __init__(self, fields: tuple[str, ...], index: np.ndarray | None = None,
                 values: np.ndarray | None = None) -> None:
        self.fields = fields
        n = 0 if index is None else len(index)
        cap = max(16, n)
        self._idx = np.empty(cap, dtype=np.int32)
        self._vals = np.empty((cap, len(fields)))
        if n:
            self._idx[:n] = index
            self._vals[:n] = values
        self._n = n

    @classmethod
    def from_records(cls, kind: str, records: Mapping[str, Mapping[str, Any]]) -> MonthlyTable:
        fields = FIELDS[kind]
        periods = sorted(records)
        index = np.array([period_index(p) for p in periods], dtype=np.int32)
        values = np.array([[float(records[p][f]) for f in fields] for p in periods], dtype=float)
        return cls(fields, index, values.reshape(len(periods), len(fields)))

    def __len__(self) -> int:
        return self._n

    @property
    def index(self) -> np.ndarray:
        return self._idx[:self._n]

    @property
    def values(self) -> np.ndarray:
        return self._vals[:self._n]

    def _grow(self) -> None:
        cap = 2 * len(self._idx)
        idx, vals = np.empty(cap, dtype=np.int32), np.empty((cap, len(self.fields)))
        idx[:self._n], vals[:self._n] = self._idx[:self._n], self._vals[:self._n]
        self._idx, self._vals = idx, vals

    def fingerprint(self) -> int:
        """Equal for equal contents (same months, same values), whichever object holds them."""
        n = self._n
        return hash((n, self._idx[:n].tobytes(), self._vals[:n].tobytes()))

    def upsert(self, period: str, data: Mapping[str, Any]) -> None:
        i = period_index(period)
        row = [float(data[f]) for f in self.fields]
        n = self._n
        if n == 0 or i > self._idx[n - 1]:
            if n == len(self._idx):
                self._grow()
            self._idx[n] = i
            self._vals[n] = row
            self._n = n + 1
            return
        pos = int(np.searchsorted(self._idx[:n], i))
        if self._idx[pos] == i:
            self._vals[pos] = row
            return
        if n == len(self._idx):
            self._grow()
        self._idx[pos + 1:n + 1] = self._idx[pos:n].copy()
        self._vals[pos + 1:n + 1] = self._vals[pos:n].copy()
        self._idx[pos] = i
        self._vals[pos] = row
        self._n = n + 1

    def trim(self, keep_months: int) -> None:
        """Forget months older than ``keep_months`` before the latest: memory stays flat."""
        n = self._n
        if n and self._idx[n - 1] - self._idx[0] >= keep_months:
            cut = int(np.searchsorted(self._idx[:n], self._idx[n - 1] - keep_months + 1))
            self._idx[:n - cut] = self._idx[cut:n].copy()
            self._vals[:n - cut] = self._vals[cut:n].copy()
            self._n = n - cut

    def column(self, name: str) -> np.ndarray:
        return self.values[:, self.fields.index(name)]

    def periods(self) -> list[str]:
        return [period_at(int(i)) for i in self.index]

    def last_period(self) -> str | None:
        return period_at(int(self._idx[self._n - 1])) if self._n else None


@dataclass(slots=True)
class History:
    """Everything the detectors may look at for one enterprise.

    ``monthly`` maps a record kind ("headcount", "utility.electricity",
    "housing_fund", ...) to its table; ``discrete`` holds the court cases,
    listings and register changes in no particular order.
    """

    enterprise_id: str
    monthly: dict[str, MonthlyTable] = field(default_factory=dict)
    discrete: list[DiscreteEvent] = field(default_factory=list)
    #: ``DetectorSet.run``'s findings per detector, with a fingerprint of the tables each one read:
    #: a detector whose tables did not change since is not run again (see ``DetectorSet.run``).
    memo: dict = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_records(cls, enterprise_id: str, monthly: Mapping[str, Mapping[str, Mapping[str, Any]]] | None = None,
                     discrete: Sequence[DiscreteEvent] = ()) -> History:
        """Build from plain ``{kind: {period: data}}`` records (tests, backtests)."""
        tables = {k: MonthlyTable.from_records(k, recs) for k, recs in (monthly or {}).items()}
        return cls(enterprise_id, tables, list(discrete))

    def last_period(self) -> str | None:
        periods = [t.last_period() for t in self.monthly.values() if len(t)]
        periods += [e.period for e in self.discrete]
        return max(periods) if periods else None
