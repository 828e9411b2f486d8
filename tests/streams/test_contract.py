"""The event contract of DESIGN.md, one rule at a time.

Every rejection reason is produced at least once and its detail checked,
because operators fix dead-lettered events from the detail alone.
"""

from __future__ import annotations

import copy
import json
import pickle
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from streams.contract import MAX_RAW_BYTES, parse_event, validate
from streams.exceptions import EventRejected
from streams.records import (
    DISCRETE_TYPES,
    EVENT_TYPES,
    MONTHLY_TYPES,
    REJECTION_REASONS,
    Event,
    Rejection,
)
from streams.uscc import ALPHABET, complete_uscc

NOW = datetime(2026, 11, 15, 4, 0, tzinfo=UTC)  # 2026-11-15 12:00 in China
EID = complete_uscc("91440300MA5FXXXXX")

VALID_DATA: dict[str, dict[str, Any]] = {
    "headcount": {"period": "2024-03", "insured": 132, "joined": 4, "left": 9},
    "utility": {"period": "2024-03", "kind": "electricity", "amount": 48210.5, "unit": "kWh"},
    "housing_fund": {"period": "2024-03", "contributors": 120, "amount": 96000},
    "lawsuit": {
        "case_no": "(2024)粤0305民初1234号",
        "role": "defendant",
        "cause": "借款合同纠纷",
        "amount": 1200000.5,
        "court": "深圳市南山区人民法院",
        "stage": "filed",
    },
    "penalty": {
        "decision_no": "深环罚〔2024〕12号",
        "authority": "深圳市生态环境局",
        "reason": "超标排放",
        "amount": 50000,
    },
    "tax_arrears": {"amount": 230000.0, "tax_type": "增值税"},
    "dishonest_debtor": {"status": "listed", "case_no": "(2024)粤0305执5678号", "court": "南山区人民法院"},
    "consumption_restriction": {"status": "issued", "case_no": "(2024)粤0305执5678号"},
    "abnormal_operation": {"status": "listed", "reason": "通过登记的住所无法联系"},
    "registration_change": {"field": "legal_representative", "before": "张三", "after": "李四"},
    "enterprise_profile": {"industry": "C", "region": "440305", "registered_capital": 5000000.0,
                           "established": "2012-05-18", "name": "深圳市南山测试电子有限公司"},
}


def make(type_: str = "headcount", **top: Any) -> dict[str, Any]:
    event = {
        "event_id": f"szcredit-{type_}-000123",
        "enterprise_id": EID,
        "type": type_,
        "occurred_at": "2024-03-31T23:59:59+08:00",
        "source": "szcredit",
        "data": copy.deepcopy(VALID_DATA[type_]),
    }
    event.update(top)
    return event


def line(event: dict[str, Any] | None = None, **top: Any) -> str:
    return json.dumps(event if event is not None else make(**top), ensure_ascii=False)


def with_data(type_: str = "headcount", **fields: Any) -> str:
    event = make(type_)
    for key, value in fields.items():
        if value is _DROP:
            del event["data"][key]
        else:
            event["data"][key] = value
    return line(event)


_DROP = object()


def rejected(raw: Any, **kwargs: Any) -> Rejection:
    kwargs.setdefault("now", NOW)
    with pytest.raises(EventRejected) as info:
        parse_event(raw, **kwargs)
    rejection = info.value.rejection
    assert rejection.reason in REJECTION_REASONS
    assert validate(raw, **kwargs) == rejection
    return rejection


# --- accepted events -------------------------------------------------------------------


def test_contract_table_covers_every_type() -> None:
    assert set(VALID_DATA) == EVENT_TYPES
    assert {"headcount", "utility", "housing_fund"} == MONTHLY_TYPES
    assert MONTHLY_TYPES.isdisjoint(DISCRETE_TYPES)


