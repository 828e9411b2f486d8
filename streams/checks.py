"""The per-field rules of the event contract: a decoded object to an ``Event``, or the first reason why not.

This is the authority: the compiled fast path (``streams.fastpath``) only
accepts what these checks accept, and hands everything else here for the
reason and its detail. Checks run in the order the contract table lists the
fields, so the first problem reported is the one a reader of the table would
look at first; detail texts are stable (operators fix dead letters from them,
``tests/streams/test_contract.py`` pins them).
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from streams.exceptions import ContractViolation
from streams.limits import FUTURE_SKEW, MAX_AMOUNT, MAX_COUNT, MAX_ID_CHARS, MAX_YEAR, MIN_YEAR
from streams.records import CHINA_TZ, EVENT_TYPES, Event
from streams.uscc import uscc_problem
from streams.wire import json_type, number_text, show

__all__ = [
    "DATA_SPEC",
    "PERIOD_INDEX",
    "uscc_problem_cached",
    "clock",
    "capital",
    "build_event",
    "month_text",
]

_MISSING: Any = object()

# Kinds of field check, used in the per-type table below.
_PERIOD = 0
_COUNT = 1  # int, 0 <= n <= MAX_COUNT
_AMOUNT = 2  # int or float, finite, 0 <= x <= MAX_AMOUNT
_TEXT = 3  # non-empty string
_ENUM = 4  # one of a set of strings
_OPT_TEXT = 5  # absent, null or a string
_VALUE = 6  # string or finite number (registration_change before/after)
_ID = 7  # non-empty string without surrounding whitespace (a case or decision number)
_DATE = 8  # "YYYY-MM-DD", a real calendar date
_REGION = 9  # six digits: an administrative division code (GB/T 2260)

_ROLES = ("defendant", "plaintiff", "third_party")
_STAGES = ("filed", "judgment", "enforcement")
_LISTED = ("listed", "removed")
_ISSUED = ("issued", "lifted")
_KINDS = ("electricity", "water", "gas")
#: GB/T 4754-2017 industry sections (门类), A agriculture to T international organisations.
INDUSTRY_SECTIONS = tuple("ABCDEFGHIJKLMNOPQRST")
_REG_FIELDS = (
    "legal_representative",
    "registered_capital",
    "shareholder",
    "address",
    "name",
    "business_scope",
)

#: type -> ((data field, check kind, allowed values for enums), ...), in the contract table's order.
DATA_SPEC: dict[str, tuple[tuple[str, int, tuple[str, ...]], ...]] = {
    "headcount": (
        ("period", _PERIOD, ()),
        ("insured", _COUNT, ()),
        ("joined", _COUNT, ()),
        ("left", _COUNT, ()),
    ),
    "utility": (
        ("period", _PERIOD, ()),
        ("kind", _ENUM, _KINDS),
        ("amount", _AMOUNT, ()),
        ("unit", _OPT_TEXT, ()),
    ),
    "housing_fund": (
        ("period", _PERIOD, ()),
        ("contributors", _COUNT, ()),
        ("amount", _AMOUNT, ()),
    ),
    "lawsuit": (
        ("case_no", _ID, ()),
        ("role", _ENUM, _ROLES),
        ("cause", _TEXT, ()),
        ("amount", _AMOUNT, ()),
        ("court", _TEXT, ()),
        ("stage", _ENUM, _STAGES),
    ),
    "penalty": (
        ("decision_no", _ID, ()),
        ("authority", _TEXT, ()),
        ("reason", _TEXT, ()),
        ("amount", _AMOUNT, ()),
    ),
    "tax_arrears": (
        ("amount", _AMOUNT, ()),
        ("tax_type", _TEXT, ()),
    ),
    "dishonest_debtor": (
        ("status", _ENUM, _LISTED),
        ("case_no", _ID, ()),
        ("court", _TEXT, ()),
    ),
    "consumption_restriction": (
        ("status", _ENUM, _ISSUED),
        ("case_no", _ID, ()),
    ),
    "abnormal_operation": (
        ("status", _ENUM, _LISTED),
        ("reason", _TEXT, ()),
    ),
    "registration_change": (
        ("field", _ENUM, _REG_FIELDS),
        ("before", _VALUE, ()),
        ("after", _VALUE, ()),
    ),
    # every field optional; at least one must be given
    "enterprise_profile": (
        ("industry", _ENUM, INDUSTRY_SECTIONS),
        ("region", _REGION, ()),
        ("registered_capital", _AMOUNT, ()),
        ("established", _DATE, ()),
        ("name", _TEXT, ()),
    ),
}
#: Types whose data fields may each be absent (or null), as long as one is given.
OPTIONAL_FIELDS = frozenset({"enterprise_profile"})
_REGION_CODE = re.compile(r"[1-9]\d{5}")
assert set(DATA_SPEC) == EVENT_TYPES

#: Every valid "YYYY-MM" and its month index (year * 12 + month - 1): one lookup checks a period.
PERIOD_INDEX: dict[str, int] = {
    f"{year:04d}-{month:02d}": year * 12 + month - 1
    for year in range(MIN_YEAR, MAX_YEAR + 1)
    for month in range(1, 13)
}

# A plain decimal number as registers write registered capital ("5000000", "12.5").
# float() alone would also take "nan", "inf" and "1_000", which no register means.
_NUMERIC_TEXT = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")

# The check-character sum is the costliest step of a valid event, and the same
# enterprise sends several events in a row (headcount, three utilities, housing
# fund for one month), so recent answers are kept. A bounded cache keeps memory
# flat during a backfill of millions of codes.
uscc_problem_cached = functools.lru_cache(maxsize=16384)(uscc_problem)

_last_clock: tuple[datetime, tuple[datetime, datetime, int]] | None = None


def clock(now: datetime | None) -> tuple[datetime, datetime, int]:
    """(``now``, aware; the latest acceptable ``occurred_at``; the current month index in China).

    ``None`` is the wall clock (UTC), a naive ``now`` is taken as UTC. The
    pipeline judges a whole batch against one ``now`` object, so the last
    answer is kept for it.
    """
    global _last_clock
    last = _last_clock
    if last is not None and last[0] is now:
        return last[1]
    given = now
    if now is None:
        now = datetime.now(UTC)
    elif now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    china = now.astimezone(CHINA_TZ)
    bounds = (now, now + FUTURE_SKEW, china.year * 12 + china.month - 1)
    if given is not None:
        _last_clock = (given, bounds)
    return bounds


def month_text(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def _padded(value: str, path: str) -> None:
    if value[0].isspace() or value[-1].isspace():
        raise ContractViolation(
            "padded_field",
            f"{path} {show(value)} starts or ends with whitespace; send identifiers trimmed",
            path,
        )


def _identifier(obj: Mapping[str, Any], name: str) -> str:
    value = obj.get(name, _MISSING)
    if value is _MISSING:
        raise ContractViolation("missing_field", f"{name} is required", name)
    if type(value) is not str:
        raise ContractViolation("bad_field_type", f"{name} must be a string, got {json_type(value)}", name)
    if not value or value.isspace():
        raise ContractViolation("empty_field", f"{name} must not be empty", name)
    if len(value) > MAX_ID_CHARS:
        raise ContractViolation(
            "too_large", f"{name} is {len(value)} characters, the limit is {MAX_ID_CHARS}", name
        )
    _padded(value, name)
    return value


def _parse_period(value: Any, path: str) -> tuple[str, int]:
    """Check a "YYYY-MM" string and return it with its month index."""
    if type(value) is not str:
        raise ContractViolation(
            "bad_field_type", f"{path} must be a YYYY-MM string, got {json_type(value)}", path
        )
    index = PERIOD_INDEX.get(value)
    if index is not None:
        return value, index
    if len(value) != 7 or value[4] != "-" or not (value[:4].isdigit() and value[5:].isdigit()):
        raise ContractViolation("bad_period", f"{path} must be YYYY-MM, got {show(value)}", path)
    # isdigit() also accepts non-ASCII digits; int() reads those too, but the text must stay ASCII.
    if not value.isascii():
        raise ContractViolation("bad_period", f"{path} must be YYYY-MM in ASCII digits, got {show(value)}", path)
    year = int(value[:4])
    month = int(value[5:])
    if not 1 <= month <= 12:
        raise ContractViolation("bad_period", f"{path} {value} has month {value[5:]}, must be 01-12", path)
    raise ContractViolation("bad_period", f"{path} {value} has year {year}, must be {MIN_YEAR}-{MAX_YEAR}", path)


def _parse_timestamp(obj: Mapping[str, Any]) -> datetime:
    value = obj.get("occurred_at", _MISSING)
    if value is _MISSING:
        raise ContractViolation("missing_field", "occurred_at is required", "occurred_at")
    if type(value) is not str:
        raise ContractViolation(
            "bad_field_type",
            f"occurred_at must be an ISO 8601 string, got {json_type(value)}",
            "occurred_at",
        )
    if not value or value.isspace():
        raise ContractViolation("empty_field", "occurred_at must not be empty", "occurred_at")
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise ContractViolation(
            "bad_timestamp",
            f"occurred_at {show(value)} is not an ISO 8601 timestamp (e.g. 2024-03-31T23:59:59+08:00)",
            "occurred_at",
        ) from None
    if when.tzinfo is None or when.utcoffset() is None:
        raise ContractViolation(
            "bad_timestamp",
            f"occurred_at {show(value)} has no UTC offset; add one, e.g. +08:00 for China time or Z for UTC",
            "occurred_at",
        )
    if not MIN_YEAR - 1 <= when.year <= MAX_YEAR + 1:  # before any offset arithmetic can overflow
        raise ContractViolation(
            "bad_timestamp",
            f"occurred_at {show(value)} is outside the years {MIN_YEAR}-{MAX_YEAR}",
            "occurred_at",
        )
    return when


def _count(value: Any, path: str) -> None:
    if type(value) is not int:
        if type(value) is float:
            raise ContractViolation("bad_field_type", f"{path} must be an integer count, got {show(value)}", path)
        raise ContractViolation("bad_field_type", f"{path} must be an integer, got {json_type(value)}", path)
    if value < 0:
        raise ContractViolation("negative_value", f"{path} must be >= 0, got {number_text(value)}", path)
    if value > MAX_COUNT:
        raise ContractViolation("out_of_range", f"{path} is {show(value)}, the maximum is {MAX_COUNT:,}", path)


def _amount(value: Any, path: str) -> None:
    tp = type(value)
    if tp is not float and tp is not int:
        raise ContractViolation("bad_field_type", f"{path} must be a number, got {json_type(value)}", path)
    if tp is float and not math.isfinite(value):
        raise ContractViolation("bad_field_type", f"{path} must be a finite number, got {value}", path)
    if value < 0:
        raise ContractViolation("negative_value", f"{path} must be >= 0, got {number_text(value)}", path)
    if value > MAX_AMOUNT:
        raise ContractViolation("out_of_range", f"{path} is {show(value)}, the maximum is {MAX_AMOUNT:,.0f}", path)


def _check_data(type_: str, data: dict[str, Any]) -> tuple[str, int] | None:
    """Check ``data`` against the type's table; return the period of monthly types.

    Normalises registered capital to float in place, so every consumer
    compares numbers, not "5000000" against 5e6.
    """
    period: tuple[str, int] | None = None
    optional = type_ in OPTIONAL_FIELDS
    if optional and all(data.get(name) is None for name, _, _ in DATA_SPEC[type_]):
        names = ", ".join(name for name, _, _ in DATA_SPEC[type_])
        raise ContractViolation("missing_field", f"an {type_} event needs at least one of data.{{{names}}}", "data")
    for name, kind, allowed in DATA_SPEC[type_]:
        value = data.get(name, _MISSING)
        path = "data." + name
        if value is _MISSING or (optional and value is None):
            if kind == _OPT_TEXT or optional:
                continue
            raise ContractViolation("missing_field", f"{path} is required for {type_} events", path)
        if kind == _COUNT:
            _count(value, path)
        elif kind == _AMOUNT:
            _amount(value, path)
        elif kind == _PERIOD:
            period = _parse_period(value, path)
        elif kind in (_TEXT, _ID):
            if type(value) is not str:
                raise ContractViolation("bad_field_type", f"{path} must be a string, got {json_type(value)}", path)
            if not value or value.isspace():
                raise ContractViolation("empty_field", f"{path} must not be empty", path)
            if kind == _ID:
                _padded(value, path)
        elif kind == _ENUM:
            if type(value) is not str:
                raise ContractViolation("bad_field_type", f"{path} must be a string, got {json_type(value)}", path)
            if value not in allowed:
                raise ContractViolation(
                    "bad_enum", f"{path} is {show(value)}, must be one of {', '.join(allowed)}", path
                )
        elif kind == _OPT_TEXT:
            if value is not None and type(value) is not str:
                raise ContractViolation(
                    "bad_field_type", f"{path} must be a string if given, got {json_type(value)}", path
                )
        elif kind == _DATE:
            if type(value) is not str:
                raise ContractViolation("bad_field_type", f"{path} must be a string, got {json_type(value)}", path)
            try:
                if len(value) != 10 or value[4] != "-" or value[7] != "-":
                    raise ValueError(value)
                date.fromisoformat(value)
            except ValueError:
                raise ContractViolation("bad_timestamp", f"{path} must be a date YYYY-MM-DD, got {show(value)}",
                                        path) from None
        elif kind == _REGION:
            if type(value) is not str:
                raise ContractViolation("bad_field_type", f"{path} must be a string, got {json_type(value)}", path)
            if not _REGION_CODE.fullmatch(value):
                raise ContractViolation("bad_enum", f"{path} must be a six-digit division code, got {show(value)}",
                                        path)
        elif kind == _VALUE:
            tp = type(value)
            if tp is str:
                pass
            elif tp is int or tp is float:
                if tp is float and not math.isfinite(value):
                    raise ContractViolation("bad_field_type", f"{path} must be a finite number, got {value}", path)
            else:
                raise ContractViolation(
                    "bad_field_type", f"{path} must be a string or a number, got {json_type(value)}", path
                )
    if type_ == "registration_change" and data["field"] == "registered_capital":
        for name in ("before", "after"):
            data[name] = capital(data[name], "data." + name)
    return period


def capital(value: Any, path: str) -> float:
    """Registered capital as a float, from a number or a numeric string."""
    if type(value) is str:
        text = value.strip()
        if not _NUMERIC_TEXT.fullmatch(text):
            raise ContractViolation(
                "bad_field_type",
                f"{path} must be a number or a numeric string for registered_capital, got {show(value)}",
                path,
            )
        number = float(text)
        if not math.isfinite(number):
            raise ContractViolation("bad_field_type", f"{path} must be a finite number, got {show(value)}", path)
    elif -MAX_AMOUNT <= value <= MAX_AMOUNT:
        number = float(value)
    else:  # float() of a 400-digit integer raises OverflowError
        number = math.inf if value > 0 else -math.inf
    if number < 0:
        raise ContractViolation(
            "negative_value", f"{path} must be >= 0 for registered_capital, got {show(value)}", path
        )
    if number > MAX_AMOUNT:
        raise ContractViolation(
            "out_of_range", f"{path} is {show(value)}, the maximum for registered_capital is {MAX_AMOUNT:,.0f}", path
        )
    return number


def build_event(obj: Mapping[str, Any], now: datetime | None) -> Event:
    """The ``Event`` of a decoded object, or ``ContractViolation`` for its first problem."""
    event_id = _identifier(obj, "event_id")

    enterprise_id = obj.get("enterprise_id", _MISSING)
    if enterprise_id is _MISSING:
        raise ContractViolation("missing_field", "enterprise_id is required", "enterprise_id")
    if type(enterprise_id) is not str:
        raise ContractViolation(
            "bad_field_type",
            f"enterprise_id must be a string, got {json_type(enterprise_id)}",
            "enterprise_id",
        )
    if not enterprise_id:
        raise ContractViolation("empty_field", "enterprise_id must not be empty", "enterprise_id")
    # Only well-sized codes go through the cache, so junk ids cannot fill it with large keys.
    problem = uscc_problem_cached(enterprise_id) if len(enterprise_id) == 18 else uscc_problem(enterprise_id)
    if problem is not None:
        reason, detail = problem
        if not detail.startswith("enterprise_id"):
            detail = f"enterprise_id {show(enterprise_id)}: {detail}"
        raise ContractViolation(reason, detail, "enterprise_id")

    type_ = obj.get("type", _MISSING)
    if type_ is _MISSING:
        raise ContractViolation("missing_field", "type is required", "type")
    if type(type_) is not str:
        raise ContractViolation("bad_field_type", f"type must be a string, got {json_type(type_)}", "type")
    if not type_ or type_.isspace():
        raise ContractViolation("empty_field", "type must not be empty", "type")
    if type_ not in EVENT_TYPES:
        raise ContractViolation(
            "unknown_type",
            f"type {show(type_)} is not one of {', '.join(sorted(EVENT_TYPES))}",
            "type",
        )

    occurred_at = _parse_timestamp(obj)
    source = _identifier(obj, "source")

    data = obj.get("data", _MISSING)
    if data is _MISSING:
        raise ContractViolation("missing_field", "data is required", "data")
    if type(data) is not dict:
        raise ContractViolation("bad_field_type", f"data must be an object, got {json_type(data)}", "data")

    period = _check_data(type_, data)

    # Future checks last: they need the clock, and a malformed event should be
    # reported for its shape first, whatever time it claims.
    now, latest, current = clock(now)
    if occurred_at > latest:
        raise ContractViolation(
            "future_timestamp",
            f"occurred_at {occurred_at.isoformat()} is after the current time "
            f"{now.astimezone(UTC).isoformat(timespec='seconds')} (+{int(FUTURE_SKEW.total_seconds() // 60)} min skew allowed)",
            "occurred_at",
        )
    china_occurred = occurred_at.astimezone(CHINA_TZ)
    if not MIN_YEAR <= china_occurred.year <= MAX_YEAR:
        raise ContractViolation(
            "bad_timestamp",
            f"occurred_at {occurred_at.isoformat()} is outside the years {MIN_YEAR}-{MAX_YEAR}",
            "occurred_at",
        )
    if period is not None:
        text, index = period
        if index > current:
            raise ContractViolation(
                "future_period",
                f"data.period {text} is after the current month {month_text(current)}",
                "data.period",
            )
    else:
        text = f"{china_occurred.year:04d}-{china_occurred.month:02d}"

    return Event(event_id, enterprise_id, type_, occurred_at, source, data, text)
