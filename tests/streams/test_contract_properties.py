"""Property-based tests: whatever is thrown at the contract, it answers, and both paths agree.

Random bytes, random JSON (huge and non-finite numbers, NUL, lone surrogates,
deep nesting) and random mutations of valid events, as text, bytes and
Python objects. Two properties:

- ``validate`` never raises and returns an ``Event`` or a storable
  ``Rejection`` with a documented reason;
- the compiled fast path never accepts what the careful path rejects, and an
  event it accepts is the very event the careful path builds (same values,
  same Python types: 50000 must not come back as 50000.0).
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.contract import validate
from streams.fastpath import fast_event
from streams.records import EVENT_TYPES, REJECTION_REASONS, Event, Rejection
from tests.streams.hostile import build

NOW = datetime(2026, 11, 15, 4, 0, tzinfo=UTC)
SETTINGS = settings(max_examples=300, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# every code point, surrogates and NUL included
ANY_CHAR = st.characters(codec=None, categories=None)
ANY_TEXT = st.text(ANY_CHAR, max_size=20)
NUMBERS = (
    st.integers()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from([0, -0.0, 2**63 - 1, 2**63, -(2**63), 10_000_000, 10_000_001, 1e15, 1e15 + 1, 10**400])
)
SCALARS = st.none() | st.booleans() | NUMBERS | ANY_TEXT
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(ANY_TEXT, inner, max_size=4),
                    max_leaves=20)
NUMBER_TEXT = st.from_regex(r"-?(0|[1-9][0-9]{0,20})(\.[0-9]{1,20})?([eE][+-]?[0-9]{1,3})?", fullmatch=True)


def answered(result: Any) -> None:
    assert isinstance(result, Event | Rejection)
    if isinstance(result, Rejection):
        assert result.reason in REJECTION_REASONS
        for text in (result.raw, result.detail, result.field or ""):
            assert "\x00" not in text
            text.encode("utf-8")


def same(a: Event | Rejection, b: Event | Rejection) -> None:
    assert a == b
    if isinstance(a, Event):
        assert isinstance(b, Event)
        assert {k: type(v) for k, v in a.data.items()} == {k: type(v) for k, v in b.data.items()}
        assert a.occurred_at.utcoffset() == b.occurred_at.utcoffset()


def both_paths(raw: str | bytes) -> Event | Rejection:
    result = validate(raw, now=NOW)
    answered(result)
    careful = validate(raw, now=NOW, fast=False)
    same(result, careful)
    fast = fast_event(raw, NOW)
    if fast is not None:
        same(fast, careful)
    return result


@SETTINGS
@given(st.binary(max_size=400))
def test_random_bytes(raw: bytes) -> None:
    both_paths(raw)


@SETTINGS
@given(ANY_TEXT)
def test_random_text(raw: str) -> None:
    answered(validate(raw, now=NOW))


@SETTINGS
@given(JSON)
def test_random_json_as_text_bytes_and_objects(value: Any) -> None:
    text = json.dumps(value, allow_nan=True, ensure_ascii=False)
    answered(validate(text, now=NOW))
    both_paths(text.encode("utf-8", "surrogatepass"))
    answered(validate(value, now=NOW))


def base_event(type_: str) -> dict[str, Any]:
    return {"event_id": "prop-1", "enterprise_id": build.EID, "type": type_,
            "occurred_at": "2024-03-31T23:59:59+08:00", "source": "prop", "data": copy.deepcopy(build.BASE[type_])}


@st.composite
def mutated_events(draw: st.DrawFn) -> str:
    """A valid event with a few random changes, written in a random JSON style."""
    event = base_event(draw(st.sampled_from(sorted(EVENT_TYPES))))
    for _ in range(draw(st.integers(0, 3))):
        data = event.get("data")
        where = data if isinstance(data, dict) and data and draw(st.booleans()) else event
        key = draw(st.sampled_from(sorted(where)) | ANY_TEXT) if where else draw(ANY_TEXT)
        action = draw(st.sampled_from(["set", "drop", "number", "text", "pad"]))
        if action == "drop":
            where.pop(key, None)
        elif action == "set":
            where[key] = draw(JSON)
        elif action == "number":
            where[key] = draw(NUMBERS)
        elif action == "text":
            where[key] = draw(ANY_TEXT)
        elif isinstance(where.get(key), str):
            where[key] = draw(st.sampled_from([" ", "\t", "\u3000", "\u00a0", ""])) + where[key]
    # mostly the styles the fast path takes, so that it is tested against the careful one
    separators = draw(st.sampled_from([(",", ":")] * 3 + [(", ", ": ")] * 2 + [(",", " : "), (" ,", ":\t")]))
    text = json.dumps(event, ensure_ascii=draw(st.booleans()), separators=separators, allow_nan=True)
    if draw(st.booleans()):  # repeat a key somewhere
        key = draw(st.sampled_from(["event_id", "type", "period", "amount", "status", "source"]))
        text = text.replace(f'"{key}"', f'"{key}":0,"{key}"', 1)
    return text


@SETTINGS
@given(mutated_events())
def test_mutated_events_agree_on_both_paths(text: str) -> None:
    both_paths(text)
    both_paths(text.encode("utf-8", "surrogatepass"))


@SETTINGS
@given(st.sampled_from(["headcount", "utility", "housing_fund", "lawsuit", "penalty", "tax_arrears"]), NUMBER_TEXT)
def test_any_written_number_decodes_the_same_on_both_paths(type_: str, number: str) -> None:
    event = base_event(type_)
    field = "amount" if "amount" in event["data"] else "insured"
    event["data"][field] = "NUMBER"
    both_paths(json.dumps(event, ensure_ascii=False).replace('"NUMBER"', number))


@SETTINGS
@given(st.datetimes(min_value=datetime(1985, 1, 1), max_value=datetime(2105, 1, 1)),
       st.integers(min_value=-23 * 60, max_value=23 * 60) | st.none(), st.sampled_from(["T", " "]))
def test_any_timestamp_and_period_agree_on_both_paths(when: datetime, minutes: int | None, sep: str) -> None:
    if minutes is not None:
        when = when.replace(tzinfo=timezone(timedelta(minutes=minutes)))
    stamp = when.isoformat(sep=sep)
    for type_ in ("headcount", "penalty"):
        event = base_event(type_)
        event["occurred_at"] = stamp
        if type_ == "headcount":
            event["data"]["period"] = f"{when.year:04d}-{when.month:02d}"
        both_paths(json.dumps(event, ensure_ascii=False))
        both_paths(json.dumps(event, ensure_ascii=False).encode())
