"""Month arithmetic and the Chinese New Year calendar for the held-out generator.

Months are integers (``year * 12 + month - 1``) so spans, lags and leads are
plain subtraction. The festival moves between 21 January and 20 February;
what a month sees of it (shutdown days, the weeks when workers leave or
come back) is counted in days, so the same firm's February looks different
in 2023 (festival on 22 January) and 2024 (10 February).

>>> month_text(parse_month("2024-02") + 11)
'2025-01'
>>> cny_date(2024)
datetime.date(2024, 2, 10)
>>> round(window_share(parse_month("2024-02"), -10, 12), 3)  # shutdown days fall in February
0.957
>>> round(window_share(parse_month("2023-01"), -10, 12), 3)  # one year earlier, in January
0.87
"""

from __future__ import annotations

import calendar
import functools
from datetime import date, timedelta

import numpy as np

__all__ = [
    "CNY",
    "cny_date",
    "parse_month",
    "month_text",
    "month_year",
    "calendar_month",
    "days_in",
    "month_end",
    "day_offsets",
    "window_share",
    "window_fraction",
    "month_fraction",
]

# Spring Festival (the first day of the first lunar month), from the published lunar calendar.
CNY: dict[int, date] = {
    2015: date(2015, 2, 19),
    2016: date(2016, 2, 8),
    2017: date(2017, 1, 28),
    2018: date(2018, 2, 16),
    2019: date(2019, 2, 5),
    2020: date(2020, 1, 25),
    2021: date(2021, 2, 12),
    2022: date(2022, 2, 1),
    2023: date(2023, 1, 22),
    2024: date(2024, 2, 10),
    2025: date(2025, 1, 29),
    2026: date(2026, 2, 17),
    2027: date(2027, 2, 6),
    2028: date(2028, 1, 26),
    2029: date(2029, 2, 13),
    2030: date(2030, 2, 3),
    2031: date(2031, 1, 23),
    2032: date(2032, 2, 11),
}


def cny_date(year: int) -> date:
    try:
        return CNY[year]
    except KeyError:
        raise ValueError(f"no Spring Festival date for {year}; the table covers {min(CNY)}-{max(CNY)}") from None


def parse_month(text: str) -> int:
    """'YYYY-MM' to a month number; ValueError saying what is wrong otherwise."""
    try:
        year, month = int(text[:4]), int(text[5:7])
    except (ValueError, TypeError):
        raise ValueError(f"month {text!r} is not YYYY-MM") from None
    if len(text) != 7 or text[4] != "-" or not 1 <= month <= 12:
        raise ValueError(f"month {text!r} is not YYYY-MM")
    return year * 12 + month - 1


def month_text(m: int) -> str:
    return f"{m // 12:04d}-{m % 12 + 1:02d}"


def month_year(m: int) -> int:
    return m // 12


def calendar_month(m: int) -> int:
    """0 for January ... 11 for December."""
    return m % 12


def days_in(m: int) -> int:
    return calendar.monthrange(m // 12, m % 12 + 1)[1]


def month_end(m: int) -> date:
    return date(m // 12, m % 12 + 1, days_in(m))


@functools.lru_cache(maxsize=512)
def day_offsets(m: int) -> np.ndarray:
    """For each day of month ``m``, its distance in days from the nearest Spring Festival."""
    first = date(m // 12, m % 12 + 1, 1)
    days = [first + timedelta(days=k) for k in range(days_in(m))]
    out = np.empty(len(days), dtype=np.int64)
    for k, d in enumerate(days):
        out[k] = min(((d - cny_date(y)).days for y in (d.year - 1, d.year, d.year + 1)), key=abs)
    out.setflags(write=False)
    return out


def window_share(m: int, start: int, end: int) -> float:
    """Share of the festival window [start, end] (days from the festival) that falls in month ``m``.

    Summed over the months around one festival it is 1: it spreads a
    once-a-year quantity (workers who do not come back) over the months the
    window touches, in proportion to its days.
    """
    offs = day_offsets(m)
    return float(np.count_nonzero((offs >= start) & (offs <= end))) / (end - start + 1)


def window_fraction(m: int, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Per firm, the fraction of month ``m``'s days inside that firm's window [start, end]."""
    offs = day_offsets(m)[None, :]
    inside = (offs >= start[:, None]) & (offs <= end[:, None])
    return inside.mean(axis=1)


def month_fraction(m: int, start: int, end: int) -> float:
    """Fraction of month ``m``'s days that lie in the festival window [start, end]."""
    offs = day_offsets(m)
    return float(np.count_nonzero((offs >= start) & (offs <= end))) / len(offs)
