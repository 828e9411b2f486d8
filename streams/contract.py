"""The event contract: turn raw wire input into an ``Event`` or say exactly why not.

Every source (JSONL file, spool directory, HTTP body, Kafka message) funnels
through ``validate``/``parse_event``, so this is the one place where the wire
format of DESIGN.md "Event contract" is enforced. Bad input is never dropped
silently and never stops the daemon: it becomes a ``Rejection`` with a
machine-readable reason (``streams.records.REJECTION_REASONS``) and the
original text, ready for the dead-letter store and a later replay. Nothing
raises out of ``validate``: even a failure of the checks themselves is a
rejection (reason ``invalid``), and every text a rejection carries can be
stored (NUL and lone surrogates become U+FFFD).

It is also the hot path of the pipeline, so it runs in two steps:

1. ``streams.fastpath`` decodes ``str``/``bytes`` with a compiled msgspec
   decoder, one Struct per event type, and accepts what is well formed in a
   few microseconds;
2. anything it does not accept is judged again from the start by the careful
   path: ``streams.wire`` (strict UTF-8, JSON with repeated keys noted, one
   walk for depth, NUL, surrogates and numbers) and ``streams.checks`` (the
   per-field rules and their detail texts). Mappings handed in by Python
   callers go straight to it.

The careful path is the authority; the fast one only ever accepts what it
would accept, with the same ``Event``. The limits are in ``streams.limits``.

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
>>> print(validate(line.replace('"e1"', '" e1"'), now=now))
padded_field: event_id " e1" starts or ends with whitespace; send identifiers trimmed
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from streams.checks import build_event
from streams.exceptions import ContractViolation, EventRejected
from streams.fastpath import fast_event
from streams.limits import (
    FUTURE_SKEW,
    MAX_AMOUNT,
    MAX_COUNT,
    MAX_DEPTH,
    MAX_ID_CHARS,
    MAX_INT,
    MAX_RAW_BYTES,
    MAX_YEAR,
    MIN_YEAR,
)
from streams.records import Event, Rejection
from streams.wire import inspect, json_type, raw_text, read_json, storable, text_of

__all__ = [
    "MAX_RAW_BYTES",
    "MAX_ID_CHARS",
    "MAX_DEPTH",
    "MAX_COUNT",
    "MAX_AMOUNT",
    "MAX_INT",
    "FUTURE_SKEW",
    "MIN_YEAR",
    "MAX_YEAR",
    "parse_event",
    "validate",
]

#: The store's ``rejected_events.field`` column is VARCHAR(100).
_MAX_FIELD_CHARS = 100


def _careful(raw: Any, now: datetime | None, location: str | None) -> Event | Rejection:
    obj: Any = None
    text: str | None = None
    try:
        if isinstance(raw, str | bytes | bytearray | memoryview):
            text = text_of(raw)
            obj = read_json(raw, text)
        elif isinstance(raw, Mapping):
            # Copy: the contract normalises data in place and must never touch the caller's objects.
            obj = dict(raw)
            inner = obj.get("data")
            if isinstance(inner, Mapping):
                obj["data"] = dict(inner)
        else:
            obj = raw
        number = inspect(obj)
        if type(obj) is not dict:
            raise ContractViolation("not_an_object", f"the event must be a JSON object, got {json_type(obj)}")
        event = build_event(obj, now)
        if number is not None:  # after the field checks, which name their own fields' problems first
            raise number
        return event
    except ContractViolation as bad:
        return _rejection(bad.reason, bad.detail, bad.field, raw, text, obj, location)
    except Exception as exc:  # a bug in the checks must cost one event, never the batch
        return _rejection("invalid", f"checking the event failed: {_error(exc)}", None, raw, text, obj, location)


def _error(exc: Exception) -> str:
    try:
        return f"{type(exc).__name__}: {exc}"
    except Exception:
        return type(exc).__name__


def _rejection(
    reason: str, detail: str, field: str | None, raw: Any, text: str | None, obj: Any, location: str | None
) -> Rejection:
    return Rejection(
        reason=reason,
        detail=storable(detail),
        raw=storable(text) if text is not None else raw_text(raw),
        field=None if field is None else storable(field[:_MAX_FIELD_CHARS]),
        location=location,
        event_id=_identity(obj, "event_id"),
        enterprise_id=_identity(obj, "enterprise_id"),
    )


def _identity(obj: Any, name: str) -> str | None:
    """A readable id from a rejected object, to make the dead-letter store searchable."""
    try:
        if isinstance(obj, Mapping):
            value = obj.get(name)
            if type(value) is str and len(value) <= MAX_ID_CHARS and storable(value) is value:
                return value
    except Exception:  # a hostile Mapping handed in by a Python caller
        pass
    return None


def validate(
    raw: str | bytes | Mapping[str, Any],
    *,
    now: datetime | None = None,
    location: str | None = None,
    fast: bool = True,
) -> Event | Rejection:
    """The ``Event`` of one wire event, or the ``Rejection`` saying why not; never raises.

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
    fast
        False skips the compiled fast path, for tests and benchmarks that
        check or time the careful one alone; the outcome is the same.
    """
    tp = type(raw)
    if fast and (tp is str or tp is bytes):
        try:
            event = fast_event(raw, now)  # type: ignore[arg-type]
        except Exception:  # never: but if the fast path fails, the careful one still judges
            event = None
        if event is not None:
            return event
    return _careful(raw, now, location)


def parse_event(
    raw: str | bytes | Mapping[str, Any],
    *,
    now: datetime | None = None,
    location: str | None = None,
) -> Event:
    """Like ``validate``, but raises ``EventRejected`` (carrying the ``Rejection``) instead of returning it."""
    result = validate(raw, now=now, location=location)
    if type(result) is Rejection:
        raise EventRejected(result)
    return result  # type: ignore[return-value]
