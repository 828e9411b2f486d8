"""Time as every layer counts it: China time, UTC, and "YYYY-MM" periods.

Monthly records are keyed by period, the platform's calendar is China's
(UTC+8, no daylight saving), and the store keeps UTC. These few helpers are
the one place each of those facts is written down; every package may import
this module (it has no dependencies and no clock).
"""

from __future__ import annotations

import functools
from datetime import UTC, date, datetime, timedelta, timezone

__all__ = [
    "CHINA_TZ",
    "as_utc",
    "china_date",
    "month_index",
    "period_index",
    "period_at",
    "year_month",
    "add_months",
    "months_between",
    "period_range",
]

#: China Standard Time: the platforms' calendar (periods, month ends, digest hours, "today"). A fixed
#: offset (China has had no daylight saving since 1991) keeps this free of tz databases.
CHINA_TZ = timezone(timedelta(hours=8), "UTC+08:00")


def as_utc(ts: datetime) -> datetime:
    """``ts`` in UTC; a naive value (SQLite hands timestamps back naive) is taken as UTC.

    >>> as_utc(datetime(2024, 3, 1, 8, 0, tzinfo=CHINA_TZ)).isoformat()
    '2024-03-01T00:00:00+00:00'
    >>> as_utc(datetime(2024, 3, 1)).isoformat()
    '2024-03-01T00:00:00+00:00'
    """
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def china_date(ts: datetime) -> date:
    """The calendar day in China at ``ts`` (naive: UTC).

    >>> china_date(datetime(2025, 6, 19, 16, 0, tzinfo=UTC))
    datetime.date(2025, 6, 20)
    """
    return as_utc(ts).astimezone(CHINA_TZ).date()


def month_index(year: int, month: int) -> int:
    """Months since year 0, so months can be subtracted.

    >>> month_index(2024, 3) - month_index(2023, 12)
    3
    """
    return year * 12 + month - 1


@functools.lru_cache(maxsize=8192)
def period_index(period: str) -> int:
    """``month_index`` of a "YYYY-MM" period.

    >>> period_index("2024-03") - period_index("2023-12")
    3
    """
    return month_index(*year_month(period))


@functools.lru_cache(maxsize=8192)
def period_at(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def year_month(period: str) -> tuple[int, int]:
    """
    >>> year_month("2024-03")
    (2024, 3)
    """
    return int(period[:4]), int(period[5:7])


def add_months(period: str, months: int) -> str:
    """
    >>> add_months("2024-11", 3)
    '2025-02'
    """
    return period_at(period_index(period) + months)


def months_between(a: str, b: str) -> int:
    return period_index(b) - period_index(a)


def period_range(first: str, last: str) -> list[str]:
    i0, i1 = period_index(first), period_index(last)
    return [period_at(i) for i in range(i0, i1 + 1)]