@pytest.mark.parametrize("type_", sorted(EVENT_TYPES))
def test_each_type_accepted(type_: str) -> None:
    event = parse_event(line(make(type_)), now=NOW)
    assert isinstance(event, Event)
    assert event.type == type_
    assert event.enterprise_id == EID
    assert event.occurred_at == datetime(2024, 3, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=8)))
    assert event.period == "2024-03"
    assert event.monthly is (type_ in MONTHLY_TYPES)
    assert event.data == VALID_DATA[type_]
    assert validate(line(make(type_)), now=NOW) == event


def test_documented_example_is_accepted() -> None:
    example = {
        "event_id": "szcredit-2024-03-000123",
        "enterprise_id": EID,
        "type": "headcount",
        "occurred_at": "2024-03-31T23:59:59+08:00",
        "source": "szcredit",
        "data": {"period": "2024-03", "insured": 132, "joined": 4, "left": 9},
    }
    event = parse_event(json.dumps(example), now=NOW)
    assert event.to_dict() == example
    assert parse_event(json.dumps(event.to_dict()), now=NOW) == event


@pytest.mark.parametrize(
    ("type_", "kind", "expected"),
    [
        ("headcount", None, "headcount"),
        ("housing_fund", None, "housing_fund"),
        ("utility", "electricity", "utility.electricity"),
        ("utility", "water", "utility.water"),
        ("utility", "gas", "utility.gas"),
        ("lawsuit", None, None),
        ("registration_change", None, None),
    ],
)
def test_series_kind(type_: str, kind: str | None, expected: str | None) -> None:
    event = make(type_)
    if kind:
        event["data"]["kind"] = kind
    parsed = parse_event(event, now=NOW)
    assert parsed.series_kind == expected
    assert parsed.series_key == (None if expected is None else (EID, expected, "2024-03"))


def test_events_are_hashable_and_frozen() -> None:
    event = parse_event(line(), now=NOW)
    assert event in {event}
    with pytest.raises(AttributeError):
        event.type = "lawsuit"  # type: ignore[misc]


def test_unknown_fields_are_kept() -> None:
    event = make("lawsuit", trace_id="abc")
    event["data"]["judge"] = "王法官"
    parsed = parse_event(line(event), now=NOW)
    assert parsed.data["judge"] == "王法官"


def test_unit_is_optional_and_may_be_null() -> None:
    assert parse_event(with_data("utility", unit=_DROP), now=NOW).data.get("unit") is None
    assert parse_event(with_data("utility", unit=None), now=NOW).data["unit"] is None


def test_integral_amounts_and_zero_are_fine() -> None:
    event = parse_event(with_data("tax_arrears", amount=0), now=NOW)
    assert event.data["amount"] == 0
    event = parse_event(with_data("headcount", insured=0, joined=0, left=0), now=NOW)
    assert event.data["insured"] == 0


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        (5_000_000, 10_000_000.5, (5_000_000.0, 10_000_000.5)),
        ("5000000", " 1e7 ", (5_000_000.0, 10_000_000.0)),
        ("0", 0, (0.0, 0.0)),
    ],
)
def test_registered_capital_is_normalised_to_float(before: Any, after: Any, expected: tuple) -> None:
    raw = with_data("registration_change", field="registered_capital", before=before, after=after)
    event = parse_event(raw, now=NOW)
    assert (event.data["before"], event.data["after"]) == expected
    assert all(type(event.data[k]) is float for k in ("before", "after"))


def test_registration_change_values_may_be_numbers_or_empty_strings() -> None:
    event = parse_event(with_data("registration_change", field="shareholder", before="", after=3), now=NOW)
    assert event.data["before"] == "" and event.data["after"] == 3


@pytest.mark.parametrize(
    "stamp",
    [
        "2024-03-31T15:59:59Z",
        "2024-03-31T23:59:59.250+08:00",
        "2024-03-31T10:59:59-05:00",
        "2024-03-31 23:59:59+08:00",
    ],
)
def test_timestamp_forms_with_offset(stamp: str) -> None:
    event = parse_event(line(occurred_at=stamp, type="lawsuit", data=VALID_DATA["lawsuit"]), now=NOW)
    assert event.occurred_at.utcoffset() is not None
    assert event.period == "2024-03"


