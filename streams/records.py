"""Typed records of the event contract: what a valid event is, and what a rejection says.

The rest of Loanwatch only ever sees an ``Event`` that passed the contract, so
every consumer can rely on the invariants written here (a tz-aware
``occurred_at``, a "YYYY-MM" ``period`` in China time, a known ``type``)
instead of re-checking raw JSON. A ``Rejection`` is the other outcome: it keeps
the original text so an operator can fix it and replay it from the dead-letter
store, and a machine-readable reason so it can be counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from detectors.periods import CHINA_TZ

__all__ = [
    "CHINA_TZ",
    "MONTHLY_TYPES",
    "DISCRETE_TYPES",
    "EVENT_TYPES",
    "UTILITY_KINDS",
    "REJECTION_REASONS",
    "Event",
    "Rejection",
    "LossyText",
]

# CHINA_TZ (from detectors.periods, named here for the contract): periods are months of the Chinese
# calendar year as the platforms publish them.

MONTHLY_TYPES: frozenset[str] = frozenset({"headcount", "utility", "housing_fund"})
DISCRETE_TYPES: frozenset[str] = frozenset(
    {
        "lawsuit",
        "penalty",
        "tax_arrears",
        "dishonest_debtor",
        "consumption_restriction",
        "abnormal_operation",
        "registration_change",
        "enterprise_profile",
    }
)
EVENT_TYPES: frozenset[str] = MONTHLY_TYPES | DISCRETE_TYPES
UTILITY_KINDS: frozenset[str] = frozenset({"electricity", "water", "gas"})

#: Every reason a raw event can be rejected for, with its meaning. The keys are
#: stable: metrics are labelled with them and operators filter the dead-letter
#: store by them, so add new ones rather than renaming.
REJECTION_REASONS: dict[str, str] = {
    "too_large": "the raw event is over 64 KiB, or event_id/source is over 200 characters",
    "bad_json": "the raw text is not valid JSON, or nests objects and arrays more than 32 levels deep",
    "bad_utf8": "the raw bytes are not valid UTF-8 (the JSON is otherwise well formed)",
    "lone_surrogate": "a string or key holds half of a UTF-16 surrogate pair (e.g. a lone \\ud800 escape)",
    "nul_character": "a string or key holds a NUL character (\\u0000), which PostgreSQL text refuses",
    "duplicate_key": "an object has the same key twice (JSON readers disagree on which value wins)",
    "not_an_object": "the JSON value is not an object",
    "missing_field": "a required field is absent",
    "bad_field_type": "a field has the wrong JSON type (e.g. a string or bool where a number is due)",
    "empty_field": "a required string field is empty or only whitespace",
    "padded_field": "an identifier (event_id, source, data.case_no, data.decision_no) starts or ends with whitespace",
    "unknown_type": "the event type is not one of the contract's types",
    "bad_enterprise_id": "enterprise_id is not 18 characters of the USCC alphabet",
    "bad_check_character": "enterprise_id fails the GB 32100-2015 check character",
    "bad_enum": "a field's value is not one of its allowed values",
    "negative_value": "a count or amount is below zero",
    "out_of_range": (
        "a count over 10,000,000, an amount over 1e15, another integer beyond 64 bits, "
        "or a number that is not finite (1e400, NaN)"
    ),
    "bad_period": "a period is not YYYY-MM with month 01-12 and year 1990-2100",
    "future_period": "a monthly period is after the current month in China time",
    "bad_timestamp": "occurred_at is not ISO 8601 with an explicit UTC offset, or is out of range",
    "future_timestamp": "occurred_at is more than 5 minutes after now",
    "invalid": "checking the event failed unexpectedly; the detail has the error (please report it)",
}


@dataclass(frozen=True, slots=True)
class Event:
    """One event that passed the contract.

    ``period`` is precomputed because history is ordered by it and monthly
    corrections are keyed by it: for monthly types it is ``data["period"]``,
    for discrete types the month of ``occurred_at`` in China time (an event at
    2024-03-31T20:00:00Z belongs to April in China, where the platform and the
    bank both live). ``data`` is left out of the hash so events can sit in
    sets; equality still compares it.
    """

    event_id: str
    enterprise_id: str
    type: str
    occurred_at: datetime
    source: str
    data: dict[str, Any] = field(hash=False)
    period: str

    @property
    def monthly(self) -> bool:
        """Monthly events are values of a series (a later one corrects an earlier one)."""
        return self.type in MONTHLY_TYPES

    @property
    def series_kind(self) -> str | None:
        """The series a monthly event belongs to; utility kinds are separate series."""
        if self.type == "utility":
            return "utility." + self.data["kind"]
        if self.type in MONTHLY_TYPES:
            return self.type
        return None

    @property
    def series_key(self) -> tuple[str, str, str] | None:
        """(enterprise, series, period): a later event with the same key is a correction."""
        kind = self.series_kind
        return None if kind is None else (self.enterprise_id, kind, self.period)

    def to_dict(self) -> dict[str, Any]:
        """The wire object again, for Kafka, the DLQ replay path and JSONL export."""
        return {
            "event_id": self.event_id,
            "enterprise_id": self.enterprise_id,
            "type": self.type,
            "occurred_at": self.occurred_at.isoformat(),
            "source": self.source,
            "data": dict(self.data),
        }


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a raw event was refused, with the text needed to fix and replay it.

    ``reason`` is one of ``REJECTION_REASONS``; ``detail`` is for a person and
    names the offending field; ``field`` is its path (e.g. "data.left") so a UI
    can point at it. ``location`` says where the text came from
    ("events.jsonl:17", a Kafka offset, an HTTP request id). ``event_id`` and
    ``enterprise_id`` are filled in when they could be read, so the dead-letter
    store can be searched by them.
    """

    reason: str
    detail: str
    raw: str
    field: str | None = None
    location: str | None = None
    event_id: str | None = None
    enterprise_id: str | None = None

    def __str__(self) -> str:
        text = f"{self.reason}: {self.detail}"
        return f"{self.location}: {text}" if self.location else text

    def to_dict(self) -> dict[str, Any]:
        return {
            "reason": self.reason,
            "detail": self.detail,
            "field": self.field,
            "location": self.location,
            "event_id": self.event_id,
            "enterprise_id": self.enterprise_id,
            "raw": self.raw,
        }


class LossyText(str):
    """A line decoded with U+FFFD where its bytes were not UTF-8, keeping those bytes.

    Sources hand the pipeline text, and the replacement text is what a person
    can read and what a store can hold; but stored as an event it would be a
    silent corruption. The contract sees ``original`` and rejects the line as
    ``bad_utf8``, keeping the readable text as its raw.

    >>> line = LossyText.decode(b'{"name": "\\xff"}')
    >>> line, line.original
    ('{"name": "\ufffd"}', b'{"name": "\\xff"}')
    """

    original: bytes

    @classmethod
    def decode(cls, blob: bytes) -> LossyText:
        text = cls(blob.decode("utf-8", "replace"))
        text.original = blob
        return text

    def __reduce__(self):  # keep the bytes across pickling (process pools)
        return (type(self).decode, (self.original,))
