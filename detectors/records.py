"""Inputs and outputs of the detectors.

Detectors see plain records, never the store: a monthly series with its
periods, and a list of discrete events. They return ``Detection`` records that
carry enough evidence for a person to check the finding by eye.
"""

from __future__ import annotations

import bisect
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

    Rows are kept in plain lists (an append per event is the daemon's hot
    path) and turned into arrays only when a detector asks, once per change.
    A correction overwrites its row; a late month is inserted in place.
    """

    __slots__ = ("fields", "_months", "_rows", "_index", "_values")

    def __init__(self, fields: tuple[str, ...], index: np.ndarray | None = None,
                 values: np.ndarray | None = None) -> None:
        self.fields = fields
        self._months: list[int] = [int(i) for i in index] if index is not None else []
        self._rows: list[list[float]] = [list(map(float, r)) for r in values] if values is not None else []
        self._index: np.ndarray | None = None
        self._values: np.ndarray | None = None

    @classmethod
    def from_records(cls, kind: str, records: Mapping[str, Mapping[str, Any]]) -> MonthlyTable:
        table = cls(FIELDS[kind])
        for p in sorted(records):
            table._months.append(period_index(p))
            table._rows.append([float(records[p][f]) for f in table.fields])
        return table

    def __len__(self) -> int:
        return len(self._months)

    @property
    def index(self) -> np.ndarray:
        if self._index is None:
            self._index = np.array(self._months, dtype=np.int32)
        return self._index

    @property
    def values(self) -> np.ndarray:
        if self._values is None:
            self._values = np.array(self._rows, dtype=float).reshape(len(self._rows), len(self.fields))
        return self._values

    def upsert(self, period: str, data: Mapping[str, Any]) -> None:
        i = period_index(period)
        row = [float(data[f]) for f in self.fields]
        self._index = self._values = None
        months = self._months
        if not months or i > months[-1]:
            months.append(i)
            self._rows.append(row)
            return
        pos = bisect.bisect_left(months, i)
        if pos < len(months) and months[pos] == i:
            self._rows[pos] = row
        else:
            months.insert(pos, i)
            self._rows.insert(pos, row)

    def trim(self, keep_months: int) -> None:
        """Forget months older than ``keep_months`` before the latest: memory stays flat."""
        months = self._months
        if months and months[-1] - months[0] >= keep_months:
            cut = bisect.bisect_left(months, months[-1] - keep_months + 1)
            del months[:cut]
            del self._rows[:cut]
            self._index = self._values = None

    def column(self, name: str) -> np.ndarray:
        return self.values[:, self.fields.index(name)]

    def periods(self) -> list[str]:
        return [period_at(i) for i in self._months]

    def last_period(self) -> str | None:
        return period_at(self._months[-1]) if self._months else None


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
