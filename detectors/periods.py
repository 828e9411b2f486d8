"""Month arithmetic on "YYYY-MM" periods, the unit every monthly record uses."""

from __future__ import annotations

import functools

__all__ = ["period_index", "period_at", "add_months", "months_between", "period_range"]


@functools.lru_cache(maxsize=8192)
def period_index(period: str) -> int:
    """Months since year 0, so periods can be subtracted.

    >>> period_index("2024-03") - period_index("2023-12")
    3
    """
    return int(period[:4]) * 12 + int(period[5:7]) - 1


@functools.lru_cache(maxsize=8192)
def period_at(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


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