# --- period of discrete events --------------------------------------------------------


@pytest.mark.parametrize(
    ("stamp", "period"),
    [
        ("2024-03-31T15:59:59Z", "2024-03"),  # 23:59:59 in China
        ("2024-03-31T16:00:00Z", "2024-04"),  # midnight in China
        ("2024-03-31T20:00:00Z", "2024-04"),
        ("2024-04-01T00:30:00+08:00", "2024-04"),
        ("2024-03-31T23:59:00-04:00", "2024-04"),
        ("2023-12-31T16:00:00+00:00", "2024-01"),  # new year in China first
    ],
)
def test_discrete_period_is_the_china_month(stamp: str, period: str) -> None:
    event = parse_event(make("penalty", occurred_at=stamp), now=NOW)
    assert event.period == period


def test_monthly_period_comes_from_data_not_from_occurred_at() -> None:
    event = parse_event(make("headcount", occurred_at="2024-05-10T09:00:00+08:00"), now=NOW)
    assert event.period == "2024-03"


# --- future checks, judged in China time ----------------------------------------------


def test_future_period() -> None:
    r = rejected(with_data(period="2031-01"), location="events.jsonl:17")
    assert r.reason == "future_period"
    assert r.field == "data.period"
    assert r.detail == "data.period 2031-01 is after the current month 2026-11"
    assert r.location == "events.jsonl:17"
    with pytest.raises(EventRejected) as info:
        parse_event(with_data(period="2031-01"), now=NOW, location="events.jsonl:17")
    assert (
        str(info.value)
        == "events.jsonl:17: future_period: data.period 2031-01 is after the current month 2026-11"
    )
    assert info.value.reason == "future_period"


def test_current_month_is_china_month() -> None:
    # 2026-11-30T17:00Z is already 1 December in China: December data is not in the future.
    now = datetime(2026, 11, 30, 17, 0, tzinfo=UTC)
    assert parse_event(with_data(period="2026-12"), now=now).period == "2026-12"
    # ...but an hour before midnight China time it still is.
    r = rejected(with_data(period="2026-12"), now=now - timedelta(hours=2))
    assert r.reason == "future_period"
    assert "current month 2026-11" in r.detail


def test_current_month_is_accepted() -> None:
    assert parse_event(with_data(period="2026-11"), now=NOW).period == "2026-11"


def test_future_timestamp_allows_five_minutes_of_skew() -> None:
    near = (NOW + timedelta(minutes=4)).isoformat()
    assert parse_event(make("penalty", occurred_at=near), now=NOW).occurred_at == NOW + timedelta(minutes=4)
    far = (NOW + timedelta(minutes=6)).isoformat()
    r = rejected(line(make("penalty", occurred_at=far)))
    assert r.reason == "future_timestamp"
    assert r.field == "occurred_at"
    assert r.detail.startswith(f"occurred_at {far} is after the current time 2026-11-15T04:00:00+00:00")


def test_naive_now_is_taken_as_utc() -> None:
    naive = NOW.replace(tzinfo=None)
    assert parse_event(with_data(period="2026-11"), now=naive).period == "2026-11"


def test_default_now_is_the_wall_clock() -> None:
    next_year = datetime.now(UTC).year + 1
    assert parse_event(line()).period == "2024-03"
    assert validate(with_data(period=f"{next_year}-01")).reason == "future_period"  # type: ignore[union-attr]


# --- input forms ------------------------------------------------------------------------


def test_bytes_input_and_raw_kept() -> None:
    text = with_data(left=-1)
    r = rejected(text.encode("utf-8"))
    assert r.reason == "negative_value"
    assert r.raw == text
    assert parse_event(line().encode("utf-8"), now=NOW).data["left"] == 9
    assert parse_event(bytearray(line().encode()), now=NOW).period == "2024-03"


