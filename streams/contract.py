"""The event contract: turn raw wire text into an ``Event`` or say exactly why not.

Every source (JSONL file, spool directory, HTTP body, Kafka message) funnels
through ``parse_event``, so this is the one place where the wire format of
DESIGN.md "Event contract" is enforced. Bad input is never dropped silently
and never stops the daemon: it becomes a ``Rejection`` with a machine-readable
reason (``streams.records.REJECTION_REASONS``) and the original text, ready
for the dead-letter store and a later replay.

It is also the hot path of the pipeline, hence plain ``json.loads``, a table
of per-type field checks walked with ``type(v) is int`` tests, and no regex
or schema compilation per call. Errors travel as an exception because the
valid path then pays nothing for them.

Example:

>>> from datetime import datetime, timezone
>>> now = datetime(2024, 5, 1, tzinfo=timezone.utc)
>>> line = ('{"event_id": "e1", "enterprise_id": "91440300MA5FXXXXXM", "type": "headcount",'
...         ' "occurred_at": "2024-03-31T23:59:59+08:00", "source": "szcredit",'
...         ' "data": {"period": "2024-03", "insured": 132, "joined": 4, "left": 9}}')
>>> event = parse_event(line, now=now)
>>> event.period, event.series_kind
('2024-03', 'headcount')
>>> print(validate(line.replace('"left": 9', '"left": -9'), now=now, location="events.jsonl:17"))
events.jsonl:17: negative_value: data.left must be >= 0, got -9
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from streams.exceptions import EventRejected
from streams.records import CHINA_TZ, EVENT_TYPES, Event, Rejection
from streams.uscc import uscc_problem

__all__ = [
    "MAX_RAW_BYTES",
    "MAX_ID_CHARS",
    "FUTURE_SKEW",
    "MIN_YEAR",
    "MAX_YEAR",
    "parse_event",
    "validate",
]

MAX_RAW_BYTES = 64 * 1024
MAX_ID_CHARS = 200
#: Clocks of the platform and of this host disagree a little; more than this is a bad timestamp.
FUTURE_SKEW = timedelta(minutes=5)
MIN_YEAR = 1990
MAX_YEAR = 2100

_MISSING: Any = object()

# Kinds of field check, used in the per-type table below.
_PERIOD = 0
_COUNT = 1  # int >= 0
_AMOUNT = 2  # int or float >= 0, finite
_TEXT = 3  # non-empty string
_ENUM = 4  # one of a set of strings
_OPT_TEXT = 5  # absent, null or a string
_VALUE = 6  # string or finite number (registration_change before/after)

_ROLES = ("defendant", "plaintiff", "third_party")
_STAGES = ("filed", "judgment", "enforcement")
_LISTED = ("listed", "removed")
_ISSUED = ("issued", "lifted")
_KINDS = ("electricity", "water", "gas")
_REG_FIELDS = (
    "legal_representative",
    "registered_capital",
    "shareholder",
    "address",
    "name",
    "business_scope",
)

# type -> ((data field, check kind, allowed values for _ENUM), ...), in the
# order the contract table lists them, so the first problem reported is the
# one a reader of the table would look at first.
_DATA_SPEC: dict[str, tuple[tuple[str, int, tuple[str, ...]], ...]] = {
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
        ("case_no", _TEXT, ()),
        ("role", _ENUM, _ROLES),
        ("cause", _TEXT, ()),
        ("amount", _AMOUNT, ()),
        ("court", _TEXT, ()),
        ("stage", _ENUM, _STAGES),
    ),
    "penalty": (
        ("decision_no", _TEXT, ()),
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
        ("case_no", _TEXT, ()),
        ("court", _TEXT, ()),
    ),
    "consumption_restriction": (
        ("status", _ENUM, _ISSUED),
        ("case_no", _TEXT, ()),
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
}
assert set(_DATA_SPEC) == EVENT_TYPES

# A plain decimal number as registers write registered capital ("5000000", "12.5").
# float() alone would also take "nan", "inf" and "1_000", which no register means.
_NUMERIC_TEXT = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


# The check-character sum is the costliest step of a valid event (about a third
# of it), and the same enterprise sends several events in a row (headcount,
# three utilities, housing fund for one month), so recent answers are kept. A
# bounded cache keeps memory flat during a backfill of millions of codes.
_uscc_problem = functools.lru_cache(maxsize=16384)(uscc_problem)


class _Invalid(Exception):
    """Internal: one contract failure, before location and raw are attached."""

    __slots__ = ("reason", "detail", "field")

    def __init__(self, reason: str, detail: str, field: str | None = None) -> None:
        self.reason = reason
        self.detail = detail
        self.field = field


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _json_type(value: Any) -> str:
    """JSON's name for a value's type, since the people reading details think in JSON."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


