"""Monthly series derived from an enterprise's records.

The departure rate divides the month's leavers by the headcount at the start
of the month (end-of-month insured minus joiners plus leavers), which is what
a person who left was counted against; dividing by the end-of-month figure
would inflate the rate exactly when a firm is shrinking.
"""

from __future__ import annotations

import numpy as np

from detectors.records import MonthlyTable

__all__ = ["METRICS"]

# metric -> record kind it is read from
METRICS: dict[str, str] = {
    "insured": "headcount",
    "departure_rate": "headcount",
    "left": "headcount",
    "start_headcount": "headcount",
    "electricity": "utility.electricity",
    "water": "utility.water",
    "gas": "utility.gas",
    "hf_contributors": "housing_fund",
}


def _values(metric: str, t: MonthlyTable) -> np.ndarray:
    if metric in ("insured", "left"):
        return t.column(metric)
    if metric in ("departure_rate", "start_headcount"):
        start = np.maximum(1.0, t.column("insured") - t.column("joined") + t.column("left"))
        return t.column("left") / start if metric == "departure_rate" else start
    if metric in ("electricity", "water", "gas"):
        return t.column("amount")
    if metric == "hf_contributors":
        return t.column("contributors")
    raise KeyError(metric)