def test_invalid_utf8_is_decoded_with_replacement() -> None:
    raw = b'{"event_id": "\xff'
    r = rejected(raw)
    assert r.reason == "bad_json"
    assert r.raw == '{"event_id": "\ufffd'


def test_raw_kept_verbatim_for_text() -> None:
    text = '  {"event_id": "x",   "type": "nope"}  '
    r = rejected(text)
    assert r.raw is text


def test_mapping_input_is_not_mutated() -> None:
    event = make("registration_change")
    event["data"].update(field="registered_capital", before="100", after="200")
    snapshot = copy.deepcopy(event)
    parsed = parse_event(event, now=NOW)
    assert parsed.data["after"] == 200.0
    assert event == snapshot


def test_mapping_rejection_serialises_raw() -> None:
    event = make(data={"period": "2024-03", "insured": 1, "joined": 1})
    r = rejected(event)
    assert r.reason == "missing_field"
    assert json.loads(r.raw) == event


def test_rejection_carries_ids_when_readable() -> None:
    r = rejected(with_data(left=-1), location="spool.jsonl:3")
    assert (r.event_id, r.enterprise_id, r.location) == ("szcredit-headcount-000123", EID, "spool.jsonl:3")
    assert r.to_dict()["reason"] == "negative_value"
    assert rejected("[]").event_id is None


def test_exception_pickles() -> None:
    with pytest.raises(EventRejected) as info:
        parse_event("nope", now=NOW)
    again = pickle.loads(pickle.dumps(info.value))
    assert again.rejection == info.value.rejection
    assert str(again) == str(info.value)


# --- every rejection reason ----------------------------------------------------------------


def test_too_large() -> None:
    event = make()
    event["data"]["note"] = "x" * MAX_RAW_BYTES
    text = line(event)
    r = rejected(text)
    assert r.reason == "too_large"
    assert "over 64 KiB" in r.detail
    assert rejected(text.encode()).reason == "too_large"
    # multi-byte characters count in bytes, not characters
    event["data"]["note"] = "汉" * (MAX_RAW_BYTES // 3 + 1)
    assert rejected(line(event)).reason == "too_large"


def test_too_large_identifier() -> None:
    r = rejected(line(event_id="e" * 201))
    assert (r.reason, r.field) == ("too_large", "event_id")
    assert r.detail == "event_id is 201 characters, the limit is 200"
    assert parse_event(line(source="s" * 200), now=NOW).source == "s" * 200


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("{not json", "not valid JSON"),
        ("", "not valid JSON"),
        ('{"a": NaN}', "NaN is not valid JSON"),
        ('{"a": 1} {"b": 2}', "Extra data"),
        ("[" * 100_00 + "]" * 100_00, "JSON"),
    ],
)
def test_bad_json(raw: str, fragment: str) -> None:
    r = rejected(raw, location="events.jsonl:2")
    assert r.reason == "bad_json"
    assert fragment in r.detail
    assert r.raw == raw


def test_deep_nesting_is_bad_json_not_a_crash() -> None:
    raw = "[" * 60_000 + "]" * 60_000
    assert validate(raw, now=NOW).reason in {"bad_json", "too_large"}  # type: ignore[union-attr]
    r = validate("[" * 30_000 + "]" * 30_000, now=NOW)
    assert isinstance(r, Rejection) and r.reason in {"bad_json", "not_an_object"}


@pytest.mark.parametrize(
    ("raw", "kind"), [("[1, 2]", "array"), ('"x"', "string"), ("null", "null"), ("3", "number")]
)
def test_not_an_object(raw: str, kind: str) -> None:
    r = rejected(raw)
    assert r.reason == "not_an_object"
    assert r.detail == f"the event must be a JSON object, got {kind}"
    assert validate(42, now=NOW).reason == "not_an_object"  # type: ignore[arg-type, union-attr]


@pytest.mark.parametrize("name", ["event_id", "enterprise_id", "type", "occurred_at", "source", "data"])
def test_missing_top_level_field(name: str) -> None:
    event = make()
    del event[name]
    r = rejected(line(event))
    assert (r.reason, r.field, r.detail) == ("missing_field", name, f"{name} is required")


