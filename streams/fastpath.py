"""The compiled half of the event contract: accept a well-formed event at the speed of the parser.

msgspec decodes the text straight into one Struct per event type (a tagged
union on ``type``), checking JSON syntax, UTF-8, field names, types, enums,
lengths and numeric ranges in C, and refusing lone surrogates, unknown fields,
NaN and numbers that overflow. What msgspec cannot say is checked here in a
few string operations: the check character, periods, timestamps, identifiers
without padding, no NUL, and no repeated key.

This path only ever *accepts*. On the first doubt it returns None and the
careful path (``streams.wire`` then ``streams.checks``) judges the event again
from the start, so every rejection keeps its reason and its detail text and
the rules are written once: the fast path is a filter in front of them that
lets the common case through. Events with fields the contract does not name
(kept in ``data`` by the careful path) always take the careful path.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType

from streams.checks import PERIOD_INDEX, capital, clock, uscc_problem_cached
from streams.limits import MAX_AMOUNT, MAX_COUNT, MAX_ID_CHARS, MAX_INT, MAX_RAW_BYTES, MAX_YEAR, MIN_YEAR
from streams.records import CHINA_TZ, Event

__all__ = ["fast_event"]

_Count = Annotated[int, Meta(ge=0, le=MAX_COUNT)]
_Amount = Annotated[int, Meta(ge=0, le=int(MAX_AMOUNT))] | Annotated[float, Meta(ge=0, le=MAX_AMOUNT)]
_Text = Annotated[str, Meta(min_length=1)]
_Id = Annotated[str, Meta(min_length=1, max_length=MAX_ID_CHARS)]
# Floats msgspec decodes are finite: it refuses NaN, Infinity and 1e400.
_Value = str | Annotated[int, Meta(ge=-MAX_INT - 1, le=MAX_INT)] | float


class _Data(Struct, forbid_unknown_fields=True):
    pass


class _Headcount(_Data):
    period: str
    insured: _Count
    joined: _Count
    left: _Count


class _Utility(_Data):
    period: str
    kind: Literal["electricity", "water", "gas"]
    amount: _Amount
    unit: str | None | UnsetType = UNSET


class _HousingFund(_Data):
    period: str
    contributors: _Count
    amount: _Amount


class _Lawsuit(_Data):
    case_no: _Text
    role: Literal["defendant", "plaintiff", "third_party"]
    cause: _Text
    amount: _Amount
    court: _Text
    stage: Literal["filed", "judgment", "enforcement"]


class _Penalty(_Data):
    decision_no: _Text
    authority: _Text
    reason: _Text
    amount: _Amount


class _TaxArrears(_Data):
    amount: _Amount
    tax_type: _Text


class _DishonestDebtor(_Data):
    status: Literal["listed", "removed"]
    case_no: _Text
    court: _Text


class _ConsumptionRestriction(_Data):
    status: Literal["issued", "lifted"]
    case_no: _Text


class _AbnormalOperation(_Data):
    status: Literal["listed", "removed"]
    reason: _Text


class _RegistrationChange(_Data):
    field: Literal["legal_representative", "registered_capital", "shareholder", "address", "name", "business_scope"]
    before: _Value
    after: _Value


class _Envelope(Struct, forbid_unknown_fields=True, tag_field="type"):
    event_id: _Id
    enterprise_id: Annotated[str, Meta(min_length=18, max_length=18)]
    occurred_at: str
    source: _Id


def _envelope(tag: str, data: type[_Data]) -> type[_Envelope]:
    """The Struct of one event type: the common fields, ``type`` as the tag, and its ``data``."""
    return msgspec.defstruct(f"_{tag}", [("data", data)], bases=(_Envelope,), tag=tag)


# type -> (data Struct, text fields that must not be blank, identifier fields that must be trimmed)
_TYPES: dict[str, tuple[type[_Data], tuple[str, ...], tuple[str, ...]]] = {
    "headcount": (_Headcount, (), ()),
    "utility": (_Utility, (), ()),
    "housing_fund": (_HousingFund, (), ()),
    "lawsuit": (_Lawsuit, ("cause", "court"), ("case_no",)),
    "penalty": (_Penalty, ("authority", "reason"), ("decision_no",)),
    "tax_arrears": (_TaxArrears, ("tax_type",), ()),
    "dishonest_debtor": (_DishonestDebtor, ("court",), ("case_no",)),
    "consumption_restriction": (_ConsumptionRestriction, (), ("case_no",)),
    "abnormal_operation": (_AbnormalOperation, ("reason",), ()),
    "registration_change": (_RegistrationChange, (), ()),
}
_STRUCTS = {tag: _envelope(tag, data) for tag, (data, _, _) in _TYPES.items()}
# Struct -> (type, its checks, how many keys its text has when every data field is present)
_PLAN = {
    struct: (tag, _TYPES[tag][1], _TYPES[tag][2], 5 + 1 + len(_TYPES[tag][0].__struct_fields__))
    for tag, struct in _STRUCTS.items()
}
_decode: Callable[[str | bytes], Any] = msgspec.json.Decoder(
    _STRUCTS["headcount"] | _STRUCTS["utility"] | _STRUCTS["housing_fund"] | _STRUCTS["lawsuit"]
    | _STRUCTS["penalty"] | _STRUCTS["tax_arrears"] | _STRUCTS["dishonest_debtor"]
    | _STRUCTS["consumption_restriction"] | _STRUCTS["abnormal_operation"] | _STRUCTS["registration_change"]
).decode
_asdict = msgspec.structs.asdict
_EIGHT_HOURS = timedelta(hours=8)

# A frozen dataclass sets each field through object.__setattr__; setting the slots
# directly builds the same Event in about two thirds of the time (0.4 us of ~3).
assert not hasattr(Event, "__post_init__"), "_new_event would skip it"
_new = object.__new__
(_set_event_id, _set_enterprise_id, _set_type, _set_occurred_at, _set_source, _set_data, _set_period) = (
    Event.__dict__[name].__set__
    for name in ("event_id", "enterprise_id", "type", "occurred_at", "source", "data", "period")
)
assert tuple(Event.__dataclass_fields__) == (
    "event_id", "enterprise_id", "type", "occurred_at", "source", "data", "period"
), "keep _new_event in step with Event's fields"


def _new_event(event_id: str, enterprise_id: str, type_: str, occurred_at: datetime, source: str,
               data: dict[str, Any], period: str) -> Event:
    event = _new(Event)
    _set_event_id(event, event_id)
    _set_enterprise_id(event, enterprise_id)
    _set_type(event, type_)
    _set_occurred_at(event, occurred_at)
    _set_source(event, source)
    _set_data(event, data)
    _set_period(event, period)
    return event

# What to look for in the raw text, as str and as bytes. Single characters first where a
# longer needle follows: searching for one character is several times cheaper.
_NEEDLES = {
    str: ("\\", "\\u0000", '":', " ", " :", "\t", "\n", "\r"),
    bytes: (b"\\", b"\\u0000", b'":', b" ", b" :", b"\t", b"\n", b"\r"),
}


def fast_event(raw: str | bytes, now: datetime | None) -> Event | None:
    """The ``Event`` of a well-formed raw event, or None when the careful path must judge it.

    ``raw`` must be exactly ``str`` or ``bytes`` (other types go to the careful path).
    """
    backslash, nul, colon, space, spaced, tab, lf, cr = _NEEDLES[type(raw)]
    if len(raw) > MAX_RAW_BYTES // 4 or (backslash in raw and nul in raw):
        return None
    try:
        ev = _decode(raw)
    except Exception:  # msgspec's DecodeError/ValidationError; UnicodeEncodeError for surrogates in a str
        return None
    type_, texts, ids, keys = _PLAN[type(ev)]
    d = ev.data
    data = _asdict(d)
    if type_ == "utility" and d.unit is UNSET:
        del data["unit"]
        keys -= 1
    # A repeated key leaves one field set twice; msgspec keeps the last. Each key ends in '":'
    # unless whitespace separates it from its colon, so with none of that, as many '":' as
    # fields means no key was repeated (a '":' inside a string only adds to the count).
    # Tabs and line breaks are rare enough in one event to send it the careful way.
    if raw.count(colon) != keys or tab in raw or lf in raw or cr in raw or (space in raw and spaced in raw):
        return None
    event_id = ev.event_id
    source = ev.source
    if (
        event_id[0].isspace() or event_id[-1].isspace() or source[0].isspace() or source[-1].isspace()
        or uscc_problem_cached(ev.enterprise_id) is not None
    ):
        return None
    for name in texts:
        if data[name].isspace():
            return None
    for name in ids:
        value = data[name]
        if value[0].isspace() or value[-1].isspace():
            return None
    try:
        when = datetime.fromisoformat(ev.occurred_at)
    except ValueError:
        return None
    # fromisoformat gives a fixed offset or none; China's year is then within the range too
    if when.tzinfo is None or not MIN_YEAR < when.year < MAX_YEAR:
        return None
    _, latest, current = clock(now)
    # Comparing datetimes of two offsets costs more than the rest of these checks; a month
    # two or more before the current one cannot be in the future, whatever its offset.
    if when.year * 12 + when.month - 1 >= current - 1 and when > latest:
        return None
    period = getattr(d, "period", None)
    if period is not None:
        index = PERIOD_INDEX.get(period)
        if index is None or index > current:
            return None
    else:
        china = when if when.utcoffset() == _EIGHT_HOURS else when.astimezone(CHINA_TZ)
        period = f"{china.year:04d}-{china.month:02d}"
        if type_ == "registration_change" and d.field == "registered_capital":
            try:
                data["before"] = capital(d.before, "data.before")
                data["after"] = capital(d.after, "data.after")
            except ValueError:
                return None
    return _new_event(event_id, ev.enterprise_id, type_, when, source, data, period)
