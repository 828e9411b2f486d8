"""Wire-format events for pipeline tests."""

from __future__ import annotations

import calendar
import json

import numpy as np

from detectors.festival import cny_weights
from detectors.periods import period_range
from streams.uscc import complete_uscc

HEALTHY = complete_uscc("91440300MA5F00001")
SLIDING = complete_uscc("91440300MA5F00002")
UNWATCHED = complete_uscc("91440300MA5F00003")


def month_end(period: str) -> str:
    y, m = int(period[:4]), int(period[5:])
    return f"{period}-{calendar.monthrange(y, m)[1]:02d}T23:59:59+08:00"


def headcount_lines(
    eid: str,
    first: str,
    last: str,
    *,
    seed: int,
    decline_from: str | None = None,
    size: int = 300,
    prefix: str = "e",
) -> list[str]:
    rng = np.random.default_rng(seed)
    insured, out = size, []
    for p in period_range(first, last):
        bad = decline_from is not None and p >= decline_from
        _, back = cny_weights(p)
        rate = 0.08 if bad else 0.02 * (1 + 2.5 * min(1.0, back * 1.5))
        left = int(rng.poisson(insured * rate))
        joined = int(rng.poisson(insured * 0.01)) if bad else int(rng.poisson(max(0, size - insured + left)))
        insured = max(1, insured - left + joined)
        out.append(
            json.dumps(
                {
                    "event_id": f"{prefix}-{eid}-hc-{p}",
                    "enterprise_id": eid,
                    "type": "headcount",
                    "occurred_at": month_end(p),
                    "source": "test",
                    "data": {"period": p, "insured": insured, "joined": joined, "left": left},
                }
            )
        )
    return out


def listing_line(eid: str, period: str, status: str = "listed", event_id: str | None = None) -> str:
    return json.dumps(
        {
            "event_id": event_id or f"dd-{eid}-{period}-{status}",
            "enterprise_id": eid,
            "type": "dishonest_debtor",
            "occurred_at": f"{period}-10T09:00:00+08:00",
            "source": "test",
            "data": {"status": status, "case_no": "(2024)粤03执1号", "court": "深圳市中级人民法院"},
        }
    )


def watchlist_csv(rows: list[tuple[str, str, float]]) -> str:
    lines = ["enterprise_id,loan_id,exposure,due_date,relationship_manager,name"]
    for eid, loan, exposure in rows:
        lines.append(f"{eid},{loan},{exposure},2027-06-30,王经理,测试企业{eid[-3:]}")
    return "\n".join(lines) + "\n"
