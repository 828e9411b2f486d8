"""The festival calendar against the published Chinese New Year dates, and what its weights mean.

PUBLISHED is new year's day (正月初一) for 1990-2060 as published in the Hong Kong Observatory's
Gregorian-Lunar Calendar Conversion Table (1901-2100), which follows the Purple Mountain
Observatory's 《中国天文年历》. Before it was written here it was cross-checked, year by year, against
the two calendars this project used to carry (``monitor/cny.py`` to 2060 and
``detectors/seasonal.py`` to 2040, which agreed on every year they shared), against the
``lunardate`` package's table and against a computation from first principles with ``ephem``
(new moons and principal solar terms in China time; month 11 holds the winter solstice; a
leap month 11 or 12, as in 2033, pushes new year to the third new moon after the solstice):
all five agree on all 71 years.
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta

import pytest

from detectors.exceptions import BadPeriod, YearOutsideCalendar
from detectors.festival import (
    CNY_DATES,
    FESTIVAL_SHARE,
    RETURN,
    SHUTDOWN,
    cny_date,
    cny_weights,
    is_cny_month,
)

PUBLISHED = """
1990-01-27 1991-02-15 1992-02-04 1993-01-23 1994-02-10 1995-01-31 1996-02-19 1997-02-07 1998-01-28 1999-02-16
2000-02-05 2001-01-24 2002-02-12 2003-02-01 2004-01-22 2005-02-09 2006-01-29 2007-02-18 2008-02-07 2009-01-26
2010-02-14 2011-02-03 2012-01-23 2013-02-10 2014-01-31 2015-02-19 2016-02-08 2017-01-28 2018-02-16 2019-02-05
2020-01-25 2021-02-12 2022-02-01 2023-01-22 2024-02-10 2025-01-29 2026-02-17 2027-02-06 2028-01-26 2029-02-13
2030-02-03 2031-01-23 2032-02-11 2033-01-31 2034-02-19 2035-02-08 2036-01-28 2037-02-15 2038-02-04 2039-01-24
2040-02-12 2041-02-01 2042-01-22 2043-02-10 2044-01-30 2045-02-17 2046-02-06 2047-01-26 2048-02-14 2049-02-02
2050-01-23 2051-02-11 2052-02-01 2053-02-19 2054-02-08 2055-01-28 2056-02-15 2057-02-04 2058-01-24 2059-02-12
2060-02-02
"""
YEARS = range(1990, 2061)


def published() -> dict[int, date]:
    dates = [date.fromisoformat(s) for s in PUBLISHED.split()]
    return {d.year: d for d in dates}


def test_every_year_1990_to_2060_is_the_published_date():
    table = published()
    assert sorted(table) == list(YEARS)
    assert set(CNY_DATES) == set(YEARS)
    for year in YEARS:
        assert cny_date(year) == table[year], year


def test_known_years_and_the_range_new_year_falls_in():
    assert cny_date(2024) == date(2024, 2, 10)
    assert cny_date(2033) == date(2033, 1, 31)  # before the 2033 leap eleventh month
    assert cny_date(2034) == date(2034, 2, 19)  # after it: the third new moon after the solstice
    assert cny_date(2045) == date(2045, 2, 17)  # where the old detector copy guessed 5 February
    for year in YEARS:
        assert date(year, 1, 21) <= cny_date(year) <= date(year, 2, 20)


@pytest.mark.parametrize("year", [1989, 2061, 2100])
def test_a_year_outside_the_calendar_is_an_error_not_a_guess(year):
    with pytest.raises(YearOutsideCalendar, match=f"{year}.*1990-2060"):
        cny_date(year)
    with pytest.raises(YearOutsideCalendar):
        cny_weights(f"{year}-02")
    with pytest.raises(YearOutsideCalendar):
        is_cny_month(f"{year}-07")


@pytest.mark.parametrize("bad", ["2024-13", "2024-00", "2024-2", "24-02", "2024/02", "2024-02-01", ""])
def test_a_malformed_period_is_an_error(bad):
    with pytest.raises(BadPeriod):
        cny_weights(bad)


@pytest.mark.parametrize("year", YEARS)
def test_weights_are_each_months_share_of_days_and_count_every_window_day_once(year):
    """Weight x days in the month, over the year, is the window's length: no day lost or counted twice."""
    shut_days = back_days = 0.0
    for month in range(1, 13):
        w = cny_weights(f"{year}-{month:02d}")
        days = calendar.monthrange(year, month)[1]
        assert 0.0 <= w.shutdown <= 1.0 and 0.0 <= w.returning <= 1.0
        shut_days += w.shutdown * days
        back_days += w.returning * days
        if month >= 5:  # both windows end by 7 April: only the year's own festival reaches its months
            assert w == (0.0, 0.0)
    assert shut_days == pytest.approx(SHUTDOWN[1] - SHUTDOWN[0])
    assert back_days == pytest.approx(RETURN[1] - RETURN[0])


def test_weights_of_a_year_by_hand():
    # 2024: new year 10 Feb. Shutdown 31 Jan - 24 Feb: 1 day of January, 24 of February's 29.
    # Return 25 Feb - 25 Mar: 5 days of February, 25 of March's 31.
    assert cny_weights("2024-01") == pytest.approx((1 / 31, 0.0))
    assert cny_weights("2024-02") == pytest.approx((24 / 29, 5 / 29))
    assert cny_weights("2024-03") == pytest.approx((0.0, 25 / 31))
    assert cny_weights("2024-04") == (0.0, 0.0)
    shutdown, returning = cny_weights("2024-03")  # a plain pair, as the generators unpack it
    assert returning == cny_weights("2024-03").returning


def test_festival_months_are_those_a_window_covers_a_tenth_of():
    for year in YEARS:
        for month in range(1, 13):
            period = f"{year}-{month:02d}"
            assert is_cny_month(period) == (max(cny_weights(period)) >= FESTIVAL_SHARE)
    # 2025: new year 29 Jan; shutdown 19 Jan - 12 Feb, return 13 Feb - 14 Mar.
    assert [m for m in range(1, 13) if is_cny_month(f"2025-{m:02d}")] == [1, 2, 3]
    # 2024: one shutdown day in January is not a festival month.
    assert [m for m in range(1, 13) if is_cny_month(f"2024-{m:02d}")] == [2, 3]


def test_windows_stay_inside_their_own_year():
    for year in YEARS:
        new_year = cny_date(year)
        assert (new_year + timedelta(SHUTDOWN[0])).year == year
        assert new_year + timedelta(RETURN[1]) <= date(year, 4, 8)
