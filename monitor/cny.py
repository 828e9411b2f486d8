"""Chinese New Year (Spring Festival, 春节) dates and the factory calendar around them.

Seasonality in Chinese firm data does not follow the Gregorian calendar: factories
shut for about three weeks around the lunar new year and many migrant workers do
not come back afterwards, so power use dips and departures spike in January,
February or March depending on the year. Any detector or simulator that wants to
compare like with like needs the actual date, not "February".

The table below is plain data (no imports beyond :mod:`datetime`) so that the
pure ``detectors`` package can carry a verbatim copy without depending on
``monitor``. It was cross-checked against an independent lunisolar calendar
implementation for every year 1990–2060.
"""

from __future__ import annotations

from datetime import date, timedelta

__all__ = [
    "CNY_DATES",
    "SHUTDOWN_WINDOW",
    "RETURN_WINDOW",
    "cny_date",
    "cny_weights",
]

#: Lunar new year's day (正月初一) per Gregorian year, as (month, day).
CNY_DATES: dict[int, tuple[int, int]] = {
    1990: (1, 27),
    1991: (2, 15),
    1992: (2, 4),
    1993: (1, 23),
    1994: (2, 10),
    1995: (1, 31),
    1996: (2, 19),
    1997: (2, 7),
    1998: (1, 28),
    1999: (2, 16),
    2000: (2, 5),
    2001: (1, 24),
    2002: (2, 12),
    2003: (2, 1),
    2004: (1, 22),
    2005: (2, 9),
    2006: (1, 29),
    2007: (2, 18),
    2008: (2, 7),
    2009: (1, 26),
    2010: (2, 14),
    2011: (2, 3),
    2012: (1, 23),
    2013: (2, 10),
    2014: (1, 31),
    2015: (2, 19),
    2016: (2, 8),
    2017: (1, 28),
    2018: (2, 16),
    2019: (2, 5),
    2020: (1, 25),
    2021: (2, 12),
    2022: (2, 1),
    2023: (1, 22),
    2024: (2, 10),
    2025: (1, 29),
    2026: (2, 17),
    2027: (2, 6),
    2028: (1, 26),
    2029: (2, 13),
    2030: (2, 3),
    2031: (1, 23),
    2032: (2, 11),
    2033: (1, 31),
    2034: (2, 19),
    2035: (2, 8),
    2036: (1, 28),
    2037: (2, 15),
    2038: (2, 4),
    2039: (1, 24),
    2040: (2, 12),
    2041: (2, 1),
    2042: (1, 22),
    2043: (2, 10),
    2044: (1, 30),
    2045: (2, 17),
    2046: (2, 6),
    2047: (1, 26),
    2048: (2, 14),
    2049: (2, 2),
    2050: (1, 23),
    2051: (2, 11),
    2052: (2, 1),
    2053: (2, 19),
    2054: (2, 8),
    2055: (1, 28),
    2056: (2, 15),
    2057: (2, 4),
    2058: (1, 24),
    2059: (2, 12),
    2060: (2, 2),
}

#: Factory shutdown, in days relative to new year's day, half-open: workers leave
#: about ten days before and lines restart about two weeks after (元宵节).
SHUTDOWN_WINDOW: tuple[int, int] = (-10, 15)
#: Post-holiday return: the month in which workers who are not coming back are
#: taken off the payroll and replacements are sought.
RETURN_WINDOW: tuple[int, int] = (15, 45)


def cny_date(year: int) -> date:
    """New year's day of the lunar year that starts in Gregorian ``year``.

    >>> cny_date(2024)
    datetime.date(2024, 2, 10)
    """
    try:
        month, day = CNY_DATES[year]
    except KeyError:
        raise ValueError(f"no Chinese New Year date for {year} (table covers 1990-2060)") from None
    return date(year, month, day)


def _parse_period(period: str) -> tuple[int, int]:
    try:
        year_s, month_s = period.split("-")
        year, month = int(year_s), int(month_s)
    except ValueError:
        raise ValueError(f"period must be YYYY-MM, got {period!r}") from None
    if len(year_s) != 4 or len(month_s) != 2 or not 1 <= month <= 12:
        raise ValueError(f"period must be YYYY-MM, got {period!r}")
    return year, month


def _share(window: tuple[date, date], month_start: date, month_end: date) -> float:
    start, end = window
    overlap = (min(end, month_end) - max(start, month_start)).days
    return max(overlap, 0) / (end - start).days


def cny_weights(period: str) -> tuple[float, float]:
    """(shutdown_share, return_share): how much of each holiday window falls in ``period``.

    Shares rather than flags because the windows straddle month boundaries and
    move by up to four weeks from year to year; a month holding a tenth of the
    shutdown should be treated differently from one holding all of it. Over a
    year each share sums to 1.

    >>> cny_weights("2024-02")  # CNY 2024-02-10: shutdown Jan 31..Feb 24, return Feb 25..Mar 25
    (0.96, 0.16666666666666666)
    >>> cny_weights("2024-07")
    (0.0, 0.0)
    """
    year, month = _parse_period(period)
    month_start = date(year, month, 1)
    month_end = date(year + (month == 12), month % 12 + 1, 1)
    shutdown = returning = 0.0
    # The windows of one lunar year never reach beyond mid April, but look at the
    # neighbours anyway so the function does not rely on that.
    for y in (year - 1, year, year + 1):
        if y not in CNY_DATES:
            if y == year:
                cny_date(y)  # raises with the coverage message
            continue
        new_year = cny_date(y)
        shut = (new_year + timedelta(SHUTDOWN_WINDOW[0]), new_year + timedelta(SHUTDOWN_WINDOW[1]))
        back = (new_year + timedelta(RETURN_WINDOW[0]), new_year + timedelta(RETURN_WINDOW[1]))
        shutdown += _share(shut, month_start, month_end)
        returning += _share(back, month_start, month_end)
    return shutdown, returning
