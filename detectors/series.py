"""Monthly series derived from an enterprise's records.

The departure rate divides the month's leavers by the headcount at the start
of the month (end-of-month insured minus joiners plus leavers), which is what
a person who left was counted against; dividing by the end-of-month figure
would inflate the rate exactly when a firm is shrinking.
"""

from __future__ import annotations

import numpy as np

from detectors.periods import period_at
from detectors.records import History, MonthlySeries, MonthlyTable

__all__ = ["METRICS", "series_for", "table_series"]

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


def table_series(metric: str, table: MonthlyTable, last_months: int | None = None) -> MonthlySeries:
    index, values = table.index, _values(metric, table)
    if last_months is not None and len(index):
        keep = index > index[-1] - last_months
        index, values = index[keep], values[keep]
    return MonthlySeries(metric, tuple(period_at(int(i)) for i in index), values)


def series_for(history: History, metric: str, last_months: int | None = None) -> MonthlySeries:
    """The metric's series, or an empty one when the enterprise never reported that kind."""
    table = history.monthly.get(METRICS[metric])
    if table is None:
        return MonthlySeries(metric, (), ())
    return table_series(metric, table, last_months)