@pytest.mark.parametrize(
    ("type_", "name"),
    [
        ("headcount", "period"),
        ("headcount", "left"),
        ("utility", "kind"),
        ("housing_fund", "contributors"),
        ("lawsuit", "court"),
        ("penalty", "decision_no"),
        ("tax_arrears", "tax_type"),
        ("dishonest_debtor", "status"),
        ("consumption_restriction", "case_no"),
        ("abnormal_operation", "reason"),
        ("registration_change", "before"),
    ],
)
def test_missing_data_field(type_: str, name: str) -> None:
    r = rejected(with_data(type_, **{name: _DROP}))
    assert r.reason == "missing_field"
    assert r.field == f"data.{name}"
    assert r.detail == f"data.{name} is required for {type_} events"


@pytest.mark.parametrize(
    ("type_", "name", "value", "detail"),
    [
        ("headcount", "insured", "132", "data.insured must be an integer, got string"),
        ("headcount", "insured", True, "data.insured must be an integer, got boolean"),
        ("headcount", "left", 1.5, "data.left must be an integer count, got 1.5"),
        ("headcount", "joined", 4.0, "data.joined must be an integer count, got 4.0"),
        ("housing_fund", "contributors", None, "data.contributors must be an integer, got null"),
        ("utility", "amount", False, "data.amount must be a number, got boolean"),
        ("utility", "amount", "12.5", "data.amount must be a number, got string"),
        ("utility", "unit", 3, "data.unit must be a string if given, got number"),
        ("utility", "kind", 1, "data.kind must be a string, got number"),
        ("headcount", "period", 202403, "data.period must be a YYYY-MM string, got number"),
        ("lawsuit", "court", ["x"], "data.court must be a string, got array"),
        ("registration_change", "after", None, "data.after must be a string or a number, got null"),
        ("registration_change", "before", True, "data.before must be a string or a number, got boolean"),
    ],
)
def test_bad_field_type_in_data(type_: str, name: str, value: Any, detail: str) -> None:
    r = rejected(with_data(type_, **{name: value}))
    assert (r.reason, r.field, r.detail) == ("bad_field_type", f"data.{name}", detail)


def test_non_finite_amounts() -> None:
    # 1e400 is valid JSON but overflows to inf; Infinity itself is not JSON at all.
    r = rejected(with_data("utility", amount=12.5).replace("12.5", "1e400"))
    assert (r.reason, r.field, r.detail) == (
        "bad_field_type",
        "data.amount",
        "data.amount must be a finite number, got inf",
    )
    assert rejected(with_data("utility", amount=12.5).replace("12.5", "Infinity")).reason == "bad_json"
    event = make("utility")
    event["data"]["amount"] = float("nan")
    assert rejected(event).detail == "data.amount must be a finite number, got nan"


@pytest.mark.parametrize(
    ("name", "value", "detail"),
    [
        ("event_id", 123, "event_id must be a string, got number"),
        ("source", None, "source must be a string, got null"),
        ("enterprise_id", 91440300, "enterprise_id must be a string, got number"),
        ("type", ["headcount"], "type must be a string, got array"),
        ("occurred_at", 1711900799, "occurred_at must be an ISO 8601 string, got number"),
        ("data", [1], "data must be an object, got array"),
        ("data", "x", "data must be an object, got string"),
    ],
)
def test_bad_field_type_top_level(name: str, value: Any, detail: str) -> None:
    r = rejected(line(**{name: value}))
    assert (r.reason, r.field, r.detail) == ("bad_field_type", name, detail)


@pytest.mark.parametrize("value", ["5 million", "500万元", "nan", "inf", "1_000", ""])
def test_registered_capital_must_be_numeric(value: str) -> None:
    r = rejected(with_data("registration_change", field="registered_capital", before=value, after="1"))
    assert (r.reason, r.field) == ("bad_field_type", "data.before")
    assert "numeric string for registered_capital" in r.detail


