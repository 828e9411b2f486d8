"""The one shape of every online (one point at a time) test, after River's ``DriftDetector``.

River (``river/base/drift_detector.py``): ``update(x)`` takes one observation and
returns the detector; what it concluded is read from read-only properties
(``drift_detected``); ``_reset()`` puts it back in the state of a new one. The
observation is whatever one month of the test's input is: a value, a
(count, exposure) pair, or one point per stream. So every test can be driven
by the same loop, and a subclass never changes ``update``'s signature.

A CUSUM test here also reports where its current run started and where it
first alarmed, which is what keeps an alert's identity stable; those are
read-only too.
"""

from __future__ import annotations

import abc
from typing import Any, Self

__all__ = ["OnlineDetector"]


class OnlineDetector(abc.ABC):
    """Base of the online tests: ``update(x)``, read-only results, ``_reset()``.

    Attributes
    ----------
    drift_detected
        True while the current run has reached the threshold (the alarm is on).
    statistic
        The current test statistic (0 when in control).
    peak
        Largest value reached in the current run.
    run_start
        Number of updates before the first point of the current run (None
        when in control): where the evidence starts, stable while the run
        lasts.
    alarm_at
        Number of updates before the point at which the current run first
        reached the threshold (None before that).
    n_seen
        Updates so far.
    """

    threshold: float

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        """Back to the state of a new detector: nothing seen, no run, no alarm."""
        self._statistic = 0.0
        self._peak = 0.0
        self._run_start: int | None = None
        self._alarm_at: int | None = None
        self._n_seen = 0

    @abc.abstractmethod
    def update(self, x: Any) -> Self:
        """Add one observation (one month) and return the detector."""

    @property
    def drift_detected(self) -> bool:
        return bool(self._peak >= self.threshold)

    @property
    def statistic(self) -> float:
        return self._statistic

    @property
    def peak(self) -> float:
        return self._peak

    @property
    def run_start(self) -> int | None:
        return self._run_start

    @property
    def alarm_at(self) -> int | None:
        return self._alarm_at

    @property
    def n_seen(self) -> int:
        return self._n_seen

    def _advance(self, value: float) -> None:
        """Record the statistic after update number ``n_seen - 1``; a value at or below 0 ends the run."""
        if value <= 0.0:
            self._statistic, self._peak, self._run_start, self._alarm_at = 0.0, 0.0, None, None
            return
        if self._statistic == 0.0:
            self._run_start = self._n_seen - 1
        self._statistic = value
        if value > self._peak:
            self._peak = value
            if self._alarm_at is None and value >= self.threshold:
                self._alarm_at = self._n_seen - 1

