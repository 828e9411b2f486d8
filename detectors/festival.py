"""The Chinese New Year (Spring Festival, 春节) calendar: which months the festival touches, and how much.

Seasonality in Chinese firm data follows the lunar calendar, not "February":
factories shut for weeks around the lunar new year and many migrant workers do
not come back, so power use dips and departures spike in January, February or
March depending on the year. This module is the one definition of that
calendar; the detectors, the simulator that produces their ground truth and
the test generators all read it.

Meaning
-------
Two windows per year, in days relative to new year's day (正月初一), half-open:

* the **shutdown**, ``SHUTDOWN = (-10, 15)``: workers leave about ten days
  before new year and lines restart after the Lantern Festival (元宵节, day
  15). Plants are idle: usage dips, hiring stops.
* the **return**, ``RETURN = (15, 45)``: the month after the holiday, in which
  workers who are not coming back are taken off the payroll and replacements
  are hired. Departures spike.

``cny_weights(period)`` gives, for each window, the **share of the month's
days that lie inside it** (0 to 1). Monthly records aggregate the month's days
(a meter reading sums them, leavers are counted over them), and the festival
acts day by day, so a month is affected in proportion to its days inside a
window: ``usage = normal · (1 − depth · shutdown)``, ``departures = normal ·
(1 + extra · returning)``. Over a year, weight × days in month adds up to the
window's length (25 and 30 days). A month counts as a festival month
(``is_cny_month``) when either window covers at least a tenth of its days
(three in a month of 28 to 30 days, four in one of 31); the detectors leave those months out of their baselines and name them
in the evidence.

New year's day falls between 21 January and 20 February, so both windows of a
year lie between 11 January and 7 April of that same year: a month is touched
by its own year's festival only.

Years outside the table (1990–2060, the contract's first year to well beyond
any data that can arrive) raise :class:`~detectors.exceptions.YearOutsideCalendar`:
the date moves by up to four weeks, and a guess would silently misplace the
season.

The dates are the published ones (Hong Kong Observatory, Gregorian–Lunar
Calendar Conversion Table; Purple Mountain Observatory, 《中国天文年历》);
``tests/detectors/test_festival.py`` checks them against the published table.
"""

from __future__ import annotations

import functools
from datetime import date, timedelta
from typing import NamedTuple

from detectors.exceptions import BadPeriod, YearOutsideCalendar

__all__ = ["CNY_DATES", "SHUTDOWN", "RETURN", "FESTIVAL_SHARE", "FestivalWeights", "cny_date", "cny_weights",
           "is_cny_month"]

#: New year's day (正月初一) of the lunar year that starts in each Gregorian year, as (month, day).
CNY_DATES: dict[int, tuple[int, int]] = {
    1990: (1, 27), 1991: (2, 15), 1992: (2, 4), 1993: (1, 23), 1994: (2, 10), 1995: (1, 31),
    1996: (2, 19), 1997: (2, 7), 1998: (1, 28), 1999: (2, 16), 2000: (2, 5), 2001: (1, 24),
    2002: (2, 12), 2003: (2, 1), 2004: (1, 22), 2005: (2, 9), 2006: (1, 29), 2007: (2, 18),
    2008: (2, 7), 2009: (1, 26), 2010: (2, 14), 2011: (2, 3), 2012: (1, 23), 2013: (2, 10),
    2014: (1, 31), 2015: (2, 19), 2016: (2, 8), 2017: (1, 28), 2018: (2, 16), 2019: (2, 5),
    2020: (1, 25), 2021: (2, 12), 2022: (2, 1), 2023: (1, 22), 2024: (2, 10), 2025: (1, 29),
    2026: (2, 17), 2027: (2, 6), 2028: (1, 26), 2029: (2, 13), 2030: (2, 3), 2031: (1, 23),
    2032: (2, 11), 2033: (1, 31), 2034: (2, 19), 2035: (2, 8), 2036: (1, 28), 2037: (2, 15),
    2038: (2, 4), 2039: (1, 24), 2040: (2, 12), 2041: (2, 1), 2042: (1, 22), 2043: (2, 10),
    2044: (1, 30), 2045: (2, 17), 2046: (2, 6), 2047: (1, 26), 2048: (2, 14), 2049: (2, 2),
    2050: (1, 23), 2051: (2, 11), 2052: (2, 1), 2053: (2, 19), 2054: (2, 8), 2055: (1, 28),
    2056: (2, 15), 2057: (2, 4), 2058: (1, 24), 2059: (2, 12), 2060: (2, 2),
}

#: Factory shutdown, days relative to new year's day, half-open.
SHUTDOWN: tuple[int, int] = (-10, 15)
#: Workers' return: leavers who do not come back, replacements hired.
RETURN: tuple[int, int] = (15, 45)
#: Share of a month either window must cover for the month to count as a festival month.
FESTIVAL_SHARE = 0.1


class FestivalWeights(NamedTuple):
    """Share of a month's days inside the shutdown window and inside the return window."""

    shutdown: float
    returning: float


def cny_date(year: int) -> date:
    """New year's day of the lunar year that starts in Gregorian ``year``.

    >>> cny_date(2024)
    datetime.date(2024, 2, 10)
    >>> cny_date(2061)
    Traceback (most recent call last):
    ...
    detectors.exceptions.YearOutsideCalendar: no Chinese New Year date for 2061: the calendar covers 1990-2060
    """
    try:
        month, day = CNY_DATES[year]
    except KeyError:
        raise YearOutsideCalendar(
            f"no Chinese New Year date for {year}: the calendar covers {min(CNY_DATES)}-{max(CNY_DATES)}") from None
    return date(year, month, day)


def _parse(period: str) -> tuple[int, int]:
    year_s, sep, month_s = period.partition("-")
    if sep != "-" or len(year_s) != 4 or len(month_s) != 2 or not (year_s + month_s).isdigit() \
            or not 1 <= int(month_s) <= 12:
        raise BadPeriod(f"period must be YYYY-MM, got {period!r}")
    return int(year_s), int(month_s)


def _share(month_start: date, month_end: date, new_year: date, window: tuple[int, int]) -> float:
    start, end = new_year + timedelta(window[0]), new_year + timedelta(window[1])
    overlap = (min(end, month_end) - max(start, month_start)).days
    return max(overlap, 0) / (month_end - month_start).days


@functools.lru_cache(maxsize=4096)
def cny_weights(period: str) -> FestivalWeights:
    """How much of the month ``period`` ("YYYY-MM") the shutdown and the return window cover.

    >>> cny_weights("2024-02")  # new year 10 Feb: shutdown 31 Jan-24 Feb, return 25 Feb-25 Mar
    FestivalWeights(shutdown=0.8275862068965517, returning=0.1724137931034483)
    >>> cny_weights("2024-07")
    FestivalWeights(shutdown=0.0, returning=0.0)
    """
    year, month = _parse(period)
    new_year = cny_date(year)  # only this year's festival reaches into this year's months (see above)
    start = date(year, month, 1)
    end = date(year + (month == 12), month % 12 + 1, 1)
    return FestivalWeights(_share(start, end, new_year, SHUTDOWN), _share(start, end, new_year, RETURN))


@functools.lru_cache(maxsize=4096)
def is_cny_month(period: str) -> bool:
    """True when the shutdown or the return covers at least ``FESTIVAL_SHARE`` of the month.

    >>> [p for p in ("2024-01", "2024-02", "2024-03", "2024-04") if is_cny_month(p)]
    ['2024-02', '2024-03']
    """
    shut, back = cny_weights(period)
    return shut >= FESTIVAL_SHARE or back >= FESTIVAL_SHARE