def test_registered_capital_must_not_be_negative() -> None:
    r = rejected(with_data("registration_change", field="registered_capital", before="100", after="-5"))
    assert (r.reason, r.field) == ("negative_value", "data.after")
    assert r.detail == 'data.after must be >= 0 for registered_capital, got "-5"'


@pytest.mark.parametrize(
    ("name", "value"),
    [("event_id", ""), ("source", "   "), ("type", ""), ("occurred_at", ""), ("enterprise_id", "")],
)
def test_empty_top_level_field(name: str, value: str) -> None:
    r = rejected(line(**{name: value}))
    assert (r.reason, r.field, r.detail) == ("empty_field", name, f"{name} must not be empty")


@pytest.mark.parametrize(
    ("type_", "name"),
    [("lawsuit", "case_no"), ("lawsuit", "cause"), ("penalty", "authority"), ("tax_arrears", "tax_type")],
)
def test_empty_data_field(type_: str, name: str) -> None:
    r = rejected(with_data(type_, **{name: " "}))
    assert (r.reason, r.field, r.detail) == ("empty_field", f"data.{name}", f"data.{name} must not be empty")


def test_unknown_type() -> None:
    r = rejected(line(type="revenue"))
    assert (r.reason, r.field) == ("unknown_type", "type")
    assert r.detail.startswith('type "revenue" is not one of abnormal_operation, consumption_restriction')
    assert rejected(line(type="Headcount")).reason == "unknown_type"


# --- USCC -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body", ["91440300MA5FXXXXX", "91110000100000000", "12100000400010000", "Y1YYYYYYYYYYYYYYY"]
)
def test_valid_uscc_accepted(body: str) -> None:
    code = complete_uscc(body)
    assert parse_event(line(enterprise_id=code), now=NOW).enterprise_id == code


def test_flipped_check_character() -> None:
    wrong = next(c for c in ALPHABET if c != EID[-1])
    code = EID[:-1] + wrong
    r = rejected(line(enterprise_id=code))
    assert (r.reason, r.field) == ("bad_check_character", "enterprise_id")
    assert r.detail == f'enterprise_id "{code}": check character is {wrong!r}, expected {EID[-1]!r}'
    assert r.enterprise_id == code  # kept so the dead-letter store can be searched by it


@pytest.mark.parametrize(
    ("code", "fragment"),
    [
        (EID[:-1], "must be 18 characters, got 17"),
        (EID + "0", "must be 18 characters, got 19"),
        (EID[:5] + "I" + EID[6:], "character 'I' outside the USCC alphabet"),
        (EID[:5] + "O" + EID[6:], "character 'O' outside the USCC alphabet"),
        (EID.lower(), "outside the USCC alphabet"),
        (" " + EID[1:], "character ' ' outside the USCC alphabet"),
    ],
)
def test_bad_enterprise_id(code: str, fragment: str) -> None:
    r = rejected(line(enterprise_id=code))
    assert (r.reason, r.field) == ("bad_enterprise_id", "enterprise_id")
    assert r.detail.startswith("enterprise_id")
    assert fragment in r.detail


# --- enums, numbers, periods, timestamps --------------------------------------------------


@pytest.mark.parametrize(
    ("type_", "name", "value", "allowed"),
    [
        ("utility", "kind", "steam", "electricity, water, gas"),
        ("lawsuit", "role", "witness", "defendant, plaintiff, third_party"),
        ("lawsuit", "stage", "appeal", "filed, judgment, enforcement"),
        ("dishonest_debtor", "status", "issued", "listed, removed"),
        ("consumption_restriction", "status", "listed", "issued, lifted"),
        ("abnormal_operation", "status", "LISTED", "listed, removed"),
        (
            "registration_change",
            "field",
            "email",
            "legal_representative, registered_capital, shareholder, address, name, business_scope",
        ),
    ],
)
def test_bad_enum(type_: str, name: str, value: str, allowed: str) -> None:
    r = rejected(with_data(type_, **{name: value}))
    assert (r.reason, r.field) == ("bad_enum", f"data.{name}")
    assert r.detail == f'data.{name} is "{value}", must be one of {allowed}'