def _show(value: Any, limit: int = 60) -> str:
    """A short JSON rendering of a bad value for a detail line."""
    try:
        text = json.dumps(value, ensure_ascii=False, allow_nan=True)
    except (TypeError, ValueError, RecursionError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _identifier(obj: Mapping[str, Any], name: str) -> str:
    value = obj.get(name, _MISSING)
    if value is _MISSING:
        raise _Invalid("missing_field", f"{name} is required", name)
    if type(value) is not str:
        raise _Invalid("bad_field_type", f"{name} must be a string, got {_json_type(value)}", name)
    if not value or value.isspace():
        raise _Invalid("empty_field", f"{name} must not be empty", name)
    if len(value) > MAX_ID_CHARS:
        raise _Invalid("too_large", f"{name} is {len(value)} characters, the limit is {MAX_ID_CHARS}", name)
    return value


def _parse_period(value: Any, path: str) -> tuple[str, int]:
    """Check a "YYYY-MM" string and return it with its month index (year * 12 + month - 1)."""
    if type(value) is not str:
        raise _Invalid("bad_field_type", f"{path} must be a YYYY-MM string, got {_json_type(value)}", path)
    if len(value) != 7 or value[4] != "-" or not (value[:4].isdigit() and value[5:].isdigit()):
        raise _Invalid("bad_period", f"{path} must be YYYY-MM, got {_show(value)}", path)
    # isdigit() also accepts non-ASCII digits; int() reads those too, and the
    # ranges below keep the result meaningful, but the text must stay ASCII.
    if not value.isascii():
        raise _Invalid("bad_period", f"{path} must be YYYY-MM in ASCII digits, got {_show(value)}", path)
    year = int(value[:4])
    month = int(value[5:])
    if not 1 <= month <= 12:
        raise _Invalid("bad_period", f"{path} {value} has month {value[5:]}, must be 01-12", path)
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise _Invalid("bad_period", f"{path} {value} has year {year}, must be {MIN_YEAR}-{MAX_YEAR}", path)
    return value, year * 12 + month - 1


def _parse_timestamp(obj: Mapping[str, Any]) -> datetime:
    value = obj.get("occurred_at", _MISSING)
    if value is _MISSING:
        raise _Invalid("missing_field", "occurred_at is required", "occurred_at")
    if type(value) is not str:
        raise _Invalid(
            "bad_field_type",
            f"occurred_at must be an ISO 8601 string, got {_json_type(value)}",
            "occurred_at",
        )
    if not value or value.isspace():
        raise _Invalid("empty_field", "occurred_at must not be empty", "occurred_at")
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise _Invalid(
            "bad_timestamp",
            f"occurred_at {_show(value)} is not an ISO 8601 timestamp (e.g. 2024-03-31T23:59:59+08:00)",
            "occurred_at",
        ) from None
    if when.tzinfo is None or when.utcoffset() is None:
        raise _Invalid(
            "bad_timestamp",
            f"occurred_at {_show(value)} has no UTC offset; add one, e.g. +08:00 for China time or Z for UTC",
            "occurred_at",
        )
    if not MIN_YEAR - 1 <= when.year <= MAX_YEAR + 1:  # before any offset arithmetic can overflow
        raise _Invalid(
            "bad_timestamp",
            f"occurred_at {_show(value)} is outside the years {MIN_YEAR}-{MAX_YEAR}",
            "occurred_at",
        )
    return when


def _check_data(type_: str, data: dict[str, Any]) -> tuple[str, int] | None:
    """Check ``data`` against the type's table; return the period of monthly types.

    Normalises registered capital to float in place, so every consumer
    compares numbers, not "5000000" against 5e6.
    """
    period: tuple[str, int] | None = None
    for name, kind, allowed in _DATA_SPEC[type_]:
        value = data.get(name, _MISSING)
        path = "data." + name
        if value is _MISSING:
            if kind == _OPT_TEXT:
                continue
            raise _Invalid("missing_field", f"{path} is required for {type_} events", path)
        if kind == _COUNT:
            if type(value) is not int:
                if type(value) is float:
                    raise _Invalid(
                        "bad_field_type", f"{path} must be an integer count, got {_show(value)}", path
                    )
                raise _Invalid("bad_field_type", f"{path} must be an integer, got {_json_type(value)}", path)
            if value < 0:
                raise _Invalid("negative_value", f"{path} must be >= 0, got {value}", path)
        elif kind == _AMOUNT:
            tp = type(value)
            if tp is not float and tp is not int:
                raise _Invalid("bad_field_type", f"{path} must be a number, got {_json_type(value)}", path)
            if tp is float and not math.isfinite(value):
                raise _Invalid("bad_field_type", f"{path} must be a finite number, got {value}", path)
            if value < 0:
                raise _Invalid("negative_value", f"{path} must be >= 0, got {value}", path)
        elif kind == _PERIOD:
            period = _parse_period(value, path)
        elif kind == _TEXT:
            if type(value) is not str:
                raise _Invalid("bad_field_type", f"{path} must be a string, got {_json_type(value)}", path)
            if not value or value.isspace():
                raise _Invalid("empty_field", f"{path} must not be empty", path)
        elif kind == _ENUM:
            if type(value) is not str:
                raise _Invalid("bad_field_type", f"{path} must be a string, got {_json_type(value)}", path)
            if value not in allowed:
                raise _Invalid(
                    "bad_enum", f"{path} is {_show(value)}, must be one of {', '.join(allowed)}", path
                )
        elif kind == _OPT_TEXT:
            if value is not None and type(value) is not str:
                raise _Invalid(
                    "bad_field_type", f"{path} must be a string if given, got {_json_type(value)}", path
                )
        elif kind == _VALUE:
            tp = type(value)
            if tp is str:
                pass
            elif tp is int or tp is float:
                if not math.isfinite(value):
                    raise _Invalid("bad_field_type", f"{path} must be a finite number, got {value}", path)
            else:
                raise _Invalid(
                    "bad_field_type", f"{path} must be a string or a number, got {_json_type(value)}", path
                )
    if type_ == "registration_change" and data["field"] == "registered_capital":
        for name in ("before", "after"):
            data[name] = _capital(data[name], "data." + name)
    return period


def _capital(value: Any, path: str) -> float:
    if type(value) is str:
        text = value.strip()
        if not _NUMERIC_TEXT.fullmatch(text):
            raise _Invalid(
                "bad_field_type",
                f"{path} must be a number or a numeric string for registered_capital, got {_show(value)}",
                path,
            )
        number = float(text)
        if not math.isfinite(number):
            raise _Invalid("bad_field_type", f"{path} must be a finite number, got {_show(value)}", path)
    else:
        number = float(value)
    if number < 0:
        raise _Invalid(
            "negative_value", f"{path} must be >= 0 for registered_capital, got {_show(value)}", path
        )
    return number


def _month_text(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def _build(obj: Mapping[str, Any], now: datetime | None) -> Event:
    event_id = _identifier(obj, "event_id")

    enterprise_id = obj.get("enterprise_id", _MISSING)
    if enterprise_id is _MISSING:
        raise _Invalid("missing_field", "enterprise_id is required", "enterprise_id")
    if type(enterprise_id) is not str:
        raise _Invalid(
            "bad_field_type",
            f"enterprise_id must be a string, got {_json_type(enterprise_id)}",
            "enterprise_id",
        )
    if not enterprise_id:
        raise _Invalid("empty_field", "enterprise_id must not be empty", "enterprise_id")
    # Only well-sized codes go through the cache, so junk ids cannot fill it with large keys.
    problem = _uscc_problem(enterprise_id) if len(enterprise_id) == 18 else uscc_problem(enterprise_id)
    if problem is not None:
        reason, detail = problem
        if not detail.startswith("enterprise_id"):
            detail = f"enterprise_id {_show(enterprise_id)}: {detail}"
        raise _Invalid(reason, detail, "enterprise_id")

    type_ = obj.get("type", _MISSING)
    if type_ is _MISSING:
        raise _Invalid("missing_field", "type is required", "type")
    if type(type_) is not str:
        raise _Invalid("bad_field_type", f"type must be a string, got {_json_type(type_)}", "type")
    if not type_ or type_.isspace():
        raise _Invalid("empty_field", "type must not be empty", "type")
    if type_ not in EVENT_TYPES:
        raise _Invalid(
            "unknown_type",
            f"type {_show(type_)} is not one of {', '.join(sorted(EVENT_TYPES))}",
            "type",
        )

    occurred_at = _parse_timestamp(obj)
    source = _identifier(obj, "source")

    data = obj.get("data", _MISSING)
    if data is _MISSING:
        raise _Invalid("missing_field", "data is required", "data")
    if type(data) is not dict:
        raise _Invalid("bad_field_type", f"data must be an object, got {_json_type(data)}", "data")

    period = _check_data(type_, data)

    # Future checks last: they need the clock, and a malformed event should be
    # reported for its shape first, whatever time it claims.
    if now is None:
        now = datetime.now(UTC)
    elif now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    if occurred_at > now + FUTURE_SKEW:
        raise _Invalid(
            "future_timestamp",
            f"occurred_at {occurred_at.isoformat()} is after the current time "
            f"{now.astimezone(UTC).isoformat(timespec='seconds')} (+{int(FUTURE_SKEW.total_seconds() // 60)} min skew allowed)",
            "occurred_at",
        )
    china_occurred = occurred_at.astimezone(CHINA_TZ)
    if not MIN_YEAR <= china_occurred.year <= MAX_YEAR:
        raise _Invalid(
            "bad_timestamp",
            f"occurred_at {occurred_at.isoformat()} is outside the years {MIN_YEAR}-{MAX_YEAR}",
            "occurred_at",
        )
    if period is not None:
        text, index = period
        china_now = now.astimezone(CHINA_TZ)
        current = china_now.year * 12 + china_now.month - 1
        if index > current:
            raise _Invalid(
                "future_period",
                f"data.period {text} is after the current month {_month_text(current)}",
                "data.period",
            )
    else:
        text = f"{china_occurred.year:04d}-{china_occurred.month:02d}"

    return Event(event_id, enterprise_id, type_, occurred_at, source, data, text)


def _raw_text(raw: Any) -> str:
    """The original text for the dead-letter store; a Mapping is re-serialised."""
    if isinstance(raw, str):
        return raw
    if isinstance(raw, bytes | bytearray | memoryview):
        return bytes(raw).decode("utf-8", "replace")
    try:
        return json.dumps(raw, ensure_ascii=False, default=repr)
    except (TypeError, ValueError, RecursionError):
        return repr(raw)


def _identity(obj: Any, name: str) -> str | None:
    """A readable id from a rejected object, to make the dead-letter store searchable."""
    if isinstance(obj, Mapping):
        value = obj.get(name)
        if type(value) is str and len(value) <= MAX_ID_CHARS:
            return value
    return None


def parse_event(
    raw: str | bytes | Mapping[str, Any],
    *,
    now: datetime | None = None,
    location: str | None = None,
) -> Event:
    """Parse one wire event, or raise ``EventRejected`` saying why.

    Parameters
    ----------
    raw
        A JSON text (str, or bytes as UTF-8, as read from a file or a Kafka
        message) or an already decoded object. The 64 KiB limit applies to
        text only: a Mapping was already decoded by its producer.
    now
        The current time for the future checks; the wall clock (UTC) if None.
        Injected by tests and replays, so that an old file replays the same
        way it was first judged. A naive ``now`` is taken as UTC.
    location
        Where the text came from ("events.jsonl:17"), carried into the
        rejection so an operator can find the line.
    """
    obj: Any = None
    text: str | None = None
    try:
        if isinstance(raw, str):
            text = raw
            if len(raw) > MAX_RAW_BYTES // 4 and len(raw.encode("utf-8", "surrogatepass")) > MAX_RAW_BYTES:
                raise _Invalid("too_large", f"the event is over {MAX_RAW_BYTES // 1024} KiB")
            obj = _loads(raw)
        elif isinstance(raw, bytes | bytearray | memoryview):
            blob = bytes(raw)
            text = blob.decode("utf-8", "replace")
            if len(blob) > MAX_RAW_BYTES:
                raise _Invalid(
                    "too_large", f"the event is {len(blob)} bytes, over {MAX_RAW_BYTES // 1024} KiB"
                )
            obj = _loads(text)
        elif isinstance(raw, Mapping):
            # Copy: the contract normalises data in place and must never touch the caller's objects.
            obj = dict(raw)
            inner = obj.get("data")
            if isinstance(inner, Mapping):
                obj["data"] = dict(inner)
        else:
            obj = raw
        if type(obj) is not dict:
            raise _Invalid("not_an_object", f"the event must be a JSON object, got {_json_type(obj)}")
        return _build(obj, now)
    except _Invalid as bad:
        rejection = Rejection(
            reason=bad.reason,
            detail=bad.detail,
            raw=text if text is not None else _raw_text(raw),
            field=bad.field,
            location=location,
            event_id=_identity(obj, "event_id"),
            enterprise_id=_identity(obj, "enterprise_id"),
        )
        raise EventRejected(rejection) from None


def _loads(text: str) -> Any:
    try:
        return json.loads(text, parse_constant=_no_constants)
    except RecursionError:
        raise _Invalid("bad_json", "the JSON is nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, NaN/Infinity, over-long integers
        raise _Invalid("bad_json", f"not valid JSON: {exc}") from None


def validate(
    raw: str | bytes | Mapping[str, Any],
    *,
    now: datetime | None = None,
    location: str | None = None,
) -> Event | Rejection:
    """Like ``parse_event`` but returns the ``Rejection`` instead of raising.

    For loops that route each outcome (to the pipeline or to the dead-letter
    store) and would otherwise wrap every call in try/except.
    """
    try:
        return parse_event(raw, now=now, location=location)
    except EventRejected as exc:
        return exc.rejection
