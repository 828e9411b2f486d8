"""MonthlyTable: the compact per-enterprise series store the pipeline appends to."""

from __future__ import annotations

import numpy as np

from detectors.periods import period_range
from detectors.records import MonthlyTable


def test_append_correct_insert_and_trim_keep_order():
    t = MonthlyTable(("insured", "joined", "left"))
    months = period_range("2021-01", "2024-12")
    for i, p in enumerate(months):
        if p != "2022-06":
            t.upsert(p, {"insured": i, "joined": 0, "left": 1})
    assert len(t) == len(months) - 1
    t.upsert("2022-06", {"insured": -1, "joined": 0, "left": 0})  # late month lands in place
    t.upsert("2021-01", {"insured": 99, "joined": 1, "left": 2})  # correction replaces
    assert t.periods() == months
    assert t.column("insured")[0] == 99 and t.column("insured")[months.index("2022-06")] == -1
    assert np.all(np.diff(t.index) == 1)
    t.trim(24)
    assert t.periods() == months[-24:] and t.last_period() == "2024-12"
    t.upsert("2025-01", {"insured": 5, "joined": 0, "left": 0})
    assert t.periods()[-1] == "2025-01" and len(t) == 25
