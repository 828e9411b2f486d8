"""Chinese New Year seasonality.

Factories shut for weeks around the Spring Festival and many workers do not
come back, so power use dips and departures spike in a healthy firm every
year, in months that move with the lunar calendar. The detectors exclude the
months the holiday touches from the level estimates and say so in the
evidence; the year-over-year comparison then shows the same season.
"""

from __future__ import annotations

import functools
from datetime import date, timedelta

__all__ = ["CNY_DATES", "cny_date", "cny_weights", "is_cny_month", "SHUTDOWN", "RETURN"]

# Spring Festival (first day of the first lunar month), Gregorian dates.
CNY_DATES: dict[int, tuple[int, int]] = {
    1990: (1, 27), 1991: (2, 15), 1992: (2, 4), 1993: (1, 23), 1994: (2, 10), 1995: (1, 31),
    1996: (2, 19), 1997: (2, 7), 1998: (1, 28), 1999: (2, 16), 2000: (2, 5), 2001: (1, 24),
    2002: (2, 12), 2003: (2, 1), 2004: (1, 22), 2005: (2, 9), 2006: (1, 29), 2007: (2, 18),
    2008: (2, 7), 2009: (1, 26), 2010: (2, 14), 2011: (2, 3), 2012: (1, 23), 2013: (2, 10),
    2014: (1, 31), 2015: (2, 19), 2016: (2, 8), 2017: (1, 28), 2018: (2, 16), 2019: (2, 5),
    2020: (1, 25), 2021: (2, 12), 2022: (2, 1), 2023: (1, 22), 2024: (2, 10), 2025: (1, 29),
    2026: (2, 17), 2027: (2, 6), 2028: (1, 26), 2029: (2, 13), 2030: (2, 3), 2031: (1, 23),
    2032: (2, 11), 2033: (1, 31), 2034: (2, 19), 2035: (2, 8), 2036: (1, 28), 2037: (2, 15),
    2038: (2, 4), 2039: (1, 24), 2040: (2, 12),
}

# Windows relative to the festival, in days: [start, end).
SHUTDOWN = (-10, 15)  # plants idle: usage dips
RETURN = (15, 45)  # workers who do not come back are reported as leavers


def cny_date(year: int) -> date:
    """Spring Festival of ``year``; outside the table, the mean date (Feb 5) is a fair guess."""
    month, day = CNY_DATES.get(year, (2, 5))
    return date(year, month, day)


def _overlap(a0: date, a1: date, b0: date, b1: date) -> int:
    return max(0, (min(a1, b1) - max(a0, b0)).days)


@functools.lru_cache(maxsize=4096)
def cny_weights(period: str) -> tuple[float, float]:
    """Share of the month covered by the shutdown window and by the return window."""
    year, month = int(period[:4]), int(period[5:7])
    start = date(year, month, 1)
    end = date(year + (month == 12), month % 12 + 1, 1)
    days = (end - start).days
    festival = cny_date(year)
    shut = _overlap(start, end, festival + timedelta(SHUTDOWN[0]), festival + timedelta(SHUTDOWN[1]))
    back = _overlap(start, end, festival + timedelta(RETURN[0]), festival + timedelta(RETURN[1]))
    return shut / days, back / days


@functools.lru_cache(maxsize=4096)
def is_cny_month(period: str, threshold: float = 0.1) -> bool:
    """True when the holiday or the return of workers covers a noticeable part of the month.

    >>> [p for p in ("2024-01", "2024-02", "2024-03", "2024-04") if is_cny_month(p)]
    ['2024-02', '2024-03']
    """
    shut, back = cny_weights(period)
    return shut >= threshold or back >= threshold
