"""An enterprise's combined risk level from its active detections.

The worst single finding sets the floor; independent bad news adds up: two
findings at high or above make the enterprise critical, and three or more
distinct signals at medium or above raise the worst by one level.
"""

from __future__ import annotations

from collections.abc import Iterable

from detectors.severity import Severity

__all__ = ["combined_risk"]


def combined_risk(findings: Iterable[tuple[str, Severity]]) -> Severity | None:
    """Risk level from (signal, severity) pairs; None when there is nothing.

    >>> combined_risk([("headcount_drop", Severity.MEDIUM), ("electricity_drop", Severity.MEDIUM),
    ...                ("lawsuit_surge", Severity.MEDIUM)]).label
    'high'
    """
    best: dict[str, Severity] = {}
    for signal, sev in findings:
        best[signal] = max(best.get(signal, sev), sev)
    if not best:
        return None
    worst = max(best.values())
    if sum(1 for s in best.values() if s >= Severity.HIGH) >= 2:
        return Severity.CRITICAL
    if sum(1 for s in best.values() if s >= Severity.MEDIUM) >= 3:
        return worst.raised()
    return worst