@pytest.mark.parametrize(
    ("type_", "name", "value"),
    [
        ("headcount", "left", -9),
        ("headcount", "insured", -1),
        ("headcount", "joined", -2),
        ("housing_fund", "contributors", -3),
        ("housing_fund", "amount", -0.5),
        ("utility", "amount", -10),
        ("lawsuit", "amount", -1.0),
        ("penalty", "amount", -100),
        ("tax_arrears", "amount", -7),
    ],
)
def test_negative_value(type_: str, name: str, value: float) -> None:
    r = rejected(with_data(type_, **{name: value}))
    assert (r.reason, r.field) == ("negative_value", f"data.{name}")
    assert r.detail == f"data.{name} must be >= 0, got {value}"


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("2024-3", 'must be YYYY-MM, got "2024-3"'),
        ("2024/03", "must be YYYY-MM"),
        ("202403", "must be YYYY-MM"),
        ("2024-03-01", "must be YYYY-MM"),
        ("2024-13", "data.period 2024-13 has month 13, must be 01-12"),
        ("2024-00", "has month 00, must be 01-12"),
        ("1989-12", "data.period 1989-12 has year 1989, must be 1990-2100"),
        ("2101-01", "has year 2101"),
        ("２０２４-03", "ASCII"),
    ],
)
def test_bad_period(value: str, fragment: str) -> None:
    r = rejected(with_data("utility", period=value), now=datetime(2200, 1, 1, tzinfo=UTC))
    assert (r.reason, r.field) == ("bad_period", "data.period")
    assert fragment in r.detail


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("2024-03-31T23:59:59", "has no UTC offset; add one, e.g. +08:00"),
        ("2024-03-31", "has no UTC offset"),
        ("31/03/2024 23:59", "is not an ISO 8601 timestamp"),
        ("2024-03-31T25:00:00+08:00", "is not an ISO 8601 timestamp"),
        ("yesterday", "is not an ISO 8601 timestamp"),
        ("1970-01-01T00:00:00Z", "is outside the years 1990-2100"),
        ("0001-01-01T00:00:00+14:00", "is outside the years 1990-2100"),
        ("1989-12-31T16:00:00Z", "is outside the years 1990-2100"),  # 1990 in China: still 1989 UTC
    ],
)
def test_bad_timestamp(value: str, fragment: str) -> None:
    if value.startswith("1989-12-31T16"):  # exactly the first China-time instant of 1990: fine
        assert parse_event(make("penalty", occurred_at=value), now=NOW).period == "1990-01"
        value = "1989-12-31T15:59:59Z"
    r = rejected(line(make("penalty", occurred_at=value)))
    assert (r.reason, r.field) == ("bad_timestamp", "occurred_at")
    assert fragment in r.detail


def test_reasons_are_documented() -> None:
    expected = {
        "bad_json",
        "not_an_object",
        "missing_field",
        "bad_field_type",
        "unknown_type",
        "bad_enterprise_id",
        "bad_check_character",
        "negative_value",
        "bad_period",
        "future_period",
        "bad_timestamp",
        "future_timestamp",
        "bad_enum",
        "empty_field",
        "too_large",
        # issue 9: what the contract could not store faithfully before
        "bad_utf8",
        "lone_surrogate",
        "nul_character",
        "duplicate_key",
        "padded_field",
        "out_of_range",
        "invalid",
    }
    assert set(REJECTION_REASONS) == expected
    assert all(REJECTION_REASONS[reason] for reason in expected)


def test_validate_never_raises_on_odd_inputs() -> None:
    odd: list[Any] = [None, 3.5, b"", b"\x00\x01", "{}", '{"data": {}}', {"type": object()}, {1: 2}]
    for raw in odd:
        assert isinstance(validate(raw, now=NOW), Rejection)
