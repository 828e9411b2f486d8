"""Inputs and outputs of the detectors.

Detectors see plain records, never the store: a monthly series with its
periods, and a list of discrete events. They return ``Detection`` records that
carry enough evidence for a person to check the finding by eye.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from detectors.severity import Severity

__all__ = ["MonthlySeries", "DiscreteEvent", "Detection", "Evidence"]


@dataclass(frozen=True, slots=True)
class MonthlySeries:
    """One metric of one enterprise, one value per month, ordered by period.

    ``periods`` are "YYYY-MM" strings; a month with no record is simply absent
    (detectors must not assume the months are contiguous).
    """

    metric: str
    periods: tuple[str, ...]
    values: tuple[float, ...]

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
